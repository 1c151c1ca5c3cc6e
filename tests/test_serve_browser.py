"""The dashboard in headless chromium: it draws a run being written and updates as steps arrive,
with the live warning and the step where it first appeared; it requests nothing but its own server."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from browser_support import launch, open_page, wait_rendered
from test_serve import LOG_LINES, append, last_step, nan_line

from lossdoctor.serve import LiveRun, make_server

#: Number of points of the raw loss on the main plot.
LOSS_POINTS = "() => document.querySelector('.plot.main').data[0].x.length"


@contextmanager
def dashboard(browser: Any, run_dir: Path) -> Iterator[Any]:
    """A dashboard server on `run_dir` and a browser page opened on it, drawn; the page wrapper is yielded."""
    srv = make_server(LiveRun(run_dir, min_interval=0.0), port=0)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    origin = f"http://127.0.0.1:{srv.server_address[1]}"
    try:
        with open_page(browser, allow_origin=origin) as w:
            w.page.goto(origin + "/")
            wait_rendered(w.page)
            yield w
            assert w.errors == [] and w.blocked == []
            assert all(u.startswith(origin) for u in w.requests)
    finally:
        srv.shutdown()
        srv.server_close()


def wait_for_new_version(page: Any, version: str | None) -> None:
    page.wait_for_function(f"() => document.querySelector('#app').dataset.version !== '{version}'", timeout=15_000)
    wait_rendered(page)


@pytest.fixture()
def browser() -> Iterator[Any]:
    pw, chromium = launch()
    yield chromium
    chromium.close()
    pw.stop()


def test_dashboard_updates_when_steps_arrive(browser: Any, tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    log = run_dir / "metrics.jsonl"
    append(log, LOG_LINES[:150])
    with dashboard(browser, run_dir) as w:
        before = w.page.evaluate(LOSS_POINTS)
        assert "no warnings so far" in w.page.inner_text(".live-warnings")
        version = w.page.get_attribute("#app", "data-version")
        # zoom into the first steps by dragging a box on the main plot, as a user would
        box = w.page.locator(".plot.main .nsewdrag").first.bounding_box()
        w.page.mouse.move(box["x"] + 5, box["y"] + 5)
        w.page.mouse.down()
        w.page.mouse.move(box["x"] + box["width"] / 3, box["y"] + box["height"] - 5, steps=5)
        w.page.mouse.up()
        x_range = "() => document.querySelector('.plot.main')._fullLayout.xaxis.range"
        zoomed = w.page.evaluate(x_range)
        end = last_step(LOG_LINES[:300])
        append(log, LOG_LINES[150:300] + [nan_line(end + i) for i in (1, 2, 3)])
        wait_for_new_version(w.page, version)
        assert w.page.evaluate(LOSS_POINTS) > before
        assert w.page.evaluate(x_range) == zoomed  # the new steps did not undo the zoom
        warnings = w.page.inner_text(".live-warnings")
        assert "numerical_instability" in warnings and f"first seen at step {end + 3}" in warnings
        w.page.wait_for_function(
            f"() => document.querySelector('.live-status').textContent.includes('last step {end + 3}')",
            timeout=15_000,
        )


def test_dashboard_follows_a_recorded_run(browser: Any, tmp_path: Path) -> None:
    """The recorder's SQLite store, read while training writes it: the page grows with each flush."""
    torch = pytest.importorskip("torch")
    from lossdoctor import watch

    torch.manual_seed(0)
    x, y = torch.randn(512, 8), torch.randn(512, 1)
    model = torch.nn.Sequential(torch.nn.Linear(8, 32), torch.nn.ReLU(), torch.nn.Linear(32, 1))
    optimizer = torch.optim.SGD(model.parameters(), lr=0.05)
    run_dir = tmp_path / "recorded"

    def train(rec: Any, steps: range) -> None:
        for i in steps:
            xb, yb = x[(i * 32) % 512 :][:32], y[(i * 32) % 512 :][:32]
            loss = torch.nn.functional.mse_loss(model(xb), yb)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            rec.step(loss, batch_size=len(xb))
        rec.flush()

    rec = watch(model, optimizer, run_dir=str(run_dir), warn=False, flush_every=10)
    try:
        train(rec, range(60))
        with dashboard(browser, run_dir) as w:
            before = w.page.evaluate(LOSS_POINTS)
            version = w.page.get_attribute("#app", "data-version")
            train(rec, range(60, 160))
            wait_for_new_version(w.page, version)
            assert w.page.evaluate(LOSS_POINTS) > before
    finally:
        rec.close()
