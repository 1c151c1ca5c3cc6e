# Tiny DenseNet (BatchNorm + dropout) on synthetic 3x16x16 texture images, 6 classes, SGD+momentum.
# Validation runs every 30 steps inside the epoch; evaluate() calls model.eval() and never switches back,
# model.train() is only called at the top of each epoch. Logged with torch.utils.tensorboard.SummaryWriter.
import numpy as np, torch, torch.nn as nn, torch.nn.functional as F
from torch.utils.tensorboard import SummaryWriter
torch.set_num_threads(1); torch.manual_seed(0); rng = np.random.default_rng(0)
def make(n):
    ii, jj = np.mgrid[:16, :16]; X = np.zeros((n, 3, 16, 16), "float32"); y = rng.integers(0, 6, n)
    ang = y * np.pi / 6
    for k in range(n):
        a = ang[k] + rng.normal(0, .15); f = rng.uniform(.7, 1.3)
        base = np.sin(f * (np.cos(a) * ii + np.sin(a) * jj) + rng.uniform(0, 6))
        X[k] = base[None] * rng.uniform(.5, 1.5, (3, 1, 1)) + rng.normal(0, 1.2, (3, 16, 16))
    return torch.tensor(X), torch.tensor(y)
Xtr, ytr = make(1920); Xva, yva = make(384)
class DenseLayer(nn.Module):
    def __init__(s, cin, g): super().__init__(); s.bn = nn.BatchNorm2d(cin); s.conv = nn.Conv2d(cin, g, 3, padding=1)
    def forward(s, x): return torch.cat([x, s.conv(F.relu(s.bn(x)))], 1)
class TinyDenseNet(nn.Module):
    def __init__(s, g=8):
        super().__init__(); s.stem = nn.Conv2d(3, 16, 3, padding=1)
        s.b1 = nn.Sequential(*[DenseLayer(16 + i * g, g) for i in range(3)])
        s.t1 = nn.Sequential(nn.BatchNorm2d(40), nn.ReLU(), nn.Conv2d(40, 24, 1), nn.AvgPool2d(2))
        s.b2 = nn.Sequential(*[DenseLayer(24 + i * g, g) for i in range(3)])
        s.head = nn.Sequential(nn.BatchNorm2d(48), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Dropout(0.5), nn.Linear(48, 6))
    def forward(s, x): return s.head(s.b2(s.t1(s.b1(s.stem(x)))))
model = TinyDenseNet(); opt = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9, weight_decay=5e-4)
dl = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(Xtr, ytr), batch_size=32, shuffle=True)
writer = SummaryWriter("logs/densenet_run1")
def evaluate():
    model.eval(); tot = 0.0
    with torch.no_grad():
        for i in range(0, len(Xva), 128): tot += F.cross_entropy(model(Xva[i:i+128]), yva[i:i+128], reduction="sum").item()
    return tot / len(Xva)
T = {k: [] for k in ["loss", "epoch", "pos", "training_mode", "lr"]}; V = []; step = 0
for epoch in range(8):
    model.train()
    for i, (x, y) in enumerate(dl):
        loss = F.cross_entropy(model(x), y)
        opt.zero_grad(); loss.backward(); opt.step(); step += 1
        writer.add_scalar("train/loss", loss.item(), step)
        for k, v in zip(T, [loss.item(), epoch, i, int(model.training), 0.05]): T[k].append(v)
        if (i + 1) % 30 == 0:
            vl = evaluate(); writer.add_scalar("val/loss", vl, step); V.append((step, vl))
    print(epoch, np.mean(T["loss"][-60:]), V[-1])
writer.close()
np.savez("truth.npz", **{k: np.array(v) for k, v in T.items()}, val=np.array(V))
