"""Fixes as code, in the idiom of the framework the run came from."""

from __future__ import annotations

from ..signals import RunSignals

_FRAMEWORK_KEYS = {"huggingface": "hf", "lightning": "lightning", "keras": "keras"}
_LABELS = {"hf": "Hugging Face Trainer", "lightning": "Lightning", "keras": "Keras"}


def for_framework(
    sig: RunSignals,
    *,
    torch: list[str],
    hf: list[str] | None = None,
    lightning: list[str] | None = None,
    keras: list[str] | None = None,
    cause: str | None = None,
) -> list[str]:
    """The run's own framework first; the plain PyTorch form always, since any loop can use it.

    With `cause`, the prescription computed from the run (`lossdoctor.prescribe`) replaces these lines.
    """
    if cause is not None:
        from ..prescribe import prescribe

        found = prescribe(sig.run, cause)
        if found is not None:
            return found.lines()
    by_key = {"hf": hf or [], "lightning": lightning or [], "keras": keras or []}
    key = _FRAMEWORK_KEYS.get((sig.run.facts.framework or "").lower())
    if key is not None and by_key[key]:
        return by_key[key] + ["# in a plain PyTorch loop:", *torch]
    out = list(torch)
    for name, lines in by_key.items():
        if lines and name != key:
            out += [f"# {_LABELS[name]}:", *lines]
    return out
