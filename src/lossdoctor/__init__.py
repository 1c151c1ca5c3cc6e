"""lossdoctor: why does my training loss fluctuate, and what do I change?"""

from __future__ import annotations

__version__ = "0.1.0"

__all__ = ["Guard", "__version__", "diagnose", "preflight", "read"]


def __getattr__(name: str):  # lazy: `import lossdoctor` stays cheap and torch-free
    if name == "diagnose":
        from .diagnose import diagnose

        return diagnose
    if name == "read":
        from .readers import read

        return read
    if name == "preflight":
        from .preflight import preflight

        return preflight
    if name == "Guard":
        from .guard import Guard

        return Guard
    raise AttributeError(name)
