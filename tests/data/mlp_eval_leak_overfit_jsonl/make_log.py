"""An MLP with Dropout 0.5 validated twice per epoch; model.train() is only called at the epoch start, so the
second half of every epoch trains in eval mode. Writes log.jsonl (loss every 4 steps, val_loss at each eval)."""

import json

import torch
from torch import nn

torch.manual_seed(4)


def make(n: int) -> tuple[torch.Tensor, torch.Tensor]:
    x = torch.randn(n, 40)
    y = (x[:, :8].sum(1) + 0.5 * x[:, 8:16].pow(2).sum(1) * 0.3 > 1.2).long()
    return x, y


x_train, y_train = make(4000)
x_val, y_val = make(800)
model = nn.Sequential(nn.Linear(40, 256), nn.ReLU(), nn.Dropout(0.5), nn.Linear(256, 256), nn.ReLU(), nn.Dropout(0.5),
                      nn.Linear(256, 2))
opt = torch.optim.Adam(model.parameters(), lr=1e-3)
crit = nn.CrossEntropyLoss()
step = 0
with open("log.jsonl", "w") as f:
    for epoch in range(12):
        model.train()
        perm = torch.randperm(4000)
        batches = 4000 // 25
        for b in range(batches):
            idx = perm[b * 25:(b + 1) * 25]
            opt.zero_grad()
            loss = crit(model(x_train[idx]), y_train[idx])
            loss.backward()
            opt.step()
            step += 1
            if step % 4 == 0:
                f.write(json.dumps({"step": step, "epoch": epoch, "loss": loss.item()}) + "\n")
            if b == batches // 2 or b == batches - 1:
                model.eval()
                with torch.no_grad():
                    val_loss = crit(model(x_val), y_val).item()
                f.write(json.dumps({"step": step, "epoch": epoch, "val_loss": val_loss}) + "\n")
                # the bug: no model.train() here, so training goes on in eval mode until the next epoch
