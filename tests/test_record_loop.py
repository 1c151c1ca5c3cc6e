"""The recorder on a plain PyTorch loop: every recorded value against the same quantity computed by hand."""

from __future__ import annotations

import math
import time
from typing import Any

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from _record_runs import mlp, regression_data  # noqa: E402

import lossdoctor  # noqa: E402
from lossdoctor.errors import LogReadError  # noqa: E402
from lossdoctor.record import read_store  # noqa: E402


def _series(run_dir) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    content = read_store(run_dir / "lossdoctor.db")
    return {k: (np.array(s), np.array(v)) for k, (s, v) in content.series.items()}


def test_each_step_records_loss_batch_lr_prenorm_update_and_mode(tmp_path) -> None:
    data = regression_data(100)
    loader = torch.utils.data.DataLoader(data, batch_size=32, shuffle=False)  # last batch holds 4
    model = mlp()
    opt = torch.optim.SGD([{"params": model[0].parameters(), "lr": 0.05},
                           {"params": model[2].parameters(), "lr": 0.01}], momentum=0.9)
    rec = lossdoctor.watch(model, opt, run_dir=tmp_path, loader=loader, flush_every=7, detail_every=3,
                           update_every=1)
    expected: dict[str, list[float]] = {"loss": [], "grad_norm": [], "update_ratio": [], "batch_size": []}
    modes = []
    for epoch in range(3):
        for i, (x, y) in enumerate(loader):
            if epoch == 1 and i == 2:
                model.eval()  # the eval-mode leak: never switched back until the next epoch
            if i == 0:
                model.train()
            loss = torch.nn.functional.mse_loss(model(x), y)
            opt.zero_grad()
            loss.backward()
            pre_clip = torch.nn.utils.clip_grad_norm_(model.parameters(), 0.5)
            before = torch.cat([p.detach().flatten().clone() for p in model.parameters()])
            opt.step()
            after = torch.cat([p.detach().flatten() for p in model.parameters()])
            rec.step(loss, batch_size=len(x), epoch=epoch)
            expected["loss"].append(loss.item())
            expected["grad_norm"].append(pre_clip.item())
            expected["update_ratio"].append(((after - before).norm() / after.norm()).item())
            expected["batch_size"].append(len(x))
            modes.append(float(model.training))
    rec.close()
    got = _series(tmp_path)
    steps = np.arange(12)
    for name, values in expected.items():
        assert np.array_equal(got[name][0], steps), name
        np.testing.assert_allclose(got[name][1], values, rtol=1e-4, err_msg=name)
    assert got["grad_norm"][1].max() > 0.5  # the recorded norm is the one before clipping to 0.5
    np.testing.assert_array_equal(got["train_mode"][1], modes)
    np.testing.assert_array_equal(got["epoch"][1], np.repeat([0, 1, 2], 4))
    np.testing.assert_array_equal(got["lr"][1], 0.05)
    np.testing.assert_array_equal(got["lr/group1"][1], 0.01)
    assert list(got["grad_norm/0.weight"][0]) == [0, 3, 6, 9]
    meta = read_store(tmp_path / "lossdoctor.db").meta
    assert meta["steps_per_epoch"] == 4 and meta["drop_last"] is False and meta["dataset_size"] == 100
    assert meta["optimizer"] == "SGD" and "finished" in meta


def test_per_layer_norms_and_adam_state_match_hand_computation(tmp_path) -> None:
    data = regression_data(64)
    model = mlp()
    opt = torch.optim.Adam(model.parameters(), lr=1e-3, eps=1e-6)
    rec = lossdoctor.watch(model, opt, run_dir=tmp_path, flush_every=50, detail_every=5, adam_every=5)
    x, y = data.tensors
    layer_norms, adam = {}, {}
    for step in range(11):
        loss = torch.nn.functional.mse_loss(model(x), y)
        opt.zero_grad()
        loss.backward()
        if step % 5 == 0:
            layer_norms[step] = {n: p.grad.norm().item() for n, p in model.named_parameters()}
        opt.step()
        if step % 5 == 0:
            roots = []
            for p in model.parameters():
                state = opt.state[p]
                roots.append((state["exp_avg_sq"] / (1 - 0.999 ** float(state["step"]))).sqrt().flatten())
            root = torch.cat(roots)
            adam[step] = [(root / 1e-6).mean().item(), (root < 1e-6).float().mean().item(),
                          (1e-3 / (root + 1e-6)).mean().item()]
        rec.step(loss, batch_size=len(x))
    rec.close()
    got = _series(tmp_path)
    for step, norms in layer_norms.items():
        for name, value in norms.items():
            s, v = got[f"grad_norm/{name}"]
            assert v[list(s).index(step)] == pytest.approx(value, rel=1e-4)
    for step, stats in adam.items():
        for name, value in zip(("adam_sqrt_v_over_eps", "adam_v_below_eps", "adam_effective_lr"), stats,
                               strict=True):
            s, v = got[name]
            assert v[list(s).index(step)] == pytest.approx(value, rel=1e-3, abs=1e-9), name


def test_a_model_in_double_precision_is_recorded_like_any_other(tmp_path) -> None:
    """`_foreach_norm(..., dtype=float32)` refuses float64 gradients: a double-precision model recorded no step
    at all (red-team 11a, a linear net fitted to 1e-13 under Adam, where float64 is the point)."""
    data = regression_data(64)
    model = mlp().double()
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    rec = lossdoctor.watch(model, opt, run_dir=tmp_path, flush_every=4, detail_every=2, update_every=1)
    x, y = (t.double() for t in data.tensors)
    norms, ratios, losses = [], [], []
    for _ in range(9):
        loss = torch.nn.functional.mse_loss(model(x), y)
        opt.zero_grad()
        loss.backward()
        norms.append(torch.nn.utils.get_total_norm([p.grad for p in model.parameters()]).item())
        before = torch.cat([p.detach().flatten().clone() for p in model.parameters()])
        opt.step()
        after = torch.cat([p.detach().flatten() for p in model.parameters()])
        ratios.append(((after - before).norm() / after.norm()).item())
        losses.append(loss.item())
        rec.step(loss, batch_size=len(x))
    rec.close()
    got = _series(tmp_path)
    np.testing.assert_allclose(got["loss"][1], losses, rtol=1e-6)
    np.testing.assert_allclose(got["grad_norm"][1], norms, rtol=1e-5)
    np.testing.assert_allclose(got["update_ratio"][1], ratios, rtol=1e-4)
    assert list(got["grad_norm/0.weight"][0]) == [0, 2, 4, 6, 8]
    assert len(got["adam_effective_lr"][1]) >= 1


def test_no_host_sync_between_flushes(tmp_path, monkeypatch) -> None:
    """Between flushes `rec.step` never reads a tensor's value on the host (.item, float, .cpu, .tolist)."""
    model = mlp()
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    rec = lossdoctor.watch(model, opt, run_dir=tmp_path, flush_every=1000, detail_every=2)
    x, y = regression_data(32).tensors
    reads: list[str] = []
    originals = {name: getattr(torch.Tensor, name) for name in ("item", "__float__", "cpu", "tolist", "numpy")}

    def spy(name):
        def wrapped(self, *args, **kwargs):
            reads.append(name)
            return originals[name](self, *args, **kwargs)
        return wrapped

    losses = []
    for _ in range(20):
        loss = torch.nn.functional.mse_loss(model(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        for name in originals:
            monkeypatch.setattr(torch.Tensor, name, spy(name))
        rec.step(loss, batch_size=32)
        monkeypatch.undo()
        losses.append(loss.item())
    assert reads == []
    rec.close()
    np.testing.assert_allclose(_series(tmp_path)["loss"][1], losses, rtol=1e-6)


def test_store_is_readable_while_the_recorder_writes(tmp_path) -> None:
    model = mlp()
    opt = torch.optim.SGD(model.parameters(), lr=0.01)
    rec = lossdoctor.watch(model, opt, run_dir=tmp_path, flush_every=10)
    x, y = regression_data(32).tensors
    seen = []
    for step in range(45):
        loss = torch.nn.functional.mse_loss(model(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        rec.step(loss, batch_size=32)
        if step % 10 == 9:  # the flush is written on the recorder's thread: it lands within moments
            seen.append(_eventually(lambda: lossdoctor.read(tmp_path).num_steps, step + 1))
    assert seen == [10, 20, 30, 40]
    run = lossdoctor.read(tmp_path)
    assert any("has not finished" in note for note in run.facts.notes)
    rec.close()
    run = lossdoctor.read(tmp_path)
    assert run.num_steps == 45 and run.format == "lossdoctor_store"
    assert not any("has not finished" in note for note in run.facts.notes)


def _eventually(read: Any, expected: Any, seconds: float = 10.0) -> Any:
    """What `read()` gives once it equals `expected`, or its last value after `seconds`."""
    deadline = time.monotonic() + seconds
    while True:
        try:
            got = read()
        except LogReadError:
            got = None
        if got == expected or time.monotonic() > deadline:
            return got
        time.sleep(0.01)


def test_gradient_accumulation_counts_micro_batches_and_records_the_accumulated_prenorm(tmp_path) -> None:
    model = mlp()
    opt = torch.optim.SGD(model.parameters(), lr=0.01)
    rec = lossdoctor.watch(model, opt, run_dir=tmp_path, flush_every=5)
    data = regression_data(96)
    x, y = data.tensors
    norms = []
    for step in range(4):
        opt.zero_grad()
        for k in range(3):
            part = slice(24 * step + 8 * k, 24 * step + 8 * k + 8)
            (torch.nn.functional.mse_loss(model(x[part]), y[part]) / 3).backward()
        norms.append(torch.nn.utils.clip_grad_norm_(model.parameters(), 1e-3).item())
        opt.step()
        rec.step(None, batch_size=24)
    rec.close()
    got = _series(tmp_path)
    np.testing.assert_allclose(got["grad_norm"][1], norms, rtol=1e-5)
    np.testing.assert_array_equal(got["micro_batches"][1], 3)
    assert "loss" not in got  # no loss given: nothing is invented
    assert math.isfinite(got["gradient_noise_scale"][1][-1])


def test_backward_that_misses_the_hooked_parameters_falls_back_then_hooks_all(tmp_path) -> None:
    """Only the first parameter carries the end-of-backward hook; a backward that passes it by is caught."""
    torch.manual_seed(0)
    layers = torch.nn.ModuleList(torch.nn.Linear(4, 4) for _ in range(6))  # 12 parameters, the first hooked
    opt = torch.optim.SGD(layers.parameters(), lr=0.01)
    rec = lossdoctor.watch(layers, opt, run_dir=tmp_path, flush_every=10)
    x = torch.randn(8, 4)
    pre_clip = []
    for _ in range(3):
        opt.zero_grad()
        layers[1](x).pow(2).mean().backward()  # layer 1 only: parameters 2 and 3, which carry no hook
        pre_clip.append(torch.nn.utils.clip_grad_norm_(layers.parameters(), 1e-3).item())
        opt.step()
        rec.step(None, batch_size=8)
    rec.close()
    content = read_store(tmp_path / "lossdoctor.db")
    grad = content.series["grad_norm"][1]
    assert grad[0] == pytest.approx(1e-3, rel=1e-3)  # the first step could only be measured after clipping
    np.testing.assert_allclose(grad[1:], pre_clip[1:], rtol=1e-5)  # then every parameter has a hook
    assert "after clipping at some steps" in content.meta["grad_norm"]


def test_update_ratio_without_any_backward_pass_is_measured_from_a_snapshot_one_step_ahead(tmp_path) -> None:
    """Gradients set by hand fire no hook: the weights are copied at `rec.step` for the next measured step."""
    model = mlp()
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    rec = lossdoctor.watch(model, opt, run_dir=tmp_path, flush_every=4, update_every=2)
    expected = {}
    for step in range(7):
        before = torch.cat([p.detach().flatten().clone() for p in model.parameters()])
        for p in model.parameters():
            p.grad = torch.full_like(p, 0.01 * (step + 1))
        opt.step()
        after = torch.cat([p.detach().flatten() for p in model.parameters()])
        expected[step] = ((after - before).norm() / after.norm()).item()
        rec.step(float(step), batch_size=4)
    rec.close()
    steps, ratios = _series(tmp_path)["update_ratio"]
    assert list(steps) == [2, 4, 6]  # step 0 had no snapshot: no backward pass announced it
    np.testing.assert_allclose(ratios, [expected[s] for s in steps], rtol=1e-4)


def _short_run(run_dir, steps: int, **options) -> None:
    model = mlp()
    opt = torch.optim.SGD(model.parameters(), lr=0.01)
    rec = lossdoctor.watch(model, opt, run_dir=run_dir, flush_every=5, **options)
    x, y = regression_data(32).tensors
    for step in range(steps):
        loss = torch.nn.functional.mse_loss(model(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        rec.step(loss, batch_size=32, step=step + options.get("resume", 0) * 100)
    rec.close()


def test_a_new_run_in_the_same_directory_sets_the_old_store_aside(tmp_path, capsys) -> None:
    _short_run(tmp_path, 12)
    _short_run(tmp_path, 7)
    assert "moved it to lossdoctor.prev-1.db" in capsys.readouterr().err
    assert _series(tmp_path)["loss"][0].tolist() == list(range(7))
    assert read_store(tmp_path / "lossdoctor.prev-1.db").series["loss"][0].tolist() == list(range(12))
    assert lossdoctor.read(tmp_path).num_steps == 7  # the folder reader never mixes in the old run
    _short_run(tmp_path, 3, resume=True)  # a resumed run appends (its steps continue at 100)
    assert _series(tmp_path)["loss"][0].tolist() == [*range(7), 100, 101, 102]


def test_norms_under_a_grad_scaler_are_unscaled_globally_and_per_layer(tmp_path) -> None:
    """Mixed precision scales the gradients by the loss scale; the recorded norms are the true ones."""
    torch.manual_seed(0)
    model = mlp()
    opt = torch.optim.SGD(model.parameters(), lr=0.01)
    scaler = torch.amp.GradScaler("cpu", init_scale=1024.0)
    rec = lossdoctor.watch(model, opt, run_dir=tmp_path, flush_every=4, detail_every=1, scaler=scaler)
    x, y = regression_data(32).tensors
    norms, first_layer = [], []
    for _ in range(6):
        opt.zero_grad()
        scaler.scale(torch.nn.functional.mse_loss(model(x), y)).backward()
        scale = scaler.get_scale()
        norms.append(torch.cat([p.grad.flatten() for p in model.parameters()]).norm().item() / scale)
        first_layer.append(model[0].weight.grad.norm().item() / scale)
        scaler.step(opt)
        scaler.update()
        rec.step(None, batch_size=32)
    rec.close()
    got = _series(tmp_path)
    np.testing.assert_allclose(got["grad_norm"][1], norms, rtol=1e-5)
    np.testing.assert_allclose(got["grad_norm/0.weight"][1], first_layer, rtol=1e-5)
    assert max(norms) < 100  # the scale (1024) is out of the recorded values


@pytest.mark.parametrize("background", [True, False])
def test_values_measured_every_few_steps_never_leak_into_other_steps_across_flushes(tmp_path, background) -> None:
    """Each step writes only the cells it has values for; the others stay empty, flush after flush (on the
    recorder's thread or on the training thread)."""
    model = mlp()
    opt = torch.optim.SGD(model.parameters(), lr=0.01)
    rec = lossdoctor.watch(model, opt, run_dir=tmp_path, flush_every=4, update_every=3, background=background)
    x, y = regression_data(32).tensors
    for step in range(11):
        loss = torch.nn.functional.mse_loss(model(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        rec.step(loss if step % 2 == 0 else None, batch_size=32)
    rec.close()
    got = _series(tmp_path)
    assert list(got["update_ratio"][0]) == [0, 3, 6, 9]
    assert list(got["weight_norm"][0]) == [0, 3, 6, 9]
    assert list(got["loss"][0]) == [0, 2, 4, 6, 8, 10]
    assert list(got["grad_norm"][0]) == list(range(11))


def test_losses_of_every_kind_in_one_flush_are_recorded_as_their_mean(tmp_path) -> None:
    """Per-sample loss vectors, bf16 scalars, Python floats, a missing loss and a tensor LR, mixed in one block."""
    model = mlp()
    opt = torch.optim.SGD(model.parameters(), lr=torch.tensor(0.01))  # a tensor LR, read at each step
    rec = lossdoctor.watch(model, opt, run_dir=tmp_path, flush_every=1000)
    x, y = regression_data(32).tensors
    expected, lrs = [], []
    for step in range(12):
        per_sample = torch.nn.functional.mse_loss(model(x), y, reduction="none").mean(1)
        opt.zero_grad()
        per_sample.mean().backward()
        opt.step()
        kind = step % 4
        loss = {0: per_sample, 1: per_sample.mean().to(torch.bfloat16), 2: per_sample.mean().item(), 3: None}[kind]
        expected.append(math.nan if loss is None else float(torch.as_tensor(loss).detach().float().mean()))
        lrs.append(float(opt.param_groups[0]["lr"]))
        rec.step(loss, batch_size=32)
        opt.param_groups[0]["lr"].mul_(0.5)  # a scheduler that changes the tensor in place
    rec.close()
    series = _series(tmp_path)
    steps, values = series["loss"]
    want = {s: v for s, v in enumerate(expected) if not math.isnan(v)}
    assert list(steps) == list(want)
    np.testing.assert_allclose(values, list(want.values()), rtol=1e-6)
    np.testing.assert_allclose(series["lr"][1], lrs, rtol=1e-6)
