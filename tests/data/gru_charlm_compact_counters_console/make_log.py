"""Write train.log: a healthy char-level GRU language model printing `| e02 | b0120/0252 | … | loss 1.2351 |`.

Red-team round 14a r10. Random sentences from a small grammar, sequences of 64 characters, batches of 32
shuffled every epoch, 4 epochs of 252 steps; Adam with a 40-step linear warmup to 3e-3, then a linear decay
to 3e-4; clipping at 1.0. The epoch (`e`) and the batch of the epoch (`b`) are glued to one letter each.
About 20 s on one thread.
"""

from __future__ import annotations

import math
import random
from pathlib import Path

import torch
from torch import nn

SUBJECTS = ["the cat", "a dog", "my friend", "the old man", "she", "he", "the bird", "our teacher", "a child",
            "the king"]
VERBS = ["sees", "likes", "eats", "finds", "wants", "hates", "follows", "draws", "buys"]
OBJECTS = ["the fish", "a red ball", "some bread", "the moon", "her hat", "a small box", "the river", "two apples"]
ENDINGS = ["", " today", " again", " quickly", " at night", " in the park", " with joy"]
SEQ, BATCH, EPOCHS, WARMUP = 64, 32, 4, 40


class CharGRU(nn.Module):
    def __init__(self, vocab: int) -> None:
        super().__init__()
        self.emb, self.rnn, self.out = nn.Embedding(vocab, 32), nn.GRU(32, 128, batch_first=True), nn.Linear(128, vocab)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.out(self.rnn(self.emb(x))[0])


def main(out: Path) -> None:
    torch.manual_seed(0)
    random.seed(0)
    torch.set_num_threads(1)
    text = " ".join(f"{random.choice(SUBJECTS)} {random.choice(VERBS)} {random.choice(OBJECTS)}"
                    f"{random.choice(ENDINGS)}." for _ in range(16000))
    chars = sorted(set(text))
    data = torch.tensor([chars.index(c) for c in text])
    count = (len(data) - 1) // SEQ
    x, y = data[: count * SEQ].view(count, SEQ), data[1 : count * SEQ + 1].view(count, SEQ)
    model = CharGRU(len(chars))
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    per_epoch = count // BATCH
    total = per_epoch * EPOCHS
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: (s + 1) / WARMUP if s < WARMUP else 1 - 0.9 * (s - WARMUP) / (total - WARMUP))
    order = torch.Generator().manual_seed(1)
    lines = [f"model GRU-128 vocab={len(chars)} seq={SEQ} batch={BATCH} optimizer=Adam peak_lr=3e-3 warmup={WARMUP}"
             f" steps/epoch={per_epoch}"]
    for epoch in range(EPOCHS):
        perm = torch.randperm(count, generator=order)
        for i in range(per_epoch):
            idx = perm[i * BATCH : (i + 1) * BATCH]
            loss = nn.functional.cross_entropy(model(x[idx]).reshape(-1, len(chars)), y[idx].reshape(-1))
            opt.zero_grad()
            loss.backward()
            nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            lr = sched.get_last_lr()[0]
            opt.step()
            sched.step()
            lines.append(f"| e{epoch + 1:02d} | b{i + 1:04d}/{per_epoch:04d} | ppl {math.exp(loss.item()):6.2f} |"
                         f" loss {loss.item():.4f} | lr {lr:.2e} |")
    (out / "train.log").write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main(Path(__file__).parent)
