"""The HTML and PNG reports without a browser: the CLI writes them, the page is self-contained and
escaped, a 1,000,000-step run stays under 10 MB with every spike kept, and bad requests fail in one line."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from lossdoctor.diagnose import diagnose
from lossdoctor.readers import read
from lossdoctor.report.html import render_html
from lossdoctor.report.html.downsample import keep_steps, minmax_indices
from lossdoctor.report.html.page import embed_json
from lossdoctor.run import Run, Series

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples"


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "lossdoctor", *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=120)


def page_data(html: str) -> dict:
    found = re.search(r'<script type="application/json" id="lossdoctor-data">(.*?)</script>', html, flags=re.S)
    assert found
    return json.loads(found.group(1))


def test_cli_writes_a_self_contained_report(tmp_path: Path) -> None:
    out = tmp_path / "report.html"
    done = cli("diagnose", str(EXAMPLES / "partial_last_batch_hf"), "--format", "html", "--out", str(out))
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == f"wrote {out}"
    html = out.read_text()
    # no external resource of any kind: every script is inline, and the policy forbids requests
    assert not re.search(r"<script[^>]+src=", html) and not re.search(r"<link[^>]+href=", html)
    assert "connect-src 'none'" in html and "default-src 'none'" in html
    data = page_data(html)
    assert data["kind"] == "single" and data["run"]["verdict"] == "problem"
    cards = data["run"]["cards"]
    assert cards[0]["id"] == "partial_last_batch" and cards[0]["focus"]["layout"]["xaxis"]["title"]["text"] == \
        "step within the epoch"
    # the cards carry the JSON contract's findings unchanged
    contract = json.loads(cli("diagnose", str(EXAMPLES / "partial_last_batch_hf"), "--format", "json").stdout)
    for card, finding in zip(cards, contract["findings"], strict=True):
        assert {k: card[k] for k in finding} == finding


def test_main_plot_has_the_series_the_log_has(tmp_path: Path) -> None:
    run = read(str(EXAMPLES / "lr_sweep_gru" / "lr5e-2.jsonl"))
    data = page_data(render_html(run, diagnose(run)))
    names = [t["name"] for t in data["run"]["main"]["data"]]
    for expected in ("loss", "validation loss", "lr", "grad_norm", "batch_size"):
        assert expected in names
    assert any(n.startswith("trend (rolling median of ") for n in names)
    assert any(n.startswith("epoch starts") for n in names)
    assert any(n.startswith("#1 ") for n in names)


def test_png_export_of_one_run_and_of_a_sweep(tmp_path: Path) -> None:
    pytest.importorskip("matplotlib")
    import matplotlib.image

    one, many = tmp_path / "loss.png", tmp_path / "sweep.png"
    tensorboard = str(EXAMPLES / "gru_high_lr_tensorboard")
    assert cli("diagnose", tensorboard, "--format", "png", "--out", str(one)).returncode == 0
    sweep = [str(p) for p in sorted((EXAMPLES / "lr_sweep_gru").glob("*.jsonl"))]
    assert cli("diagnose", *sweep, "--format", "png", "--out", str(many)).returncode == 0
    for path in (one, many):
        assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        image = matplotlib.image.imread(path)
        assert image.shape[1] == 1200 and image.shape[0] >= 400
        assert image[..., :3].std() > 0.05  # something is drawn, not a blank canvas


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--format", "html"], "--format html writes a file: give --out"),
        (["--format", "json", "--out", "x.json"], "--out is for --format html or png"),
        (["--format", "png", "--out", "."], "is a directory"),
        (["--format", "html", "--out", "/proc/no/such/dir/report.html"], "cannot write"),
    ],
)
def test_bad_report_requests_fail_in_one_line(args: list[str], message: str) -> None:
    done = cli("diagnose", str(EXAMPLES / "healthy_cnn_jsonl" / "metrics.jsonl"), *args)
    assert done.returncode == 2
    assert message in done.stderr and len(done.stderr.strip().splitlines()) == 1


def test_embedded_json_cannot_close_the_script_element() -> None:
    text = embed_json({"tag": "</script><script>alert(1)</script>", "comment": "<!--", "amp": "&lt;"})
    assert "<" not in text and ">" not in text and "&" not in text
    assert json.loads(text) == {"tag": "</script><script>alert(1)</script>", "comment": "<!--", "amp": "&lt;"}


def test_minmax_downsampling_keeps_every_spike_and_named_step() -> None:
    rng = np.random.default_rng(1)
    values = rng.normal(0, 1, 200_000)
    spikes = rng.choice(len(values), 25, replace=False)
    values[spikes] += 100 * np.sign(rng.normal(size=25))
    values[[17, 90_001]] = np.nan
    idx = minmax_indices(values, buckets=500)
    assert len(idx) <= 2 * 500 + 2
    assert set(spikes) <= set(idx.tolist()) and {17, 90_001} <= set(idx.tolist())
    steps = np.arange(len(values)) * 10
    named = [55_550, 1_000_000_000, 3]  # one present, one beyond the run, one between logged steps
    kept = keep_steps(steps, idx, named)
    assert 5_555 in kept and len(kept) == len(idx) + (0 if 5_555 in idx else 1)


def million_step_run() -> tuple[Run, np.ndarray]:
    """A 1,000,000-step run: falling trend, noise, a short-last-batch spike every epoch, and seven
    isolated huge spikes that no finding names."""
    n, per = 1_000_000, 1390
    rng = np.random.default_rng(0)
    step = np.arange(n)
    loss = (2.0 * np.exp(-step / (n / 5)) + 0.2) * np.exp(rng.normal(0, 0.08, n))
    loss[step % per == per - 1] *= 3.0
    lone = np.sort(rng.choice(n, 7, replace=False))
    loss[lone] *= 50
    series = {"loss": Series(step, loss), "lr": Series(step, np.full(n, 3e-4)), "epoch": Series(step, step // per)}
    return Run(series, path="million.jsonl", format="jsonl"), lone


def test_a_million_step_report_is_under_10_mb_and_keeps_every_spike() -> None:
    run, lone = million_step_run()
    result = diagnose(run)
    html = render_html(run, result)
    assert len(html.encode()) < 10_000_000
    main = page_data(html)["run"]["main"]["data"]
    loss = next(t for t in main if t["name"] == "loss")
    assert len(loss["x"]) < 10_000
    assert set(lone.tolist()) <= set(loss["x"])
    for finding in result.findings:
        assert set(finding.steps) <= set(loss["x"])  # each marked step sits on the drawn curve


@pytest.mark.parametrize(("blocked", "fmt", "extra"), [("plotly", "html", "lossdoctor[html]"),
                                                       ("matplotlib", "png", "lossdoctor[png]")])
def test_a_missing_extra_is_named_in_one_line(tmp_path: Path, blocked: str, fmt: str, extra: str) -> None:
    """As if the optional package were not installed: Python refuses the import of a None module entry."""
    code = (f"import sys; sys.modules[{blocked!r}] = None; sys.argv = ['lossdoctor'] + sys.argv[1:]; "
            "from lossdoctor.cli import main; main()")
    out = tmp_path / f"report.{fmt}"
    log = str(EXAMPLES / "healthy_cnn_jsonl" / "metrics.jsonl")
    done = subprocess.run([sys.executable, "-c", code, "diagnose", log, "--format", fmt, "--out", str(out)],
                          cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 2
    assert extra in done.stderr and len(done.stderr.strip().splitlines()) == 1
    assert not out.exists() and not list(tmp_path.iterdir())  # no half-written file left behind
