"""Writes the TensorBoard log beside this file (run: OMP_NUM_THREADS=1 python make_log.py; about 10 s).

A residual MLP with BatchNorm and Dropout(0.4); the validation in the middle of each 100-step epoch calls
model.eval() and nothing calls model.train() again until the next epoch starts. SummaryWriter: the training
loss every step and the validation loss, no epoch tag.
"""

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.tensorboard import SummaryWriter

torch.manual_seed(0)
x = torch.randn(6000, 32)
y = ((x[:, :8] ** 2).sum(1) > 8).long() + (x[:, 8:12].sum(1) > 0).long()
x_val, y_val, x, y = x[5000:], y[5000:], x[:5000], y[:5000]


class Block(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.f = nn.Sequential(nn.Linear(128, 128), nn.BatchNorm1d(128), nn.ReLU(), nn.Dropout(0.4))

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        return h + self.f(h)


model = nn.Sequential(nn.Linear(32, 128), Block(), Block(), nn.Linear(128, 3))
opt = torch.optim.Adam(model.parameters(), lr=1e-3)
writer = SummaryWriter("tb")
step = 0
for _epoch in range(10):
    model.train()
    for i, idx in enumerate(torch.randperm(5000).split(50)):
        loss = F.cross_entropy(model(x[idx]), y[idx])
        opt.zero_grad()
        loss.backward()
        opt.step()
        writer.add_scalar("Loss/train", loss.item(), step)
        step += 1
        if i == 49:
            model.eval()  # the bug: no model.train() afterwards
            with torch.no_grad():
                writer.add_scalar("Loss/val", F.cross_entropy(model(x_val), y_val).item(), step)
writer.close()
