"""The model's own state before training: left in eval mode, or parts of it in eval mode."""

from __future__ import annotations

from torch import nn

from .report import PreflightFinding

_MODE_LAYERS = (nn.modules.dropout._DropoutNd, nn.modules.batchnorm._BatchNorm)


def check_train_mode(model: nn.Module) -> PreflightFinding | None:
    """`model.eval()` without `model.train()` turns dropout off and freezes BatchNorm statistics."""
    layers = [(n, m) for n, m in model.named_modules() if isinstance(m, _MODE_LAYERS)]
    if not model.training:
        evidence = ["model.training is False: the model is in eval mode"]
        if layers:
            evidence.append(f"{len(layers)} dropout/BatchNorm layer(s) will behave as at inference "
                            f"({', '.join(n for n, _ in layers[:4])}{'…' if len(layers) > 4 else ''})")
        else:
            evidence.append("this model has no dropout or BatchNorm yet, so it makes no difference now; it "
                            "will once such a layer is added")
        return PreflightFinding(
            "model_in_eval_mode", "problem" if layers else "warning", "The model is in eval mode", evidence,
            ["model.train()  # before training, and again after every evaluation (model.eval())"], None,
            "eval_mode_leak")
    frozen = [n for n, m in layers if not m.training]
    if frozen:
        return PreflightFinding(
            "layers_in_eval_mode", "warning", "Some dropout/BatchNorm layers are in eval mode",
            [f"in eval mode while the model trains: {', '.join(frozen[:6])}",
             "fine if frozen on purpose (fine-tuning with frozen BatchNorm); otherwise a leftover .eval()"],
            ["model.train()  # puts every submodule back in train mode"], None, "eval_mode_leak")
    return None
