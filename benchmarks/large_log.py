"""Reading and diagnosing a 1,000,000-step log: time and peak memory, against plain-Python baselines.

Goal (issue 2/3): under 3 s and under 500 MB for a 1,000,000-step JSONL or CSV log with every check.
Each measurement runs in a fresh interpreter so that peak RSS is its own. Run:

    .venv/bin/python benchmarks/large_log.py [--steps 1000000]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

MEASURE = """
import resource, sys, time
t0 = time.perf_counter()
{body}
elapsed = time.perf_counter() - t0
print(elapsed, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
"""

OURS = """
from lossdoctor.readers import read
from lossdoctor.diagnose import diagnose
d = diagnose(read(sys.argv[1]))
print(d.verdict, [f.id for f in d.findings], file=sys.stderr)
"""

BASELINE_JSONL = """
import json
with open(sys.argv[1]) as f:
    rows = [json.loads(line)["loss"] for line in f]
"""

BASELINE_CSV = """
import csv
with open(sys.argv[1], newline="") as f:
    reader = csv.reader(f); next(reader)
    rows = [float(r[1]) for r in reader]
"""


def make_series(steps: int) -> dict[str, np.ndarray]:
    """A realistic long run: falling trend, batch noise, and a partial-last-batch spike every epoch."""
    rng = np.random.default_rng(0)
    step = np.arange(steps)
    per_epoch = 1390
    loss = (2.0 * np.exp(-step / (steps / 5)) + 0.2) * np.exp(rng.normal(0, 0.08, steps))
    loss[step % per_epoch == per_epoch - 1] *= 3.0
    grad_norm = 1.5 * np.exp(rng.normal(0, 0.3, steps))
    return {"step": step, "loss": loss, "lr": np.full(steps, 3e-4), "epoch": step // per_epoch,
            "grad_norm": grad_norm}


def write_jsonl(path: Path, s: dict[str, np.ndarray]) -> None:
    with path.open("w") as f:
        for i, loss, lr, ep in zip(s["step"], s["loss"], s["lr"], s["epoch"], strict=True):
            f.write(json.dumps({"step": int(i), "loss": float(loss), "lr": float(lr), "epoch": int(ep)}) + "\n")


def write_csv(path: Path, s: dict[str, np.ndarray]) -> None:
    with path.open("w") as f:
        f.write("step,loss,lr,epoch\n")
        for i, loss, lr, ep in zip(s["step"], s["loss"], s["lr"], s["epoch"], strict=True):
            f.write(f"{int(i)},{float(loss)!r},{float(lr)!r},{int(ep)}\n")


def write_csv_with_grad_norm(path: Path, s: dict[str, np.ndarray]) -> None:
    """The CSV with a gradient-norm column: the checks that read it (explosions, clipping) run too."""
    with path.open("w") as f:
        f.write("step,loss,lr,epoch,grad_norm\n")
        for i, loss, lr, ep, g in zip(s["step"], s["loss"], s["lr"], s["epoch"], s["grad_norm"], strict=True):
            f.write(f"{int(i)},{float(loss)!r},{float(lr)!r},{int(ep)},{float(g)!r}\n")


def measure(body: str, path: Path) -> tuple[float, float, str]:
    out = subprocess.run(
        [sys.executable, "-c", MEASURE.format(body=body), str(path)], capture_output=True, text=True, check=True
    )
    seconds, rss = out.stdout.split()[-2:]
    return float(seconds), float(rss), out.stderr.strip()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=1_000_000)
    args = parser.parse_args()
    series = make_series(args.steps)
    with tempfile.TemporaryDirectory() as tmp:
        cases = [("jsonl", write_jsonl, BASELINE_JSONL), ("csv", write_csv, BASELINE_CSV),
                 ("csv+gn", write_csv_with_grad_norm, BASELINE_CSV)]
        print(f"{'log':6} {'steps':>9} {'ours s':>7} {'base s':>7} {'ratio':>6} {'ours MB':>8} {'base MB':>8}  verdict")
        for name, writer, baseline in cases:
            path = Path(tmp) / f"run.{name}"
            writer(path, series)
            ours_s, ours_mb, verdict = measure(OURS, path)
            base_s, base_mb, _ = measure(baseline, path)
            print(
                f"{name:6} {args.steps:>9} {ours_s:>7.2f} {base_s:>7.2f} {ours_s / base_s:>6.2f}"
                f" {ours_mb:>8.0f} {base_mb:>8.0f}  {verdict}"
            )
    print("ours: read(path) + diagnose(run) with every check; base: plain json.loads/csv.reader of the loss only")


if __name__ == "__main__":
    main()
