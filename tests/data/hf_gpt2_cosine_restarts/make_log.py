# Tiny GPT-2 (from a config) trained as a causal LM on synthetic "log lines" (noisy key=value patterns),
# HF Trainer with lr_scheduler_type="cosine_with_restarts" (4 cycles), logging_steps=5.
import torch
from transformers import GPT2Config, GPT2LMHeadModel, Trainer, TrainingArguments, set_seed

torch.set_num_threads(1)

set_seed(0)
V, T = 64, 32
g = torch.Generator().manual_seed(0)


def make(n):
    out = []
    for _ in range(n):
        a = torch.randint(4, 20, (1,), generator=g).item()
        step = torch.randint(1, 4, (1,), generator=g).item()
        seq = [(a + step * i) % 40 + 20 if i % 2 else 2 + (i // 2) % 2 for i in range(T)]
        seq = torch.tensor(seq)
        m = torch.rand(T, generator=g) < 0.02
        seq[m] = torch.randint(4, V, (int(m.sum()),), generator=g)
        out.append({"input_ids": seq, "attention_mask": torch.ones(T, dtype=torch.long), "labels": seq.clone()})
    return out


train, val = make(6000), make(300)
cfg = GPT2Config(vocab_size=V, n_positions=T, n_embd=64, n_layer=2, n_head=4)
model = GPT2LMHeadModel(cfg)
args = TrainingArguments(
    output_dir="out",
    per_device_train_batch_size=16,
    learning_rate=8e-3,
    num_train_epochs=4,
    lr_scheduler_type="cosine_with_restarts",
    lr_scheduler_kwargs={"num_cycles": 4},
    warmup_steps=30,
    weight_decay=0.01,
    logging_steps=5,
    eval_strategy="epoch",
    save_strategy="no",
    report_to="none",
    use_cpu=True,
    seed=0,
)
tr = Trainer(model=model, args=args, train_dataset=train, eval_dataset=val)
tr.train()
tr.save_state()
