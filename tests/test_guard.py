"""Guard on real small training runs: clipping, exact skips, LR back-off, no host sync, the JSONL log."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")
import torch.nn.functional as F  # noqa: E402
from torch import nn  # noqa: E402

from lossdoctor import Guard  # noqa: E402
from lossdoctor.guard import GUARD_LOG  # noqa: E402
from lossdoctor.scenarios.data import regression  # noqa: E402


@pytest.fixture(autouse=True)
def one_thread():
    """Tiny models run faster on one thread, and the machine is shared."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


GUARD_DIR = str(Path(__file__).resolve().parents[1] / "src" / "lossdoctor" / "guard")


def make(seed: int = 0, width: int = 32):
    torch.manual_seed(seed)
    x, y = regression(1024, 8, seed)
    return nn.Sequential(nn.Linear(8, width), nn.Tanh(), nn.Linear(width, 1)), x, y


def train(model, x, y, step, *, steps: int = 120, batch: int = 32, corrupt: dict[int, float] | None = None):
    """Mini-batch MSE; `corrupt[i] = k` multiplies the targets of step i's batch by k (a bad batch)."""
    losses = []
    for i in range(steps):
        lo = (i * batch) % (len(x) - batch)
        yb = y[lo:lo + batch] * (corrupt or {}).get(i, 1.0)
        loss = F.mse_loss(model(x[lo:lo + batch]), yb)
        model.zero_grad(set_to_none=True)
        loss.backward()
        step(loss)
        losses.append(loss.detach())
    return torch.stack(losses)


def test_healthy_run_is_left_alone() -> None:
    """No skip and no back-off on a healthy run; where nothing is clipped, the weights are bit-identical."""
    plain, x, y = make()
    opt = torch.optim.Adam(plain.parameters(), lr=3e-3)
    plain_losses = train(plain, x, y, lambda loss: opt.step())
    unclipped, _, _ = make()
    guard = Guard(torch.optim.Adam(unclipped.parameters(), lr=3e-3), clip=False)
    train(unclipped, x, y, guard.step)
    assert guard.summary() == {"steps": 120.0, "clipped": 0.0, "skipped": 0.0, "undone": 0.0, "explosions": 0.0,
                               "lr_scale": 1.0}
    assert all(torch.equal(a, b) for a, b in zip(plain.parameters(), unclipped.parameters(), strict=True))
    guarded, _, _ = make()
    full = Guard(torch.optim.Adam(guarded.parameters(), lr=3e-3))
    losses = train(guarded, x, y, full.step)
    summary = full.summary()
    assert summary["skipped"] == 0 and summary["lr_scale"] == 1 and summary["clipped"] <= 2
    assert summary["explosions"] == 0
    assert abs(float(losses[-20:].mean() / plain_losses[-20:].mean()) - 1) < 0.01


def test_skipped_step_leaves_adam_moments_and_weights_exactly_unchanged() -> None:
    """An outlier batch after ordinary updates undoes the last of them too (it cannot tell a bad batch
    from damage that update did); a NaN gradient next is skipped alone. Both restore bit for bit."""
    model, x, y = make()
    opt = torch.optim.AdamW(model.parameters(), lr=3e-3, weight_decay=0.1)
    guard = Guard(opt)
    train(model, x, y, guard.step, steps=59)
    before_params = [p.detach().clone() for p in model.parameters()]
    before_state = {id(p): {k: v.clone() for k, v in opt.state[p].items()} for p in model.parameters()}
    train(model, x, y, guard.step, steps=1)  # an ordinary update, undone below with the outlier
    assert not all(torch.equal(a, p) for a, p in zip(before_params, model.parameters(), strict=True))
    # a bad batch: targets ×40 -> the loss is a clear outlier; then a NaN gradient
    for poison in ("outlier", "nan"):
        yb = y[:32] * (40.0 if poison == "outlier" else 1.0)
        loss = F.mse_loss(model(x[:32]), yb)
        model.zero_grad()
        loss.backward()
        if poison == "nan":
            next(model.parameters()).grad[0, 0] = float("nan")
        guard.step(loss)
    assert guard.history()["guard_skip"][-3:].tolist() == [0.0, 2.0, 1.0]
    assert all(torch.equal(a, p) for a, p in zip(before_params, model.parameters(), strict=True))
    for p in model.parameters():
        for key, value in opt.state[p].items():
            assert torch.equal(value, before_state[id(p)][key]), key  # exp_avg, exp_avg_sq, step


def test_skip_on_the_first_step_restores_fresh_state() -> None:
    model, x, y = make()
    opt = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    guard = Guard(opt)
    before = [p.detach().clone() for p in model.parameters()]
    loss = F.mse_loss(model(x[:32]), y[:32])
    loss.backward()
    guard.step(loss * float("inf"))
    assert all(torch.equal(a, p) for a, p in zip(before, model.parameters(), strict=True))
    assert all(torch.count_nonzero(opt.state[p]["momentum_buffer"]) == 0 for p in model.parameters())


def test_gradient_spike_is_clipped_to_the_running_threshold() -> None:
    model, x, y = make()
    guard = Guard(torch.optim.SGD(model.parameters(), lr=0.05), skip=False, backoff=False)
    train(model, x, y, guard.step, steps=80, corrupt={70: 6.0})
    h = guard.history()
    assert h["guard_clip"][:70].tolist() == [1.0] * 70
    assert h["guard_clip"][70] < 0.5  # the spike's gradient, scaled down
    assert h["guard_skip"].sum() == 0


def test_a_clip_limit_carried_below_zero_never_flips_the_gradient() -> None:
    """A steeply falling gradient-norm trend can carry the predicted level (and so the clip limit) under
    zero; scaling the gradient by limit/norm would then turn descent into ascent (it did, with a tight
    `clip_floor`): the step must go downhill, unclipped."""
    model, x, y = make()
    guard = Guard(torch.optim.SGD(model.parameters(), lr=0.05), skip=False, backoff=False)
    train(model, x, y, guard.step, steps=20)
    table = guard.stats.table.clone()
    table[1:, 0] = torch.tensor([0.1, -5.0, 0.01])  # level, trend, absdev of the gradient norm
    guard.stats.table = table
    before = [p.detach().clone() for p in model.parameters()]
    loss = F.mse_loss(model(x[:32]), y[:32])
    model.zero_grad(set_to_none=True)
    loss.backward()
    grads = [p.grad.detach().clone() for p in model.parameters()]
    guard.step(loss)
    moved = sum(float(((p.detach() - b) * g).sum()) for p, b, g in zip(model.parameters(), before, grads, strict=True))
    assert moved < 0  # along -gradient
    assert guard.history()["guard_clip"][-1] == 1.0


def test_outlier_batch_is_skipped_and_the_run_stays_on_course() -> None:
    base, x, y = make()
    base_opt = torch.optim.SGD(base.parameters(), lr=0.05, momentum=0.9)
    clean = train(base, x, y, lambda loss: base_opt.step(), steps=100)
    bad_model, _, _ = make()
    bad_opt = torch.optim.SGD(bad_model.parameters(), lr=0.05, momentum=0.9)
    damaged = train(bad_model, x, y, lambda loss: bad_opt.step(), steps=100, corrupt={60: 30.0})
    model, _, _ = make()
    guard = Guard(torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9))
    guarded = train(model, x, y, guard.step, steps=100, corrupt={60: 30.0})
    assert guard.history()["guard_skip"].nonzero()[0].tolist() == [60]
    assert guard.summary()["undone"] == 1  # the update before the bad batch, which it cannot tell from damage
    after = slice(61, 75)
    assert damaged[after].mean() > 3 * clean[after].mean()  # without the guard the bad batch derails training
    assert guarded[after].mean() < 1.1 * clean[after].mean()


def test_a_damaging_update_is_undone_when_the_next_loss_jumps() -> None:
    """One update at 100× the LR (a schedule bug) has an ordinary gradient norm, so nothing before the step
    can flag it; the loss of the next batch jumps, and the guard puts back the state from before it."""
    torch.manual_seed(0)
    x, y = regression(1024, 8, 0)

    def model_and_opt():
        torch.manual_seed(0)
        model = nn.Sequential(nn.Linear(8, 32), nn.Tanh(), nn.Linear(32, 1))
        return model, torch.optim.SGD(model.parameters(), lr=0.02, momentum=0.9)

    def run(guarded: bool):
        model, opt = model_and_opt()
        guard = Guard(opt) if guarded else None
        kept: dict[str, list[torch.Tensor]] = {}

        count = iter(range(10**6))

        def step(loss):
            n = next(count)
            if n == 80:
                kept["before"] = [t.clone() for p in model.parameters() for t in (p, opt.state[p]["momentum_buffer"])]
            opt.param_groups[0]["lr"] = 2.0 if n == 80 else 0.02
            guard.step(loss) if guard else opt.step()
            if n == 81:
                kept["after"] = [t.clone() for p in model.parameters() for t in (p, opt.state[p]["momentum_buffer"])]
        return train(model, x, y, step, steps=110), kept, guard

    plain, _, _ = run(False)
    guarded, kept, guard = run(True)
    h = guard.history()
    assert h["guard_skip"][80] == 0 and h["guard_clip"][80] == 1  # nothing to see before the step
    assert h["guard_skip"][81] == 2 and guard.summary()["undone"] == 1
    assert all(torch.equal(a, b) for a, b in zip(kept["before"], kept["after"], strict=True))  # and momentum
    assert plain[81] > 3 * plain[75:80].mean()  # the update did real damage
    assert plain[82:95].mean() > 2 * guarded[82:95].mean()  # which the unguarded run carries on


def test_a_grown_gradient_norm_is_clipped_not_skipped_for_long() -> None:
    """Gradients ×25 from step 60 on with an ordinary loss (a layer whose gradient grew): a gradient-norm
    outlier is skipped once, never twice in a row; the rest are accepted, clipped, and the LR backs off."""
    model, x, y = make()
    guard = Guard(torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9))
    count = iter(range(10**6))

    def step(loss):
        if next(count) >= 60:
            for p in model.parameters():
                p.grad.mul_(25.0)
        guard.step(loss)

    losses = train(model, x, y, step, steps=90)
    h = guard.history()
    skips = h["guard_skip"][60:] > 0
    assert h["guard_skip"][:60].sum() == 0 and skips[0]
    assert not (skips[1:] & skips[:-1]).any() and skips.sum() <= 6  # the old rule skipped 8 in a row
    assert (h["guard_clip"][61:70] < 0.5).all() and h["guard_lr_scale"][-1] < 1
    assert losses[-10:].mean() < 2 * losses[50:60].mean()


def explosion_run(stimulus: dict[int, tuple[float, float]], **options):
    """80 SGD steps; `stimulus[i] = (g, l)` multiplies step i's gradients by g and the loss the guard sees by l."""
    model, x, y = make()
    guard = Guard(torch.optim.SGD(model.parameters(), lr=0.05), **options)
    count = iter(range(10**6))

    def step(loss):
        grad_factor, loss_factor = stimulus.get(next(count), (1.0, 1.0))
        for p in model.parameters():
            p.grad.mul_(grad_factor)
        guard.step(loss * loss_factor)

    train(model, x, y, step, steps=80)
    h = guard.history()
    return guard, h["guard_grad_norm"] * h["guard_clip"]


def test_an_exploding_gradient_arms_a_clip_under_the_typical_norm() -> None:
    """A gradient 3× up, then 50× with the loss 3× (it grew over two steps, faster than the loss: an
    explosion) arms the tight clip: every later step is clipped under the typical norm. The same jump out
    of an ordinary step (a wrongly scaled batch), or with the loss up more than the gradient (a bad batch),
    does not; neither does a healthy run (`test_healthy_run_is_left_alone`)."""
    exploded, applied = explosion_run({40: (3.0, 1.0), 41: (50.0, 3.0)})
    typical = float(torch.tensor(applied[10:40]).median())
    assert exploded.summary()["explosions"] == 1
    assert (applied[42:] < typical).all()
    assert (exploded.history()["guard_clip"][42:] < 1).mean() > 0.5
    for stimulus in ({41: (50.0, 3.0)}, {40: (3.0, 1.0), 41: (50.0, 5000.0)}):
        guard, applied = explosion_run(stimulus)
        assert guard.summary()["explosions"] == 0
        assert (applied[42:] > typical).any()
    with pytest.raises(ValueError, match="must be positive"):
        explosion_run({}, explosion_clip=0.0)
    lifted, applied = explosion_run({40: (3.0, 1.0), 41: (50.0, 3.0)}, explosion_calm=15)
    assert lifted.summary()["explosions"] == 1  # after 15 calm steps the usual clip is back
    assert (applied[42:56] < typical).all() and (applied[57:] > typical).any()


def test_lr_backoff_keeps_a_diverging_run_alive() -> None:
    """SGD+momentum at 0.1 on this tanh MLP climbs to ~1e15 in 400 steps; the guard backs off the LR."""
    plain, x, y = make(width=64)
    opt = torch.optim.SGD(plain.parameters(), lr=0.1, momentum=0.9)
    unguarded = train(plain, x, y, lambda loss: opt.step(), steps=400)
    model, _, _ = make(width=64)
    guard = Guard(torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9))
    guarded = train(model, x, y, guard.step, steps=400)
    h = guard.history()
    assert h["guard_lr_scale"][-1] <= 0.5
    first = int((h["guard_lr_scale"] < 1).nonzero()[0][0])
    assert first >= guard.warmup  # never during warm-up
    assert unguarded[-50:].mean() > 1e6 and guarded[-50:].mean() < 20


def test_lr_scale_equals_scaling_the_learning_rate() -> None:
    """Scaling the update by s is scaling Adam's LR by s: same weights to float precision."""
    a, x, y = make()
    guard = Guard(torch.optim.Adam(a.parameters(), lr=1e-2), clip=False, skip=False)
    guard.lr_scale = torch.tensor(0.25)
    train(a, x, y, guard.step, steps=20)
    b, _, _ = make()
    opt = torch.optim.Adam(b.parameters(), lr=2.5e-3)
    train(b, x, y, lambda loss: opt.step(), steps=20)
    assert all(torch.allclose(p, q, atol=1e-6) for p, q in zip(a.parameters(), b.parameters(), strict=True))


def test_step_never_reads_a_tensor_on_the_host(monkeypatch: pytest.MonkeyPatch) -> None:
    """CPU proxy for `cuda.set_sync_debug_mode`: count host reads of tensors made from the guard's code."""
    calls: list[str] = []
    for name in ("item", "tolist", "numpy", "cpu", "__bool__", "__float__", "__int__", "__index__"):
        original = getattr(torch.Tensor, name)

        def spy(self, *args, __name=name, __original=original, **kwargs):
            if sys._getframe(1).f_code.co_filename.startswith(GUARD_DIR):
                calls.append(__name)
            return __original(self, *args, **kwargs)

        monkeypatch.setattr(torch.Tensor, name, spy)
    model, x, y = make()
    guard = Guard(torch.optim.Adam(model.parameters(), lr=3e-3), flush_every=1000)
    train(model, x, y, guard.step, steps=150, corrupt={100: 30.0})
    assert calls == []
    guard.flush()  # the one deliberate copy, every `flush_every` steps
    assert calls == ["tolist"]


def test_interventions_are_logged_as_jsonl_every_n_steps(tmp_path: Path) -> None:
    model, x, y = make()
    guard = Guard(torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9), log_dir=tmp_path, flush_every=50)
    train(model, x, y, guard.step, steps=120, corrupt={90: 30.0})
    log = tmp_path / GUARD_LOG
    assert len(log.read_text().splitlines()) == 100  # two flushes so far; 20 rows wait on the device
    guard.close()
    rows = [json.loads(line) for line in log.read_text().splitlines()]
    assert [r["step"] for r in rows] == list(range(120))
    assert rows[90]["guard_skip"] == 2.0 and set(rows[0]) == {"step", "guard_grad_norm", "guard_clip",
                                                               "guard_skip", "guard_lr_scale", "guard_loss"}


def test_spike_rule_of_the_remedies_benchmark() -> None:
    """The one spike definition every benchmark arm is counted with (torch-free, numpy)."""
    import numpy as np

    from lossdoctor.guard.spikes import count_spikes

    rng = np.random.default_rng(0)
    falling = np.exp(-np.linspace(0, 3, 400)) * np.exp(0.05 * rng.standard_normal(400))
    assert count_spikes(falling).events == 0  # a noisy falling loss has no spikes
    bumped = falling.copy()
    bumped[[100, 250, 251, 252]] *= 4  # one single-step spike, one three-step bump
    found = count_spikes(bumped)
    assert found.events == 2 and found.steps.tolist() == [100, 250] and not found.diverged
    diverging = falling.copy()
    diverging[380:] = np.nan
    assert count_spikes(diverging).diverged and count_spikes(diverging).events == 1
