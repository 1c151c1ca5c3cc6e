"""Details of single checks on real catalogue runs, each the case that made the check change.

- A NaN that Hugging Face's `logging_nan_inf_filter` writes as 0.0 is still a NaN.
- A noisy loss right before a NaN is not a "climb" (no divergence without a rise beyond the scatter).
- The classic LR staircase: a plateau that starts falling again at the decay is the schedule.
- An RNN that explodes, resets and regrows in a cycle of its own is exploding, not epoch-periodic.
"""

from __future__ import annotations

from pathlib import Path

import pytest

pytest.importorskip("torch")

from lossdoctor.diagnose import diagnose
from lossdoctor.findings import Diagnosis
from lossdoctor.readers import read
from lossdoctor.scenarios.catalog import FAMILIES, _load_families, train_variant
from lossdoctor.scenarios.logwriters import write_logs


def diagnosed(family: str, split: str, index: int, seed: int, fmt: str, tmp_path: Path) -> Diagnosis:
    _load_families()
    fam = FAMILIES[family]
    params = tuple(sorted((fam.tune if split == "tune" else fam.report)[index].items()))
    log = train_variant(family, params, seed)
    return diagnose(read(write_logs(log, tmp_path, (fmt,))[fmt]))


def test_nan_written_as_zero_by_hf_filter_is_numerical(tmp_path: Path) -> None:
    d = diagnosed("numinst_log_sigmoid_adam", "report", 1, 101, "hf", tmp_path)
    first = d.findings[0]
    assert (d.verdict, first.id) == ("problem", "numerical_instability"), [f.id for f in d.findings]
    assert "exactly 0.0" in first.evidence[0]


def test_noisy_loss_before_nan_is_not_a_divergence(tmp_path: Path) -> None:
    d = diagnosed("numinst_half_log_softmax", "report", 2, 101, "text", tmp_path)
    assert d.findings[0].id == "numerical_instability", [f.id for f in d.findings]
    assert "lr_too_high" not in [f.id for f in d.findings]


def test_lr_decay_staircase_is_the_schedule(tmp_path: Path) -> None:
    d = diagnosed("schedule_multistep_cnn_sgd", "tune", 0, 1, "jsonl", tmp_path)
    assert (d.verdict, d.findings[0].id) == ("healthy", "lr_schedule_jumps"), [f.id for f in d.findings]


def test_rnn_explosion_cycle_is_exploding_gradients(tmp_path: Path) -> None:
    d = diagnosed("explode_rnn_sgd", "report", 1, 101, "text", tmp_path)
    first = d.findings[0]
    assert (d.verdict, first.id) == ("problem", "exploding_gradients"), [f.id for f in d.findings]
    assert any("gradient-norm spike" in e for e in first.evidence)
    assert "lr_too_high" not in [f.id for f in d.findings]  # the hard pair's exploding side
