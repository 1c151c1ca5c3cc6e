"""The HTML report in headless chromium with the network off: plots draw, cards are there, hover works,
and a crafted tag in a log cannot run script."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from browser_support import launch, open_page, wait_rendered

from lossdoctor.compare import compare
from lossdoctor.diagnose import diagnose
from lossdoctor.findings import Diagnosis
from lossdoctor.readers import read
from lossdoctor.report.html import render_html, render_html_many

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples"
SWEEP = sorted((EXAMPLES / "lr_sweep_gru").glob("*.jsonl"))
PAYLOAD_TAG = '<img src=x onerror="window.__pwned=1">'
PAYLOAD_SCRIPT = "<script>window.__pwned=2;alert(1)</script>"


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    pw, chromium = launch()
    yield chromium
    chromium.close()
    pw.stop()


def write_report(tmp_path: Path, log: Path, name: str = "report.html") -> tuple[Path, Diagnosis]:
    run = read(str(log))
    result = diagnose(run)
    out = tmp_path / name
    out.write_text(render_html(run, result), encoding="utf-8")
    return out, result


def drawn_points(page: Any, selector: str) -> int:
    """Points drawn in the SVG traces under `selector`: path vertices of lines plus marker paths."""
    return page.evaluate(
        """sel => { let n = 0;
           document.querySelectorAll(sel + ' .scatterlayer path.js-line').forEach(p => {
             n += ((p.getAttribute('d') || '').match(/[ML]/g) || []).length; });
           n += document.querySelectorAll(sel + ' .scatterlayer path.point').length;
           return n; }""",
        selector,
    )


def test_report_opens_offline_with_plots_and_one_card_per_finding(browser: Any, tmp_path: Path) -> None:
    report, result = write_report(tmp_path, EXAMPLES / "partial_last_batch_hf")
    with open_page(browser) as w:
        w.page.goto(report.as_uri())
        wait_rendered(w.page)
        assert w.blocked == [] and all(u.startswith("file:") for u in w.requests), w.requests
        assert w.errors == []
        assert drawn_points(w.page, ".plot.main") > 400  # 480 logged points, drawn
        cards = w.page.eval_on_selector_all(".card", "cs => cs.map(c => c.dataset.finding)")
        assert cards == [f.id for f in result.findings]
        assert cards[0] == "partial_last_batch"
        first = w.page.locator(".card").first
        assert "fix" in first.inner_text() and "drop_last=True" in first.locator("pre.fix").inner_text()
        # every card has its own focused plot, drawn when it scrolls into view
        for i in range(len(cards)):
            w.page.locator(f"#finding-{i + 1} .plot").scroll_into_view_if_needed()
            w.page.wait_for_selector(f"#finding-{i + 1} .plot[data-drawn-ms]", timeout=10_000)
            assert drawn_points(w.page, f"#finding-{i + 1}") > 0
        # the finding's steps are marked on the main plot in the card's colour
        marks = w.page.evaluate(
            """() => document.querySelector('.plot.main').data
                     .filter(t => t.name.startsWith('#1 ')).map(t => [t.marker.color, t.x.length])"""
        )
        colour = w.page.evaluate("() => document.querySelector('#finding-1').style.borderLeftColor")
        assert marks and marks[0][1] == len(result.findings[0].steps)
        assert colour.replace(" ", "") == _rgb(marks[0][0])


def _rgb(hex_colour: str) -> str:
    h = hex_colour.lstrip("#")
    return "rgb({},{},{})".format(*(int(h[i : i + 2], 16) for i in (0, 2, 4)))


def test_hovering_the_loss_curve_shows_its_value(browser: Any, tmp_path: Path) -> None:
    report, _ = write_report(tmp_path, EXAMPLES / "healthy_cnn_jsonl" / "metrics.jsonl")
    with open_page(browser) as w:
        w.page.goto(report.as_uri())
        wait_rendered(w.page)
        # the pixel of the 100th point of the loss trace, from the plot's own axes
        x, y, step, value = w.page.evaluate(
            """() => { const gd = document.querySelector('.plot.main'); const t = gd.data[0];
                 const fl = gd._fullLayout; const i = 100; const box = gd.getBoundingClientRect();
                 return [box.left + fl._size.l + fl.xaxis.d2p(t.x[i]),
                         box.top + fl._size.t + fl.yaxis.d2p(t.y[i]), t.x[i], t.y[i]]; }"""
        )
        w.page.mouse.move(x, y)
        label = w.page.wait_for_selector(".hoverlayer .hovertext", timeout=5000).text_content()
        assert f"step {step}" in label and "loss" in label
        assert f"{value:.4g}"[:4] in label


def test_healthy_run_shows_a_calm_page_that_says_why(browser: Any, tmp_path: Path) -> None:
    report, result = write_report(tmp_path, EXAMPLES / "healthy_cnn_jsonl" / "metrics.jsonl")
    assert result.verdict == "healthy"
    with open_page(browser) as w:
        w.page.goto(report.as_uri())
        wait_rendered(w.page)
        assert "healthy" in w.page.inner_text(".verdict")
        reasons = w.page.eval_on_selector_all("ul.calm li", "ls => ls.map(l => l.textContent)")
        assert any("median of the first tenth" in r for r in reasons) and any("NaN" in r for r in reasons)
        assert w.page.locator(".card.problem").count() == 0


def test_comparison_overlays_the_runs_and_gives_the_conclusion(browser: Any, tmp_path: Path) -> None:
    runs = [read(str(p)) for p in SWEEP]
    results = [diagnose(r) for r in runs]
    comparison = compare(runs, results)
    out = tmp_path / "sweep.html"
    out.write_text(render_html_many(runs, results, comparison), encoding="utf-8")
    with open_page(browser) as w:
        w.page.goto(out.as_uri())
        wait_rendered(w.page)
        assert w.blocked == [] and w.errors == []
        trends = w.page.evaluate(
            "() => document.querySelector('.plot.overlay').data.filter(t => t.name.endsWith('trend')).length"
        )
        assert trends == 3
        assert drawn_points(w.page, ".plot.overlay") > 300
        assert w.page.locator("table.comparison tr").count() == 1 + 3
        assert comparison.conclusion[:40] in w.page.inner_text(".conclusion")
        assert w.page.locator("details.run").count() == 3


def test_crafted_tags_in_a_log_are_shown_as_text_and_run_no_script(browser: Any, tmp_path: Path) -> None:
    folder = tmp_path / PAYLOAD_TAG.replace("/", "_")
    folder.mkdir()
    log = folder / "metrics.jsonl"
    rows = (json.loads(line) for line in (EXAMPLES / "healthy_cnn_jsonl" / "metrics.jsonl").read_text().splitlines())
    log.write_text("".join(json.dumps({**row, PAYLOAD_SCRIPT: 1.0, PAYLOAD_TAG: 2.0}) + "\n" for row in rows))
    out = tmp_path / "report.html"
    cli = subprocess.run([sys.executable, "-m", "lossdoctor", "diagnose", str(log), "--format", "html", "--out",
                          str(out)], capture_output=True, text=True, timeout=120)
    assert cli.returncode == 0, cli.stderr
    text = out.read_text()
    assert PAYLOAD_SCRIPT not in text and PAYLOAD_TAG not in text  # escaped in the embedded JSON
    with open_page(browser) as w:
        w.page.goto(out.as_uri())
        wait_rendered(w.page)
        assert w.page.evaluate("() => window.__pwned") is None
        assert w.dialogs == []
        assert w.page.locator("script").count() == 3  # plotly, the data, the page script
        assert w.page.locator("img").count() == 0
        shown = w.page.inner_text(".source")
        assert PAYLOAD_SCRIPT in shown and PAYLOAD_TAG in shown  # visible as the literal text it is


def test_a_crafted_parameter_name_reaches_the_plots_as_text(browser: Any, tmp_path: Path) -> None:
    """Names also pass through Plotly (legend, hover), which renders a subset of HTML: they stay text."""
    out = tmp_path / "sweep.html"
    sweep = [str(p) for p in SWEEP]
    name = "<script>alert(1)</script>"  # a parameter name cannot hold "=" or ","
    param = f"{name}=1e-3,1e-2,5e-2"
    cli = subprocess.run([sys.executable, "-m", "lossdoctor", "diagnose", *sweep, "--param", param, "--format",
                          "html", "--out", str(out)], capture_output=True, text=True, timeout=120)
    assert cli.returncode == 0, cli.stderr
    with open_page(browser) as w:
        w.page.goto(out.as_uri())
        wait_rendered(w.page)
        assert w.page.evaluate("() => window.__pwned") is None and w.dialogs == [] and w.blocked == []
        assert w.page.locator("img").count() == 0
        assert w.page.locator("script").count() == 3
        legend = w.page.locator(".plot.overlay .legend").text_content()
        assert f"({name}=0.001)" in legend
        assert name in w.page.inner_text("table.comparison")
