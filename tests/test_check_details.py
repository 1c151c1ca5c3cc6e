"""Details of single checks on real catalogue runs, each the case that made the check change.

- A NaN that Hugging Face's `logging_nan_inf_filter` writes as 0.0 is still a NaN.
- A noisy loss right before a NaN is not a "climb" (no divergence without a rise beyond the scatter).
- The classic LR staircase: a plateau that starts falling again at the decay is the schedule.
- An RNN whose gradient explodes now and then is named from the gradient norm, and from the loss alone
  (lower confidence) where the log has no gradient norm; bad batches that momentum carries over a few
  steps, and small level shifts at evaluations, are not explosions.
"""

from __future__ import annotations

from pathlib import Path

import pytest

pytest.importorskip("torch")

from lossdoctor.diagnose import diagnose
from lossdoctor.findings import Diagnosis
from lossdoctor.readers import read
from lossdoctor.scenarios.catalog import FAMILIES, _load_families, strip_to_loss, train_variant
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


def loss_only(family: str, split: str, index: int, seed: int, fmt: str, tmp_path: Path) -> Diagnosis:
    """The same run as a log that recorded nothing but the training loss."""
    _load_families()
    fam = FAMILIES[family]
    params = tuple(sorted((fam.tune if split == "tune" else fam.report)[index].items()))
    log = strip_to_loss(train_variant(family, params, seed))
    return diagnose(read(write_logs(log, tmp_path, (fmt,))[fmt]))


def test_rnn_explosions_named_from_the_gradient_norm_and_from_the_loss_alone(tmp_path: Path) -> None:
    d = diagnosed("explode_rnn_sgd", "report", 0, 100, "jsonl", tmp_path / "full")
    first = d.findings[0]
    assert (d.verdict, first.id) == ("problem", "exploding_gradients"), [f.id for f in d.findings]
    assert any("gradient-norm spike" in e for e in first.evidence)
    assert "lr_too_high" not in [f.id for f in d.findings]  # the hard pair's exploding side
    blind = loss_only("explode_rnn_sgd", "report", 0, 100, "tensorboard", tmp_path / "blind")
    named = blind.findings[0]
    assert (blind.verdict, named.id) == ("problem", "exploding_gradients"), [f.id for f in blind.findings]
    assert named.confidence < first.confidence
    assert any("stays up for several steps" in e for e in named.evidence)
    assert any("no gradient-norm series" in e for e in named.evidence)  # and which series settles it


def test_bad_batches_carried_over_by_momentum_are_not_explosions(tmp_path: Path) -> None:
    d = loss_only("outlier_mlp_sgd", "tune", 0, 1, "tensorboard", tmp_path)
    assert d.findings[0].id == "outlier_batches", [f.id for f in d.findings]
    assert "exploding_gradients" not in [f.id for f in d.findings]


def test_small_level_shifts_at_evaluations_are_not_explosions(tmp_path: Path) -> None:
    d = loss_only("eval_leak_batchnorm_cnn_sgd", "tune", 1, 1, "jsonl", tmp_path)
    assert "exploding_gradients" not in [f.id for f in d.findings]
