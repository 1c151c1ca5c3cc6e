"""lossdoctor: why does my training loss fluctuate, and what do I change?"""

from __future__ import annotations

__version__ = "0.1.0"

# Imported eagerly, not lazily: `lossdoctor.diagnose` is also a submodule, and a lazy attribute would be
# replaced by the module object the first time anything imports `lossdoctor.diagnose`. Neither pulls torch.
from .diagnose import diagnose
from .readers import read

__all__ = ["Guard", "__version__", "diagnose", "preflight", "read", "watch"]


def __getattr__(name: str):  # these need torch: imported only when asked for
    if name == "watch":
        from .record.recorder import watch

        return watch
    if name == "preflight":  # the package is callable too, should its import rebind this name
        from .preflight import preflight

        return preflight
    if name == "Guard":
        from .guard import Guard

        return Guard
    raise AttributeError(name)
