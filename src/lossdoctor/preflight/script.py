"""`lossdoctor preflight script.py`: run a training script's setup, not its training, and check it.

The script is executed as a module named `__lossdoctor_preflight__`, so whatever sits under
`if __name__ == "__main__":` (the training loop) does not run. Its top-level names give the model,
the loss, the loader and (optionally) the optimizer, scheduler and accumulation steps.
"""

from __future__ import annotations

import runpy
from pathlib import Path
from typing import Any

#: Names looked up in the script, in order of preference.
NAMES: dict[str, tuple[str, ...]] = {
    "model": ("model", "net", "network"),
    "loss_fn": ("loss_fn", "criterion", "loss_func", "loss_function"),
    "loader": ("train_loader", "loader", "train_dataloader", "dataloader", "train_dl"),
    "optimizer": ("optimizer", "opt", "optim"),
    "scheduler": ("scheduler", "lr_scheduler", "sched"),
    "accumulation_steps": ("accumulation_steps", "gradient_accumulation_steps", "accum_steps"),
}
REQUIRED = ("model", "loss_fn", "loader")


class ScriptError(Exception):
    """The script cannot be used: one line saying why."""


def load_objects(path: str) -> dict[str, Any]:
    """Run the script's top level and pick the objects preflight needs."""
    file = Path(path)
    if not file.is_file():
        raise ScriptError(f"{path}: no such file")
    try:
        namespace = runpy.run_path(str(file), run_name="__lossdoctor_preflight__")
    except SystemExit:
        raise ScriptError(f"{path}: the script exited while being loaded (keep training under "
                          "`if __name__ == '__main__':`)") from None
    except Exception as exc:  # the user's code: any failure becomes one line
        raise ScriptError(f"{path}: the script failed while being loaded: {type(exc).__name__}: {exc}") from None
    found: dict[str, Any] = {}
    for role, names in NAMES.items():
        for name in names:
            if namespace.get(name) is not None:
                found[role] = namespace[name]
                break
    missing = [role for role in REQUIRED if role not in found]
    if missing:
        wanted = "; ".join(f"{role}: one of {', '.join(NAMES[role])}" for role in missing)
        raise ScriptError(f"{path}: no top-level {', '.join(missing)} found ({wanted})")
    return found
