"""Step-time overhead of the live recorder (`lossdoctor.watch`) on small CPU training loops.

Goal: at most 3% on steps of 5 ms or more, as little as possible on a 1 ms step.

Method: two identical copies of each model and optimizer, one watched, one not, trained in the same
process on the same batches. The arms alternate step by step (the order flips every round), so both see
the same machine load. Each step is timed on its own, by the CPU time of the training thread (with one
torch thread, forward, backward and the optimizer all run on it), which other processes on a shared
machine cannot inflate; the ratio of the per-arm medians is the overhead. The ratio of the means (which
includes the flushes, one step in 50) and the wall-clock ratio are printed too. An A/A row (neither arm
watched) shows the noise floor of the measurement. Threads are pinned (`torch.set_num_threads`) so both
arms run under the same conditions.
Everything the recorder does is included: hooks, device-side norms, weight snapshot and update norm,
per-layer norms, Adam statistics and the update/weight ratio every 10 steps (also every step, as a
variant), flushes to SQLite every 50 steps, live checks. The flushes run on the recorder's own thread, so
the training thread's times leave them out: the "flush thread" column is that thread's CPU time per step,
as a share of the unwatched step (what it takes from a free core, or from training on a machine without one).

    .venv/bin/python benchmarks/overhead.py                 # all workloads
    .venv/bin/python benchmarks/overhead.py --scale 0.3 --json out.json   # fewer steps
    .venv/bin/python benchmarks/overhead.py --only "batch 8" --only "batch 4"   # the 5–8 ms steps
"""

from __future__ import annotations

import argparse
import copy
import json
import statistics
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import nn

import lossdoctor


@dataclass
class Workload:
    name: str
    model: Callable[[], nn.Module]
    batch: Callable[[torch.Generator], tuple[torch.Tensor, torch.Tensor]]
    loss: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


def _cnn() -> nn.Module:
    return nn.Sequential(nn.Conv2d(3, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                         nn.Conv2d(16, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                         nn.Flatten(), nn.Linear(32 * 8 * 8, 64), nn.ReLU(), nn.Linear(64, 10))


class _Transformer(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.embed = nn.Embedding(100, 64)
        layer = nn.TransformerEncoderLayer(64, 4, 128, dropout=0.1, batch_first=True)
        self.encoder = nn.TransformerEncoder(layer, 2)
        self.head = nn.Linear(64, 100)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        return self.head(self.encoder(self.embed(tokens)))


def _mlp() -> nn.Module:
    return nn.Sequential(nn.Linear(32, 64), nn.ReLU(), nn.Linear(64, 64), nn.ReLU(), nn.Linear(64, 10))


WORKLOADS = [
    Workload("cnn (32x32 images, batch 32)", _cnn,
             lambda g: (torch.randn(32, 3, 32, 32, generator=g), torch.randint(0, 10, (32,), generator=g)),
             nn.functional.cross_entropy),
    Workload("cnn (32x32 images, batch 8)", _cnn,
             lambda g: (torch.randn(8, 3, 32, 32, generator=g), torch.randint(0, 10, (8,), generator=g)),
             nn.functional.cross_entropy),
    Workload("transformer (2 layers, seq 32, batch 16)", _Transformer,
             lambda g: (torch.randint(0, 100, (16, 32), generator=g), torch.randint(0, 100, (16, 32), generator=g)),
             lambda out, y: nn.functional.cross_entropy(out.reshape(-1, 100), y.reshape(-1))),
    Workload("transformer (2 layers, seq 32, batch 4)", _Transformer,
             lambda g: (torch.randint(0, 100, (4, 32), generator=g), torch.randint(0, 100, (4, 32), generator=g)),
             lambda out, y: nn.functional.cross_entropy(out.reshape(-1, 100), y.reshape(-1))),
    Workload("mlp (batch 64)", _mlp,
             lambda g: (torch.randn(64, 32, generator=g), torch.randint(0, 10, (64,), generator=g)),
             nn.functional.cross_entropy),
]


def _arm(model: nn.Module, recorder: lossdoctor.record.Recorder | None, loss_fn: Callable) -> Callable:
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    if recorder is not None:
        recorder = recorder(model, opt)

    def step(x: torch.Tensor, y: torch.Tensor) -> tuple[float, float]:
        start, cpu = time.perf_counter(), time.thread_time()
        loss = loss_fn(model(x), y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        if recorder is not None:
            recorder.step(loss, batch_size=len(x))
        return time.perf_counter() - start, time.thread_time() - cpu

    step.close = (lambda: recorder.close()) if recorder is not None else (lambda: None)  # type: ignore[attr-defined]
    step.recorder = recorder  # type: ignore[attr-defined]
    return step


def measure(work: Workload, steps: int, options: dict) -> dict:
    torch.manual_seed(0)
    base = work.model()
    run_dir = tempfile.mkdtemp(prefix="lossdoctor-overhead-")
    plain = _arm(copy.deepcopy(base), None, work.loss)
    control = options.pop("control", False)  # an A/A run: the second arm is not watched either
    watch = None if control else (lambda m, o: lossdoctor.watch(m, o, run_dir=run_dir, warn=False, **options))
    watched = _arm(copy.deepcopy(base), watch, work.loss)
    gen = torch.Generator().manual_seed(1)
    batches = [work.batch(gen) for _ in range(16)]
    for arm in (plain, watched):  # warm-up: allocator, first flush, lazy inits
        for _ in range(60):
            arm(*batches[0])
    times: dict[str, list[tuple[float, float]]] = {"plain": [], "watched": []}
    for r in range(steps):
        x, y = batches[r % len(batches)]
        order = [("plain", plain), ("watched", watched)]
        for name, arm in order if r % 2 == 0 else order[::-1]:
            times[name].append(arm(x, y))
    recorder = watched.recorder  # type: ignore[attr-defined]
    background = recorder.background_cpu_seconds if recorder is not None else 0.0
    watched.close()  # type: ignore[attr-defined]
    wall = {arm: [w for w, _ in t] for arm, t in times.items()}
    cpu = {arm: [c for _, c in t] for arm, t in times.items()}
    plain_ms, watched_ms = (statistics.median(cpu[arm]) * 1e3 for arm in ("plain", "watched"))
    return {"workload": work.name, "options": {**options, "control": control}, "steps_per_arm": steps,
            "plain_cpu_ms": plain_ms, "watched_cpu_ms": watched_ms, "overhead": watched_ms / plain_ms - 1,
            "overhead_wall": statistics.median(wall["watched"]) / statistics.median(wall["plain"]) - 1,
            "overhead_of_means": statistics.fmean(cpu["watched"]) / statistics.fmean(cpu["plain"]) - 1,
            # the recorder's flush thread, per step of the run (warm-up included), as a share of a step
            "background_share": background / (steps + 60) / (plain_ms / 1e3)}


#: Steps per arm: enough for a stable median on a shared machine (scaled by --scale).
STEPS = {"cnn": 500, "transformer": 500, "mlp": 4000}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--scale", type=float, default=1.0, help="multiply the number of steps per arm")
    parser.add_argument("--threads", type=int, default=1, help="torch.set_num_threads for both arms")
    parser.add_argument("--json", help="write the raw results here")
    parser.add_argument("--only", action="append", default=[],
                        help="run the workloads whose name contains this text (repeatable)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    results = []
    print(f"torch {torch.__version__}, {args.threads} thread(s), device cpu; arms alternate step by step")
    print(f"{'workload':42} {'arm B':16} {'steps':>6} {'A ms':>8} {'B ms':>8} {'B/A-1':>7} {'of means':>9} "
          f"{'wall':>7} {'flush thread':>12}")
    for work in [w for w in WORKLOADS if not args.only or any(text in w.name for text in args.only)]:
        steps = max(20, int(STEPS[work.name.split()[0]] * args.scale * (2 if "batch 32" not in work.name
                                                                          and "batch 16" not in work.name else 1)))
        for options in ({"control": True}, {}, {"update_every": 1}):
            shown = "unwatched (A/A)" if options.get("control") else \
                ",".join(f"{k}={v}" for k, v in options.items()) or "watch defaults"
            res = measure(work, steps, dict(options))
            results.append(res)
            print(f"{work.name:42} {shown:16} {steps:6d} {res['plain_cpu_ms']:8.3f} {res['watched_cpu_ms']:8.3f} "
                  f"{res['overhead']:+7.1%} {res['overhead_of_means']:+9.1%} {res['overhead_wall']:+7.1%} "
                  f"{res['background_share']:+12.1%}",
                  flush=True)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=2)


if __name__ == "__main__":
    main()
