"""Regenerate docs/screenshots/: the HTML report of each seed scenario's example log, and the live dashboard,
in headless chromium.

The logs in examples/ are real runs of the seed scenarios (see examples/make_examples.py). Run from the
repository root (needs the html and browser extras and Debian's chromium):

    .venv/bin/python docs/make_screenshots.py
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from lossdoctor.compare import compare
from lossdoctor.diagnose import diagnose
from lossdoctor.readers import read
from lossdoctor.report.html import render_html, render_html_many

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples"
OUT = ROOT / "docs" / "screenshots"
#: screenshot name -> example log(s); one log is a single-run report, several a comparison.
SHOTS = {
    "seed003_partial_last_batch": ["partial_last_batch_hf"],
    "seed002_adam_near_convergence": ["adam_near_convergence_console/train.log"],
    "seed001_small_batch_noise": ["small_batch_noise_lightning/metrics.csv"],
    "seed000_gru_high_lr": ["gru_high_lr_tensorboard"],
    "seed000_lr_sweep_compare": ["lr_sweep_gru/lr1e-3.jsonl", "lr_sweep_gru/lr1e-2.jsonl", "lr_sweep_gru/lr5e-2.jsonl"],
    "healthy_cnn": ["healthy_cnn_jsonl/metrics.jsonl"],
}
#: Pixels of the page kept: the verdict, the main plot and the first finding card.
WIDTH, HEIGHT = 1200, 1500


def report(logs: list[str]) -> str:
    runs = [read(str((EXAMPLES / log).relative_to(ROOT))) for log in logs]
    results = [diagnose(r) for r in runs]
    if len(runs) == 1:
        return render_html(runs[0], results[0])
    return render_html_many(runs, results, compare(runs, results))


def main() -> None:
    from playwright.sync_api import sync_playwright

    os.chdir(ROOT)  # relative paths in the pages, as a user typing them would see
    OUT.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp, sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path="/usr/bin/chromium", args=["--no-sandbox", "--disable-gpu"])
        page = browser.new_context(viewport={"width": WIDTH, "height": HEIGHT}, offline=True).new_page()
        for name, logs in SHOTS.items():
            html = Path(tmp) / f"{name}.html"
            html.write_text(report(logs), encoding="utf-8")
            page.goto(html.as_uri())
            page.wait_for_selector("#app[data-rendered=true]")
            page.wait_for_timeout(300)  # let Plotly finish its responsive resize
            target = OUT / f"{name}.png"
            page.screenshot(path=str(target), clip={"x": 0, "y": 0, "width": WIDTH, "height": HEIGHT})
            print(f"{target.relative_to(ROOT)}  {target.stat().st_size / 1e3:.0f} kB")
        dashboard(page, Path(tmp))
        browser.close()


def dashboard(page, folder: Path) -> None:
    """The live dashboard of a run written in two halves: the second half brings a live warning."""
    import threading

    from lossdoctor.serve import LiveRun, make_server

    lines = (EXAMPLES / "lr_sweep_gru" / "lr5e-2.jsonl").read_text().splitlines(keepends=True)
    run_dir = folder / "my-run"
    run_dir.mkdir()
    log = run_dir / "metrics.jsonl"
    log.write_text("".join(lines[: len(lines) // 2]))
    os.chdir(folder)  # the page shows the path as typed: runs/my-run, not a temporary folder
    server = make_server(LiveRun("my-run", min_interval=0.0), port=0)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        page.context.set_offline(False)
        page.goto(f"http://127.0.0.1:{server.server_address[1]}/")
        page.wait_for_selector("#app[data-rendered=true]")
        version = page.get_attribute("#app", "data-version")
        with log.open("a") as f:
            f.writelines(lines[len(lines) // 2 :])
        page.wait_for_function(f"() => document.querySelector('#app').dataset.version !== '{version}'")
        page.wait_for_timeout(2500)  # the status line's next poll
        target = OUT / "dashboard.png"
        page.screenshot(path=str(target), clip={"x": 0, "y": 0, "width": WIDTH, "height": 1000})
        print(f"{target.relative_to(ROOT)}  {target.stat().st_size / 1e3:.0f} kB")
    finally:
        server.shutdown()
        server.server_close()
        os.chdir(ROOT)


if __name__ == "__main__":
    main()
