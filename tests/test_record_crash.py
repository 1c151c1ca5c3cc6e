"""Crash safety and faults: a kill -9 loses at most the last flush interval; a failing store never stops training."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from _record_runs import mlp, regression_data  # noqa: E402

import lossdoctor  # noqa: E402
from lossdoctor.record import read_store  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
TESTS = Path(__file__).resolve().parent

#: A real training script: prints each step's loss before recording it, then keeps training.
TRAIN = textwrap.dedent("""
    import sys, time
    import torch
    import lossdoctor
    from _record_runs import mlp, regression_data

    run_dir, flush_every, steps, sleep = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4])
    torch.set_num_threads(1)
    data = regression_data(256)
    loader = torch.utils.data.DataLoader(data, batch_size=16, shuffle=True)
    model = mlp()
    opt = torch.optim.SGD(model.parameters(), lr=0.02)
    rec = lossdoctor.watch(model, opt, run_dir=run_dir, loader=loader, flush_every=flush_every, flush_secs=1e9)
    step = 0
    while step < steps:
        for x, y in loader:
            loss = torch.nn.functional.mse_loss(model(x), y)
            opt.zero_grad(); loss.backward(); opt.step()
            print(step, repr(loss.item()), flush=True)
            rec.step(loss, batch_size=len(x))
            step += 1
            time.sleep(sleep)
            if step >= steps:
                break
    rec.close()
    print("done", flush=True)
""")


def _start(tmp_path: Path, *args: str) -> subprocess.Popen[str]:
    script = tmp_path / "train.py"
    script.write_text(TRAIN)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(TESTS), str(ROOT / "src")])}
    return subprocess.Popen([sys.executable, str(script), *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=env, cwd=tmp_path)


def _stored_steps(db: Path) -> int:
    try:
        content = read_store(db)
    except sqlite3.Error:
        return 0
    return len(content.series.get("loss", ([], []))[0])


def test_kill_9_mid_run_keeps_everything_up_to_the_last_flush(tmp_path) -> None:
    run_dir = tmp_path / "runs" / "x"
    db = run_dir / "lossdoctor.db"
    proc = _start(tmp_path, str(run_dir), "10", "100000", "0.002")
    try:
        deadline = time.monotonic() + 60
        seen_live = 0
        while seen_live < 60 and time.monotonic() < deadline:  # read while the trainer writes
            time.sleep(0.05)
            seen_live = _stored_steps(db) if db.exists() else 0
        assert seen_live >= 60, "the store never showed 60 steps while the run was live"
        live_run = lossdoctor.read(run_dir)  # the reader works against a live writer too
        assert live_run.num_steps >= 60
        proc.send_signal(signal.SIGKILL)
        out, _ = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    lines = out.splitlines()
    if out and not out.endswith("\n"):
        lines = lines[:-1]  # the kill can cut the last print short
    printed = {int(step): float(value) for step, value in (line.split() for line in lines if line)}
    content = read_store(db)
    steps, values = (np.array(a) for a in content.series["loss"])
    assert len(steps) >= seen_live and len(steps) % 10 == 0  # whole flushes only
    np.testing.assert_array_equal(steps, np.arange(len(steps)))
    np.testing.assert_allclose(values, [printed[s] for s in steps], rtol=1e-6)
    assert len(printed) - len(steps) <= 10  # lost at most one flush interval
    assert "finished" not in content.meta
    cli = subprocess.run([sys.executable, "-m", "lossdoctor", "diagnose", str(run_dir)], capture_output=True,
                         text=True, cwd=ROOT, timeout=120)
    assert cli.returncode == 0, cli.stderr
    assert "lossdoctor_store" in cli.stdout and "has not finished" in cli.stdout


def test_full_disk_is_reported_once_and_training_finishes(tmp_path) -> None:
    """A file-size limit makes every write fail with EFBIG, as a full disk does."""
    run_dir = tmp_path / "full"
    script = tmp_path / "limit.py"
    script.write_text("import resource, runpy, signal, sys\n"
                      "signal.signal(signal.SIGXFSZ, signal.SIG_IGN)\n"
                      "resource.setrlimit(resource.RLIMIT_FSIZE, (20_000, 20_000))\n"
                      "sys.argv = sys.argv[1:]\n"
                      "runpy.run_path(sys.argv[0], run_name='__main__')\n")
    (tmp_path / "train.py").write_text(TRAIN)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(TESTS), str(ROOT / "src")])}
    done = subprocess.run([sys.executable, str(script), str(tmp_path / "train.py"), str(run_dir), "10", "300", "0"],
                          capture_output=True, text=True, env=env, cwd=tmp_path, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.rstrip().endswith("done")
    assert len([s for s in done.stdout.splitlines() if s != "done"]) == 300
    assert done.stderr.count("could not write") == 1, done.stderr
    assert "Traceback" not in done.stderr


def test_locked_database_loses_nothing_once_the_lock_is_gone(tmp_path, capsys) -> None:
    model = mlp()
    opt = torch.optim.SGD(model.parameters(), lr=0.01)
    rec = lossdoctor.watch(model, opt, run_dir=tmp_path, flush_every=5)
    x, y = regression_data(32).tensors

    def train(n: int) -> None:
        for _ in range(n):
            loss = torch.nn.functional.mse_loss(model(x), y)
            opt.zero_grad()
            loss.backward()
            opt.step()
            rec.step(loss, batch_size=32)

    train(5)
    rec.flush()  # the recorder writes on its own thread: wait until the store exists
    blocker = sqlite3.connect(tmp_path / "lossdoctor.db", isolation_level=None)
    blocker.execute("BEGIN EXCLUSIVE")  # another process holds the write lock
    train(15)
    rec.flush()  # every write so far has met the lock
    blocker.execute("ROLLBACK")
    blocker.close()
    train(5)
    rec.close()
    err = capsys.readouterr().err
    assert err.count("could not write") == 1 and "writable again" in err
    steps = read_store(tmp_path / "lossdoctor.db").series["loss"][0]
    assert steps.tolist() == list(range(25))


def test_unusable_run_dir_never_raises_into_training(tmp_path, capsys) -> None:
    not_a_dir = tmp_path / "file"
    not_a_dir.write_text("x")
    model = mlp()
    opt = torch.optim.SGD(model.parameters(), lr=0.01)
    rec = lossdoctor.watch(model, opt, run_dir=not_a_dir / "run", flush_every=3)
    x, y = regression_data(32).tensors
    for _ in range(10):
        loss = torch.nn.functional.mse_loss(model(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        rec.step(loss, batch_size=32)
    rec.close()
    err = capsys.readouterr().err
    assert err.count("lossdoctor:") == 1 and "training is not affected" in err
