# Tiny MPNet regressor (share of "positive" words) in a real HF Trainer with SGD and CosineAnnealingWarmRestarts
# (T_0=140), validated every 125 steps, logging_steps=5. The run ends 15 steps after its seventh restart, so its
# last evaluation (0.031) is taken right after the LR went back up to 0.1, ×50 above the best (6e-4).
# From red-team round 21 (21b r01, its first version). Writes trainer_state.json next to this file.
import os
import tempfile

import numpy as np
import torch
from transformers import MPNetConfig, MPNetForSequenceClassification, Trainer, TrainingArguments, set_seed

torch.set_num_threads(1)
set_seed(0)
HERE = os.path.dirname(os.path.abspath(__file__))
V, T = 40, 24


def make(n, seed):
    g = np.random.default_rng(seed)
    p = g.uniform(0.1, 0.9, size=n)
    pos = g.random((n, T)) < p[:, None]
    x = np.where(pos, g.integers(5, 22, size=(n, T)), g.integers(22, V, size=(n, T)))
    x[:, 0] = 0
    y = (4 * pos[:, 1:].mean(1) - 2).astype(np.float32)
    return [{"input_ids": torch.tensor(a), "attention_mask": torch.ones(T, dtype=torch.long), "labels": torch.tensor(b)}
            for a, b in zip(x, y, strict=True)]


train, val = make(2000, 1), make(400, 2)
cfg = MPNetConfig(vocab_size=V, hidden_size=64, num_hidden_layers=2, num_attention_heads=4, intermediate_size=128,
                  max_position_embeddings=T + 4, num_labels=1, problem_type="regression", hidden_dropout_prob=0.0,
                  attention_probs_dropout_prob=0.0)
model = MPNetForSequenceClassification(cfg)
opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9, nesterov=True, weight_decay=1e-4)
sched = torch.optim.lr_scheduler.CosineAnnealingWarmRestarts(opt, T_0=140, T_mult=1, eta_min=1e-5)
with tempfile.TemporaryDirectory() as out:
    args = TrainingArguments(output_dir=out, per_device_train_batch_size=16, per_device_eval_batch_size=200,
                             num_train_epochs=8, logging_steps=5, eval_strategy="steps", eval_steps=125,
                             save_strategy="no", report_to=[], seed=0, max_grad_norm=1.0, disable_tqdm=True,
                             use_cpu=True, dataloader_num_workers=0)
    trainer = Trainer(model=model, args=args, train_dataset=train, eval_dataset=val, optimizers=(opt, sched))
    trainer.train()
trainer.state.save_to_json(os.path.join(HERE, "trainer_state.json"))
