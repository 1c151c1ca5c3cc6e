"""Cost of the guard per training step, against the same loop without it, measured in one run.

    .venv/bin/python benchmarks/guard_overhead.py            # CPU, or CUDA when available
    .venv/bin/python benchmarks/guard_overhead.py --device cuda

Arms on the same model, data and optimizer: `plain` (optimizer.step()), `clip_only` (Guard with
skip=False, backoff=False: no snapshot), `guard` (the defaults: snapshot + exact restore by a batched lerp),
and `zclip` (the zclip package, which reads the norm on the host every step) when installed. Reports
the median ms per step over repeats and the ratio to `plain`. On CPU it runs one thread and measures
process (CPU) time, so other jobs on a shared machine do not distort it; on CUDA, wall time.
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch
from torch import nn


def make(width: int, device: str) -> tuple[nn.Module, torch.optim.Optimizer]:
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(256, width), nn.ReLU(), nn.Linear(width, width), nn.ReLU(),
                          nn.Linear(width, 10)).to(device)
    return model, torch.optim.Adam(model.parameters(), lr=1e-3)


def run(arm: str, steps: int, width: int, device: str) -> float:
    model, opt = make(width, device)
    x = torch.randn(steps, 128, 256, device=device)
    y = torch.randint(0, 10, (steps, 128), device=device)
    step_fn = None
    if arm in ("guard", "clip_only"):
        from lossdoctor.guard import Guard

        options = {} if arm == "guard" else {"skip": False, "backoff": False}
        guard = Guard(opt, **options)
        step_fn = guard.step
    elif arm == "zclip":
        from zclip import ZClip

        zc = ZClip()

        def step_fn(loss: torch.Tensor) -> None:
            zc.step(model)
            opt.step()
    else:
        def step_fn(loss: torch.Tensor) -> None:
            opt.step()
    sync = torch.cuda.synchronize if device == "cuda" else (lambda: None)
    for i in range(10):  # warm-up, untimed: Adam's state, the guard's buffers and snapshot get allocated
        loss = nn.functional.cross_entropy(model(x[i]), y[i])
        opt.zero_grad(set_to_none=True)
        loss.backward()
        step_fn(loss)
    sync()
    clock = time.perf_counter if device == "cuda" else time.process_time  # CPU: CPU time, immune to other jobs
    started = clock()
    for i in range(steps):
        loss = nn.functional.cross_entropy(model(x[i]), y[i])
        opt.zero_grad(set_to_none=True)
        loss.backward()
        step_fn(loss)
    sync()
    return (clock() - started) / steps * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--width", type=int, default=512)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    torch.set_num_threads(1)  # on CPU the process time of one thread is the work done, whatever else runs
    arms = ["plain", "clip_only", "guard"]
    try:
        import zclip  # noqa: F401

        arms.append("zclip")
    except ImportError:
        pass
    times: dict[str, list[float]] = {arm: [] for arm in arms}
    for repeat in range(args.repeats):  # interleaved, rotated: drift on a shared machine hits every arm alike
        for arm in arms[repeat % len(arms):] + arms[: repeat % len(arms)]:
            times[arm].append(run(arm, args.steps, args.width, args.device))
    params = sum(p.numel() for p in make(args.width, "cpu")[0].parameters())
    base = statistics.median(times["plain"])
    print(f"device {args.device}, MLP with {params:,} weights, batch 128, Adam, {args.steps} steps x {args.repeats}")
    print("| arm | ms/step (median) | ratio to plain |")
    print("|---|---|---|")
    for arm in arms:
        median = statistics.median(times[arm])
        print(f"| {arm} | {median:.3f} | {median / base:.2f} |")


if __name__ == "__main__":
    main()
