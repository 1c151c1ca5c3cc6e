"""An MLP under AdamW whose CosineAnnealingWarmRestarts period is one epoch (64 steps), validated four times per
epoch with model.train() called back after each evaluation (no leak). The LR is not logged. Writes metrics.jsonl
(the loss of every step, the validation loss at each evaluation). Run with torch 2.13 on one CPU thread."""

import json

import torch

from lossdoctor.scenarios.families.a_schedule_jumps import restarts_mlp_adamw

torch.set_num_threads(1)
log = restarts_mlp_adamw(1, {"n_train": 1024, "batch": 16, "width": 64, "lr": 0.01, "epochs": 6, "period": 64,
                             "evals_per_epoch": 4})
evals = {e.step: e.val_loss for e in log.evals}
with open("metrics.jsonl", "w") as f:
    for record in log.steps:
        f.write(json.dumps({"step": record.step, "epoch": record.epoch, "loss": round(record.loss, 6)}) + "\n")
        if record.step in evals:
            f.write(json.dumps({"step": record.step, "val_loss": round(evals[record.step], 6)}) + "\n")
