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
