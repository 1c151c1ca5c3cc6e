"""`preflight(...)`: run every check on one or two real batches, in seconds, before training starts."""

from __future__ import annotations

import inspect
import itertools
import os
from collections.abc import Callable
from typing import Any

import torch
from torch import nn

from .accumulation import check_accumulation
from .adam import check_adam, gradient_rms
from .batches import Forward, batch_size_of, default_forward, loader_facts
from .loader_checks import check_last_batch, check_shuffle
from .log_probs import check_log_probs
from .loss_scale import check_loss_scale
from .model_checks import check_train_mode
from .report import PreflightFinding, PreflightReport
from .source import loader_line, with_keyword


def _caller_file() -> str | None:
    """The first file up the stack outside lossdoctor: the user's script that called preflight."""
    package = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    frame = inspect.currentframe()
    while frame is not None:
        name = frame.f_code.co_filename
        if not name.startswith("<") and not os.path.abspath(name).startswith(package):
            return name
        frame = frame.f_back
    return None


def _at_loader(found: PreflightFinding | None, at: tuple[str, str] | None, name: str,
               value: str) -> PreflightFinding | None:
    """Point a loader finding at the user's own `DataLoader(...)` line, and rewrite that line."""
    if found is None or at is None or found.level == "info":
        return found
    where, code = at
    found.where = f"{where}: {code.strip()}"
    found.fix = [with_keyword(code.strip(), name, value)]
    return found


class _ModeRestored:
    """Puts the model (and every submodule) back in the modes it had, whatever a check did."""

    def __init__(self, model: nn.Module) -> None:
        self.model = model
        self.modes = [(m, m.training) for m in model.modules()]

    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: object) -> None:
        for module, mode in self.modes:
            module.training = mode


def preflight(
    model: nn.Module,
    loss_fn: Callable[..., torch.Tensor],
    loader: Any,
    optimizer: torch.optim.Optimizer | None = None,
    *,
    scheduler: Any = None,
    accumulation_steps: int = 1,
    ignore_index: int = -100,
    forward: Forward | None = None,
    source: str | None = None,
) -> PreflightReport:
    """Check the loss, the data loader, the model and the optimizer on real batches before training.

    `loss_fn(output, target)` is what the training loop calls; batches are `(inputs..., target)` or dicts
    with `labels` (pass `forward(model, batch) -> (output, target)` for anything else). Nothing is
    trained: gradients are computed with `torch.autograd.grad` (existing `.grad`s are left alone), and
    the model's train/eval modes are restored. It draws up to `accumulation_steps + 1` batches.
    `source` is the file that builds the loader (default: the caller's); when it holds exactly one
    one-line `DataLoader(...)` call, loader fixes name that line and rewrite it.
    """
    if source is None:
        source = _caller_file()
    forward = forward or default_forward
    findings: list[PreflightFinding] = []
    ran: list[str] = []
    skipped: dict[str, str] = {}
    measured: dict[str, float] = {}

    def add(found: PreflightFinding | None) -> None:
        if found is not None:
            findings.append(found)

    ran.append("train_mode")
    add(check_train_mode(model))  # before anything changes the mode
    facts = loader_facts(loader)
    draw = max(2, accumulation_steps)
    batches = list(itertools.islice(iter(loader), draw))
    if not batches:
        raise ValueError("the loader yields no batch")
    first = batches[0]
    exponent: float | None = None
    with _ModeRestored(model):
        model.eval()  # deterministic: no dropout, BatchNorm from its running statistics
        ran.append("loss_scale")
        found, exponent = check_loss_scale(model, loss_fn, forward, first)
        add(found)
        if exponent is None:
            skipped["loss_scale"] = "needs a batch of at least 4 samples with a finite positive loss"
        else:
            measured["loss_exponent"] = exponent
        ran.append("log_probs")
        add(check_log_probs(model, loss_fn, forward, first))
        if accumulation_steps > 1:
            ran.append("accumulation")
            last = facts.dataset_size % facts.batch_size if facts.dataset_size and facts.batch_size and \
                not facts.drop_last else None
            add(check_accumulation(model, loss_fn, forward, batches[:accumulation_steps], accumulation_steps,
                                   ignore_index, last or None))
        if optimizer is not None:
            ran.append("optimizer")
            output, target = forward(model, first)
            loss = loss_fn(output, target)
            rms = gradient_rms(model, loss)
            measured.update(loss=float(loss.detach()), grad_rms=rms)
            targets = None
            if facts.dataset_size is not None:
                targets = facts.dataset_size * max(1, target.numel() // max(1, batch_size_of(first)))
            add(check_adam(optimizer, model, float(loss.detach()), rms, targets, scheduler))
    ran += ["last_batch", "shuffle"]
    at = loader_line(source)
    add(_at_loader(check_last_batch(facts, model, exponent), at, "drop_last", "True"))
    if facts.dataset_size is not None and facts.batch_size:
        measured.update(dataset_size=facts.dataset_size, batch_size=facts.batch_size,
                        last_batch=facts.dataset_size % facts.batch_size)
    if facts.dataset_size is None:
        skipped["last_batch"] = "the loader's dataset has no length (an IterableDataset)"
    add(_at_loader(check_shuffle(facts, getattr(loader, "dataset", None), facts.batch_size), at, "shuffle", "True"))
    return PreflightReport(findings, ran, skipped, measured)
