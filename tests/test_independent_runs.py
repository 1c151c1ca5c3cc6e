"""Training runs written apart from the scenario catalogue (in the style of the red-team runs that found
each case): the diagnosis must hold on loops and logs it was not tuned on."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")

from lossdoctor.diagnose import diagnose  # noqa: E402
from lossdoctor.readers import read  # noqa: E402


def _quadrant_images(n: int) -> tuple[torch.Tensor, torch.Tensor]:
    """16×16 noise images whose class is the quadrant holding a bright square (global RNG: seed first)."""
    x = torch.randn(n, 1, 16, 16) * 0.3
    label = torch.randint(0, 4, (n,))
    for i, k in enumerate(label.tolist()):
        r, c = divmod(k, 2)
        x[i, 0, r * 8 + 2: r * 8 + 6, c * 8 + 2: c * 8 + 6] += 0.35
    return x, label


def test_a_cnn_thrown_to_chance_by_its_first_adam_step_is_lr_too_high(tmp_path: Path) -> None:
    """Adam at lr 0.05 on a small CNN: the first update sends the loss from ln 4 to ×10 for one step, and the
    model never leaves chance level again. Not learning is the symptom; the LR is the cause. (One point high:
    a rolling median alone does not see it.)"""
    torch.manual_seed(4)
    x, y = _quadrant_images(3000)
    train = torch.utils.data.Subset(torch.utils.data.TensorDataset(x, y), range(2500))
    loader = torch.utils.data.DataLoader(train, batch_size=32, shuffle=True)
    model = torch.nn.Sequential(
        torch.nn.Conv2d(1, 16, 3, padding=1), torch.nn.ReLU(), torch.nn.MaxPool2d(2),
        torch.nn.Conv2d(16, 32, 3, padding=1), torch.nn.ReLU(), torch.nn.MaxPool2d(2),
        torch.nn.Flatten(), torch.nn.Linear(32 * 16, 64), torch.nn.ReLU(), torch.nn.Linear(64, 4))
    opt = torch.optim.Adam(model.parameters(), lr=0.05)
    path = tmp_path / "log.jsonl"
    losses = []
    with path.open("w") as log:
        for _ in range(2):
            for xb, yb in loader:
                loss = torch.nn.functional.cross_entropy(model(xb), yb)
                opt.zero_grad()
                loss.backward()
                opt.step()
                log.write(json.dumps({"step": len(losses), "train_loss": loss.item()}) + "\n")
                losses.append(loss.item())
    assert losses[1] > 5 * losses[0] and losses[2] < 1.3 * losses[0]  # one point far up
    assert abs(sum(losses[-50:]) / 50 - 1.386) < 0.02  # ln 4: chance level to the end
    d = diagnose(read(path))
    assert (d.verdict, d.findings[0].id) == ("problem", "lr_too_high"), [f.id for f in d.findings]
    assert "first updates overshoot" in d.findings[0].evidence[0]
    assert "no_progress" not in [f.id for f in d.findings]  # the consequence, told by lr_too_high
