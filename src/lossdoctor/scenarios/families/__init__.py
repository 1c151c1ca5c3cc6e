"""Scenario families for every cause: importing this package registers them all in the catalogue.

Each module registers its families with `catalog.register(Family(...))`; modules are found
automatically so that families can be added without touching this file.
"""

from __future__ import annotations

import importlib
import pkgutil

for _module in sorted(m.name for m in pkgutil.iter_modules(__path__)):
    importlib.import_module(f"{__name__}.{_module}")
