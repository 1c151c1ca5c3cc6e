"""Remedies on the spike scenarios and healthy runs: no guard, clipping at 1.0, ZClip, and `Guard`.

Every arm trains the same catalogue run (same seed, data, model, optimizer); only what happens
between `loss.backward()` and `optimizer.step()` differs. After every step the run's validation loss
is measured (the damage a bad update does to the model), and spikes are counted on it and on the
training loss of full batches, with one definition (`lossdoctor.guard.spikes.count_spikes`).

    .venv/bin/python benchmarks/remedies.py --jobs 2           # report split (seed 100)
    .venv/bin/python benchmarks/remedies.py --split tune       # what the guard's defaults were looked at on
    .venv/bin/python benchmarks/remedies.py --seed 101 --arms none guard   # another seed, two arms

The exploding-gradient runs are every catalogue family of that cause, whatever the catalogue holds; the
other runs are named. ZClip is the `zclip` package with its defaults (pip install 'lossdoctor[bench]').
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import json
import math
import os
import sys
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

ARMS = ("none", "clip1", "zclip", "guard")

#: The spike runs: the seed-003 scenario (a module scenario), then catalogue families by name, with every
#: family of each cause in `BY_CAUSE` (whatever the catalogue holds) in place of the `None` marker.
SPIKE_FAMILIES = ("seed003_partial_last_batch", "plb_double_mean_mlp_sgd", None, "lrhigh_tanh_mlp_sgd",
                  "lrhigh_gru_adam", "outlier_mlp_sgd", "outlier_gru_adam")
BY_CAUSE = ("exploding_gradients",)
MODULE_SCENARIOS = ("seed003_partial_last_batch",)
HEALTHY_FAMILIES = ("healthy_b_mlp_adamw", "healthy_b_cnn_sgd", "healthy_b_gru_adam", "healthy_b_transformer_adamw")
SEEDS = {"tune": 0, "report": 100}
#: Guard options to try (JSON in LOSSDOCTOR_GUARD_OPTIONS); the figures in BENCHMARKS.md use the defaults.
GUARD_OPTIONS: dict[str, Any] = json.loads(os.environ.get("LOSSDOCTOR_GUARD_OPTIONS", "{}"))


class ArmStep:
    """Stands in for the optimizer in the scenario loop: applies the arm, steps, then probes validation."""

    def __init__(self, arm: str, model: Any, optimizer: Any, evaluate: Callable[[Any], float]) -> None:
        import torch

        self.arm, self.model, self.optimizer, self.evaluate = arm, model, optimizer, evaluate
        self.params = [p for g in optimizer.param_groups for p in g["params"]]
        self.val: list[float] = []
        self.loss: Any = None
        self.guard = None
        self.zclip = None
        if arm == "guard":
            from lossdoctor.guard import Guard

            self.guard = Guard(optimizer, **GUARD_OPTIONS)
        elif arm == "zclip":
            from zclip import ZClip

            self.zclip = ZClip()
        self._torch = torch

    @property
    def param_groups(self) -> list[dict[str, Any]]:
        return self.optimizer.param_groups

    def zero_grad(self, set_to_none: bool = True) -> None:
        self.optimizer.zero_grad(set_to_none=set_to_none)

    def step(self) -> None:
        torch = self._torch
        if self.arm == "guard":
            self.guard.step(self.loss)
        else:
            if self.arm == "clip1":
                torch.nn.utils.clip_grad_norm_(self.params, 1.0)
            elif self.arm == "zclip":
                self.zclip.step(self.model)
            self.optimizer.step()
        was_training = self.model.training
        self.model.eval()
        with torch.no_grad():
            self.val.append(float(self.evaluate(self.model)))
        self.model.train(was_training)


def runs() -> list[tuple[str, str]]:
    """(label, kind) of every run: the spike runs (exploding-gradient families picked by cause), then healthy."""
    from lossdoctor.scenarios import catalog

    catalog._load_families()
    spike: list[str] = []
    for name in SPIKE_FAMILIES:
        if name is None:
            spike += [f.name for f in catalog.FAMILIES.values() if f.cause in BY_CAUSE]
        elif name in MODULE_SCENARIOS or name in catalog.FAMILIES:
            spike.append(name)
        else:
            raise SystemExit(f"remedies: no scenario family {name!r} in the catalogue")
    return [(name, "spike") for name in spike] + [(name, "healthy") for name in HEALTHY_FAMILIES]


@contextlib.contextmanager
def armed(arm: str, probes: list[ArmStep]) -> Iterator[None]:
    """Route every scenario's call of the shared loop's `train(...)` through `ArmStep`; the run is unchanged.

    Every loaded scenario module that imported `train` gets the routed one, so a family is found by its
    cause whatever module or helper calls the loop.
    """
    loop = importlib.import_module("lossdoctor.scenarios.loop")
    original = loop.train

    def train(model: Any, batches: Any, batch_loss: Any, optimizer: Any, **kwargs: Any) -> Any:
        if kwargs.get("evaluate") is None:
            raise SystemExit("remedies: this scenario trains without an `evaluate` function; the benchmark "
                             "measures the validation loss after every step and needs one")
        stepper = ArmStep(arm, model, optimizer, kwargs["evaluate"])
        probes.append(stepper)

        def observed_loss(m: Any, b: Any) -> Any:
            stepper.loss = batch_loss(m, b)
            return stepper.loss

        return original(model, batches, observed_loss, stepper, **kwargs)

    modules = [m for name, m in list(sys.modules.items())
               if name.startswith("lossdoctor.scenarios") and getattr(m, "train", None) is original]
    for module in modules:
        module.train = train
    try:
        yield
    finally:
        for module in modules:
            module.train = original


@dataclass
class Result:
    run: str
    kind: str
    arm: str
    val_spikes: int
    train_spikes: int
    diverged: bool
    final_val: float
    best_val: float
    clipped: int
    skipped: int
    explosions: int
    lr_scale: float
    seconds: float


def run_one(job: tuple[str, str, str, str, int]) -> Result:
    import torch

    torch.set_num_threads(1)
    label, kind, arm, split, seed = job
    from lossdoctor.guard.spikes import count_spikes
    from lossdoctor.scenarios import SCENARIOS, catalog

    catalog._load_families()
    probes: list[ArmStep] = []
    started = time.perf_counter()
    with armed(arm, probes):
        if label in MODULE_SCENARIOS:
            log = SCENARIOS[label].train(seed, None)
        else:
            fam = catalog.FAMILIES[label]
            params = (fam.tune if split == "tune" else fam.report)[0]
            log = fam.train(seed, dict(params))
    seconds = time.perf_counter() - started
    probe = probes[-1]
    val = np.asarray(probe.val)
    full = np.array([r.batch_size == log.batch_size for r in log.steps])
    train_loss = np.asarray(log.losses)[full]
    summary = probe.guard.summary() if probe.guard is not None else {
        "clipped": 0, "skipped": 0, "explosions": 0, "lr_scale": 1.0}
    finite_val = val[np.isfinite(val)]
    return Result(
        label, kind, arm, count_spikes(val).events, count_spikes(train_loss).events,
        bool(not np.isfinite(val[-1])), float(val[-1]), float(finite_val.min()) if len(finite_val) else math.nan,
        int(summary["clipped"]), int(summary["skipped"]), int(summary["explosions"]), float(summary["lr_scale"]),
        seconds,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--split", choices=("tune", "report"), default="report")
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--only", nargs="*", help="run labels to include (default: all)")
    parser.add_argument("--arms", nargs="*", default=list(ARMS), help="arms to run (default: all)")
    parser.add_argument("--seed", type=int, help="train with this seed instead of the split's (a robustness check)")
    parser.add_argument("--json", help="write the raw results here")
    args = parser.parse_args()
    chosen = [r for r in runs() if not args.only or r[0] in args.only]
    seed = SEEDS[args.split] if args.seed is None else args.seed
    jobs = [(*r, arm, args.split, seed) for r in chosen for arm in args.arms]
    started = time.perf_counter()
    with ProcessPoolExecutor(args.jobs) as pool:
        results = list(pool.map(run_one, jobs))
    report(results)
    print(f"\n{len(jobs)} runs in {time.perf_counter() - started:.0f} s ({args.split} split, seed {seed})")
    if args.json:
        with open(args.json, "w") as f:
            json.dump([asdict(r) for r in results], f, indent=1)


def report(results: list[Result]) -> None:
    """A markdown table (one row per run, one column per arm) and, against `none`, each remedy's totals."""
    arms = [a for a in ARMS if any(r.arm == a for r in results)]
    by = {(r.run, r.arm): r for r in results}
    labels = list(dict.fromkeys(r.run for r in results))
    guard = "guard" in arms
    print("| run | kind | " + " | ".join(f"{a}: val spikes / train spikes / final val" for a in arms)
          + (" | guard: clipped / skipped / explosions / lr scale |" if guard else " |"))
    print("|---|---|" + "---|" * (len(arms) + guard))
    for label in labels:
        cells = []
        for arm in arms:
            r = by[(label, arm)]
            cells.append(f"{r.val_spikes} / {r.train_spikes} / " + ("diverged" if r.diverged else f"{r.final_val:.4g}"))
        kind = by[(label, arms[0])].kind
        extra = ""
        if guard:
            g = by[(label, "guard")]
            extra = f" {g.clipped} / {g.skipped} / {g.explosions} / {g.lr_scale:.3g} |"
        print(f"| {label} | {kind} | " + " | ".join(cells) + " |" + extra)
    if "none" not in arms:
        return
    for arm in arms[1:]:
        spikes = [(by[(lbl, "none")], by[(lbl, arm)]) for lbl in labels if by[(lbl, "none")].kind == "spike"]
        base = sum(b.val_spikes for b, _ in spikes)
        left = sum(a.val_spikes for _, a in spikes)
        removed = 1 - left / base if base else math.nan
        healthy = [(by[(lbl, "none")], by[(lbl, arm)]) for lbl in labels if by[(lbl, "none")].kind == "healthy"]
        changes = [a.final_val / b.final_val - 1 for b, a in healthy]
        worst = max(changes, key=abs, default=math.nan)
        direction = "higher" if worst > 0 else "lower"
        print(f"{arm}: removes {removed:.0%} of the validation spikes of the spike runs ({base} -> {left}); "
              f"healthy runs' final validation loss within {abs(worst):.2%} of no remedy "
              f"(the worst is {direction} with the remedy)")


if __name__ == "__main__":
    main()
