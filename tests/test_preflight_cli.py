"""`lossdoctor preflight script.py`: runs the script's setup (not its training) and reports."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("torch")
from typer.testing import CliRunner

from lossdoctor.cli import app

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = str(ROOT / "examples" / "preflight" / "seed003_train.py")


def cli(*args: str):
    return CliRunner().invoke(app, ["preflight", *args])


def test_seed003_script_is_flagged_without_training() -> None:
    out = cli(SCRIPT)
    assert out.exit_code == 0, out.output
    assert out.stdout.startswith("preflight: problems found")
    assert "[problem] loss_scales_with_batch" in out.stdout and "[problem] partial_last_batch" in out.stdout
    assert "seed003_train.py:21: return F.mse_loss(output, target) / len(output)" in out.stdout
    assert "      return F.mse_loss(output, target)  # no second division by the batch size" in out.stdout
    assert ("      train_loader = DataLoader(TensorDataset(x, y), batch_size=128, shuffle=True, drop_last=True)"
            in out.stdout)
    assert cli(SCRIPT, "--fail-on", "problem").exit_code == 1
    data = json.loads(cli(SCRIPT, "--format", "json").stdout)
    assert data["ok"] is False and data["measured"]["last_batch"] == 8


def test_bad_scripts_get_one_line_and_exit_2(tmp_path: Path) -> None:
    no_loader = tmp_path / "no_loader.py"
    no_loader.write_text("import torch\nmodel = torch.nn.Linear(2, 1)\ncriterion = torch.nn.MSELoss()\n")
    out = cli(str(no_loader))
    assert out.exit_code == 2 and "no top-level loader found" in out.stderr
    broken = tmp_path / "broken.py"
    broken.write_text("raise RuntimeError('CUDA out of memory')\n")
    out = cli(str(broken))
    assert out.exit_code == 2 and "RuntimeError: CUDA out of memory" in out.stderr
    # the real process: one line on stderr, exit code 2, no traceback
    missing = subprocess.run([sys.executable, "-m", "lossdoctor", "preflight", str(tmp_path / "nope.py")], cwd=ROOT,
                             capture_output=True, text=True, timeout=120)
    assert missing.returncode == 2 and missing.stderr.count("\n") == 1 and "no such file" in missing.stderr
