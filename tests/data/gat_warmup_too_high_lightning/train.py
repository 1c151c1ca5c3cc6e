# Graph attention network (2 dense GAT layers, 4 heads, mean-pool, linear head) classifying synthetic graphs of 16 nodes:
# class 1 graphs hold two dense communities (planted partition), class 0 are Erdos-Renyi of the same density; node features
# are noisy degree/community hints. 2048 training graphs, 512 validation graphs, batch 32 (64 steps/epoch), 10 epochs.
# BUG: Adam with a linear LR warm-up whose peak is far too high: lr goes 1e-4 -> 0.3 over the first 320 steps, then stays.
# The loss falls while the LR is small, then climbs back and stays high as the LR grows; the gradient norm grows with it.
# Log: Lightning CSVLogger (logs/gat/version_0/metrics.csv), log_every_n_steps=2: train_loss, grad_norm, lr per step,
# val_loss per epoch.
import os, warnings, logging, numpy as np, torch, torch.nn as nn, torch.nn.functional as F
import lightning as Lg
warnings.filterwarnings("ignore"); logging.getLogger("lightning").setLevel(logging.ERROR)
logging.getLogger("lightning.pytorch").setLevel(logging.ERROR)
torch.set_num_threads(1); Lg.seed_everything(0, verbose=False); rng = np.random.default_rng(0)
N = 16; PEAK = float(os.environ.get("PEAK", 0.3))
def graph(c):
    if c:
        g = rng.integers(0, 2, N); p = np.where(g[:, None] == g[None], 0.7, 0.03)
    else: p = np.full((N, N), 0.365); g = rng.integers(0, 2, N)
    a = (rng.uniform(size=(N, N)) < p).astype("float32"); a = np.triu(a, 1); a = a + a.T + np.eye(N, dtype="float32")
    x = np.stack([a.sum(1) / N, (a @ a @ a).diagonal() / N ** 2, rng.standard_normal(N), rng.standard_normal(N)], 1)
    return a, x.astype("float32")
def make(n):
    y = rng.integers(0, 2, n); ax = [graph(c) for c in y]
    return (torch.tensor(np.stack([a for a, _ in ax])), torch.tensor(np.stack([x for _, x in ax])), torch.tensor(y))
tr, va = make(2048), make(512)
class GAT(nn.Module):
    def __init__(s, i, o, H=4):
        super().__init__(); s.W = nn.Linear(i, o * H, bias=False); s.a1 = nn.Parameter(torch.randn(H, o) * .1)
        s.a2 = nn.Parameter(torch.randn(H, o) * .1); s.H, s.o = H, o
    def forward(s, x, a):
        B, n, _ = x.shape; h = s.W(x).view(B, n, s.H, s.o)
        e = F.leaky_relu((h * s.a1).sum(-1)[:, :, None] + (h * s.a2).sum(-1)[:, None], 0.2)   # B,n,n,H
        e = e.masked_fill(a[..., None] == 0, float("-inf")); al = torch.softmax(e, 2)
        return F.elu(torch.einsum("bijh,bjho->biho", al, h).reshape(B, n, s.H * s.o))
class Net(Lg.LightningModule):
    def __init__(s):
        super().__init__(); s.g1, s.g2 = GAT(4, 16), GAT(64, 16); s.head = nn.Linear(64, 2); s.TRUE = {"loss": [], "gn": [], "lr": []}
    def forward(s, a, x): return s.head(s.g2(s.g1(x, a), a).mean(1))
    def training_step(s, b, i):
        a, x, y = b; loss = F.cross_entropy(s(a, x), y)
        s.log("train_loss", loss); s.log("lr", s.optimizers().param_groups[0]["lr"]); s.TRUE["loss"].append(loss.item())
        s.TRUE["lr"].append(s.optimizers().param_groups[0]["lr"]); return loss
    def on_before_optimizer_step(s, opt):
        gn = torch.sqrt(sum((p.grad ** 2).sum() for p in s.parameters() if p.grad is not None)); s.log("grad_norm", gn)
        s.TRUE["gn"].append(gn.item())
    def validation_step(s, b, i):
        a, x, y = b; s.log("val_loss", F.cross_entropy(s(a, x), y))
    def configure_optimizers(s):
        o = torch.optim.Adam(s.parameters(), lr=PEAK)
        sch = torch.optim.lr_scheduler.LinearLR(o, start_factor=1e-4 / PEAK, end_factor=1.0, total_iters=320)
        return {"optimizer": o, "lr_scheduler": {"scheduler": sch, "interval": "step"}}
dl = lambda d, sh: torch.utils.data.DataLoader(torch.utils.data.TensorDataset(*d), batch_size=32 if sh else 512, shuffle=sh)
m = Net()
t = Lg.Trainer(max_epochs=10, logger=Lg.pytorch.loggers.CSVLogger("logs", name="gat"), log_every_n_steps=2,
               enable_checkpointing=False, enable_progress_bar=False, enable_model_summary=False, accelerator="cpu")
t.fit(m, dl(tr, True), dl(va, False))
np.savez("truth.npz", loss=np.array(m.TRUE["loss"]), grad_norm=np.array(m.TRUE["gn"]), lr=np.array(m.TRUE["lr"]))
