"""The loss-only evidence of exploding gradients leans on memory in the scatter; noise must not supply it.

`RunSignals.has_memory` says the step-to-step scatter carries over (lag-1 autocorrelation of the residual well
above what a white series gives). Batch-sampling noise has none, however skewed or heavy-tailed it is, so runs
of such noise must almost never show memory, nor read as exploding gradients; a loss whose weights are
knocked off and relax back over several steps must show it.
"""

from __future__ import annotations

import numpy as np

from lossdoctor.diagnose import diagnose
from lossdoctor.run import Run, Series
from lossdoctor.signals import RunSignals


def _curve(rng: np.random.Generator, n: int) -> np.ndarray:
    t = np.arange(n)
    return 0.2 + 2 * np.exp(-t / rng.uniform(n / 10, n / 2))


def _white_run(rng: np.random.Generator, kind: int) -> Run:
    """Independent batch noise on a decaying curve: normal, skewed, heavy-tailed, lognormal or shrinking."""
    n = int(rng.choice([150, 300, 500, 900]))
    curve = _curve(rng, n)
    scale = rng.uniform(0.05, 0.4)
    draws = [
        rng.normal(size=n),
        rng.gamma(2.0, size=n) - 2.0,
        rng.standard_t(3, size=n),
        np.expm1(rng.normal(size=n)),
        rng.normal(size=n) * np.sqrt(curve / curve[0]),
    ][kind]
    return Run({"loss": Series(np.arange(n), np.maximum(curve * (1 + scale * draws), 1e-4))})


def _knocked_off_run(rng: np.random.Generator) -> Run:
    """Batch noise plus blow-ups that raise the loss ×3-×10 and relax back over several steps."""
    n = 500
    curve = _curve(rng, n)
    log_loss = np.log10(curve) + 0.08 * rng.normal(size=n)
    for at in rng.choice(np.arange(20, n - 20), size=10, replace=False):
        height, relax = np.log10(rng.uniform(3, 10)), rng.uniform(0.7, 0.85)
        log_loss[at:at + 15] += height * relax ** np.arange(len(log_loss[at:at + 15]))
    return Run({"loss": Series(np.arange(n), 10**log_loss)})


def test_independent_batch_noise_has_no_memory_and_no_explosions() -> None:
    rng = np.random.default_rng(11)
    runs = [_white_run(rng, i % 5) for i in range(150)]
    with_memory = sum(RunSignals(r).has_memory for r in runs)
    assert with_memory <= 0.02 * len(runs), with_memory
    exploding = sum(any(f.id == "exploding_gradients" for f in diagnose(r).findings) for r in runs)
    assert exploding <= 0.01 * len(runs), exploding


def test_blow_ups_that_decay_over_several_steps_give_memory() -> None:
    rng = np.random.default_rng(5)
    runs = [_knocked_off_run(rng) for _ in range(20)]
    assert sum(RunSignals(r).has_memory for r in runs) >= 18
    assert sum(diagnose(r).findings[0].id == "exploding_gradients" for r in runs) >= 15
