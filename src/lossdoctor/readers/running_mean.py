"""Running means since the epoch began, in a log that marks no epochs: found from the values alone.

Keras hands `on_train_batch_end` the running mean of the loss since the epoch began, and the classic
"LossHistory" callback (`self.losses.append(logs["loss"])`) writes it out with a counter and nothing else.
Such a series has a signature of its own: within an epoch, consecutive changes shrink as 1/n
(m_n − m_(n−1) = (x_n − m_(n−1))/n), and they jump back up at every epoch start. Raw per-batch values
change by the same amount all through an epoch.
"""

from __future__ import annotations

import numpy as np

from lossdoctor.run import EPOCH, LOSS, RunFacts, Series

#: Epochs the series must cover for the pattern to be measured (three resets at least).
MIN_EPOCHS = 4
#: Points per epoch below which the 1/n decay cannot be told from noise.
MIN_PER_EPOCH = 8
#: Slope of log|change| against log(batches seen): a running mean of alike batches gives −1, raw values
#: about 0; batches that differ through the epoch (data in a fixed order) flatten it to about −0.5.
MAX_SLOPE = -0.3


#: Consecutive changes of values that are each batch's own are anticorrelated (white noise differenced:
#: a lag-1 correlation of −0.5, −0.2 to −0.5 measured on real per-step logs); a running mean's changes,
#: (x_n − m_(n−1))/n, are not (−0.05 to +0.9 measured on Keras per-batch logs). −0.15 splits them.
RAW_CHANGE_CORRELATION = -0.15


def running_mean_verdict(values: np.ndarray, counts: np.ndarray, new_epoch: np.ndarray) -> bool | None:
    """Whether per-batch values are running means since the epoch start (True), each batch's own (False),
    or too few to tell (None, read as Keras writes them: running means)."""
    change = np.diff(values)
    inside = ~new_epoch[1:]  # a change across an epoch start compares two different means
    both = inside[:-1] & inside[1:] & np.isfinite(change[:-1]) & np.isfinite(change[1:])
    first, second = change[:-1][both], change[1:][both]
    if len(first) < 20:
        return None
    ranks_a, ranks_b = np.argsort(np.argsort(first)), np.argsort(np.argsort(second))
    if np.std(ranks_a) == 0 or np.std(ranks_b) == 0:
        return None
    return float(np.corrcoef(ranks_a, ranks_b)[0, 1]) >= RAW_CHANGE_CORRELATION


def difference(means: np.ndarray, counts: np.ndarray, new_epoch: np.ndarray) -> np.ndarray:
    """Undo a running mean: (n_b·m_b − n_a·m_a)/(n_b − n_a), also when rows skip batches."""
    sums = means * counts
    prev_sums = np.concatenate([[0.0], sums[:-1]])
    prev_counts = np.concatenate([[0], counts[:-1]])
    prev_sums[new_epoch] = 0.0
    prev_counts[new_epoch] = 0
    width = np.maximum(counts - prev_counts, 1)
    with np.errstate(invalid="ignore", over="ignore"):
        return (sums - prev_sums) / width


def epochs_of_running_means(values: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
    """(batches seen in the epoch at each point, epoch-start flags) when `values` are running means that
    restart every epoch, else None."""
    values = np.asarray(values, dtype=np.float64)
    n = len(values)
    if n < MIN_EPOCHS * MIN_PER_EPOCH or not np.isfinite(values).all():
        return None
    change = np.abs(np.diff(values))
    scale = float(np.median(change))
    if scale <= 0:
        return None
    z = np.log(change + 1e-6 * scale)
    period = _period(z)
    if period is None:
        return None
    # The phase: the start whose 1/n profile the folded changes follow best. A change into the k-th point of
    # an epoch is about 1/k the batch scatter (k = 1 at the reset, where a new mean begins).
    phase = np.arange(len(z)) % period
    mean_by_phase = np.bincount(phase, z, period) / np.maximum(np.bincount(phase, minlength=period), 1)
    # match[s] = sum over phases φ of mean(φ) · profile((φ + 1 − s) mod period): a circular correlation, by FFT.
    profile = -np.log(np.arange(period) + 1.0)
    spectrum = np.fft.rfft(mean_by_phase - mean_by_phase.mean()) * np.conj(np.fft.rfft(profile - profile.mean()))
    match = np.fft.irfft(spectrum, n=period)  # match[j] = sum_u mean((u + j) mod period) · profile(u)
    start = (int(np.argmax(match)) + 1) % period
    position = (np.arange(n) - start) % period  # batches seen before this point in its epoch
    inside = position[1:] >= 1  # changes within an epoch (the one at a reset spans two epochs)
    seen = position[1:][inside] + 1.0
    if len(seen) < 10 or np.ptp(np.log(seen)) == 0:
        return None
    slope = float(np.polyfit(np.log(seen), z[inside], 1)[0])
    if slope > MAX_SLOPE:
        return None
    new_epoch = position == 0
    counts = (position + 1).astype(np.int64)
    if new_epoch.sum() < MIN_EPOCHS - 1 or not running_mean_verdict(values, counts, new_epoch):
        return None  # the second, independent sign: a running mean's consecutive changes are not anticorrelated
    # Undone, running means give each batch's own values: as many below zero as the means (none for a loss
    # that is positive), and raw-looking (their changes anticorrelated). A smooth curve that merely decays
    # after periodic bursts (Adam near convergence, a full batch) fails both.
    undone = difference(values, counts, new_epoch)
    below_zero = np.mean(undone < 0) > np.mean(values < 0) + 0.01
    if below_zero or running_mean_verdict(undone, counts, new_epoch) is not False:
        return None
    return counts, new_epoch


def _period(z: np.ndarray) -> int | None:
    """The lag at which log|change| repeats most (its autocorrelation peak), preferring the fundamental."""
    n = len(z)
    r = z - z.mean()
    spectrum = np.fft.rfft(r, n=2 * n)
    acf = np.fft.irfft(spectrum * np.conj(spectrum))[:n]
    if acf[0] <= 0:
        return None
    acf = acf / acf[0] * n / (n - np.arange(n))
    low, high = MIN_PER_EPOCH, n // MIN_EPOCHS
    if high <= low + 1:
        return None
    lag = int(low + np.argmax(acf[low:high]))
    if acf[lag] < max(0.2, 4 / np.sqrt(n - lag)):
        return None
    for divisor in (6, 5, 4, 3, 2):
        sub = round(lag / divisor)
        if sub >= low and acf[sub - 1 : sub + 2].max() >= 0.8 * acf[lag]:
            return sub - 1 + int(np.argmax(acf[sub - 1 : sub + 2]))
    return lag


def undo_hidden_running_means(series: dict[str, Series], facts: RunFacts) -> None:
    """When the loss holds running means since the epoch began and nothing marks the epochs (Keras's
    `logs["loss"]` written per batch by a callback of one's own, in any format): per-batch values in its place,
    the running means kept as `loss_running_mean`, and the epochs they restart at as the `epoch` series."""
    loss = series.get(LOSS)
    if loss is None or EPOCH in series or facts.step_unit != "step" or facts.loss_window != 1:
        return
    if any(name.endswith("_running_mean") for name in series):
        return  # a reader already undid them
    finite = np.isfinite(loss.values)
    if finite.mean() < 0.9:
        return
    steps, values = loss.steps[finite], loss.values[finite]
    if len(steps) > 1 and np.any(np.diff(steps) <= 0):
        return
    found = epochs_of_running_means(values)
    if found is None:
        return
    counts, new_epoch = found
    series[LOSS] = Series(steps, difference(values, counts, new_epoch))
    series[f"{LOSS}_running_mean"] = Series(steps, values)
    series[EPOCH] = Series(steps, (np.cumsum(new_epoch) - 1).astype(np.float64))
    period = int(np.max(counts))
    facts.steps_per_epoch = float(period)
    facts.framework = facts.framework or "keras"
    facts.notes.append(
        f"the loss holds running means since the epoch began (each change shrinks as 1/n and jumps back every"
        f" {period} points, as Keras hands logs['loss'] to on_train_batch_end): differenced back to per-batch"
        f" values, the running means kept as loss_running_mean, epochs marked where they restart")
