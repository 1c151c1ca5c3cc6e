"""Accuracy of the diagnosis over the scenario catalogue: is the right cause named first?

Every variant of the registered families is trained (once per family/params/seed), written in its log
view, read back and diagnosed exactly as a user's log would be, then scored with
`lossdoctor.scoring.score`. The `report` split (seeds and sizes never used for tuning) is printed first.

    python benchmarks/accuracy.py [--split tune|report|both] [--family SUBSTR] [--jobs N] [--json OUT]
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import sys
import tempfile
import time
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from lossdoctor.diagnose import diagnose
from lossdoctor.readers import read
from lossdoctor.scenarios.catalog import FAMILIES, SEEDS, Family, Split, Variant, variants, write_variant
from lossdoctor.scoring import HEALTHY, label, score

SPLITS: tuple[Split, ...] = ("report", "tune")
#: Width of a confusion-matrix column: cause ids are cut to it so the table fits a terminal.
COL = 10


@dataclass(frozen=True)
class Result:
    """One variant's outcome; `seconds` covers training (when not cached), writing, reading, diagnosing."""

    name: str
    family: str
    split: str
    format: str
    expected: str
    got: str
    verdict: str
    correct: bool
    predicted: str
    problem_findings: tuple[str, ...]
    seconds: float
    error: str = ""


def evaluate(variant: Variant, out_dir: Path) -> Result:
    """Write, read and diagnose one variant; a crash is a miss with its error, not the end of the run."""
    start = time.perf_counter()
    try:
        path = write_variant(variant, out_dir)
        s = score(variant.cause, diagnose(read(path)))
    except Exception as exc:
        return Result(variant.name, variant.family, variant.split, variant.view.label, label(variant.cause),
                      "error", "error", False, "error", (), time.perf_counter() - start, f"{type(exc).__name__}: {exc}")
    return Result(variant.name, variant.family, variant.split, variant.view.label, s.expected, s.got, s.verdict,
                  s.correct, s.predicted, s.problem_findings, time.perf_counter() - start)


def evaluate_group(group: Sequence[Variant]) -> list[Result]:
    """The variants of one training run, in one process so the run is trained once."""
    with tempfile.TemporaryDirectory(prefix="lossdoctor-acc-") as tmp:
        return [evaluate(v, Path(tmp) / str(i)) for i, v in enumerate(group)]


def select(splits: Iterable[Split], family: str | None = None,
           families: Mapping[str, Family] | None = None) -> list[Variant]:
    chosen = [v for split in splits for v in variants(split, families)]
    return [v for v in chosen if family is None or family in v.family]


def run_benchmark(selected: Sequence[Variant], jobs: int = 2) -> list[Result]:
    """Evaluate `selected`; with jobs > 1 the trainings run in a pool of fresh (spawned) processes.

    Spawned workers import the families afresh, so a family registered only in this process (a test's)
    needs jobs=1.
    """
    groups: dict[tuple[Any, ...], list[Variant]] = defaultdict(list)
    for v in selected:
        groups[(v.family, v.params, v.seed)].append(v)
    batches = list(groups.values())
    if jobs <= 1:
        out = [r for group in batches for r in evaluate_group(group)]
    else:
        ctx = multiprocessing.get_context("spawn")  # forking a process that has run torch can hang
        with ProcessPoolExecutor(max_workers=jobs, mp_context=ctx) as pool:
            out = [r for done in pool.map(evaluate_group, batches) for r in done]
    order = {v.name: i for i, v in enumerate(selected)}
    return sorted(out, key=lambda r: order.get(r.name, 0))


# -- summaries -------------------------------------------------------------------------------------


def summarize(results: Sequence[Result]) -> dict[str, Any]:
    """Top-1 accuracy, confusion matrix, per-cause precision/recall, healthy runs with a problem, misses."""
    n = len(results)
    confusion: dict[str, Counter[str]] = defaultdict(Counter)
    for r in results:
        confusion[r.expected][r.got] += 1
    labels = sorted({r.expected for r in results} | {r.predicted for r in results} - {"error"})
    per_cause = {}
    for lab in labels:
        row = [r for r in results if r.expected == lab]
        called = [r for r in results if r.predicted == lab]
        per_cause[lab] = {
            "support": len(row),
            "recall": _ratio(sum(r.correct for r in row), len(row)),
            "precision": _ratio(sum(r.correct for r in called), len(called)),
        }
    healthy = [r for r in results if r.expected == HEALTHY]
    return {
        "variants": n,
        "correct": sum(r.correct for r in results),
        "accuracy": _ratio(sum(r.correct for r in results), n),
        "confusion": {row: dict(sorted(cols.items())) for row, cols in sorted(confusion.items())},
        "per_cause": per_cause,
        "healthy_runs": len(healthy),
        "healthy_with_problem": sum(bool(r.problem_findings) for r in healthy),
        "misses": [
            {"name": r.name, "expected": r.expected, "got": r.got, "verdict": r.verdict, "error": r.error}
            for r in results if not r.correct
        ],
        "seconds_per_variant": _ratio(sum(r.seconds for r in results), n),
    }


def _ratio(a: float, b: int) -> float | None:
    return round(a / b, 4) if b else None


def _pct(x: float | None) -> str:
    return "  -  " if x is None else f"{100 * x:5.1f}%"


def render(split: str, summary: Mapping[str, Any]) -> str:
    """A plain-text report for one split."""
    lines = [f"== split {split}: top-1 accuracy {_pct(summary['accuracy'])}"
             f" ({summary['correct']}/{summary['variants']}),"
             f" {summary['seconds_per_variant'] or 0:.1f} s per variant"]
    confusion = summary["confusion"]
    cols = sorted({c for row in confusion.values() for c in row})
    width = max([len(r) for r in confusion] + [8])
    lines.append(f"confusion (rows: expected; columns: first finding, or healthy/none; ids cut to {COL} characters):")
    lines.append(" " * (width + 2) + " ".join(f"{c[:COL]:>{COL}}" for c in cols))
    for row, counts in confusion.items():
        lines.append(f"  {row:<{width}}" + " ".join(f"{counts.get(c, 0) or '.':>{COL}}" for c in cols))
    width = max([len(c) for c in summary["per_cause"]] + [8])
    lines.append(f"per cause:{' ' * (width - 6)}precision  recall  support")
    for cause, m in summary["per_cause"].items():
        lines.append(f"  {cause:<{width}}  {_pct(m['precision'])}  {_pct(m['recall'])}  {m['support']:>5}")
    lines.append(f"healthy runs with a problem finding: {summary['healthy_with_problem']}"
                 f" of {summary['healthy_runs']}")
    misses = summary["misses"]
    lines.append(f"misses ({len(misses)}):")
    for m in misses:
        extra = f"  [{m['error']}]" if m["error"] else ""
        lines.append(f"  {m['name']}: expected {m['expected']}, got {m['got']} (verdict {m['verdict']}){extra}")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--split", choices=("tune", "report", "both"), default="both")
    parser.add_argument("--family", default=None, help="only families whose name contains this")
    parser.add_argument("--jobs", type=int, default=2, help="training processes (default 2)")
    parser.add_argument("--json", type=Path, default=None, help="write machine-readable results here")
    parser.add_argument("--seeds", default=None,
                        help="comma-separated seeds for the report split instead of its own (a holdout: e.g. 200,201)")
    args = parser.parse_args(argv)
    splits: tuple[Split, ...] = SPLITS if args.split == "both" else (args.split,)
    if args.seeds:
        SEEDS["report"] = tuple(int(s) for s in args.seeds.split(","))
    selected = select(splits, args.family)
    if not selected:
        print(f"no variants (families registered: {', '.join(FAMILIES) or 'none'})", file=sys.stderr)
        return 2
    start = time.perf_counter()
    results = run_benchmark(selected, args.jobs)
    wall = time.perf_counter() - start
    summaries = {s: summarize([r for r in results if r.split == s]) for s in splits}
    for split, summary in summaries.items():
        print(render(split, summary), end="\n\n")
    print(f"{len(results)} variants in {wall:.0f} s wall with {args.jobs} job(s)"
          f" ({wall / len(results):.1f} s per variant)")
    if args.json is not None:
        payload = {"splits": summaries, "results": [asdict(r) for r in results], "wall_seconds": round(wall, 1)}
        args.json.write_text(json.dumps(payload, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
