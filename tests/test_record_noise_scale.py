"""The gradient noise scale on linear regression, where B_simple is known in closed form.

Model y = x·w with x ~ N(0, I_d), targets y = x·w* + ε, ε ~ N(0, σ²), MSE loss, weights held at
w = w* + δ. The per-sample gradient is 2(x·δ − ε)x, so G = 2δ and tr Σ = 4((d+1)|δ|² + dσ²):
B_simple = (d+1) + dσ²/|δ|² (21 for d = 4, |δ| = 1, σ = 2).

Single pairs are very noisy (here the noise scale is far above the small batch), so the averages are long
(alpha = 0.003); over seeds 0–5 the estimates land within 23% of the truth, hence the 30% tolerance.
"""

from __future__ import annotations

import math

import pytest

torch = pytest.importorskip("torch")

import lossdoctor  # noqa: E402
from lossdoctor.record import GradientNoiseScale, read_store  # noqa: E402

D, SIGMA = 4, 2.0
TRUE_B_SIMPLE = (D + 1) + D * SIGMA**2


def _problem(seed: int):
    gen = torch.Generator().manual_seed(seed)
    w_star = torch.randn(D, generator=gen)
    delta = torch.randn(D, generator=gen)
    delta /= delta.norm()
    model = torch.nn.Linear(D, 1, bias=False)
    with torch.no_grad():
        model.weight.copy_((w_star + delta)[None])

    def batch(n: int):
        x = torch.randn(n, D, generator=gen)
        return x, x @ w_star + SIGMA * torch.randn(n, generator=gen)

    return model, batch


def test_estimator_recovers_the_known_noise_scale() -> None:
    model, batch = _problem(0)
    gns = GradientNoiseScale(alpha=0.003)
    for _ in range(3000):
        norms = []
        for size in (8, 64):
            x, y = batch(size)
            model.zero_grad()
            torch.nn.functional.mse_loss(model(x)[:, 0], y).backward()
            norms.append(model.weight.grad.norm().item() ** 2)
        gns.update(norms[0], 8, norms[1], 64)
    assert gns.b_simple == pytest.approx(TRUE_B_SIMPLE, rel=0.3)


def test_estimator_rejects_unusable_pairs() -> None:
    gns = GradientNoiseScale()
    assert math.isnan(gns.update(1.0, 8, 0.5, 8))  # equal batch sizes carry no information
    assert math.isnan(gns.update(float("nan"), 8, 0.5, 32))
    assert gns.pairs == 0


@pytest.mark.parametrize("seed", [1, 2])
def test_recorder_estimates_it_from_gradient_accumulation(tmp_path, seed) -> None:
    """Micro-batches of 8 accumulated 4 times: the recorder's two batch sizes are 8 and 32."""
    model, batch = _problem(seed)
    opt = torch.optim.SGD(model.parameters(), lr=0.0)  # weights stay at w* + δ: a stationary target
    rec = lossdoctor.watch(model, opt, run_dir=tmp_path, flush_every=200, update_every=0)
    rec.noise_scale.alpha = 0.003  # a long average: single pairs are very noisy
    for _ in range(1500):
        opt.zero_grad()
        for _ in range(4):
            x, y = batch(8)
            (torch.nn.functional.mse_loss(model(x)[:, 0], y) / 4).backward()
        opt.step()
        rec.step(None, batch_size=32)
    rec.close()
    assert rec.noise_scale.b_simple == pytest.approx(TRUE_B_SIMPLE, rel=0.3)
    content = read_store(tmp_path / "lossdoctor.db")
    assert content.series["gradient_noise_scale"][1][-1] == pytest.approx(rec.noise_scale.b_simple)
    assert content.meta["gradient_noise_scale"] == pytest.approx(rec.noise_scale.b_simple)
