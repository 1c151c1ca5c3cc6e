"""JSON for several runs: each run's single-run contract object, plus the comparison across them."""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from typing import Any

from .. import __version__
from ..compare import Comparison
from ..findings import Diagnosis
from .json import to_dict


def _number(x: float) -> float | None:
    """JSON has no NaN: an amplitude that cannot be measured is null."""
    return round(float(x), 6) if math.isfinite(x) else None


def to_dict_many(diagnoses: Sequence[Diagnosis], comparison: Comparison) -> dict[str, Any]:
    return {
        "lossdoctor_version": __version__,
        "runs": [to_dict(d) for d in diagnoses],
        "comparison": {
            "parameter": comparison.parameter,
            "values": list(comparison.values),
            "amplitude": [_number(a) for a in comparison.amplitude],
            "conclusion": comparison.conclusion,
            "evidence": list(comparison.evidence),
        },
    }


def render_many(diagnoses: Sequence[Diagnosis], comparison: Comparison) -> str:
    return json.dumps(to_dict_many(diagnoses, comparison), indent=2, allow_nan=False)
