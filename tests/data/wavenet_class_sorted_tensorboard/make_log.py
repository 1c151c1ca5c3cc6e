"""Writes the TensorBoard log beside this file (run: OMP_NUM_THREADS=1 python make_log.py; about 30 s).

A WaveNet-style dilated causal conv classifier on synthetic audio (sine, square, sawtooth, chirp, noise). The bug:
clips are generated class by class and the DataLoader has shuffle=False, so every epoch walks the classes in the
same order (10 steps per class, 50 per epoch). Logged with SummaryWriter: the loss only, every step.
"""

import math

import torch
from torch import nn
from torch.utils.tensorboard import SummaryWriter

torch.manual_seed(7)
LENGTH, PER_CLASS = 256, 400
t = torch.arange(LENGTH) / 8000.0


def clip(kind: int) -> torch.Tensor:
    freq = 200 + 1800 * torch.rand(1)
    phase = 2 * math.pi * torch.rand(1)
    s = torch.sin(2 * math.pi * freq * t + phase)
    if kind == 1:
        s = torch.sign(s)
    if kind == 2:
        s = 2 * ((freq * t + phase / 6.28) % 1) - 1
    if kind == 3:
        s = torch.sin(2 * math.pi * (freq + 4e5 * t) * t)
    if kind == 4:
        s = torch.randn(LENGTH) * 0.6
    return s * (0.3 + 0.7 * torch.rand(1)) + 0.15 * torch.randn(LENGTH)


x = torch.stack([clip(c) for c in range(5) for _ in range(PER_CLASS)]).unsqueeze(1)
y = torch.arange(5).repeat_interleave(PER_CLASS)


class Block(nn.Module):
    def __init__(self, channels: int, dilation: int) -> None:
        super().__init__()
        self.dilation = dilation
        self.filter = nn.Conv1d(channels, 2 * channels, 2, dilation=dilation)
        self.residual = nn.Conv1d(channels, channels, 1)

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        a, b = self.filter(nn.functional.pad(h, (self.dilation, 0))).chunk(2, 1)
        return h + self.residual(torch.tanh(a) * torch.sigmoid(b))


class WaveNet(nn.Module):
    def __init__(self, channels: int = 24) -> None:
        super().__init__()
        self.inp = nn.Conv1d(1, channels, 1)
        self.blocks = nn.Sequential(*[Block(channels, 2**i) for i in range(7)])
        self.out = nn.Linear(channels, 5)

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        return self.out(self.blocks(self.inp(h)).mean(-1))


model = WaveNet()
opt = torch.optim.Adam(model.parameters(), lr=5e-3)
loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(x, y), batch_size=40, shuffle=False)
writer = SummaryWriter("runs/wavenet")
step = 0
for _epoch in range(8):
    for xb, yb in loader:
        loss = nn.functional.cross_entropy(model(xb), yb)
        opt.zero_grad()
        loss.backward()
        opt.step()
        writer.add_scalar("Loss/train", loss.item(), step)
        step += 1
writer.close()
