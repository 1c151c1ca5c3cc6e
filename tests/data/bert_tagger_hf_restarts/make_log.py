"""Writes trainer_state.json beside this file (run: OMP_NUM_THREADS=1 python make_log.py; about 25 s).

HF Trainer, a tiny BertForTokenClassification (from a BertConfig, no pretrained weights) tagging synthetic
sequences: a token is tagged ENTITY when it follows a trigger token, ARG after that up to the next stop token,
O otherwise. The schedule is cosine with 3 hard restarts: the LR jumps back to its peak at steps 250 and 500
(benign). logging_steps=5, the Trainer's default clipping at max_grad_norm=1.0.
"""

import random

import torch
from transformers import BertConfig, BertForTokenClassification, Trainer, TrainingArguments

random.seed(0)
torch.manual_seed(0)
VOCAB, LENGTH = 60, 24
TRIGGERS, STOPS = {1, 2, 3}, {4, 5}


def make(n: int) -> list[dict]:
    out = []
    for _ in range(n):
        ids = [random.randint(6, VOCAB - 1) for _ in range(LENGTH)]
        for _ in range(3):
            ids[random.randrange(LENGTH)] = random.choice(list(TRIGGERS))
        for _ in range(3):
            ids[random.randrange(LENGTH)] = random.choice(list(STOPS))
        labels, state = [], 0
        for token in ids:
            if token in TRIGGERS:
                labels.append(0)
                state = 1
            elif token in STOPS:
                labels.append(0)
                state = 0
            else:
                labels.append(1 if state == 1 else (2 if state == 2 else 0))
                state = 2 if state >= 1 else 0
        out.append({"input_ids": ids, "attention_mask": [1] * LENGTH, "labels": labels})
    return out


train, val = make(2000), make(300)
config = BertConfig(vocab_size=VOCAB, hidden_size=64, num_hidden_layers=2, num_attention_heads=2,
                    intermediate_size=128, max_position_embeddings=32, num_labels=3)
model = BertForTokenClassification(config)
args = TrainingArguments(output_dir="out", per_device_train_batch_size=16, per_device_eval_batch_size=64,
                         num_train_epochs=6, learning_rate=4e-3, lr_scheduler_type="cosine_with_restarts",
                         lr_scheduler_kwargs={"num_cycles": 3}, warmup_steps=0, logging_steps=5,
                         eval_strategy="epoch", save_strategy="no", report_to="none", use_cpu=True, seed=0,
                         dataloader_num_workers=0)
trainer = Trainer(model=model, args=args, train_dataset=train, eval_dataset=val)
trainer.train()
trainer.state.save_to_json("trainer_state.json")
