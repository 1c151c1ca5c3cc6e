"""The live dashboard's server: it re-reads a growing log, remembers when each warning first appeared,
waits gracefully for a log that is not there yet, and binds to this machine only by default."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from lossdoctor.serve import LiveRun, make_server

ROOT = Path(__file__).resolve().parents[1]
#: A real GRU run (the LR sweep's lr=1e-3 run): 320 steps with validation every 8 steps.
LOG_LINES = (ROOT / "examples" / "lr_sweep_gru" / "lr1e-3.jsonl").read_text().splitlines(keepends=True)


def last_step(lines: list[str]) -> int:
    return max(json.loads(line)["step"] for line in lines)


def append(path: Path, lines: list[str]) -> None:
    with path.open("a") as f:
        f.writelines(lines)


def nan_line(step: int) -> str:
    return json.dumps({"step": step, "loss": float("nan"), "lr": 0.001}) + "\n"


@pytest.fixture()
def server(tmp_path: Path) -> Iterator[tuple[str, Path, LiveRun]]:
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    live = LiveRun(run_dir, min_interval=0.0)
    srv = make_server(live, port=0)
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    host, port = srv.server_address[:2]
    try:
        yield f"http://{host}:{port}", run_dir, live
    finally:
        srv.shutdown()
        srv.server_close()


def get(url: str) -> tuple[int, str, bytes]:
    with urllib.request.urlopen(url, timeout=30) as r:
        return r.status, r.headers["Content-Type"], r.read()


def test_a_growing_log_is_reread_and_warnings_keep_their_first_step(tmp_path: Path) -> None:
    log = tmp_path / "metrics.jsonl"
    live = LiveRun(log, min_interval=0.0)
    assert live.page()["kind"] == "waiting"  # nothing written yet: no error, a waiting page
    append(log, LOG_LINES[:200])
    first = live.page()
    assert first["kind"] == "single" and first["run"]["last_step"] == last_step(LOG_LINES[:200])
    assert "numerical_instability" not in {c["id"] for c in first["run"]["cards"]}
    again = live.page()
    assert again["live"]["version"] == first["live"]["version"]  # unchanged files: no re-read
    end = last_step(LOG_LINES[:300])
    append(log, LOG_LINES[200:300] + [nan_line(end + i) for i in (1, 2, 3)])
    grown = live.page()
    assert grown["live"]["version"] > first["live"]["version"]
    assert grown["run"]["last_step"] == end + 3
    cards = {c["id"]: c for c in grown["run"]["cards"]}
    assert cards["numerical_instability"]["first_seen"] == end + 3
    append(log, [nan_line(end + i) for i in (4, 5)])
    later = live.page()
    assert later["run"]["last_step"] == end + 5
    cards = {c["id"]: c for c in later["run"]["cards"]}
    assert cards["numerical_instability"]["first_seen"] == end + 3  # where it first appeared, not now


def test_a_half_written_line_keeps_the_last_good_page(tmp_path: Path) -> None:
    log = tmp_path / "metrics.jsonl"
    append(log, LOG_LINES[:150])
    live = LiveRun(log, min_interval=0.0)
    assert live.page()["run"]["last_step"] == last_step(LOG_LINES[:150])
    append(log, ['{"step": 999, "lo'])  # the writer is mid-line
    page = live.page()
    assert page["kind"] == "single" and page["run"]["last_step"] == last_step(LOG_LINES[:150])


def test_server_serves_the_page_and_answers_polls(server: tuple[str, Path, LiveRun]) -> None:
    url, run_dir, _ = server
    assert url.startswith("http://127.0.0.1:")
    append(run_dir / "metrics.jsonl", LOG_LINES[:120])
    first_end = last_step(LOG_LINES[:120])
    status, kind, body = get(url + "/")
    assert status == 200 and kind.startswith("text/html")
    html = body.decode()
    assert "connect-src 'self'" in html and '"live":' in html
    _, kind, body = get(url + "/api/page")
    page = json.loads(body)
    assert kind == "application/json" and page["run"]["last_step"] == first_end
    version = page["live"]["version"]
    _, _, small = get(f"{url}/api/page?since={version}")
    assert len(small) < 300 and json.loads(small)["run"]["last_step"] == first_end  # nothing new: a few bytes
    append(run_dir / "metrics.jsonl", LOG_LINES[120:180])
    news = json.loads(get(f"{url}/api/page?since={version}")[2])
    assert news["live"]["version"] > version and news["run"]["last_step"] == last_step(LOG_LINES[:180])
    with pytest.raises(urllib.error.HTTPError) as missing:
        get(url + "/etc/passwd")
    assert missing.value.code == 404


def test_serve_command_listens_on_this_machine_only(tmp_path: Path) -> None:
    log = tmp_path / "metrics.jsonl"
    append(log, LOG_LINES[:100])
    proc = subprocess.Popen([sys.executable, "-m", "lossdoctor", "serve", str(log), "--port", "0"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        line = proc.stdout.readline() if proc.stdout else ""
        found = re.search(r"http://127\.0\.0\.1:(\d+)/", line)
        assert found, line + (proc.stderr.read() if proc.poll() is not None and proc.stderr else "")
        page = json.loads(get(f"http://127.0.0.1:{found.group(1)}/api/page")[2])
        assert page["run"]["last_step"] == last_step(LOG_LINES[:100])
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_serve_command_says_in_one_line_when_the_port_is_taken(server: tuple[str, Path, LiveRun]) -> None:
    port = server[0].rsplit(":", 1)[1]
    done = subprocess.run([sys.executable, "-m", "lossdoctor", "serve", str(server[1]), "--port", port],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    assert f"cannot listen on 127.0.0.1:{port}" in done.stderr and len(done.stderr.strip().splitlines()) == 1


def test_a_foreign_host_name_is_refused(server: tuple[str, Path, LiveRun]) -> None:
    """DNS rebinding: a page served as evil.example that resolves to 127.0.0.1 must not read the run."""
    url = server[0]
    request = urllib.request.Request(url + "/api/page", headers={"Host": "evil.example:8000"})
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(request, timeout=30)
    assert refused.value.code == 403
    request = urllib.request.Request(url + "/api/page", headers={"Host": "localhost:8000"})
    with urllib.request.urlopen(request, timeout=30) as r:
        assert r.status == 200
