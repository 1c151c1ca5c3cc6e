# Keras 3 (torch backend) Poisson-regression head: an MLP (Dense 256-256 relu, Dense 1 with exp activation)
# predicting event counts from 120 features, of which only 6 matter (log-rate = linear + one interaction).
# Only 384 training samples (12 batches of 32), 1000 validation samples, Adam lr 1e-3, no regularisation,
# 60 epochs: the net memorises the training counts and the validation Poisson deviance turns up after ~6 epochs.
# Logs: keras.callbacks.CSVLogger per epoch (logs/epochs.csv: epoch, loss, val_loss) and a per-batch callback that
# writes Keras's own logs["loss"] at on_train_batch_end (logs/batches.csv: epoch, batch, loss), which is the
# running mean since the epoch began. truth.npz: per-batch loss (the running mean differenced; batches are equal
# in size), per-epoch loss and val_loss.
import os; os.environ["KERAS_BACKEND"] = "torch"
import csv, time, numpy as np, torch, keras
torch.set_num_threads(1); keras.utils.set_random_seed(0)
rng = np.random.default_rng(0)
def make(n):
    x = rng.standard_normal((n, 120)).astype("float32")
    lam = np.exp(0.6 + 0.5 * x[:, 0] - 0.4 * x[:, 1] + 0.3 * x[:, 2] + 0.25 * x[:, 3] * x[:, 4] + 0.2 * np.tanh(x[:, 5]))
    return x, rng.poisson(lam).astype("float32")[:, None]
xtr, ytr = make(384); xva, yva = make(1000)
model = keras.Sequential([keras.Input((120,)), keras.layers.Dense(256, activation="relu"),
                          keras.layers.Dense(256, activation="relu"), keras.layers.Dense(1, activation="exponential")])
model.compile(optimizer=keras.optimizers.Adam(1e-3), loss="poisson")
os.makedirs("logs", exist_ok=True)
class BatchCSV(keras.callbacks.Callback):
    def on_train_begin(s, logs=None):
        s.f = open("logs/batches.csv", "w", newline=""); s.w = csv.writer(s.f); s.w.writerow(["epoch", "batch", "loss"]); s.ep = 0
    def on_epoch_begin(s, epoch, logs=None): s.ep = epoch
    def on_train_batch_end(s, batch, logs=None): s.w.writerow([s.ep, batch, logs["loss"]])
    def on_train_end(s, logs=None): s.f.close()
t0 = time.time()
h = model.fit(xtr, ytr, batch_size=32, epochs=60, validation_data=(xva, yva), verbose=0, shuffle=True,
              callbacks=[BatchCSV(), keras.callbacks.CSVLogger("logs/epochs.csv")])
rows = list(csv.DictReader(open("logs/batches.csv")))
run = np.array([float(r["loss"]) for r in rows]); b = np.array([int(r["batch"]) for r in rows])
per = np.where(b == 0, run, run * (b + 1) - np.r_[0, run[:-1]] * b)
np.savez("truth.npz", loss=per, epoch=np.array([int(r["epoch"]) for r in rows]),
         epoch_loss=np.array(h.history["loss"]), val_loss=np.array(h.history["val_loss"]))
print("done", round(time.time() - t0, 1), "val", np.round(h.history["val_loss"][::10], 3), "train", np.round(h.history["loss"][::10], 3))
