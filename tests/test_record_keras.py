"""The Keras 3 callback against real `model.fit` with the torch backend."""

from __future__ import annotations

import os

import numpy as np
import pytest

os.environ.setdefault("KERAS_BACKEND", "torch")
torch = pytest.importorskip("torch")
keras = pytest.importorskip("keras")
if keras.backend.backend() != "torch":
    pytest.skip("keras was imported with another backend", allow_module_level=True)

import lossdoctor  # noqa: E402
from lossdoctor.integrations.keras import LossdoctorCallback  # noqa: E402
from lossdoctor.record import read_store  # noqa: E402


class _Reference(keras.callbacks.Callback):
    """Per-batch loss from Keras's running mean (known batch sizes) and the gradient norm Keras left."""

    def __init__(self, sizes: list[int]) -> None:
        super().__init__()
        self.sizes, self.loss, self.norm = sizes, [], []

    def on_epoch_begin(self, epoch, logs=None):
        self.seen, self.mean = 0, 0.0

    def on_train_batch_end(self, batch, logs=None):
        size = self.sizes[batch]
        self.loss.append(((self.seen + size) * logs["loss"] - self.seen * self.mean) / size)
        self.seen, self.mean = self.seen + size, logs["loss"]
        grads = [v.value.grad.flatten() for v in self.model.trainable_weights]
        self.norm.append(float(torch.cat(grads).norm()))


def test_keras_callback_records_every_batch(tmp_path) -> None:
    keras.utils.set_random_seed(0)
    rng = np.random.default_rng(0)
    x = rng.normal(size=(95, 6)).astype("float32")
    y = (x @ rng.normal(size=(6, 1))).astype("float32")
    model = keras.Sequential([keras.layers.Input((6,)), keras.layers.Dense(8, activation="relu"),
                              keras.layers.Dense(1)])
    model.compile(optimizer=keras.optimizers.SGD(learning_rate=0.01, clipnorm=1e-3), loss="mse")
    reference = _Reference([10] * 9 + [5])
    model.fit(x, y, batch_size=10, epochs=2, shuffle=True, verbose=0, validation_split=0.0,
              callbacks=[LossdoctorCallback(tmp_path / "run", flush_every=6, update_every=1), reference])
    content = read_store(tmp_path / "run" / "lossdoctor.db")
    steps, loss = content.series["loss"]
    assert steps.tolist() == list(range(20))
    np.testing.assert_allclose(loss, reference.loss, rtol=1e-4)
    np.testing.assert_allclose(content.series["grad_norm"][1], reference.norm, rtol=1e-4)
    assert min(reference.norm) > 1e-2  # the recorded norm is the one before clipnorm=1e-3
    assert content.series["batch_size"][1].tolist() == ([10.0] * 9 + [5.0]) * 2
    assert content.series["epoch"][1].tolist() == [0.0] * 10 + [1.0] * 10
    np.testing.assert_allclose(content.series["lr"][1], 0.01)
    ratio = np.array(content.series["update_ratio"][1])
    assert (ratio > 0).all() and (ratio < 1e-3).all()  # clipped SGD steps: lr × 1e-3 / |w|
    assert content.meta["framework"] == "keras" and content.meta["steps_per_epoch"] == 10
    assert lossdoctor.read(tmp_path / "run").format == "lossdoctor_store"


def test_validation_after_a_flush_on_the_epochs_last_batch_is_kept_at_that_step(tmp_path) -> None:
    """Keras reports val_loss at the epoch's end, after the last batch's step: when that step had just been
    flushed, the value waited for a next step, and the last epoch's was lost (red-team 11a: 39 of 40)."""
    keras.utils.set_random_seed(1)
    rng = np.random.default_rng(1)
    x = rng.normal(size=(100, 4)).astype("float32")
    y = x.sum(1, keepdims=True).astype("float32")
    model = keras.Sequential([keras.layers.Input((4,)), keras.layers.Dense(1)])
    model.compile(optimizer=keras.optimizers.SGD(learning_rate=0.01), loss="mse")
    history = model.fit(x, y, batch_size=10, epochs=3, verbose=0, validation_data=(x[:20], y[:20]),
                        callbacks=[LossdoctorCallback(tmp_path / "run", flush_every=10)])
    steps, values = read_store(tmp_path / "run" / "lossdoctor.db").series["val_loss"]
    assert steps.tolist() == [9, 19, 29]
    np.testing.assert_allclose(values, history.history["val_loss"], rtol=1e-6)


class _JsonlBatchLog(keras.callbacks.Callback):
    """A per-batch JSONL written the way people write one: Keras's `logs["loss"]`, with epoch and batch."""

    def __init__(self, path) -> None:
        super().__init__()
        self.path, self.epoch, self.lines = path, 0, []

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        self.lines.append(f'{{"epoch": {self.epoch}, "batch": {batch}, "loss": {float(logs["loss"])!r}}}')

    def on_train_end(self, logs=None):
        self.path.write_text("\n".join(self.lines) + "\n")


def test_a_jsonl_of_keras_per_batch_running_means_is_differenced(tmp_path) -> None:
    """The JSONL reader hands `{"epoch", "batch", "loss"}` records to the Keras per-batch logic, which
    recovers each batch's own loss from the running means (red-team round 6a r13)."""
    keras.utils.set_random_seed(0)
    x = np.random.default_rng(0).normal(size=(256, 8)).astype("float32")
    y = (x @ np.arange(8, dtype="float32"))[:, None]
    model = keras.Sequential([keras.Input((8,)), keras.layers.Dense(16, activation="relu"), keras.layers.Dense(1)])
    model.compile(optimizer=keras.optimizers.Adam(0.01), loss="mse")
    log, reference = tmp_path / "batches.jsonl", _Reference([32] * 8)
    model.fit(x, y, batch_size=32, epochs=3, verbose=0, shuffle=True, callbacks=[_JsonlBatchLog(log), reference])
    run = lossdoctor.read(log)
    assert run.format == "jsonl" and list(run.loss.steps) == list(range(24))
    assert np.allclose(run.loss.values, reference.loss, rtol=1e-3), (run.loss.values[:4], reference.loss[:4])
    assert any("running mean" in note for note in run.facts.notes)


def test_a_saved_keras_console_is_read_refresh_by_refresh(tmp_path) -> None:
    """`model.fit(verbose=1)` with stdout sent to a file: on Linux Keras still redraws its bar in place, so the
    file keeps every refresh (running means, colour codes, the backspaces that erase each one). Differenced,
    they are the means over the batches between refreshes; only the 2 epoch ends were read before. Keras
    prints 4 decimals, and differencing late in an epoch multiplies their rounding (a 1-batch window at batch
    41 of 0.18 losses was 2% off): windows too narrow for 1% are merged into the next."""
    import contextlib
    import time

    from lossdoctor.readers import read
    from lossdoctor.readers.keras_progress import MAX_ROUNDING_ERROR

    keras.utils.set_random_seed(3)
    x = np.random.default_rng(3).normal(size=(600, 8)).astype("float32")
    y = (x @ np.arange(8, dtype="float32") / 32)[:, None]  # losses of 0.1 or less: rounding matters
    model = keras.Sequential([keras.Input((8,)), keras.layers.Dense(16, activation="relu"), keras.layers.Dense(1)])
    model.compile(optimizer=keras.optimizers.SGD(0.01), loss="mse")
    per_batch: list[float] = []

    class Slow(keras.callbacks.Callback):  # the bar refreshes at most every 50 ms: slower batches, every one
        def on_epoch_begin(self, epoch, logs=None):
            self.mean = 0.0

        def on_train_batch_end(self, batch, logs=None):
            per_batch.append((batch + 1) * logs["loss"] - batch * self.mean)
            self.mean = logs["loss"]
            time.sleep(0.055)

    console = tmp_path / "train.log"
    with console.open("w") as out, contextlib.redirect_stdout(out):
        model.fit(x, y, batch_size=16, epochs=2, verbose=1, validation_split=0.2, callbacks=[Slow()])
    assert "\b" in console.read_text()  # the file holds the redraws
    run = read(console)
    steps, values = run.loss.steps, run.loss.values
    assert len(values) >= 20 and run.facts.steps_per_epoch == 30
    assert list(run.series["val_loss"].steps) == [29, 59]
    truth = np.array(per_batch)
    starts = np.concatenate([[0], steps[:-1] + 1])
    starts[steps == steps[steps < 30].min()] = 0  # the first refresh of an epoch covers it from its start
    starts[steps == steps[steps >= 30].min()] = 30
    widths = steps - starts + 1
    assert widths.min() == 1 and widths.max() >= 2  # single batches early in the epoch, merged ones late
    for a, b, v in zip(starts, steps, values, strict=True):
        assert v == pytest.approx(truth[a: b + 1].mean(), rel=MAX_ROUNDING_ERROR, abs=1e-6)


def test_running_means_written_without_epochs_are_found_and_undone(tmp_path) -> None:
    """The classic LossHistory callback (`self.losses.append(logs["loss"])` per batch), saved as `iter,loss`:
    Keras hands it the running mean since the epoch began, and nothing in the file marks the epochs. The reader
    finds them from the values (changes that shrink as 1/n and jump back every epoch) and undoes the means; the
    per-batch values match the ones differenced with the true epoch starts (red-team 9b 06)."""
    from lossdoctor.readers import read

    keras.utils.set_random_seed(4)
    x = np.random.default_rng(4).normal(size=(1600, 6)).astype("float32")
    y = (np.sin(x[:, :1] * 2) + 0.3 * np.random.default_rng(5).normal(size=(1600, 1))).astype("float32")
    model = keras.Sequential([keras.Input((6,)), keras.layers.Dense(32, activation="tanh"), keras.layers.Dense(1)])
    model.compile(optimizer=keras.optimizers.Adam(3e-3), loss="mse")
    history: list[float] = []

    class LossHistory(keras.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            history.append(logs["loss"])

    model.fit(x, y, batch_size=32, epochs=8, verbose=0, callbacks=[LossHistory()])
    log = tmp_path / "losses.csv"
    log.write_text("iter,loss\n" + "".join(f"{i},{v:.6f}\n" for i, v in enumerate(history)))
    run = read(log)
    assert run.facts.steps_per_epoch == 50 and "running means" in " ".join(run.facts.notes)
    means = np.array([float(f"{v:.6f}") for v in history]).reshape(8, 50)
    seen = np.arange(1, 51)
    truth = np.diff(np.concatenate([np.zeros((8, 1)), means * seen], axis=1), axis=1).ravel()
    assert np.allclose(run.loss.values, truth, atol=1e-3)
    assert list(np.unique(run.series["epoch"].values)) == list(range(8))
    as_jsonl = tmp_path / "losses.jsonl"  # any format: the values, not the writer, tell
    as_jsonl.write_text("".join(f'{{"step": {i}, "loss": {v:.6f}}}\n' for i, v in enumerate(history)))
    assert np.allclose(read(as_jsonl).loss.values, truth, atol=1e-3)
