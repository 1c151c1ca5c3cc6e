"""eval_mode_leak on stored real runs: a step hidden in batch noise is found from all epochs pooled, and a shift
after the evaluations that fades before the epoch ends is not the model left in eval mode."""

from __future__ import annotations

from pathlib import Path

from lossdoctor.diagnose import diagnose
from lossdoctor.readers import read

DATA = Path(__file__).parent / "data"


def test_a_step_at_the_evaluation_hidden_in_batch_noise_is_found_from_all_epochs() -> None:
    """BatchNorm CNN, 4 evaluations per 24-step epoch, model.train() only at the epoch start: the loss drops
    ×0.55 after the first evaluation in all 6 epochs, but the 4 points on each side of it carry only 39% of the
    drop. A step fits the pooled epochs better than a gradual fall."""
    d = diagnose(read(DATA / "catalogue_runs" / "leak_batchnorm_noisy_step_jsonl"))
    assert (d.verdict, d.findings[0].id) == ("problem", "eval_mode_leak"), [f.id for f in d.findings]
    assert "a step at the evaluation fits the loss better" in " ".join(d.findings[0].evidence)


def test_a_kick_after_the_evaluation_that_fades_within_the_epoch_is_no_leak() -> None:
    """Warm restarts once per epoch (the LR not logged) with model.train() after every evaluation: the loss
    rises ×1.26 a quarter into each epoch, where the first evaluation happens to be, then falls again as the
    LR anneals. Eval mode would last until the next epoch starts."""
    d = diagnose(read(DATA / "restarts_per_epoch_evals_jsonl" / "metrics.jsonl"))
    assert "eval_mode_leak" not in [f.id for f in d.findings], [f.id for f in d.findings]
    assert d.verdict == "healthy"


def test_a_fading_shift_after_evaluations_in_an_exploding_run_is_no_leak() -> None:
    """An exploding RNN validated twice per epoch: after the evaluation the loss sits ×0.85 lower in 14 of 16
    epochs, but half of that is gone in the later half of the steps. The blow-ups are the cause."""
    d = diagnose(read(DATA / "catalogue_runs" / "explode_cosine_lightning_fading_shift"))
    assert "eval_mode_leak" not in [f.id for f in d.findings], [f.id for f in d.findings]
    assert (d.verdict, d.findings[0].id) == ("problem", "exploding_gradients"), [f.id for f in d.findings]
