"""Small nn.TransformerEncoder classifier memorising 2048 random token sequences -> random labels
(a lookup task: the goal is recall of the stored pairs, so no held-out set). Reshuffled each epoch,
AdamW(lr=2e-3, betas=(0.9, 0.9)). Console log via `logging`: mean loss of the last 8 steps, loss only."""
import logging, os, sys, time
import numpy as np, torch, torch.nn as nn
torch.set_num_threads(1); torch.manual_seed(5); np.random.seed(5)
os.makedirs("logs", exist_ok=True)
logging.basicConfig(level=logging.INFO, format="%(asctime)s - %(levelname)s - %(name)s - %(message)s",
                    handlers=[logging.FileHandler("logs/train.log", mode="w"), logging.StreamHandler(sys.stdout)])
log = logging.getLogger("memorise")
N, S, V, C, BS, EPOCHS, LOG_EVERY = 2048, 12, 64, 16, 32, 24, 8
X = torch.randint(0, V, (N, S)); Y = torch.randint(0, C, (N,))

class Enc(nn.Module):
    def __init__(s, d=96):
        super().__init__()
        s.emb = nn.Embedding(V, d); s.pos = nn.Parameter(torch.randn(S, d) * 0.02)
        s.enc = nn.TransformerEncoder(nn.TransformerEncoderLayer(d, 4, 4 * d, dropout=0.0, batch_first=True), 2)
        s.head = nn.Linear(d, C)
    def forward(s, x):
        return s.head(s.enc(s.emb(x) + s.pos).mean(1))

model = Enc()
opt = torch.optim.AdamW(model.parameters(), lr=2e-3, betas=(0.9, 0.9), weight_decay=0.0)
loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(X, Y), batch_size=BS, shuffle=True,
                                     generator=torch.Generator().manual_seed(5))
log.info("params=%d steps_per_epoch=%d", sum(p.numel() for p in model.parameters()), len(loader))
keys = ["loss", "grad_norm", "lr", "epoch", "pos", "batch_size"]; T = {k: [] for k in keys}
step = 0; running = 0.0; t0 = time.time()
for ep in range(EPOCHS):
    model.train()
    for i, (xb, yb) in enumerate(loader):
        loss = nn.functional.cross_entropy(model(xb), yb)
        opt.zero_grad(); loss.backward()
        gn = float(torch.nn.utils.clip_grad_norm_(model.parameters(), float("inf")))
        opt.step(); step += 1; running += loss.item()
        for k, v in zip(keys, [loss.item(), gn, 2e-3, ep, i, len(yb)]): T[k].append(v)
        if step % LOG_EVERY == 0:
            log.info("epoch %d | step %d | loss %.4f", ep + 1, step, running / LOG_EVERY); running = 0.0
    log.info("finished epoch %d", ep + 1)
np.savez("truth.npz", **{k: np.array(v) for k, v in T.items()}, steps_per_epoch=len(loader), log_every=LOG_EVERY)
log.info("done in %.1fs", time.time() - t0)
