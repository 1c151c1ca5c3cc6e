"""fastText-style bag-of-embeddings topic classifier (Embedding -> GlobalAveragePooling1D -> Dense) in Keras 3
(torch backend). 328 training docs, batch_size=64 -> 5 full batches + a last batch of 8 every epoch.
Bug under test: the custom loss normalises by the batch size twice (mean CE, then / batch size again), so the
short last batch reports and back-propagates a loss ~8x too large. SGD(momentum=0.9), lr tuned until it trains.
Logging: a per-batch CSV callback writing Keras's `logs` (running means over the epoch so far) plus the
standard keras.callbacks.CSVLogger epoch log."""
import os, csv, time
os.environ["KERAS_BACKEND"] = "torch"
import numpy as np, torch
torch.set_num_threads(1)
import keras
from keras import ops, layers
keras.utils.set_random_seed(8)
V, S, C, N, NVA, BS, EPOCHS = 400, 24, 4, 328, 400, 64, 60
rng = np.random.default_rng(8)
topic = rng.dirichlet(np.full(V, 0.05), size=C)           # word distribution per topic
bg = rng.dirichlet(np.full(V, 1.0))
def make(n):
    y = rng.integers(0, C, n); X = np.zeros((n, S), "int64")
    for i in range(n):
        p = 0.35 * topic[y[i]] + 0.65 * bg; X[i] = rng.choice(V, S, p=p)
    return X, y
Xtr, Ytr = make(N); Xva, Yva = make(NVA)

def double_normalised_ce(y_true, y_pred):
    ce = keras.losses.sparse_categorical_crossentropy(y_true, y_pred, from_logits=True)
    b = ops.cast(ops.shape(ce)[0], "float32")
    return ops.mean(ce) / b                                  # BUG: mean() already divided by the batch size

model = keras.Sequential([keras.Input((S,), dtype="int64"), layers.Embedding(V, 32), layers.GlobalAveragePooling1D(),
                          layers.Dense(C)])
model.compile(optimizer=keras.optimizers.SGD(learning_rate=6.0, momentum=0.9), loss=double_normalised_ce,
              metrics=["sparse_categorical_accuracy"])

class BatchCSV(keras.callbacks.Callback):
    def __init__(s, path): super().__init__(); s.path = path; s.step = 0; s.rows = []
    def on_epoch_begin(s, epoch, logs=None): s.epoch = epoch
    def on_train_batch_end(s, batch, logs=None):
        s.rows.append({"step": s.step, "epoch": s.epoch, "batch": batch, **{k: float(v) for k, v in logs.items()}}); s.step += 1
    def on_train_end(s, logs=None):
        with open(s.path, "w", newline="") as f:
            w = csv.DictWriter(f, fieldnames=list(s.rows[0].keys())); w.writeheader(); w.writerows(s.rows)

os.makedirs("logs", exist_ok=True)
bcb = BatchCSV("logs/batch_log.csv"); t0 = time.time()
hist = model.fit(Xtr, Ytr, batch_size=BS, epochs=EPOCHS, shuffle=True, validation_data=(Xva, Yva), verbose=0,
                 callbacks=[bcb, keras.callbacks.CSVLogger("logs/epoch_log.csv")])
# truth: recover each batch's reported loss from the size-weighted running means Keras logs
spe = int(np.ceil(N / BS)); sizes = np.array([min(BS, N - k * BS) for k in range(spe)])
run_mean = np.array([r["loss"] for r in bcb.rows]).reshape(EPOCHS, spe)
cum = np.cumsum(np.tile(sizes, (EPOCHS, 1)), 1); tot = run_mean * cum
raw = np.diff(np.concatenate([np.zeros((EPOCHS, 1)), tot], 1), axis=1) / sizes
true_ce = raw * sizes                                        # mean CE of the batch (undo the extra 1/b)
np.savez("truth.npz", loss=raw.ravel(), true_ce=true_ce.ravel(), logged_running_mean=run_mean.ravel(),
         batch_size=np.tile(sizes, EPOCHS), epoch=np.repeat(np.arange(EPOCHS), spe), pos=np.tile(np.arange(spe), EPOCHS),
         lr=np.full(EPOCHS * spe, 6.0), val_loss=np.array(hist.history["val_loss"]), steps_per_epoch=spe)
print("done %.1fs" % (time.time() - t0))
