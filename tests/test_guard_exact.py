"""The guard's cheap restore (one batched lerp) is exact: any dtype, non-finite gradients, LR scale < 1."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")
import torch.nn.functional as F  # noqa: E402
from torch import nn  # noqa: E402

from lossdoctor import Guard  # noqa: E402
from lossdoctor.guard.stats import RunningMoments  # noqa: E402
from lossdoctor.scenarios.data import regression  # noqa: E402


@pytest.fixture(autouse=True)
def one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def steps(model, guard, x, y, n: int, *, start: int = 0) -> None:
    for i in range(start, start + n):
        lo = (i * 32) % (len(x) - 32)
        loss = F.mse_loss(model(x[lo:lo + 32]), y[lo:lo + 32])
        model.zero_grad(set_to_none=True)
        loss.backward()
        guard.step(loss)


def snapshot(model, opt):
    params = [p.detach().clone() for p in model.parameters()]
    state = {id(p): {k: v.clone() for k, v in opt.state[p].items()} for p in model.parameters()}
    return params, state


def assert_unchanged(model, opt, before) -> None:
    params, state = before
    for old, p in zip(params, model.parameters(), strict=True):
        assert torch.equal(old, p) and not torch.isnan(p).any()
    for p in model.parameters():
        for key, value in opt.state[p].items():
            assert torch.equal(value, state[id(p)][key]), key


@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float64])
@pytest.mark.parametrize("make_opt", [
    lambda ps: torch.optim.AdamW(ps, lr=3e-3, weight_decay=0.1),
    lambda ps: torch.optim.SGD(ps, lr=0.05, momentum=0.9, nesterov=True),
], ids=["adamw", "sgd_nesterov"])
def test_skipped_steps_are_exact_in_any_dtype_even_with_a_scaled_lr(dtype, make_opt) -> None:
    """NaN and inf gradients, a NaN loss and an outlier batch, while the LR scale is ½: nothing moves."""
    torch.manual_seed(0)
    x, y = regression(512, 8, 0)
    x, y = x.to(dtype), y.to(dtype)
    model = nn.Sequential(nn.Linear(8, 16), nn.Tanh(), nn.Linear(16, 1)).to(dtype)
    opt = make_opt(model.parameters())
    guard = Guard(opt)
    steps(model, guard, x, y, 40)
    guard.lr_scale = torch.tensor(0.5)
    moved_from = [p.detach().clone() for p in model.parameters()]
    steps(model, guard, x, y, 1, start=40)  # an accepted step at half the LR: the weights do move
    assert any(not torch.equal(a, p) for a, p in zip(moved_from, model.parameters(), strict=True))
    before = snapshot(model, opt)
    for poison in ("nan_grad", "inf_grad", "nan_loss", "outlier"):
        loss = F.mse_loss(model(x[:32]), y[:32] * (40.0 if poison == "outlier" else 1.0))
        model.zero_grad()
        loss.backward()
        if poison.endswith("grad"):
            model[0].weight.grad[0, 0] = float("nan") if poison == "nan_grad" else float("inf")
        guard.step(loss * float("nan") if poison == "nan_loss" else loss)
        assert_unchanged(model, opt, before)
    assert guard.history()["guard_skip"][-4:].tolist() == [1.0] * 4


def test_state_dict_round_trip_continues_the_same_decisions() -> None:
    torch.manual_seed(0)
    x, y = regression(512, 8, 0)
    model = nn.Sequential(nn.Linear(8, 16), nn.Tanh(), nn.Linear(16, 1))
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    guard = Guard(opt)
    steps(model, guard, x, y, 30)
    resumed = Guard(opt)
    resumed.load_state_dict(guard.state_dict())
    assert torch.equal(resumed.stats.table, guard.stats.table) and torch.equal(resumed.emas, guard.emas)
    assert resumed.step_count == guard.step_count == 30
    steps(model, resumed, x, y, 5, start=30)
    fresh = Guard(torch.optim.Adam(model.parameters(), lr=3e-3))
    assert not torch.equal(fresh.stats.table, resumed.stats.table)  # the loaded statistics were used
    assert resumed.stats.count.tolist() == [35.0, 35.0, 35.0]


def test_two_streams_in_one_table_match_two_separate_ones() -> None:
    """Folding the gradient norm and the log-loss side by side does not couple them."""
    gen = torch.Generator().manual_seed(0)
    values = torch.randn(60, 2, generator=gen).abs() + torch.tensor([1.0, 3.0])
    values[20, 0] = 40.0  # an outlier in one stream only
    accept = torch.rand(60, 2, generator=gen) > 0.2
    both = RunningMoments(0.97, torch.device("cpu"), streams=2)
    single = [RunningMoments(0.97, torch.device("cpu")) for _ in range(2)]
    for v, a in zip(values, accept, strict=True):
        both.update(v, a)
        for i, stream in enumerate(single):
            stream.update(v[i:i + 1], a[i:i + 1])
    for i, stream in enumerate(single):
        assert torch.allclose(both.table[:, i], stream.table[:, 0])
        assert both.count[i] == accept[:, i].sum()
