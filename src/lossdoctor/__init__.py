"""lossdoctor: why does my training loss fluctuate, and what do I change?"""

from __future__ import annotations

__version__ = "0.1.0"

__all__ = ["__version__", "diagnose", "read", "watch"]


def __getattr__(name: str):  # lazy: `import lossdoctor` stays cheap and torch-free
    if name == "diagnose":
        from .diagnose import diagnose

        # importing the submodule bound `lossdoctor.diagnose` to the module: bind the function instead,
        # or the second `lossdoctor.diagnose(run)` would call a module
        globals()["diagnose"] = diagnose
        return diagnose
    if name == "read":
        from .readers import read

        return read
    if name == "watch":  # needs torch: imported only when asked for
        from .record.recorder import watch

        return watch
    raise AttributeError(name)
