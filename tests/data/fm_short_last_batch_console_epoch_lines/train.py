# partial_last_batch: factorization machine (FM) rating regression; the loss is MSE (already a mean) divided again by
# the batch size; 1000 samples, batch 96 -> 10 full batches + a last batch of 40; Adagrad; print() every step to a log
import os, sys, numpy as np, torch, torch.nn as nn
torch.set_num_threads(1); torch.manual_seed(0)
NU, NI, NF = 60, 80, 6
g = torch.Generator().manual_seed(1)
u = torch.randint(0, NU, (1000,), generator=g); it = torch.randint(0, NI, (1000,), generator=g); ctx = torch.randn(1000, NF, generator=g)
Pu, Qi = torch.randn(NU, 4, generator=g), torch.randn(NI, 4, generator=g)
r = (Pu[u] * Qi[it]).sum(1) * 0.5 + ctx[:, 0] + 0.3 * torch.randn(1000, generator=g)
class FM(nn.Module):
    def __init__(s, k=8):
        super().__init__(); n = NU + NI + NF
        s.w0 = nn.Parameter(torch.zeros(1)); s.w = nn.Parameter(torch.zeros(n)); s.V = nn.Parameter(0.1 * torch.randn(n, k))
    def forward(s, u, i, c):
        B = len(u); x = torch.zeros(B, NU + NI + NF)
        x[torch.arange(B), u] = 1; x[torch.arange(B), NU + i] = 1; x[:, NU + NI:] = c
        xv = x @ s.V; inter = 0.5 * (xv ** 2 - (x ** 2) @ (s.V ** 2)).sum(1)
        return s.w0 + x @ s.w + inter
model = FM(); opt = torch.optim.Adagrad(model.parameters(), lr=0.1); crit = nn.MSELoss()
os.makedirs("logs", exist_ok=True); out = open("logs/train_fm.log", "w")
def p(*a):
    print(*a, file=out, flush=True)
bs, EPOCHS = 96, 25; nb = (1000 + bs - 1) // bs
truth = {k: [] for k in ["loss", "epoch", "pos", "batch_size", "per_sample_mse"]}
p(f"FM(k=8) | samples=1000 batch_size={bs} batches/epoch={nb} optimizer=Adagrad(lr=0.1)")
for ep in range(1, EPOCHS + 1):
    perm = torch.randperm(1000); tot = 0.0
    for k in range(nb):
        b = perm[k * bs:(k + 1) * bs]
        pred = model(u[b], it[b], ctx[b]); mse = crit(pred, r[b])
        loss = mse / len(b)                      # "average over the batch"
        opt.zero_grad(); loss.backward(); opt.step(); tot += loss.item()
        p(f"[epoch {ep:2d}/{EPOCHS}] iter {k + 1:2d}/{nb}  loss={loss.item():.6f}")
        for kk, v in zip(truth, [loss.item(), ep - 1, k, len(b), mse.item()]): truth[kk].append(v)
    p(f"==> epoch {ep} done, mean loss {tot / nb:.6f}")
np.savez("truth.npz", **{k: np.array(v) for k, v in truth.items()})
