"""Seed 003 as a training script: the loss is divided by the batch size twice, and the last batch is short.

`lossdoctor preflight examples/preflight/seed003_train.py` checks it before training: running this
file's top level builds the model, loss, loader and optimizer; the training loop below does not run.
"""

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

torch.manual_seed(0)
x = torch.randn(3720, 16)
y = torch.tanh(x[:, :1]) + 0.3 * torch.randn(3720, 1)
train_loader = DataLoader(TensorDataset(x, y), batch_size=128, shuffle=True)  # 29 batches of 128, one of 8
model = nn.Sequential(nn.Linear(16, 64), nn.ReLU(), nn.Linear(64, 1))
optimizer = torch.optim.SGD(model.parameters(), lr=0.6, momentum=0.9)


def loss_fn(output, target):
    return F.mse_loss(output, target) / len(output)  # the bug: mse_loss already averages over the batch


if __name__ == "__main__":
    for epoch in range(16):
        for xb, yb in train_loader:
            loss = loss_fn(model(xb), yb)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
