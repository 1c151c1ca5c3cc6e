"""What a diagnosis says: findings with evidence and a fix, and the verdict over them."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Literal

Severity = Literal["problem", "benign"]
Verdict = Literal["healthy", "problem", "inconclusive"]

#: Id of the finding that explains why a log cannot support a verdict.
INCONCLUSIVE_ID = "inconclusive"


@dataclass
class Finding:
    """One cause found in a run, backed by numbers from that run."""

    id: str
    severity: Severity
    confidence: float
    title: str
    evidence: list[str] = field(default_factory=list)
    fix: list[str] = field(default_factory=list)
    steps: list[int] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        out = asdict(self)
        out["confidence"] = round(float(self.confidence), 3)
        out["steps"] = [int(s) for s in self.steps]
        return out


@dataclass
class Diagnosis:
    """Ranked findings (most likely cause first) and the verdict they add up to."""

    verdict: Verdict
    findings: list[Finding]
    path: str = ""
    format: str = ""
    series: list[str] = field(default_factory=list)
    steps: int = 0
    notes: list[str] = field(default_factory=list)

    @property
    def primary(self) -> Finding | None:
        return self.findings[0] if self.findings else None
