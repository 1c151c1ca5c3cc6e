"""Live warnings on real training runs: each fires once, at the right step, and a healthy run stays silent."""

from __future__ import annotations

import re

import pytest

torch = pytest.importorskip("torch")

from _record_runs import regression_data  # noqa: E402

import lossdoctor  # noqa: E402
from lossdoctor.record import read_store  # noqa: E402


def _model() -> torch.nn.Module:
    torch.manual_seed(0)
    return torch.nn.Sequential(torch.nn.Linear(10, 32), torch.nn.ReLU(), torch.nn.Dropout(0.2),
                               torch.nn.Linear(32, 1))


def _train(run_dir, *, epochs=6, batch_size=32, drop_last=True, lr=0.01, loss_fn=None, before_step=None,
           n=520) -> list[tuple[int, str]]:
    """Train a small regression with `rec` and return the live warnings as (step, kind)."""
    loader = torch.utils.data.DataLoader(regression_data(n), batch_size=batch_size, shuffle=True,
                                         drop_last=drop_last, generator=torch.Generator().manual_seed(0))
    model = _model()
    opt = torch.optim.SGD(model.parameters(), lr=lr, momentum=0.9)
    rec = lossdoctor.watch(model, opt, run_dir=run_dir, loader=loader, flush_every=10)
    step = 0
    for epoch in range(epochs):
        model.train()
        for x, y in loader:
            if before_step is not None:
                x, y = before_step(step, model, opt, x, y)
            out = model(x)
            loss = loss_fn(out, y) if loss_fn else torch.nn.functional.mse_loss(out, y)
            opt.zero_grad()
            loss.backward()
            opt.step()
            rec.step(loss, batch_size=len(x), epoch=epoch)
            step += 1
    rec.close()
    return [(step, kind) for step, kind, _ in read_store(run_dir / "lossdoctor.db").events]


def _printed(capsys) -> list[str]:
    return [line for line in capsys.readouterr().err.splitlines() if line.startswith("lossdoctor: warning")]


def test_healthy_run_raises_no_warning(tmp_path, capsys) -> None:
    assert _train(tmp_path) == []
    assert _printed(capsys) == []


def test_nan_warns_once_at_its_step(tmp_path, capsys) -> None:
    def poison(step, model, opt, x, y):
        return (x * float("nan"), y) if step == 57 else (x, y)

    events = _train(tmp_path, before_step=poison)
    assert events[0] == (57, "numerical_instability")
    lines = _printed(capsys)
    assert sum("numerical_instability" in line for line in lines) == 1  # NaN stays NaN: still one warning
    assert "step 57" in lines[0]


def test_outlier_batch_spike_warns_once(tmp_path, capsys) -> None:
    def outlier(step, model, opt, x, y):
        return (x, y * 30) if step in (70, 71, 95) else (x, y)

    events = _train(tmp_path, before_step=outlier)
    assert (70, "loss_spike") in events
    assert sum("loss_spike" in line for line in _printed(capsys)) == 1


def test_eval_mode_leak_warns_at_the_first_step_in_eval_mode(tmp_path, capsys) -> None:
    def evaluate_mid_epoch(step, model, opt, x, y):
        if step == 40:
            model.eval()  # an evaluation that forgets model.train() afterwards
        return x, y

    events = _train(tmp_path, before_step=evaluate_mid_epoch)
    assert events == [(40, "eval_mode_leak")]
    assert "model.train()" in _printed(capsys)[0]


def test_partial_last_batch_with_double_normalisation_warns(tmp_path, capsys) -> None:
    def divided_twice(out, y):  # the seed-003 bug: the mean loss divided by the batch size again
        return torch.nn.functional.mse_loss(out, y) / len(y) * 32

    events = _train(tmp_path, drop_last=False, loss_fn=divided_twice, n=520)  # 16 batches of 32 + one of 8
    kinds = [kind for _, kind in events]
    assert "partial_last_batch" in kinds
    step = dict((k, s) for s, k in events)["partial_last_batch"]
    assert step % 17 == 16  # the last step of an epoch
    line = next(x for x in _printed(capsys) if "partial_last_batch" in x)
    assert re.search(r"holds 8 samples instead of 32", line)


def test_learning_rate_raised_too_high_warns(tmp_path, capsys) -> None:
    def raise_lr(step, model, opt, x, y):
        if step == 60:
            for group in opt.param_groups:
                group["lr"] = 0.06  # the loss level climbs about five-fold, slowly
        return x, y

    events = _train(tmp_path, before_step=raise_lr, epochs=8)
    assert "lr_too_high" in [kind for _, kind in events]
    assert min(s for s, k in events if k == "lr_too_high") > 60
    run = lossdoctor.read(tmp_path)
    assert any("live warning" in note and "lr_too_high" in note for note in run.facts.notes)


def test_a_climb_from_near_zero_under_adam_warns_of_adam_not_of_the_learning_rate(tmp_path, capsys) -> None:
    """A linear net fitting exact targets under Adam reaches 1e-12, then climbs ×1e4: the live warning said
    lr_too_high, citing an update/weight ratio of 2.5e-7 as if it were large (red-team 11a r09)."""
    torch.manual_seed(9)
    x = torch.randn(64, 32)
    y = x @ torch.randn(32, 1)
    model = torch.nn.Sequential(torch.nn.Linear(32, 64), torch.nn.Linear(64, 1))
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    rec = lossdoctor.watch(model, opt, run_dir=tmp_path)
    for _ in range(1400):
        loss = torch.nn.functional.mse_loss(model(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        rec.step(loss)
    rec.close()
    kinds = [kind for _, kind, _ in read_store(tmp_path / "lossdoctor.db").events]
    assert "adam_near_convergence" in kinds and "lr_too_high" not in kinds, kinds
    line = next(x for x in _printed(capsys) if "adam_near_convergence" in x)
    assert "raise eps" in line and "update/weight" not in line
