"""Scenarios really show their phenomenon, and every writer lays the run out as the framework does."""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("torch")

from lossdoctor.scenarios import ALL_FORMATS, SCENARIOS, run_scenario, train_scenario
from lossdoctor.scenarios.logwriters.keras import running_means


def _epoch_last_ratios(name: str) -> np.ndarray:
    log = train_scenario(name)
    losses = np.array(log.losses)
    spe = log.steps_per_epoch
    epochs = losses.reshape(-1, spe)
    return epochs[:, -1] / np.median(epochs, axis=1)


def _residual_noise(losses: np.ndarray, window: int = 25) -> float:
    """Std of the loss around its moving-average trend, relative to the trend."""
    trend = np.convolve(losses, np.ones(window) / window, mode="valid")
    resid = losses[window // 2 : window // 2 + len(trend)] - trend
    return float(resid.std() / trend.mean())


def test_partial_last_batch_spikes_every_epoch() -> None:
    ratios = _epoch_last_ratios("seed003_partial_last_batch")
    assert np.median(ratios) >= 4
    assert ratios.min() >= 2
    log = train_scenario("seed003_partial_last_batch")
    assert {r.batch_size for r in log.steps if r.batch == log.steps_per_epoch - 1} == {8}
    norms = np.array([r.grad_norm for r in log.steps]).reshape(-1, log.steps_per_epoch)
    assert np.all(norms[:, -1] > 3 * np.median(norms, axis=1))


def test_fixed_run_has_no_epoch_end_spike() -> None:
    ratios = _epoch_last_ratios("seed003_fixed")
    assert np.median(ratios) < 1.5
    assert ratios.max() < 3
    log = train_scenario("seed003_fixed")
    assert log.evals[-1].val_loss < 0.5 * log.evals[0].val_loss


def test_adam_reaches_tiny_loss_then_climbs_back() -> None:
    losses = np.array(train_scenario("seed002_adam_near_convergence").losses)
    assert len(losses) == 5000
    low = int(losses.argmin())
    assert losses[low] < 1e-9
    assert losses[low:].max() > 1e3 * losses[low]
    assert losses[-500:].mean() > 1e6 * losses[low]


@pytest.mark.parametrize("name", [n for n in SCENARIOS if n.startswith("seed001")])
def test_small_batch_noise_is_large_around_a_falling_trend(name: str) -> None:
    log = train_scenario(name)
    losses = np.array(log.losses)
    assert {r.batch_size for r in log.steps} == {8}
    assert losses[-150:].mean() < losses[:20].mean()
    assert _residual_noise(losses) > 0.25
    vals = [e.val_loss for e in log.evals]
    assert vals[-1] <= vals[0] + 0.02


def test_small_batch_noise_alike_across_lrs() -> None:
    levels = [_residual_noise(np.array(train_scenario(n).losses)) for n in SCENARIOS if n.startswith("seed001")]
    assert max(levels) < 1.5 * min(levels)


def test_gru_evaluates_four_times_per_epoch_and_high_lr_grows() -> None:
    low, high = train_scenario("seed000_gru_lr1e-3"), train_scenario("seed000_gru_lr5e-2")
    assert len(high.evals) == 4 * high.epochs
    quarters = np.array([e.train_loss for e in high.evals]).reshape(high.epochs, 4)
    assert quarters[2:, 0].mean() < quarters[2:, 3].mean() - 0.1  # lowest right after the epoch starts
    assert quarters[-1].mean() > quarters[2].mean()  # the train loss grows at lr 5e-2
    assert high.evals[-1].val_loss > min(e.val_loss for e in high.evals) + 0.3
    assert low.evals[-1].val_loss < low.evals[0].val_loss - 1
    assert SCENARIOS["seed000_gru_lr5e-2"].cause == "lr_too_high"


@pytest.mark.parametrize("name", ["healthy_mlp_warmup_cosine", "healthy_cnn_adamw"])
def test_healthy_runs_are_unremarkable(name: str) -> None:
    log = train_scenario(name)
    losses = np.array(log.losses)
    assert {r.batch_size for r in log.steps} == {log.batch_size} and log.batch_size >= 32
    assert np.all(np.isfinite(losses))
    assert losses[-log.steps_per_epoch :].mean() < 0.2 * losses[: log.steps_per_epoch].mean()
    vals = [e.val_loss for e in log.evals]
    assert vals[-1] == pytest.approx(min(vals), rel=0.15)
    assert np.median(_epoch_last_ratios(name)) < 1.5


def test_records_are_deterministic_and_consistent() -> None:
    log = train_scenario("seed003_fixed")
    again = SCENARIOS["seed003_fixed"].train(0, None)
    assert again.losses == log.losses
    assert [r.step for r in log.steps] == list(range(len(log.steps)))
    assert all(r.epoch == r.step // log.steps_per_epoch for r in log.steps)


@pytest.fixture(scope="module")
def written(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    out = tmp_path_factory.mktemp("seed003")
    return run_scenario("seed003_partial_last_batch", out).files


def test_every_format_written(written: dict[str, Path]) -> None:
    assert set(written) == set(ALL_FORMATS)
    assert all(p.is_file() and p.stat().st_size > 0 for p in written.values())


def test_jsonl_rows(written: dict[str, Path]) -> None:
    log = train_scenario("seed003_partial_last_batch")
    rows = [json.loads(line) for line in written["jsonl"].read_text().splitlines()]
    steps = [r for r in rows if "loss" in r]
    assert len(steps) == len(log.steps)
    assert set(steps[0]) == {"step", "epoch", "loss", "lr", "batch_size", "grad_norm"}
    assert next(r for r in rows if "val_loss" in r) == {"step": 29, "val_loss": log.evals[0].val_loss}


def test_hf_trainer_state_averages_like_the_trainer(tmp_path: Path) -> None:
    log = train_scenario("seed003_partial_last_batch")
    path = run_scenario("seed003_partial_last_batch", tmp_path, ["hf"], options={"hf": {"logging_steps": 10}})
    state = json.loads(path.files["hf"].read_text())
    assert state["logging_steps"] == 10 and state["global_step"] == len(log.steps)
    assert state["train_batch_size"] == 128 and state["num_train_epochs"] == log.epochs
    train = [e for e in state["log_history"] if "loss" in e]
    assert train[0]["step"] == 10
    assert train[0]["loss"] == round(sum(log.losses[:10]) / 10, 4)
    assert train[2]["loss"] == round(sum(log.losses[20:30]) / 10, 4)
    assert set(train[0]) == {"epoch", "grad_norm", "learning_rate", "loss", "step"}
    evals = [e for e in state["log_history"] if "eval_loss" in e]
    assert evals[0]["step"] == 30 and evals[0]["epoch"] == 1.0
    assert "train_loss" in state["log_history"][-1]


def test_hf_default_logs_every_step(written: dict[str, Path]) -> None:
    state = json.loads(written["hf"].read_text())
    assert len([e for e in state["log_history"] if "loss" in e]) == state["global_step"]


def test_hf_filters_nan_like_the_trainer(tmp_path: Path) -> None:
    from dataclasses import replace

    from lossdoctor.scenarios.logwriters import hf

    log = train_scenario("seed003_fixed")
    steps = list(log.steps)
    steps[4] = replace(steps[4], loss=math.nan)  # right after a log at step 4 (1-based) with logging 2
    steps[7] = replace(steps[7], loss=math.nan)  # second step of a window
    state = json.loads(hf.write(replace(log, steps=tuple(steps)), tmp_path, logging_steps=2).read_text())
    train = [e for e in state["log_history"] if "loss" in e]
    losses = log.losses
    assert train[2]["loss"] == round((0 + losses[5]) / 2, 4)
    assert train[3]["loss"] == round((losses[6] + losses[6] / 2) / 2, 4)


def test_lightning_csv_layout(written: dict[str, Path], tmp_path: Path) -> None:
    raw = written["lightning"].read_bytes()
    assert raw.startswith(b"epoch,lr-SGD,step,train_loss,val_loss\r\n")
    rows = list(csv.DictReader(written["lightning"].open(newline="")))
    val = [r for r in rows if r["val_loss"]]
    assert val[0]["step"] == "29" and val[0]["epoch"] == "0" and val[0]["train_loss"] == ""
    coarse = run_scenario("seed003_fixed", tmp_path, ["lightning"], options={"lightning": {"log_every_n_steps": 50}})
    steps = [r["step"] for r in csv.DictReader(coarse.files["lightning"].open(newline="")) if r["train_loss"]]
    assert steps[:3] == ["49", "99", "149"]


def test_keras_batch_is_a_running_mean(written: dict[str, Path]) -> None:
    log = train_scenario("seed003_partial_last_batch")
    rows = list(csv.DictReader(written["keras_batch"].open(newline="")))
    assert len(rows) == len(log.steps)
    first = log.steps[:3]
    assert float(rows[2]["loss"]) == pytest.approx(sum(r.loss for r in first) / 3, rel=1e-6)
    assert rows[30]["batch"] == "0" and float(rows[30]["loss"]) == pytest.approx(log.steps[30].loss, rel=1e-6)
    means = running_means(log)
    last = log.steps[29]
    epoch0 = log.steps[:30]
    weighted = sum(r.loss * r.batch_size for r in epoch0) / sum(r.batch_size for r in epoch0)
    assert means[last.step] == pytest.approx(weighted)


def test_keras_epoch_csv(written: dict[str, Path]) -> None:
    log = train_scenario("seed003_partial_last_batch")
    rows = list(csv.DictReader(written["keras_epoch"].open(newline="")))
    assert list(rows[0]) == ["epoch", "learning_rate", "loss", "val_loss"]
    assert len(rows) == log.epochs
    assert float(rows[0]["val_loss"]) == pytest.approx(log.evals[0].val_loss, rel=1e-6)


def test_tensorboard_reads_back(written: dict[str, Path]) -> None:
    loader = pytest.importorskip("tensorboard.backend.event_processing.event_file_loader")
    scalars: dict[str, list[tuple[int, float]]] = {}
    for event in loader.EventFileLoader(str(written["tensorboard"])).Load():
        for value in event.summary.value:
            number = value.simple_value if value.HasField("simple_value") else float(value.tensor.float_val[0])
            scalars.setdefault(value.tag, []).append((event.step, number))
    log = train_scenario("seed003_partial_last_batch")
    assert {"train/loss", "train/lr", "train/grad_norm", "val/loss"} <= set(scalars)
    assert len(scalars["train/loss"]) == len(log.steps)
    assert scalars["train/loss"][29] == (29, pytest.approx(log.steps[29].loss, rel=1e-6))


def test_text_and_wandb(written: dict[str, Path]) -> None:
    text = written["text"].read_text()
    assert "[epoch 1, batch 30] loss: " in text and "val_loss: " in text
    rows = list(csv.DictReader(written["wandb"].open(newline="")))
    header = ["_step", "_runtime", "_timestamp", "train/epoch", "train/loss", "train/lr", "train/grad_norm", "val/loss"]
    assert list(rows[0]) == header
    assert rows[0]["val/loss"] == "" and rows[29]["val/loss"] != ""
    assert float(rows[29]["train/epoch"]) == 1.0  # HF's W&B integration: epochs completed after the step


def test_progress_callback_reports_each_epoch(tmp_path: Path) -> None:
    lines: list[str] = []
    run_scenario("healthy_cnn_adamw", tmp_path, ["jsonl"], progress=lines.append)
    assert len(lines) == train_scenario("healthy_cnn_adamw").epochs
    assert lines[-1].startswith("epoch 5/5")
