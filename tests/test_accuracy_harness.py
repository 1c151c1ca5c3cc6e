"""The scoring rule and the accuracy harness, on real diagnoses of real scenario runs.

The catalogue's families are still being written, so the harness is exercised on a small family
registered here that wraps the seed scenarios; it must work with whatever is registered.
"""

from __future__ import annotations

import importlib.util
import json
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest

pytest.importorskip("torch")

from lossdoctor.diagnose import diagnose
from lossdoctor.readers import read
from lossdoctor.run import Run, Series
from lossdoctor.scenarios import run_scenario, train_scenario
from lossdoctor.scenarios.catalog import FAMILIES, Family, register
from lossdoctor.scoring import score

ROOT = Path(__file__).resolve().parents[1]


def _load_accuracy() -> ModuleType:
    spec = importlib.util.spec_from_file_location("lossdoctor_bench_accuracy", ROOT / "benchmarks" / "accuracy.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses resolve their module by name
    spec.loader.exec_module(module)
    return module


accuracy = _load_accuracy()


@pytest.fixture(scope="module")
def diagnosed(tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    root = tmp_path_factory.mktemp("scored")
    names = ("seed003_partial_last_batch", "seed003_fixed", "seed001_small_batch_lr1e-3")
    return {n: diagnose(read(run_scenario(n, root / n, formats=("jsonl",)).files["jsonl"])) for n in names}


def test_problem_is_right_only_when_named_first(diagnosed: dict) -> None:
    d = diagnosed["seed003_partial_last_batch"]
    assert score("partial_last_batch", d).correct
    assert score("partial_last_batch", d).got == "partial_last_batch"
    assert not score("lr_too_high", d).correct
    wrong = score(None, d)
    assert not wrong.correct and wrong.expected == "healthy" and "partial_last_batch" in wrong.problem_findings


def test_benign_cause_needs_healthy_verdict_and_first_place(diagnosed: dict) -> None:
    d = diagnosed["seed001_small_batch_lr1e-3"]
    assert d.verdict == "healthy"
    assert score("small_batch_noise", d).correct
    assert not score("epoch_sawtooth", d).correct
    assert score(None, d).correct  # a healthy run may explain its normal noise
    assert not score("partial_last_batch", d).correct  # a problem must be called a problem


def test_healthy_run(diagnosed: dict) -> None:
    s = score(None, diagnosed["seed003_fixed"])
    assert s.correct and s.predicted == "healthy" and s.problem_findings == ()


def test_inconclusive_log_is_never_right() -> None:
    """A too-short log of a real run: the first finding is `inconclusive`, which matches no cause."""
    log = train_scenario("seed003_partial_last_batch")
    steps = np.arange(6)
    run = Run({"loss": Series(steps, np.array(log.losses[:6]))})
    d = diagnose(run)
    assert d.verdict == "inconclusive"
    for cause in (None, "partial_last_batch", "small_batch_noise"):
        s = score(cause, d)
        assert not s.correct and s.got == "inconclusive"


@pytest.fixture
def seed_family() -> Iterator[str]:
    """A temporary family wrapping seed scenarios: a problem, a benign cause and a healthy run."""
    names = []
    for scenario, cause in (("seed003_partial_last_batch", "partial_last_batch"), ("seed003_fixed", None),
                            ("seed001_small_batch_lr1e-3", "small_batch_noise")):
        fam = Family(
            name=f"tmpseed_{scenario}", cause=cause, description=f"wraps {scenario}",
            train=lambda seed, params: train_scenario(params["scenario"], seed),
            tune=({"scenario": scenario},), report=({"scenario": scenario},),
        )
        register(fam)
        names.append(fam.name)
    try:
        yield "tmpseed_"
    finally:
        for name in names:
            FAMILIES.pop(name, None)


def test_harness_scores_registered_families(seed_family: str) -> None:
    selected = accuracy.select(["tune"], seed_family)
    assert len(selected) == 6 and {v.split for v in selected} == {"tune"}
    results = accuracy.run_benchmark(selected, jobs=1)
    assert [r.name for r in results] == [v.name for v in selected]
    summary = accuracy.summarize(results)
    assert summary["variants"] == 6
    assert sum(sum(row.values()) for row in summary["confusion"].values()) == 6
    assert set(summary["confusion"]) == {"partial_last_batch", "healthy", "small_batch_noise"}
    assert summary["healthy_runs"] == 2
    assert len(summary["misses"]) == 6 - summary["correct"]
    assert summary["per_cause"]["partial_last_batch"]["support"] == 2
    assert all(r.seconds > 0 and not r.error for r in results)
    text = accuracy.render("tune", summary)
    assert "top-1 accuracy" in text and "confusion" in text and "misses" in text


def test_cli_prints_report_split_first_and_writes_json(seed_family: str, tmp_path: Path,
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "acc.json"
    assert accuracy.main(["--family", seed_family, "--jobs", "1", "--json", str(out)]) == 0
    printed = capsys.readouterr().out
    assert printed.index("split report") < printed.index("split tune")
    payload = json.loads(out.read_text())
    assert set(payload["splits"]) == {"report", "tune"}
    assert len(payload["results"]) == 12
    assert {r["split"] for r in payload["results"]} == {"tune", "report"}
