"""Does the loss take `log` of probabilities the model already squashed (softmax / sigmoid outputs)?

`log(softmax(z))` computed in two steps underflows to log(0) = -inf for confident wrong predictions
(BCELoss clamps it at -100, so it shows as huge spikes instead); `CrossEntropyLoss` and
`BCEWithLogitsLoss` take logits and compute the same thing with log-sum-exp, stably. Cross-entropy on
softmax outputs (a softmax applied twice) is not unstable but caps the gradient, so learning stalls.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch import nn
from torch.overrides import TorchFunctionMode

from .batches import Forward
from .report import PreflightFinding
from .source import find_line

_LOG_CALLS = {"log", "log_", "log2", "log10", "log1p"}
_SQUASHERS = (nn.Softmax, nn.Sigmoid, nn.Softmin)


class _CallRecorder(TorchFunctionMode):
    """Records the names of the top-level torch functions the loss calls (not the ones nested in them)."""

    def __init__(self) -> None:
        super().__init__()
        self.names: list[str] = []

    def __torch_function__(self, func, types, args=(), kwargs=None):  # type: ignore[no-untyped-def]
        self.names.append(getattr(func, "__name__", str(func)))
        return func(*args, **(kwargs or {}))


def output_kind(output: torch.Tensor) -> str | None:
    """"softmax" when rows along the class dim are probabilities summing to 1, "sigmoid" when all lie in
    [0, 1] and are not all 0/1 labels, else None (logits or log-probabilities)."""
    if not output.is_floating_point() or output.numel() < 2:
        return None
    out = output.detach().float()
    if not bool(torch.isfinite(out).all()) or out.min() < 0 or out.max() > 1:
        return None
    class_dim = 1 if out.ndim >= 2 else 0
    if out.ndim >= 2 and out.shape[class_dim] > 1 and torch.allclose(out.sum(class_dim), torch.ones(()), atol=1e-3):
        return "softmax"
    if bool(((out > 0) & (out < 1)).any()):
        return "sigmoid"
    return None


def _last_squasher(model: nn.Module) -> tuple[str, nn.Module] | None:
    leaves = [(name, m) for name, m in model.named_modules() if not list(m.children())]
    return next(((n, m) for n, m in reversed(leaves) if isinstance(m, _SQUASHERS)), None) if leaves else None


def _access(name: str) -> str:
    """Python for a submodule's dotted name: `head` -> `model.head`, `body.2` -> `model.body[2]`."""
    return "model" + "".join(f"[{part}]" if part.isdigit() else f".{part}" for part in name.split("."))


def check_log_probs(
    model: nn.Module, loss_fn: Callable[..., torch.Tensor], forward: Forward, batch: Any
) -> PreflightFinding | None:
    """A finding when the model outputs probabilities and the loss takes their log (or soft-maxes again)."""
    with torch.no_grad():
        output, target = forward(model, batch)
        kind = output_kind(output)
        if kind is None:
            return None
        recorder = _CallRecorder()
        with recorder:
            loss_fn(output, target)
    calls = set(recorder.names)
    squasher = _last_squasher(model)
    where = None
    if squasher is not None:
        where = f"the model's last layer `{squasher[0]}` is nn.{type(squasher[1]).__name__}"
    else:
        where = find_line(model, r"softmax|sigmoid")
    head = f"the model outputs {'probabilities (rows sum to 1)' if kind == 'softmax' else 'values in [0, 1]'}"
    drop = (f"{_access(squasher[0])} = nn.Identity()  # output logits"
            if squasher is not None and squasher[0] else "return logits  # in forward(): no softmax/sigmoid")
    if "cross_entropy" in calls and kind == "softmax":
        return PreflightFinding(
            "softmax_then_cross_entropy", "problem",
            "Cross-entropy on softmax outputs: the softmax is applied twice, gradients are capped, learning stalls",
            [head, "and the loss calls cross_entropy, which applies log-softmax itself"],
            [drop, "criterion = nn.CrossEntropyLoss()  # on the logits"], where, "no_progress")
    takes_log = sorted(calls & _LOG_CALLS)
    bce = "binary_cross_entropy" in calls
    nll = "nll_loss" in calls
    if not (takes_log or bce or nll):
        return None
    evidence = [head]
    if takes_log:
        evidence.append(f"and the loss takes {', '.join(takes_log)} of them: log(0) = -inf once a prediction "
                        "saturates, so the loss spikes to inf/NaN")
        loss_line = find_line(loss_fn, r"\blog\w*\(|\.log\w*\(")
        where = f"{where}; {loss_line}" if where and loss_line else (where or loss_line)
    if bce:
        evidence.append("and the loss is BCELoss, which clamps log(p) at -100: confident mistakes give huge spikes")
    if nll and not takes_log:
        evidence.append("and the loss is NLLLoss, which expects log-probabilities: on probabilities it computes -p")
    logits_loss = "nn.BCEWithLogitsLoss()" if kind == "sigmoid" or bce else "nn.CrossEntropyLoss()"
    return PreflightFinding(
        "log_of_probabilities", "problem",
        "The loss takes log of probabilities; a logits loss computes the same thing stably",
        evidence, [drop, f"criterion = {logits_loss}  # takes logits: the log is fused and stable"], where,
        "numerical_instability")
