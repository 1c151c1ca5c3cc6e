"""Remedies on the spike scenarios and healthy runs: no guard, clipping at 1.0, ZClip, and `Guard`.

Every arm trains the same catalogue run (same seed, data, model, optimizer); only what happens
between `loss.backward()` and `optimizer.step()` differs. After every step the run's validation loss
is measured (the damage a bad update does to the model), and spikes are counted on it and on the
training loss of full batches, with one definition (`lossdoctor.guard.spikes.count_spikes`).

    .venv/bin/python benchmarks/remedies.py --jobs 2           # report split (seed 100)
    .venv/bin/python benchmarks/remedies.py --split tune       # what the guard's defaults were looked at on

ZClip is the `zclip` package with its defaults (pip install 'lossdoctor[bench]').
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import json
import math
import os
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

ARMS = ("none", "clip1", "zclip", "guard")

#: (label, module holding the `train` call, family name in the catalogue or None for a module scenario, kind)
SPIKE_RUNS = (
    ("seed003_partial_last_batch", "lossdoctor.scenarios.partial_last_batch", None, "spike"),
    ("plb_double_mean_mlp_sgd", "lossdoctor.scenarios.families.b_partial_last_batch", "plb_double_mean_mlp_sgd",
     "spike"),
    ("explode_rnn_sgd", "lossdoctor.scenarios.families.b_exploding", "explode_rnn_sgd", "spike"),
    ("explode_rnn_momentum", "lossdoctor.scenarios.families.b_exploding", "explode_rnn_momentum", "spike"),
    ("lrhigh_tanh_mlp_sgd", "lossdoctor.scenarios.families.b_lr_too_high", "lrhigh_tanh_mlp_sgd", "spike"),
    ("lrhigh_gru_adam", "lossdoctor.scenarios.families.b_lr_too_high", "lrhigh_gru_adam", "spike"),
    ("outlier_mlp_sgd", "lossdoctor.scenarios.families.b_outliers", "outlier_mlp_sgd", "spike"),
    ("outlier_gru_adam", "lossdoctor.scenarios.families.b_outliers", "outlier_gru_adam", "spike"),
)
HEALTHY_RUNS = tuple(
    (name, "lossdoctor.scenarios.families.b_healthy", name, "healthy")
    for name in ("healthy_b_mlp_adamw", "healthy_b_cnn_sgd", "healthy_b_gru_adam", "healthy_b_transformer_adamw")
)
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


@contextlib.contextmanager
def armed(module_name: str, arm: str, probes: list[ArmStep]) -> Iterator[None]:
    """Route the module's `train(...)` calls through `ArmStep`; the run itself is unchanged."""
    module = importlib.import_module(module_name)
    original = module.train

    def train(model: Any, batches: Any, batch_loss: Any, optimizer: Any, **kwargs: Any) -> Any:
        stepper = ArmStep(arm, model, optimizer, kwargs["evaluate"])
        probes.append(stepper)

        def observed_loss(m: Any, b: Any) -> Any:
            stepper.loss = batch_loss(m, b)
            return stepper.loss

        return original(model, batches, observed_loss, stepper, **kwargs)

    module.train = train
    try:
        yield
    finally:
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
    lr_scale: float
    seconds: float


def run_one(job: tuple[str, str, str | None, str, str, str]) -> Result:
    import torch

    torch.set_num_threads(1)
    label, module_name, family, kind, arm, split = job
    from lossdoctor.guard.spikes import count_spikes
    from lossdoctor.scenarios import catalog

    probes: list[ArmStep] = []
    started = time.perf_counter()
    with armed(module_name, arm, probes):
        if family is None:
            from lossdoctor.scenarios import SCENARIOS

            log = SCENARIOS[label].train(SEEDS[split], None)
        else:
            catalog._load_families()
            fam = catalog.FAMILIES[family]
            params = (fam.tune if split == "tune" else fam.report)[0]
            log = fam.train(SEEDS[split], dict(params))
    seconds = time.perf_counter() - started
    probe = probes[-1]
    val = np.asarray(probe.val)
    full = np.array([r.batch_size == log.batch_size for r in log.steps])
    train_loss = np.asarray(log.losses)[full]
    summary = probe.guard.summary() if probe.guard is not None else {"clipped": 0, "skipped": 0, "lr_scale": 1.0}
    finite_val = val[np.isfinite(val)]
    return Result(
        label, kind, arm, count_spikes(val).events, count_spikes(train_loss).events,
        bool(not np.isfinite(val[-1])), float(val[-1]), float(finite_val.min()) if len(finite_val) else math.nan,
        int(summary["clipped"]), int(summary["skipped"]), float(summary["lr_scale"]), seconds,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--split", choices=("tune", "report"), default="report")
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--only", nargs="*", help="run labels to include (default: all)")
    parser.add_argument("--arms", nargs="*", default=list(ARMS), help="arms to run (default: all)")
    parser.add_argument("--json", help="write the raw results here")
    args = parser.parse_args()
    runs = [r for r in SPIKE_RUNS + HEALTHY_RUNS if not args.only or r[0] in args.only]
    jobs = [(*r, arm, args.split) for r in runs for arm in args.arms]
    started = time.perf_counter()
    with ProcessPoolExecutor(args.jobs) as pool:
        results = list(pool.map(run_one, jobs))
    report(results)
    print(f"\n{len(jobs)} runs in {time.perf_counter() - started:.0f} s ({args.split} split, seed {SEEDS[args.split]})")
    if args.json:
        with open(args.json, "w") as f:
            json.dump([asdict(r) for r in results], f, indent=1)


def report(results: list[Result]) -> None:
    arms = tuple(dict.fromkeys(r.arm for r in results))
    if arms != ARMS:  # a partial run: one line per result
        for r in results:
            print(r)
        return
    by = {(r.run, r.arm): r for r in results}
    labels = list(dict.fromkeys(r.run for r in results))
    print("| run | kind | " + " | ".join(f"{a} val spikes / train spikes / final val" for a in ARMS)
          + " | guard: clipped / skipped / lr scale |")
    print("|---|---|" + "---|" * (len(ARMS) + 1))
    for label in labels:
        cells = []
        for arm in ARMS:
            r = by[(label, arm)]
            cells.append(f"{r.val_spikes} / {r.train_spikes} / " + ("diverged" if r.diverged else f"{r.final_val:.4g}"))
        g = by[(label, "guard")]
        print(f"| {label} | {g.kind} | " + " | ".join(cells) + f" | {g.clipped} / {g.skipped} / {g.lr_scale:.3g} |")
    for arm in ARMS[1:]:
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
