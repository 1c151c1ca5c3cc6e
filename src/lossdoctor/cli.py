"""The `lossdoctor` command line."""

from __future__ import annotations

import os
import sys
import tempfile
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from .errors import LogReadError

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    help="Tells you why your training loss fluctuates, spikes, climbs back or diverges, and what to change.",
)


class OutputFormat(StrEnum):
    text = "text"
    json = "json"


class FailOn(StrEnum):
    problem = "problem"
    never = "never"


def _fail(message: str) -> typer.Exit:
    """One clear line on stderr and exit code 2: the contract for input that cannot be used."""
    print(f"lossdoctor: error: {message}", file=sys.stderr)
    return typer.Exit(code=2)


@app.command()
def diagnose(
    path: Annotated[str, typer.Argument(help="A log file or a run directory.")],
    output: Annotated[OutputFormat, typer.Option("--format", "-f", help="Report format.")] = OutputFormat.text,
    loss_key: Annotated[
        str | None, typer.Option("--loss-key", help="The column/tag that holds the training loss.")
    ] = None,
    mute: Annotated[list[str] | None, typer.Option("--mute", help="A check id to skip (repeatable).")] = None,
    fail_on: Annotated[
        FailOn, typer.Option("--fail-on", help="Exit 1 when the verdict is `problem` (for CI).")
    ] = FailOn.never,
) -> None:
    """Diagnose a training log: the verdict, the ranked causes with evidence, and the fix."""
    from .diagnose import diagnose as run_diagnosis
    from .readers import read

    try:
        run = read(path, loss_key=loss_key)
        result = run_diagnosis(run, mute=mute or ())
    except LogReadError as exc:
        raise _fail(str(exc)) from None
    except Exception as exc:  # never a traceback for the user; LOSSDOCTOR_DEBUG=1 shows it
        if os.environ.get("LOSSDOCTOR_DEBUG"):
            raise
        raise _fail(f"{path}: could not diagnose this log ({type(exc).__name__}: {exc})") from None
    if output is OutputFormat.json:
        from .report.json import render as render_json

        typer.echo(render_json(result))
    else:
        from .report.terminal import render as render_text

        render_text(result, Console())
    if fail_on is FailOn.problem and result.verdict == "problem":
        raise typer.Exit(code=1)


@app.command()
def demo(
    out: Annotated[
        Path | None, typer.Option("--out", help="Where to keep the run's logs (default: a temporary folder).")
    ] = None,
    scenario: Annotated[str, typer.Option(help="Which bundled scenario to train.")] = "seed003_partial_last_batch",
) -> None:
    """Train a small model that has the seed-003 bug (loss divided by the batch size twice), then diagnose it."""
    try:
        from .scenarios import SCENARIOS, run_scenario
    except ImportError as exc:
        raise _fail(f"the demo trains a small model and needs torch: pip install 'lossdoctor[torch]' ({exc})") from None
    if scenario not in SCENARIOS:
        raise _fail(f"unknown scenario {scenario!r}; choose one of: {', '.join(sorted(SCENARIOS))}")
    console = Console()
    chosen = SCENARIOS[scenario]
    console.print(f"[bold]training[/] {scenario}: {chosen.description}")
    folder = out or Path(tempfile.mkdtemp(prefix="lossdoctor-demo-"))
    result = run_scenario(scenario, folder, formats=("jsonl",), progress=lambda line: console.print(f"  {line}"))
    log = result.files["jsonl"]
    console.print(f"log written to {log}\n")
    from .diagnose import diagnose as run_diagnosis
    from .readers import read
    from .report.terminal import render as render_text

    render_text(run_diagnosis(read(log)), console)


@app.command("checks")
def list_checks() -> None:
    """List every check: its id, severity, and what it looks at (including its false-positive modes)."""
    from .checks import all_checks

    console = Console()
    for chk in all_checks():
        console.print(f"[bold]{chk.id}[/] ({chk.severity}): {chk.summary}")
        console.print(f"  [dim]{chk.doc}[/]\n")


@app.command()
def version() -> None:
    """Print the version."""
    from . import __version__

    typer.echo(__version__)


def main() -> None:
    app()


if __name__ == "__main__":
    main()
