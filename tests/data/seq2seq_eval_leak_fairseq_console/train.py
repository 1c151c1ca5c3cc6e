# Seq2seq with attention: GRU encoder (bidirectional, 64) + GRU decoder (128) with Luong dot attention, teacher
# forcing, Dropout(0.3) on the embeddings and before the output layer. Task: output the input sequence (length 12,
# 24 symbols) reversed and with each symbol mapped by a fixed permutation; 15% of target symbols are replaced
# at random (noisy references), so the loss floor is ~0.6. 4000 training pairs, batch 80
# (50 updates/epoch), 12 epochs, Adam 2e-3, reshuffled each epoch.
# BUG under test: a validation pass runs in the MIDDLE of every epoch (after update 25 of the epoch) and calls
# model.eval(); model.train() is only called at the start of each epoch, so the second half of every epoch trains
# with dropout OFF. Log: console text in an (invented) fairseq-like pipe style, one line per 5 updates with the
# MEAN loss over those 5 updates, plus validation lines and a few warnings -> logs/train.log
# True per-step loss -> truth.npz
import math, time, warnings, numpy as np, torch, torch.nn as nn, torch.nn.functional as F
torch.set_num_threads(1); torch.manual_seed(0); np.random.seed(0)
V, Lq = 24, 12; perm_map = torch.randperm(V) + 2      # target ids 2..25; 0 = pad, 1 = BOS
def pairs(n):
    src = torch.randint(0, V, (n, Lq)); tgt = perm_map[src.flip(1)]
    noisy = torch.rand(n, Lq) < 0.15; tgt = torch.where(noisy, torch.randint(2, V + 2, (n, Lq)), tgt); return src, tgt
(X, Y), (Xv, Yv) = pairs(4000), pairs(1000)
class S2S(nn.Module):
    def __init__(s):
        super().__init__(); s.se = nn.Embedding(V, 48); s.te = nn.Embedding(V + 2, 48); s.drop = nn.Dropout(0.3)
        s.enc = nn.GRU(48, 64, batch_first=True, bidirectional=True); s.dec = nn.GRU(48, 128, batch_first=True)
        s.out = nn.Linear(256, V + 2)
    def forward(s, src, tgt):
        H, h = s.enc(s.drop(s.se(src))); h0 = torch.cat([h[0], h[1]], -1)[None]
        inp = torch.cat([torch.ones_like(tgt[:, :1]), tgt[:, :-1]], 1)
        D, _ = s.dec(s.drop(s.te(inp)), h0)
        att = torch.softmax(D @ H.transpose(1, 2) / 16, -1) @ H
        return s.out(s.drop(torch.cat([D, att], -1)))
def sloss(m, x, y): return F.cross_entropy(m(x, y).reshape(-1, V + 2), y.reshape(-1))
m = S2S(); opt = torch.optim.Adam(m.parameters(), lr=2e-3)
log = open('logs/train.log', 'w'); P = lambda s: print(s, file=log)
P("| distributed init (rank 0): single process"); P("| model s2s_gru_attn, criterion cross_entropy")
npar = sum(p.numel() for p in m.parameters()); P("| num. model params: %d (num. trained: %d)" % (npar, npar))
P("| training on 1 devices (CPU), max tokens = None, max sentences (batch) = 80"); P("| no existing checkpoint found checkpoints/checkpoint_last.pt")
true = []; best = float('inf'); nu = 0; t0 = time.time(); buf = []
for ep in range(1, 13):
    m.train(); perm = torch.randperm(4000)
    for b in range(50):
        idx = perm[b * 80:(b + 1) * 80]; loss = sloss(m, X[idx], Y[idx]); opt.zero_grad(); loss.backward(); opt.step(); nu += 1
        true.append(loss.item()); buf.append(loss.item())
        if nu % 5 == 0:
            el = time.time() - t0
            P(f"| epoch {ep:03d} | {b + 1:4d} / 50 | loss {np.mean(buf):.4f} | wps {int(5 * 80 * 12 / max(el / nu * 5, 1e-3))} | ups {nu / el:.2f} | lr 0.001 | num_updates {nu} | wall {int(el)}")
            buf = []
        if b + 1 == 25:   # mid-epoch validation
            m.eval()
            with torch.no_grad(): vl = sloss(m, Xv, Yv).item()
            best = min(best, vl); P(f"| epoch {ep:03d} | valid on 'valid' subset | loss {vl:.4f} | num_updates {nu} | best_loss {best:.4f}")
            if ep == 3: P("WARNING: |  overflow detected in data loader queue, reducing prefetch to 2")
    P(f"| epoch {ep:03d} | saved checkpoint checkpoints/checkpoint{ep}.pt (epoch {ep} @ {nu} updates) (writing took 0.01 seconds)")
P("| done training in %.1f seconds" % (time.time() - t0)); log.close()
np.savez('truth.npz', loss=np.array(true), steps_per_epoch=50, batch_size=80, eval_after=25)
