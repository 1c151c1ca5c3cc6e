"""Write wandb_export.csv: a tanh RNN on the adding problem without clipping, as a W&B history export.

Red-team round 14a r01. Sequences of 10 + Exp(15) steps (at most 300), fresh every step; the recurrent weights
start orthogonal ×1.2; SGD lr 0.015, momentum 0.9; 2,000 steps of 32. The gradient norm blows up from step ~840
(×2.7e5 its median by step 926) and the loss climbs to 3e7 before it recovers. About 20 s on one thread.
"""

from __future__ import annotations

import csv
import time
from pathlib import Path

import numpy as np
import torch
from torch import nn


def main(out: Path) -> None:
    torch.manual_seed(0)
    torch.set_num_threads(1)
    rnn, head = nn.RNN(2, 64, batch_first=True), nn.Linear(64, 1)
    nn.init.orthogonal_(rnn.weight_hh_l0)
    rnn.weight_hh_l0.data *= 1.2
    params = [*rnn.parameters(), *head.parameters()]
    opt = torch.optim.SGD(params, lr=0.015, momentum=0.9)
    start = time.time()
    with out.open("w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["_step", "_runtime", "_timestamp", "train/loss", "train/grad_norm", "seq_len"])
        for step in range(2000):
            length = int(min(300, 10 + np.random.default_rng(step).exponential(15)))
            values, marks = torch.rand(32, length), torch.zeros(32, length)
            first, second = torch.randint(0, length // 2, (32,)), torch.randint(length // 2, length, (32,))
            marks[torch.arange(32), first] = 1
            marks[torch.arange(32), second] = 1
            x, y = torch.stack([values, marks], -1), (values * marks).sum(1, keepdim=True)
            loss = nn.functional.mse_loss(head(rnn(x)[0][:, -1]), y)
            opt.zero_grad()
            loss.backward()
            norm = torch.sqrt(sum((p.grad**2).sum() for p in params)).item()
            opt.step()
            elapsed = round(time.time() - start, 3)
            writer.writerow([step, elapsed, round(1.7e9 + elapsed, 3), loss.item(), norm, length])


if __name__ == "__main__":
    main(Path(__file__).parent / "wandb_export.csv")
