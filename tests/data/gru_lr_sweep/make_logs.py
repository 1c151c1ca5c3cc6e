"""Write the GRU learning-rate sweeps that tests/test_compare.py compares.

- `hf/`, `loss_only/`: the seed-000 sweep of the scenario catalogue (`seed000_gru_lr1e-3`, `1e-2`, `5e-2`), as HF
  `trainer_state.json` and as JSONL with the training loss alone;
- `recorded/`: an Adam GRU classifying the sign of a sum over 20 steps at lr 3e-3, 3e-2 and 0.3, recorded live
  by `lossdoctor.watch` (red-team 11a).

How far apart the sweep's runs land depends on the CPU's kernels as well as on the seeds. These were written
with torch 2.13.0 on one thread and AVX2 kernels, forced on an AVX-512 machine:

    ATEN_CPU_CAPABILITY=avx2 MKL_ENABLE_INSTRUCTIONS=AVX2 python tests/data/gru_lr_sweep/make_logs.py

(with AVX-512 kernels the seed-000 sweep's scatter grows ×1.34 from lr 1e-3 to 5e-2 at 2.3 standard errors,
which the comparison rightly calls unclear).
"""

from __future__ import annotations

import shutil
from pathlib import Path

import torch

import lossdoctor
from lossdoctor.scenarios import train_scenario, write_logs
from lossdoctor.scenarios.catalog import strip_to_loss

HERE = Path(__file__).parent
SWEEP = ["seed000_gru_lr1e-3", "seed000_gru_lr1e-2", "seed000_gru_lr5e-2"]
RECORDED_LRS = {"lr3e-3": 3e-3, "lr3e-2": 3e-2, "lr0.3": 0.3}


def recorded_gru(run_dir: Path, lr: float) -> None:
    """A GRU classifying the sign of a sum over 20 steps, Adam at `lr`, recorded live by lossdoctor.watch."""
    torch.manual_seed(1)
    x = torch.randn(1536, 20, 4)
    y = (x[:, :, 0].sum(1) > 0).long()
    loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(x, y), batch_size=32, shuffle=True,
                                         drop_last=True)
    gru, head = torch.nn.GRU(4, 48, batch_first=True), torch.nn.Linear(48, 2)
    opt = torch.optim.Adam([*gru.parameters(), *head.parameters()], lr=lr)
    rec = lossdoctor.watch(torch.nn.ModuleList([gru, head]), opt, run_dir=run_dir, loader=loader, warn=False)
    for _ in range(8):
        for xb, yb in loader:
            loss = torch.nn.functional.cross_entropy(head(gru(xb)[0][:, -1]), yb)
            opt.zero_grad()
            loss.backward()
            opt.step()
            rec.step(loss, batch_size=len(xb))
    rec.close()


def main() -> None:
    torch.set_num_threads(1)
    for folder in ("hf", "loss_only", "recorded"):
        shutil.rmtree(HERE / folder, ignore_errors=True)
    for name in SWEEP:
        log = train_scenario(name)
        write_logs(log, HERE / "hf" / name, ("hf",))
        write_logs(strip_to_loss(log), HERE / "loss_only" / name, ("jsonl",))
    for name, lr in RECORDED_LRS.items():
        recorded_gru(HERE / "recorded" / name, lr)
    print(sorted(str(p.relative_to(HERE)) for p in HERE.rglob("*") if p.is_file() and p.suffix != ".py"))


if __name__ == "__main__":
    main()
