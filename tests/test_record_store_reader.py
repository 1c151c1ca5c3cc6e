"""The run store as a log: `read`/`diagnose` on a recorded run, and clear errors for other SQLite files."""

from __future__ import annotations

import importlib.util
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

import lossdoctor
from lossdoctor.diagnose import diagnose

ROOT = Path(__file__).resolve().parents[1]


def _diagnose_cli(path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "lossdoctor", "diagnose", str(path)], capture_output=True,
                          text=True, cwd=ROOT, timeout=120)


def test_other_sqlite_database_is_a_one_line_error(tmp_path) -> None:
    db = tmp_path / "other.db"
    with sqlite3.connect(db) as conn:
        conn.execute("CREATE TABLE t (x)")
    out = _diagnose_cli(db)
    assert out.returncode == 2 and "Traceback" not in out.stderr
    assert "not a lossdoctor run store" in out.stderr and len(out.stderr.strip().splitlines()) == 1


def test_corrupt_store_is_a_one_line_error(tmp_path) -> None:
    db = tmp_path / "lossdoctor.db"
    db.write_bytes(b"SQLite format 3\x00" + b"\xff" * 200)
    out = _diagnose_cli(tmp_path)
    assert out.returncode == 2 and "Traceback" not in out.stderr
    assert "lossdoctor.db" in out.stderr and len(out.stderr.strip().splitlines()) == 1


def test_bundled_recorded_example_reads_without_torch_facts_and_series() -> None:
    run = lossdoctor.read(ROOT / "examples" / "recorded_partial_last_batch")
    assert run.format == "lossdoctor_store"
    assert run.facts.steps_per_epoch == 17 and run.facts.drop_last is False and run.facts.batch_size == 32
    assert set(run.get("batch_size").values) == {8.0, 32.0}
    assert any("live warning" in note and "partial_last_batch" in note for note in run.facts.notes)


def test_diagnosis_of_a_recorded_run_uses_the_actual_batch_sizes(tmp_path) -> None:
    pytest.importorskip("torch")
    spec = importlib.util.spec_from_file_location("record_loop", ROOT / "examples" / "record_loop.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)  # type: ignore[union-attr]
    module.main(str(tmp_path / "run"))  # the seed-003 bug, recorded live
    result = diagnose(lossdoctor.read(tmp_path / "run"))
    assert result.verdict == "problem" and result.findings[0].id == "partial_last_batch"
    assert any("holds 8 samples instead of 32" in line for line in result.findings[0].evidence)
