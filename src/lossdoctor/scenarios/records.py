"""What a scenario run leaves behind: per-step and per-evaluation records, free of any log format.

Writers turn one `TrainLog` into the files real frameworks write, so every format shows the same run.
Steps are 0-based global optimizer steps (as `enumerate` over batches and Lightning count them);
writers for frameworks that count from 1 (Hugging Face) shift them themselves.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class StepRecord:
    """One optimizer step; `grad_norm` is the total L2 norm before any clipping."""

    step: int
    epoch: int
    batch: int
    loss: float
    lr: float
    batch_size: int
    grad_norm: float


@dataclass(frozen=True)
class EvalRecord:
    """One evaluation, made right after train step `step`.

    `train_loss` is the mean train loss over the steps since the previous evaluation, the way people
    who accumulate the loss between evaluations report it (seed 000).
    """

    step: int
    epoch: int
    val_loss: float
    train_loss: float


@dataclass(frozen=True)
class TrainLog:
    """A whole run: its records plus the facts writers need to lay them out."""

    steps: tuple[StepRecord, ...]
    evals: tuple[EvalRecord, ...]
    steps_per_epoch: int
    batch_size: int
    dataset_size: int
    epochs: int
    optimizer: str
    runtime_s: float
    extra: dict[str, float] = field(default_factory=dict)

    @property
    def losses(self) -> list[float]:
        return [r.loss for r in self.steps]

    def epoch_end_steps(self) -> list[int]:
        """The step that closes each epoch (where a smaller last batch sits)."""
        return [r.step for r in self.steps if r.batch == self.steps_per_epoch - 1]
