# Tiny one-class object detector: conv backbone (Conv-BN-ReLU x3, stride 2 twice) -> dense objectness head with
# Dropout(0.5) on a 4x4 grid over 16x16 images that hold 0-3 blurry blobs; sigmoid focal loss (alpha 0.25, gamma 2),
# mean over cells. Adam lr 1e-3, batch 32, 3200 images = 100 steps/epoch, 10 epochs.
# BUG: the loop evaluates on a validation set half-way through each epoch (at it 50) with model.eval() and never
# calls model.train() afterwards; model.train() is only called at the start of each epoch. So the second half of
# every epoch trains with dropout off and BatchNorm using its running statistics.
# Log: console text printed by the loop every 2 iterations in a new style
#   `» it=000120 e=2/10 focal=0.04123 pos=0.094 lr=1.0e-03 t=3.1ms`
# with eval lines `== eval @ it 150 (e=2, 50%) :: val_focal=0.0391 hit@0.5=0.812 ==` and an occasional warning.
# Truth (per-step loss, train-mode flag) in truth.npz.
import time, os, numpy as np, torch, torch.nn as nn, torch.nn.functional as F
torch.set_num_threads(1); torch.manual_seed(0); g = torch.Generator().manual_seed(0)
def make(n):
    img = torch.zeros(n, 1, 16, 16); tgt = torch.zeros(n, 4, 4)
    yy, xx = torch.meshgrid(torch.arange(16.), torch.arange(16.), indexing="ij")
    k = torch.randint(0, 4, (n,), generator=g)
    for i in range(n):
        for _ in range(int(k[i])):
            cy, cx = (torch.rand(2, generator=g) * 15.99).tolist()
            img[i, 0] += torch.exp(-((yy - cy) ** 2 + (xx - cx) ** 2) / 3.0); tgt[i, int(cy // 4), int(cx // 4)] = 1
    return img + 0.35 * torch.randn(n, 1, 16, 16, generator=g), tgt
xtr, ytr = make(3200); xva, yva = make(600)
def cbr(i, o, s): return nn.Sequential(nn.Conv2d(i, o, 3, s, 1, bias=False), nn.BatchNorm2d(o), nn.ReLU())
model = nn.Sequential(cbr(1, 16, 1), cbr(16, 32, 2), cbr(32, 32, 2), nn.Dropout(0.5), nn.Conv2d(32, 32, 1), nn.ReLU(),
                      nn.Dropout(0.5), nn.Conv2d(32, 1, 1))
def focal(logit, t, a=0.25, gm=2.0):
    p = torch.sigmoid(logit); ce = F.binary_cross_entropy_with_logits(logit, t, reduction="none")
    pt = p * t + (1 - p) * (1 - t); return ((a * t + (1 - a) * (1 - t)) * (1 - pt) ** gm * ce).mean()
opt = torch.optim.Adam(model.parameters(), lr=1e-3)
os.makedirs("logs", exist_ok=True); f = open("logs/console.txt", "w")
print("detector: backbone=cbr16-cbr32s2-cbr32s2 head=drop0.5-1x1-drop0.5-1x1 grid=4x4 loss=sigmoid_focal(a=0.25,g=2)", file=f)
print("data: 3200 train / 600 val images, batch 32, 100 it per epoch, eval every 100 it at the middle of the epoch", file=f)
Ls, M = [], []; it = 0; t0 = time.time()
for ep in range(1, 11):
    model.train(); perm = torch.randperm(3200)
    for b in range(100):
        idx = perm[b * 32:(b + 1) * 32]; tb = time.time()
        loss = focal(model(xtr[idx])[:, 0], ytr[idx]); opt.zero_grad(); loss.backward(); opt.step()
        Ls.append(loss.item()); M.append(model.training); it += 1
        if it % 2 == 0:
            print(f"» it={it:06d} e={ep}/10 focal={loss.item():.5f} pos={ytr[idx].mean().item():.3f} lr=1.0e-03 t={1000 * (time.time() - tb):.1f}ms", file=f)
        if b == 49:
            model.eval()                                   # <- never switched back until the next epoch
            with torch.no_grad():
                lv = model(xva)[:, 0]; vl = focal(lv, yva).item()
                hit = ((torch.sigmoid(lv) > 0.5).float() == yva).float().mean().item()
            print(f"== eval @ it {it} (e={ep}, 50%) :: val_focal={vl:.4f} hit@0.5={hit:.3f} ==", file=f)
            if ep == 3: print("/usr/lib/python3/site-packages/torch/nn/modules/conv.py:456: UserWarning: Plan failed with a cudnnException (ignored)", file=f)
f.close(); np.savez("truth.npz", loss=np.array(Ls), train_mode=np.array(M))
print("done", round(time.time() - t0, 1))
