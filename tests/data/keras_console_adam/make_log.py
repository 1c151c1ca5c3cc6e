"""Writes train.log beside this file (run: OMP_NUM_THREADS=1 python make_log.py > train.log; about 40 s).

Keras 3 (torch backend) `model.fit(verbose=1)` with stdout sent to a file: a deep linear MLP on a noiseless
linear regression, Adam at 3e-3, batch 32, 400 epochs. The loss reaches 3e-14 by epoch 50, stays there until
about epoch 230, climbs to 0.02 around epoch 290 (Adam's second moment shrank with the gradient) and is back
at 4e-14 by epoch 370. The console never names the optimizer.
"""

import os

os.environ["KERAS_BACKEND"] = "torch"

import keras
import numpy as np
import torch

torch.set_num_threads(1)
keras.utils.set_random_seed(8)
rng = np.random.default_rng(8)
x = rng.normal(size=(256, 8)).astype("float32")
y = (x @ rng.normal(size=(8, 1))).astype("float32")
model = keras.Sequential([keras.Input((8,)), keras.layers.Dense(64), keras.layers.Dense(64), keras.layers.Dense(1)])
model.compile(optimizer=keras.optimizers.Adam(3e-3), loss="mse")
model.fit(x, y, batch_size=32, epochs=400, verbose=1, shuffle=True)
