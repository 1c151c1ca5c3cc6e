# 1-D CNN classifying synthetic noisy waveforms (sine / square / sawtooth / chirp), batch size 4.
# Plain loop, JSONL log every step, val loss each epoch.
import json
import math

import torch
import torch.nn as nn
import torch.nn.functional as F

torch.manual_seed(0)
torch.set_num_threads(1)
L = 128


def make(n, g):
    t = torch.linspace(0, 1, L)
    y = torch.randint(0, 4, (n,), generator=g)
    f = 3 + 5 * torch.rand(n, 1, generator=g)
    ph = 2 * math.pi * torch.rand(n, 1, generator=g)
    x = torch.empty(n, L)
    s = torch.sin(2 * math.pi * f * t + ph)
    x[y == 0] = s[y == 0]
    x[y == 1] = torch.sign(s[y == 1])
    saw = 2 * ((f * t + ph / 6.28) % 1) - 1
    x[y == 2] = saw[y == 2]
    chirp = torch.sin(2 * math.pi * (f * t + 4 * t * t) + ph)
    x[y == 3] = chirp[y == 3]
    x = x + 0.8 * torch.randn(n, L, generator=g)
    return x.unsqueeze(1), y


g = torch.Generator().manual_seed(1)
Xtr, ytr = make(1200, g)
Xva, yva = make(400, g)
model = nn.Sequential(
    nn.Conv1d(1, 16, 7, padding=3),
    nn.ReLU(),
    nn.MaxPool1d(2),
    nn.Conv1d(16, 32, 5, padding=2),
    nn.ReLU(),
    nn.MaxPool1d(2),
    nn.Conv1d(32, 32, 5, padding=2),
    nn.ReLU(),
    nn.AdaptiveAvgPool1d(1),
    nn.Flatten(),
    nn.Linear(32, 4),
)
opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
BS = 4
loader = torch.utils.data.DataLoader(
    torch.utils.data.TensorDataset(Xtr, ytr), batch_size=BS, shuffle=True, generator=torch.Generator().manual_seed(2)
)
step = 0
with open("train_log.jsonl", "w") as f:
    for epoch in range(6):
        model.train()
        for xb, yb in loader:
            loss = F.cross_entropy(model(xb), yb)
            opt.zero_grad()
            loss.backward()
            opt.step()
            f.write(json.dumps({"step": step, "epoch": epoch, "loss": round(loss.item(), 5)}) + "\n")
            step += 1
        model.eval()
        with torch.no_grad():
            vl = F.cross_entropy(model(Xva), yva).item()
            acc = (model(Xva).argmax(1) == yva).float().mean().item()
        f.write(
            json.dumps({"step": step - 1, "epoch": epoch, "val_loss": round(vl, 5), "val_acc": round(acc, 4)}) + "\n"
        )
        print(f"epoch {epoch} val_loss {vl:.4f} val_acc {acc:.3f}")
