"""`lossdoctor serve RUN_DIR`: a local dashboard for a run being written, with live warnings.

It is the HTML report's page, served by a small standard-library HTTP server. The page polls
`/api/page`; the server looks at the sizes and modification times of the run's files and, when they
changed, reads the run again with `lossdoctor.read` (any log a training script appends to: JSONL,
CSV, console text, TensorBoard, or the recorder's store) and diagnoses the data so far. Each finding
remembers the last logged step at which it first appeared: the live warnings show it.
"""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Sequence
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

#: How often the page asks for news, and the least time between two re-reads of a growing run.
POLL_MS = 2000
MIN_REREAD_S = 1.0
LOOPBACK = ("127.0.0.1", "::1", "localhost")
LOOPBACK_NAMES = ("127.0.0.1", "localhost", "[::1]")
#: Files looked at for changes in a run directory (a store, a log, event files), at most.
MAX_WATCHED = 2000


def signature(path: Path) -> tuple[tuple[str, int, int], ...]:
    """What changes when a run grows: (name, size, mtime) of the file, or of the files in the folder."""
    try:
        if path.is_file():
            st = path.stat()
            return ((path.name, st.st_size, st.st_mtime_ns),)
        found: list[tuple[str, int, int]] = []
        for root, dirs, files in os.walk(path):
            dirs[:] = sorted(d for d in dirs if not d.startswith("."))
            for name in sorted(files):
                full = os.path.join(root, name)
                try:
                    st = os.stat(full)
                except OSError:
                    continue
                found.append((os.path.relpath(full, path), st.st_size, st.st_mtime_ns))
                if len(found) >= MAX_WATCHED:
                    return tuple(found)
        return tuple(found)
    except OSError:
        return ()


class LiveRun:
    """A run that may still grow: re-read and re-diagnosed when its files change, never more often
    than `min_interval` seconds. Thread-safe: the HTTP server asks from several threads."""

    def __init__(self, path: str | Path, loss_key: str | None = None, mute: Sequence[str] = (),
                 min_interval: float = MIN_REREAD_S) -> None:
        self.path = Path(path)
        self.loss_key = loss_key
        self.mute = tuple(mute)
        self.min_interval = min_interval
        self.version = 0
        self.first_seen: dict[str, int] = {}
        self._signature: tuple[tuple[str, int, int], ...] | None = None
        self._checked = 0.0
        self._page: dict[str, Any] = self._waiting("no data read yet")
        self._lock = threading.Lock()

    def _waiting(self, message: str) -> dict[str, Any]:
        return {"kind": "waiting", "title": str(self.path), "message": message}

    def page(self) -> dict[str, Any]:
        """The current page model (with its version), refreshed first when the files changed."""
        with self._lock:
            now = time.monotonic()
            if now - self._checked >= self.min_interval or self._signature is None:
                self._checked = now
                current = signature(self.path)
                if current != self._signature:
                    self._signature = current
                    self._refresh()
            return dict(self._page, live={"api": "/api/page", "interval_ms": POLL_MS, "version": self.version})

    def _refresh(self) -> None:
        from .diagnose import diagnose
        from .errors import LogReadError
        from .readers import read
        from .report.html.model import run_model

        keep_last = self._page.get("kind") == "single"
        try:
            run = read(str(self.path), loss_key=self.loss_key)
            result = diagnose(run, mute=self.mute)
            loss = run.get("loss")
            last = int(loss.steps[-1]) if loss is not None else 0
            for finding in result.findings:
                self.first_seen.setdefault(finding.id, last)
            page = {"kind": "single", "title": str(self.path), "run": run_model(run, result, self.first_seen)}
        except LogReadError as exc:  # not written yet, or caught mid-write: keep what was shown
            if keep_last:
                return
            page = self._waiting(str(exc))
        except Exception as exc:  # a fault here must not stop the dashboard
            if keep_last:
                return
            page = self._waiting(f"could not diagnose this run yet ({type(exc).__name__}: {exc})")
        self._page = page
        self.version += 1


class _Handler(BaseHTTPRequestHandler):
    live: LiveRun

    def do_GET(self) -> None:
        if not self._host_allowed():
            self.send_error(HTTPStatus.FORBIDDEN, "unexpected Host header")
            return
        url = urlparse(self.path)
        if url.path in ("/", "/index.html"):
            from .report.html.page import html_page

            self._send(html_page(self.live.page(), live=True).encode(), "text/html; charset=utf-8")
        elif url.path == "/api/page":
            since = parse_qs(url.query).get("since", [""])[0]
            page = self.live.page()
            if since == str(page["live"]["version"]):  # nothing new: say so in a few bytes
                page = {"live": page["live"], "run": {"last_step": (page.get("run") or {}).get("last_step")}}
            body = json.dumps(page, allow_nan=False, separators=(",", ":")).encode()
            self._send(body, "application/json")
        else:
            self.send_error(HTTPStatus.NOT_FOUND)

    def _host_allowed(self) -> bool:
        """On a loopback address, answer only requests addressed to it: a web page that rebinds its own
        DNS name to 127.0.0.1 must not read the run (DNS rebinding)."""
        bound = self.server.server_address[0]
        if bound not in LOOPBACK:
            return True
        host = self.headers.get("Host") or ""
        name = host[: host.index("]") + 1] if host.startswith("[") and "]" in host else host.rsplit(":", 1)[0]
        return name in LOOPBACK_NAMES

    def _send(self, body: bytes, kind: str) -> None:
        self.send_response(HTTPStatus.OK)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.send_header("X-Content-Type-Options", "nosniff")
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:  # quiet: the terminal is the user's
        return


def make_server(live: LiveRun, host: str = "127.0.0.1", port: int = 8000) -> ThreadingHTTPServer:
    """An HTTP server for `live` (port 0 picks a free port: see `server.server_address`)."""
    handler = type("LiveHandler", (_Handler,), {"live": live})
    server = ThreadingHTTPServer((host, port), handler)
    server.daemon_threads = True
    return server


def serve(path: str | Path, host: str = "127.0.0.1", port: int = 8000, loss_key: str | None = None,
          mute: Sequence[str] = ()) -> None:
    """Serve the dashboard of `path` until interrupted (Ctrl-C)."""
    from .report.extras import require_plotly

    require_plotly()
    server = make_server(LiveRun(path, loss_key, mute), host, port)
    shown_host = f"[{host}]" if ":" in host else host
    print(f"lossdoctor dashboard for {path}: http://{shown_host}:{server.server_address[1]}/  (Ctrl-C stops)",
          flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
