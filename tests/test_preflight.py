"""Preflight on real batches: it flags the seed-003 loss and a log-of-softmax model, passes the fixes."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")
import torch.nn.functional as F  # noqa: E402
from torch import nn  # noqa: E402
from torch.utils.data import DataLoader, TensorDataset  # noqa: E402

from lossdoctor import preflight  # noqa: E402
from lossdoctor.scenarios.data import regression  # noqa: E402
from lossdoctor.scenarios.partial_last_batch import BATCH, N_TRAIN  # noqa: E402


def seed003_setup(double_normalised: bool):
    """The seed-003 run's model, loss, loader and optimizer (3720 samples, batches of 128, last 8)."""
    torch.manual_seed(0)
    x, y = regression(N_TRAIN, 16, 0, noise=0.3)
    model = nn.Sequential(nn.Linear(16, 64), nn.ReLU(), nn.Linear(64, 64), nn.ReLU(), nn.Linear(64, 1))

    def double_mean(output, target):
        return F.mse_loss(output, target) / len(output)  # the bug

    loss_fn = double_mean if double_normalised else nn.MSELoss()
    loader = DataLoader(TensorDataset(x, y), batch_size=BATCH, shuffle=True, drop_last=not double_normalised)
    return model, loss_fn, loader, torch.optim.SGD(model.parameters(), lr=0.6, momentum=0.9)


def test_seed003_loss_is_flagged_with_the_line_to_change() -> None:
    report = preflight(*seed003_setup(double_normalised=True))
    assert not report.ok
    scale = report.get("loss_scales_with_batch")
    assert scale is not None and scale.level == "problem" and scale.cause == "partial_last_batch"
    assert report.measured["loss_exponent"] == pytest.approx(-1, abs=0.05)
    assert scale.where is not None and "test_preflight.py" in scale.where and "/ len(output)" in scale.where
    assert scale.fix[0].startswith("return F.mse_loss(output, target)") and "len(" not in scale.fix[0]
    last = report.get("partial_last_batch")
    assert last is not None and last.level == "problem"
    assert any("8 samples" in e for e in last.evidence) and any("16×" in e for e in last.evidence)
    assert "drop_last=True" in last.fix[0]


def test_seed003_fixed_version_passes() -> None:
    report = preflight(*seed003_setup(double_normalised=False))
    assert report.ok, str(report)
    assert report.findings == [] and abs(report.measured["loss_exponent"]) < 0.05


def test_sum_reduction_is_flagged_as_growing_with_batch() -> None:
    model, _, loader, opt = seed003_setup(double_normalised=False)
    report = preflight(model, nn.MSELoss(reduction="sum"), loader, opt)
    found = report.get("loss_scales_with_batch")
    assert found is not None and report.measured["loss_exponent"] == pytest.approx(1, abs=0.05)
    assert found.fix == ["criterion = nn.MSELoss()  # reduction='mean': the loss no longer grows with B"]


class SoftmaxNet(nn.Module):
    def __init__(self, with_softmax: bool) -> None:
        super().__init__()
        self.body = nn.Sequential(nn.Linear(10, 32), nn.ReLU(), nn.Linear(32, 4))
        self.head = nn.Softmax(dim=1) if with_softmax else nn.Identity()

    def forward(self, x):
        return self.head(self.body(x))


def classification_loader(n: int = 256, batch: int = 32) -> DataLoader:
    g = torch.Generator().manual_seed(1)
    x = torch.randn(n, 10, generator=g)
    return DataLoader(TensorDataset(x, torch.randint(0, 4, (n,), generator=g)), batch_size=batch, shuffle=True)


def log_of_probs(probs, target):
    return F.nll_loss(torch.log(probs), target)


def test_log_of_softmax_is_flagged_and_logits_loss_passes() -> None:
    report = preflight(SoftmaxNet(True), log_of_probs, classification_loader())
    found = report.get("log_of_probabilities")
    assert found is not None and found.level == "problem" and found.cause == "numerical_instability"
    assert "`head` is nn.Softmax" in (found.where or "") and "torch.log(probs)" in (found.where or "")
    assert found.fix == ["model.head = nn.Identity()  # output logits",
                         "criterion = nn.CrossEntropyLoss()  # takes logits: the log is fused and stable"]
    assert preflight(SoftmaxNet(False), nn.CrossEntropyLoss(), classification_loader()).ok


def test_bce_on_sigmoid_and_cross_entropy_on_softmax_are_flagged() -> None:
    model = nn.Sequential(nn.Linear(10, 1), nn.Sigmoid())
    g = torch.Generator().manual_seed(2)
    x = torch.randn(64, 10, generator=g)
    y = (torch.rand(64, 1, generator=g) > 0.5).float()
    found = preflight(model, nn.BCELoss(), DataLoader(TensorDataset(x, y), batch_size=16, shuffle=True))
    bce = found.get("log_of_probabilities")
    assert bce is not None and "nn.BCEWithLogitsLoss()" in bce.fix[1]
    assert bce.fix[0] == "model[1] = nn.Identity()  # output logits"
    twice = preflight(SoftmaxNet(True), nn.CrossEntropyLoss(), classification_loader())
    assert twice.ids == ["softmax_then_cross_entropy"]
    # LogSoftmax + NLLLoss is the stable pair: nothing to say
    stable = nn.Sequential(nn.Linear(10, 4), nn.LogSoftmax(dim=1))
    assert preflight(stable, nn.NLLLoss(), classification_loader()).ok


def test_eval_mode_is_flagged_and_mode_is_left_as_found() -> None:
    model = nn.Sequential(nn.Linear(10, 32), nn.Dropout(0.2), nn.Linear(32, 4))
    model.eval()
    report = preflight(model, nn.CrossEntropyLoss(), classification_loader())
    assert report.get("model_in_eval_mode") is not None and not report.ok
    assert not model.training and not model[1].training
    model.train()
    assert preflight(model, nn.CrossEntropyLoss(), classification_loader()).ok
    assert model.training and model[1].training


def test_unshuffled_sorted_dataset_is_flagged() -> None:
    g = torch.Generator().manual_seed(3)
    x = torch.randn(400, 10, generator=g)
    y = torch.arange(400) // 100  # grouped by class: 0...0 1...1 2...2 3...3
    sorted_loader = DataLoader(TensorDataset(x, y), batch_size=20, shuffle=False)
    model = nn.Linear(10, 4)
    report = preflight(model, nn.CrossEntropyLoss(), sorted_loader)
    found = report.get("unshuffled_sorted_data")
    assert found is not None and found.level == "problem" and "shuffle=True" in found.fix[0]
    mixed = DataLoader(TensorDataset(x, y[torch.randperm(400, generator=g)]), batch_size=20, shuffle=False)
    mixed_report = preflight(model, nn.CrossEntropyLoss(), mixed)
    assert mixed_report.ok and mixed_report.get("shuffle_off").level == "info"
    assert preflight(model, nn.CrossEntropyLoss(), DataLoader(TensorDataset(x, y), batch_size=20,
                                                               shuffle=True)).findings == []


def test_regression_targets_sorted_by_value_are_flagged() -> None:
    x = torch.randn(300, 10)
    y = torch.linspace(-2, 2, 300)[:, None]
    report = preflight(nn.Linear(10, 1), nn.MSELoss(), DataLoader(TensorDataset(x, y), batch_size=30))
    assert report.get("unshuffled_sorted_data") is not None


def test_last_batch_of_one_with_batchnorm_is_a_problem() -> None:
    model = nn.Sequential(nn.Linear(10, 16), nn.BatchNorm1d(16), nn.ReLU(), nn.Linear(16, 4))
    found = preflight(model, nn.CrossEntropyLoss(), classification_loader(n=257, batch=32)).get("partial_last_batch")
    assert found is not None and found.level == "problem" and "BatchNorm" in found.title
    small = preflight(nn.Linear(10, 4), nn.CrossEntropyLoss(), classification_loader(n=260, batch=32))
    assert small.get("partial_last_batch").level == "warning"  # 4 of 32: a noisier gradient, said as such


def test_accumulation_per_micro_batch_with_padding_is_flagged() -> None:
    """Token-level CE over padded sequences of very different lengths, accumulated over 4 micro-batches."""
    g = torch.Generator().manual_seed(4)
    n, length, vocab = 64, 12, 20
    tokens = torch.randint(0, vocab, (n, length), generator=g)
    labels = tokens.clone()
    lengths = torch.where(torch.arange(n) % 16 < 8, 2, 12)  # micro-batches of 8: short or long, in order
    labels[torch.arange(length)[None, :] >= lengths[:, None]] = -100
    model = nn.Sequential(nn.Embedding(vocab, 16), nn.Linear(16, vocab))
    loader = DataLoader(TensorDataset(tokens, labels), batch_size=8, shuffle=False)

    def token_ce(logits, target):
        return F.cross_entropy(logits.flatten(0, 1), target.flatten(), ignore_index=-100)

    report = preflight(model, token_ce, loader, accumulation_steps=4)
    found = report.get("accumulation_per_micro_batch")
    assert found is not None and any("16–96 items" in e for e in found.evidence)
    assert "accumulation_per_micro_batch" not in preflight(model, token_ce, loader).ids  # no accumulation


def test_adam_constant_lr_on_an_interpolating_model_warns_seed002() -> None:
    """Seed 002: one linear layer of 1000 inputs fit to 64 points with Adam's defaults."""
    torch.manual_seed(545345)
    x, y = torch.randn(64, 1000), torch.randn(64, 1)
    model = nn.Linear(1000, 1)
    loader = DataLoader(TensorDataset(x, y), batch_size=64)
    opt = torch.optim.Adam(model.parameters())
    found = preflight(model, nn.MSELoss(), loader, opt).get("adam_near_convergence")
    assert found is not None and found.level == "warning" and "1001 weights for 64 target values" in found.evidence[2]
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=1000)
    assert preflight(model, nn.MSELoss(), loader, opt, scheduler=sched).get("adam_near_convergence") is None
    big = DataLoader(TensorDataset(torch.randn(4096, 16), torch.randn(4096, 1)), batch_size=64, shuffle=True)
    small_model = nn.Linear(16, 1)
    assert preflight(small_model, nn.MSELoss(), big, torch.optim.Adam(small_model.parameters())).ok


def test_preflight_leaves_gradients_and_weights_untouched() -> None:
    model, loss_fn, loader, _ = seed003_setup(double_normalised=False)
    before = [p.detach().clone() for p in model.parameters()]
    preflight(model, loss_fn, loader, torch.optim.Adam(model.parameters()))
    assert all(p.grad is None for p in model.parameters())
    assert all(torch.equal(a, p) for a, p in zip(before, model.parameters(), strict=True))


def test_report_renders_and_serialises() -> None:
    import json

    report = preflight(*seed003_setup(double_normalised=True))
    text = str(report)
    assert text.startswith("preflight: problems found") and "fix:" in text
    data = json.loads(json.dumps(report.to_json()))
    assert data["ok"] is False and data["findings"][0]["id"] == "loss_scales_with_batch"


def test_loader_fix_names_and_rewrites_the_callers_dataloader_line(tmp_path) -> None:
    """Called from a script with one `DataLoader(...)` line, the fix is that line with drop_last=True."""
    import subprocess
    import sys

    script = tmp_path / "train.py"
    script.write_text(
        "import torch\nfrom torch import nn\nfrom torch.utils.data import DataLoader, TensorDataset\n"
        "import lossdoctor\n"
        "x, y = torch.randn(100, 4), torch.randn(100, 1)\n"
        "loader = DataLoader(TensorDataset(x, y), batch_size=32, shuffle=True)  # 4 batches, the last of 4\n"
        "report = lossdoctor.preflight(nn.Linear(4, 1), nn.MSELoss(), loader)\n"
        "found = report.get('partial_last_batch')\n"
        "print(found.where)\nprint(found.fix[0])\n")
    out = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    where, fix = out.stdout.splitlines()
    assert where.endswith("train.py:6: loader = DataLoader(TensorDataset(x, y), batch_size=32, shuffle=True)")
    assert fix == "loader = DataLoader(TensorDataset(x, y), batch_size=32, shuffle=True, drop_last=True)"
