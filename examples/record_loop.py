"""Record a plain PyTorch loop live with `lossdoctor.watch` (needs the `torch` extra).

    .venv/bin/python examples/record_loop.py [RUN_DIR]      # default: examples/recorded_partial_last_batch
    lossdoctor diagnose examples/recorded_partial_last_batch

The loop has the seed-003 bug: the mean loss is divided by the batch size once more, so the short last
batch of every epoch (8 samples instead of 32) gets a loss four times too large. The recorder warns while
the run is going, and the store it leaves holds the actual batch sizes, which the diagnosis uses.
"""

from __future__ import annotations

import sys

import torch
from torch import nn

import lossdoctor


def main(run_dir: str) -> None:
    torch.manual_seed(0)
    x = torch.randn(520, 16)
    y = (x[:, :4].sum(1) + torch.randn(520) > 0).long()  # noisy labels: the loss levels off near 0.4
    loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(x, y), batch_size=32, shuffle=True)
    model = nn.Sequential(nn.Linear(16, 32), nn.ReLU(), nn.Linear(32, 2))
    optimizer = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)

    rec = lossdoctor.watch(model, optimizer, run_dir=run_dir, loader=loader)  # 1: start recording
    for epoch in range(30):
        for xb, yb in loader:
            loss = nn.functional.cross_entropy(model(xb), yb) / len(xb) * 32  # the bug: ∝ 1/B
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            rec.step(loss, batch_size=len(xb), epoch=epoch)  # 2: once per optimizer step
    rec.close()  # 3: flush and finish the store (also done at exit)


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "examples/recorded_partial_last_batch")
