"""In a log of window means, partial_last_batch may take the side the epoch's last window departs to in nearly
every epoch as its evidence (a sign test); window means of batch noise with no short batch must not supply it."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from lossdoctor.diagnose import diagnose
from lossdoctor.readers import read
from lossdoctor.run import Run, RunFacts, Series


def _window_means_run(rng: np.random.Generator, short_batch_share: float) -> Run:
    """Per-step losses on a decaying curve with batch noise, logged as means over 5 steps with the epoch, as
    the Hugging Face Trainer logs them; the last step of each epoch costs `short_batch_share` of a full one."""
    epoch_len = int(rng.choice([11, 13, 17, 21]))
    epochs = int(rng.integers(10, 20))
    n = epoch_len * epochs
    t = np.arange(n)
    curve = 0.3 + 3 * np.exp(-t / rng.uniform(n / 8, n / 2))
    loss = curve * np.exp(rng.uniform(0.1, 0.4) * rng.normal(size=n))
    loss[epoch_len - 1 :: epoch_len] *= short_batch_share
    window = 5
    ends = np.arange(window, n + 1, window)
    means = np.array([loss[e - window : e].mean() for e in ends])
    return Run({"loss": Series(ends, means), "epoch": Series(ends, ends / epoch_len)},
               facts=RunFacts(loss_window=window, framework="huggingface"))


def test_window_means_of_batch_noise_are_no_partial_batch() -> None:
    rng = np.random.default_rng(3)
    runs = [_window_means_run(rng, 1.0) for _ in range(300)]
    found = sum(any(f.id == "partial_last_batch" for f in diagnose(r).findings) for r in runs)
    assert found <= 3, found


def test_a_short_batch_costing_a_twentieth_shows_through_window_means_often() -> None:
    rng = np.random.default_rng(3)
    runs = [_window_means_run(rng, 0.05) for _ in range(60)]
    found = sum(any(f.id == "partial_last_batch" for f in diagnose(r).findings) for r in runs)
    assert found >= 15, found


def test_a_summed_short_batch_diluted_in_window_means_is_found() -> None:
    """A real HF run (tests/data/catalogue_runs): an MLP whose loss is summed over the batch, 12 batches of 128
    and one of 8 per epoch, 5-step means. The window holding the short batch sits lower in all 13 epochs,
    ×0.9 of the trend: too little for a size test alone."""
    d = diagnose(read(Path(__file__).parent / "data" / "catalogue_runs" / "plb_sum_hf_window_means"))
    assert (d.verdict, d.findings[0].id) == ("problem", "partial_last_batch"), [f.id for f in d.findings]
    assert "13 of 13 epochs" in d.findings[0].evidence[0]
