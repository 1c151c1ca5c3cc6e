# HEALTHY: char-level GRU language model (emb 32, hidden 128) on synthetic text (random sentences from a
# small grammar), sequences of 64 chars, batch 32, shuffled every epoch, 4 epochs. Adam, 40-step linear
# warmup to 3e-3 then linear decay to 3e-4, gradient clipping at 1.0.
# Log: console lines in logs/train.log, one per step:
#   "| e02 | b0120/0187 | ppl   3.44 | loss 1.2351 | lr 2.97e-04 |"   (b = batch within the epoch)
# True per-step loss in truth.npz.
import torch, torch.nn as nn, numpy as np, random, os, time, math
torch.manual_seed(0); random.seed(0); np.random.seed(0); torch.set_num_threads(1)
subj = ["the cat", "a dog", "my friend", "the old man", "she", "he", "the bird", "our teacher", "a child", "the king"]
verb = ["sees", "likes", "eats", "finds", "wants", "hates", "follows", "draws", "buys"]
obj = ["the fish", "a red ball", "some bread", "the moon", "her hat", "a small box", "the river", "two apples"]
adv = ["", " today", " again", " quickly", " at night", " in the park", " with joy"]
text = " ".join(f"{random.choice(subj)} {random.choice(verb)} {random.choice(obj)}{random.choice(adv)}." for _ in range(16000))
chars = sorted(set(text)); stoi = {c: i for i, c in enumerate(chars)}; V = len(chars)
data = torch.tensor([stoi[c] for c in text]); T, B, EPOCHS = 64, 32, 4
nseq = (len(data) - 1) // T; X = data[:nseq * T].view(nseq, T); Y = data[1:nseq * T + 1].view(nseq, T)
class LM(nn.Module):
    def __init__(s):
        super().__init__(); s.emb = nn.Embedding(V, 32); s.rnn = nn.GRU(32, 128, batch_first=True); s.out = nn.Linear(128, V)
    def forward(s, x): return s.out(s.rnn(s.emb(x))[0])
model = LM(); opt = torch.optim.Adam(model.parameters(), lr=3e-3)
spe = nseq // B; total = spe * EPOCHS; WU = 40
sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: (s + 1) / WU if s < WU else 1 - 0.9 * (s - WU) / (total - WU))
os.makedirs("logs", exist_ok=True); f = open("logs/train.log", "w")
print(f"model GRU-128 vocab={V} seq={T} batch={B} optimizer=Adam peak_lr=3e-3 warmup={WU} steps/epoch={spe}", file=f)
g = torch.Generator().manual_seed(1); L = []; t0 = time.time()
for ep in range(EPOCHS):
    perm = torch.randperm(nseq, generator=g)
    for i in range(spe):
        idx = perm[i * B:(i + 1) * B]
        loss = nn.functional.cross_entropy(model(X[idx]).reshape(-1, V), Y[idx].reshape(-1))
        opt.zero_grad(); loss.backward(); nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        lr = sched.get_last_lr()[0]; opt.step(); sched.step(); L.append(loss.item())
        print(f"| e{ep + 1:02d} | b{i + 1:04d}/{spe:04d} | ppl {math.exp(L[-1]):6.2f} | loss {L[-1]:.4f} | lr {lr:.2e} |", file=f)
f.close(); np.savez("truth.npz", loss=np.array(L), steps_per_epoch=spe); print("steps", len(L), "time", round(time.time() - t0, 1))
