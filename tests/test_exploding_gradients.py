"""`exploding_gradients` on real catalogue runs, told from what looks like it.

- An IRNN whose gradient explodes now and then is named from the gradient norm, and from the loss alone
  (with lower confidence, saying which series would settle it) where the log has no gradient norm.
- From the loss alone, bad batches that momentum carries over a few steps (a faint echo of a huge spike)
  and small level shifts at evaluations are not explosions.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from lossdoctor.diagnose import diagnose
from lossdoctor.findings import Diagnosis
from lossdoctor.readers import read

#: Logs of single catalogue runs these tests pin down (written by tests/data/catalogue_runs/make_logs.py): a run
#: retrained on a CPU with other kernels drifts apart from the one the test describes.
CATALOGUE_RUNS = Path(__file__).parent / "data" / "catalogue_runs"


def ids(d: Diagnosis) -> list[str]:
    return [f.id for f in d.findings]


def test_explosions_named_from_the_gradient_norm_and_from_the_loss_alone() -> None:
    pytest.importorskip("tensorboard")
    d = diagnose(read(CATALOGUE_RUNS / "explode_sgd_jsonl"))
    first = d.findings[0]
    assert (d.verdict, first.id) == ("problem", "exploding_gradients"), ids(d)
    # from the gradient norm: the loss spikes it leads, or its own blow-ups where there are more of those
    assert any("gradient-norm spike" in e or "gradient norm blew up" in e for e in first.evidence), first.evidence
    assert "lr_too_high" not in ids(d)
    blind = diagnose(read(CATALOGUE_RUNS / "explode_sgd_loss_only_tensorboard"))
    named = blind.findings[0]
    assert (blind.verdict, named.id) == ("problem", "exploding_gradients"), ids(blind)
    assert named.confidence < first.confidence
    assert any("stays up for several steps" in e for e in named.evidence)
    assert any("no gradient-norm series" in e for e in named.evidence)  # and which series settles it


def test_explosions_in_a_keras_batch_log_without_gradient_norm() -> None:
    # A stored catalogue run (tests/data/catalogue_runs): retrained on another CPU, the blow-ups fall elsewhere.
    d = diagnose(read(Path(__file__).parent / "data" / "catalogue_runs" / "explode_sgd_keras_batch"))
    assert (d.verdict, d.findings[0].id) == ("problem", "exploding_gradients"), ids(d)


def test_blow_ups_of_the_norm_outweigh_three_spikes_that_share_a_place_in_the_epoch() -> None:
    """A stored catalogue run (W&B export, loss and gradient norm per step): three loss spikes led by the gradient
    norm fall by chance at 25-31% of their epochs, which alone reads as once per epoch; the norm blows up ×11 to
    ×41 its local level 7 times, at scattered places, and those are the fuller evidence."""
    d = diagnose(read(Path(__file__).parent / "data" / "catalogue_runs" / "explode_sgd_wandb_shared_phase"))
    assert (d.verdict, d.findings[0].id) == ("problem", "exploding_gradients"), ids(d)
    assert any("gradient norm blew up" in e for e in d.findings[0].evidence), d.findings[0].evidence
    assert len(d.findings[0].steps) >= 5


def test_explosions_from_the_loss_alone_when_its_scatter_has_memory() -> None:
    """A stored Lightning CSV (loss, lr, validation; no gradient norm): blow-ups of ×2-×12 that relax back over
    several steps, too small on the median to pass for blow-ups in white noise; the loss's scatter carries over
    from step to step (lag-1 autocorrelation 0.23), which independent batches never give."""
    d = diagnose(read(Path(__file__).parent / "data" / "catalogue_runs" / "explode_cosine_lightning_memory"))
    first = d.findings[0]
    assert (d.verdict, first.id) == ("problem", "exploding_gradients"), ids(d)
    assert any("carries over from step to step" in e for e in first.evidence), first.evidence
    assert first.confidence < 0.75  # from the loss alone
    noise = [f for f in d.findings if f.id == "small_batch_noise"]
    assert not noise or "partly carried over" in noise[0].evidence[0]  # it no longer claims independent batches


def test_blow_ups_about_once_per_epoch_by_chance_are_not_a_bad_sample() -> None:
    """A stored Lightning CSV: 13 damaging jumps over 14 epochs, at scattered places in the epoch (so about one
    per epoch, as a bad sample would come back); each stays up for steps, in a loss with memory."""
    d = diagnose(read(Path(__file__).parent / "data" / "catalogue_runs" / "explode_sgd_lightning_once_per_epoch"))
    assert (d.verdict, d.findings[0].id) == ("problem", "exploding_gradients"), ids(d)
    assert "outlier_batches" not in ids(d)


def test_bad_batches_carried_over_by_momentum_are_not_explosions() -> None:
    pytest.importorskip("tensorboard")
    d = diagnose(read(CATALOGUE_RUNS / "outlier_mlp_momentum_tensorboard"))
    assert d.findings[0].id == "outlier_batches", ids(d)
    assert "exploding_gradients" not in ids(d)


def test_small_level_shifts_at_evaluations_are_not_explosions() -> None:
    d = diagnose(read(CATALOGUE_RUNS / "leak_batchnorm_eval_shifts_jsonl"))
    assert "exploding_gradients" not in ids(d)


def test_blow_ups_that_leave_the_next_batches_worse_are_explosions() -> None:
    """Real TensorBoard log (tests/data): a ReLU RNN without clipping blows its gradient norm up ×31, ×70 and ×10
    in the first quarter; the blown-up batches' own loss was high too, so they are no cliffs on ordinary batches,
    but the batches after each ran ×2–3 worse than before: the update threw the weights off (red-team 12b r06,
    was healthy). The run then trains smoothly, which is why nothing else would name it."""
    pytest.importorskip("tensorboard")
    d = diagnose(read(Path(__file__).parent / "data" / "relu_rnn_blowups_tensorboard"))
    assert (d.verdict, d.findings[0].id) == ("problem", "exploding_gradients"), [f.id for f in d.findings]
    assert "worse than those before" in d.findings[0].evidence[1]


def test_very_heavy_tailed_batch_noise_is_no_explosion() -> None:
    """Two loss-only runs of red-team round 13b (tests/data): a 1-D CNN on batches of 4 under SGD with momentum
    (step noise 0.31 decades), and a wide MLP on noisy labels near a loss of 0.007 under AdamW with a sawtooth
    (0.37 decades). Their jumps are followed by points that sit above the settled level by more than the
    standard error of many jumps allows, but by less than one noise level: an echo, not thrown-off weights."""
    d = diagnose(read(Path(__file__).parent / "data" / "conv1d_batch4_noise_jsonl"))
    assert (d.verdict, d.findings[0].id) == ("healthy", "small_batch_noise"), ids(d)
    d = diagnose(read(Path(__file__).parent / "data" / "mlp_noisy_labels_sawtooth_jsonl"))
    assert (d.verdict, d.findings[0].id) == ("healthy", "epoch_sawtooth"), ids(d)
