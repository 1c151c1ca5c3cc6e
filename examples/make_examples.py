"""Regenerate the bundled example logs from the training scenarios (needs the `torch` extra).

    .venv/bin/python examples/make_examples.py

Each example is a real run of a scenario, written in the format a person with that problem would have.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from lossdoctor.scenarios import run_scenario, train_scenario

HERE = Path(__file__).resolve().parent

#: example folder -> (scenario, format written by the scenario's log writer)
EXAMPLES = {
    "partial_last_batch_hf": ("seed003_partial_last_batch", "hf"),
    "small_batch_noise_lightning": ("seed001_small_batch_lr1e-3", "lightning"),
    "gru_high_lr_tensorboard": ("seed000_gru_lr5e-2", "tensorboard"),
    "healthy_cnn_jsonl": ("healthy_cnn_adamw", "jsonl"),
}


def write_seed002_console(path: Path) -> None:
    """Seed 002 printed `print(t, loss.data[0])` every step: `0, 91.74887084960938`."""
    log = train_scenario("seed002_adam_near_convergence")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(f"{r.step}, {r.loss!r}\n" for r in log.steps))


def write_lr_sweep(folder: Path) -> None:
    """Seed 000's GRU at three learning rates, one JSONL log each: the input of a comparison."""
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    for tag in ("1e-3", "1e-2", "5e-2"):
        with tempfile.TemporaryDirectory() as tmp:
            result = run_scenario(f"seed000_gru_lr{tag}", Path(tmp), formats=("jsonl",))
            shutil.copy2(result.files["jsonl"], folder / f"lr{tag}.jsonl")
    print("lr_sweep_gru: seed000_gru_lr{1e-3,1e-2,5e-2} as JSONL")


def main() -> None:
    for folder, (scenario, fmt) in EXAMPLES.items():
        target = HERE / folder
        shutil.rmtree(target, ignore_errors=True)
        with tempfile.TemporaryDirectory() as tmp:
            result = run_scenario(scenario, Path(tmp), formats=(fmt,))
            written = result.files[fmt]
            source = written.parent if fmt == "tensorboard" or written.is_dir() else written
            if source.is_dir():
                shutil.copytree(source, target)
            else:
                target.mkdir(parents=True)
                shutil.copy2(source, target / source.name)
        print(f"{folder}: {scenario} as {fmt}")
    write_seed002_console(HERE / "adam_near_convergence_console" / "train.log")
    write_lr_sweep(HERE / "lr_sweep_gru")
    print("adam_near_convergence_console: seed002_adam_near_convergence as console text")


if __name__ == "__main__":
    main()
