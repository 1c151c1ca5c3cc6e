"""Causes that look alike are told apart on real training runs from the scenario catalogue.

Each pair shares a surface symptom (spikes once per epoch; a within-epoch pattern that repeats; a loss
that goes up) and differs in what settles it: the phase of the spike, the batch size there, whether the
pattern is fine-grained or a level shift, whether validation or training turns up.
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


def diagnosed(family: str, tmp_path: Path, seed: int = 0) -> Diagnosis:
    """Train the family's first tune parameter set and diagnose its JSONL log."""
    _load_families()
    params = tuple(sorted(FAMILIES[family].tune[0].items()))
    log = train_variant(family, params, seed)
    return diagnose(read(write_logs(log, tmp_path, ("jsonl",))["jsonl"]))


def ids(d: Diagnosis) -> list[str]:
    return [f.id for f in d.findings]


@pytest.mark.parametrize(
    "family, cause, not_cause",
    [
        # spikes once per epoch: fixed phase in a short batch vs moving positions in full batches
        ("plb_double_mean_mlp_sgd", "partial_last_batch", "outlier_batches"),
        ("outlier_mlp_sgd", "outlier_batches", "partial_last_batch"),
        # a pattern within the epoch: a repeated fine-grained order vs a level shift at evaluations
        ("unshuffled_sorted_mlp_sgd", "unshuffled_data", "eval_mode_leak"),
        ("eval_leak_dropout_mlp_adam", "eval_mode_leak", "unshuffled_data"),
        # the loss goes up: a sustained climb vs sporadic spikes
        ("lrhigh_tanh_mlp_sgd", "lr_too_high", "exploding_gradients"),
        ("explode_rnn_cosine", "exploding_gradients", "lr_too_high"),
        # validation turns up while training falls vs a run that just trains
        ("overfit_mlp_adam", "overfitting", "lr_too_high"),
    ],
)
def test_hard_pair(family: str, cause: str, not_cause: str, tmp_path: Path) -> None:
    d = diagnosed(family, tmp_path)
    assert d.verdict == "problem"
    assert ids(d)[0] == cause, ids(d)
    assert not_cause not in ids(d), ids(d)


@pytest.mark.parametrize("family", ["healthy_b_gru_adam", "healthy_b_mlp_adamw"])
def test_healthy_runs_stay_healthy(family: str, tmp_path: Path) -> None:
    d = diagnosed(family, tmp_path)
    assert d.verdict == "healthy"
    assert not [f for f in d.findings if f.severity == "problem"], ids(d)
