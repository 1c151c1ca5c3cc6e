"""Finding the line of the user's code that a fix replaces, by reading the source of their callables."""

from __future__ import annotations

import inspect
import re
from collections.abc import Callable
from typing import Any


def _source_of(obj: Any) -> tuple[list[str], int, str] | None:
    """(lines, first line number, file) of a function, a lambda, or a module's `forward`."""
    target: Callable[..., Any] | None = None
    if inspect.isfunction(obj) or inspect.ismethod(obj):
        target = obj
    elif hasattr(obj, "forward") and not type(obj).__module__.startswith("torch."):
        target = type(obj).forward
    if target is None:
        return None
    try:
        lines, first = inspect.getsourcelines(target)
        file = inspect.getsourcefile(target) or "<unknown>"
    except (OSError, TypeError):
        return None
    return lines, first, file


def find_line(obj: Any, pattern: str) -> str | None:
    """`file:line: code` of the first line in `obj`'s source matching `pattern`, or None."""
    found = _source_of(obj)
    if found is None:
        return None
    lines, first, file = found
    regex = re.compile(pattern)
    for offset, line in enumerate(lines):
        code = line.split("#", 1)[0]
        if code.lstrip().startswith(("def ", "async def ", "@")):
            continue
        if regex.search(code):
            return f"{file}:{first + offset}: {line.strip()}"
    return None


def describe(obj: Any) -> str:
    """How to name the loss in a sentence: `nn.MSELoss(reduction='sum')`, or the function's name."""
    reduction = getattr(obj, "reduction", None)
    name = type(obj).__name__
    if reduction is not None and type(obj).__module__.startswith("torch.nn"):
        return f"nn.{name}(reduction={reduction!r})"
    return getattr(obj, "__qualname__", None) or getattr(obj, "__name__", None) or name
