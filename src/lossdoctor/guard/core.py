"""`Guard`: a remedy around `optimizer.step()` that clips, skips and backs off without host syncs.

Per step, all on the device:

1. the total gradient norm, and its z-score against a robust running level and scale (`RunningMoments`:
   Holt level + falling trend, capped mean absolute deviation), fed the clipped norm of accepted steps;
   and the same robust level of the log of the unclipped norm (the typical norm: heavy tails neither
   loosen it nor, since clipping is not fed back, ratchet it down);
2. an adaptive clip: gradients are scaled (`torch._foreach_mul_`) down to `level + clip_z·std` when they
   exceed it (never below `clip_floor`× the level, so ordinary step-to-step variation is left alone).
   Once the gradient has exploded (a norm `explosion_ratio`× the typical norm, grown out of a step
   already `explosion_onset`× above it, with the loss up `loss_skip_ratio`× but by less than the
   norm), every gradient is clipped to `explosion_clip`× the typical norm until `explosion_calm` steps
   pass without another explosion: the classic remedy for exploding gradients (a threshold near the
   average norm, Pascanu et al. 2013). The adaptive clip undoes single explosions, but a model at the
   edge of stability (a recurrent gain near 1) crosses it again within a few ordinary-sized steps; only
   short steps keep it from crossing far. Bad batches (the loss grows more than the gradient) and
   isolated jumps out of an ordinary step (a wrongly scaled batch) do not trigger it, and a healthy
   run never does: its steps are left alone;
3. a skip flag for a non-finite loss or gradient, a gradient norm `skip_z` stds out, or a loss
   `loss_skip_z` stds (and `loss_skip_ratio`×) above its running level: a bad batch. Outliers in a row
   are a new level, not bad batches: a large gradient with an ordinary loss is skipped once
   (`max_norm_only_skips`), a loss far above its level `max_consecutive_skips` times; the rest of the
   streak is accepted, clipped, and the first accepted one backs the LR off;
4. undoing a damaging update: a skipped step whose loss is an outlier, or whose gradient norm is one
   while the loss is `loss_skip_ratio`× above its level, right after two accepted updates, undoes the
   last of them too (an oversized update, or momentum piling up, shows only in the next step's loss and
   gradient; a bad batch looks the same there and costs one ordinary update);
5. the inner `optimizer.step()` always runs (no Python branch reads a tensor); a skipped step is then
   undone exactly: parameters and every optimizer state tensor (Adam's `exp_avg`, `exp_avg_sq`, `step`,
   SGD's `momentum_buffer`...) are restored from a snapshot, by one batched in-place
   `lerp(new, old, skip)` (exact at weights 0 and 1; a non-finite gradient is zeroed before a restorable
   step so that nothing non-finite enters the lerp). The snapshot is refreshed before each step by one
   batched `lerp(snapshot, current, 1 - undo)`, so an undo keeps the state from before the previous
   update: one snapshot buffer, no extra pass;
6. an LR back-off: when a fast EMA of the log-loss stays `climb_ratio`× above a slow one for `patience`
   steps, or an outlier streak is accepted (3), the LR scale halves (down to `min_lr_scale`). It is
   applied by scaling the parameter update, `p = old + s·(new - old)`, which for SGD, Adam(W) and
   RMSprop equals scaling the LR, and leaves `param_groups` alone.

Each step's grad norm, clip factor, skip flag, LR scale and loss go to a device buffer, copied to the
host every `flush_every` steps (the only syncs) into `lossdoctor_guard.jsonl` in `log_dir`.

The snapshot costs one extra copy of the parameters and the optimizer state, and two passes over them
per step (snapshot, restore); `skip=False` with `backoff=False` drops it (clipping only). On CUDA with a
non-capturable Adam, the `step` counters live on the CPU; restoring them would need a sync, so a skipped
step still advances them (the bias correction is then one step ahead, negligible after the first few
hundred steps); use `capturable=True` or `fused=True` to keep them on the device and restored exactly.
"""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Any

import numpy as np
import torch

from .names import COLUMNS, GUARD_LOG
from .record import InterventionLog
from .stats import RunningMoments


def _lerp_in_groups(jobs: list[tuple[torch.Tensor, torch.Tensor, torch.Tensor]]) -> None:
    """`live.lerp_(old, weight)` for each job, batched: one `torch._foreach_lerp_` per weight, dtype and device."""
    groups: dict[tuple[int, torch.dtype, torch.device],
                 tuple[list[torch.Tensor], list[torch.Tensor], torch.Tensor]] = {}
    for live, old, weight in jobs:
        key = (id(weight), live.dtype, live.device)
        if key not in groups:
            groups[key] = ([], [], weight.to(live.dtype))
        groups[key][0].append(live)
        groups[key][1].append(old)
    for live_group, old_group, group_weight in groups.values():
        torch._foreach_lerp_(live_group, old_group, group_weight)


class _Plan:
    """Batched in-place jobs over fixed tensor lists: `lerp_` groups (one per dtype, each with the index of
    the weight it takes), `where` pairs for tensors that cannot lerp (integers), and pairs to copy."""

    def __init__(self) -> None:
        self.lerps: dict[tuple[int, torch.dtype], tuple[list[torch.Tensor], list[torch.Tensor]]] = {}
        self.wheres: list[tuple[torch.Tensor, torch.Tensor]] = []
        self.copies: list[tuple[torch.Tensor, torch.Tensor]] = []

    def lerp(self, weight_index: int, live: torch.Tensor, other: torch.Tensor) -> None:
        group = self.lerps.setdefault((weight_index, live.dtype), ([], []))
        group[0].append(live)
        group[1].append(other)

    def run_lerps(self, weights: list[torch.Tensor]) -> None:
        cast: dict[tuple[int, torch.dtype], torch.Tensor] = {}
        for (index, dtype), (live, other) in self.lerps.items():
            weight = cast.get((index, dtype))
            if weight is None:
                weight = cast[(index, dtype)] = weights[index].to(dtype)
            torch._foreach_lerp_(live, other, weight)


def _scalar(loss: torch.Tensor | float, device: torch.device) -> torch.Tensor:
    """The loss as a detached 0-dim float32 tensor on the guard's device (a mean if it is not a scalar)."""
    value = torch.as_tensor(loss).detach().to(device=device, dtype=torch.float32)
    return value if value.dim() == 0 else value.reshape(-1).mean()


class Guard:
    """Wraps an optimizer: call `guard.step(loss)` where the loop called `optimizer.step()`."""

    def __init__(
        self,
        optimizer: torch.optim.Optimizer,
        *,
        log_dir: str | os.PathLike[str] | None = None,
        clip: bool = True,
        skip: bool = True,
        backoff: bool = True,
        alpha: float = 0.97,
        warmup: int = 10,
        clip_z: float = 3.0,
        clip_floor: float = 2.0,
        skip_z: float = 12.0,
        loss_skip_z: float = 6.0,
        loss_skip_ratio: float = 1.5,
        climb_ratio: float = 1.2,
        patience: int = 10,
        backoff_factor: float = 0.5,
        min_lr_scale: float = 1 / 64,
        max_consecutive_skips: int = 8,
        max_norm_only_skips: int = 1,
        undo_damage: bool = True,
        explosion_ratio: float = 10.0,
        explosion_onset: float = 2.0,
        explosion_clip: float | None = 0.7,
        explosion_calm: int = 1000,
        flush_every: int = 100,
        start_step: int = 0,
        params: list[torch.Tensor] | None = None,
    ) -> None:
        if explosion_ratio <= 0 or explosion_onset <= 0 or (explosion_clip is not None and explosion_clip <= 0):
            raise ValueError("explosion_ratio, explosion_onset and explosion_clip must be positive "
                             "(explosion_clip=None turns the clip after an explosion off)")
        self.optimizer = optimizer
        self.params = list(params) if params is not None else [
            p for group in optimizer.param_groups for p in group["params"]]
        if not self.params:
            raise ValueError("the optimizer has no parameters")
        self._inner_step = getattr(optimizer, "step", None)  # captured before `install()` replaces it
        self.device = self.params[0].device
        self.clip, self.skip, self.backoff = clip, skip, backoff
        self.warmup, self.clip_z, self.clip_floor = warmup, clip_z, clip_floor
        self.skip_z, self.loss_skip_z, self.loss_skip_ratio = skip_z, loss_skip_z, loss_skip_ratio
        self.log_climb, self.patience = math.log(climb_ratio), patience
        self.backoff_factor, self.min_lr_scale = backoff_factor, min_lr_scale
        self.max_consecutive_skips = max_consecutive_skips
        self.max_norm_only_skips = max_norm_only_skips
        self.undo_damage = undo_damage and skip
        self.outliers_in_a_row = torch.zeros((), device=self.device)  # skipped or accepted
        # Whether the last update was applied and the one before it too: if the loss then jumps, the last
        # update is undone along with the coming one (`_take_snapshot` keeps the state from before it).
        self.last_update_undoable = torch.zeros((), dtype=torch.bool, device=self.device)
        self._last_accepted = torch.zeros((), dtype=torch.bool, device=self.device)
        self._streak_limits = torch.tensor([float(max_norm_only_skips), float(max_consecutive_skips)],
                                           device=self.device)
        # All streams in one `RunningMoments`: 0 is the gradient norm (clipped), 1 the log-loss, 2 the log
        # of the unclipped gradient norm (never an outlier itself: its limits are infinite).
        self.stats = RunningMoments(alpha, self.device, streams=3)
        self._z_limits = torch.tensor([skip_z, loss_skip_z, math.inf], device=self.device)
        self._rise_limits = torch.tensor([-math.inf, math.log(loss_skip_ratio), -math.inf], device=self.device)
        # The tight clip after an explosion (module docstring, 2): steps since the last explosion, how
        # far the previous step's log-norm rose above the typical one, and explosions seen.
        self.explosion_clip, self.explosion_calm = explosion_clip, explosion_calm
        self._explosion_limits = torch.tensor([math.log(explosion_ratio), math.log(explosion_onset),
                                               math.log(loss_skip_ratio), 0.0], device=self.device)
        self.since_explosion = torch.full((), math.inf, device=self.device)
        self.previous_norm_rise = torch.zeros((), device=self.device)
        self.explosions = torch.zeros((), device=self.device)
        # Fast and slow EMAs of the log-loss for the back-off, and their decays.
        self.emas = torch.zeros(2, device=self.device)
        self._ema_decay = torch.tensor([0.9, 0.99], device=self.device)
        self._ema_gain = torch.tensor([0.1, 0.01], device=self.device)
        self.climbing = torch.zeros((), device=self.device)  # consecutive steps the fast EMA sat above the slow
        self.lr_scale = torch.ones((), device=self.device)
        self._one = torch.ones((), device=self.device)
        self._nan = torch.full((), math.nan, device=self.device)
        self.step_count = start_step
        self._pending_sum: torch.Tensor | None = None
        self._pending_count = 0
        self._snapshot: list[torch.Tensor] = []
        self._snapshot_keys: list[Any] = []
        # What the snapshot was taken of (identity, then shape/dtype/device of each tensor), and the
        # batched jobs built from it once: rebuilt only when the optimizer state or a parameter changes.
        self._snapshot_ids: list[int] = []
        self._snapshot_sig: list[tuple[Any, ...]] = []
        self._snapshot_sources: list[torch.Tensor] = []
        self._snapshot_plan: _Plan | None = None
        self._restore_plan: _Plan | None = None
        path = Path(log_dir) / GUARD_LOG if log_dir is not None else None
        self.log = InterventionLog(self.device, flush_every, path)

    # -- the optimizer interface, so a guard can stand in for the optimizer in a loop --------------
    @property
    def param_groups(self) -> list[dict[str, Any]]:
        return self.optimizer.param_groups

    @property
    def state(self) -> Any:
        return self.optimizer.state

    def zero_grad(self, set_to_none: bool = True) -> None:
        self.optimizer.zero_grad(set_to_none=set_to_none)

    def observe(self, loss: torch.Tensor | float) -> None:
        """Give a loss of the coming step when `step()` is called without it (a framework calls it).

        Called once per micro-batch under gradient accumulation: the step uses their mean.
        """
        value = _scalar(loss, self.device)
        self._pending_sum = value if self._pending_sum is None else self._pending_sum + value
        self._pending_count += 1

    def _take_pending_loss(self) -> torch.Tensor | None:
        if self._pending_sum is None:
            return None
        loss = self._pending_sum / self._pending_count
        self._pending_sum, self._pending_count = None, 0
        return loss

    def install(self) -> Guard:
        """Make `optimizer.step()` itself guarded, for frameworks that call it (HF Trainer, Lightning).

        A closure (Lightning runs forward and backward in one) is evaluated first, as torch optimizers
        do, and its loss is used; then the guarded step runs. Returns the guard.
        """
        def step(closure: Any = None, **_: Any) -> Any:
            loss = None
            if closure is not None:
                with torch.enable_grad():
                    loss = closure()
            self.step(loss if isinstance(loss, torch.Tensor) else None)
            return loss

        self.optimizer.step = step
        return self

    # -- the step ----------------------------------------------------------------------------------
    def step(self, loss: torch.Tensor | None = None) -> None:
        """Clip, decide skip and LR scale on the device, step the inner optimizer, undo it if skipped."""
        grads = [p.grad for p in self.params if p.grad is not None]
        self.guarded_update(grads, loss, self._inner_step)

    def guarded_update(self, grads: list[torch.Tensor], loss: torch.Tensor | None, inner: Any) -> Any:
        """The guard around `inner()` (the optimizer's own update), given the gradients it will read.

        The decisions are ~80 small tensor operations on the device, the gradient and loss streams side
        by side in 2-vectors; nothing is read on the host.
        """
        pending = self._take_pending_loss()
        loss = _scalar(loss, self.device) if loss is not None else pending
        if not grads:
            return inner()
        norm = torch.nn.utils.get_total_norm(grads).to(torch.float32)
        log_loss = self._log_loss(loss)
        log_norm = torch.log(norm)
        finite_all = torch.isfinite(torch.stack([norm, log_loss, log_norm, self._one if loss is None else loss]))
        finite_x = finite_all[:3]
        finite = finite_all[0] & finite_all[3]
        x = torch.stack([norm, log_loss, log_norm])
        stats = self.stats
        mean, std = stats.mean, stats.std
        warm = stats.count >= self.warmup
        rise = x - mean
        bad = ~finite
        level_shift = None
        undo_last = None
        if self.skip:
            # A gradient norm `skip_z` stds out, or a loss `loss_skip_z` stds and `loss_skip_ratio`× up.
            outliers = warm & (rise > self._z_limits * (std + 1e-12)) & (rise > self._rise_limits)
            outlier, loss_outlier = outliers.any(), outliers[1]
            # A streak of outliers is a new level, not bad batches: from its `max_norm_only_skips`-th step
            # (a large gradient with an ordinary loss: the gradient norm has grown, which clipping
            # bounds) or `max_consecutive_skips`-th (a loss far above its level: a damaged model), the
            # outliers are accepted, clipped, until the streak ends; the first one accepted backs the LR
            # off (below).
            limit = torch.where(loss_outlier, self._streak_limits[1], self._streak_limits[0])
            persists = self.outliers_in_a_row >= limit
            bad = bad | (outlier & ~persists)
            self.outliers_in_a_row = (self.outliers_in_a_row + 1) * outlier
            level_shift = outlier & persists & ~self._last_accepted
            if self.undo_damage:
                # A loss far above its level right after an update, or a gradient-norm outlier with a
                # loss well above it, may be that update's damage (an oversized step, or momentum piling
                # up): undo it along with this step. A bad batch looks the same here, and costs one
                # ordinary update. An update that followed a skip is never undone, so bad batches every
                # other step still leave progress.
                hit = loss_outlier | (outliers[0] & (rise[1] > self._rise_limits[1]))
                undo_last = bad & hit & self.last_update_undoable
                self.last_update_undoable = ~bad & self._last_accepted
            self._last_accepted = ~bad
        restore = self.skip or self.backoff
        if restore:
            # A non-finite gradient is skipped; zeroed first, the step it runs stays finite, so the
            # restore's lerp brings back the old values exactly (NaN·0 would not be 0).
            for g in grads:
                torch.nan_to_num_(g, nan=0.0, posinf=0.0, neginf=0.0)
        factor = self._one
        if self.clip:
            limit = torch.maximum(mean + self.clip_z * std, self.clip_floor * mean)[0]
            if self.explosion_clip is not None:
                limit = self._explosion_limit(limit, rise, warm)
            # A limit of 0 or below (a steeply falling trend carried the predicted level under zero)
            # would flip the gradient's sign, ascent instead of descent: no clipping then.
            over = warm[0] & finite & (norm > limit) & (limit > 0)
            factor = torch.where(over, limit / norm.clamp_min(1e-30), self._one)
            torch._foreach_mul_(grads, factor)
        accept = ~bad
        usable = accept & finite_x  # the log-loss of an accepted step can still be NaN (a loss ≤ 0)
        stats.update(x * torch.stack([factor, self._one, self._one]), usable, mean)
        if self.backoff:
            self._update_loss_trend(log_loss, usable[1], level_shift)
        if restore:
            self._take_snapshot(undo_last)
        result = inner()
        if restore:
            self._restore(bad)
        skipped = bad if undo_last is None else bad.to(torch.float32) + undo_last
        self.log.write(self.step_count, [norm, factor, skipped, self.lr_scale, self._nan if loss is None else loss])
        self.step_count += 1
        return result

    def _explosion_limit(self, limit: torch.Tensor, rise: torch.Tensor, warm: torch.Tensor) -> torch.Tensor:
        """The clip limit, tightened to `explosion_clip`× the typical norm while an explosion is recent.

        An explosion: the log-norm `explosion_ratio`× above its typical level, risen from a previous step
        already `explosion_onset`× above it (an exploding gradient grows over steps as the gain creeps
        past 1; a wrongly scaled batch jumps out of an ordinary step), and the loss up `loss_skip_ratio`×
        but by less than the norm (a bad batch raises the loss more than the gradient).
        """
        norm_rise, loss_rise = rise[2], rise[1]
        signals = torch.stack([norm_rise, self.previous_norm_rise, loss_rise, norm_rise - loss_rise])
        exploded = (signals > self._explosion_limits).all() & warm[1:].all()  # a NaN signal never triggers
        self.previous_norm_rise = torch.where(warm[2], norm_rise, self.previous_norm_rise)
        self.explosions = self.explosions + exploded
        self.since_explosion = torch.where(exploded, 0.0, self.since_explosion + 1.0)
        tight = self.explosion_clip * torch.exp(self.stats.mean[2])
        return torch.where(self.since_explosion < self.explosion_calm, torch.minimum(limit, tight), limit)

    def _log_loss(self, loss: torch.Tensor | None) -> torch.Tensor:
        """log(loss) where the loss is a positive finite number, else NaN (no loss-based decision then)."""
        if loss is None:
            return self._nan
        return torch.where(loss > 0, torch.log(loss.clamp_min(1e-45)), self._nan)

    @property
    def fast(self) -> torch.Tensor:
        return self.emas[0]

    @property
    def slow(self) -> torch.Tensor:
        return self.emas[1]

    def _update_loss_trend(self, log_loss: torch.Tensor, usable: torch.Tensor,
                           level_shift: torch.Tensor | None) -> None:
        """Halve the LR scale when the fast EMA of the log-loss sits `climb_ratio`× above the slow one."""
        count = self.stats.count[1]
        first = count <= 1
        decay = self._ema_decay
        emas = torch.where(first, log_loss, decay * self.emas + self._ema_gain * log_loss)
        self.emas = emas = torch.where(usable, emas, self.emas)
        rising = (count >= self.warmup) & (emas[0] - emas[1] > self.log_climb)
        self.climbing = torch.where(usable, (self.climbing + 1) * rising, self.climbing)
        trigger = self.climbing >= self.patience
        if level_shift is not None:
            trigger = trigger | level_shift
        self.lr_scale = torch.where(trigger, torch.clamp(self.lr_scale * self.backoff_factor, min=self.min_lr_scale),
                                    self.lr_scale)
        # After a back-off, start the comparison afresh from the current level.
        self.climbing = self.climbing * ~trigger
        self.emas = torch.where(trigger, emas[0], emas)

    def state_entries(self) -> list[tuple[Any, torch.Tensor]]:
        """(key, tensor) of every optimizer state tensor a skipped step must leave unchanged."""
        return [((id(p), k), t) for p in self.params for k, t in self.optimizer.state.get(p, {}).items()
                if isinstance(t, torch.Tensor)]

    @torch.no_grad()
    def _take_snapshot(self, keep_previous: torch.Tensor | None = None) -> None:
        """Copy the weights and optimizer state the coming step may have to be undone to.

        Where `keep_previous`, the snapshot is left as it is: it still holds the state from before the
        previous update, so the restore undoes both. Done as one in-place `lerp(snapshot, current, 1 -
        keep)`, exact at weights 0 and 1 like the restore; without `undo_damage` it is a plain copy.
        """
        entries = self.state_entries()
        current = self.params + [t for _, t in entries]
        ids = [id(t) for t in current]
        sig = [(t.shape, t.dtype, t.device) for t in current]
        if ids != self._snapshot_ids or sig != self._snapshot_sig:
            # New state (the first step, a loaded state dict, a resized model): nothing earlier to keep.
            self._snapshot_keys = [key for key, _ in entries]
            self._snapshot = [t.detach().clone() for t in current]
            self._snapshot_ids, self._snapshot_sig = ids, sig
            self._snapshot_sources = current  # held, so that no id above can be reused by a new tensor
            self._snapshot_plan = self._restore_plan = None
            return
        if keep_previous is None:
            torch._foreach_copy_(self._snapshot, current)
            return
        plan = self._snapshot_plan
        if plan is None:
            plan = self._snapshot_plan = _Plan()
            for old, now in zip(self._snapshot, current, strict=True):
                if now.device != self.device:
                    plan.copies.append((old, now))  # a CPU step counter of a CUDA run (module docstring)
                elif now.is_floating_point():
                    plan.lerp(0, old, now)
                else:
                    plan.wheres.append((old, now))
        plan.run_lerps([(~keep_previous).to(torch.float32)])
        for old, now in plan.wheres:
            torch.where(keep_previous, old, now, out=old)
        for old, now in plan.copies:
            old.copy_(now)

    @torch.no_grad()
    def _restore(self, bad: torch.Tensor) -> None:
        """Undo the step where `bad`; scale the parameter update by the LR scale otherwise.

        One in-place `lerp` per tensor, batched with `torch._foreach_lerp_`: `lerp(new, old, w)` is `new`
        exactly for w = 0 and `old` exactly for w = 1 (torch computes it as `new + w·(old - new)` below ½ and
        `old - (old - new)·(1 - w)` from ½, so the other term is an exact zero), as long as both are finite,
        which sanitising the gradients of a restorable step ensures. A `torch.where` with a 0-dim condition
        would be exact too, but on a CPU it runs ~6× slower than `lerp`.
        """
        undo = bad.to(torch.float32)
        # Accepted weights move by lr_scale·(new - old): a lerp back towards the old ones by 1 - lr_scale.
        undo_params = torch.where(bad, torch.ones_like(undo), 1.0 - self.lr_scale)
        entries = self.state_entries()
        n = len(self.params)
        if [id(t) for _, t in entries] == self._snapshot_ids[n:]:
            plan = self._restore_plan  # the step kept the same state tensors: the usual case
            if plan is None:
                plan = self._restore_plan = _Plan()
                for p, old in zip(self.params, self._snapshot, strict=False):
                    plan.lerp(0, p, old)
                for (_, t), old in zip(entries, self._snapshot[n:], strict=True):
                    if t.device != self.device:
                        continue  # a CPU step counter of a CUDA run: restoring it would need a host sync
                    if t.is_floating_point():
                        plan.lerp(1, t, old)
                    else:
                        plan.wheres.append((t, old))  # an integer counter (Keras's `iterations`)
            plan.run_lerps([undo_params, undo])
            for t, old in plan.wheres:
                torch.where(bad, old, t, out=t)
            return
        # The step created state (the first step): that state starts from zeros.
        jobs = [(p, old, undo_params) for p, old in zip(self.params, self._snapshot, strict=False)]
        old_state = dict(zip(self._snapshot_keys, self._snapshot[n:], strict=True))
        for key, t in entries:
            if t.device != self.device:
                continue
            old = old_state.get(key)
            if old is not None and t.is_floating_point():
                jobs.append((t, old, undo))
            else:
                torch.where(bad, torch.zeros_like(t) if old is None else old, t, out=t)
        _lerp_in_groups(jobs)

    # -- results -----------------------------------------------------------------------------------
    def flush(self) -> None:
        """Copy pending interventions to the host and the log file (one sync)."""
        self.log.flush()

    def close(self) -> None:
        self.flush()

    def __enter__(self) -> Guard:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def history(self) -> dict[str, np.ndarray]:
        """Every recorded step: `step` and the series in `COLUMNS` (flushes first)."""
        self.flush()
        steps = np.array([s for s, _ in self.log.rows], dtype=np.int64)
        values = np.array([row for _, row in self.log.rows], dtype=np.float64).reshape(len(steps), len(COLUMNS))
        return {"step": steps} | {name: values[:, i] for i, name in enumerate(COLUMNS)}

    def summary(self) -> dict[str, float]:
        """Counts of interventions so far: clipped steps, skipped steps, earlier updates undone with a
        skip (a damaging update), explosions seen (each arms the tight clip), and the current LR scale."""
        h = self.history()
        return {
            "steps": float(len(h["step"])),
            "clipped": float(np.sum(h["guard_clip"] < 1)),
            "skipped": float(np.sum(h["guard_skip"] > 0)),
            "undone": float(np.sum(h["guard_skip"] > 1)),
            "explosions": float(self.explosions),
            "lr_scale": float(h["guard_lr_scale"][-1]) if len(h["step"]) else 1.0,
        }

    def state_dict(self) -> dict[str, Any]:
        return {"grad_stats": self.stats.state_dict(0), "loss_stats": self.stats.state_dict(1),
                "fast": self.fast.clone(), "slow": self.slow.clone(), "climbing": self.climbing,
                "lr_scale": self.lr_scale, "outliers_in_a_row": self.outliers_in_a_row,
                "last_update_undoable": self.last_update_undoable, "last_accepted": self._last_accepted,
                "norm_log_stats": self.stats.state_dict(2), "since_explosion": self.since_explosion,
                "previous_norm_rise": self.previous_norm_rise, "explosions": self.explosions,
                "step_count": self.step_count}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.stats.load_state_dict(state["grad_stats"], 0)
        self.stats.load_state_dict(state["loss_stats"], 1)
        self.emas = torch.stack([torch.as_tensor(state[k]) for k in ("fast", "slow")]).to(self.emas)
        if "norm_log_stats" in state:  # absent from the state of older versions: the stream starts afresh
            self.stats.load_state_dict(state["norm_log_stats"], 2)
        for name in ("climbing", "lr_scale", "outliers_in_a_row", "since_explosion", "previous_norm_rise",
                     "explosions"):
            if name in state:  # absent from the state of older versions
                setattr(self, name, torch.as_tensor(state[name]).to(self.device, torch.float32))
        if "last_update_undoable" in state:
            self.last_update_undoable = torch.as_tensor(state["last_update_undoable"]).to(self.device, torch.bool)
            self._last_accepted = torch.as_tensor(state["last_accepted"]).to(self.device, torch.bool)
        self.step_count = int(state["step_count"])
