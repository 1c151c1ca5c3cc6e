"""`lossdoctor diagnose` names the right cause for every seed scenario in every log format it can show,
and calls the healthy runs healthy — on logs the scenarios really produced by training."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("torch")

from lossdoctor.diagnose import diagnose
from lossdoctor.readers import read
from lossdoctor.scenarios import ALL_FORMATS, SCENARIOS, ScenarioResult, run_scenario

BENIGN = {"small_batch_noise"}

#: (scenario, format) pairs where the format hides what settles the cause, with the reason. The
#: diagnosis must then still run and, for per-epoch logs, say what the log cannot show.
HIDDEN = {
    ("seed000_gru_lr1e-2", "keras_batch"): "Keras batch logs carry no validation loss: overfitting is invisible",
    ("seed003_partial_last_batch", "keras_epoch"): "one row per epoch cannot show a one-step spike",
    ("seed001_small_batch_lr1e-2", "keras_epoch"): "3 epoch means cannot show step-to-step noise",
    ("seed001_small_batch_lr3e-3", "keras_epoch"): "3 epoch means cannot show step-to-step noise",
    ("seed001_small_batch_lr1e-3", "keras_epoch"): "3 epoch means cannot show step-to-step noise",
    ("seed000_gru_lr5e-2", "keras_epoch"): "10 epoch means and no gradient norm",
    ("seed000_gru_lr5e-2", "keras_batch"): "Keras batch logs carry neither validation nor gradient norm",
}


@pytest.fixture(scope="session")
def scenario_logs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, ScenarioResult]:
    root = tmp_path_factory.mktemp("scenarios")
    return {name: run_scenario(name, root / name, formats=ALL_FORMATS) for name in SCENARIOS}


CASES = [(name, fmt) for name in SCENARIOS for fmt in ALL_FORMATS]


@pytest.mark.parametrize("name, fmt", CASES, ids=[f"{n}-{f}" for n, f in CASES])
def test_primary_finding(scenario_logs: dict[str, ScenarioResult], name: str, fmt: str) -> None:
    result = scenario_logs[name]
    diagnosis = diagnose(read(result.files[fmt]))
    ids = [f.id for f in diagnosis.findings]
    problems = [f.id for f in diagnosis.findings if f.severity == "problem"]
    if (name, fmt) in HIDDEN:
        assert diagnosis.verdict in {"healthy", "problem", "inconclusive"}
        if fmt == "keras_epoch":
            assert any("one loss per epoch" in note for note in diagnosis.notes)
        return
    if result.cause is None:
        assert diagnosis.verdict == "healthy", ids
        assert not problems, ids
    elif result.cause in BENIGN:
        assert diagnosis.verdict == "healthy", ids
        assert ids[0] == result.cause, ids
    else:
        assert diagnosis.verdict == "problem", ids
        assert ids[0] == result.cause, ids


def test_per_epoch_log_says_what_it_cannot_show(scenario_logs: dict[str, ScenarioResult]) -> None:
    diagnosis = diagnose(read(scenario_logs["seed003_partial_last_batch"].files["keras_epoch"]))
    assert any("one loss per epoch" in note for note in diagnosis.notes)


def test_evidence_quotes_the_run(scenario_logs: dict[str, ScenarioResult]) -> None:
    """The partial-last-batch evidence names the batch sizes and the 1/B scaling the bug produces."""
    diagnosis = diagnose(read(scenario_logs["seed003_partial_last_batch"].files["jsonl"]))
    top = diagnosis.findings[0]
    text = " ".join(top.evidence)
    assert "8 samples instead of 128" in text
    assert "∝ 1/B" in text
    spe = scenario_logs["seed003_partial_last_batch"].steps_per_epoch
    assert all((s + 1) % spe == 0 for s in top.steps)  # every marked step is an epoch's last
    assert any("drop_last=True" in line for line in top.fix)


def test_adam_evidence_and_fix(scenario_logs: dict[str, ScenarioResult]) -> None:
    diagnosis = diagnose(read(scenario_logs["seed002_adam_near_convergence"].files["jsonl"]))
    top = diagnosis.findings[0]
    assert top.id == "adam_near_convergence"
    assert any("orders of magnitude" in line for line in top.evidence)
    assert any("lr=1e-5" in line for line in top.fix)


def test_small_batch_fix_uses_framework_idiom(scenario_logs: dict[str, ScenarioResult]) -> None:
    diagnosis = diagnose(read(scenario_logs["seed001_small_batch_lr1e-3"].files["hf"]))
    top = diagnosis.findings[0]
    assert top.id == "small_batch_noise"
    assert top.fix[0].startswith("TrainingArguments(") and "gradient_accumulation_steps=" in top.fix[0]


def test_json_contract(scenario_logs: dict[str, ScenarioResult]) -> None:
    path = scenario_logs["seed003_partial_last_batch"].files["hf"]
    out = subprocess.run(
        [sys.executable, "-m", "lossdoctor", "diagnose", str(path), "--format", "json"],
        capture_output=True, text=True, timeout=120, check=True,
    )
    report = json.loads(out.stdout)
    assert set(report) == {"lossdoctor_version", "source", "verdict", "findings"}
    assert set(report["source"]) == {"path", "format", "series", "steps", "notes"}
    assert all(isinstance(n, str) for n in report["source"]["notes"])
    assert report["source"]["format"] == "hf_trainer_state"
    assert report["source"]["path"] == str(path)
    assert "loss" in report["source"]["series"] and report["source"]["steps"] > 100
    assert report["verdict"] == "problem"
    for finding in report["findings"]:
        assert set(finding) == {"id", "severity", "confidence", "title", "evidence", "fix", "steps"}
        assert finding["severity"] in {"problem", "benign"}
        assert 0.0 <= finding["confidence"] <= 1.0
        assert all(isinstance(s, int) for s in finding["steps"])
    assert report["findings"][0]["id"] == "partial_last_batch"


def test_terminal_report(scenario_logs: dict[str, ScenarioResult]) -> None:
    path = scenario_logs["seed001_small_batch_lr1e-2"].files["tensorboard"]
    out = subprocess.run(
        [sys.executable, "-m", "lossdoctor", "diagnose", str(path)], capture_output=True, text=True, timeout=120
    )
    assert out.returncode == 0, out.stderr
    assert "verdict: healthy" in out.stdout
    assert "small_batch_noise" in out.stdout
    assert "gradient_accumulation_steps" in out.stdout or "accumulate" in out.stdout


def test_mute_skips_a_check(scenario_logs: dict[str, ScenarioResult]) -> None:
    run = read(scenario_logs["seed003_partial_last_batch"].files["jsonl"])
    assert "partial_last_batch" not in [f.id for f in diagnose(run, mute=["partial_last_batch"]).findings]


def test_demo_trains_and_diagnoses(tmp_path: Path) -> None:
    out = subprocess.run(
        [sys.executable, "-m", "lossdoctor", "demo", "--out", str(tmp_path)],
        capture_output=True, text=True, timeout=300,
    )
    assert out.returncode == 0, out.stderr
    assert "epoch" in out.stdout  # training progress shown live
    assert "partial_last_batch" in out.stdout and "verdict: problem" in out.stdout
    assert list(tmp_path.glob("*.jsonl"))
