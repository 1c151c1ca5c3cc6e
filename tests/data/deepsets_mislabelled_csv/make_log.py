"""DeepSets with Adam on 2,000 rotated 2-D point clouds of four shapes, 5 of them mislabelled; a CSV of
epoch/iter/loss/lr per step (red-team 7a r07), 30 epochs (20 s).

Where the bad samples' batches stand out depends on the CPU's kernels: this log was written with torch 2.13.0
on two threads and AVX2 kernels, forced on an AVX-512 machine:

    ATEN_CPU_CAPABILITY=avx2 MKL_ENABLE_INSTRUCTIONS=AVX2 python tests/data/deepsets_mislabelled_csv/make_log.py
"""

from __future__ import annotations

from pathlib import Path

import torch

HERE = Path(__file__).parent


def point_clouds(n: int, points: int, g: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """Rotated 2-D point clouds of four shapes (ring, segment, blob, two rings); the label is the shape."""
    label = torch.randint(0, 4, (n,), generator=g)
    u = torch.rand(n, points, generator=g)
    ring = torch.stack([torch.cos(6.283 * u), torch.sin(6.283 * u)], -1)
    segment = torch.stack([2 * u - 1, 0 * u], -1)
    blob = 0.35 * torch.randn(n, points, 2, generator=g)
    two_rings = ring * torch.where(torch.rand(n, points, 1, generator=g) < 0.5, 0.5, 1.5)
    shapes = torch.stack([ring, segment, blob, two_rings])[label, torch.arange(n)]
    angle = 6.283 * torch.rand(n, generator=g)
    cos, sin = angle.cos(), angle.sin()
    rotation = torch.stack([torch.stack([cos, -sin], -1), torch.stack([sin, cos], -1)], 1)
    return shapes @ rotation + 0.03 * torch.randn(n, points, 2, generator=g), label


def main() -> None:
    torch.set_num_threads(2)
    torch.manual_seed(0)
    g = torch.Generator().manual_seed(0)
    x, y = point_clouds(2000, 12, g)
    x_val, y_val = point_clouds(1000, 12, g)
    bad = torch.randperm(2000, generator=g)[:5]
    y[bad] = (y[bad] + 2) % 4
    phi = torch.nn.Sequential(torch.nn.Linear(2, 64), torch.nn.ReLU(), torch.nn.Linear(64, 64), torch.nn.ReLU())
    rho = torch.nn.Sequential(torch.nn.Linear(64, 64), torch.nn.ReLU(), torch.nn.Linear(64, 4))
    opt = torch.optim.Adam([*phi.parameters(), *rho.parameters()], lr=2e-3)
    loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(x, y), batch_size=32, shuffle=True)
    rows, step = ["epoch,iter,loss,lr"], 0
    for epoch in range(30):
        for xb, yb in loader:
            loss = torch.nn.functional.cross_entropy(rho(phi(xb).sum(1)), yb)
            opt.zero_grad()
            loss.backward()
            opt.step()
            rows.append(f"{epoch},{step},{loss.item():.6f},0.002")
            step += 1
    with torch.no_grad():
        accuracy = float((rho(phi(x_val).sum(1)).argmax(1) == y_val).float().mean())
    assert accuracy > 0.95, accuracy  # the clean data is learned
    (HERE / "train_metrics.csv").write_text("\n".join(rows) + "\n")
    print(f"validation accuracy {accuracy:.3f}, {step} steps")


if __name__ == "__main__":
    main()
