"""Write the catalogue runs that single tests pin down, each as the log view its test reads.

A training run depends on the CPU's instruction set as well as on its seeds: the same seed trained with AVX-512
and with AVX2 kernels drifts apart within a few hundred steps (an RNN near its stability edge explodes at other
steps, or not at all). A test about one particular run therefore reads that run's log from here instead of
training it again. These were written with torch 2.13.0 on one thread on an AVX-512 Xeon (`python
tests/data/catalogue_runs/make_logs.py [FOLDER ...]`, only the folders named when any are); on another CPU the
script writes runs of the same families that may differ in detail.
"""

from __future__ import annotations

import shutil
import sys
import tempfile
from pathlib import Path

from lossdoctor.scenarios.catalog import DEFAULT_VIEWS, FAMILIES, Variant, _freeze, _load_families, write_variant

HERE = Path(__file__).parent

#: folder -> (family, index of its parameter set, seed, view label[, split: "report" unless given])
RUNS: dict[str, tuple[str, int, int, str] | tuple[str, int, int, str, str]] = {
    # gradient blow-ups in an HF log of 5-step means (the norm is the last step's)
    "explode_sgd_hf_window_means": ("explode_rnn_sgd", 2, 203, "hf[logging_steps=5]"),
    # blow-ups of the gradient norm, after which the loss ends above its best
    "explode_sgd_climb_jsonl": ("explode_rnn_sgd", 1, 201, "jsonl"),
    # Keras per-batch CSV, no gradient norm
    "explode_sgd_keras_batch": ("explode_rnn_sgd", 2, 202, "keras_batch"),
    # W&B export: 3 gradient-led loss spikes by chance at one place in the epoch, 7 blow-ups of the norm in all
    "explode_sgd_wandb_shared_phase": ("explode_rnn_sgd", 2, 100, "wandb"),
    # Lightning CSV, loss only: blow-ups of x2-x12 whose scatter carries over from step to step
    "explode_cosine_lightning_memory": ("explode_rnn_cosine", 2, 100, "lightning"),
    # Lightning CSV, loss only: 13 damaging jumps, about one per epoch by chance
    "explode_sgd_lightning_once_per_epoch": ("explode_rnn_sgd", 0, 203, "lightning"),
    # TensorBoard, loss only: a GRU under Adam at lr 0.15 that never improves and ends a little above its start
    "lrhigh_gru_stuck_tensorboard": ("lrhigh_gru_adam", 0, 0, "tensorboard+loss-only", "tune"),
    # JSONL: BatchNorm CNN left in eval mode after the first of 4 evaluations per epoch; the loss drops ×0.55 there,
    # but the few points on each side of the evaluation scatter too much to show the step by themselves
    "leak_batchnorm_noisy_step_jsonl": ("eval_leak_batchnorm_cnn_sgd", 2, 200, "jsonl"),
    # Lightning CSV: an exploding RNN validated twice per epoch; the loss sits lower after the evaluation in most
    # epochs, but the shift has half faded by the second half of the steps after it
    "explode_cosine_lightning_fading_shift": ("explode_rnn_cosine", 2, 200, "lightning"),
    # HF 5-step means: a loss summed over the batch, 12 batches of 128 and one of 8 per epoch; the window holding
    # the short batch sits ×0.9 of the trend, lower in all 13 epochs
    "plb_sum_hf_window_means": ("plb_sum_mlp", 0, 202, "hf[logging_steps=5]"),
    # HF, one step per log: log(sigmoid) reaches 0 and the loss NaN; the filter logs 0.0 beside a NaN gradient
    # norm at step 38, after losses that had come down to 0.0004
    "numinst_hf_zero_with_nan_gradient": ("numinst_log_sigmoid_adam", 2, 203, "hf"),
    # HF 5-step means of a healthy GRU, 5 epochs of 32 steps: two later epoch pairs of 6 points correlate 0.40
    "healthy_gru_hf_six_point_epochs": ("healthy_b_gru_adam", 0, 205, "hf[logging_steps=5]"),
    # Lightning CSV: a CNN under SGD at lr 0.03 climbs through the epoch before MultiStepLR's first decay (x0.1)
    # and falls after it; the two lines meet at the decay, so the level does not step
    "schedule_turn_lightning": ("schedule_multistep_cnn_sgd", 1, 1, "lightning", "tune"),
    # HF, one step per log: the NaN filter writes a NaN loss as exactly 0.0
    "numinst_hf_nan_written_as_zero": ("numinst_log_sigmoid_adam", 1, 101, "hf"),
    # text log: an fp16 loss that is noisy right before its NaN, with no rise beyond the scatter
    "numinst_half_noisy_before_nan_text": ("numinst_half_log_softmax", 2, 101, "text"),
    # JSONL: the classic LR staircase, a plateau that starts falling again at each MultiStepLR decay
    "schedule_staircase_jsonl": ("schedule_multistep_cnn_sgd", 0, 1, "jsonl", "tune"),
    # text log with the gradient norm: an IRNN whose gradient blows up now and then, each spike led by the norm
    "explode_sgd_cycle_text": ("explode_rnn_sgd", 1, 101, "text"),
    # HF 5-step means: a short last batch (8 of 64) whose double mean the windows dilute
    "plb_double_mean_hf_window_means": ("plb_double_mean_mlp_sgd", 2, 101, "hf[logging_steps=5]"),
    # HF, one step per log: Adam near convergence; the loss rounds to 0, the gradient norm climbs
    "anc_linear_rounded_hf": ("anc_linear_adam", 0, 101, "hf"),
    # HF, one step per log: bad samples whose spikes happen to fall near epoch edges
    "outlier_gru_near_epoch_edges_hf": ("outlier_gru_adam", 0, 101, "hf"),
    # text log: an epoch sawtooth whose first epoch is the initial fall
    "sawtooth_mlp_initial_fall_text": ("sawtooth_mlp_adam", 1, 101, "text"),
    # TensorBoard, loss only: a ×1.1 ramp per 32-step epoch, found by folding at that period
    "sawtooth_gru_period_tensorboard": ("sawtooth_gru_adam", 1, 1, "tensorboard+loss-only", "tune"),
    # TensorBoard, loss only: the 32-step fold stands out by only ~4.5 robust spreads, 10 of 11 epochs ramp up
    "sawtooth_gru_weak_period_tensorboard": ("sawtooth_gru_adam", 1, 101, "tensorboard+loss-only"),
    # text log: class-sorted data whose repeated order shows only once training settles
    "unshuffled_sorted_settles_late_text": ("unshuffled_sorted_mlp_sgd", 0, 101, "text"),
    # Keras per-batch CSV: a short last batch (16 of 32) diluted by Keras's running mean over the epoch
    "plb_double_mean_keras_running_mean": ("plb_double_mean_mlp_sgd", 1, 101, "keras_batch"),
    # Lightning CSV: a GRU sawtooth ramping ×1.07 within each epoch, an evaluation every epoch
    "sawtooth_gru_eval_ramp_lightning": ("sawtooth_gru_adam", 1, 200, "lightning"),
    # HF, one step per log: an MLP sawtooth whose first epoch holds the initial fall (×1.4 above the trend at its
    # start); the other five epochs all ramp up
    "sawtooth_mlp_first_epoch_fall_hf": ("sawtooth_mlp_adam", 0, 100, "hf"),
    # W&B export: log(sigmoid) saturates, the loss ×3.5 up while the gradient norm falls, into inf
    "numinst_sigmoid_saturates_wandb": ("numinst_log_sigmoid_adam", 0, 200, "wandb"),
    # text log: a GRU under Adam at lr 0.2 stalls near its start while validation rises from one good first point
    "lrhigh_gru_stalled_val_rising_text": ("lrhigh_gru_adam", 0, 201, "text"),
    # W&B export: 5 bad samples spike every epoch; 3 of ~20 spikes happen to follow a large gradient
    "outlier_gru_few_gradient_led_wandb": ("outlier_gru_adam", 2, 201, "wandb"),
    # JSONL: warm restarts every epoch and three chance spikes (1, 1, 1, 0 per epoch)
    "schedule_restarts_chance_spikes_jsonl": ("schedule_restarts_mlp_adamw", 0, 203, "jsonl"),
    # HF 5-step means: fp16 steps skipped when non-finite; every logged loss is finite, the gradient norms NaN
    "numinst_half_skipped_hf_window_means": ("numinst_half_log_softmax", 0, 100, "hf[logging_steps=5]"),
    # HF 5-step means: a run dead of NaN in its first epoch logs 4 finite windows, then a NaN eval loss
    "numinst_sigmoid_nan_validation_hf_window_means": ("numinst_log_sigmoid_adam", 1, 101, "hf[logging_steps=5]"),
    # Lightning CSV: a transformer at lr 0.2 without warmup jumps ×1.38 on its first update
    "lrhigh_transformer_first_update_lightning": ("lrhigh_transformer_adam", 2, 101, "lightning"),
    # JSONL, loss only: batches of 8 with label noise; the first batch's 0.86 is a lucky low point, no overshoot
    "sbn_mlp_lucky_first_batch_jsonl": ("sbn_mlp_sgd", 0, 0, "jsonl+loss-only", "tune"),
    # JSONL: BatchNorm left in eval mode, 24 evaluations that swing 0.03–0.2, none a rise
    "leak_batchnorm_noisy_validation_jsonl": ("eval_leak_batchnorm_cnn_sgd", 2, 100, "jsonl"),
    # text log: a GRU at lr 0.2 climbs 3.9 → 4.9 in its first tenth and never gets back below its start
    "lrhigh_gru_never_below_start_text": ("lrhigh_gru_adam", 0, 101, "text"),
    # JSONL, loss only: sorted by class, no short batch; the last two batches of every epoch sit low together
    "unshuffled_sorted_low_last_batches_jsonl": ("unshuffled_sorted_mlp_sgd", 2, 100, "jsonl+loss-only"),
    # JSONL, loss only: BatchNorm left in eval mode after the mid-epoch evaluation; the loss falls ×0.35 there
    "leak_batchnorm_loss_only_jsonl": ("eval_leak_batchnorm_cnn_sgd", 1, 101, "jsonl+loss-only"),
    # TensorBoard, loss only: 3 mislabelled sequences give 13 one-step spikes of ×70 to ×1,700, no epoch marks
    "outlier_gru_no_epochs_tensorboard": ("outlier_gru_adam", 1, 101, "tensorboard+loss-only"),
    # HF 5-step means: 24-step epochs (4.8 points each) of data from fixed sources in a fixed order
    "unshuffled_sources_hf_window_means": ("unshuffled_sources_transformer_adamw", 1, 101, "hf[logging_steps=5]"),
    # JSONL, loss only: a transformer at lr 0.1 goes 3.65 → 5.41 at step 2, then sits at its unigram plateau
    "lrhigh_transformer_short_overshoot_jsonl": ("lrhigh_transformer_adam", 0, 1, "jsonl+loss-only", "tune"),
    # HF 5-step means: a transformer at lr 0.15 overshoots in the first window, then sits at its unigram plateau
    "lrhigh_transformer_plateau_hf_window_means": ("lrhigh_transformer_adam", 1, 100, "hf[logging_steps=5]"),
    # HF 5-step means, 4 points per epoch: a short last batch at one fixed position, no repeated order
    "plb_sum_odd_position_hf_window_means": ("plb_sum_mlp", 0, 0, "hf[logging_steps=5]", "tune"),
    # HF 5-step means: an overfitting MLP, windows after each of two evaluations per epoch a little higher
    "overfit_mlp_eval_rise_hf_window_means": ("overfit_mlp_adam", 1, 0, "hf[logging_steps=5]", "tune"),
    # HF 5-step means: AdamW at lr 0.15 on a GRU; the tenths swing 2.2–3.3 and the run ends where it was
    "lrhigh_gru_stall_hf_window_means": ("lrhigh_gru_adam", 2, 101, "hf[logging_steps=5]"),
    # TensorBoard, loss only: small-batch noise in a log without epoch marks or validation
    "sbn_text_no_epochs_tensorboard": ("sbn_text_adamw", 1, 0, "tensorboard+loss-only", "tune"),
    # JSONL: the same run with epochs and validation
    "sbn_text_with_epochs_jsonl": ("sbn_text_adamw", 1, 0, "jsonl", "tune"),
    # JSONL: four warm restarts kick the loss alike; two come while the loss still falls fast
    "schedule_restarts_four_jumps_jsonl": ("schedule_restarts_mlp_adamw", 0, 101, "jsonl"),
    # JSONL: dropout left off after the first of three evaluations per epoch; the loss drops ×0.85 in all 5 epochs
    "leak_dropout_every_epoch_jsonl": ("eval_leak_dropout_mlp_adam", 0, 101, "jsonl"),
    # JSONL with the gradient norm: an IRNN whose gradient explodes now and then
    "explode_sgd_jsonl": ("explode_rnn_sgd", 0, 100, "jsonl"),
    # TensorBoard, loss only: the same run without its gradient norm
    "explode_sgd_loss_only_tensorboard": ("explode_rnn_sgd", 0, 100, "tensorboard+loss-only"),
    # TensorBoard, loss only: bad batches whose spikes momentum carries over a few steps
    "outlier_mlp_momentum_tensorboard": ("outlier_mlp_sgd", 0, 1, "tensorboard+loss-only", "tune"),
    # JSONL, loss only: BatchNorm left in eval mode; small level shifts at the evaluations
    "leak_batchnorm_eval_shifts_jsonl": ("eval_leak_batchnorm_cnn_sgd", 1, 1, "jsonl+loss-only", "tune"),
    # hard pairs, JSONL, first tune parameter set, seed 0: spikes once per epoch in a short last batch
    "pair_plb_double_mean_jsonl": ("plb_double_mean_mlp_sgd", 0, 0, "jsonl", "tune"),
    # hard pairs: spikes once per epoch from bad samples at moving positions in full batches
    "pair_outlier_mlp_jsonl": ("outlier_mlp_sgd", 0, 0, "jsonl", "tune"),
    # hard pairs: a repeated fine-grained order of class-sorted data
    "pair_unshuffled_sorted_jsonl": ("unshuffled_sorted_mlp_sgd", 0, 0, "jsonl", "tune"),
    # hard pairs: a level shift at evaluations (dropout left off)
    "pair_leak_dropout_jsonl": ("eval_leak_dropout_mlp_adam", 0, 0, "jsonl", "tune"),
    # hard pairs: a sustained climb at too high an LR
    "pair_lrhigh_tanh_jsonl": ("lrhigh_tanh_mlp_sgd", 0, 0, "jsonl", "tune"),
    # hard pairs: sporadic gradient blow-ups of an RNN
    "pair_explode_cosine_jsonl": ("explode_rnn_cosine", 0, 0, "jsonl", "tune"),
    # hard pairs: validation turns up while training falls
    "pair_overfit_mlp_jsonl": ("overfit_mlp_adam", 0, 0, "jsonl", "tune"),
    # hard pairs: a healthy GRU
    "pair_healthy_gru_jsonl": ("healthy_b_gru_adam", 0, 0, "jsonl", "tune"),
    # hard pairs: a healthy MLP under AdamW
    "pair_healthy_mlp_jsonl": ("healthy_b_mlp_adamw", 0, 0, "jsonl", "tune"),
    # Keras per-batch CSV: log(sigmoid) reaches NaN at step 58 from a loss that scatters 0.004-0.2 (smooth at first,
    # a running mean); its luckiest block of 5 points is x6 below the last 3 points, by noise alone
    "numinst_keras_noisy_before_nan": ("numinst_log_sigmoid_adam", 0, 1, "keras_batch", "tune"),
    # console text and W&B export: a tanh MLP under SGD at lr 0.25 whose loss climbs ×1e34 in three epochs of 16
    # steps before it turns inf/NaN; the climb's curvature repeats in each epoch
    "lrhigh_tanh_diverges_text": ("lrhigh_tanh_mlp_sgd", 1, 202, "text"),
    "lrhigh_tanh_diverges_wandb": ("lrhigh_tanh_mlp_sgd", 1, 203, "wandb"),
    # HF log of 5-step means: log(sigmoid) turns NaN at step 35, where the loop stops; the NaN filter hides it
    # from the loss, and only the gradient norm logged at that step is NaN
    "numinst_hf_nan_gradient_at_stop": ("numinst_log_sigmoid_adam", 1, 203, "hf[logging_steps=5]"),
    # console text: a GRU under Adam at lr 0.2 whose training loss never gets far below its start and stays there,
    # while its validation loss climbs from 3.46 to 4.99
    "lrhigh_gru_validation_climbs_text": ("lrhigh_gru_adam", 0, 205, "text"),
    # Lightning CSV: a CNN under SGD at lr 0.04 whose validation swings 0.59-0.91 before MultiStepLR's first decay
    # and settles at 0.65-0.67 after it; its loss wanders up through the epoch before the decay and falls after
    "schedule_lucky_best_validation_lightning": ("schedule_multistep_cnn_sgd", 1, 101, "lightning"),
}


def main(only: list[str]) -> None:
    """Write every run, or only the folders named (the others' runtime columns would churn)."""
    _load_families()
    for folder, (family, index, seed, label, *split) in RUNS.items():
        if only and folder not in only:
            continue
        fam = FAMILIES[family]
        (view,) = [v for v in DEFAULT_VIEWS if v.label == label]
        tune = split == ["tune"]
        params = _freeze((fam.tune if tune else fam.report)[index])
        variant = Variant(family, fam.cause, params, seed, view, "tune" if tune else "report", folder)
        with tempfile.TemporaryDirectory() as tmp:
            written = write_variant(variant, Path(tmp))
            target = HERE / folder
            shutil.rmtree(target, ignore_errors=True)
            target.mkdir()
            for file in [written] if written.is_file() else written.rglob("*"):
                if file.is_file():
                    dest = target / (file.name if written.is_file() else file.relative_to(written))
                    dest.parent.mkdir(parents=True, exist_ok=True)
                    shutil.copy(file, dest)
        print(folder, "->", sorted(p.name for p in target.rglob("*") if p.is_file()))


if __name__ == "__main__":
    main(sys.argv[1:])
