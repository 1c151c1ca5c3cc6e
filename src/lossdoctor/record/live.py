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
KINDS = ("numerical_instability", "loss_spike", "lr_too_high", "adam_near_convergence", "eval_mode_leak",
         "partial_last_batch")

#: Recent finite losses kept for the robust level and scale.
_WINDOW = 200
#: Points needed before spikes and climbs can be judged.
_MIN_HISTORY = 30
#: A spike is this many robust standard deviations above the recent median (and 1.5× it).
_SPIKE_Z = 8.0
#: Update/weight ratio above which steps are too large to be healthy (typical runs sit near 1e-3).
_UPDATE_RATIO_HIGH = 3e-2
#: A best loss this far below the start is Adam's endgame: its steps stay near lr however small the gradient
#: gets, so a climb from there is adam_near_convergence, not a learning rate too high for the task.
_NEAR_ZERO = 1e-4


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
    #: The optimizer divides by sqrt(v̂) + eps (Adam, AdamW, RMSprop-like)
    adam: bool = False
    fired: set[str] = field(default_factory=set)
    _recent: deque[float] = field(default_factory=lambda: deque(maxlen=_WINDOW))
    _early: list[float] = field(default_factory=list)
    _best_level: float = math.inf
    _max_batch: float = 0.0
    _last_epoch: float = math.nan
    _pending_last: tuple[int, float, float] | None = None
    _ratios: deque[float] = field(default_factory=lambda: deque(maxlen=50))
    _epoch_losses: list[float] = field(default_factory=list)
    _odd_last: list[float] = field(default_factory=list)

    def observe(self, block: Block) -> list[tuple[int, str, str]]:
        """Judge one flushed block. Vectorised over its rows: the recent level and scale come from the
        points before the block (one median per flush, not per step); only the epoch-end bookkeeping,
        which needs batch sizes, walks the rows one by one."""
        found: list[tuple[int, str, str]] = []
        steps, loss = block.steps, block.loss
        if np.isfinite(block.batch_size).any():
            for i in range(len(steps)):
                for _, message, at in self._epoch_end(block, i, int(steps[i])):
                    found.append((int(at), "partial_last_batch", message))
        eval_rows = np.flatnonzero(block.train_mode == 0)
        if len(eval_rows):
            step = int(steps[eval_rows[0]])
            found.append((step, "eval_mode_leak", f"step {step}: the model was in eval mode during a training step "
                          "(model.eval() without model.train() after an evaluation?): dropout and batch-norm "
                          "behave as at test time"))
        bad = ~np.isfinite(loss) | (np.nan_to_num(block.nonfinite) > 0)
        if bad.any():
            i = int(np.argmax(bad))
            step, value, grads = int(steps[i]), float(loss[i]), float(block.nonfinite[i])
            what = f"the loss is {value}" if not math.isfinite(value) else \
                f"{grads:.0f} parameter(s) have NaN/inf gradients (gradient norm {float(block.grad_norm[i])})"
            before = [*self._recent, *loss[:i][~bad[:i]]]
            level = f" (recent loss level {np.median(before):.4g})" if before else ""
            found.append((step, "numerical_instability", f"step {step}: {what}{level}; training from here on is "
                          "unreliable"))
        ratios = block.update_ratio[np.isfinite(block.update_ratio) & ~bad]
        self._ratios.extend(ratios.tolist())
        good = np.flatnonzero(~bad)
        fill = max(0, _MIN_HISTORY - len(self._early))
        self._early.extend(loss[good[:fill]].tolist())
        # the first points of a run only build the history the later ones are judged against
        needed = max(0, _MIN_HISTORY - len(self._recent))
        self._recent.extend(loss[good[:needed]].tolist())
        judged = good[needed:]
        if len(judged) and not {"loss_spike", "lr_too_high"} <= self.fired:
            recent = np.fromiter(self._recent, dtype=float)
            level = float(np.median(recent))
            scale = max(1.4826 * float(np.median(np.abs(recent - level))), 1e-12 * max(abs(level), 1.0))
            values = loss[judged]
            spikes = np.flatnonzero((values > level + _SPIKE_Z * scale) & (np.abs(values) > 1.5 * abs(level)))
            if len(spikes):
                step, value = int(steps[judged[spikes[0]]]), float(values[spikes[0]])
                found.append((step, "loss_spike", f"step {step}: loss spike to {value:.4g}, {value / level:.3g}× "
                              f"the recent median {level:.4g} ({(value - level) / scale:.0f} robust stds)"))
            self._recent.extend(values.tolist())
            tail = float(np.median(np.fromiter(self._recent, dtype=float)[-_MIN_HISTORY:]))
            last = int(steps[judged[-1]])
            found += [(last, kind, message) for kind, message in self._climb(last, tail)]
        else:
            self._recent.extend(loss[judged].tolist())
        out: list[tuple[int, str, str]] = []
        for step, kind, message in sorted(found, key=lambda item: item[0]):
            if kind not in self.fired and kind not in self.mute:
                self.fired.add(kind)
                out.append((step, kind, message))
        return out

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
        if self.adam and self._best_level < _NEAR_ZERO * start:
            return [("adam_near_convergence", f"step {step}: {why}, after reaching {self._best_level / start:.2g}× "
                     "its start: near zero, Adam's steps stay about lr as the gradients vanish (decay the LR late"
                     " in training, or raise eps)")]
        steps = (f"; the median update/weight ratio is {float(np.median(self._ratios)):.2g} "
                 "(healthy runs sit near 1e-3)" if big_steps else "")
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
