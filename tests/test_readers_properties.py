"""Property tests: whatever the bytes, `read` returns a Run or raises LogReadError, nothing else."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lossdoctor.errors import LogReadError
from lossdoctor.readers import read

#: LOSSDOCTOR_PROP_EXAMPLES=2000 for a longer hunt (about a minute).
EXAMPLES = int(os.environ.get("LOSSDOCTOR_PROP_EXAMPLES", "200"))
SETTINGS = settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])
TMP = Path(tempfile.mkdtemp(prefix="lossdoctor-prop-"))


def check(content: bytes, name: str = "log") -> None:
    path = TMP / name
    path.write_bytes(content)
    try:
        run = read(path)
    except LogReadError as e:
        assert e.reason and "\n" not in e.reason
        assert not e.reason.startswith("cannot read:"), e.reason  # the last-resort guard must not fire
        return
    assert len(run.loss) >= 1 and run.format


def _event_file() -> bytes:
    from tensorboard.compat.proto import event_pb2, summary_pb2
    from tensorboard.summary.writer.event_file_writer import EventFileWriter

    folder = Path(tempfile.mkdtemp(prefix="lossdoctor-tb-"))
    writer = EventFileWriter(str(folder))
    for step in range(5):
        value = summary_pb2.Summary.Value(tag="train/loss", simple_value=1.0 / (step + 1))
        writer.add_event(event_pb2.Event(step=step, wall_time=1.0, summary=summary_pb2.Summary(value=[value])))
    writer.close()
    return next(folder.iterdir()).read_bytes()


VALID = {
    "hf": json.dumps({"log_history": [{"loss": 1.0, "learning_rate": 1e-4, "epoch": 0.1, "step": 10},
                                      {"eval_loss": 0.9, "epoch": 0.1, "step": 10},
                                      {"loss": 0.8, "epoch": 0.2, "step": 20}], "logging_steps": 10},
                     indent=2).encode(),
    "lightning": b"epoch,step,train_loss_step,val_loss\n0,9,0.9,\n0,9,,0.8\n1,19,0.7,\n",
    "keras": b"epoch,loss,lr,val_loss\n0,1.0,0.001,1.1\n1,0.9,0.001,1.0\n0,2.0,0.001,2.1\n",
    "keras_batch": b"epoch,batch,loss\n0,0,1.0\n0,1,0.9\n1,0,0.8\n",
    "yolo": b"  epoch,  train/box_loss,  train/obj_loss,  val/box_loss,  val/obj_loss,  x/lr0\n"
            b"      0,  0.04,  0.05,  0.03,  0.02,  0.09\n      1,  0.03,  0.04,  0.02,  0.01,  0.08\n",
    "wandb": b'"Step","a - loss","a - loss__MIN","b - loss"\n0,1.0,1.0,2.0\n1,0.5,0.5,1.5\n',
    "jsonl": b'{"step": 1, "loss": 1.0, "lr": 0.1}\n{"step": 2, "loss": NaN, "lr": 0.1}\n'
             b'{"step": 3, "loss": 0.5, "lr": 0.1}\n',
    "text": b"Epoch: 1/3\nTrain Loss: 2.0 - Valid Loss: 2.1\nEpoch: 2/3\nTrain Loss: 1.5 - Valid Loss: 1.7\n",
    "hf_text": b"{'loss': 0.72, 'grad_norm': 2.7, 'learning_rate': 4.8e-05, 'epoch': 0.34}\n"
               b"{'eval_loss': 0.7, 'epoch': 1.0}\n",
}


def test_valid_fixtures_read() -> None:
    VALID["tensorboard"] = _event_file()
    for name, content in VALID.items():
        path = TMP / f"valid-{name}"
        path.write_bytes(content)
        assert len(read(path).loss) >= 1, name


@SETTINGS
@given(st.binary(max_size=2000))
def test_random_bytes(content: bytes) -> None:
    check(content)


@SETTINGS
@given(st.text(max_size=1500))
def test_random_text(content: str) -> None:
    check(content.encode("utf-8", "replace"))


json_values = st.recursive(
    st.none() | st.booleans() | st.floats(allow_nan=True) | st.integers() | st.text(max_size=10),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4),
    max_leaves=20)
metric_keys = st.sampled_from(["loss", "step", "lr", "eval_loss", "epoch", "train/loss", "x", "_step", "iter"])


@SETTINGS
@given(json_values)
def test_random_json(doc: object) -> None:
    check(json.dumps(doc).encode())
    check(json.dumps({"log_history": doc}).encode())


@SETTINGS
@given(st.lists(st.dictionaries(metric_keys, json_values, max_size=5), max_size=8))
def test_random_jsonl(records: list[dict]) -> None:
    check("\n".join(json.dumps(r) for r in records).encode())


cell = st.one_of(st.floats(allow_nan=True).map(repr), st.integers().map(str), st.just(""),
                 st.text(alphabet="abc, \"'\t\r", max_size=4))
header = st.lists(st.sampled_from(["epoch", "step", "loss", "val_loss", "batch", "lr", "_step", "Step",
                                   "a - loss", "train/box_loss", "train/obj_loss", "acc"]), min_size=1, max_size=5)


@SETTINGS
@given(header, st.lists(st.lists(cell, max_size=6), max_size=8))
def test_random_csv(names: list[str], rows: list[list[str]]) -> None:
    text = ",".join(names) + "\n" + "\n".join(",".join(r) for r in rows)
    check(text.encode("utf-8", "replace"))


@SETTINGS
@given(st.data())
def test_truncations_of_valid_files(data: st.DataObject) -> None:
    if "tensorboard" not in VALID:
        VALID["tensorboard"] = _event_file()
    name = data.draw(st.sampled_from(sorted(VALID)))
    content = VALID[name]
    cut = data.draw(st.integers(0, len(content)))
    check(content[:cut], name=f"trunc-{name}")


@pytest.mark.parametrize("name", ["hf", "jsonl", "lightning"])
def test_every_truncation_point(name: str) -> None:
    content = VALID[name]
    for cut in range(0, len(content), 3):
        check(content[:cut], name=f"every-{name}")
