"""Write train.jsonl: a GRU learning an exact, noise-free map under AdamW, logged as 10-step means.

Red-team round 13b r11. A running weighted sum of the input on 1,024 fixed sequences, AdamW (lr 5e-3, no weight
decay), batches of 128 (8 per epoch), 800 epochs; a plain loop writes the mean loss over every 10 steps with the
epoch and LR. About 2 minutes on one CPU thread.
"""

from __future__ import annotations

import json
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

SEQUENCES, LENGTH = 1024, 12


class Net(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.gru = nn.GRU(1, 32, batch_first=True)
        self.out = nn.Linear(32, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.out(self.gru(x)[0])


def main(out: Path) -> None:
    torch.manual_seed(0)
    torch.set_num_threads(1)
    x = torch.randn(SEQUENCES, LENGTH, 1) * 0.5
    y = torch.cumsum(x * torch.linspace(1, 0.2, LENGTH).view(1, LENGTH, 1), 1) * 0.5
    model = Net()
    opt = torch.optim.AdamW(model.parameters(), lr=5e-3, weight_decay=0.0)
    loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(x, y), batch_size=128, shuffle=True)
    step, window = 0, []
    with out.open("w") as f:
        for epoch in range(800):
            for xb, yb in loader:
                loss = F.mse_loss(model(xb), yb)
                opt.zero_grad()
                loss.backward()
                opt.step()
                window.append(loss.item())
                step += 1
                if step % 10 == 0:
                    record = {"step": step, "epoch": epoch, "loss": sum(window) / len(window),
                              "lr": opt.param_groups[0]["lr"]}
                    f.write(json.dumps(record) + "\n")
                    window = []


if __name__ == "__main__":
    main(Path(__file__).parent / "train.jsonl")
