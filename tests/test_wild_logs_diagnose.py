"""The diagnosis copes with every real log in ../shared/wild-logs: a valid report for each, the
honest `inconclusive` for the ones too short to judge, and no false alarm on runs that train normally."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from lossdoctor.diagnose import diagnose
from lossdoctor.errors import LogReadError
from lossdoctor.readers import read
from lossdoctor.report.json import render

WILD = Path(__file__).resolve().parents[1].parent / "shared" / "wild-logs"
if not WILD.is_dir():
    pytest.skip("wild-logs corpus not present", allow_module_level=True)

FILES = sorted(str(p.relative_to(WILD)) for p in WILD.rglob("*") if p.is_file() and p.suffix != ".md")
FOLDERS = sorted(str(p.relative_to(WILD)) for p in (WILD / "tensorboard").iterdir() if p.is_dir())
REFUSED = {"text/003_console.log"}

#: Logs with only a handful of loss points (SOURCES.md): a verdict would be a guess.
TOO_SHORT = {
    "hf/012_trainer_state.json",  # a single log_history entry
    "lightning/008_metrics.csv",  # header plus one row
    "keras/007_log.csv",  # four epochs
    "tensorboard/run01",  # three epochs
    "tensorboard/run04",  # two points
}
#: Runs that train normally by their SOURCES.md description: no problem finding allowed.
NORMAL = {
    "lightning/001_metrics.csv",
    "lightning/002_metrics.csv",
    "tensorboard/run02",
    "tensorboard/run03",
    "hf/004_trainer_state.json",
    "keras/004_training_log.csv",
}


@pytest.mark.parametrize("name", FILES + FOLDERS)
def test_every_wild_log_gets_a_valid_report(name: str) -> None:
    if name in REFUSED:
        with pytest.raises(LogReadError):
            read(WILD / name)
        return
    result = diagnose(read(WILD / name))
    report = json.loads(render(result))  # allow_nan=False: the contract is strict JSON
    assert report["verdict"] in {"healthy", "problem", "inconclusive"}
    assert report["source"]["steps"] == result.steps > 0
    problems = [f["id"] for f in report["findings"] if f["severity"] == "problem"]
    assert (report["verdict"] == "problem") == bool(problems)
    if name in TOO_SHORT:
        assert report["verdict"] == "inconclusive"
        assert report["findings"][0]["id"] == "inconclusive"
    if name in NORMAL:
        assert not problems, report["findings"]


def test_cli_refuses_a_log_without_loss_in_one_line() -> None:
    path = WILD / "text/003_console.log"
    out = subprocess.run(
        [sys.executable, "-m", "lossdoctor", "diagnose", str(path)], capture_output=True, text=True, timeout=120
    )
    assert out.returncode == 2
    assert out.stderr.count("\n") == 1 and str(path) in out.stderr and "no loss" in out.stderr
