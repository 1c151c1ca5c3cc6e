"""A guarded run's directory: `lossdoctor diagnose` reads the guard log next to the training log."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")
import torch.nn.functional as F  # noqa: E402
from torch import nn  # noqa: E402

from lossdoctor import Guard, read  # noqa: E402
from lossdoctor.diagnose import diagnose  # noqa: E402
from lossdoctor.scenarios.data import loader, regression  # noqa: E402
from lossdoctor.scenarios.logwriters import jsonl  # noqa: E402
from lossdoctor.scenarios.loop import train  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(autouse=True)
def one_thread():
    """Tiny models run faster on one thread, and the machine is shared."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def guarded_seed003(out: Path, epochs: int = 5) -> Guard:
    """The seed-003 bug (loss / B twice, last batch 8 of 128) trained through the scenario loop, guarded."""
    torch.manual_seed(0)
    n = 128 * 29 + 8
    x, y = regression(n + 512, 16, 0, noise=0.3)
    model = nn.Sequential(nn.Linear(16, 64), nn.ReLU(), nn.Linear(64, 64), nn.ReLU(), nn.Linear(64, 1))
    guard = Guard(torch.optim.SGD(model.parameters(), lr=0.005 * 128, momentum=0.9), log_dir=out)

    def batch_loss(m: nn.Module, b: list[torch.Tensor]) -> torch.Tensor:
        loss = F.mse_loss(m(b[0]), b[1]) / len(b[0])
        guard.observe(loss)  # the loop calls step() without the loss
        return loss

    log = train(model, loader(x[:n], y[:n], batch_size=128, seed=0), batch_loss, guard, epochs=epochs,
                dataset_size=n, batch_size=128, evaluate=lambda m: float(F.mse_loss(m(x[n:]), y[n:])))
    guard.close()
    jsonl.write(log, out)
    return guard


def test_diagnose_reads_the_guard_log_and_keeps_the_cause(tmp_path: Path) -> None:
    guard = guarded_seed003(tmp_path)
    h = guard.history()
    last_steps = [30 * e + 29 for e in range(5)]
    skipped = h["step"][h["guard_skip"] > 0].tolist()
    assert set(skipped) >= set(last_steps[1:])  # every partial last batch after warm-up is skipped
    run = read(tmp_path)
    assert {"guard_clip", "guard_skip", "guard_lr_scale"} <= set(run.series)
    assert len(run.series["guard_skip"]) == 150
    result = diagnose(run)
    assert result.primary is not None and result.primary.id == "partial_last_batch"  # the cause stays visible
    assert any(n.startswith("guard (lossdoctor_guard.jsonl, 150 steps)") and "skipped" in n for n in result.notes)
    undone = h["step"][h["guard_skip"] > 1].tolist()  # the update before a skipped batch, undone with it
    assert undone and any(n.startswith("guard: also undid the update before") and str(undone[0]) in n
                          for n in result.notes)
    out = subprocess.run([sys.executable, "-m", "lossdoctor", "diagnose", str(tmp_path)], cwd=ROOT,
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0 and "note: guard (lossdoctor_guard.jsonl" in out.stdout.replace("\n", " ")
    data = json.loads(subprocess.run([sys.executable, "-m", "lossdoctor", "diagnose", str(tmp_path), "--format",
                                      "json"], cwd=ROOT, capture_output=True, text=True, timeout=120).stdout)
    assert "guard_skip" in data["source"]["series"]


def test_a_truncated_guard_log_is_read_up_to_the_break(tmp_path: Path) -> None:
    guarded_seed003(tmp_path, epochs=2)
    log = tmp_path / "lossdoctor_guard.jsonl"
    log.write_text(log.read_text() + '{"step": 60, "guard_cl')
    run = read(tmp_path / "metrics.jsonl")
    assert len(run.series["guard_clip"]) == 60
