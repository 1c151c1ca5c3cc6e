"""Running means since the epoch began, in a log that marks no epochs: found from the values alone.

Keras hands `on_train_batch_end` the running mean of the loss since the epoch began, and the classic
"LossHistory" callback (`self.losses.append(logs["loss"])`) writes it out with a counter and nothing else.
Such a series has a signature of its own: within an epoch, consecutive changes shrink as 1/n
(m_n − m_(n−1) = (x_n − m_(n−1))/n), and they jump back up at every epoch start. Raw per-batch values
change by the same amount all through an epoch.
"""

from __future__ import annotations

import numpy as np

from lossdoctor.readers.keras import running_mean_verdict

#: Epochs the series must cover for the pattern to be measured (three resets at least).
MIN_EPOCHS = 4
#: Points per epoch below which the 1/n decay cannot be told from noise.
MIN_PER_EPOCH = 8
#: Slope of log|change| against log(batches seen): a running mean of alike batches gives −1, raw values
#: about 0; batches that differ through the epoch (data in a fixed order) flatten it to about −0.5.
MAX_SLOPE = -0.3


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
