"""The scenario catalogue: families of real training runs per cause, with tune and report variants.

A *family* is one way to produce a cause (e.g. outlier batches in an MLP with SGD). It is trained with
different parameters (model size, dataset size, batch size, optimizer...) and seeds. The `tune` split
is what thresholds may be fitted on; the `report` split uses other seeds and other sizes, and is what
`benchmarks/accuracy.py` reports. A *variant* is one trained run written in one log format, possibly
with only the loss or with coarse logging, as real logs often are.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import os
import pickle
import zlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from lossdoctor.scenarios.records import TrainLog

Split = Literal["tune", "report"]
Params = Mapping[str, Any]
FamilyTrainer = Callable[[int, Params], TrainLog]

#: Seeds per split: report seeds never overlap the tuning seeds.
SEEDS: dict[Split, tuple[int, ...]] = {"tune": (0, 1), "report": (100, 101)}


@dataclass(frozen=True)
class Family:
    """One way to produce a cause; `cause` None means a healthy run."""

    name: str
    cause: str | None
    description: str
    train: FamilyTrainer
    tune: tuple[Params, ...]
    report: tuple[Params, ...]
    #: Formats where this family's cause cannot be seen at all (e.g. per-epoch logs of a one-step spike).
    hidden_in: frozenset[str] = frozenset()


#: Series without which a cause cannot be seen at all ("it jumps where the logged LR jumps" needs a
#: logged LR); views that lack them are not used for that cause.
CAUSE_NEEDS: dict[str, frozenset[str]] = {
    "overfitting": frozenset({"val_loss"}),
    "lr_schedule_jumps": frozenset({"lr"}),
}


def view_lacks(view: LogView) -> frozenset[str]:
    """Series a view cannot carry: loss-only views, and Keras batch logs (no LR, no validation)."""
    if view.loss_only:
        return frozenset({"val_loss", "lr", "grad_norm", "batch_size"})
    if view.format == "keras_batch":
        return frozenset({"val_loss", "lr", "grad_norm", "batch_size"})
    return frozenset()


@dataclass(frozen=True)
class LogView:
    """How the run is written: the format, writer options, and which series survive."""

    format: str
    options: tuple[tuple[str, Any], ...] = ()
    loss_only: bool = False

    @property
    def label(self) -> str:
        opts = ",".join(f"{k}={v}" for k, v in self.options)
        return self.format + (f"[{opts}]" if opts else "") + ("+loss-only" if self.loss_only else "")


@dataclass(frozen=True)
class Variant:
    family: str
    cause: str | None
    params: tuple[tuple[str, Any], ...]
    seed: int
    view: LogView
    split: Split = "tune"
    name: str = field(default="", compare=False)


FAMILIES: dict[str, Family] = {}


def register(family: Family) -> Family:
    if family.name in FAMILIES:
        raise ValueError(f"duplicate scenario family {family.name!r}")
    FAMILIES[family.name] = family
    return family


def _freeze(params: Params) -> tuple[tuple[str, Any], ...]:
    return tuple(sorted(params.items()))


#: Views cycled through the variants of a family, so every cause is seen in every format.
DEFAULT_VIEWS: tuple[LogView, ...] = (
    LogView("jsonl"),
    LogView("hf"),
    LogView("lightning"),
    LogView("tensorboard", loss_only=True),
    LogView("text"),
    LogView("wandb"),
    LogView("keras_batch"),
    LogView("jsonl", loss_only=True),
    LogView("hf", options=(("logging_steps", 5),)),
)


def variants(split: Split, families: Mapping[str, Family] | None = None) -> list[Variant]:
    """Every (family, params, seed, view) of a split; views rotate so each format gets every cause."""
    _load_families()
    out: list[Variant] = []
    for fam in (families or FAMILIES).values():
        param_sets = fam.tune if split == "tune" else fam.report
        k = zlib.crc32(fam.name.encode()) % len(DEFAULT_VIEWS)  # deterministic across processes
        for params in param_sets:
            for seed in SEEDS[split]:
                view = DEFAULT_VIEWS[k % len(DEFAULT_VIEWS)]
                while view.format in fam.hidden_in or CAUSE_NEEDS.get(fam.cause or "", frozenset()) & view_lacks(view):
                    k += 1
                    view = DEFAULT_VIEWS[k % len(DEFAULT_VIEWS)]
                k += 1
                frozen = _freeze(params)
                name = f"{fam.name}/{','.join(f'{a}={b}' for a, b in frozen)}/seed{seed}/{view.label}"
                out.append(Variant(fam.name, fam.cause, frozen, seed, view, split, name))
    return out


@functools.cache
def train_variant(family: str, params: tuple[tuple[str, Any], ...], seed: int) -> TrainLog:
    """Train once per (family, params, seed) per process (and once per source state with a disk cache)."""
    import torch

    _load_families()
    cached = _disk_cache_path(family, params, seed)
    if cached is not None and cached.exists():
        return pickle.loads(cached.read_bytes())
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        log = FAMILIES[family].train(seed, dict(params))
    finally:
        torch.set_num_threads(threads)
    if cached is not None:
        cached.parent.mkdir(parents=True, exist_ok=True)
        tmp = cached.with_suffix(".tmp")
        tmp.write_bytes(pickle.dumps(log))
        tmp.replace(cached)
    return log


def _disk_cache_path(family: str, params: tuple[tuple[str, Any], ...], seed: int) -> Path | None:
    """Where `LOSSDOCTOR_SCENARIO_CACHE` keeps this run, keyed by the scenario sources so edits retrain.

    Only for developing checks (the accuracy benchmark retrains 150 runs otherwise); tests never set it.
    """
    root = os.environ.get("LOSSDOCTOR_SCENARIO_CACHE")
    if not root:
        return None
    key = hashlib.sha256(repr((family, params, seed, _sources_digest())).encode()).hexdigest()[:24]
    return Path(root) / f"{key}.pkl"


@functools.cache
def _sources_digest() -> str:
    """A digest of every scenario source file: any change to models, data or loops invalidates the cache."""
    digest = hashlib.sha256()
    for path in sorted(Path(__file__).parent.rglob("*.py")):
        digest.update(path.read_bytes())
    return digest.hexdigest()


def strip_to_loss(log: TrainLog) -> TrainLog:
    """The same run as a log that recorded only the training loss (no lr, grad norm, batch size, val)."""
    from lossdoctor.scenarios.records import StepRecord

    steps = tuple(
        StepRecord(r.step, r.epoch, r.batch, r.loss, float("nan"), 0, float("nan")) for r in log.steps
    )
    return dataclasses.replace(log, steps=steps, evals=())


def write_variant(variant: Variant, out_dir: Path) -> Path:
    """Train (cached) and write one variant; returns the path to diagnose."""
    from lossdoctor.scenarios.logwriters import write_logs

    log = train_variant(variant.family, variant.params, variant.seed)
    if variant.view.loss_only:
        log = strip_to_loss(log)
    options = {variant.view.format: dict(variant.view.options)} if variant.view.options else None
    files = write_logs(log, out_dir, (variant.view.format,), options)
    return files[variant.view.format]


def _load_families() -> None:
    """Import the modules that register families (kept lazy: they import torch)."""
    from lossdoctor.scenarios import families  # noqa: F401
