"""Finding the line of the user's code that a fix replaces, by reading the source of their callables."""

from __future__ import annotations

import inspect
import re
from collections.abc import Callable
from pathlib import Path
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


def loader_line(file: str | None) -> tuple[str, str] | None:
    """(`file:line`, code) of the one-line `DataLoader(...)` call in `file`, when there is exactly one."""
    if not file:
        return None
    try:
        lines = Path(file).read_text().splitlines()
    except (OSError, UnicodeDecodeError):
        return None
    found = [(i, line) for i, line in enumerate(lines, 1)
             if "DataLoader(" in line.split("#", 1)[0] and _balanced(line.split("#", 1)[0])]
    if len(found) != 1:
        return None
    number, code = found[0]
    return f"{file}:{number}", code.split("#", 1)[0].rstrip()


def _balanced(code: str) -> bool:
    return code.count("(") == code.count(")") and code.count("(") > 0


def with_keyword(code: str, name: str, value: str) -> str:
    """`code` (one call) with `name=value` set: replaced where present, else added before the last `)`."""
    pattern = re.compile(rf"\b{name}\s*=\s*[^,)]+")
    if pattern.search(code):
        return pattern.sub(f"{name}={value}", code, count=1)
    head, _, tail = code.rpartition(")")
    return f"{head}, {name}={value}){tail}"
