"""The `lossdoctor` command line."""

from __future__ import annotations

import os
import sys
import tempfile
from collections.abc import Callable, Sequence
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console

from .errors import LogReadError

if TYPE_CHECKING:
    from .findings import Diagnosis
    from .run import Run

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    help="Tells you why your training loss fluctuates, spikes, climbs back or diverges, and what to change.",
)


class OutputFormat(StrEnum):
    text = "text"
    json = "json"
    html = "html"
    png = "png"


class FailOn(StrEnum):
    problem = "problem"
    never = "never"


def _fail(message: str) -> typer.Exit:
    """One clear line on stderr and exit code 2: the contract for input that cannot be used."""
    print(f"lossdoctor: error: {message}", file=sys.stderr)
    return typer.Exit(code=2)


@app.command()
def diagnose(
    paths: Annotated[
        list[str], typer.Argument(help="A log file or a run directory; several compare runs of one model.")
    ],
    output: Annotated[OutputFormat, typer.Option("--format", "-f", help="Report format.")] = OutputFormat.text,
    loss_key: Annotated[
        str | None, typer.Option("--loss-key", help="The column/tag that holds the training loss.")
    ] = None,
    mute: Annotated[list[str] | None, typer.Option("--mute", help="A check id to skip (repeatable).")] = None,
    fail_on: Annotated[
        FailOn, typer.Option("--fail-on", help="Exit 1 when the verdict is `problem` (for CI).")
    ] = FailOn.never,
    param: Annotated[
        str | None,
        typer.Option(
            "--param",
            help="With several runs: the hyper-parameter that differs, when the logs do not carry it, "
            "e.g. lr=1e-3,1e-2,5e-2 (one value per run, in order).",
        ),
    ] = None,
    out: Annotated[
        Path | None, typer.Option("--out", "-o", help="The file to write with --format html or png.")
    ] = None,
) -> None:
    """Diagnose a training log: the verdict, the ranked causes with evidence, and the fix.

    Given several runs of one model (an LR sweep), also say how the fluctuation changes with the
    hyper-parameter that differs between them.
    """
    _check_out(output, out)
    if len(paths) > 1:
        _diagnose_many(paths, output, loss_key, mute or (), fail_on, param, out)
        return
    if param is not None:
        raise _fail("--param relates several runs; give two or more logs")
    path = paths[0]
    run, result = _diagnose_one(path, loss_key, mute or ())
    if out is not None:
        from .report.files import write_report

        _write_file(lambda: write_report(output.value, out, run, result))
    elif output is OutputFormat.json:
        from .report.json import render as render_json

        typer.echo(render_json(result))
    else:
        from .report.terminal import render as render_text

        render_text(result, Console())
    if fail_on is FailOn.problem and result.verdict == "problem":
        raise typer.Exit(code=1)


def _check_out(output: OutputFormat, out: Path | None) -> None:
    """HTML and PNG are files: they need --out; text and JSON go to stdout."""
    if output in (OutputFormat.html, OutputFormat.png):
        if out is None:
            raise _fail(f"--format {output.value} writes a file: give --out, e.g. --out report.{output.value}")
        if out.is_dir():
            raise _fail(f"--out {out}: is a directory; give a file name, e.g. {out / ('report.' + output.value)}")
    elif out is not None:
        raise _fail(f"--out is for --format html or png; --format {output.value} prints to stdout")


def _write_file(write: Callable[[], Path]) -> None:
    """Write a report file, turning a missing extra or an unwritable path into the one-line error."""
    from .report.extras import MissingReportExtra

    try:
        written = write()
    except MissingReportExtra as exc:
        raise _fail(str(exc)) from None
    except OSError as exc:
        raise _fail(f"cannot write {exc.filename or 'the report'}: {exc.strerror or exc}") from None
    typer.echo(f"wrote {written}")


def _diagnose_one(path: str, loss_key: str | None, mute: Sequence[str]) -> tuple[Run, Diagnosis]:
    """Read and diagnose one log, turning any failure into the one-line exit-2 error."""
    from .diagnose import diagnose as run_diagnosis
    from .readers import read

    try:
        run = read(path, loss_key=loss_key)
        return run, run_diagnosis(run, mute=mute)
    except LogReadError as exc:
        raise _fail(str(exc)) from None
    except Exception as exc:  # never a traceback for the user; LOSSDOCTOR_DEBUG=1 shows it
        if os.environ.get("LOSSDOCTOR_DEBUG"):
            raise
        raise _fail(f"{path}: could not diagnose this log ({type(exc).__name__}: {exc})") from None


def _diagnose_many(
    paths: Sequence[str],
    output: OutputFormat,
    loss_key: str | None,
    mute: Sequence[str],
    fail_on: FailOn,
    param: str | None,
    out: Path | None = None,
) -> None:
    """Diagnose every run, then compare them; one unreadable run stops all with exit code 2."""
    from .compare import compare, parse_param

    try:
        given = parse_param(param, len(paths)) if param is not None else None
    except ValueError as exc:
        raise _fail(str(exc)) from None
    pairs = [_diagnose_one(path, loss_key, mute) for path in paths]
    runs, results = [p[0] for p in pairs], [p[1] for p in pairs]
    labels = [f"run {i + 1}" for i in range(len(runs))]
    try:
        comparison = compare(runs, results, given, labels)
    except Exception as exc:
        if os.environ.get("LOSSDOCTOR_DEBUG"):
            raise
        raise _fail(f"could not compare these runs ({type(exc).__name__}: {exc})") from None
    if out is not None:
        from .report.files import write_report_many

        _write_file(lambda: write_report_many(output.value, out, runs, results, comparison))
    elif output is OutputFormat.json:
        from .report.compare_json import render_many as render_json

        typer.echo(render_json(results, comparison))
    else:
        from .report.compare_terminal import render_many as render_text

        render_text(results, comparison, Console())
    if fail_on is FailOn.problem and any(r.verdict == "problem" for r in results):
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


@app.command()
def serve(
    run_dir: Annotated[str, typer.Argument(help="The run directory (or log file) a training run is writing.")],
    port: Annotated[int, typer.Option("--port", "-p", help="Port to listen on (0 picks a free one).")] = 8000,
    host: Annotated[
        str, typer.Option("--host", help="Address to bind; the default serves this machine only.")
    ] = "127.0.0.1",
    loss_key: Annotated[
        str | None, typer.Option("--loss-key", help="The column/tag that holds the training loss.")
    ] = None,
    mute: Annotated[list[str] | None, typer.Option("--mute", help="A check id to skip (repeatable).")] = None,
) -> None:
    """A local dashboard of a run being recorded: the HTML report, refreshed as steps arrive, with live warnings."""
    from .report.extras import MissingReportExtra
    from .serve import serve as run_server

    if not Path(run_dir).exists():
        print(f"lossdoctor: {run_dir} does not exist yet; the dashboard waits for it", file=sys.stderr)
    try:
        run_server(run_dir, host=host, port=port, loss_key=loss_key, mute=mute or ())
    except MissingReportExtra as exc:
        raise _fail(str(exc).replace("--format html", "serve")) from None
    except OSError as exc:
        raise _fail(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None


@app.command()
def preflight(
    script: Annotated[str, typer.Argument(help="A training script whose top level builds model, loss and loader.")],
    output: Annotated[OutputFormat, typer.Option("--format", "-f", help="Report format.")] = OutputFormat.text,
    fail_on: Annotated[
        FailOn, typer.Option("--fail-on", help="Exit 1 when a problem is found (for CI).")
    ] = FailOn.never,
) -> None:
    """Check a script's loss, data loader, model and optimizer on real batches before training."""
    import json

    if output not in (OutputFormat.text, OutputFormat.json):
        raise _fail("preflight reports as text or json")

    try:
        from .preflight import preflight as run_preflight
        from .preflight.script import ScriptError, load_objects
    except ImportError as exc:
        raise _fail(f"preflight needs torch: pip install 'lossdoctor[torch]' ({exc})") from None
    try:
        objects = load_objects(script)
        report = run_preflight(
            objects["model"], objects["loss_fn"], objects["loader"], objects.get("optimizer"),
            scheduler=objects.get("scheduler"), accumulation_steps=int(objects.get("accumulation_steps") or 1),
            source=script)
    except ScriptError as exc:
        raise _fail(str(exc)) from None
    except (ValueError, TypeError, RuntimeError) as exc:
        raise _fail(f"{script}: preflight could not run the model on a batch: {type(exc).__name__}: {exc}") from None
    if output == OutputFormat.json:
        typer.echo(json.dumps(report.to_json(), indent=2))
    else:
        typer.echo(str(report))
    if fail_on == FailOn.problem and not report.ok:
        raise typer.Exit(code=1)


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
