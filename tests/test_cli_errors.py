"""Unreadable input: exit code 2 and one line on stderr naming the file and the problem."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "lossdoctor", *args], capture_output=True, text=True, timeout=120
    )


def assert_clean_error(result: subprocess.CompletedProcess[str], path: Path, *words: str) -> None:
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "Traceback" not in result.stderr
    assert str(path) in lines[0]
    for word in words:
        assert word.lower() in lines[0].lower(), lines[0]
    assert result.stdout == ""


def _valid_trainer_state() -> str:
    history = [{"epoch": i / 10, "learning_rate": 1e-4, "loss": 2.0 - i * 0.01, "step": i * 10} for i in range(1, 40)]
    return json.dumps({"global_step": 390, "logging_steps": 10, "log_history": history}, indent=2)


def test_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "nope" / "trainer_state.json"
    assert_clean_error(run_cli("diagnose", str(path)), path, "no such file")


def test_unknown_format(tmp_path: Path) -> None:
    path = tmp_path / "notes.txt"
    path.write_text("shopping list\neggs\nmilk\n")
    assert_clean_error(run_cli("diagnose", str(path)), path)


def test_binary_garbage(tmp_path: Path) -> None:
    path = tmp_path / "weights.bin"
    path.write_bytes(bytes(range(256)) * 40)
    assert_clean_error(run_cli("diagnose", str(path)), path)


def test_truncated_json(tmp_path: Path) -> None:
    path = tmp_path / "trainer_state.json"
    text = _valid_trainer_state()
    path.write_text(text[: len(text) // 2])
    assert_clean_error(run_cli("diagnose", str(path)), path, "json")


def test_no_loss_series(tmp_path: Path) -> None:
    path = tmp_path / "metrics.csv"
    path.write_text("epoch,step,train_acc\n" + "".join(f"0,{i},{0.5 + i / 100}\n" for i in range(30)))
    assert_clean_error(run_cli("diagnose", str(path)), path, "loss")


def test_console_log_beyond_a_gibibyte_is_refused_at_once(tmp_path: Path) -> None:
    """A sparse 1.1 GiB file: the size alone decides, before a line is parsed."""
    path = tmp_path / "huge.log"
    with path.open("w") as f:
        f.write("step 1 loss=0.5\n" * 5000)  # more than the 64 KiB head the format is sniffed from
        f.truncate(int(1.1 * 2**30))  # the rest is a hole: no disk used
    assert_clean_error(run_cli("diagnose", str(path)), path, "1.1 GiB", "too large", "JSONL")


def test_empty_file(tmp_path: Path) -> None:
    path = tmp_path / "log.jsonl"
    path.write_text("")
    assert_clean_error(run_cli("diagnose", str(path)), path, "empty")


def test_empty_directory(tmp_path: Path) -> None:
    assert_clean_error(run_cli("diagnose", str(tmp_path)), tmp_path)


def test_unknown_loss_key(tmp_path: Path) -> None:
    path = tmp_path / "trainer_state.json"
    path.write_text(_valid_trainer_state())
    assert_clean_error(run_cli("diagnose", str(path), "--loss-key", "nonexistent"), path, "nonexistent")


def test_nan_only_log_is_a_result_not_an_error(tmp_path: Path) -> None:
    path = tmp_path / "log.jsonl"
    path.write_text("".join(json.dumps({"step": i, "loss": float("nan")}) + "\n" for i in range(30)))
    result = run_cli("diagnose", str(path), "--format", "json")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["verdict"] == "problem"
    assert report["findings"][0]["id"] == "numerical_instability"


@pytest.mark.parametrize("fail_on, code", [("problem", 1), ("never", 0)])
def test_fail_on_problem(tmp_path: Path, fail_on: str, code: int) -> None:
    path = tmp_path / "log.jsonl"
    path.write_text("".join(json.dumps({"step": i, "loss": float("inf") if i > 20 else 1.0}) + "\n" for i in range(40)))
    assert run_cli("diagnose", str(path), "--fail-on", fail_on).returncode == code


def test_a_check_that_fails_is_skipped_and_the_report_says_so(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A fault in one check must not hide the others, nor pass silently: the terminal report warns right under
    the verdict that it was reached without that check."""
    import io

    from rich.console import Console

    from lossdoctor.checks import REGISTRY, all_checks, check
    from lossdoctor.diagnose import diagnose
    from lossdoctor.readers import read
    from lossdoctor.report.terminal import render

    monkeypatch.delenv("LOSSDOCTOR_STRICT", raising=False)
    all_checks()

    @check("always_fails", "problem", "a check with a bug")
    def always_fails(sig: object) -> None:
        raise ZeroDivisionError("division by zero")

    try:
        path = tmp_path / "log.csv"
        path.write_text("step,loss\n" + "".join(f"{i},{1 / (1 + i / 50):.5f}\n" for i in range(200)))
        diagnosis = diagnose(read(path))
    finally:
        del REGISTRY["always_fails"]
    assert any("check always_fails failed on this run (ZeroDivisionError" in n for n in diagnosis.notes)
    out = io.StringIO()
    render(diagnosis, Console(file=out, width=120))
    assert "1 check(s) failed on this log and were skipped" in out.getvalue()
