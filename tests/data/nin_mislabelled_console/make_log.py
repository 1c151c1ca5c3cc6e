"""Network-in-Network CNN (mlpconv blocks: a 3x3 conv and two 1x1 convs, global average pooling head) on synthetic
1x20x20 shape images, 5 classes, 1000 training images shuffled every epoch, 5 of them mislabelled. Adam lr 2e-3,
batch 25 (40 steps per epoch), 35 epochs. Python logging writes train.log next to this file, one line per step.
From red-team round 21 (21a r03)."""

import logging
import os

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

torch.set_num_threads(1)
torch.manual_seed(3)
np.random.seed(3)
os.chdir(os.path.dirname(os.path.abspath(__file__)))
logging.basicConfig(filename="train.log", filemode="w", level=logging.INFO,
                    format="%(asctime)s - %(name)s - %(levelname)s - %(message)s")
log = logging.getLogger("nin")
g = torch.Generator().manual_seed(3)
K, N, NV, S = 5, 1000, 500, 20
yy, xx = torch.meshgrid(torch.arange(S), torch.arange(S), indexing="ij")


def shape(c: int, cy: int, cx: int, r: int) -> torch.Tensor:
    d = ((yy - cy) ** 2 + (xx - cx) ** 2).float().sqrt()
    if c == 0:
        return (d < r).float()  # disc
    if c == 1:
        return ((yy - cy).abs().clamp(max=99) < r).float() * ((xx - cx).abs() < r).float()  # square
    if c == 2:
        return ((d < r) & (d > r - 2)).float()  # ring
    if c == 3:
        return (((yy - cy).abs() < 1) | ((xx - cx).abs() < 1)).float() * (d < r + 1).float()  # cross
    return ((yy - cy).abs() + (xx - cx).abs() < r).float()  # diamond


def make(n: int) -> tuple[torch.Tensor, torch.Tensor]:
    y = torch.randint(0, K, (n,), generator=g)
    c = torch.randint(6, 14, (n, 2), generator=g)
    r = torch.randint(4, 7, (n,), generator=g)
    x = torch.stack([shape(int(a), int(p[0]), int(p[1]), int(b)) for a, p, b in zip(y, c, r, strict=True)])[:, None]
    return x + 0.15 * torch.randn(n, 1, S, S, generator=g), y


def mlpconv(i: int, o: int, k: int) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(i, o, k, padding=k // 2), nn.ReLU(), nn.Conv2d(o, o, 1), nn.ReLU(),
                         nn.Conv2d(o, o, 1), nn.ReLU())


Xtr, ytr = make(N)
Xva, yva = make(NV)
bad = torch.randperm(N, generator=g)[:5]
ytr[bad] = (ytr[bad] + torch.randint(1, K, (5,), generator=g)) % K  # the 5 mislabelled images
dl = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(Xtr, ytr, torch.arange(N)), batch_size=25,
                                 shuffle=True)
model = nn.Sequential(mlpconv(1, 32, 5), nn.MaxPool2d(2), mlpconv(32, 48, 3), nn.MaxPool2d(2),
                      nn.Conv2d(48, 48, 3, padding=1), nn.ReLU(), nn.Conv2d(48, K, 1), nn.AdaptiveAvgPool2d(1),
                      nn.Flatten())
opt = torch.optim.Adam(model.parameters(), lr=2e-3, weight_decay=1e-4)
E = 35
log.info("Start training: %d samples, %d steps/epoch", N, len(dl))
for ep in range(E):
    model.train()
    for i, (xb, yb, _) in enumerate(dl):
        loss = F.cross_entropy(model(xb), yb, reduction="none").mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        log.info("Epoch [%d/%d], Step [%d/%d], Loss: %.4f", ep + 1, E, i + 1, len(dl), loss.item())
    model.eval()
    with torch.no_grad():
        out = model(Xva)
        vl = F.cross_entropy(out, yva).item()
        va = (out.argmax(1) == yva).float().mean().item()
    log.info("Epoch [%d/%d] finished: val_loss %.4f, val_acc %.4f", ep + 1, E, vl, va)
