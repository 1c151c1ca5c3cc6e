"""The one data model: readers produce a `Run`, checks consume it.

A run is a set of named scalar series over training steps plus the facts known about the run.
Series are independent (validation every N steps is normal), so each keeps its own steps.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import numpy as np

#: Canonical series names that checks rely on. Readers map their tags onto these (see `keys.py`);
#: every other scalar keeps its own name.
LOSS = "loss"
VAL_LOSS = "val_loss"
LR = "lr"
BATCH_SIZE = "batch_size"
GRAD_NORM = "grad_norm"
EPOCH = "epoch"

StepUnit = Literal["step", "epoch"]


@dataclass
class Series:
    """One scalar over steps. `steps` ascend; `values` may hold NaN/inf, which checks want to see."""

    steps: np.ndarray
    values: np.ndarray

    def __post_init__(self) -> None:
        self.steps = np.asarray(self.steps, dtype=np.int64)
        self.values = np.asarray(self.values, dtype=np.float64)
        if self.steps.shape != self.values.shape or self.steps.ndim != 1:
            raise ValueError("steps and values must be 1-D arrays of the same length")
        if len(self.steps) > 1 and np.any(np.diff(self.steps) < 0):
            order = np.argsort(self.steps, kind="stable")
            self.steps, self.values = self.steps[order], self.values[order]

    def __len__(self) -> int:
        return len(self.steps)

    def finite(self) -> Series:
        """The points whose value is a finite number."""
        keep = np.isfinite(self.values)
        return Series(self.steps[keep], self.values[keep])


@dataclass
class RunFacts:
    """What is known about a run beyond its series; `None` means the log does not say."""

    framework: str | None = None
    optimizer: str | None = None
    #: The learning rate a config or header line of the log states (`lr=0.01`), when no lr series is logged.
    learning_rate: float | None = None
    batch_size: int | None = None
    dataset_size: int | None = None
    steps_per_epoch: float | None = None
    #: "epoch" when the log has one point per epoch and steps count epochs (Keras CSVLogger).
    step_unit: StepUnit = "step"
    #: Each logged loss is the mean over this many optimizer steps (HF `logging_steps`, Lightning
    #: `log_every_n_steps` with on_step averaging); a one-step spike is diluted by this factor.
    loss_window: int = 1
    #: The logger replaced NaN/inf losses by a window mean (HF `logging_nan_inf_filter=True`).
    nan_filtered: bool = False
    #: The optimizer steps the run was set up to take (HF `max_steps`), when the log states them.
    planned_steps: int | None = None
    #: The data loader drops its last partial batch (known from a live recording); None when unknown.
    drop_last: bool | None = None
    #: The loss point where the logged LR changes may belong to either rate: the HF Trainer logged the next
    #: step's LR before transformers 4.51 and the logged step's since, and its file does not say which.
    lr_change_point_ambiguous: bool = False
    #: Plain-language remarks a reader makes about what the format hides or how it was decoded.
    notes: list[str] = field(default_factory=list)


@dataclass
class Run:
    """A training run: named series plus facts, and where it was read from."""

    series: dict[str, Series]
    facts: RunFacts = field(default_factory=RunFacts)
    path: str = ""
    format: str = ""

    def get(self, name: str) -> Series | None:
        """The series called `name`, or None when the run has no (non-empty) such series."""
        found = self.series.get(name)
        return found if found is not None and len(found) else None

    @property
    def loss(self) -> Series:
        found = self.get(LOSS)
        if found is None:
            raise KeyError("run has no loss series")
        return found

    @property
    def num_steps(self) -> int:
        """Number of logged loss points (what the JSON contract calls `steps`)."""
        found = self.get(LOSS)
        return 0 if found is None else len(found)

#: Series that only a live recording (`lossdoctor.watch`, `lossdoctor.record`) provides.
TRAIN_MODE = "train_mode"  # 1.0 while model.training was on at the step, 0.0 in eval mode
WEIGHT_NORM = "weight_norm"  # global L2 norm of the trainable weights after the step
UPDATE_NORM = "update_norm"  # global L2 norm of the step's weight change |Δw|
UPDATE_RATIO = "update_ratio"  # |Δw| / |w|: healthy runs sit near 1e-3, far above means the LR is too high
GRAD_NONFINITE = "grad_nonfinite"  # 1.0 when some gradient held NaN/inf at the step
MICRO_BATCHES = "micro_batches"  # backward passes accumulated into the step (gradient accumulation)
ADAM_SQRT_V_OVER_EPS = "adam_sqrt_v_over_eps"  # mean over weights of sqrt(v̂)/eps (Adam family)
ADAM_V_BELOW_EPS = "adam_v_below_eps"  # share of weights whose sqrt(v̂) < eps: eps dominates their step
ADAM_EFFECTIVE_LR = "adam_effective_lr"  # mean lr / (sqrt(v̂) + eps): Adam's per-weight step size
GRADIENT_NOISE_SCALE = "gradient_noise_scale"  # B_simple = tr(Σ)/|G|² (McCandlish et al. 2018), EMA
#: Per-layer gradient norms are `grad_norm/<parameter name>`, every few steps.
LAYER_GRAD_NORM_PREFIX = "grad_norm/"
