"""Inferring epochs from the loss alone must not turn noise into a period.

The epoch sawtooth accepts a weaker period than the other checks because it tests its own ramp on top;
this keeps that bargain honest on loss-only runs of pure noise: white, AR(1) wander, skewed, and noise that
shrinks with the loss, each on a decaying curve without any epoch structure.
"""

from __future__ import annotations

import numpy as np

from lossdoctor.diagnose import diagnose
from lossdoctor.run import Run, Series


def _noise_run(rng: np.random.Generator, kind: int) -> Run:
    n = int(rng.choice([120, 200, 320, 500]))
    t = np.arange(n)
    curve = 0.3 + 2 * np.exp(-t / rng.uniform(n / 10, n / 2))
    if kind == 0:
        noise = rng.normal(size=n) * 0.1
    elif kind == 1:
        phi, wander = rng.uniform(0.8, 0.98), np.zeros(n)
        for i in range(1, n):
            wander[i] = phi * wander[i - 1] + rng.normal() * 0.03
        noise = rng.normal(size=n) * 0.1 + wander
    elif kind == 2:
        noise = (rng.gamma(2.0, size=n) - 2) * 0.07
    else:
        noise = rng.normal(size=n) * 0.1 * np.sqrt(curve / curve[0])
    return Run({"loss": Series(t, np.maximum(curve * (1 + noise), 1e-3))})


def test_noise_runs_rarely_show_an_epoch_sawtooth() -> None:
    rng = np.random.default_rng(7)
    runs = 120
    with_sawtooth = sum(
        any(f.id == "epoch_sawtooth" for f in diagnose(_noise_run(rng, i % 4)).findings) for i in range(runs)
    )
    # About 2.5% of such runs at the current bar (0.3% at the bar the other checks share); 5% is the limit.
    assert with_sawtooth <= 0.05 * runs, with_sawtooth


def test_noise_runs_show_no_warm_restarts() -> None:
    """A period inferred from noise must not pass for a schedule's restarts (the loss-only path of
    lr_schedule_jumps): 0 of 400 such runs do at the current bars."""
    rng = np.random.default_rng(11)
    runs = 200
    restarts = sum(
        any(f.id == "lr_schedule_jumps" for f in diagnose(_noise_run(rng, i % 4)).findings) for i in range(runs)
    )
    assert restarts <= 2, restarts
