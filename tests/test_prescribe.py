"""Prescriptions on real logs: the fix in the run's framework, with numbers computed from that run."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from lossdoctor.diagnose import diagnose
from lossdoctor.prescribe import clip_threshold, num, prescribe
from lossdoctor.readers import read
from lossdoctor.run import Run, RunFacts, Series

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def test_seed003_hf_log_gets_trainer_arguments_with_its_own_numbers() -> None:
    run = read(EXAMPLES / "partial_last_batch_hf")
    found = prescribe(run, "partial_last_batch")
    norms = run.series["grad_norm"].values
    finite = norms[np.isfinite(norms) & (norms > 0)]
    clip = float(num(max(2 * float(np.median(finite)), float(np.percentile(finite, 90)))))
    assert found is not None and found.framework == "hf" and found.numbers["max_norm"] == clip
    assert found.lines()[0] == ("TrainingArguments(..., per_device_train_batch_size=128, dataloader_drop_last=True, "
                                f"max_grad_norm={num(clip)})")
    assert "loader = DataLoader(dataset, batch_size=128, shuffle=True, drop_last=True)" in found.lines()
    top = diagnose(run).primary
    assert top is not None and top.id == "partial_last_batch" and top.fix == found.lines()


def test_dataset_size_gives_the_samples_dropped_and_a_divisor() -> None:
    steps = np.arange(300)
    run = Run({"loss": Series(steps, np.ones(300)), "grad_norm": Series(steps, np.full(300, 0.5))},
              RunFacts(framework=None, batch_size=128, dataset_size=3720))
    found = prescribe(run, "partial_last_batch")
    assert found.numbers == {"batch_size": 128, "dataset_size": 3720, "last_batch": 3720 % 128, "max_norm": 1.0}
    assert found.lines()[0].endswith("drop_last=True)  # drops 8 of 3720 samples per epoch (0.2%)")
    assert "or batch_size=124, which divides the 3720 samples exactly" in found.basis


def test_accumulation_from_the_loss_scatter_in_lightning_idiom() -> None:
    run = read(EXAMPLES / "small_batch_noise_lightning")
    found = prescribe(run, "small_batch_noise")
    k = int(found.numbers["accumulation_steps"])
    assert found.lines()[0] == f"Trainer(..., accumulate_grad_batches={k})" and 4 <= k <= 16
    assert any(line.startswith(f"# k={k}: single steps scatter ±") for line in found.lines())


def test_accumulation_for_a_very_noisy_loss_stops_at_sixteen_batches() -> None:
    """Batches of 4 scatter ±100% around the trend (red-team 18b r01): ±10% would take about 60 batches per update,
    far too many for a benign scatter; the prescription stops at 16 and says why."""
    rng = np.random.default_rng(0)
    steps = np.arange(900)
    run = Run({"loss": Series(steps, 0.5 * 10 ** (0.32 * rng.standard_normal(900)))}, RunFacts(framework=None))
    found = prescribe(run, "small_batch_noise")
    assert found.numbers["accumulation_steps"] == 16
    assert "smoothing the displayed curve is the cheaper cure" in found.basis[0]


def test_accumulation_from_a_recorded_gradient_noise_scale() -> None:
    run = read(EXAMPLES / "small_batch_noise_lightning")
    batch = 8
    run.facts.batch_size = batch
    steps = run.loss.steps
    run.series["gradient_noise_scale"] = Series(steps, np.full(len(steps), 100.0))
    found = prescribe(run, "small_batch_noise")
    assert found.numbers["accumulation_steps"] == math.ceil(100 / batch)
    assert found.basis[0].startswith("k=13: the measured gradient noise scale is 100 samples")


@pytest.mark.parametrize(("framework", "optimizer", "expected"), [
    ("keras", None, "model.optimizer.clipnorm = 2  # your optimizer, after compile() (the log names none)"),
    ("keras", "SGD", "keras.optimizers.SGD(learning_rate=lr, clipnorm=2)"),
    ("lightning", None, "Trainer(..., gradient_clip_val=2)"),
    (None, None, "torch.nn.utils.clip_grad_norm_(model.parameters(), max_norm=2)  # after backward()"),
])
def test_clipping_threshold_in_every_framework(framework: str | None, optimizer: str | None, expected: str) -> None:
    steps = np.arange(200)
    norms = np.where(steps % 50 == 7, 30.0, 1.0)  # median 1, four spikes of 30
    run = Run({"loss": Series(steps, np.ones(200)), "grad_norm": Series(steps, norms)},
              RunFacts(framework=framework, optimizer=optimizer))
    found = prescribe(run, "exploding_gradients")
    assert found.lines()[0] == expected
    assert "2× the median gradient norm 1; 2.0% of steps exceed it, the largest (30) by 15×" in found.lines()[-1]


def test_the_clip_leaves_nine_steps_in_ten_alone() -> None:
    """A norm that fell from 0.56 to 0.15 through training (red-team 19a r07): twice the run's median cut a third of
    the steps; the clip is the 90th percentile then, and the basis says why."""
    steps = np.arange(1000)
    norms = 0.15 + 0.45 * np.exp(-steps / 300.0)
    norms[[300, 600, 900]] = 16.0
    run = Run({"loss": Series(steps, np.ones(1000)), "grad_norm": Series(steps, norms)}, RunFacts(framework=None))
    threshold, why = clip_threshold(run)
    assert threshold == float(num(np.percentile(norms, 90)))
    assert np.mean(norms > threshold) <= 0.1 and "would cut more than a tenth of the steps" in why


def test_the_hf_trainer_keeps_its_default_clip_when_twice_the_median_is_looser() -> None:
    """The Trainer logs the norm before clipping and clips at 1.0 unless told otherwise: twice a median of 1
    would loosen the clip that was already acting, so the prescription keeps 1.0."""
    steps = np.arange(200)
    norms = np.where(steps % 50 == 7, 30.0, 1.0)
    run = Run({"loss": Series(steps, np.ones(200)), "grad_norm": Series(steps, norms)},
              RunFacts(framework="huggingface"))
    found = prescribe(run, "exploding_gradients")
    assert found.lines()[0] == "TrainingArguments(..., max_grad_norm=1)"
    assert "the Trainer's default, tighter than 2× the median logged norm 1" in found.lines()[-1]
    low = Run({"loss": Series(steps, np.ones(200)), "grad_norm": Series(steps, norms * 0.2)},
              RunFacts(framework="huggingface"))
    assert prescribe(low, "exploding_gradients").lines()[0] == "TrainingArguments(..., max_grad_norm=0.4)"


def test_lr_too_high_uses_the_logged_learning_rate() -> None:
    run = read(EXAMPLES / "gru_high_lr_tensorboard")
    lr = float(np.nanmax(run.series["lr"].values))
    found = prescribe(run, "lr_too_high")
    assert found.numbers["lr"] == float(num(lr / 3))
    # the log names no optimizer (the asker used Adam): the LR is set on the script's own optimizer
    assert found.lines()[0] == (f"for group in optimizer.param_groups: group['lr'] = {num(lr / 3)}"
                                "  # your optimizer (the log names none)")


def test_a_keras_run_keeps_its_own_optimizer_at_the_lower_rate() -> None:
    """A Keras SGD run at lr 0.045 (red-team 17a r02): the fix had swapped in Adam at 0.015, a rate and an
    optimizer the run never used. Unnamed, the rate and the clip are set on the compiled model's optimizer."""
    steps = np.arange(300)
    loss = Series(steps, 1 + 0.1 * np.sin(steps))
    lr = Series(steps, np.full(300, 0.045))
    unnamed = prescribe(Run({"loss": loss, "lr": lr}, RunFacts(framework="keras")), "lr_too_high")
    assert unnamed.lines()[0] == ("model.optimizer.learning_rate = 0.015; model.optimizer.clipnorm = 1"
                                  "  # your optimizer, after compile() (the log names none)")
    named = prescribe(Run({"loss": loss, "lr": lr}, RunFacts(framework="keras", optimizer="sgd")), "lr_too_high")
    assert named.lines()[0] == "keras.optimizers.SGD(learning_rate=0.015, clipnorm=1)"


def test_numbers_are_written_as_in_code() -> None:
    assert [num(x) for x in (1e-5, 3e-4, 0.25, 12.0, 0.0291, 123456.0)] == ["1e-5", "3e-4", "0.25", "12", "0.029",
                                                                           "1.2e5"]
    assert prescribe(read(EXAMPLES / "healthy_cnn_jsonl"), "overfitting") is None  # no prescription: check's own


def test_adam_prescription_says_when_the_log_has_no_lr() -> None:
    """Without a logged LR the hundredth is of Adam's default, and the basis says so instead of calling it
    the logged LR."""
    steps = np.arange(500)
    run = Run({"loss": Series(steps, np.exp(-steps / 50.0) + 1e-4)}, RunFacts(framework=None))
    found = prescribe(run, "adam_near_convergence")
    assert "the log has no LR" in found.basis[0] and "logged LR" not in found.basis[0]
    with_lr = Run({"loss": Series(steps, np.exp(-steps / 50.0) + 1e-4), "lr": Series(steps, np.full(500, 0.01))},
                  RunFacts(framework=None))
    assert "a hundredth of the logged LR (0.01)" in prescribe(with_lr, "adam_near_convergence").basis[0]


def test_an_sgd_run_keeps_momentum_and_a_log_without_norms_is_not_said_to_have_them() -> None:
    """The fix for a too-high LR had dropped the run's SGD momentum, and the short-last-batch basis spoke of measured
    gradient norms in a log that has none (red-team 20a r05, r01)."""
    steps = np.arange(300)
    loss = Series(steps, 1 + 0.1 * np.sin(steps))
    run = Run({"loss": loss, "lr": Series(steps, np.full(300, 0.3))}, RunFacts(framework=None, optimizer="SGD"))
    assert prescribe(run, "lr_too_high").lines()[0] == (
        "optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)  # keep your own momentum")
    bare = prescribe(Run({"loss": loss}, RunFacts(framework=None, batch_size=64, dataset_size=1000)),
                     "partial_last_batch")
    assert not any("gradient norms were measured" in line for line in bare.basis)


def test_the_clip_comes_from_the_norms_before_they_ran_away_for_good() -> None:
    """A multiplicative RNN char-LM under Adam at 6e-3 without clipping, Lightning TensorBoardLogger (red-team 21a
    r08): a few mild blow-ups, then a fatal one after which every norm is huge. The 90th percentile over all steps
    had prescribed max_norm=8e15 for a run that had lived at 0.1-0.3."""
    from pathlib import Path

    from lossdoctor.diagnose import diagnose
    from lossdoctor.prescribe import clip_threshold
    from lossdoctor.readers import read

    run = read(Path(__file__).parent / "data" / "mrnn_runaway_tensorboard")
    threshold, why = clip_threshold(run)
    assert 0.1 < threshold < 1.0, why
    finding = next(f for f in diagnose(run).findings if f.id == "exploding_gradients")
    assert any(f"max_norm={threshold:g}" in line for line in finding.fix), finding.fix
