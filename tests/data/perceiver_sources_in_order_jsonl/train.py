# unshuffled_data: Perceiver-style classifier (8 learned latents cross-attend to a set of 16 input tokens, then 2
# latent self-attention blocks). The training data is the concatenation of 5 "sites" (sources) that differ in
# case mix (70% one class), noise level and a feature shift, stored site after site, and the DataLoader uses shuffle=False.
# Plain PyTorch loop, Adam 1e-3, batch 32, 50 steps/epoch, 10 epochs; every step is appended to
# logs/train_log.jsonl as {"iter", "epoch", "train_loss", "lr", "time"}; val accuracy/loss per epoch as separate records.
import json, time, numpy as np, torch, torch.nn as nn, torch.nn.functional as F
torch.set_num_threads(1); torch.manual_seed(0); rng = np.random.default_rng(0)
T, D, C = 16, 8, 4
W = rng.normal(size=(D, C))
NOISE = [0.3, 1.2, 0.5, 2.0, 0.8]; SHIFT = rng.normal(0, 0.7, (5, D))
PREV = [0, 1, 2, 3, 1]                                          # each site's dominant diagnosis (case mix)
def site(s, n):
    x = rng.normal(size=(4 * n, T, D)); y = (x.mean(1) @ W).argmax(1)
    p = np.where(y == PREV[s], 0.7, 0.1); p = p / p.sum()       # resample to the site's case mix: ~70% dominant class
    idx = rng.choice(4 * n, n, replace=False, p=p); x, y = x[idx], y[idx]
    x = x + SHIFT[s] + NOISE[s] * rng.normal(size=(n, T, D)) / 2
    return x.astype(np.float32), y
parts = [site(s, 320) for s in range(5)]                      # stored site after site (as exported)
X = np.concatenate([p[0] for p in parts]); Y = np.concatenate([p[1] for p in parts]); SRC = np.repeat(np.arange(5), 320)
vparts = [site(s, 160) for s in range(5)]
Xv = torch.tensor(np.concatenate([p[0] for p in vparts])); Yv = torch.tensor(np.concatenate([p[1] for p in vparts]))
class Block(nn.Module):
    def __init__(s, d, h=4):
        super().__init__(); s.n1 = nn.LayerNorm(d); s.att = nn.MultiheadAttention(d, h, batch_first=True)
        s.n2 = nn.LayerNorm(d); s.ff = nn.Sequential(nn.Linear(d, 2 * d), nn.GELU(), nn.Linear(2 * d, d))
    def forward(s, q, kv=None):
        qn = s.n1(q); kv = qn if kv is None else kv
        q = q + s.att(qn, kv, kv, need_weights=False)[0]
        return q + s.ff(s.n2(q))
class Perceiver(nn.Module):
    def __init__(s, d=48, nl=8):
        super().__init__(); s.lat = nn.Parameter(torch.randn(nl, d) * 0.1); s.inp = nn.Linear(D, d); s.kvn = nn.LayerNorm(d)
        s.cross = Block(d); s.selfs = nn.ModuleList([Block(d) for _ in range(2)]); s.head = nn.Linear(d, C)
    def forward(s, x):
        kv = s.kvn(s.inp(x)); z = s.cross(s.lat.expand(len(x), -1, -1), kv)
        for b in s.selfs: z = b(z)
        return s.head(z.mean(1))
model = Perceiver(); opt = torch.optim.Adam(model.parameters(), lr=1e-3)
dl = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(torch.tensor(X), torch.tensor(Y), torch.tensor(SRC)),
                                 batch_size=32, shuffle=False)
import os; os.makedirs("logs", exist_ok=True); f = open("logs/train_log.jsonl", "w")
rec = {"loss": [], "epoch": [], "pos": [], "src": [], "val_loss": []}; it = 0; t0 = time.time()
for ep in range(10):
    model.train()
    for i, (xb, yb, sb) in enumerate(dl):
        loss = F.cross_entropy(model(xb), yb)
        opt.zero_grad(); loss.backward(); opt.step()
        f.write(json.dumps({"iter": it, "epoch": ep, "train_loss": round(loss.item(), 6), "lr": opt.param_groups[0]["lr"],
                            "time": round(time.time() - t0, 3)}) + "\n")
        rec["loss"].append(loss.item()); rec["epoch"].append(ep); rec["pos"].append(i); rec["src"].append(float(sb.float().mean())); it += 1
    model.eval()
    with torch.no_grad(): out = model(Xv); vl = F.cross_entropy(out, Yv).item(); va = (out.argmax(1) == Yv).float().mean().item()
    f.write(json.dumps({"iter": it - 1, "epoch": ep, "val_loss": round(vl, 6), "val_acc": round(va, 4)}) + "\n"); f.flush()
    rec["val_loss"].append(vl); print(f"epoch {ep} val_loss {vl:.4f} acc {va:.3f}")
n = len(rec["loss"])
np.savez("truth.npz", loss=np.array(rec["loss"]), epoch=np.array(rec["epoch"]), pos=np.array(rec["pos"]),
         mean_source=np.array(rec["src"]), batch_size=np.full(n, 32), lr=np.full(n, 1e-3), val_loss=np.array(rec["val_loss"]))
