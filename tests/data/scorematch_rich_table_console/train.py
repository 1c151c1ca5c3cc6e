# Denoising score matching toy: an MLP s(x, sigma) (input 2-d point + log sigma; 3-128-128-2, SiLU) learns the score of a
# 2-d mixture of 8 Gaussians on a ring, with noise levels sigma drawn log-uniform in [0.05, 1]; loss
# || sigma * s(x + sigma*eps, sigma) + eps ||^2 (the usual sigma^2-weighted DSM loss). Fresh data every step, batch 256.
# AdamW with torch OneCycleLR(max_lr=3e-3, total_steps=1500, pct_start=0.3). Nothing is wrong: a healthy run.
# Log: console text (logs/console.txt), a new style: a rich.table.Table (Rich's default box, as rich.print gives it)
# printed at the end of each epoch of 100 steps, one row every 10 steps (columns epoch, step, loss, ema loss, lr), e.g.
#   │     3 │   310 │   0.81234 │   0.82011 │ 2.95e-03 │
import math, os, numpy as np, torch, torch.nn as nn
from rich.console import Console
from rich.table import Table
torch.set_num_threads(1); torch.manual_seed(0)
net = nn.Sequential(nn.Linear(3, 128), nn.SiLU(), nn.Linear(128, 128), nn.SiLU(), nn.Linear(128, 2))
opt = torch.optim.AdamW(net.parameters(), lr=3e-3); sch = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=3e-3, total_steps=1500, pct_start=0.3)
ang = torch.arange(8) * (2 * math.pi / 8); centres = torch.stack([torch.cos(ang), torch.sin(ang)], 1) * 2
os.makedirs("logs", exist_ok=True); out = open("logs/console.txt", "w"); L, LR = [], []; ema = None
con = Console(file=out, width=100, color_system=None)
def p(s): con.print(s)
p("Training score model: 1500 steps, batch 256, OneCycleLR(max_lr=3e-3)")
for step in range(1, 1501):
    if (step - 1) % 100 == 0:
        tab = Table(title=f"Epoch {(step - 1) // 100 + 1}/15")
        for c in ["epoch", "step", "loss", "ema loss", "lr"]: tab.add_column(c, justify="right")
    x = centres[torch.randint(0, 8, (256,))] + 0.1 * torch.randn(256, 2)
    sig = torch.exp(torch.empty(256, 1).uniform_(math.log(0.05), 0.0)); eps = torch.randn(256, 2)
    s = net(torch.cat([x + sig * eps, sig.log()], 1)); loss = ((sig * s + eps) ** 2).sum(1).mean()
    opt.zero_grad(); loss.backward(); lr = opt.param_groups[0]["lr"]; opt.step(); sch.step()
    L.append(loss.item()); LR.append(lr); ema = loss.item() if ema is None else 0.95 * ema + 0.05 * loss.item()
    if step % 10 == 0:
        tab.add_row(str((step - 1) // 100 + 1), str(step), f"{loss.item():.5f}", f"{ema:.5f}", f"{lr:.2e}")
    if step % 100 == 0: con.print(tab)
out.close(); np.savez("truth.npz", loss=np.array(L), lr=np.array(LR))
