"""Keras progress bars saved to a file (`model.fit(verbose=1) > train.log`): every refresh, not only the last.

On Linux, Keras 3 redraws its bar in place even when stdout is a file, so the file keeps every refresh
(about one per 50 ms): `\\x1b[1m 19/350\\x1b[0m ━━━━ 1s 6ms/step - loss: 0.4337` followed by the backspaces
that erase it before the next one. Each refresh shows the running mean since the epoch began; differencing two
refreshes gives the mean over the batches between them: x = (n·m_n − p·m_p) / (n − p).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import numpy as np

from lossdoctor import keys as K
from lossdoctor.readers.text_records import Records

#: Terminal colour and cursor codes (`\x1b[1m`, `\x1b[0m`, `\x1b[2K`).
ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
#: A refresh needs this many refreshes per epoch, on average, to be worth reading (else only epoch ends).
MIN_REFRESHES_PER_EPOCH = 3
#: Largest rounding error, relative to the window mean, that a differenced window may carry. Keras prints
#: 4 decimals; differencing multiplies their rounding by (n + p)/(n − p), so a 1-batch window late in an
#: epoch of 0.18 losses was off by 2% (a flaky CI run). Narrower windows are merged with the next one.
MAX_ROUNDING_ERROR = 0.01


def printed_half_unit(value: float) -> float:
    """Half the last digit Keras shows of `value` (`.4f` above 1e-3, `.4e` below): its rounding error."""
    size = abs(value)
    if size > 1e-3 or size == 0:
        return 5e-5
    return 5e-5 * 10.0 ** np.floor(np.log10(size))


def strip_terminal(line: str) -> str:
    """The text a terminal showed: colour codes removed, and the backspaces that end a redrawn bar dropped
    (they erase it only when the next refresh is drawn; the refresh itself was on screen)."""
    if "\x1b" in line:
        line = ANSI.sub("", line)
    return line.rstrip("\b\n").rstrip("\b") if line.endswith(("\b", "\b\n")) else line


@dataclass
class Refresh:
    epoch: int | None
    n: int
    of: int
    pairs: list[tuple[str, float]]


@dataclass
class KerasBars:
    """The refreshes of Keras progress bars, in order."""

    refreshes: list[Refresh] = field(default_factory=list)

    def add(self, epoch: int | None, n: int, of: int, pairs: list[tuple[str, float]]) -> None:
        if pairs:
            self.refreshes.append(Refresh(epoch, n, of, pairs))

    @property
    def worth_reading(self) -> bool:
        """Whether the bars were saved refresh by refresh (more than one per epoch, with a training loss)."""
        ends = sum(1 for r in self.refreshes if r.n >= r.of)
        has_loss = any(K.is_loss_like(k) and not K.is_val_like(k) for r in self.refreshes for k, _ in r.pairs)
        return has_loss and ends >= 1 and len(self.refreshes) >= MIN_REFRESHES_PER_EPOCH * ends

    def records(self) -> tuple[Records, int, float]:
        """Records at global steps (epoch × batches + the refresh's last batch) with the training values
        differenced into window means; (records, batches per epoch, median window in batches)."""
        out = Records()
        windows: list[int] = []
        per_epoch = max(r.of for r in self.refreshes)
        epoch_index, previous = -1, None
        for frame, r in enumerate(self.refreshes, start=1):
            # the closing refresh may be drawn twice (the last batch, then again with the validation)
            new_epoch = previous is None or r.n < previous.n or r.epoch != previous.epoch
            if new_epoch:
                epoch_index += 1
                since: dict[str, tuple[int, float]] = {}  # per loss: (batches, running mean) at its last window
            pairs = []
            for key, value in r.pairs:
                if K.is_loss_like(key) and not K.is_val_like(key):
                    seen, before = since.get(key, (0, 0.0))
                    width = r.n - seen
                    if width <= 0 or not np.isfinite(value):
                        continue
                    mean = (r.n * value - seen * before) / width
                    error = (r.n * printed_half_unit(value) + seen * printed_half_unit(before)) / width
                    if error > MAX_ROUNDING_ERROR * abs(mean) and r.n < r.of:
                        continue  # too narrow to survive the rounding: the next refresh takes these batches
                    pairs.append((key, mean))
                    since[key] = (r.n, value)
                    windows.append(width)
                elif r.n >= r.of or not K.is_val_like(key):
                    pairs.append((key, value))  # other metrics as shown; validation only at the epoch's end
            out.append(frame, r.epoch, epoch_index * per_epoch + r.n - 1, None, pairs)
            previous = r
        return out, per_epoch, float(np.median(windows)) if windows else 1.0
