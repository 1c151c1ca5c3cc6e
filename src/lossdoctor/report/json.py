"""The JSON contract other tools depend on. Keep its keys stable."""

from __future__ import annotations

import json
from typing import Any

from .. import __version__
from ..findings import Diagnosis


def to_dict(diagnosis: Diagnosis) -> dict[str, Any]:
    return {
        "lossdoctor_version": __version__,
        "source": {
            "path": diagnosis.path,
            "format": diagnosis.format,
            "series": list(diagnosis.series),
            "steps": int(diagnosis.steps),
            "notes": list(diagnosis.notes),
        },
        "verdict": diagnosis.verdict,
        "findings": [f.to_json() for f in diagnosis.findings],
    }


def render(diagnosis: Diagnosis) -> str:
    return json.dumps(to_dict(diagnosis), indent=2, allow_nan=False)
