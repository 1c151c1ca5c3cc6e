"""Tiny RoBERTa (random init) sequence classification with the real HF Trainer, batches of 4, logging_steps=1.

The label compares token counts, so samples near a tie stay misclassified for long: once the loss is near 0.01,
each batch that holds one of them costs ×10 to ×150. Writes out/trainer_state.json.
"""

import numpy as np
import torch
from transformers import RobertaConfig, RobertaForSequenceClassification, Trainer, TrainingArguments

torch.manual_seed(0)
rng = np.random.default_rng(0)
VOCAB, LENGTH = 60, 16


def make(n: int) -> list[dict]:
    ids = rng.integers(5, VOCAB, size=(n, LENGTH))
    ids[:, 0] = 0
    labels = ((ids == 7).sum(1) + (ids == 11).sum(1) > (ids == 13).sum(1) + (ids == 17).sum(1)).astype(int)
    mask = torch.ones(LENGTH, dtype=torch.long)
    return [{"input_ids": torch.tensor(i), "attention_mask": mask, "labels": int(y)}
            for i, y in zip(ids, labels, strict=True)]


train, val = make(2000), make(300)
config = RobertaConfig(vocab_size=VOCAB, hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                       intermediate_size=64, max_position_embeddings=40, num_labels=2, pad_token_id=1)
args = TrainingArguments(output_dir="out", per_device_train_batch_size=4, num_train_epochs=2, learning_rate=1e-3,
                         logging_steps=1, eval_strategy="steps", eval_steps=100, save_strategy="no", report_to=[],
                         use_cpu=True, seed=0, disable_tqdm=True, warmup_steps=20)
trainer = Trainer(model=RobertaForSequenceClassification(config), args=args, train_dataset=train, eval_dataset=val)
trainer.train()
trainer.save_state()
