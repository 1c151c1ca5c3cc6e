"""Tiny T5 (from T5Config, d_model 64, 2+2 layers) learns to reverse 10-token sequences (20% noisy target tokens).
HF Trainer, batch 32, AdamW 2e-3 linear decay with 30 warm-up steps, logging_steps=10, eval_strategy='epoch', 5 epochs."""
import time, numpy as np, torch, transformers
from transformers import T5Config, T5ForConditionalGeneration, Trainer, TrainingArguments
torch.set_num_threads(1); transformers.set_seed(0); rng = np.random.default_rng(0)
V, T = 40, 10
def make(n):
    x = rng.integers(2, V, (n, T)); y = x[:, ::-1].copy(); m = rng.random(y.shape) < 0.2; y[m] = rng.integers(2, V, m.sum()); return x, y
class DS(torch.utils.data.Dataset):
    def __init__(self, n): self.x, self.y = map(torch.tensor, make(n))
    def __len__(self): return len(self.x)
    def __getitem__(self, i): return {'input_ids': self.x[i], 'labels': self.y[i]}
cfg = T5Config(vocab_size=V, d_model=64, d_kv=16, d_ff=128, num_layers=2, num_decoder_layers=2, num_heads=4,
               decoder_start_token_id=0, pad_token_id=0, eos_token_id=1, dropout_rate=0.0)
model = T5ForConditionalGeneration(cfg); truth = []
class T2(Trainer):
    def compute_loss(self, model, inputs, return_outputs=False, **kw):
        out = model(**inputs)
        if model.training: truth.append(out.loss.item())
        return (out.loss, out) if return_outputs else out.loss
args = TrainingArguments('out', per_device_train_batch_size=32, num_train_epochs=5, learning_rate=2e-3, warmup_steps=30,
                         lr_scheduler_type='linear', logging_steps=10, eval_strategy='epoch', per_device_eval_batch_size=200,
                         save_strategy='no', report_to=[], use_cpu=True, seed=0, disable_tqdm=True)
t = T2(model=model, args=args, train_dataset=DS(3200), eval_dataset=DS(400)); t0 = time.time(); t.train(); print('train seconds', time.time() - t0)
t.state.save_to_json('out/trainer_state.json')
L = np.array(truth); np.savez('truth.npz', loss=L, steps_per_epoch=100)
print('n', len(L), 'per-50 median', np.round([np.median(L[i:i+50]) for i in range(0, len(L), 50)], 3))
print('eval', [round(h['eval_loss'], 3) for h in t.state.log_history if 'eval_loss' in h])
