# lr_schedule_jumps: N-BEATS-style forecaster, Adam + CosineAnnealingWarmRestarts (per-step, T_0=150),
# torch.utils.tensorboard.SummaryWriter, loss only, every step
import numpy as np, torch, torch.nn as nn
from torch.utils.tensorboard import SummaryWriter
torch.set_num_threads(1); torch.manual_seed(0); rng = np.random.default_rng(0)

H, F_ = 48, 12
def series(n):
    t = np.arange(n)
    return (np.sin(2 * np.pi * t / 24) + 0.5 * np.sin(2 * np.pi * t / 7 + 1) + 0.002 * t
            + 0.03 * rng.standard_normal(n)).astype(np.float32)
Xs, Ys = [], []
for a in (1.0, 0.7, 1.3):   # three series; windows never cross from one series into the next
    s = series(3000) * a
    Xs += [s[i:i + H] for i in range(len(s) - H - F_)]; Ys += [s[i + H:i + H + F_] for i in range(len(s) - H - F_)]
X = torch.tensor(np.stack(Xs)); Y = torch.tensor(np.stack(Ys))
perm = torch.randperm(len(X)); X, Y = X[perm], Y[perm]
Xtr, Ytr, Xva, Yva = X[:7000], Y[:7000], X[7000:], Y[7000:]

class Block(nn.Module):
    def __init__(s, w=128):
        super().__init__(); s.fc = nn.Sequential(nn.Linear(H, w), nn.ReLU(), nn.Linear(w, w), nn.ReLU(), nn.Linear(w, w), nn.ReLU())
        s.theta_b = nn.Linear(w, H); s.theta_f = nn.Linear(w, F_)
    def forward(s, x): h = s.fc(x); return s.theta_b(h), s.theta_f(h)
class NBeats(nn.Module):
    def __init__(s, k=3):
        super().__init__(); s.blocks = nn.ModuleList(Block() for _ in range(k))
    def forward(s, x):
        res, fc = x, 0
        for b in s.blocks:
            back, f = b(res); res = res - back; fc = fc + f
        return fc

model = NBeats(); opt = torch.optim.Adam(model.parameters(), lr=1e-2)
sched = torch.optim.lr_scheduler.CosineAnnealingWarmRestarts(opt, T_0=150, eta_min=1e-5)
writer = SummaryWriter("logs/nbeats_sgdr")
bs, step = 64, 0; truth = {k: [] for k in ["loss", "lr", "epoch", "pos"]}; vs, vl = [], []
for ep in range(7):
    order = torch.randperm(len(Xtr))
    for pos, i in enumerate(range(0, len(Xtr) - bs + 1, bs)):
        b = order[i:i + bs]; loss = nn.functional.mse_loss(model(Xtr[b]), Ytr[b])
        opt.zero_grad(); loss.backward(); opt.step()
        truth["lr"].append(opt.param_groups[0]["lr"]); sched.step()
        writer.add_scalar("train/loss", loss.item(), step)
        truth["loss"].append(loss.item()); truth["epoch"].append(ep); truth["pos"].append(pos); step += 1
    with torch.no_grad(): v = nn.functional.mse_loss(model(Xva), Yva).item()
    vs.append(step); vl.append(v)
writer.close()
np.savez("truth.npz", **{k: np.array(v) for k, v in truth.items()}, val_step=np.array(vs), val_loss=np.array(vl))
