"""One self-contained HTML file: the plotting library, the page script, the style and the data, inlined.

The page makes no network request (a Content-Security-Policy forbids them, so it opens the same
offline), and it never turns log text into markup: the data travels as JSON with `<`, `>` and `&`
escaped, and the script writes every string with `textContent`.
"""

from __future__ import annotations

import html
import json
from functools import cache
from importlib import resources
from typing import Any

from ..extras import require_plotly


@cache
def plotly_js() -> str:
    """plotly.js as shipped inside the `plotly` Python package (no network, no CDN)."""
    require_plotly()
    from plotly.offline import get_plotlyjs

    return get_plotlyjs()


def _asset(name: str) -> str:
    return resources.files(__package__).joinpath("assets", name).read_text(encoding="utf-8")


def embed_json(data: Any) -> str:
    """JSON that is safe inside a <script> element: no `</script>`, no `<!--`, no line separators."""
    text = json.dumps(data, allow_nan=False, separators=(",", ":"))
    return (text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
            .replace("\u2028", "\\u2028").replace("\u2029", "\\u2029"))


def content_policy(live: bool) -> str:
    """No requests at all for a report file; the dashboard may only poll the server it came from."""
    connect = "'self'" if live else "'none'"
    return (f"default-src 'none'; script-src 'unsafe-inline' 'unsafe-eval'; style-src 'unsafe-inline'; "
            f"img-src data: blob:; font-src data:; connect-src {connect}")


def html_page(model: dict[str, Any], live: bool = False) -> str:
    """The whole page for a page model (see `model.py`)."""
    title = html.escape(f"lossdoctor · {model.get('title', '')}")
    return "\n".join([
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f'<meta http-equiv="Content-Security-Policy" content="{content_policy(live)}">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{title}</title>",
        f"<style>{_asset('style.css')}</style>",
        f"<script>{plotly_js()}</script>",
        "</head><body>",
        '<main id="app"><p class="loading">drawing the report…</p></main>',
        f'<script type="application/json" id="lossdoctor-data">{embed_json(model)}</script>',
        f"<script>{_asset('app.js')}</script>",
        "</body></html>",
    ])
