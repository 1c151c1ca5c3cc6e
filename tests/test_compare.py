"""`lossdoctor diagnose A B C` relates the fluctuation to the hyper-parameter that differs, on real runs:
the seed-001 LR sweep (batch noise, the LR is not the cause) and the seed-000 GRU sweep (grows with LR)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("torch")

from lossdoctor.compare import compare, parse_param, spearman
from lossdoctor.diagnose import diagnose
from lossdoctor.readers import read
from lossdoctor.report.json import render as render_json
from lossdoctor.scenarios import run_scenario

SMALL_BATCH = ["seed001_small_batch_lr1e-2", "seed001_small_batch_lr3e-3", "seed001_small_batch_lr1e-3"]
GRU = ["seed000_gru_lr1e-3", "seed000_gru_lr1e-2", "seed000_gru_lr5e-2"]


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "lossdoctor", *args], capture_output=True, text=True, timeout=180)


#: The GRU sweeps as their real runs wrote them (tests/data/gru_lr_sweep/make_logs.py): how far apart a sweep's
#: runs land depends on the CPU's kernels, and these tests are about one such sweep.
GRU_SWEEP = Path(__file__).parent / "data" / "gru_lr_sweep"


def _stored(folder: str, root: Path) -> Path:
    """A copy of a stored sweep under `root`, so that nothing a test writes lands in tests/data."""
    shutil.copytree(GRU_SWEEP / folder, root / folder)
    return root / folder


@pytest.fixture(scope="module")
def logs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("sweeps")
    trained = {name: run_scenario(name, root / name, formats=("hf",)).files["hf"] for name in SMALL_BATCH}
    hf = _stored("hf", root)
    return trained | {name: hf / name / "trainer_state.json" for name in GRU}


@pytest.fixture(scope="module")
def loss_only(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    """The GRU sweep as logs that kept only the training loss: no lr series to read the LR from."""
    folder = _stored("loss_only", tmp_path_factory.mktemp("loss_only"))
    return [folder / n / "metrics.jsonl" for n in GRU]


def _compare(paths: list[Path]):
    runs = [read(p) for p in paths]
    return compare(runs, [diagnose(r) for r in runs])


def test_small_batch_sweep_says_lr_is_not_the_cause(logs: dict[str, Path]) -> None:
    result = _compare([logs[n] for n in SMALL_BATCH])
    assert result.parameter == "lr"
    assert result.values == pytest.approx([1e-2, 3e-3, 1e-3], rel=0.01)
    assert "lr is not the cause" in result.conclusion, result.conclusion
    assert "small_batch_noise" in result.conclusion
    assert "lr series" in result.evidence[0]  # says how the parameter was found
    assert max(result.amplitude) / min(result.amplitude) < 1.25


def test_gru_sweep_says_fluctuation_grows_with_lr(logs: dict[str, Path]) -> None:
    result = _compare([logs[n] for n in GRU])
    assert result.parameter == "lr"
    assert result.values == pytest.approx([1e-3, 1e-2, 5e-2], rel=0.01)
    assert "grows with lr" in result.conclusion, result.conclusion
    assert result.amplitude[0] < result.amplitude[1] < result.amplitude[2]
    assert result.amplitude[2] / result.amplitude[0] >= 1.25
    assert any(line.startswith("run 3 (lr=0.05) shows lr_too_high") for line in result.evidence), result.evidence


def test_order_of_runs_does_not_matter(logs: dict[str, Path]) -> None:
    result = _compare([logs[n] for n in reversed(GRU)])
    assert "grows with lr" in result.conclusion


def test_cli_terminal_shows_each_run_and_the_table(logs: dict[str, Path]) -> None:
    out = run_cli("diagnose", *(str(logs[n]) for n in SMALL_BATCH))
    assert out.returncode == 0, out.stderr
    assert out.stdout.count("verdict: healthy") == 3
    assert "small_batch_noise" in out.stdout
    assert "how the fluctuation changes" in out.stdout and "conclusion:" in out.stdout
    assert "lr is not the cause" in " ".join(out.stdout.split())


def test_cli_json_for_several_runs(logs: dict[str, Path]) -> None:
    out = run_cli("diagnose", *(str(logs[n]) for n in GRU), "--format", "json")
    assert out.returncode == 0, out.stderr
    report = json.loads(out.stdout)
    assert set(report) == {"lossdoctor_version", "runs", "comparison"}
    assert [r["source"]["path"] for r in report["runs"]] == [str(logs[n]) for n in GRU]
    for run in report["runs"]:
        assert set(run) == {"lossdoctor_version", "source", "verdict", "findings"}
    comparison = report["comparison"]
    assert set(comparison) == {"parameter", "values", "amplitude", "conclusion", "evidence"}
    assert comparison["parameter"] == "lr" and len(comparison["values"]) == len(comparison["amplitude"]) == 3
    assert "grows with lr" in comparison["conclusion"]
    assert report["runs"][2]["verdict"] == "problem"


def test_single_path_output_is_unchanged(logs: dict[str, Path]) -> None:
    path = logs[GRU[2]]
    out = run_cli("diagnose", str(path), "--format", "json")
    assert out.returncode == 0, out.stderr
    assert out.stdout == render_json(diagnose(read(path))) + "\n"


def test_loss_only_logs_need_param(loss_only: list[Path]) -> None:
    out = run_cli("diagnose", *map(str, loss_only), "--format", "json")
    assert out.returncode == 0, out.stderr
    comparison = json.loads(out.stdout)["comparison"]
    assert comparison["parameter"] is None and "--param" in comparison["conclusion"]


def test_loss_only_logs_with_param(loss_only: list[Path]) -> None:
    out = run_cli("diagnose", *map(str, loss_only), "--param", "lr=1e-3,1e-2,5e-2", "--format", "json")
    assert out.returncode == 0, out.stderr
    comparison = json.loads(out.stdout)["comparison"]
    assert comparison["parameter"] == "lr" and comparison["values"] == [1e-3, 1e-2, 5e-2]
    assert "grows with lr" in comparison["conclusion"], comparison["conclusion"]
    assert "given with --param" in comparison["evidence"][0]


def test_param_disagreeing_with_logs_is_reported(logs: dict[str, Path]) -> None:
    runs = [read(logs[n]) for n in GRU]
    result = compare(runs, [diagnose(r) for r in runs], ("lr", [1.0, 2.0, 3.0]))
    assert "the logs say" in result.evidence[0]


def test_unreadable_run_exits_2_with_one_line(logs: dict[str, Path], tmp_path: Path) -> None:
    missing = tmp_path / "missing.jsonl"
    out = run_cli("diagnose", str(logs[GRU[0]]), str(missing), "--format", "json")
    assert out.returncode == 2
    assert out.stdout == ""
    assert out.stderr.strip().splitlines() == [f"lossdoctor: error: {missing}: no such file or directory"]


def test_wrong_param_count_exits_2(loss_only: list[Path]) -> None:
    out = run_cli("diagnose", *map(str, loss_only), "--param", "lr=1e-3,1e-2")
    assert out.returncode == 2 and len(out.stderr.strip().splitlines()) == 1
    assert "one value per run" in out.stderr


def test_different_tasks_are_not_comparable(tmp_path: Path) -> None:
    """A 60-class GRU and a 4-class CNN start from different losses: no LR explains that."""
    paths = [run_scenario(n, tmp_path / n, formats=("jsonl",)).files["jsonl"]
             for n in ("seed000_gru_lr1e-3", "healthy_cnn_adamw")]
    result = _compare(paths)
    assert result.conclusion.startswith("these runs are not comparable"), result.conclusion


def test_parse_param_and_spearman() -> None:
    assert parse_param("lr=1e-3, 1e-2", 2) == ("lr", [1e-3, 1e-2])
    assert parse_param("optimizer=adam,sgd", 2) == ("optimizer", ["adam", "sgd"])
    with pytest.raises(ValueError):
        parse_param("lr", 2)
    assert spearman([1, 2, 3], [0.1, 0.5, 0.9]) == pytest.approx(1.0)
    assert spearman([1, 2, 3], [0.9, 0.5, 0.1]) == pytest.approx(-1.0)


def _mlp_run(path: Path, *, batch: int, lr: float, steps: int = 600, seed: int = 0, momentum: float = 0.0) -> Path:
    """A small MLP classifier trained for `steps` steps, logged per step with its lr and batch size."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        torch.manual_seed(seed)
        x = torch.randn(4096, 16)
        y = (x @ torch.randn(16, 4)).argmax(1)
        model = torch.nn.Sequential(torch.nn.Linear(16, 32), torch.nn.ReLU(), torch.nn.Linear(32, 4))
        opt = torch.optim.SGD(model.parameters(), lr=lr, momentum=momentum)
        lines = []
        for step in range(steps):
            idx = torch.randint(0, 4096, (batch,))
            loss = torch.nn.functional.cross_entropy(model(x[idx]), y[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
            lines.append(json.dumps({"step": step, "loss": loss.item(), "lr": lr, "batch_size": batch}))
    finally:
        torch.set_num_threads(threads)
    path.write_text("\n".join(lines) + "\n")
    return path


def test_a_batch_size_sweep_names_the_small_batch(tmp_path: Path) -> None:
    """Batch 8, 32, 128 at one LR: the scatter shrinks about as 1/sqrt(B). The small batch is the cause; the
    conclusion must not say the batch size is not what makes it large."""
    paths = [_mlp_run(tmp_path / f"bs{b}.jsonl", batch=b, lr=0.05) for b in (8, 32, 128)]
    result = _compare(paths)
    assert result.parameter == "batch_size", result.evidence[0]
    assert "shrinks as batch_size grows" in result.conclusion and "the small batch is the cause" in result.conclusion


def test_a_run_that_diverges_at_once_is_left_out_not_fatal(tmp_path: Path) -> None:
    """An LR sweep whose top run is NaN after four steps: the other runs are still compared, the CLI exits 0,
    and the diverged run is named as left out (its own diagnosis says NaN)."""
    paths = [_mlp_run(tmp_path / f"lr{lr}.jsonl", batch=32, lr=lr) for lr in (0.01, 0.1)]
    bad = tmp_path / "lr50.jsonl"
    bad.write_text("".join(json.dumps({"step": s, "loss": v, "lr": 50.0, "batch_size": 32}) + "\n"
                           for s, v in enumerate([1.4, 30.0, 9e5, 3e12, float("nan"), float("nan")])))
    out = run_cli("diagnose", *map(str, [*paths, bad]), "--format", "json")
    assert out.returncode == 0, out.stderr
    report = json.loads(out.stdout)
    text = json.dumps(report)
    assert "left out of the comparison" in text and report["comparison"]["amplitude"][2] is None


def test_a_slow_and_a_fast_lr_from_the_same_start_are_comparable(tmp_path: Path) -> None:
    """lr 0.002 barely moves while lr 0.2 trains: their loss ranges never overlap, but both start from the
    same loss before any update, so they are one task and the comparison goes ahead."""
    paths = [_mlp_run(tmp_path / f"lr{lr}.jsonl", batch=64, lr=lr) for lr in (0.002, 0.2)]
    result = _compare(paths)
    assert not result.conclusion.startswith("these runs are not comparable"), result.conclusion


def test_an_lr_that_stops_the_loss_settling_is_named_though_its_scatter_is_small(tmp_path: Path) -> None:
    """SGD with momentum 0.9 at lr 0.03, 0.3, 0.7: at 0.7 the loss stays near ln 4 with a small scatter, so
    the amplitude alone cannot blame the LR; the run's own lr_too_high and its level must reach the conclusion."""
    paths = [_mlp_run(tmp_path / f"lr{lr}.jsonl", batch=32, lr=lr, momentum=0.9) for lr in (0.03, 0.3, 0.7)]
    result = _compare(paths)
    assert result.parameter == "lr", result.evidence[0]
    assert "run 3 (lr=0.7) is too high by its own diagnosis" in result.conclusion, result.conclusion
    assert "lr=0.3 is the largest without it" in result.conclusion, result.conclusion
    assert "about the same" not in result.conclusion, result.conclusion  # ×2 in loss units is not "the same"


def _epoch_run(path: Path, *, lr: float, shuffle: bool) -> Path:
    """An MLP over 3 classes sorted by class, 10 epochs of 60 batches, shuffled or in the fixed sorted order."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        torch.manual_seed(3)
        centres = torch.randn(3, 16)
        y = torch.arange(3).repeat_interleave(400)
        x = centres[y] + 1.6 * torch.randn(1200, 16)
        model = torch.nn.Sequential(torch.nn.Linear(16, 32), torch.nn.ReLU(), torch.nn.Linear(32, 3))
        opt = torch.optim.SGD(model.parameters(), lr=lr, momentum=0.9)
        loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(x, y), batch_size=20, shuffle=shuffle)
        lines, step = [], 0
        for epoch in range(10):
            for xb, yb in loader:
                loss = torch.nn.functional.cross_entropy(model(xb), yb)
                opt.zero_grad()
                loss.backward()
                opt.step()
                lines.append(json.dumps({"step": step, "epoch": epoch, "loss": loss.item(), "lr": lr}))
                step += 1
    finally:
        torch.set_num_threads(threads)
    path.write_text("\n".join(lines) + "\n")
    return path


def test_a_run_with_a_problem_of_its_own_is_named_in_the_conclusion(tmp_path: Path) -> None:
    """An LR sweep where the last run also iterates class-sorted data without shuffling: whatever the trend with
    the LR, the conclusion names that run's own problem rather than leaving it to its summary line."""
    paths = [_epoch_run(tmp_path / f"lr{lr}.jsonl", lr=lr, shuffle=lr < 0.02) for lr in (0.005, 0.01, 0.02)]
    runs = [read(p) for p in paths]
    diagnoses = [diagnose(r) for r in runs]
    assert diagnoses[2].primary is not None and diagnoses[2].primary.id == "unshuffled_data"
    result = compare(runs, diagnoses)
    assert "run 3 (lr=0.02) also has a problem of its own: unshuffled_data" in result.conclusion, result.conclusion


def test_an_lr_stated_only_in_a_console_header_is_the_swept_parameter(tmp_path: Path) -> None:
    """Console logs that print their config once (`Config: optimizer=SGD … lr=0.5`) and then only `step N | loss L`:
    the header's lr is the swept value; without it the comparison asked for --param (red-team 9a sweep)."""
    paths = []
    for lr in (0.03, 0.3, 0.7):
        records = [json.loads(line) for line in _mlp_run(tmp_path / f"lr{lr}.jsonl", batch=32, lr=lr,
                                                          momentum=0.9).read_text().splitlines()]
        console = tmp_path / f"run_lr{lr}.log"
        console.write_text(f"Config: model=mlp32 optimizer=SGD momentum=0.9 batch_size=32 lr={lr}\n"
                           + "".join(f"step {r['step']} | loss {r['loss']:.5f}\n" for r in records))
        paths.append(console)
    run = read(paths[0])
    assert "lr" not in run.series and run.facts.learning_rate == 0.03 and run.facts.optimizer == "SGD"
    result = _compare(paths)
    assert result.parameter == "lr" and "header" in result.evidence[0], result.evidence[0]
    assert "run 3 (lr=0.7) is too high by its own diagnosis" in result.conclusion, result.conclusion


def test_a_run_that_never_trains_is_not_read_as_the_smallest_fluctuation(tmp_path: Path) -> None:
    """A recorded Adam GRU sweep, lr 3e-3, 3e-2, 0.3: at 0.3 the loss never falls below its start and its
    scatter relative to that level is the smallest. The conclusion said "a small lr makes it larger", and the
    run's own diagnosis put gradient blow-ups that left the loss untouched above lr_too_high (red-team 11a)."""
    recorded = _stored("recorded", tmp_path)
    paths = [recorded / name for name in ("lr3e-3", "lr3e-2", "lr0.3")]
    runs = [read(p) for p in paths]
    diagnoses = [diagnose(r) for r in runs]
    assert diagnoses[2].findings[0].id == "lr_too_high", [(f.id, f.confidence) for f in diagnoses[2].findings]
    result = compare(runs, diagnoses)
    assert result.parameter == "lr", result.evidence[0]
    assert "makes it larger" not in result.conclusion, result.conclusion
    assert "run 3 (lr=0.3) is too high by its own diagnosis" in result.conclusion, result.conclusion
