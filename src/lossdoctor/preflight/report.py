"""What preflight says: findings with evidence and the exact line to change, and how to print them."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Literal

#: `problem`: training will misbehave; `warning`: likely to hurt, worth a look; `info`: a fact to know.
Level = Literal["problem", "warning", "info"]
_ORDER = {"problem": 0, "warning": 1, "info": 2}


@dataclass
class PreflightFinding:
    """One issue found before training, with numbers measured on the user's own batches."""

    id: str
    level: Level
    title: str
    evidence: list[str] = field(default_factory=list)
    #: The replacement code, one line per entry: what to write instead.
    fix: list[str] = field(default_factory=list)
    #: Where the line to change is, as `file:line: source`, when the source could be located.
    where: str | None = None
    #: The diagnosis cause id this would show up as in a training log (see DESIGN.md).
    cause: str | None = None

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class PreflightReport:
    """Every finding (problems first) and which checks ran or were skipped, and why."""

    findings: list[PreflightFinding]
    checks_run: list[str]
    skipped: dict[str, str] = field(default_factory=dict)
    #: Measurements other code can reuse (loss-scale exponent, last batch size...).
    measured: dict[str, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.findings.sort(key=lambda f: _ORDER[f.level])

    @property
    def ok(self) -> bool:
        """True when nothing at `problem` level was found."""
        return not any(f.level == "problem" for f in self.findings)

    @property
    def ids(self) -> list[str]:
        return [f.id for f in self.findings]

    def get(self, finding_id: str) -> PreflightFinding | None:
        return next((f for f in self.findings if f.id == finding_id), None)

    def to_json(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "findings": [f.to_json() for f in self.findings],
            "checks_run": list(self.checks_run),
            "skipped": dict(self.skipped),
            "measured": {k: float(v) for k, v in self.measured.items()},
        }

    def __str__(self) -> str:
        return render_text(self)


def render_text(report: PreflightReport) -> str:
    """Plain text, one block per finding: title, evidence, where, then the code to write."""
    head = "preflight: ok" if report.ok else "preflight: problems found"
    lines = [f"{head} ({len(report.checks_run)} checks ran, {len(report.findings)} findings)"]
    for f in report.findings:
        lines.append(f"[{f.level}] {f.id}: {f.title}")
        lines += [f"    • {e}" for e in f.evidence]
        if f.where:
            lines.append(f"    at {f.where}")
        if f.fix:
            lines.append("    fix:")
            lines += [f"      {line}" for line in f.fix]
    for check, why in report.skipped.items():
        lines.append(f"(skipped {check}: {why})")
    return "\n".join(lines)
