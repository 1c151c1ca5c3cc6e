# kNN-distillation student: a teacher (16-nearest-neighbour vote over a labelled bank of 2000 points, 10 classes, 16-d
# Gaussian clusters) labels 6000 unlabelled points; a student MLP 16-128-128-10 learns the teacher's votes.
# Mixed precision on CPU: torch.autocast("cpu", dtype=torch.float16) with torch.amp.GradScaler("cpu").
# BUG: the student's softmax is written by hand, p = exp(z) / exp(z).sum(), inside autocast (fp16 logits), then
# loss = -log(p[label] + 1e-6). As the student grows confident its top logit passes ln(65504) = 11.09, exp overflows fp16
# to inf, inf/inf = NaN and the loss of that batch is NaN; the GradScaler skips those steps and halves its scale.
# Adam lr 1e-3, batch 64, 800 steps.
# Log: JSONL from the loop (logs/metrics.jsonl), every step: {"it", "objective", "lr", "amp_scale"}.
import json, os, numpy as np, torch, torch.nn as nn, torch.nn.functional as F
torch.set_num_threads(1); torch.manual_seed(0); rng = np.random.default_rng(0)
C, D = 10, 16; mu = rng.standard_normal((C, D)) * 1.6
def sample(n):
    y = rng.integers(0, C, n); return (mu[y] + rng.standard_normal((n, D))).astype("float32"), y
bank_x, bank_y = sample(2000); X, _ = sample(6000)
d2 = ((X[:, None] - bank_x[None]) ** 2).sum(-1); nn_idx = np.argsort(d2, 1)[:, :16]
soft = np.stack([np.bincount(bank_y[r], minlength=C) for r in nn_idx]).astype("float32"); hard = soft.argmax(1)
X, hard = torch.tensor(X), torch.tensor(hard)
student = nn.Sequential(nn.Linear(D, 128), nn.ReLU(), nn.Linear(128, 128), nn.ReLU(), nn.Linear(128, C))
opt = torch.optim.Adam(student.parameters(), lr=1e-3); scaler = torch.amp.GradScaler("cpu", init_scale=1024.0)
T = 1.0; os.makedirs("logs", exist_ok=True); f = open("logs/metrics.jsonl", "w"); g = torch.Generator().manual_seed(0)
L, S = [], []
for it in range(1, 801):
    idx = torch.randint(0, len(X), (64,), generator=g)
    with torch.autocast("cpu", dtype=torch.float16):
        z = student(X[idx])
        e = torch.exp(z / T); p = e / e.sum(-1, keepdim=True)          # hand-written softmax in fp16
        loss = -torch.log(p[torch.arange(64), hard[idx]] + 1e-6).mean()
    opt.zero_grad(); scaler.scale(loss).backward(); scaler.step(opt); scaler.update()
    L.append(loss.item()); S.append(scaler.get_scale())
    f.write(json.dumps({"it": it, "objective": loss.item(), "lr": 1e-3, "amp_scale": scaler.get_scale()}) + "\n")
f.close(); np.savez("truth.npz", loss=np.array(L), amp_scale=np.array(S))
