"""A readable terminal report: verdict first, then each finding with its evidence and its fix."""

from __future__ import annotations

from rich.console import Console, Group
from rich.markup import escape
from rich.panel import Panel
from rich.syntax import Syntax
from rich.text import Text

from ..findings import Diagnosis, Finding

_VERDICT_STYLE = {"healthy": "bold green", "problem": "bold red", "inconclusive": "bold yellow"}
_VERDICT_TEXT = {
    "healthy": "healthy — the fluctuation is normal",
    "problem": "problem — something in the setup makes the loss misbehave",
    "inconclusive": "inconclusive — the log cannot settle it",
}
MAX_STEPS_SHOWN = 12


def _steps_line(finding: Finding) -> str:
    shown = ", ".join(str(s) for s in finding.steps[:MAX_STEPS_SHOWN])
    more = len(finding.steps) - MAX_STEPS_SHOWN
    return shown + (f" … (+{more})" if more > 0 else "")


def _finding_panel(rank: int, finding: Finding) -> Panel:
    colour = "red" if finding.severity == "problem" else "cyan"
    parts: list = [Text.from_markup(f"[bold]{escape(finding.title)}[/]")]
    for line in finding.evidence:
        parts.append(Text.from_markup(f"  • {escape(line)}"))
    if finding.steps:
        parts.append(Text.from_markup(f"  [dim]steps: {escape(_steps_line(finding))}[/]"))
    if finding.fix:
        parts.append(Text.from_markup("[bold]fix:[/]"))
        code = "\n".join(finding.fix)
        parts.append(Syntax(code, "python", theme="ansi_dark", background_color="default", word_wrap=True))
    title = f"#{rank} {finding.id} · {finding.severity} · confidence {finding.confidence:.2f}"
    return Panel(Group(*parts), title=escape(title), title_align="left", border_style=colour)


def render(diagnosis: Diagnosis, console: Console) -> None:
    """Print the diagnosis to `console`."""
    console.print(
        f"[bold]lossdoctor[/] {escape(diagnosis.path)}  [dim]({escape(diagnosis.format)}, "
        f"{diagnosis.steps} loss points; series: {escape(', '.join(diagnosis.series))})[/]"
    )
    style = _VERDICT_STYLE[diagnosis.verdict]
    console.print(f"verdict: [{style}]{escape(_VERDICT_TEXT[diagnosis.verdict])}[/]")
    failed = [note for note in diagnosis.notes if note.startswith("check ") and "failed on this run" in note]
    if failed:  # a verdict reached without every check is weaker than it reads
        console.print(f"[yellow]  {len(failed)} check(s) failed on this log and were skipped (see the notes below):"
                      " the verdict stands without them[/]")
    if not diagnosis.findings:
        console.print("  no known cause of fluctuation found: the loss follows its trend within normal noise")
    for rank, finding in enumerate(diagnosis.findings, 1):
        console.print(_finding_panel(rank, finding))
    for note in diagnosis.notes:
        console.print(f"[dim]note: {escape(note)}[/]")
