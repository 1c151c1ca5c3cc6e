"""Writes micro_log.jsonl beside this file (run: OMP_NUM_THREADS=1 python make_log.py; about 40 s).

A healthy Siamese embedding net trained with a triplet-margin loss on micro-batches of 4 with gradient
accumulation over 16, RMSprop; one JSONL record per micro-step, the loss rounded to 5 decimals. About half
the micro-batches clear the margin and cost exactly 0; the others cost 0.1 to 1.
"""

import json

import torch
from torch import nn

torch.manual_seed(0)
CLASSES = 12
centres = torch.randn(CLASSES, 24) * 1.2


def sample(n: int) -> tuple[torch.Tensor, torch.Tensor]:
    labels = torch.randint(0, CLASSES, (n,))
    return centres[labels] + torch.randn(n, 24), labels


x, y = sample(6000)
net = nn.Sequential(nn.Linear(24, 64), nn.SiLU(), nn.Linear(64, 16))
opt = torch.optim.RMSprop(net.parameters(), lr=1e-3)
triplet = nn.TripletMarginLoss(margin=1.0)
ACCUMULATE = 16


def triplet_loss(anchors: torch.Tensor) -> torch.Tensor:
    labels = y[anchors]
    positives = torch.stack([torch.nonzero(y == c)[torch.randint(0, int((y == c).sum()), (1,))].squeeze()
                             for c in labels])
    negatives = torch.randint(0, len(x), (len(anchors),))
    return triplet(net(x[anchors]), net(x[positives]), net(x[negatives]))


x_val, y_val = sample(400)
micro = 0
with open("micro_log.jsonl", "w") as log:
    for epoch in range(4):
        for anchors in torch.randperm(len(x)).split(4):
            loss = triplet_loss(anchors)
            (loss / ACCUMULATE).backward()
            micro += 1
            if micro % ACCUMULATE == 0:
                opt.step()
                opt.zero_grad()
            log.write(json.dumps({"epoch": epoch, "micro_step": micro, "loss": round(loss.item(), 5)}) + "\n")
        with torch.no_grad():
            e = net(x_val)
            distances = torch.cdist(e, e)
            distances.fill_diagonal_(1e9)
            accuracy = (y_val[distances.argmin(1)] == y_val).float().mean().item()
        print(epoch, micro, "nearest-neighbour accuracy", accuracy)
