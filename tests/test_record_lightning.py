"""The Lightning callback against the real Lightning Trainer, with a small module built in code."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pl = pytest.importorskip("lightning.pytorch")

from _record_runs import mlp, regression_data  # noqa: E402

import lossdoctor  # noqa: E402
from lossdoctor.integrations.lightning import LossdoctorCallback  # noqa: E402
from lossdoctor.prescribe import prescribe  # noqa: E402
from lossdoctor.record import read_store  # noqa: E402


class Regressor(pl.LightningModule):
    def __init__(self) -> None:
        super().__init__()
        self.net = mlp()
        self.seen: list[tuple[int, float, float]] = []  # (step, loss, pre-clip grad norm), the reference

    def training_step(self, batch, batch_idx):
        x, y = batch
        loss = torch.nn.functional.mse_loss(self.net(x), y)
        self._micro = [*getattr(self, "_micro", []), loss.item()]
        return loss

    def validation_step(self, batch, batch_idx):
        x, y = batch
        self.log("val_loss", torch.nn.functional.mse_loss(self.net(x), y))

    def on_before_optimizer_step(self, optimizer):  # Lightning: after unscaling, before clipping
        norm = torch.cat([p.grad.flatten() for p in self.parameters()]).norm().item()
        self.seen.append((self.trainer.global_step, float(np.mean(self._micro)), norm))
        self._micro = []

    def configure_optimizers(self):
        return torch.optim.Adam(self.parameters(), lr=1e-2)


def test_lightning_callback_records_every_optimizer_step(tmp_path) -> None:
    data = regression_data(90)
    train = torch.utils.data.DataLoader(data, batch_size=10, shuffle=True)
    val = torch.utils.data.DataLoader(regression_data(20, seed=1), batch_size=10)
    module = Regressor()
    trainer = pl.Trainer(max_epochs=3, accumulate_grad_batches=2, gradient_clip_val=1e-3, accelerator="cpu",
                         devices=1, logger=False, enable_checkpointing=False, enable_progress_bar=False,
                         enable_model_summary=False, default_root_dir=tmp_path,
                         callbacks=[LossdoctorCallback(tmp_path / "run", flush_every=4)])
    trainer.fit(module, train, val)
    content = read_store(tmp_path / "run" / "lossdoctor.db")
    steps, loss = content.series["loss"]
    assert steps.tolist() == list(range(15))  # 9 batches per epoch, 2 per step: 5 optimizer steps per epoch
    ref_steps, ref_loss, ref_norm = zip(*module.seen, strict=True)
    assert list(ref_steps) == steps.tolist()
    np.testing.assert_allclose(loss, ref_loss, rtol=1e-4)
    np.testing.assert_allclose(content.series["grad_norm"][1], ref_norm, rtol=1e-4)
    assert min(ref_norm) > 1e-2  # pre-clip: clipping to 1e-3 happens after
    assert content.series["batch_size"][1][:5].tolist() == [20.0, 20.0, 20.0, 20.0, 10.0]
    assert content.series["epoch"][1].tolist() == [0.0] * 5 + [1.0] * 5 + [2.0] * 5
    assert len(content.series["val_loss"][0]) == 3
    assert content.meta["framework"] == "lightning" and content.meta["steps_per_epoch"] == 5
    assert content.meta["optimizer"] == "Adam" and "adam_effective_lr" in content.series
    assert lossdoctor.read(tmp_path / "run").get("val_loss") is not None


class _LoggedRegressor(pl.LightningModule):
    def __init__(self) -> None:
        super().__init__()
        self.net = mlp()

    def training_step(self, batch, batch_idx):
        x, y = batch
        loss = torch.nn.functional.mse_loss(self.net(x), y)
        self.log("train_loss", loss)
        return loss

    def configure_optimizers(self):
        opt = torch.optim.SGD(self.parameters(), lr=0.05)
        return [opt], [torch.optim.lr_scheduler.StepLR(opt, step_size=10, gamma=0.5)]


def test_an_lr_monitor_under_gradient_accumulation_is_no_resumed_run(tmp_path) -> None:
    """`LearningRateMonitor` writes the LR once per micro-batch when batches are accumulated: the same value
    again at the same step is no rewrite, so no "resumed run?" note (red-team 6a r18, 6b 02)."""
    pl.seed_everything(0)
    loader = torch.utils.data.DataLoader(regression_data(), batch_size=16, shuffle=True)
    logger = pl.loggers.CSVLogger(str(tmp_path), name="run")
    trainer = pl.Trainer(max_epochs=3, accumulate_grad_batches=4, log_every_n_steps=1, logger=logger,
                         callbacks=[pl.callbacks.LearningRateMonitor(logging_interval="step")],
                         enable_checkpointing=False, enable_progress_bar=False, enable_model_summary=False)
    trainer.fit(_LoggedRegressor(), loader)
    run = lossdoctor.read(logger.log_dir + "/metrics.csv")
    assert "lr" in run.series and len(run.loss) > 10
    assert not any("resumed" in note for note in run.facts.notes), run.facts.notes
    # the monitor's key names the optimizer, so a lower LR is prescribed for SGD itself (red-team 6b 02)
    code = prescribe(run, "lr_too_high").code
    assert code["lightning"][1].startswith("return torch.optim.SGD(self.parameters(), lr=")
    assert code["torch"][0].startswith("optimizer = torch.optim.SGD(model.parameters(), lr=")
