"""The HTML report of a 1,000,000-step run: file size and the time headless chromium takes to open it.

Goal (issue 5): under 10 MB, and open (parse, plot every panel and card) in under 3 s. Baselines measured
in the same run: the report of a 10,000-step run (what opening any report costs: mostly parsing the
inlined plotly.js) and a bare page holding only plotly.js and one empty plot. Run:

    .venv/bin/python benchmarks/html_report.py [--steps 1000000] [--repeat 3]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from large_log import make_series

from lossdoctor.diagnose import diagnose
from lossdoctor.report.html import render_html
from lossdoctor.report.html.page import plotly_js
from lossdoctor.run import Run, Series

CHROMIUM = "/usr/bin/chromium"
#: After two frames every plot on screen has been drawn: the latest time any was (ms since navigation).
LAST_DRAWN_MS = """() => new Promise(done => requestAnimationFrame(() => requestAnimationFrame(() => {
    const times = [...document.querySelectorAll('[data-drawn-ms], [data-rendered-ms]')]
        .map(d => Number(d.dataset.drawnMs || d.dataset.renderedMs));
    done(Math.max(...times)); })))"""
BARE = """<!DOCTYPE html><html><head><meta charset="utf-8"><script>{js}</script></head><body>
<div id="p"></div><main id="app"></main><script>Plotly.newPlot("p", [{{x: [0, 1], y: [0, 1]}}]).then(() => {{
const a = document.getElementById("app"); a.dataset.renderedMs = String(Math.round(performance.now()));
a.dataset.rendered = "true"; }});</script></body></html>"""


def run_of(steps: int) -> Run:
    s = make_series(steps)
    names = {"loss": "loss", "lr": "lr", "epoch": "epoch"}
    return Run({k: Series(s["step"], s[v]) for k, v in names.items()}, path=f"{steps}-steps.jsonl", format="jsonl")


def build(steps: int, folder: Path) -> tuple[Path, float, float, int]:
    """(file, diagnose s, render s, findings) for a run of `steps`."""
    run = run_of(steps)
    t0 = time.perf_counter()
    result = diagnose(run)
    t1 = time.perf_counter()
    html = render_html(run, result)
    t2 = time.perf_counter()
    path = folder / f"report-{steps}.html"
    path.write_text(html, encoding="utf-8")
    return path, t1 - t0, t2 - t1, len(result.findings)


def open_ms(browser, path: Path, repeat: int) -> float:
    """Median ms from navigation start until the page has drawn every plot on screen, network off."""
    times = []
    for _ in range(repeat):
        context = browser.new_context(viewport={"width": 1200, "height": 900}, offline=True)
        page = context.new_page()
        page.goto(path.as_uri())
        page.wait_for_selector("#app[data-rendered=true]", state="attached", timeout=60_000)
        drawn = page.evaluate(LAST_DRAWN_MS)
        times.append(float(drawn))
        context.close()
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory() as tmp, sync_playwright() as pw:
        folder = Path(tmp)
        big, diag_s, render_s, found = build(args.steps, folder)
        small, *_ = build(10_000, folder)
        bare = folder / "bare.html"
        bare.write_text(BARE.format(js=plotly_js()), encoding="utf-8")
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"])
        ms = {p.name: open_ms(browser, p, args.repeat) for p in (big, small, bare)}
        browser.close()
        size = big.stat().st_size / 1e6
        print(f"{args.steps:,}-step run: {found} finding(s); diagnose {diag_s:.2f} s, render HTML {render_s:.2f} s")
        print(f"file size: {size:.2f} MB (10,000-step report {small.stat().st_size / 1e6:.2f} MB; "
              f"plotly.js alone {len(plotly_js().encode()) / 1e6:.2f} MB)  goal < 10 MB")
        print(f"open in headless chromium (median of {args.repeat}, network off):")
        print(f"  {args.steps:,} steps  {ms[big.name]:7.0f} ms   goal < 3000 ms")
        print(f"  10,000 steps     {ms[small.name]:7.0f} ms   ratio {ms[big.name] / ms[small.name]:.2f}")
        print(f"  plotly.js alone  {ms[bare.name]:7.0f} ms   ratio {ms[big.name] / ms[bare.name]:.2f}")
        print(f"size ok: {size < 10}; open ok: {ms[big.name] < 3000}")


if __name__ == "__main__":
    main()
