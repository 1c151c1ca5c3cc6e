"""The guard inside real Hugging Face Trainer, Lightning and Keras 3 (torch backend) runs.

Each run trains a tiny model built in code with one poisoned sample whose target is NaN: without the
guard its NaN gradient destroys the weights; with it, that update is skipped and training goes on.
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")

from lossdoctor.guard import GUARD_LOG  # noqa: E402


@pytest.fixture(autouse=True)
def one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def guard_rows(folder: Path) -> list[dict]:
    return [json.loads(line) for line in (folder / GUARD_LOG).read_text().splitlines()]


def poisoned_regression(n: int = 96, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, 8, generator=g)
    y = x[:, :1] * 0.5 + 0.1 * torch.randn(n, 1, generator=g)
    y[17] = math.nan
    return x, y


# -- Hugging Face Trainer -----------------------------------------------------------------------------------

def hf_train(tmp_path: Path, guard: bool):
    transformers = pytest.importorskip("transformers")
    pytest.importorskip("accelerate")
    from lossdoctor.guard.hf import GuardCallback

    torch.manual_seed(0)
    config = transformers.BertConfig(vocab_size=40, hidden_size=16, num_hidden_layers=1, num_attention_heads=2,
                                     intermediate_size=32, max_position_embeddings=16, num_labels=1)
    model = transformers.BertForSequenceClassification(config)  # num_labels=1: MSE regression
    g = torch.Generator().manual_seed(1)
    ids = torch.randint(1, 40, (96, 8), generator=g)
    labels = (ids[:, 0] % 2).float()
    labels[17] = math.nan
    data = [{"input_ids": ids[i], "labels": labels[i]} for i in range(96)]
    args = transformers.TrainingArguments(output_dir=str(tmp_path), per_device_train_batch_size=8,
                                          num_train_epochs=2, learning_rate=1e-3, report_to=[], save_strategy="no",
                                          logging_steps=1, disable_tqdm=True, use_cpu=True)
    callbacks = [GuardCallback()] if guard else []
    trainer = transformers.Trainer(model=model, args=args, train_dataset=data, callbacks=callbacks)
    trainer.train()
    return model


def test_hf_trainer_guard_skips_the_nan_batch(tmp_path: Path) -> None:
    unguarded = hf_train(tmp_path / "plain", guard=False)
    assert not all(torch.isfinite(p).all() for p in unguarded.parameters())
    model = hf_train(tmp_path / "guarded", guard=True)
    assert all(torch.isfinite(p).all() for p in model.parameters())
    rows = guard_rows(tmp_path / "guarded")
    assert [r["step"] for r in rows] == list(range(1, 25))  # HF's global steps
    assert sum(r["guard_skip"] for r in rows) == 2  # the NaN sample's batch, once per epoch
    assert all(r["guard_loss"] is not None for r in rows if not r["guard_skip"])  # the loss reached the guard


# -- Lightning ---------------------------------------------------------------------------------------------

def lightning_train(tmp_path: Path, guard: bool):
    pl = pytest.importorskip("lightning.pytorch")
    from torch.utils.data import DataLoader, TensorDataset

    from lossdoctor.guard.lightning import GuardCallback

    class Regression(pl.LightningModule):
        def __init__(self) -> None:
            super().__init__()
            self.net = torch.nn.Sequential(torch.nn.Linear(8, 16), torch.nn.Tanh(), torch.nn.Linear(16, 1))

        def training_step(self, batch, batch_idx):
            x, y = batch
            loss = torch.nn.functional.mse_loss(self.net(x), y)
            self.log("train_loss", loss)
            return loss

        def configure_optimizers(self):
            return torch.optim.Adam(self.parameters(), lr=1e-2)

    pl.seed_everything(0, verbose=False)
    module = Regression()
    x, y = poisoned_regression()
    loader = DataLoader(TensorDataset(x, y), batch_size=8, shuffle=True)
    trainer = pl.Trainer(max_epochs=2, default_root_dir=str(tmp_path), logger=pl.loggers.CSVLogger(str(tmp_path)),
                         callbacks=[GuardCallback()] if guard else [], enable_progress_bar=False,
                         enable_model_summary=False, enable_checkpointing=False, log_every_n_steps=1,
                         accelerator="cpu", gradient_clip_val=10.0)
    trainer.fit(module, loader)
    return module, Path(trainer.log_dir)


def test_lightning_guard_skips_the_nan_batch(tmp_path: Path) -> None:
    plain, _ = lightning_train(tmp_path / "plain", guard=False)
    assert not all(torch.isfinite(p).all() for p in plain.parameters())
    module, log_dir = lightning_train(tmp_path / "guarded", guard=True)
    assert all(torch.isfinite(p).all() for p in module.parameters())
    rows = guard_rows(log_dir)  # next to metrics.csv
    assert (log_dir / "metrics.csv").exists() and [r["step"] for r in rows] == list(range(24))
    assert sum(r["guard_skip"] for r in rows) == 2
    assert all(r["guard_loss"] is not None for r in rows if not r["guard_skip"])


# -- Keras 3, torch backend --------------------------------------------------------------------------------

def keras_train(tmp_path: Path, guard: bool):
    if os.environ.get("KERAS_BACKEND", "torch") != "torch":
        pytest.skip("Keras runs here only with the torch backend")
    os.environ["KERAS_BACKEND"] = "torch"
    keras = pytest.importorskip("keras")
    from lossdoctor.guard.keras import GuardCallback

    keras.utils.set_random_seed(0)
    x, y = poisoned_regression()
    model = keras.Sequential([keras.Input((8,)), keras.layers.Dense(16, activation="tanh"), keras.layers.Dense(1)])
    model.compile(optimizer=keras.optimizers.Adam(1e-2), loss="mse")
    callbacks = [GuardCallback(log_dir=tmp_path)] if guard else []
    model.fit(x.numpy(), y.numpy(), batch_size=8, epochs=2, shuffle=True, verbose=0, callbacks=callbacks)
    return model


def test_keras_guard_skips_the_nan_batch_and_keeps_adam_state(tmp_path: Path) -> None:
    import numpy as np

    plain = keras_train(tmp_path, guard=False)
    assert not all(np.isfinite(w).all() for w in plain.get_weights())
    model = keras_train(tmp_path, guard=True)
    assert all(np.isfinite(w).all() for w in model.get_weights())
    assert all(np.isfinite(v.numpy()).all() for v in model.optimizer.variables)
    rows = guard_rows(tmp_path)
    assert len(rows) == 24 and sum(r["guard_skip"] for r in rows) == 2
    assert int(model.optimizer.iterations.numpy()) == 22  # skipped steps do not count as optimizer steps
