"""Causes that look alike are told apart on real training runs from the scenario catalogue.

Each pair shares a surface symptom (spikes once per epoch; a within-epoch pattern that repeats; a loss
that goes up) and differs in what settles it: the phase of the spike, the batch size there, whether the
pattern is fine-grained or a level shift, whether validation or training turns up.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from lossdoctor.diagnose import diagnose
from lossdoctor.findings import Diagnosis
from lossdoctor.readers import read

#: JSONL logs of each family's first tune parameter set, seed 0 (written by tests/data/catalogue_runs/make_logs.py):
#: a run retrained on a CPU with other kernels drifts apart from the one the test describes.
CATALOGUE_RUNS = Path(__file__).parent / "data" / "catalogue_runs"


def ids(d: Diagnosis) -> list[str]:
    return [f.id for f in d.findings]


@pytest.mark.parametrize(
    "folder, cause, not_cause",
    [
        # spikes once per epoch: fixed phase in a short batch vs moving positions in full batches
        ("pair_plb_double_mean_jsonl", "partial_last_batch", "outlier_batches"),
        ("pair_outlier_mlp_jsonl", "outlier_batches", "partial_last_batch"),
        # a pattern within the epoch: a repeated fine-grained order vs a level shift at evaluations
        ("pair_unshuffled_sorted_jsonl", "unshuffled_data", "eval_mode_leak"),
        ("pair_leak_dropout_jsonl", "eval_mode_leak", "unshuffled_data"),
        # the loss goes up: a sustained climb vs sporadic spikes
        ("pair_lrhigh_tanh_jsonl", "lr_too_high", "exploding_gradients"),
        ("pair_explode_cosine_jsonl", "exploding_gradients", "lr_too_high"),
        # validation turns up while training falls vs a run that just trains
        ("pair_overfit_mlp_jsonl", "overfitting", "lr_too_high"),
    ],
)
def test_hard_pair(folder: str, cause: str, not_cause: str) -> None:
    d = diagnose(read(CATALOGUE_RUNS / folder))
    assert d.verdict == "problem"
    assert ids(d)[0] == cause, ids(d)
    assert not_cause not in ids(d), ids(d)


@pytest.mark.parametrize("folder", ["pair_healthy_gru_jsonl", "pair_healthy_mlp_jsonl"])
def test_healthy_runs_stay_healthy(folder: str) -> None:
    d = diagnose(read(CATALOGUE_RUNS / folder))
    assert d.verdict == "healthy"
    assert not [f for f in d.findings if f.severity == "problem"], ids(d)
