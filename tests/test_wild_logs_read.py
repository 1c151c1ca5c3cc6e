"""Every file of the wild-logs corpus is read (or refused for a stated reason), with facts from SOURCES.md."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from lossdoctor.errors import LogReadError
from lossdoctor.readers import read, read_all
from lossdoctor.run import Run

WILD = Path(__file__).resolve().parents[1].parent / "shared" / "wild-logs"
if not WILD.is_dir():
    pytest.skip("wild-logs corpus not present", allow_module_level=True)

REFUSED = {"text/003_console.log": "no loss values found"}
FILES = sorted(str(p.relative_to(WILD)) for p in WILD.rglob("*") if p.is_file() and p.suffix != ".md")
FOLDERS = sorted(str(p.relative_to(WILD)) for p in (WILD / "tensorboard").iterdir() if p.is_dir())


@pytest.mark.parametrize("name", FILES + FOLDERS)
def test_every_wild_log_reads(name: str) -> None:
    if name in REFUSED:
        with pytest.raises(LogReadError, match=REFUSED[name]):
            read(WILD / name)
        return
    run = read(WILD / name)
    assert run.format and len(run.loss) >= 1
    assert run.path == str(WILD / name)


def w(name: str) -> Run:
    return read(WILD / name)


def test_hf_002_skips_predict_entries() -> None:
    run = w("hf/002_trainer_state.json")
    assert run.format == "hf_trainer_state"
    assert len(run.loss) == 10 and len(run.series["val_loss"]) == 10
    assert not any(k.startswith("predict_") for k in run.series)
    assert any("10 log_history entries without a step" in n for n in run.facts.notes)
    assert run.facts.loss_window == 500 and run.facts.batch_size == 6
    assert run.facts.steps_per_epoch == pytest.approx(549)
    assert run.facts.nan_filtered


def test_hf_001_epoch_resets_and_old_format() -> None:
    run = w("hf/001_trainer_state.json")
    assert len(run.loss) == 2000 and len(run.series["val_loss"]) == 100
    assert run.facts.loss_window == 50  # inferred: old format has no logging_steps
    assert 5000 < run.facts.steps_per_epoch < 20000
    assert run.loss.steps[-1] == 100000
    assert "train_loss" not in run.series  # the summary entry is not a point
    assert np.allclose(run.series["lr"].values[-5:], 3e-6)


def test_hf_others() -> None:
    assert len(w("hf/012_trainer_state.json").loss) == 1
    dpo = w("hf/010_trainer_state.json")
    assert "rewards/margins" in dpo.series and dpo.facts.loss_window == 1
    assert dpo.series["grad_norm"].values.max() == pytest.approx(63.8, abs=0.1)
    assert "val_loss" not in w("hf/006_trainer_state.json").series
    ner = w("hf/005_trainer_state.json")
    assert ner.facts.steps_per_epoch == pytest.approx(1455)
    assert ner.series["val_loss"].values.min() == pytest.approx(0.407, abs=1e-3)
    assert w("hf/009_trainer_state.json").series["grad_norm"].values.max() == pytest.approx(64.1, abs=0.1)


def test_lightning() -> None:
    run = w("lightning/001_metrics.csv")
    assert run.format == "lightning_csv" and run.facts.framework == "lightning"
    assert len(run.loss) == 156 and len(run.series["val_loss"]) == 21
    assert run.facts.steps_per_epoch == 391
    slm = w("lightning/003_metrics.csv")
    assert "train_loss_epoch" in slm.series and slm.loss.steps[0] == 49  # per-step wins over epoch
    assert slm.facts.steps_per_epoch == 14074
    assert w("lightning/004_metrics.csv").loss.steps[0] == 140749
    one = w("lightning/008_metrics.csv")
    assert len(one.loss) == 1 and one.loss.values[0] == pytest.approx(7.1477203)
    assert any("train_loss_ssl" in n for n in one.facts.notes)


def test_keras() -> None:
    assert len(read_all(WILD / "keras/003_training_log.csv")) == 4
    assert [len(r.loss) for r in read_all(WILD / "keras/003_training_log.csv")] == [5, 4, 10, 5]
    last = w("keras/003_training_log.csv")
    assert any("holds 4 runs" in n for n in last.facts.notes)
    crlf = w("keras/004_training_log.csv")  # \r\r\n line endings
    assert len(crlf.loss) == 30 and crlf.facts.step_unit == "epoch"
    assert crlf.series["lr"].values[-1] < crlf.series["lr"].values[0]
    assert w("keras/001_training.log").series["lr"].values[8] == pytest.approx(4.0000003e-05, rel=1e-6)
    assert w("keras/002_training.log").loss.values[-1] < -6e7
    deepfd = w("keras/008_log.csv")
    assert len(deepfd.loss) == 100 and deepfd.loss.steps[0] == 0


def test_yolo_results_loss_is_sum_of_components() -> None:
    run = w("tensorboard/run02/results.csv")
    assert run.format == "yolo_csv" and len(run.loss) == 150
    parts = sum(run.series[k].values for k in ("train/box_loss", "train/obj_loss", "train/cls_loss"))
    assert np.allclose(run.loss.values, parts)
    assert "val_loss" in run.series


def test_tensorboard() -> None:
    run = w("tensorboard/run04")
    assert run.format == "tensorboard"
    assert list(run.loss.steps) == [99, 149]
    assert run.loss.values[0] == pytest.approx(21.2, abs=0.5)
    yolo = w("tensorboard/run02")
    assert len(yolo.loss) == 150 and "metrics/mAP_0.5" in yolo.series
    assert any("events.out.tfevents" in n for n in yolo.facts.notes)


def test_text() -> None:
    blocks = w("text/001_console.log")
    assert blocks.format == "text" and len(blocks.loss) == 30 and len(blocks.series["val_loss"]) == 30
    assert blocks.loss.values[0] == pytest.approx(7.3251) and blocks.facts.step_unit == "epoch"
    assert blocks.facts.batch_size == 128
    assert len(w("text/002_console.log").loss) == 25
    hf = w("text/004_slurm.out")
    assert len(hf.loss) == 29 and len(hf.series["val_loss"]) == 10
    assert hf.facts.framework == "huggingface" and hf.facts.loss_window == 500
    assert hf.loss.steps[-1] == 14500
