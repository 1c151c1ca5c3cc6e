"""Small squeeze-and-excitation CNN (SE blocks + BatchNorm + Dropout 0.4 head) classifying
synthetic 20x20 'spot pattern' images into 8 classes.  Bug: evaluate() calls model.eval() and never
switches back; model.train() is called only at the start of each epoch.  Validation runs every
70 global steps, so after the first evaluation inside an epoch the rest of that epoch trains with
dropout off and BatchNorm using running statistics.  Console output via print() (redirected to
logs/train.log): a line every 5 steps with the loss averaged over those 5 steps, and val lines."""
import sys, os, time, numpy as np, torch, torch.nn as nn, torch.nn.functional as F
from torch.utils.data import TensorDataset, DataLoader

torch.set_num_threads(1); torch.manual_seed(0)
N, B, EPOCHS, LR, EVAL_EVERY, PRINT_EVERY, C = 3200, 32, 10, 0.05, 70, 5, 8
os.makedirs("logs", exist_ok=True)
log = open("logs/train.log", "w")
def out(*a):
    print(*a); print(*a, file=log, flush=True)

def make(n, g):
    y = torch.randint(0, C, (n,), generator=g)
    centers = torch.rand(C, 3, 2, generator=torch.Generator().manual_seed(9)) * 14 + 3
    yy, xx = torch.meshgrid(torch.arange(20.), torch.arange(20.), indexing="ij")
    c = centers[y] + torch.randn(n, 3, 2, generator=g) * 1.2
    img = sum(torch.exp(-((yy - c[:, k, 0, None, None]) ** 2 + (xx - c[:, k, 1, None, None]) ** 2) / 4.0) for k in range(3))
    return (img + 0.6 * torch.randn(n, 20, 20, generator=g)).unsqueeze(1), y

class SE(nn.Module):
    def __init__(self, ch, r=4):
        super().__init__(); self.fc1 = nn.Linear(ch, ch // r); self.fc2 = nn.Linear(ch // r, ch)
    def forward(self, x):
        s = torch.sigmoid(self.fc2(F.relu(self.fc1(x.mean((2, 3))))))
        return x * s[:, :, None, None]

class SENet(nn.Module):
    def __init__(self):
        super().__init__()
        def block(i, o): return nn.Sequential(nn.Conv2d(i, o, 3, padding=1, bias=False), nn.BatchNorm2d(o), nn.ReLU(), SE(o), nn.MaxPool2d(2))
        self.features = nn.Sequential(block(1, 16), block(16, 32))
        self.head = nn.Sequential(nn.Flatten(), nn.Dropout(0.4), nn.Linear(32 * 25, 64), nn.ReLU(), nn.Dropout(0.4), nn.Linear(64, C))
    def forward(self, x): return self.head(self.features(x))

g = torch.Generator().manual_seed(2)
X, Y = make(N, g); Xv, Yv = make(800, g)
loader = DataLoader(TensorDataset(X, Y), batch_size=B, shuffle=True, generator=torch.Generator().manual_seed(0))
model = SENet()
opt = torch.optim.SGD(model.parameters(), lr=LR, momentum=0.9, weight_decay=5e-4)

def evaluate():
    model.eval()                                   # <-- never switched back to train()
    with torch.no_grad():
        logits = model(Xv)
        return F.cross_entropy(logits, Yv).item(), (logits.argmax(1) == Yv).float().mean().item()

truth = dict(loss=[], train_mode=[], epoch=[], pos=[], lr=[], batch_size=[], loss_if_train_mode=[])
val_steps, val_losses = [], []
step, acc_loss, t0 = 0, 0.0, time.time()
out(f"SENet params={sum(p.numel() for p in model.parameters())} | SGD lr={LR} momentum=0.9 | batch={B} | {len(loader)} steps/epoch")
for epoch in range(EPOCHS):
    model.train()
    for i, (x, y) in enumerate(loader):
        was_training = model.training
        loss = F.cross_entropy(model(x), y)
        opt.zero_grad(); loss.backward(); opt.step()
        # truth only: what this batch's loss would be with dropout/BN in train mode (no update, RNG forked)
        with torch.no_grad(), torch.random.fork_rng():
            m = model.training; model.train()
            bn_state = [(mod.running_mean.clone(), mod.running_var.clone(), mod.num_batches_tracked.clone()) for mod in model.modules() if isinstance(mod, nn.BatchNorm2d)]
            lt = F.cross_entropy(model(x), y).item()
            for mod, (rm_, rv, nb) in zip([mo for mo in model.modules() if isinstance(mo, nn.BatchNorm2d)], bn_state):
                mod.running_mean.copy_(rm_); mod.running_var.copy_(rv); mod.num_batches_tracked.copy_(nb)
            model.train(m)
        for k, v in (("loss", loss.item()), ("train_mode", was_training), ("epoch", epoch), ("pos", i), ("lr", LR),
                     ("batch_size", len(y)), ("loss_if_train_mode", lt)):
            truth[k].append(v)
        acc_loss += loss.item(); step += 1
        if step % PRINT_EVERY == 0:
            out(f"[epoch {epoch + 1}/{EPOCHS}][{i + 1:3d}/{len(loader)}] step {step:4d}  loss: {acc_loss / PRINT_EVERY:.4f}  lr: {LR}  ({time.time() - t0:.1f}s)")
            acc_loss = 0.0
        if step % EVAL_EVERY == 0:
            vl, va = evaluate(); val_steps.append(step); val_losses.append(vl)
            out(f"  >> validation @ step {step}: val_loss={vl:.4f} val_acc={va:.4f}")
np.savez("truth.npz", **{k: np.array(v, dtype=float) for k, v in truth.items()}, val_step=np.array(val_steps), val_loss=np.array(val_losses))
log.close()
