"""How a diagnosis is scored against the cause a scenario is known to have (benchmarks and tests).

One rule for the whole project, so the accuracy benchmark and the tests agree on what "right" means:
a problem must be called a problem and named first; a benign cause must be called healthy and still
be named first (saying *why* it is normal is the point); a healthy run must carry no problem finding.
"""

from __future__ import annotations

from dataclasses import dataclass

from .findings import Diagnosis

#: Causes whose fluctuation is normal: the verdict must stay `healthy`.
BENIGN_CAUSES = frozenset({"small_batch_noise", "lr_schedule_jumps", "epoch_sawtooth"})
#: The label of a run with no cause (rows of the confusion matrix).
HEALTHY = "healthy"
#: The column of a diagnosis that named nothing yet did not call the run healthy (inconclusive).
NONE = "none"


@dataclass(frozen=True)
class Score:
    """Whether a diagnosis is right for `expected`, and what it said, as table labels."""

    expected: str
    got: str
    verdict: str
    correct: bool
    problem_findings: tuple[str, ...]

    @property
    def predicted(self) -> str:
        """The label this diagnosis is counted under for precision: the truth when right, else what it said."""
        return self.expected if self.correct else self.got


def label(cause: str | None) -> str:
    return HEALTHY if cause is None else cause


def got_label(diagnosis: Diagnosis) -> str:
    """The first finding's id; `healthy` when there is none and the verdict is healthy, else `none`."""
    if diagnosis.primary is not None:
        return diagnosis.primary.id
    return HEALTHY if diagnosis.verdict == "healthy" else NONE


def score(expected_cause: str | None, diagnosis: Diagnosis) -> Score:
    """Score one diagnosis against the cause its run is known to have (None: a healthy run)."""
    problems = tuple(f.id for f in diagnosis.findings if f.severity == "problem")
    first = diagnosis.primary.id if diagnosis.primary is not None else None
    if expected_cause is None:
        correct = diagnosis.verdict == "healthy" and not problems
    elif expected_cause in BENIGN_CAUSES:
        correct = diagnosis.verdict == "healthy" and first == expected_cause
    else:
        correct = diagnosis.verdict == "problem" and first == expected_cause
    return Score(label(expected_cause), got_label(diagnosis), diagnosis.verdict, correct, problems)


__all__ = ["BENIGN_CAUSES", "HEALTHY", "NONE", "Score", "got_label", "label", "score"]
