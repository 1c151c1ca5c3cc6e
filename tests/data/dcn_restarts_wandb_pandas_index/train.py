"""Deep & Cross Network (DCN, Wang et al. 2017) for synthetic click-through prediction (8 categorical fields +
6 dense features, click = teacher score with pairwise crosses > 0, 2% label noise). AdamW with
CosineAnnealingWarmRestarts(T_0=240 steps, eta_min=1e-5), stepped every batch.
Logged the wandb way (`wandb.log({...}, step=step)` every 5 steps, val at epoch end) and exported with
`api.run(...).history()` -> CSV; wandb is not installed here, so the same rows/columns are written directly."""
import csv, os, time
import numpy as np, torch, torch.nn as nn
torch.set_num_threads(1); torch.manual_seed(3); np.random.seed(3)
F, CARD, DD, NTR, NVA, BS, EPOCHS = 8, 30, 6, 60000, 5000, 256, 5
g = torch.Generator().manual_seed(3)
W1 = torch.randn(F, CARD, generator=g) * 0.6; Wc = torch.randn(F, F, generator=g) * 0.5; wd = torch.randn(DD, generator=g) * 0.5
def make(n):
    cat = torch.randint(0, CARD, (n, F)); dense = torch.randn(n, DD)
    e = W1[torch.arange(F), cat]                        # per-field effects
    logit = e.sum(1) + ((e[:, :, None] * e[:, None, :]) * Wc).sum((1, 2)) * 0.5 + dense @ wd - 1.0
    y = (logit > 0).float()
    flip = torch.rand(n) < 0.02; y[flip] = 1 - y[flip]
    return cat, dense, y
Ctr, Dtr, Ytr = make(NTR); Cva, Dva, Yva = make(NVA)

class DCN(nn.Module):
    def __init__(s, emb=8, n_cross=3, hidden=128):
        super().__init__()
        s.emb = nn.ModuleList([nn.Embedding(CARD, emb) for _ in range(F)])
        d0 = F * emb + DD; s.cross_w = nn.ModuleList([nn.Linear(d0, 1, bias=False) for _ in range(n_cross)])
        s.cross_b = nn.ParameterList([nn.Parameter(torch.zeros(d0)) for _ in range(n_cross)])
        s.deep = nn.Sequential(nn.Linear(d0, hidden), nn.ReLU(), nn.Linear(hidden, hidden), nn.ReLU())
        s.out = nn.Linear(d0 + hidden, 1)
    def forward(s, cat, dense):
        x0 = torch.cat([e(cat[:, i]) for i, e in enumerate(s.emb)] + [dense], 1); x = x0
        for w, b in zip(s.cross_w, s.cross_b): x = x0 * w(x) + b + x
        return s.out(torch.cat([x, s.deep(x0)], 1)).squeeze(1)

model = DCN()
opt = torch.optim.AdamW(model.parameters(), lr=3e-2, weight_decay=1e-4)
sched = torch.optim.lr_scheduler.CosineAnnealingWarmRestarts(opt, T_0=240, eta_min=1e-5)
loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(Ctr, Dtr, Ytr), batch_size=BS, shuffle=True, drop_last=True)
bce = nn.BCEWithLogitsLoss()
history = []; t_start = time.time(); ts0 = 1732340000.0
keys = ["loss", "grad_norm", "lr", "epoch", "pos", "batch_size"]; T = {k: [] for k in keys}; val = []
step = 0
for ep in range(EPOCHS):
    model.train()
    for i, (c, d, y) in enumerate(loader):
        loss = bce(model(c, d), y)
        opt.zero_grad(); loss.backward()
        gn = float(torch.nn.utils.clip_grad_norm_(model.parameters(), float("inf")))
        lr = opt.param_groups[0]["lr"]; opt.step(); sched.step()
        for k, v in zip(keys, [loss.item(), gn, lr, ep, i, len(y)]): T[k].append(v)
        if step % 5 == 0:
            rt = time.time() - t_start
            history.append({"_step": step, "_runtime": rt, "_timestamp": ts0 + rt, "train/epoch": ep + i / len(loader),
                            "train/loss": loss.item(), "train/lr": lr})
        step += 1
    model.eval()
    with torch.no_grad(): vl = bce(model(Cva, Dva), Yva).item()
    val.append(vl); rt = time.time() - t_start
    history.append({"_step": step, "_runtime": rt, "_timestamp": ts0 + rt, "train/epoch": ep + 1.0, "val/loss": vl})
    step += 1   # wandb.log without step= after the val log advances _step
os.makedirs("logs", exist_ok=True)
cols = ["_runtime", "_step", "_timestamp", "train/epoch", "train/loss", "train/lr", "val/loss"]
with open("logs/dcn-ctr-sgdr_history.csv", "w", newline="") as f:
    w = csv.writer(f); w.writerow([""] + cols)           # pandas DataFrame.to_csv keeps the index column
    for n, r in enumerate(history): w.writerow([n] + [r.get(c, "") for c in cols])
np.savez("truth.npz", **{k: np.array(v) for k, v in T.items()}, val_loss=np.array(val), steps_per_epoch=len(loader))
print("done %.1fs steps %d" % (time.time() - t_start, len(T["loss"])))
