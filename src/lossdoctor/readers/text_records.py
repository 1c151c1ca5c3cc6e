"""The records a console log yields, kept in flat arrays: a long run prints millions of lines.

One record is one line's values with the counters in force there (frame, epoch, step, batch). A list of
objects would take about 600 bytes a line; these arrays take about 60, and the selection and step
assignment of `text.py` run on them with numpy.
"""

from __future__ import annotations

from array import array
from dataclasses import dataclass

import numpy as np

from lossdoctor import keys as K

#: Stands for "no counter seen" in the integer arrays.
NONE = -(2**62)


class Records:
    """Append-only store of parsed lines: per record its counters, per value its record, key and number."""

    def __init__(self) -> None:
        self._frame, self._epoch, self._step, self._batch = array("q"), array("q"), array("q"), array("q")
        self._hf, self._has_loss = array("b"), array("b")
        self._rank = array("q")
        #: The process rank the lines now being read come from (`[rank1] …` in a DDP log); NONE when untagged.
        self.current_rank = NONE
        self._pair_record, self._pair_key, self._pair_value = array("q"), array("q"), array("d")
        self.keys: list[str] = []
        self._ids: dict[str, int] = {}
        self._loss_ids: set[int] = set()

    def __len__(self) -> int:
        return len(self._frame)

    def append(self, frame: int, epoch: int | None, step: int | None, batch: int | None,
               pairs: list[tuple[str, float]], hf_dict: bool = False) -> None:
        index = len(self._frame)
        self._frame.append(frame)
        self._epoch.append(NONE if epoch is None else epoch)
        self._step.append(NONE if step is None else step)
        self._batch.append(NONE if batch is None else batch)
        self._hf.append(hf_dict)
        self._rank.append(self.current_rank)
        has_loss = False
        for key, value in pairs:
            kid = self._ids.get(key)
            if kid is None:
                kid = self._ids[key] = len(self.keys)
                self.keys.append(key)
                if K.is_loss_like(key):
                    self._loss_ids.add(kid)
            has_loss = has_loss or kid in self._loss_ids
            self._pair_record.append(index)
            self._pair_key.append(kid)
            self._pair_value.append(value)
        self._has_loss.append(has_loss)

    def clamp_batches(self, largest: int) -> None:
        """Counters above `largest` set to it (a progress bar's closing refresh names the batch it closed on)."""
        for i, batch in enumerate(self._batch):
            if batch != NONE and batch > largest:
                self._batch[i] = largest

    @property
    def has_training_loss(self) -> bool:
        """Whether any record holds a training loss (a printed `val_loss` alone is not one)."""
        return any(not K.is_val_like(self.keys[kid]) for kid in self._loss_ids) and bool(self.has_loss.any())

    def key_ids(self, normalised: str) -> list[int]:
        """Ids of the keys that normalise to `normalised`."""
        return [kid for kid, key in enumerate(self.keys) if K.normalise(key) == normalised]

    def select(self, keep: np.ndarray) -> Table:
        """The kept records (a boolean mask over all of them), renumbered from 0, with their values."""
        index = np.cumsum(keep) - 1
        record = np.frombuffer(self._pair_record, dtype=np.int64)
        in_kept = keep[record] if len(record) else np.zeros(0, dtype=bool)
        return Table(
            keys=self.keys,
            frame=self.frame[keep], epoch=_ints(self._epoch)[keep], step=_ints(self._step)[keep],
            batch=_ints(self._batch)[keep], hf=_ints(self._hf).astype(bool)[keep],
            has_loss=self.has_loss[keep],
            pair_record=index[record[in_kept]], pair_key=_ints(self._pair_key)[in_kept],
            pair_value=np.frombuffer(self._pair_value, dtype=np.float64)[in_kept])

    @property
    def frame(self) -> np.ndarray:
        return _ints(self._frame)

    @property
    def rank(self) -> np.ndarray:
        return _ints(self._rank)

    @property
    def has_loss(self) -> np.ndarray:
        return _ints(self._has_loss).astype(bool)

    def records_with(self, kids: list[int]) -> np.ndarray:
        """Mask of the records holding a value of one of these keys."""
        out = np.zeros(len(self), dtype=bool)
        keys = _ints(self._pair_key)
        out[_ints(self._pair_record)[np.isin(keys, kids)]] = True
        return out


@dataclass
class Table:
    """Kept records as numpy arrays (`NONE` where a counter was not seen), and their values."""

    keys: list[str]
    frame: np.ndarray
    epoch: np.ndarray
    step: np.ndarray
    batch: np.ndarray
    hf: np.ndarray
    has_loss: np.ndarray
    pair_record: np.ndarray
    pair_key: np.ndarray
    pair_value: np.ndarray

    def __len__(self) -> int:
        return len(self.frame)

    def value_of(self, key: str) -> np.ndarray:
        """Per record, its value of `key` as written (NaN where it has none; the last one if several)."""
        out = np.full(len(self), np.nan)
        if key in self.keys:
            at = self.pair_key == self.keys.index(key)
            out[self.pair_record[at]] = self.pair_value[at]
        return out

    def has_key(self, key: str) -> np.ndarray:
        out = np.zeros(len(self), dtype=bool)
        if key in self.keys:
            out[self.pair_record[self.pair_key == self.keys.index(key)]] = True
        return out


def _ints(values: array) -> np.ndarray:
    return np.frombuffer(values, dtype=np.int8 if values.typecode == "b" else np.int64)
