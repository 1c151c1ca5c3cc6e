# Temporal conv net (4 residual blocks of dilated causal Conv1d, dilations 1,2,4,8, kernel 3, 32 channels)
# forecasting the next 8 values of a synthetic multi-seasonal series (3 sines with drifting phases + AR(1) noise)
# from a 64-step window. MSE loss, Adam with lr=LR (default 0.05: far too high for this net; 1e-3 is fine).
# No clipping, no schedule. Log: console text printed by the loop, every 5 iterations, in a timestamped style
# `[2026-11-23 10:00:01] ep 3/8 it 120/188 | loss 0.4123 (avg 0.4500) | lr 5.0e-02 | 52.3 it/s`, with tqdm-like
# bar refreshes and a validation line at each epoch end interleaved. Truth (per-step loss, grad norm) in truth.npz.
import sys, time, datetime, numpy as np, torch, torch.nn as nn, torch.nn.functional as F
torch.set_num_threads(1); torch.manual_seed(0); rng = np.random.default_rng(0)
LR = float(sys.argv[1]) if len(sys.argv) > 1 else 0.05
OUT = sys.argv[2] if len(sys.argv) > 2 else "logs/train.log"
T = 14000; t = np.arange(T)
ar = np.zeros(T)
for i in range(1, T): ar[i] = 0.8 * ar[i - 1] + 0.3 * rng.standard_normal()
s = np.sin(2 * np.pi * t / 24) + 0.5 * np.sin(2 * np.pi * t / 168 + 0.0003 * t) + 0.3 * np.sin(2 * np.pi * t / 7.3) + ar
s = ((s - s.mean()) / s.std()).astype(np.float32)
W, H = 64, 8
idx = np.arange(0, 12000 - W - H)
X = torch.tensor(np.stack([s[i:i + W] for i in idx]))[:, None]; Y = torch.tensor(np.stack([s[i + W:i + W + H] for i in idx]))
vidx = np.arange(12000, T - W - H, 4)
Xv = torch.tensor(np.stack([s[i:i + W] for i in vidx]))[:, None]; Yv = torch.tensor(np.stack([s[i + W:i + W + H] for i in vidx]))

class Block(nn.Module):
    def __init__(s, c, d):
        super().__init__(); s.d = d; s.c1 = nn.Conv1d(c, c, 3, dilation=d); s.c2 = nn.Conv1d(c, c, 3, dilation=d)
    def forward(s, x):
        h = F.relu(s.c1(F.pad(x, (2 * s.d, 0))))
        return F.relu(x + s.c2(F.pad(h, (2 * s.d, 0))))
class TCN(nn.Module):
    def __init__(s):
        super().__init__(); s.inp = nn.Conv1d(1, 32, 1); s.blocks = nn.Sequential(*[Block(32, d) for d in (1, 2, 4, 8)])
        s.out = nn.Linear(32, H)
    def forward(s, x): return s.out(s.blocks(s.inp(x))[:, :, -1])
net = TCN(); opt = torch.optim.Adam(net.parameters(), lr=LR)
EPOCHS, B = 8, 64; nb = (len(X) + B - 1) // B
import os; os.makedirs(os.path.dirname(OUT), exist_ok=True); f = open(OUT, "w")
clock = datetime.datetime(2026, 11, 23, 10, 0, 0)
def ts(): return (clock + datetime.timedelta(seconds=time.time() - t0)).strftime("%Y-%m-%d %H:%M:%S")
print(f"[{datetime.datetime(2026, 11, 23, 10, 0, 0):%Y-%m-%d %H:%M:%S}] TCN forecaster: window={W} horizon={H} channels=32 dilations=1,2,4,8 "
      f"params={sum(p.numel() for p in net.parameters())} train_windows={len(X)} batch={B} optimizer=Adam", file=f)
t0 = time.time(); Ls, Gs = [], []; step = 0
for ep in range(1, EPOCHS + 1):
    perm = torch.randperm(len(X)); run = 0.0; tl = time.time()
    for it in range(1, nb + 1):
        b = perm[(it - 1) * B: it * B]
        loss = F.mse_loss(net(X[b]), Y[b]); opt.zero_grad(); loss.backward()
        gn = torch.sqrt(sum((p.grad ** 2).sum() for p in net.parameters())).item(); opt.step()
        Ls.append(loss.item()); Gs.append(gn); run += loss.item(); step += 1
        if it % 5 == 0 or it == nb:
            rate = it / max(time.time() - tl, 1e-6)
            print(f"[{ts()}] ep {ep}/{EPOCHS} it {it}/{nb} | loss {loss.item():.4f} (avg {run / it:.4f}) | lr {LR:.1e} | {rate:.1f} it/s", file=f)
        if it % 40 == 0:
            pct = int(100 * it / nb); bar = "█" * (pct // 10) + " " * (10 - pct // 10)
            print(f"train {ep}: {pct:3d}%|{bar}| {it}/{nb} [00:0{int(time.time()-tl)}<00:03, {rate:.2f}it/s]", file=f)
    with torch.no_grad(): vl = F.mse_loss(net(Xv), Yv).item()
    print(f"[{ts()}] ep {ep}/{EPOCHS} validation | mse {vl:.4f} | naive-repeat mse {F.mse_loss(Xv[:, 0, -1:].expand_as(Yv), Yv).item():.4f}", file=f)
f.close()
if OUT == "logs/train.log": np.savez("truth.npz", loss=np.array(Ls), grad_norm=np.array(Gs), lr=np.full(len(Ls), LR))
else: np.savez(OUT + ".truth.npz", loss=np.array(Ls), grad_norm=np.array(Gs))
print("done", round(time.time() - t0, 1), "s steps", step)
