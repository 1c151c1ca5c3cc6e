# Wide MLP on a synthetic tabular churn-style dataset (3000 rows, 30 features, ~15% noisy labels),
# AdamW lr=3e-3 betas=(0.9, 0.95) weight_decay=0.05, batch 32, reshuffled every epoch.
# Plain loop; JSONL with step/epoch/loss only.
import json

import torch
import torch.nn as nn
import torch.nn.functional as F

torch.manual_seed(0)
torch.set_num_threads(1)
N, D = 3000, 30
X = torch.randn(N, D)
w = torch.randn(D)
logit = X @ w / 3 + 0.8 * torch.sin(X[:, 0] * X[:, 1]) + 0.5 * X[:, 2] ** 2 - 0.5
y = (torch.rand(N) < torch.sigmoid(2 * logit)).float()
model = nn.Sequential(nn.Linear(D, 512), nn.ReLU(), nn.Linear(512, 512), nn.ReLU(), nn.Linear(512, 1))
opt = torch.optim.AdamW(model.parameters(), lr=3e-3, betas=(0.9, 0.95), weight_decay=0.05)
loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(X, y), batch_size=32, shuffle=True, drop_last=True)
step = 0
with open("metrics.jsonl", "w") as f:
    for epoch in range(30):
        for xb, yb in loader:
            loss = F.binary_cross_entropy_with_logits(model(xb).squeeze(-1), yb)
            opt.zero_grad()
            loss.backward()
            opt.step()
            f.write(json.dumps({"step": step, "epoch": epoch, "loss": round(loss.item(), 6)}) + "\n")
            step += 1
