"""The package-level API: `lossdoctor.read` and `lossdoctor.diagnose` stay functions however they are imported."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "healthy_cnn_jsonl"


def test_diagnose_stays_callable_after_its_submodule_is_imported() -> None:
    code = (
        "import lossdoctor, lossdoctor.diagnose, lossdoctor.readers, sys\n"
        f"run = lossdoctor.read({str(EXAMPLE)!r})\n"
        "first, second = lossdoctor.diagnose(run), lossdoctor.diagnose(run)\n"
        "assert first.verdict == second.verdict == 'healthy', first.verdict\n"
        "assert 'torch' not in sys.modules\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
