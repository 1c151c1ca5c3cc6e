"""The recorder: per-step statistics of a PyTorch training loop, gathered on the device, flushed in batches.

Timeline of one optimizer step, and what the recorder does at each point:

1. `loss.backward()`: a post-accumulate-grad hook on one parameter queues one callback that runs when
   the backward pass has finished, *before* the user's code clips: one `torch._foreach_norm` takes the
   pre-clip norm of every parameter's gradient, kept as device scalars (the global norm of each step is
   taken at flush time, one kernel for the whole block). Under DDP that callback queues a second one,
   which runs after DDP has written the all-reduced gradients back. On a step whose update is measured
   (every `update_every`), the callback also copies the weights, which are still those before the update.
2. `optimizer.step()`: nothing (no optimizer hook: a Python call per step costs more than it saves).
3. `rec.step(loss, batch_size=…)`: keeps the detached loss; every `update_every` steps measures |Δw| and
   |w| against the snapshot of the weights that step 1's callback took (the weights before this step's
   update); host facts (batch size, lr per group,
   `model.training`, epoch) go to a Python list.
4. Every `flush_every` steps (or `flush_secs`): the block's tensors and host rows are handed to the
   recorder's thread (`worker.py`), which stacks them (one kernel each), makes one device→host copy, runs
   the live checks and commits one SQLite transaction. Nothing calls `.item()` per step, and the training
   thread never waits for the copy or the disk (under DDP the flush is a collective, done in place).

Any fault inside the recorder is reported once on stderr and never reaches the training loop.
"""

from __future__ import annotations

import atexit
import math
import os
import sys
import time
import weakref
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from lossdoctor.record import device_stats as ds
from lossdoctor.record.assemble import COLS, GRAD, LOCAL_SQ, LOSS, MICRO_NORM, UPDATE, WEIGHT, Flush, HostRow, assemble
from lossdoctor.record.distributed import all_reduce_mean, is_ddp, syncs_gradients, unwrap, world
from lossdoctor.record.live import LiveChecks
from lossdoctor.record.loader_facts import loader_facts
from lossdoctor.record.noise_scale import GradientNoiseScale
from lossdoctor.record.store import STORE_NAME, Chunks, StoreWriter, set_aside
from lossdoctor.record.worker import FlushWorker

#: Flushes kept in memory while the store cannot be written (then the oldest are dropped).
_MAX_UNWRITTEN_FLUSHES = 10_000


class Recorder:
    """Records a training run into `run_dir/lossdoctor.db`. Create it with `lossdoctor.watch`."""

    def __init__(
        self,
        params: Sequence[tuple[str, torch.Tensor]],
        run_dir: str | os.PathLike[str],
        *,
        optimizer: torch.optim.Optimizer | None = None,
        model: torch.nn.Module | None = None,
        loader: Any = None,
        flush_every: int = 50,
        flush_secs: float = 30.0,
        detail_every: int = 10,
        update_every: int = 10,
        adam_every: int | None = None,
        accumulation_averages: bool = True,
        scaler: Any = None,
        warn: bool = True,
        mute: Iterable[str] = (),
        framework: str = "pytorch",
        meta: Mapping[str, Any] | None = None,
        hooks: bool = True,
        resume: bool = False,
        background: bool = True,
    ) -> None:
        if not params:
            raise ValueError("lossdoctor.watch: the model has no trainable parameters")
        self.run_dir = Path(run_dir)
        self.path = self.run_dir / STORE_NAME
        self._names = [name for name, _ in params]
        self._params = [p for _, p in params]
        self._model = model
        self._optimizer = _innermost(optimizer)
        self._flush_every = max(1, int(flush_every))
        self._flush_secs = float(flush_secs)
        self._detail_every = max(1, int(detail_every))
        self._update_every = max(0, int(update_every))
        # Adam's state changes over hundreds of steps, and reading all of it is a dozen passes over every
        # weight: by default once per five detail steps (50 steps), which keeps it off the per-step budget.
        self._adam_every = max(1, int(adam_every if adam_every is not None else 5 * self._detail_every))
        self._averages = accumulation_averages
        self._scaler = scaler
        self._warn = warn
        self._resume = resume
        self.rank, self.world_size = world()
        self._writes = self.rank == 0
        device = self._params[0].device
        self._device = device
        self._zero_norms = torch.zeros(len(self._params), dtype=torch.float32, device=device).unbind(0)
        # per recorded step: its loss (a device scalar) and its per-parameter gradient norms, stacked at flush
        self._loss_rows: list[int] = []
        self._losses: list[torch.Tensor] = []
        self._norm_rows: list[Norms | None] = []
        self._rows: list[tuple[Any, ...]] = []  # HostRow's fields: a tuple is built faster per step
        self._cells: list[tuple[int, int, torch.Tensor]] = []  # (row, column, device scalar) of rare values
        self._adam: list[tuple[int, torch.Tensor]] = []
        # world size 1: a thread finishes each flush (started at the first); under DDP a flush is a
        # collective, so it stays on the training thread
        self._worker: FlushWorker | None = None
        self._background = self.world_size == 1 and background
        self._unwritten: list[Chunks] = []
        self._events: list[tuple[int, str, str]] = []
        self._writer: StoreWriter | None = None
        self._opened = False
        self._faults: set[str] = set()
        self._dropped = 0
        self._closed = False
        self._last_flush = time.monotonic()
        self._adam_family = ds.is_adam_family(self._optimizer)
        self.live = LiveChecks(mute=frozenset(mute), adam=self._adam_family)
        self.noise_scale = GradientNoiseScale()
        self._updates = ds.UpdateMeter()
        # per-step state filled by the hooks
        self._step = 0
        self._epoch: float = math.nan
        self._queued = False
        self._backwards = 0
        self._has_grad = False
        self._norms_now: Norms | None = None
        self._manual_updates = False
        self._update_armed = False  # rec.step took a snapshot: the next call measures the update
        self._local_sq: torch.Tensor | None = None
        self._micro_norm: torch.Tensor | None = None
        self._update: tuple[torch.Tensor, torch.Tensor] | None = None
        self._grad_after_clip = False
        self._pending_extra: dict[str, float] | None = None
        self._handles: list[Any] = []
        self._hooked: set[int] = set()
        self._meta: dict[str, Any] = {"framework": framework, "lossdoctor_version": _version(),
                                      "started": time.time(), "world_size": self.world_size,
                                      "flush_every": self._flush_every, "parameters": self._names,
                                      "grad_norm": "pre-clip, measured when backward() finishes"}
        if self._optimizer is not None:
            self._meta["optimizer"] = type(self._optimizer).__name__
        self._meta.update(loader_facts(loader))
        self._meta.update(meta or {})
        self._steps_per_epoch = self._meta.get("steps_per_epoch")
        if hooks:
            self._grad_hooks(everywhere=False)
        else:  # no backward will be seen: the weights before the first step, for its update
            self._snapshot_if_due()
        atexit.register(_close_at_exit, weakref.ref(self))

    # -- public API --------------------------------------------------------------------------------
    def step(self, loss: Any = None, *, batch_size: int | None = None, epoch: float | None = None,
             step: int | None = None, lr: float | None = None) -> None:
        """Record one optimizer step: call it after `optimizer.step()` (once per step, not per micro-batch).

        `loss` may be a tensor (it stays on the device) or a number; `batch_size` is the number of samples
        this step used (`len(x)`; the sum over micro-batches under accumulation); `epoch` the epoch index
        (else derived from the loader given to `watch`); `step` overrides the internal step counter; `lr`
        is for optimizers that are not `torch.optim` ones (else the lr of each param group is read).
        """
        if self._closed:
            return
        try:
            self._record(loss, batch_size, epoch, step, lr)
        except Exception as exc:  # never stop the user's training
            self._fault("step", exc)

    def log(self, **values: float) -> None:
        """Record host-side scalars at the current step, e.g. `rec.log(val_loss=v)` after an evaluation."""
        clean = {k: float(v) for k, v in values.items() if isinstance(v, int | float | np.floating | np.integer)}
        if not clean or self._closed:
            return
        if self._rows:
            row = self._rows[-1]
            self._rows[-1] = (*row[:_EXTRA], {**(row[_EXTRA] or {}), **clean}, *row[_EXTRA + 1:])
        elif self._step > 0:  # the last step is already flushed (often so after the last epoch): write them there
            last = np.array([self._step - 1], dtype=np.int64)
            chunk = {name: (last, np.array([value])) for name, value in clean.items()}
            self._run(lambda: self._write([chunk]))
        else:
            self._pending_extra = {**(self._pending_extra or {}), **clean}

    def add_facts(self, facts: Mapping[str, Any]) -> None:
        """Facts about the run for the store's meta (loader length, batch size, drop_last…)."""
        self._meta.update(facts)
        if facts.get("steps_per_epoch"):
            self._steps_per_epoch = facts["steps_per_epoch"]

    def set_epoch(self, epoch: float) -> None:
        """Mark the epoch that the next steps belong to (an alternative to `step(..., epoch=)`)."""
        self._epoch = float(epoch)

    def flush(self) -> None:
        """Copy what the device holds to the host, run the live checks and commit to the store."""
        try:
            self._flush(wait=True)
        except Exception as exc:
            self._fault("flush", exc)

    def close(self) -> None:
        """Flush, remove the hooks and finish the store. Safe to call twice."""
        if self._closed:
            return
        self.flush()
        self._closed = True
        for handle in self._handles:
            handle.remove()
        self._handles.clear()
        if self._worker is not None:  # every block is written: the store is this thread's again
            self._worker.stop()
            self._worker = None
        self._meta["finished"] = time.time()
        if math.isfinite(self.noise_scale.b_simple):
            self._meta["gradient_noise_scale"] = self.noise_scale.b_simple
        try:
            self._write([], final=True)
            if self._writer is not None:
                self._writer.close()
        except Exception as exc:
            self._fault("write", exc)
        self._writer = None

    def __enter__(self) -> Recorder:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def steps_recorded(self) -> int:
        return self._step

    @property
    def background_cpu_seconds(self) -> float:
        """CPU time the recorder's flush thread has used (0 before the first flush; NaN when unknown)."""
        return 0.0 if self._worker is None else self._worker.cpu_seconds()

    # -- the hooks ---------------------------------------------------------------------------------
    def _grad_hooks(self, *, everywhere: bool) -> None:
        """Post-accumulate-grad hooks that detect the end of each backward pass.

        One hook that fires is enough (it queues the end-of-backward callback), and each costs a call into
        Python per backward, so only the first trainable parameter gets one; when a backward passes it by
        (a frozen or unused layer), that step is measured at `rec.step` and every parameter gets a hook
        from then on. (Taking each norm inside a hook on every parameter, while the gradient is in cache,
        measured slower: a Python call per parameter costs more than one fused read of all gradients.)
        """
        trainable = [i for i, p in enumerate(self._params) if p.requires_grad]
        chosen = set(trainable) if everywhere else set(trainable[:1])
        for i in sorted(chosen - self._hooked):
            self._handles.append(self._params[i].register_post_accumulate_grad_hook(self._on_grad))
        self._hooked |= chosen

    def _on_grad(self, _param: torch.Tensor) -> None:
        """The first hooked gradient of a backward pass: queue the end-of-backward callback (once per pass)."""
        if self._queued or self._closed:
            return
        self._queued = True
        try:
            if self._backwards == 1 and self._has_grad:  # a second micro-batch: keep the first one's norm
                self._micro_norm = _global_norm(self._norms_now)
            torch.autograd.Variable._execution_engine.queue_callback(self._after_backward)
        except Exception as exc:
            self._queued = False
            self._fault("hook", exc)

    def _after_backward(self) -> None:
        """End of one backward pass: gradients are complete and not yet clipped."""
        self._queued = False
        try:
            self._backwards += 1
            self._snapshot_if_due()  # the weights before this step's update (unchanged since the last step)
            if self.world_size > 1 and syncs_gradients(self._model):
                found = ds.grad_norms(self._params)
                self._local_sq = None if found is None else self._unscaled(found[0]) ** 2
                # runs after DDP's own end-of-backward callback has written the all-reduced gradients
                torch.autograd.Variable._execution_engine.queue_callback(self._grads_ready)
            else:
                self._grads_ready()
        except Exception as exc:
            self._fault("hook", exc)

    def _grads_ready(self) -> None:
        """Keep this backward's per-parameter norms for the step (the last backward of a step wins)."""
        try:
            norms = ds.grad_norm_list(self._params)
            if norms is None:
                return
            self._norms_now = norms if self._scaler is None else self._unscaled(_stacked(norms))
            self._has_grad = True
            self._grad_after_clip = False
        except Exception as exc:
            self._fault("hook", exc)

    def _unscaled(self, norm: torch.Tensor) -> torch.Tensor:
        """Divide by a GradScaler's scale: mixed-precision backward passes see scaled gradients."""
        scaler = self._scaler
        if scaler is None or not getattr(scaler, "is_enabled", lambda: False)():
            return norm
        scale = getattr(scaler, "_scale", None)
        return norm if scale is None else norm / scale.to(norm.device).reshape(())

    def _snapshot(self) -> None:
        if self._update_every and self._step % self._update_every == 0:
            self._updates.before(self._params)

    def _snapshot_if_due(self) -> None:
        """Copy the weights before a step whose update is measured (once, at its first backward pass).

        Taken in the same step as the measurement (at `rec.step`), so one step in `update_every` pays
        for both, rather than two.
        """
        if self._update_every and not self._manual_updates and not self._update_armed \
                and self._step % self._update_every == 0:
            self._updates.before(self._params)
            self._update_armed = True

    # Update tracking driven by the integration (Keras calls these two around its optimizer step).
    def before_update(self) -> None:
        self._manual_updates = True
        self._update_armed = False
        try:
            self._snapshot()
        except Exception as exc:
            self._fault("hook", exc)

    def after_update(self) -> None:
        try:
            self._update = self._updates.after(self._params)
        except Exception as exc:
            self._fault("hook", exc)

    # -- per step ----------------------------------------------------------------------------------
    def _record(self, loss: Any, batch_size: int | None, epoch: float | None, step: int | None,
                lr: float | None) -> None:
        # The common path is kept to a few lines: on a CPU every line here runs with cold caches (the
        # optimizer step just swept the weights and its state through them), about 1 µs each.
        index = len(self._rows)
        host_loss = _NAN
        if isinstance(loss, torch.Tensor):
            self._loss_rows.append(index)
            self._losses.append(loss.detach())  # a graph kept alive would hold its memory until the flush
        elif loss is not None:
            host_loss = float(loss)
        if not self._has_grad or self._update_armed or self._update is not None or self._local_sq is not None \
                or self._micro_norm is not None:
            self._record_rare(index)
        number = self._step if step is None else int(step)
        if self._adam_family and number % self._adam_every == 0:
            stats = ds.adam_stats(self._optimizer)  # type: ignore[arg-type]
            if stats is not None:
                self._adam.append((number, stats))
        if epoch is not None:
            self._epoch = float(epoch)
        elif self._steps_per_epoch:
            self._epoch = float(number // self._steps_per_epoch)
        model, optimizer = self._model, self._optimizer
        lrs = () if optimizer is None else tuple([g.get("lr", _NAN) for g in optimizer.param_groups])
        for value in lrs:
            if type(value) is not float:  # a tensor lr (read now: schedulers change it in place) or an int
                lrs = tuple(map(_lr, optimizer.param_groups))  # type: ignore[union-attr]
                break
        if lr is not None:
            lrs = (float(lr), *lrs[1:])
        extra = self._pending_extra
        if extra is not None:
            self._pending_extra = None
        has_grad, hooked = self._has_grad, self._backwards > 0
        self._rows.append((number, _NAN if batch_size is None else float(batch_size),
                           _NAN if model is None else float(model.training), self._epoch,
                           self._backwards or 1, host_loss, lrs, extra, loss is not None, has_grad))
        self._norm_rows.append(self._norms_now if has_grad else None)
        if self._grad_after_clip:
            self._meta["grad_norm"] = "after clipping at some steps: no backward pass was seen before the step"
            if self._handles:
                self._grad_hooks(everywhere=True)
            self._grad_after_clip = False
        self._has_grad = False
        self._norms_now = None
        self._backwards = 0
        self._step = number + 1
        if not hooked:  # no backward pass seen (hooks off, gradients set by hand): snapshot one step ahead
            self._snapshot_if_due()
        if index + 1 >= self._flush_every or (
                self.world_size == 1 and time.monotonic() - self._last_flush > self._flush_secs):
            self._flush(wait=False)

    def _record_rare(self, index: int) -> None:
        """What only some steps have: an update to measure, DDP or micro-batch norms, no backward seen."""
        if not self._has_grad:  # no backward seen (gradients set by hand, or a layer the hook passed by)
            found = ds.grad_norms(self._params)
            if found is not None:
                self._norms_now = found[1]
                self._has_grad = self._grad_after_clip = True
        if self._update_armed:
            self._update_armed = False
            self._update = self._updates.after(self._params)
        cells = self._cells
        if self._update is not None:
            cells += [(index, UPDATE, self._update[0]), (index, WEIGHT, self._update[1])]
        if self._local_sq is not None:
            cells.append((index, LOCAL_SQ, self._local_sq))
        if self._micro_norm is not None and self._backwards > 1:
            cells.append((index, MICRO_NORM, self._micro_norm))
        self._update = self._local_sq = self._micro_norm = None

    # -- flushing ----------------------------------------------------------------------------------
    def _flush(self, *, wait: bool) -> None:
        """Hand the steps recorded since the last flush over (to the worker thread, or do it here)."""
        if self._rows:
            # CUDA: the block's kernels go on the stream training uses now (the current stream is per thread)
            stream = torch.cuda.current_stream(self._device) if self._device.type == "cuda" else None
            held = _Held(self._rows, self._losses, self._loss_rows, self._norm_rows, self._cells, self._adam, stream)
            self._rows, self._losses, self._loss_rows, self._norm_rows, self._cells, self._adam = [], [], [], [], [], []
            self._last_flush = time.monotonic()
            self._run(lambda: self._finish(held))
        elif wait:  # nothing new: still retry what a store that could not be written holds
            self._run(lambda: self._write([]) if self._unwritten or self._events else None)
        if wait and self._worker is not None:
            self._worker.drain()

    def _run(self, job: Callable[[], None]) -> None:
        """Run a flush job on the worker thread (started at the first), or here under DDP."""
        if not self._background:
            job()
            return
        if self._worker is None:
            self._worker = FlushWorker(lambda exc: self._fault("flush", exc))
        self._worker.submit(job)

    def _finish(self, held: _Held) -> None:
        """Pack the held steps on the device, copy them to the host, run the live checks and commit."""
        self._write([self._chunks(self._pack(held))])

    def _pack(self, held: _Held) -> Flush:
        """The block of held steps as one tensor: losses, rare cells and norms stacked, one kernel each."""
        if held.stream is None:
            return self._pack_on_current_stream(held)
        with torch.cuda.stream(held.stream):  # ordered after the kernels that produced the values
            return self._pack_on_current_stream(held)

    def _pack_on_current_stream(self, held: _Held) -> Flush:
        rows = [HostRow(*row) for row in held.rows]
        n = len(rows)
        block = torch.full((n, len(COLS)), math.nan, dtype=torch.float32, device=self._device)
        if held.losses:
            losses = _stacked_losses(held.losses, self._device)
            if len(held.losses) == n:
                block[:, LOSS] = losses
            else:
                block[torch.tensor(held.loss_rows, device=self._device), LOSS] = losses
        if held.cells:
            where = torch.tensor([(i, c) for i, c, _ in held.cells], device=self._device)
            block[where[:, 0], where[:, 1]] = _stacked([v.float() for _, _, v in held.cells], self._device)
        if self.world_size > 1:  # a collective: every rank flushes at the same step counts
            host_side = torch.tensor([[r.loss, r.batch_size] for r in rows], dtype=torch.float32,
                                     device=self._device)
            loss = torch.where(torch.isnan(block[:, LOSS]), host_side[:, 0], block[:, LOSS])
            sums = all_reduce_mean(torch.stack([loss, block[:, LOCAL_SQ], host_side[:, 1]], 1))
            block[:, LOSS], block[:, LOCAL_SQ] = sums[:, 0], sums[:, 1]
            for r, b in zip(rows, (sums[:, 2] * self.world_size).cpu().tolist(), strict=True):
                r.batch_size = b  # the batch the step used on all ranks together
        flat: list[torch.Tensor] = []
        for norms in held.norm_rows:
            flat.extend(self._zero_norms if norms is None else
                        norms.unbind(0) if isinstance(norms, torch.Tensor) else norms)
        per = _stacked(flat, self._device).view(n, len(self._params))
        block[:, GRAD] = torch.linalg.vector_norm(per, dim=1)  # the global norm of each step
        payload = torch.cat([block.reshape(-1), per.reshape(-1), *(stats for _, stats in held.adam)])
        if payload.device.type == "cuda":  # only this thread waits for the copy
            host = torch.empty(payload.shape, dtype=payload.dtype, pin_memory=True)
            host.copy_(payload, non_blocking=True)
            event = torch.cuda.Event()
            event.record()
            event.synchronize()
        else:
            host = payload.clone()
        return Flush(rows, host, self._detail_every, [s for s, _ in held.adam], len(self._params))

    def _chunks(self, done: Flush) -> Chunks:
        """Turn one copied block into named series, and run the live checks over it."""
        chunk, block = assemble(done, self._names, self.noise_scale, world_size=self.world_size,
                                accumulation_averages=self._averages)
        for event in self.live.observe(block):
            self._events.append(event)
            if self._warn and self._writes:
                print(f"lossdoctor: warning [{event[1]}] {event[2]}", file=sys.stderr, flush=True)
        return chunk

    def _write(self, chunks: list[Chunks], *, final: bool = False) -> None:
        """Commit to the store (rank 0 only); on failure keep the chunks and try again next flush."""
        if not self._writes:
            self._events.clear()
            return
        self._unwritten += chunks
        while len(self._unwritten) > _MAX_UNWRITTEN_FLUSHES:
            dropped = self._unwritten.pop(0)
            self._dropped += sum(len(steps) for steps, _ in dropped.values())
        meta = dict(self._meta)
        if self._dropped:
            meta["dropped_points"] = self._dropped
        try:
            if self._writer is None:
                if not self._resume and not self._opened:
                    moved = set_aside(self.path)
                    if moved is not None:
                        print(f"lossdoctor: {self.path} held an earlier run; moved it to {moved.name} "
                              "(watch(..., resume=True) appends instead)", file=sys.stderr, flush=True)
                self._opened = True
                self._writer = StoreWriter(self.path)
            self._writer.write(self._unwritten, meta=meta, events=self._events)
        except Exception as exc:
            self._fault("write", exc)
            return
        self._unwritten, self._events = [], []
        if "write" in self._faults and not final:
            print(f"lossdoctor: {self.path} is writable again; the steps held in memory are saved",
                  file=sys.stderr, flush=True)
            self._faults.discard("write")

    def _fault(self, where: str, exc: BaseException) -> None:
        """Report a fault once per kind; training goes on."""
        if os.environ.get("LOSSDOCTOR_STRICT") == "record":
            raise exc
        if where in self._faults:
            return
        self._faults.add(where)
        what = {"write": f"could not write {self.path}; recording continues in memory and retries at each "
                         "flush",
                "hook": "a gradient statistic failed; the affected values are missing",
                "step": "recording a step failed",
                "flush": "a flush failed"}[where]
        print(f"lossdoctor: {what} ({type(exc).__name__}: {exc}); training is not affected",
              file=sys.stderr, flush=True)


#: A step's per-parameter gradient norms: `_foreach_norm`'s device scalars, or one vector.
Norms = list[torch.Tensor] | torch.Tensor


def _stacked(tensors: Norms, device: torch.device | None = None) -> torch.Tensor:
    """One vector of device scalars (moved to `device` first when they live on several devices)."""
    if isinstance(tensors, torch.Tensor):
        return tensors
    try:
        return torch.stack(tensors)
    except RuntimeError:
        return torch.stack([t.to(device or tensors[0].device) for t in tensors])


def _stacked_losses(losses: list[torch.Tensor], device: torch.device) -> torch.Tensor:
    """One float32 value per recorded loss: a loss that is not a scalar counts as its mean."""
    try:
        stacked = torch.stack(losses)
    except RuntimeError:  # shapes or devices differ
        return torch.stack([t.float().mean().to(device) for t in losses])
    return stacked.float() if stacked.ndim == 1 else stacked.reshape(len(losses), -1).float().mean(1)


def _global_norm(norms: Norms | None) -> torch.Tensor | None:
    return None if norms is None else torch.linalg.vector_norm(_stacked(norms))


@dataclass(slots=True)
class _Held:
    """The steps recorded since the last flush, as the training thread hands them over."""

    rows: list[tuple[Any, ...]]
    losses: list[torch.Tensor]
    loss_rows: list[int]
    norm_rows: list[Norms | None]
    cells: list[tuple[int, int, torch.Tensor]]
    adam: list[tuple[int, torch.Tensor]]
    stream: Any  # the CUDA stream of the training thread at the flush, None on other devices


_NAN = math.nan
_EXTRA = 7  # where `extra` sits in a row (HostRow's field order)


def _close_at_exit(ref: weakref.ReferenceType[Recorder]) -> None:
    recorder = ref()
    if recorder is not None:
        recorder.close()


def _innermost(optimizer: Any) -> torch.optim.Optimizer | None:
    """The torch optimizer inside wrappers (accelerate's AcceleratedOptimizer, Lightning's)."""
    seen = 0
    while optimizer is not None and not type(optimizer).__module__.startswith("torch.") and seen < 5:
        inner = getattr(optimizer, "optimizer", None)
        if not isinstance(inner, torch.optim.Optimizer):
            break
        optimizer, seen = inner, seen + 1
    return optimizer


def _lr(group: Mapping[str, Any]) -> float:
    lr = group.get("lr", math.nan)
    if type(lr) is float:
        return lr
    if isinstance(lr, torch.Tensor):
        return float(lr) if lr.device.type == "cpu" else math.nan  # a CUDA lr would need a sync
    return float(lr)


def _version() -> str:
    from lossdoctor import __version__

    return __version__


def watch(model: torch.nn.Module, optimizer: torch.optim.Optimizer | None = None,
          run_dir: str | os.PathLike[str] = "runs/lossdoctor", **options: Any) -> Recorder:
    """Start recording a training loop into `run_dir/lossdoctor.db`; call `rec.step(loss, ...)` each step.

    Options: `loader` (a DataLoader: its length, batch size and drop_last, and epochs from the step
    count), `flush_every` (steps, default 50), `flush_secs` (default 30), `detail_every` (per-layer
    gradient norms, default every 10 steps), `adam_every` (Adam's second moment against eps and its
    effective step, default 5 × `detail_every`), `update_every` (update/weight ratio and
    weight norm, default every 10 steps; 1 for every step, at the cost of a copy of the weights per step;
    0 turns it off and saves the copy of the weights it keeps), `scaler` (a `torch.amp.GradScaler`,
    so norms are unscaled), `accumulation_averages` (the loss is divided by the number of accumulated
    micro-batches, the usual way; default True), `warn` (live warnings, default True), `mute` (warning ids),
    `resume` (append to the store an earlier run left in `run_dir`; by default that store is renamed
    `lossdoctor.prev-N.db` and the new run starts a fresh one), `background` (finish flushes on the
    recorder's own thread, default True; False does it on the training thread).
    """
    inner = unwrap(model)
    params = [(name, p) for name, p in inner.named_parameters() if p.requires_grad]
    return Recorder(params, run_dir, optimizer=optimizer, model=model if is_ddp(model) else inner,
                    **options)
