"""TensorBoard event files: every scalar of every tag, streamed record by record.

`EventAccumulator` is avoided on purpose: it keeps a 10,000-point reservoir sample per tag and is slow.
Scalars come as `simple_value` (TF1, tensorboardX, YOLOv5, Lightning) or as rank-0 tensors with the
`scalars` plugin (TF2, `torch.utils.tensorboard` new style); the plugin name is only on a tag's first
record, so it is remembered per tag. `tensorboard` is imported lazily: other formats never need it.
"""

from __future__ import annotations

import struct
from collections.abc import Sequence
from pathlib import Path

from lossdoctor.errors import LogReadError, MissingExtraError
from lossdoctor.readers._build import Columns, build_run
from lossdoctor.run import Run, RunFacts

FORMAT = "tensorboard"
_FLOAT_TYPES = {1: ("<f", 4), 2: ("<d", 8), 19: ("<e", 2)}  # DT_FLOAT, DT_DOUBLE, DT_HALF


def _modules(path: str):  # type: ignore[no-untyped-def]
    try:
        from tensorboard.backend.event_processing.event_file_loader import RawEventFileLoader
        from tensorboard.compat.proto import event_pb2
    except ImportError:
        raise MissingExtraError(path, "reading TensorBoard event files needs the tensorboard extra: "
                                "pip install 'lossdoctor[tensorboard]'") from None
    return RawEventFileLoader, event_pb2


def _tensor_scalar(tensor) -> float | None:  # type: ignore[no-untyped-def]
    """The value of a rank-0 numeric tensor proto, else None (images, text, histograms)."""
    if tensor.tensor_shape.dim:
        return None
    dtype = tensor.dtype
    if dtype in _FLOAT_TYPES:
        fmt, size = _FLOAT_TYPES[dtype]
        if len(tensor.tensor_content) == size:
            return float(struct.unpack(fmt, tensor.tensor_content)[0])
        values = {1: tensor.float_val, 2: tensor.double_val, 19: tensor.half_val}[dtype]
        if dtype == 19 and values:
            return float(struct.unpack("<e", struct.pack("<H", values[0]))[0])
        return float(values[0]) if values else None
    if dtype == 3 and tensor.int_val:
        return float(tensor.int_val[0])
    if dtype == 9 and tensor.int64_val:
        return float(tensor.int64_val[0])
    return None


def _read_file(path: Path, cols: Columns, plugins: dict[str, str]) -> tuple[int, str | None]:
    loader_cls, event_pb2 = _modules(str(path))
    count, problem = 0, None
    try:
        for record in loader_cls(str(path)).Load():
            event = event_pb2.Event.FromString(record)
            if not event.HasField("summary"):
                continue
            for value in event.summary.value:
                if value.HasField("metadata") and value.metadata.plugin_data.plugin_name:
                    plugins[value.tag] = value.metadata.plugin_data.plugin_name
                kind = value.WhichOneof("value")
                number = None
                if kind == "simple_value":
                    number = value.simple_value
                elif kind == "tensor" and plugins.get(value.tag, "scalars") == "scalars":
                    number = _tensor_scalar(value.tensor)
                if number is not None:
                    cols.add(value.tag, int(event.step), float(number))
                    count += 1
    except MissingExtraError:
        raise
    except Exception as e:  # corrupt records: keep what was read before
        problem = f"{path.name}: stopped at a corrupt record ({type(e).__name__})"
    return count, problem


def looks_like(data: bytes) -> bool:
    """TFRecord framing whose first record is the `brain.Event` file-version event."""
    if len(data) < 16 or b"brain.Event" not in data[:128]:
        return False
    (length,) = struct.unpack("<Q", data[:8])
    return 0 < length < 1 << 20


def read(path: str, files: Sequence[Path], *, loss_key: str | None = None) -> Run:
    """Merge the scalars of `files` (in name order: later files overwrite a step's value)."""
    cols = Columns()
    plugins: dict[str, str] = {}
    facts = RunFacts()
    total = 0
    for file in sorted(files, key=lambda p: p.name):
        count, problem = _read_file(file, cols, plugins)
        total += count
        if problem:
            facts.notes.append(problem)
    if not total:
        raise LogReadError(path, "TensorBoard event file(s) without scalar summaries"
                           + (f" ({facts.notes[0]})" if facts.notes else ""))
    if len(files) > 1:
        facts.notes.append(f"merged {len(files)} event files by tag")
    run = build_run(path, FORMAT, cols, facts, loss_key=loss_key)
    tags = {t.lower() for t in run.series} | set(cols.keys())
    if {"x/lr0", "train/box_loss"} & tags:
        run.facts.framework, run.facts.step_unit, run.facts.steps_per_epoch = "ultralytics", "epoch", 1.0
    return run
