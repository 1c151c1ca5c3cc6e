"""A vanilla tanh RNN language model, plain SGD at lr 0.7 without clipping, printing fairseq's console lines.

The data repeats each token 12 positions later (85% of the time). Stable for 1,450 updates, then the gradient
norm bursts ×10-×20 and the loss jumps ×4, settling ×1.7 above where it was. Run with `> train.log`.
"""

import datetime
import time

import torch
from torch import nn

torch.manual_seed(0)
torch.set_num_threads(1)
VOCAB, LENGTH, LAG, BATCH = 20, 50, 12, 32
LN2 = 0.6931  # fairseq reports the loss in base 2
generator = torch.Generator().manual_seed(1)
data = torch.randint(0, VOCAB, (60000,), generator=generator)
keep = torch.rand(60000, generator=generator) < 0.85
for i in range(LAG, 60000):
    if keep[i]:
        data[i] = data[i - LAG]


class RNNLM(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.embed = nn.Embedding(VOCAB, 32)
        self.rnn = nn.RNN(32, 128, batch_first=True)
        self.out = nn.Linear(128, VOCAB)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        return self.out(self.rnn(self.embed(tokens))[0])


def stamp() -> str:
    return datetime.datetime.now().strftime("%Y-%m-%d %H:%M:%S")


model = RNNLM()
nn.init.orthogonal_(model.rnn.weight_hh_l0)
optimizer = torch.optim.SGD(model.parameters(), lr=0.7)
batches, updates, interval, start = 500, 0, 5, time.time()
for epoch in range(1, 6):
    window, whole = [0.0, 0.0, 0], [0.0, 0, 0.0]
    for i in range(batches):
        at = torch.randint(len(data) - LENGTH - 1, (BATCH,))
        x = torch.stack([data[j:j + LENGTH] for j in at])
        y = torch.stack([data[j + 1:j + LENGTH + 1] for j in at])
        loss = nn.functional.cross_entropy(model(x).reshape(-1, VOCAB), y.reshape(-1)) / LN2
        optimizer.zero_grad()
        loss.backward()
        norm = torch.sqrt(sum((p.grad**2).sum() for p in model.parameters())).item()
        optimizer.step()
        updates += 1
        value = loss.item()
        window = [window[0] + value, window[1] + norm, window[2] + 1]
        whole = [whole[0] + value, whole[1] + 1, whole[2] + norm]
        if updates % interval == 0:
            mean, gnorm = window[0] / window[2], window[1] / window[2]
            print(f"{stamp()} | INFO | train_inner | epoch {epoch:03d}:{i + 1:>7d} / {batches} loss={mean:.3f},"
                  f" ppl={2**mean:.2f}, wps=25123.4, ups=41.2, wpb={BATCH * LENGTH}, bsz={BATCH},"
                  f" num_updates={updates}, lr={optimizer.param_groups[0]['lr']}, gnorm={gnorm:.3f}, train_wall=0,"
                  f" gb_free=0, wall={int(time.time() - start)}")
            window = [0.0, 0.0, 0]
    mean = whole[0] / whole[1]
    print(f"{stamp()} | INFO | fairseq_cli.train | end of epoch {epoch} (average epoch stats below)")
    print(f"{stamp()} | INFO | train | epoch {epoch:03d} | loss {mean:.3f} | ppl {2**mean:.2f} | wps 25000 | ups 41"
          f" | wpb {BATCH * LENGTH} | bsz {BATCH} | num_updates {updates} | lr {optimizer.param_groups[0]['lr']}"
          f" | gnorm {whole[2] / whole[1]:.3f} | train_wall 2 | gb_free 0 | wall {int(time.time() - start)}")
