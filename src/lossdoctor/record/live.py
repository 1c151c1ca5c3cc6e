"""Live warnings: the checks that can run on a growing run, each firing once, with the step.

They run on the host at every flush (on values the flush copied anyway), so they cost no extra sync.
A warning is one line on the console and an event in the store; the full diagnosis comes from
`lossdoctor diagnose RUN_DIR` at any time. Thresholds are relative to the run's own recent behaviour.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass, field

import numpy as np

#: Kinds of live warning; `mute` takes these ids (they match the diagnosis check ids).
KINDS = ("numerical_instability", "loss_spike", "lr_too_high", "eval_mode_leak", "partial_last_batch")

#: Recent finite losses kept for the robust level and scale.
_WINDOW = 200
#: Points needed before spikes and climbs can be judged.
_MIN_HISTORY = 30
#: A spike is this many robust standard deviations above the recent median (and 1.5× it).
_SPIKE_Z = 8.0
#: The recent level and scale are recomputed every this many steps (a median per step would cost too much).
_REFRESH = 5
#: Update/weight ratio above which steps are too large to be healthy (typical runs sit near 1e-3).
_UPDATE_RATIO_HIGH = 3e-2


@dataclass
class Block:
    """One flush worth of per-step values on the host (NaN where not recorded)."""

    steps: np.ndarray
    loss: np.ndarray
    grad_norm: np.ndarray
    #: Number of parameter tensors whose gradient holds NaN/inf (NaN when not measured).
    nonfinite: np.ndarray
    batch_size: np.ndarray
    train_mode: np.ndarray
    epoch: np.ndarray
    update_ratio: np.ndarray


@dataclass
class LiveChecks:
    """Incremental checks over successive blocks; `observe` returns the warnings that fire now."""

    mute: frozenset[str] = frozenset()
    fired: set[str] = field(default_factory=set)
    _recent: deque[float] = field(default_factory=lambda: deque(maxlen=_WINDOW))
    _early: list[float] = field(default_factory=list)
    _best_level: float = math.inf
    _max_batch: float = 0.0
    _last_epoch: float = math.nan
    _pending_last: tuple[int, float, float] | None = None
    _ratios: deque[float] = field(default_factory=lambda: deque(maxlen=50))
    _epoch_losses: list[float] = field(default_factory=list)
    _level: tuple[float, float] | None = None
    _age: int = 0
    _odd_last: list[float] = field(default_factory=list)

    def observe(self, block: Block) -> list[tuple[int, str, str]]:
        out: list[tuple[int, str, str]] = []
        for i in range(len(block.steps)):
            for kind, message, *at in self._one(block, i):  # `at`: the step it concerns, when earlier
                if kind not in self.fired and kind not in self.mute:
                    self.fired.add(kind)
                    out.append((int(at[0]) if at else int(block.steps[i]), kind, message))
        return out

    def _one(self, b: Block, i: int) -> list[tuple]:
        found: list[tuple] = []
        step, loss, grad = int(b.steps[i]), float(b.loss[i]), float(b.grad_norm[i])
        found += self._epoch_end(b, i, step)
        if b.train_mode[i] == 0:
            found.append(("eval_mode_leak", f"step {step}: the model was in eval mode during a training step "
                          "(model.eval() without model.train() after an evaluation?): dropout and batch-norm "
                          "behave as at test time"))
        bad_grads = float(b.nonfinite[i])
        if not math.isfinite(loss) or bad_grads > 0:
            what = f"the loss is {loss}" if not math.isfinite(loss) else \
                f"{bad_grads:.0f} parameter(s) have NaN/inf gradients (gradient norm {grad})"
            level = f" (recent loss level {np.median(self._recent):.4g})" if self._recent else ""
            found.append(("numerical_instability", f"step {step}: {what}{level}; training from here on is "
                          "unreliable"))
            return found
        ratio = float(b.update_ratio[i])
        if math.isfinite(ratio):
            self._ratios.append(ratio)
        if len(self._recent) >= _MIN_HISTORY:
            found += self._spike_and_climb(step, loss)
        self._recent.append(loss)
        if len(self._early) < _MIN_HISTORY:
            self._early.append(loss)
        return found

    def _spike_and_climb(self, step: int, loss: float) -> list[tuple[str, str]]:
        """Spikes against the recent level, and a climb of the level; statistics refreshed every few steps."""
        found: list[tuple[str, str]] = []
        if {"loss_spike", "lr_too_high"} <= self.fired:
            return found
        self._age += 1
        if self._level is None or self._age >= _REFRESH:
            self._age = 0
            recent = np.fromiter(self._recent, dtype=float)
            level = float(np.median(recent))
            scale = max(1.4826 * float(np.median(np.abs(recent - level))), 1e-12 * max(abs(level), 1.0))
            self._level = (level, scale)
            found += self._climb(step, float(np.median(recent[-_MIN_HISTORY:])))
        level, scale = self._level
        if loss > level + _SPIKE_Z * scale and abs(loss) > 1.5 * abs(level):
            found.append(("loss_spike", f"step {step}: loss spike to {loss:.4g}, {loss / level:.3g}× the recent "
                          f"median {level:.4g} ({(loss - level) / scale:.0f} robust stds)"))
        return found

    def _climb(self, step: int, tail: float) -> list[tuple[str, str]]:
        self._best_level = min(self._best_level, tail)
        start = float(np.median(self._early)) if self._early else math.nan
        rise = tail / self._best_level if self._best_level > 0 else math.nan
        big_steps = len(self._ratios) >= 20 and float(np.median(self._ratios)) > _UPDATE_RATIO_HIGH
        climbing = rise > 3.0 or (tail > start and rise > 2.0)
        if not (climbing or (tail > start and big_steps and rise > 1.5)):
            return []
        where = " and above where it started" if tail > start else ""
        why = (f"the loss level {tail:.4g} is {tail / self._best_level:.2g}× its best {self._best_level:.4g}"
               if climbing else f"the loss level rose to {tail:.4g} from its best {self._best_level:.4g}")
        steps = (f"; the median update/weight ratio is {float(np.median(self._ratios)):.2g} "
                 "(healthy runs sit near 1e-3)" if self._ratios else "")
        return [("lr_too_high", f"step {step}: {why}{where}{steps}: "
                 "the learning rate is probably too high")]

    def _epoch_end(self, b: Block, i: int, step: int) -> list[tuple]:
        """A smaller last batch whose loss stands out in several epochs in a row: the partial-last-batch bug.

        One epoch proves little in a noisy run; the loss of the short batch being in the top (or bottom)
        tenth of its epoch, and ≥ 1.5× (or ≤ 1/1.5×) the epoch's median, three epochs running, happens by
        chance about once in a thousand runs.
        """
        found: list[tuple] = []
        size, epoch, loss = float(b.batch_size[i]), float(b.epoch[i]), float(b.loss[i])
        if self._pending_last is not None:  # the step after a smaller batch: was it the epoch's last?
            last_step, last_size, last_loss = self._pending_last
            ended = epoch != self._last_epoch if math.isfinite(epoch) else size >= self._max_batch
            losses = np.array(self._epoch_losses[:-1])
            if ended and len(losses) >= 5 and math.isfinite(last_loss):
                median = float(np.median(losses))
                ratio = last_loss / median if median > 0 else math.nan
                rank = float(np.mean(losses < last_loss))
                odd = (rank >= 0.9 and ratio >= 1.5) or (rank <= 0.1 and 0 < ratio <= 1 / 1.5)
                self._odd_last = [*self._odd_last, ratio][-3:] if odd else []
                if len(self._odd_last) == 3:
                    found.append(("partial_last_batch",
                                  f"step {last_step}: the last batch of the epoch holds {last_size:.0f} samples "
                                  f"instead of {self._max_batch:.0f}, and in 3 epochs in a row its loss stood out "
                                  f"({float(np.median(self._odd_last)):.3g}× the epoch's median): the loss is "
                                  "normalised by the wrong batch size (or use drop_last=True)", last_step))
            self._pending_last = None
        if math.isfinite(epoch) and epoch != self._last_epoch:
            self._epoch_losses = []
        if math.isfinite(epoch):
            self._last_epoch = epoch
        self._epoch_losses.append(loss)
        if math.isfinite(size):
            if 0 < size < self._max_batch:
                self._pending_last = (step, size, loss)
            else:
                self._pending_last = None
            self._max_batch = max(self._max_batch, size)
        return found
