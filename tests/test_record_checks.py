"""The checks use what only a live recording has: the train/eval mode, Adam's state, the update ratio.

Each test trains a small model with `lossdoctor.watch`, then diagnoses the run directory as a user would.
"""

from __future__ import annotations

from pathlib import Path

import pytest

torch = pytest.importorskip("torch")

from lossdoctor import diagnose, read, watch  # noqa: E402


def _loop(run_dir: Path, *, leave_in_eval: bool, lr: float = 1e-3, epochs: int = 6, seed: int = 0) -> None:
    """An MLP with dropout; with `leave_in_eval` the mid-epoch evaluation forgets model.train()."""
    torch.manual_seed(seed)
    x, y = torch.randn(640, 16), torch.randn(640, 1)
    w = torch.randn(16, 1)
    y = x @ w + 0.3 * y
    loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(x, y), batch_size=32, shuffle=True)
    model = torch.nn.Sequential(torch.nn.Linear(16, 128), torch.nn.ReLU(), torch.nn.Dropout(0.5),
                                torch.nn.Linear(128, 1))
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    with watch(model, optimizer, run_dir=str(run_dir), loader=loader, warn=False) as rec:
        for epoch in range(epochs):
            model.train()
            for i, (xb, yb) in enumerate(loader):
                loss = torch.nn.functional.mse_loss(model(xb), yb)
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()
                rec.step(loss, batch_size=len(xb), epoch=epoch)
                if i == len(loader) // 2:  # a mid-epoch evaluation
                    model.eval()
                    with torch.no_grad():
                        rec.log(val_loss=torch.nn.functional.mse_loss(model(x[:128]), y[:128]))
                    if not leave_in_eval:
                        model.train()


def test_recorded_eval_mode_settles_the_leak(tmp_path: Path) -> None:
    _loop(tmp_path / "leak", leave_in_eval=True)
    d = diagnose(read(str(tmp_path / "leak")))
    leak = next(f for f in d.findings if f.id == "eval_mode_leak")
    assert d.findings[0].id == "eval_mode_leak" and leak.confidence >= 0.95
    assert "model.training off" in leak.evidence[0]
    assert any("end where an epoch starts" in e for e in leak.evidence)


def test_recorded_train_mode_clears_a_run_that_switches_back(tmp_path: Path) -> None:
    _loop(tmp_path / "ok", leave_in_eval=False)
    d = diagnose(read(str(tmp_path / "ok")))
    assert "eval_mode_leak" not in [f.id for f in d.findings]


def test_recorded_update_ratio_backs_lr_too_high(tmp_path: Path) -> None:
    _loop(tmp_path / "hot", leave_in_eval=False, lr=0.3, epochs=4)
    d = diagnose(read(str(tmp_path / "hot")))
    found = [f for f in d.findings if f.id == "lr_too_high"]
    assert found, [f.id for f in d.findings]
    assert any("update/weight ratio" in e for e in found[0].evidence)


def test_recorded_adam_state_confirms_near_convergence(tmp_path: Path) -> None:
    """Seed 002's setup recorded live: Adam's per-weight step lr/(sqrt(v̂)+eps) grows as the gradient
    vanishes, which the log of the loss alone cannot show."""
    torch.manual_seed(545345)
    x, y = torch.randn(32, 500), torch.randn(32, 1)
    model = torch.nn.Linear(500, 1)
    optimizer = torch.optim.Adam(model.parameters(), lr=2e-3)
    with watch(model, optimizer, run_dir=str(tmp_path / "adam"), warn=False, detail_every=5) as rec:
        for _ in range(2500):
            loss = torch.nn.functional.mse_loss(model(x), y, reduction="sum")
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            rec.step(loss, batch_size=32)
    d = diagnose(read(str(tmp_path / "adam")))
    first = d.findings[0]
    assert first.id == "adam_near_convergence", [f.id for f in d.findings]
    assert first.confidence >= 0.95
    assert any("effective step size" in e for e in first.evidence), first.evidence
