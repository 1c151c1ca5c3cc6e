# Tiny Mistral causal LM (MistralForCausalLM from a MistralConfig: hidden 128, 2 layers, 4 heads / 2 kv heads,
# intermediate 256, vocab 24; random init) on a synthetic corpus from a random second-order Markov chain (entropy well
# above 0). Only 64 training sequences of 32 tokens (2048 tokens) against 256 validation sequences from the same chain:
# the model memorises the training set. AdamW lr 2e-3 (constant), batch 8 (8 steps/epoch), 45 epochs (360 steps),
# no dropout. Training loss keeps falling towards 0 while eval_loss bottoms out and climbs.
# Hugging Face Trainer, logging_steps=2, eval_strategy="epoch".
# Log: trainer_state.json written by trainer.save_state() (logs/trainer_state.json). Truth in truth.npz.
import os, warnings, numpy as np, torch
warnings.filterwarnings("ignore")
from transformers import MistralConfig, MistralForCausalLM, Trainer, TrainingArguments, set_seed
import transformers; transformers.logging.set_verbosity_error()
torch.set_num_threads(1); set_seed(0); rng = np.random.default_rng(0)
V = 24; P = rng.dirichlet(np.full(V, 0.3), size=V)
def seqs(n, L=32):
    out = []
    for _ in range(n):
        s = list(rng.integers(0, V, 2))
        while len(s) < L: s.append(rng.choice(V, p=P[s[-1]]))
        t = torch.tensor(s); out.append({"input_ids": t, "labels": t.clone()})
    return out
train, val = seqs(96), seqs(256)
cfg = MistralConfig(vocab_size=V, hidden_size=128, intermediate_size=256, num_hidden_layers=2, num_attention_heads=4,
                    num_key_value_heads=2, max_position_embeddings=64, attention_dropout=0.0, pad_token_id=0,
                    bos_token_id=1, eos_token_id=2)
model = MistralForCausalLM(cfg)
TRUE = []
class T(Trainer):
    def compute_loss(self, model, inputs, return_outputs=False, **kw):
        out = model(**inputs)
        if model.training: TRUE.append(out.loss.item())
        return (out.loss, out) if return_outputs else out.loss
args = TrainingArguments(output_dir="logs", per_device_train_batch_size=8, per_device_eval_batch_size=64, num_train_epochs=30,
                         learning_rate=2e-3, lr_scheduler_type="constant", weight_decay=0.0, logging_steps=2,
                         eval_strategy="epoch", save_strategy="no", report_to=[], seed=0, use_cpu=True, disable_tqdm=True,
                         dataloader_num_workers=0)
tr = T(model=model, args=args, train_dataset=train, eval_dataset=val)
tr.train(); tr.save_state()
ev = [h["eval_loss"] for h in tr.state.log_history if "eval_loss" in h]
np.savez("truth.npz", loss=np.array(TRUE), eval_loss=np.array(ev))
