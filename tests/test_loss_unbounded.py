"""A loss without a minimum against a negative loss that settles, both real runs.

A likelihood maximised with the wrong sign falls without end as the weights grow; a Gaussian negative
log-likelihood with a learned variance goes below zero too (densities above 1), then settles.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")

from lossdoctor.diagnose import diagnose  # noqa: E402
from lossdoctor.readers import read  # noqa: E402


def _write(path: Path, losses: list[float]) -> Path:
    path.write_text("".join(json.dumps({"step": i, "loss": v}) + "\n" for i, v in enumerate(losses)))
    return path


def _regression_data() -> tuple[torch.Tensor, torch.Tensor]:
    torch.manual_seed(0)
    x = torch.randn(512, 4)
    return x, x @ torch.tensor([[1.0], [-2.0], [0.5], [0.0]]) + 0.05 * torch.randn(512, 1)


def test_a_wrong_sign_loss_that_falls_without_end_is_unbounded(tmp_path: Path) -> None:
    x, y = _regression_data()
    model = torch.nn.Linear(4, 1)
    opt = torch.optim.SGD(model.parameters(), lr=5e-3)
    losses = []
    for step in range(400):
        batch = torch.randint(0, 512, (32,), generator=torch.Generator().manual_seed(step))
        loss = -torch.nn.functional.mse_loss(model(x[batch]), y[batch])  # the sign flipped: the error is maximised
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    d = diagnose(read(_write(tmp_path / "loss.jsonl", losses)))
    assert "loss_unbounded" in [f.id for f in d.findings], [f.id for f in d.findings]
    assert d.verdict == "problem"


def test_a_gaussian_likelihood_that_goes_negative_and_settles_is_not_unbounded(tmp_path: Path) -> None:
    x, y = _regression_data()
    mean, log_var = torch.nn.Linear(4, 1), torch.nn.Parameter(torch.zeros(1))
    opt = torch.optim.Adam([*mean.parameters(), log_var], lr=0.03)
    losses = []
    for step in range(800):
        batch = torch.randint(0, 512, (32,), generator=torch.Generator().manual_seed(step))
        loss = torch.nn.functional.gaussian_nll_loss(mean(x[batch]), y[batch], log_var.exp().expand(32, 1))
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[0] > 0 and max(losses[-50:]) < 0 and all(math.isfinite(v) for v in losses)  # it crosses zero
    d = diagnose(read(_write(tmp_path / "loss.jsonl", losses)))
    assert "loss_unbounded" not in [f.id for f in d.findings], [(f.id, f.evidence) for f in d.findings]
