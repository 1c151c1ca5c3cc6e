"""DDP with the gloo backend, 2 processes on the CPU: global gradient norm, loss averaged over ranks, rank 0 writes."""

from __future__ import annotations

import json

import numpy as np
import pytest

torch = pytest.importorskip("torch")
if not torch.distributed.is_available() or not torch.distributed.is_gloo_available():
    pytest.skip("torch.distributed with gloo is not available", allow_module_level=True)

from _record_runs import ddp_worker  # noqa: E402

from lossdoctor.record import read_store  # noqa: E402


@pytest.mark.slow  # two fresh interpreters import torch: about 8 s, most of it start-up
def test_ddp_records_global_norm_mean_loss_and_only_rank_0_writes(tmp_path) -> None:
    steps = 10
    torch.multiprocessing.spawn(ddp_worker, args=(2, str(tmp_path), steps), nprocs=2, join=True)
    refs = [json.loads((tmp_path / f"reference{rank}.json").read_text()) for rank in range(2)]
    assert not (tmp_path / "run1").exists()  # rank 1 never touches the disk
    content = read_store(tmp_path / "run0" / "lossdoctor.db")
    assert content.meta["world_size"] == 2
    steps_got, loss = content.series["loss"]
    assert steps_got.tolist() == list(range(steps))
    np.testing.assert_allclose(loss, np.mean([refs[0]["loss"], refs[1]["loss"]], axis=0), rtol=1e-5)
    # the pre-clip norm of the all-reduced gradient, which every rank sees after backward
    np.testing.assert_allclose(refs[0]["grad_norm"], refs[1]["grad_norm"], rtol=1e-6)
    np.testing.assert_allclose(content.series["grad_norm"][1], refs[0]["grad_norm"], rtol=1e-4)
    assert content.series["batch_size"][1].tolist() == [8.0 + 12.0] * steps
    gns_steps, _ = content.series["gradient_noise_scale"]
    assert len(gns_steps)  # per-rank vs all-reduced gradients give the two batch sizes
