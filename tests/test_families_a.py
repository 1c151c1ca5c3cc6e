"""The `a_*` scenario families really show their cause in the recorded numbers, and write readable logs.

Each family's tune variants are trained once per session (`catalog.train_variant` caches them); every
assertion is a direct measurement on the per-step records, not on a lossdoctor check.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("torch")

from lossdoctor.readers import read
from lossdoctor.scenarios import catalog
from lossdoctor.scenarios.catalog import FAMILIES, LogView, Variant, train_variant, variants, write_variant
from lossdoctor.scenarios.records import TrainLog

BY_CAUSE = {
    "overfitting": ("overfit_mlp_adam", "overfit_cnn_sgd"),
    "unshuffled_data": ("unshuffled_sorted_mlp_sgd", "unshuffled_sources_transformer_adamw"),
    "lr_schedule_jumps": ("schedule_multistep_cnn_sgd", "schedule_restarts_mlp_adamw"),
    "eval_mode_leak": ("eval_leak_dropout_mlp_adam", "eval_leak_batchnorm_cnn_sgd"),
    "epoch_sawtooth": ("sawtooth_gru_adam", "sawtooth_mlp_adam"),
}
OURS = tuple(name for names in BY_CAUSE.values() for name in names)


def runs(family: str) -> Iterator[tuple[dict, int, TrainLog]]:
    """Every tune (params, seed) of a family with its cached run."""
    for params in FAMILIES[family].tune:
        for seed in catalog.SEEDS["tune"]:
            yield dict(params), seed, train_variant(family, catalog._freeze(params), seed)


def epochs_matrix(log: TrainLog) -> np.ndarray:
    spe = log.steps_per_epoch
    losses = np.array(log.losses)
    return losses[: len(losses) // spe * spe].reshape(-1, spe)


def profile_correlation(log: TrainLog) -> float:
    """Mean correlation of consecutive epochs' per-step loss profiles (first epoch skipped), each epoch
    detrended by its own linear fit so that a falling trend alone does not count as a repeat."""
    profiles = epochs_matrix(log)[1:]
    t = np.arange(profiles.shape[1])
    resid = [row - np.polyval(np.polyfit(t, row, 1), t) for row in profiles]
    return float(np.mean([np.corrcoef(a, b)[0, 1] for a, b in itertools.pairwise(resid)]))


def lr_change_ratios(log: TrainLog, lag: int = 2, width: int = 12) -> list[tuple[int, str, float]]:
    """(step, 'up'/'down', median loss after / median loss before) at every step where the LR jumps ×2."""
    losses = np.array(log.losses)
    lr = np.array([r.lr for r in log.steps])
    out = []
    for s in range(width, len(lr) - lag - width):
        if lr[s] > 2 * lr[s - 1] or lr[s] < 0.5 * lr[s - 1]:
            ratio = np.median(losses[s + lag : s + lag + width]) / np.median(losses[s - width : s])
            out.append((s, "up" if lr[s] > lr[s - 1] else "down", float(ratio)))
    return out


def test_families_registered_with_split_sizes() -> None:
    catalog._load_families()
    for cause, names in BY_CAUSE.items():
        for name in names:
            fam = FAMILIES[name]
            assert fam.cause == cause and len(fam.tune) == 2 and len(fam.report) == 3
            assert not {catalog._freeze(p) for p in fam.tune} & {catalog._freeze(p) for p in fam.report}


@pytest.mark.parametrize("family", BY_CAUSE["overfitting"])
def test_overfitting_val_turns_up_while_train_falls(family: str) -> None:
    for params, seed, log in runs(family):
        vals = np.array([e.val_loss for e in log.evals])
        best = int(vals.argmin())
        assert vals[-1] >= 1.2 * vals.min(), (params, seed, vals.min(), vals[-1])
        assert best < 0.8 * len(vals)
        epochs = epochs_matrix(log).mean(axis=1)
        best_epoch = log.evals[best].epoch
        assert epochs[-1] < 0.5 * epochs[best_epoch], (params, seed)  # train still falling after val's best


@pytest.mark.parametrize("family", BY_CAUSE["unshuffled_data"])
def test_unshuffled_profile_repeats_and_shuffled_twin_does_not(family: str) -> None:
    for params, seed, log in runs(family):
        assert profile_correlation(log) >= 0.5, (params, seed)
    params = dict(FAMILIES[family].tune[0])
    twin = train_variant(family, catalog._freeze({**params, "shuffle": True}), 0)
    assert abs(profile_correlation(twin)) < 0.25


def test_multistep_loss_steps_down_at_lr_decays() -> None:
    ratios = []
    for params, seed, log in runs("schedule_multistep_cnn_sgd"):
        changes = lr_change_ratios(log, width=log.steps_per_epoch // 2)  # half an epoch: past the batch noise
        assert [s for s, _, _ in changes] == [m * log.steps_per_epoch for m in params["milestones"]]
        assert all(kind == "down" for _, kind, _ in changes)
        # a clear step down at one decay at least (which one depends on the run: its kernels move it)
        assert min(r for _, _, r in changes) < 0.95, (params, seed, changes)
        ratios += [r for _, _, r in changes]
    assert np.mean(ratios) < 0.9


def test_warm_restarts_loss_jumps_up_at_restarts() -> None:
    ratios = []
    for params, seed, log in runs("schedule_restarts_mlp_adamw"):
        ups = [r for s, kind, r in lr_change_ratios(log) if kind == "up" and s >= log.steps_per_epoch]
        assert ups and np.median(ups) > 1.1, (params, seed, ups)
        ratios += ups
    assert np.mean(np.array(ratios) > 1) >= 0.8


def test_schedule_runs_are_otherwise_healthy() -> None:
    for family in BY_CAUSE["lr_schedule_jumps"]:
        for _, _, log in runs(family):
            epochs = epochs_matrix(log).mean(axis=1)
            assert epochs[-1] < 0.7 * epochs[0]
            vals = [e.val_loss for e in log.evals]
            assert vals[-1] <= 1.1 * min(vals)


@pytest.mark.parametrize("family", BY_CAUSE["eval_mode_leak"])
def test_eval_leak_shifts_level_at_mid_epoch_eval_and_back_at_epoch_start(family: str) -> None:
    for params, seed, log in runs(family):
        spe = log.steps_per_epoch
        assert len(log.evals) == params["evals_per_epoch"] * log.epochs
        first = min(e.step % spe for e in log.evals)  # the first mid-epoch evaluation
        assert first < spe - 1
        m = epochs_matrix(log)
        after_over_before = leak_ratios(log)
        assert np.all(after_over_before < 0.95), (params, seed, after_over_before)
        assert np.median(after_over_before) < 0.85
        k = max(2, spe // 8)  # the first steps of an epoch vs the last steps of the epoch before
        back_up = m[1:, :k].mean(axis=1) / m[:-1, -k:].mean(axis=1)
        assert np.mean(back_up > 1) >= 0.75 and np.median(back_up) > 1.05, (params, seed, back_up)


def leak_ratios(log: TrainLog) -> np.ndarray:
    """Per epoch after the first: mean loss after the first mid-epoch evaluation / mean loss before it."""
    m = epochs_matrix(log)
    first = min(e.step % log.steps_per_epoch for e in log.evals)
    return m[1:, first + 1 :].mean(axis=1) / m[1:, : first + 1].mean(axis=1)


@pytest.mark.parametrize("family", BY_CAUSE["eval_mode_leak"])
def test_eval_leak_fixed_twin_has_no_shift(family: str) -> None:
    """The same run with `model.train()` before every step: only the learning trend is left."""
    params = dict(FAMILIES[family].tune[0])
    leak = train_variant(family, catalog._freeze(params), 0)
    fixed = train_variant(family, catalog._freeze({**params, "train_mode": "every_step"}), 0)
    assert np.median(leak_ratios(fixed)) > np.median(leak_ratios(leak)) + 0.1


@pytest.mark.parametrize("family", BY_CAUSE["epoch_sawtooth"])
def test_sawtooth_low_at_epoch_start_and_val_not_rising(family: str) -> None:
    for params, seed, log in runs(family):
        m = epochs_matrix(log)[max(2, log.epochs // 3) :]  # the steady state, after the fast early fall
        k = max(2, log.steps_per_epoch // 10)
        first_over_last = m[:, :k].mean(axis=1) / m[:, -k:].mean(axis=1)
        assert np.mean(first_over_last < 1) >= 0.7, (params, seed, first_over_last)
        assert np.median(first_over_last) < 0.97
        vals = np.array([e.val_loss for e in log.evals])
        assert vals[-1] <= 1.1 * vals.min(), (params, seed, vals)


def test_records_are_complete() -> None:
    for family in OURS:
        for _, _, log in runs(family):
            assert [r.step for r in log.steps] == list(range(len(log.steps)))
            assert all(np.isfinite(r.lr) and r.batch_size > 0 and np.isfinite(r.grad_norm) for r in log.steps)
            assert all(r.epoch == r.step // log.steps_per_epoch for r in log.steps)
            assert log.runtime_s < 10


@pytest.mark.parametrize("variant", [v for v in variants("tune") if v.family in OURS], ids=lambda v: v.name)
def test_every_tune_variant_writes_a_readable_log(variant: Variant, tmp_path: Path) -> None:
    path = write_variant(variant, tmp_path)
    run = read(path)
    loss = run.series["loss"]
    assert len(loss) > 0
    if variant.view.loss_only:
        assert "lr" not in run.series and "val_loss" not in run.series


LOG_EVERY = [
    ("hf", "logging_steps", 5),
    ("jsonl", "log_every", 10),
    ("text", "log_every", 10),
    ("tensorboard", "log_every", 10),
    ("wandb", "log_every", 10),
    ("keras_batch", "log_every", 10),
    ("lightning", "log_every_n_steps", 10),
]


@pytest.mark.parametrize(("fmt", "key", "every"), LOG_EVERY)
@pytest.mark.parametrize("loss_only", [False, True])
def test_coarse_logging_options_through_write_variant(
    fmt: str, key: str, every: int, loss_only: bool, tmp_path: Path
) -> None:
    family = "eval_leak_dropout_mlp_adam"
    params = catalog._freeze(FAMILIES[family].tune[0])
    variant = Variant(family, "eval_mode_leak", params, 0, LogView(fmt, ((key, every),), loss_only))
    log = train_variant(family, params, 0)
    run = read(write_variant(variant, tmp_path))
    assert len(run.series["loss"]) == len(log.steps) // every
    assert ("lr" in run.series) == (not loss_only and fmt not in ("keras_batch",))


def test_loss_only_jsonl_rows_hold_no_missing_fields(tmp_path: Path) -> None:
    family = "overfit_mlp_adam"
    params = catalog._freeze(FAMILIES[family].tune[0])
    path = write_variant(Variant(family, "overfitting", params, 0, LogView("jsonl", loss_only=True)), tmp_path)
    rows = [json.loads(line) for line in path.read_text().splitlines()]
    assert rows and all(set(r) == {"step", "epoch", "loss"} for r in rows)
