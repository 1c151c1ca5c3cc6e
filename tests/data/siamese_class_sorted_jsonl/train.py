# Siamese embedding net (1-D conv encoder -> 16-d L2-normalised embedding, shared weights) trained with
# nn.TripletMarginLoss(margin=0.4) on synthetic 1-D signals from 10 classes (each class a template waveform; classes
# differ in difficulty: noise sd 0.3..1.5 by class, and classes 6-9 have near-duplicate templates).
# BUG: the 4000 (anchor, positive, negative) triplets were generated class by class and stored in that order, and the
# DataLoader has shuffle=False, so every epoch walks anchor class 0, then 1, ... 9 in the same order.
# SGD momentum 0.9 lr 0.05, batch 50 (80 steps/epoch), 12 epochs. Log: JSONL written by the loop, every step:
# {"global_step", "epoch", "loss", "active_frac", "lr"}. Truth (per-step loss, anchor class) in truth.npz.
import json, os, time, numpy as np, torch, torch.nn as nn, torch.nn.functional as F
torch.set_num_threads(1); torch.manual_seed(0); g = torch.Generator().manual_seed(0)
C, T = 10, 64
tmpl = torch.randn(C, T, generator=g).cumsum(1); tmpl = (tmpl - tmpl.mean(1, keepdim=True)) / tmpl.std(1, keepdim=True)
for k in (7, 8, 9): tmpl[k] = tmpl[6] + 0.5 * torch.randn(T, generator=g)          # near-duplicates of class 6
noise = torch.linspace(0.3, 1.5, C)
def sample(cls):
    shift = torch.randint(-4, 5, (len(cls),), generator=g)
    x = torch.stack([torch.roll(tmpl[c], int(s)) for c, s in zip(cls.tolist(), shift.tolist())])
    return (x + noise[cls, None] * torch.randn(len(cls), T, generator=g))[:, None]
A, P, N, cls_list = [], [], [], []
for c in range(C):                                              # generated class by class ...
    n = 400; cc = torch.full((n,), c)
    neg = (c + torch.randint(1, C, (n,), generator=g)) % C
    A.append(sample(cc)); P.append(sample(cc)); N.append(sample(neg)); cls_list.append(cc)
ds = torch.utils.data.TensorDataset(torch.cat(A), torch.cat(P), torch.cat(N), torch.cat(cls_list))
dl = torch.utils.data.DataLoader(ds, batch_size=50, shuffle=False)   # ... and never shuffled
enc = nn.Sequential(nn.Conv1d(1, 16, 5, padding=2), nn.ReLU(), nn.MaxPool1d(2), nn.Conv1d(16, 32, 5, padding=2), nn.ReLU(),
                    nn.AdaptiveAvgPool1d(4), nn.Flatten(), nn.Linear(128, 16))
emb = lambda x: F.normalize(enc(x), dim=1)
crit = nn.TripletMarginLoss(margin=0.4); opt = torch.optim.SGD(enc.parameters(), lr=0.05, momentum=0.9)
os.makedirs("logs", exist_ok=True); f = open("logs/metrics.jsonl", "w"); step = 0; Ls, Cs = [], []; t0 = time.time()
for ep in range(12):
    for a, p, n, c in dl:
        ea, ep_, en = emb(a), emb(p), emb(n)
        loss = crit(ea, ep_, en); opt.zero_grad(); loss.backward(); opt.step()
        with torch.no_grad(): act = ((ea - ep_).norm(dim=1) - (ea - en).norm(dim=1) + 0.4 > 0).float().mean().item()
        f.write(json.dumps({"global_step": step, "epoch": ep, "loss": round(loss.item(), 6), "active_frac": round(act, 3), "lr": 0.05}) + "\n")
        Ls.append(loss.item()); Cs.append(c.float().mean().item()); step += 1
f.close(); np.savez("truth.npz", loss=np.array(Ls), anchor_class=np.array(Cs))
print("done", round(time.time() - t0, 1), "steps", step)
