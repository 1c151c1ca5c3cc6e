"""Console logs: a general tokenizer instead of one regex per project.

Each line yields `key: number` / `key=number` pairs (also quoted Python-dict keys and two-word keys
such as `Train Loss`) and counters (`epoch 3`, `Epoch: 1/30`, `step 120`, `[epoch 2, batch 40]`,
`iteration 7`). Counters are carried as context to the lines that follow, so block formats
(`Epoch: 1/30` then `Train Loss: …` on later lines) work. Lines before any counter count only if they
hold a loss, which keeps hyper-parameter headers and argument dumps out of the series.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field

import numpy as np

from lossdoctor import keys as K
from lossdoctor.errors import LogReadError
from lossdoctor.readers._build import Columns, build_run
from lossdoctor.readers.hf import steps_per_epoch
from lossdoctor.readers.keras_progress import KerasBars, strip_terminal
from lossdoctor.readers.text_records import NONE, Records, Table
from lossdoctor.run import Run, RunFacts

FORMAT = "text"
_NUM = r"[-+]?(?:\d+\.\d*|\.\d+|\d+)(?:[eE][-+]?\d+)?(?![\d.:/])|[-+]?(?:nan|inf(?:inity)?)(?!\w)"
_KV = re.compile(
    r"(?<![\w./\-])['\"]?(?P<key>[A-Za-z_][\w./\-]*(?: [A-Za-z_][\w./\-]*)?)['\"]?\s*[:=]\s*['\"]?"
    r"(?P<val>" + _NUM + ")", re.IGNORECASE)
_COUNTER = re.compile(
    r"(?<![\w/'\"])(?P<name>epoch|global_step|num_updates|step|iteration|iter|batch|ep|it|e(?=\s*=))(?:e?s)?(?![\w'\"])"
    r"\s*[:=#]?\s*"
    r"\[?\s*(?P<n>\d{1,15})(?:\s*/\s*(?P<of>\d{1,15}))?(?![\d.])", re.IGNORECASE)
#: A counter glued to a one- or two-letter name, as a cell of its own: `| e01 | b0120/0252 |`, `ep3 it120`. Only
#: these names, and only between spaces, pipes or brackets, since `e5` inside a number or a word is no counter.
_COMPACT_COUNTER = re.compile(
    r"(?:^|(?<=[\s|\[]))(?P<name>e|ep|epoch|b|batch|it|iter|step)(?P<n>\d{1,9})(?:/(?P<of>\d{1,9}))?(?=$|[\s|\],])",
    re.IGNORECASE)
_COMPACT_NAMES = {"e": "epoch", "ep": "epoch", "b": "batch", "it": "iter"}
#: `loss 2.3456`, `train loss 2.3`, `train_loss 2.3`, `trn-loss 2.3`, `held-out loss 0.9`, `lr 0.2`, `gnorm 3.81`,
#: with no `:` or `=` (nanoGPT: `iter 100: loss 2.3456, time 12ms`); only for these names (any word joined to
#: them by `_`, `/` or `-`, a few split from them by a space), since `word number` in general matches too much prose.
_SPACED_LOSS = re.compile(
    r"(?<![\w./\-])(?:(?P<avg>avg|average|mean)\s+)?"
    r"(?P<key>(?:(?:train|training|val|valid|validation|eval|test|held[ -]?out|hold[ -]?out)\s+|[A-Za-z]+[_/\-])?"
    r"(?:loss|mse|rmse|mae|nll|bce|xent)|lr|learning[ _]rate|gnorm|grad[ _]norm)\s+(?P<val>" + _NUM + ")",
    re.IGNORECASE)
#: The word just before a metric name that the line already gave (`naive-repeat` in `naive-repeat mse 1.17`).
_QUALIFIER = re.compile(r"([A-Za-z][\w.\-]*)\s+$")
#: A line of an evaluation: `[val] loss: 0.13`, `valid | loss 0.2`, `Validation: loss=…`.
_VAL_LINE = re.compile(r"^\s*(?:\[\s*(?:val|valid|validation|eval|evaluation|test)\s*\]|"
                       r"(?:val|valid|validation|eval|evaluation)\s*[:|])", re.IGNORECASE)
#: A word that names an evaluation, standing alone (not `val_loss`): before a line's first value it makes the
#: values an evaluation's (`ep 1/8 validation | mse 0.74`, fairseq's `| epoch 001 | valid on 'valid' subset |
#: loss 2.97`, mmcv's `Epoch(val) [1][32]  loss: 0.05`, `== eval @ it 50 :: val_focal=0.019`).
_EVAL_WORD = re.compile(r"(?<![\w])(?:val|valid|validation|validating|eval|evaluation|evaluating|test|testing)"
                        r"(?![\w])", re.IGNORECASE)
#: The epoch, then the batch of the epoch: timm's `Train: 3 [ 100/1251 (  8%)]`, MMEngine's
#: `Epoch(train)  [3][ 50/500]`, mmcv's `Epoch [3][50/500]`.
_EPOCH_BATCH = re.compile(r"(?:^\s*Train:\s*(?P<epoch>\d+)\s*|Epoch(?:\(train\))?\s*\[\s*(?P<epoch2>\d+)\s*\]\s*)"
                          r"\[\s*(?P<n>\d+)\s*/\s*(?P<of>\d+)", re.IGNORECASE)
#: An epoch counter followed by a bare `[n/N]`: the batch of the epoch (`Epoch  2/12 [ 40/75]  loss: …`,
#: the PyTorch examples' `Train Epoch: 2 [640/60000 (1%)]`, where the position counts samples).
_EPOCH_BRACKET = re.compile(r"(?<![\w])Epoch\s*[:#]?\s*(?P<epoch>\d+)(?:\s*/\s*\d+)?\s*[\],:|]?\s*"
                            r"\[\s*(?P<n>\d+)\s*/\s*(?P<of>\d+)", re.IGNORECASE)
#: The PyTorch tutorial's `[epoch, batch]` prefix: `[2,  2000] loss: 1.786`.
_EPOCH_COMMA_BATCH = re.compile(r"^\s*\[\s*(?P<epoch>\d+)\s*,\s*(?P<n>\d+)\s*\]")
#: Per-batch lines of an evaluation pass (timm's `Test: [ 10/390] … Loss: …`): not training losses.
_EVAL_PASS = re.compile(r"^\s*(?:Test|Eval|Evaluation|Validation|Valid|Val)\s*:\s*\[", re.IGNORECASE)
#: fairseq's end-of-epoch summary (`| train | epoch 004 | loss 7.394 | … | num_updates 2000`): the epoch's mean,
#: which would overwrite the last update's own loss at that step (`train_inner` lines are the per-update ones).
_EPOCH_AGGREGATE = re.compile(r"\|\s*train\s*\|\s*epoch\s+\d+\s*\|")
_DICT_STEP = re.compile(r"['\"](?:step|global_step|iteration|iter|num_updates)['\"]\s*:\s*\d")
_PAIR_LINE = re.compile(r"\s*(?P<step>\d{1,15})\s*[,;\t ]\s*(?P<val>" + _NUM + r")\s*", re.IGNORECASE)
#: An MLflow metric file (`mlruns/…/metrics/<name>`): `timestamp_ms value step` per line.
_MLFLOW_LINE = re.compile(r"\s*\d{12,14}\s+(?P<val>" + _NUM + r")\s+(?P<step>\d{1,15})\s*", re.IGNORECASE)
_PROGRESS = re.compile(r"\s*(?P<n>\d+)/(?P<of>\d+)\s*(?:\[|━|\|)")
#: A tqdm refresh: `Epoch 1/8:  40%|████      | 80/200 [00:03<00:05, 24.1it/s, loss=0.52]`. Each one shows the
#: postfix at that moment; a log that also prints its own loss lines is read from those instead.
_TQDM = re.compile(r"\|\s*(?P<n>\d+)/(?P<of>\d+)\s*\[[^\]]*(?:it/s|s/it|\?it)")
_SUMMARY_HEADER = re.compile(r"\*{3,}\s*\w+ metrics\s*\*{3,}")
_FACT = re.compile(r"(?<![\w.])(?P<key>logging_steps|per_device_train_batch_size|train_batch_size|batch_size|"
                   r"logging_nan_inf_filter)\s*[:=]\s*(?P<val>\d+|True|False)\b")
#: A config or header line before any counter: `Config: optimizer=SGD momentum=0.9 lr=0.01`, `Namespace(lr=0.1, …)`.
_CONFIG_LR = re.compile(r"(?<![\w.])(?:lr|learning_rate)\s*[:=]\s*(?P<val>" + _NUM + ")", re.IGNORECASE)
_CONFIG_BATCH = re.compile(r"(?<![\w.])(?:batch|bs|batch_size)\s*[:=]\s*(?P<val>\d+)\b", re.IGNORECASE)
_CONFIG_OPTIMIZER = re.compile(r"(?<![\w.])optim(?:izer)?\s*[:=]\s*['\"]?(?P<val>[A-Za-z][A-Za-z0-9_]*)")
#: An optimizer named on a header line without a key: `GELU MLP 8-128-128-1, Adam lr=1e-3, 6000 steps`.
_OPTIMIZER_NAME = re.compile(r"(?<![\w.])(?P<val>AdamW|Adam|SGD|RMSprop|Adagrad|Adadelta|Adamax|NAdam|RAdam|"
                             r"Adafactor|LAMB|Lion|LBFGS)(?![\w])")
#: Short counter names: `ep 3 it 120 | loss 0.53`.
_COUNTER_ALIASES = {"ep": "epoch", "e": "epoch", "it": "iter"}
_COUNTER_KEYS = {"e", "ep", "it", "epoch", "step", "global_step", "num_updates", "iteration", "iter", "batch", "epochs",
                 "steps"}


@dataclass
class _State:
    epoch: int | None = None
    step: int | None = None
    batch: int | None = None
    batches_of: int | None = None
    frame: int = 0
    in_summary: bool = False
    lines: int = 0
    records: Records = field(default_factory=Records)
    facts: dict[str, str] = field(default_factory=dict)
    keras: bool = False
    mlflow: bool = False
    progress: Records = field(default_factory=Records)  # values shown by tqdm refreshes
    table: list[str] | None = None  # the header of a printed table whose rows follow (fastai)
    piped: bool = False  # whether that table is drawn with `|` between its cells
    bar: tuple[int | None, int] | None = None  # (epoch, batch) the last progress-bar refresh showed
    bar_from_zero: bool = False  # whether a refresh with values showed the counter at 0 (see _feed_progress_bar)
    keras_bars: KerasBars = field(default_factory=KerasBars)  # every refresh of Keras progress bars


def _clean(line: str) -> str:
    line = strip_terminal(line)
    if "\b" in line:
        out: list[str] = []
        for ch in line:
            if ch == "\b":
                if out:
                    out.pop()
            else:
                out.append(ch)
        line = "".join(out)
    return line.rstrip("\n")


#: A process-rank tag at the start of a line of a multi-process (DDP) log: `[rank1] …`, `[rank0]: …`,
#: torchrun's `[default0]:`, `rank 1 | …`.
_RANK = re.compile(r"^\s*(?:\[\s*(?:rank|default)\s*(?P<a>\d+)\s*\]:?|rank\s*(?P<b>\d+)\s*[:|])\s*", re.IGNORECASE)


def _feed(state: _State, line: str) -> None:
    state.lines += 1
    line = _clean(line)
    if not line.strip():
        return
    rank = _RANK.match(line)
    state.records.current_rank = state.progress.current_rank = (
        int(rank.group("a") or rank.group("b")) if rank else NONE)
    if rank:
        line = line[rank.end():]
    if _SUMMARY_HEADER.search(line):
        state.in_summary = True  # HF `***** train metrics *****`: repeats the last values
        return
    if state.in_summary:
        if line.startswith((" ", "\t")):
            return
        state.in_summary = False
    tqdm = _TQDM.search(line)
    if tqdm and state.table is not None and _table_row(state, line):
        return  # a row of a printed table that ends in its epoch's progress bar (YOLO)
    if tqdm:
        close = line.find("]", tqdm.end())
        close = len(line) if close < 0 else close
        _feed_progress_bar(state, line[:close], tqdm)
        if line[close + 1:].strip():  # a print that followed the last refresh on the same terminal line
            _feed(state, line[close + 1:])
        return
    progress = _PROGRESS.match(line)
    if progress:
        state.keras = True
        n, of = int(progress.group("n")), int(progress.group("of"))
        pairs = [(m.group("key"), float(m.group("val"))) for m in _KV.finditer(line[progress.end():])]
        state.keras_bars.add(state.epoch, n, of, pairs)
        if n != of:
            return  # an intermediate refresh: a running mean, differenced in read_lines when the file keeps them
    for m in _FACT.finditer(line):
        state.facts.setdefault(m.group("key"), m.group("val"))
    if state.frame == 0 and not state.records.has_loss.any():  # a header: before the first counter or loss
        for pattern, key in ((_CONFIG_LR, "learning_rate"), (_CONFIG_OPTIMIZER, "optimizer"),
                             (_CONFIG_BATCH, "batch_size")):
            found = pattern.search(line)
            if found:
                state.facts.setdefault(key, found.group("val"))
        named = _OPTIMIZER_NAME.search(line)
        if named:
            state.facts.setdefault("optimizer", named.group("val"))
        if _is_config_line(line):
            return  # `batch=32 … epochs=10` there is the setup, not the step the next lines are at
    pair = _PAIR_LINE.fullmatch(line)
    if pair is None:
        pair = _MLFLOW_LINE.fullmatch(line)
        state.mlflow = state.mlflow or pair is not None
    if pair:
        state.step = int(pair.group("step"))
        state.frame += 1
        state.records.append(state.frame, state.epoch, state.step, state.batch,
                             [("loss", float(pair.group("val")))])
        return
    if _EVAL_PASS.match(line) or _EPOCH_AGGREGATE.search(line):
        return
    if _table_row(state, line):
        return
    counters: dict[str, re.Match[str]] = {}
    for m in _COUNTER.finditer(line):  # the first of each: `iteration 10/500 | skipped iterations: 0`
        counters.setdefault(_COUNTER_ALIASES.get(m.group("name").lower(), m.group("name").lower()), m)
    for m in _COMPACT_COUNTER.finditer(line):
        name = m.group("name").lower()
        counters.setdefault(_COMPACT_NAMES.get(name, name), m)
    epoch_batch = _EPOCH_BATCH.search(line) or _EPOCH_BRACKET.search(line) or _EPOCH_COMMA_BATCH.match(line)
    if epoch_batch:
        counters.pop("epoch", None)
        _update_epoch_batch(state, epoch_batch)
    # `==> epoch 3 done, mean loss 0.017` among per-batch lines: the epoch's summary, whose training mean would
    # overwrite the last batch's own loss at that step (red-team 18b r08: a short last batch's spike erased)
    epoch_summary = (not epoch_batch and set(counters) == {"epoch"}
                     and (state.batch is not None or state.step is not None))
    if epoch_summary:
        state.frame += 1
    elif counters:
        _update_context(state, counters)
    pairs = []
    first_value = len(line)
    for m in _SPACED_LOSS.finditer(line):
        key = m.group("key")
        if any(k == key for k, _ in pairs):  # `mse 0.74 | naive-repeat mse 1.17`: a second mse is some other one
            qualifier = _QUALIFIER.search(line, 0, m.start())
            key = f"{qualifier.group(1)} {key}" if qualifier else key
        pairs.append((key, float(m.group("val"))))
        first_value = min(first_value, m.start())
        if m.group("avg") and not K.is_val_like(m.group("key")):
            state.facts["loss_is_mean"] = m.group("avg")  # `avg loss 0.93` every N steps: a mean over them
    for m in _KV.finditer(line):
        if epoch_batch and m.start() < epoch_batch.end():
            continue  # `Train: 3` is the epoch, not a series
        key, raw = m.group("key"), m.group("val")
        norm = K.normalise(key)
        if norm in _COUNTER_KEYS and re.fullmatch(r"[-+]?\d+", raw):
            if line.lstrip().startswith("{") and not counters:  # a printed dict: `{'epoch': 0, 'step': 5, …}`
                _set_dict_counter(state, norm, int(raw))
            continue
        if norm in {"logging_steps", "per_device_train_batch_size", "train_batch_size", "batch_size"}:
            continue
        pairs.append((key, float(raw)))
        first_value = min(first_value, m.start())
    if not pairs:
        return
    if _VAL_LINE.match(line) or _EVAL_WORD.search(line, 0, first_value):  # an evaluation's values, not training
        pairs = [(k if K.is_val_like(k) else f"val_{k}", v) for k, v in pairs]
    if epoch_summary:
        pairs = [(k, v) for k, v in pairs if K.is_val_like(k)]  # its validation values are the epoch's own
        if not pairs:
            return
    keys = {k for k, _ in pairs}
    # the Trainer's console dicts carry no step; a printed dict with one is a loop's own (accelerate scripts)
    hf_dict = line.lstrip().startswith("{'") and not _DICT_STEP.search(line)
    if hf_dict and "train_runtime" in keys:
        return  # the Trainer's final summary dict
    if keys and all(k.startswith("predict_") for k in keys):
        return
    state.records.append(state.frame, state.epoch, state.step, state.batch, pairs, hf_dict)
    if state.bar is not None:  # `tqdm.write` under a bar: the bar's position is where this line was printed
        state.progress.append(state.frame, state.bar[0], None, state.bar[1], pairs)


#: A header token of a printed table: a metric or counter name.
_HEADER_TOKEN = re.compile(r"[A-Za-z_][\w/.\-]*")
_ROW_PROGRESS_TAIL = re.compile(r"(?<=\d):\s+\d{1,3}%\|.*$")
_TABLE_COUNTERS = {"epoch": "epoch", "step": "step", "iter": "step", "iteration": "step", "global_step": "step"}


#: A border line of a drawn table (`+--------+-------+`, `|======|`).
_TABLE_BORDER = re.compile(r"\s*[+|][-+=|: ]*[-=][-+=|: ]*")


#: Box-drawing characters of tables drawn by Rich and the like, as the ASCII a drawn table uses.
_BOX = str.maketrans({**dict.fromkeys("┃│║╎╏┆┇┊┋", "|"), **dict.fromkeys("━─═╌╍┄┅┈┉", "-"),
                      **dict.fromkeys("┏┓┗┛┣┫┳┻╋┡┩╇┢┪╈┌┐└┘├┤┬┴┼╭╮╰╯╔╗╚╝╠╣╦╩╬╞╡╪", "+")})
_BOX_LINE = re.compile(r"^\s*[┃│║┏┗┡┣┌└├╭╰╔╚╠╞]")


def _table_row(state: _State, line: str) -> bool:
    """A table printed with a header line and one row per epoch or step (fastai's `epoch train_loss
    valid_loss accuracy time`, or one drawn with `|` and `+---+` borders, or Rich's box characters): the header
    names the columns; True when the line was taken as either."""
    if _BOX_LINE.match(line):
        line = line.translate(_BOX)
    piped = line.strip().startswith("|") and line.strip().endswith("|")
    if _TABLE_BORDER.fullmatch(line):
        return state.table is not None or piped
    if not piped:
        line = _ROW_PROGRESS_TAIL.sub("", line)  # YOLO's rows end in the epoch's progress bar: `240: 100%|███| 50/50`
    tokens = [c.strip() for c in line.strip().strip("|").split("|")] if piped else line.split()
    # a drawn cell may hold a name of several words (Rich's `┃ ema loss ┃`); every word a name: `ppl 26.96` is not
    if piped and all(t.split() and all(_HEADER_TOKEN.fullmatch(w) for w in t.split()) for t in tokens):
        tokens = ["_".join(t.split()) for t in tokens]
    if len(tokens) >= 2 and all(_HEADER_TOKEN.fullmatch(t) for t in tokens) \
            and any("loss" in t.lower() or K.is_loss_like(t) for t in tokens):
        state.table = tokens
        state.piped = piped
        return True
    header = state.table
    if header is None:
        return False
    if len(tokens) != len(header) or not re.fullmatch(r"\d{1,15}(?:/\d{1,15})?", tokens[0]) or piped != state.piped:
        if not state.piped:
            state.table = None  # the table ended (a drawn one goes on after lines printed between its rows)
        return False
    pairs = []
    for name, token in zip(header, tokens, strict=True):
        counter = _TABLE_COUNTERS.get(name.lower())
        if counter == "epoch":
            state.epoch = int(token.split("/")[0])  # `3/29`: epoch 3 of 30
        elif counter == "step":
            state.step = int(token.split("/")[0])
        elif re.fullmatch(_NUM, token, re.IGNORECASE):
            pairs.append((name, float(token)))
    state.frame += 1
    if pairs:
        state.records.append(state.frame, state.epoch, state.step, state.batch, pairs)
    return True


def _update_epoch_batch(state: _State, m: re.Match[str]) -> None:
    groups = m.groupdict()
    state.epoch = int(groups["epoch"] or groups.get("epoch2"))
    state.batch = int(m.group("n"))
    if groups.get("of"):
        state.batches_of = int(groups["of"])
    state.frame += 1


def _update_context(state: _State, counters: dict[str, re.Match[str]]) -> None:
    before = (state.epoch, state.step, state.batch)
    if "epoch" in counters:
        epoch = int(counters["epoch"].group("n"))
        if epoch != state.epoch:
            state.batch = None
        state.epoch = epoch
    step_of = next((counters[n] for n in ("step", "iteration", "iter") if n in counters and counters[n].group("of")),
                   None)
    if "epoch" in counters and step_of is not None and "batch" not in counters:
        # `Epoch [2/10], Step [40/100]`: a step counted within the epoch, i.e. a batch index
        counters = {**counters, "batch": step_of}
        counters = {k: v for k, v in counters.items() if k not in ("step", "iteration", "iter")}
    for name in ("global_step", "num_updates", "step", "iteration", "iter"):
        if name in counters:
            state.step = int(counters[name].group("n"))
            break
    if "batch" in counters:
        state.batch = int(counters["batch"].group("n"))
        if counters["batch"].group("of"):
            state.batches_of = int(counters["batch"].group("of"))
    if (state.epoch, state.step, state.batch) != before or len(counters) > 0:
        state.frame += 1


def _set_dict_counter(state: _State, key: str, value: int) -> None:
    """A counter printed as a dict entry (quoted keys are not the prose counters `_COUNTER` reads)."""
    key = _COUNTER_ALIASES.get(key, key)
    if key in ("epoch", "epochs"):
        state.epoch = value
    elif key in ("step", "global_step", "iteration", "iter", "num_updates", "steps"):
        state.step = value
    elif key == "batch":
        state.batch = value
    state.frame += 1


def _feed_progress_bar(state: _State, line: str, tqdm: re.Match[str]) -> None:
    """A tqdm refresh: its postfix values at batch n of the epoch the prefix names, kept apart."""
    counter = next((m for m in _COUNTER.finditer(line[: tqdm.start()]) if m.group("name").lower() in
                    {"epoch", "ep", "epochs"}), None)
    epoch = int(counter.group("n")) if counter else state.epoch
    pairs = [(m.group("key"), float(m.group("val"))) for m in _KV.finditer(line[tqdm.end():])]
    if pairs:
        n, of = int(tqdm.group("n")), int(tqdm.group("of"))
        state.batches_of = state.batches_of or of
        # `for b in tqdm(loader)` shows n = batches done before this one (0 on the first); its closing refresh
        # (n = of) then shows the last batch again, and is clamped once the whole log is read. A bar updated after
        # each batch shows 1 to of, each a batch of its own.
        state.bar_from_zero = state.bar_from_zero or n == 0
        state.progress.append(state.frame + 1, epoch, None, n, pairs)
        state.bar = (epoch, n)


def read_lines(path: str, lines: Iterable[str], *, loss_key: str | None = None) -> Run:
    state = _State()
    for line in lines:
        _feed(state, line)
    keras_window = None
    if state.bar_from_zero and state.batches_of:
        state.progress.clamp_batches(state.batches_of - 1)
    if state.keras_bars.worth_reading:  # every refresh of the Keras bars was kept: read them all
        state.records, per_epoch, keras_window = state.keras_bars.records()
        state.batches_of = per_epoch
    from_bars = not state.records.has_training_loss and state.progress.has_training_loss
    if from_bars:  # only the progress bar shows the training loss (printed lines may hold the validation)
        state.records = state.progress
    everything = state.records
    one_rank = _one_rank(everything)
    has_loss, frame = everything.has_loss & one_rank, everything.frame
    # a line without a loss counts when it shares its counters (frame) with one that has a loss
    in_loss_frame = np.isin(frame, np.unique(frame[has_loss]))
    keep = (has_loss | (in_loss_frame & (frame != 0))) & one_rank
    if loss_key is not None:
        keep = (has_loss | in_loss_frame | everything.records_with(everything.key_ids(K.normalise(loss_key)))) \
            & one_rank
    if not has_loss[keep].any() and loss_key is None:
        raise LogReadError(path, f"no loss values found in {state.lines} lines (if the loss goes by another name,"
                                 " pass it with --loss-key NAME)")
    table = everything.select(keep)
    if from_bars:  # a redraw of the postfix already shown is no new step
        repeats = _sync_repeats(table)
        if repeats.any():
            keep[np.flatnonzero(keep)[repeats]] = False
            table = everything.select(keep)
    facts = RunFacts()
    ranks = np.unique(everything.rank[everything.has_loss & (everything.rank != NONE)])
    if len(ranks) > 1:
        facts.notes.append(f"lines of {len(ranks)} processes (ranks {', '.join(str(r) for r in ranks[:8])}) are"
                           f" interleaved; read rank {ranks[0]}'s alone (each rank logs the loss of its own shard)")
    if from_bars:
        every_step = _spread_stale_counters(table, state.batches_of)
        facts.notes.append(
            "losses read from the progress bar (tqdm postfix): " + (
                "a refresh per step (set_postfix), numbered on from the counter the bar showed" if every_step else
                "each is the value shown at a refresh, so steps between refreshes are missing"))
    steps = _assign_steps(table, state, facts)
    cols = Columns()
    for kid, key in enumerate(table.keys):
        at = table.pair_key == kid
        if at.any():
            cols.extend(key, steps[table.pair_record[at]], table.pair_value[at])
    # the epoch counter of the context, as a series (its changes mark epoch starts), unless the log
    # writes one itself or has one point per epoch
    has_epoch_key = any(K.normalise(k) == "epoch" for k in {table.keys[i] for i in np.unique(table.pair_key)})
    with_epoch = table.epoch != NONE
    if facts.step_unit != "epoch" and not has_epoch_key and with_epoch.any():
        at, epochs = steps[with_epoch], table.epoch[with_epoch]
        first = np.concatenate([[True], at[1:] != at[:-1]])  # once per step
        cols.extend("epoch", at[first], epochs[first].astype(np.float64))
    _set_facts(state, table, facts)
    if "loss_is_mean" in state.facts and facts.loss_window == 1:
        train_ids = [i for i, k in enumerate(table.keys) if K.is_loss_like(k) and not K.is_val_like(k)]
        facts.loss_window = _mean_window(steps[table.pair_record[np.isin(table.pair_key, train_ids)]])
        if facts.loss_window > 1:
            facts.notes.append(f"each loss is an '{state.facts['loss_is_mean']} loss' logged every"
                               f" {facts.loss_window} steps: a mean over them (one-step spikes are diluted)")
    if keras_window is not None:
        facts.steps_per_epoch = float(state.batches_of or 0) or None
        facts.loss_window = max(1, round(keras_window))
        facts.notes[-1] = (f"Keras progress bars show the running mean since the epoch began; each refresh was"
                           f" differenced with the one before: a loss is the mean over the batches between two"
                           f" refreshes (median {keras_window:g}), so one-batch spikes are diluted")
    return build_run(path, FORMAT, cols, facts, loss_key=loss_key)


#: A header line with this many `key=value` numbers and no loss among them is the run's configuration.
CONFIG_MIN_PAIRS = 3


def _is_config_line(line: str) -> bool:
    """A configuration dump before training (`model GRU vocab=27 seq=64 batch=32 warmup=40 steps/epoch=252`):
    several numbers by name, none a loss. Its `batch=32` is the batch size and `epochs=10` the run's length,
    not counters that the step lines after it would inherit."""
    keys = [m.group("key") for m in _KV.finditer(line)]
    return len(keys) >= CONFIG_MIN_PAIRS and not any(K.is_loss_like(k) for k in keys) and not _SPACED_LOSS.search(line)


def _one_rank(records: Records) -> np.ndarray:
    """Records of the lowest process rank that logged a loss, and those without a rank tag."""
    rank = records.rank
    tagged = rank[records.has_loss & (rank != NONE)]
    if not len(tagged) or len(np.unique(tagged)) < 2:
        return np.ones(len(records), dtype=bool)
    return (rank == NONE) | (rank == tagged.min())


def _training_rows(table: Table) -> np.ndarray:
    """Records that hold a training loss (not only a validation one)."""
    kids = [kid for kid, key in enumerate(table.keys) if K.is_loss_like(key) and not K.is_val_like(key)]
    out = np.zeros(len(table), dtype=bool)
    out[table.pair_record[np.isin(table.pair_key, kids)]] = True
    return out


def _sync_repeats(table: Table) -> np.ndarray:
    """Bar refreshes that show exactly the values of the refresh before: tqdm redraws the postfix it already
    showed when it moves its counter and after a `tqdm.write`, and neither is a new step.

    A NaN repeated at the same counter is the exception: once the loss is NaN every step shows `loss=nan`,
    and `set_postfix` at the counter the redraw just moved to is the next step's NaN, not a redraw.
    """
    train = np.flatnonzero(_training_rows(table) & (table.batch != NONE))
    out = np.zeros(len(table), dtype=bool)
    if len(train) < 2:
        return out
    keys = [table.keys[k] for k in np.unique(table.pair_key)]
    values = np.stack([table.value_of(k)[train] for k in keys])
    both_nan = np.isnan(values[:, 1:]) & np.isnan(values[:, :-1])
    same = np.all((values[:, 1:] == values[:, :-1]) | both_nan, axis=0)
    loss_rows = [i for i, key in enumerate(keys) if K.is_loss_like(key) and not K.is_val_like(key)]
    nan_loss = both_nan[loss_rows].any(axis=0)
    batch, epoch = table.batch[train], table.epoch[train]
    same_counter = (batch[1:] == batch[:-1]) & (epoch[1:] == epoch[:-1])
    out[train[1:][same & ~(nan_loss & same_counter)]] = True
    return out


def _spread_stale_counters(table: Table, batches_of: int | None) -> bool:
    """Refreshes that repeat the bar's counter are consecutive steps when there are as many of them as
    the counter then moves on: `bar.set_postfix(loss=…)` refreshes at every step, while tqdm updates the
    counter it shows only every `mininterval`. True when most of the log fits that pattern (a step
    either way is allowed: two steps can show the same loss, and the closing refresh is clamped)."""
    training = _training_rows(table)
    train = np.flatnonzero(training & (table.batch != NONE))
    if len(train) < 2:
        return False
    epoch, batch = table.epoch[train], table.batch[train]
    starts = np.flatnonzero(np.concatenate([[True], (epoch[1:] != epoch[:-1]) | (batch[1:] != batch[:-1])]))
    ends = np.append(starts[1:], len(train))
    def next_counter(a: int, b: int) -> int | None:
        """The counter the bar showed next in the same epoch, or its total at the epoch's end."""
        if b < len(train) and epoch[b] == epoch[a]:
            return int(batch[b])
        return batches_of

    checked = [(a, b, nxt) for a, b in zip(starts, ends, strict=True) if (nxt := next_counter(a, b)) is not None]
    if not any(b - a > 1 for a, b, _ in checked):
        return False
    if np.mean([abs(nxt - int(batch[a]) - (b - a)) <= 1 for a, b, nxt in checked]) < 0.8:
        return False
    shifted = batch.copy()
    for a, b in zip(starts, ends, strict=True):
        nxt = next_counter(a, b)
        limit = nxt - 1 if nxt is not None else int(batch[a]) + (b - a) - 1
        shifted[a:b] = np.minimum(batch[a] + np.arange(b - a), max(limit, int(batch[a])))
    new_batch = table.batch.copy()
    new_batch[train] = shifted
    # a printed line (tqdm.write) sits after the training step the bar last reached
    others = np.flatnonzero(~training & (table.batch != NONE))
    if len(others):
        last = np.searchsorted(train, others) - 1
        ok = last >= 0
        new_batch[others[ok]] = new_batch[train[last[ok]]]
    table.batch = new_batch
    return True


def _assign_steps(table: Table, state: _State, facts: RunFacts) -> np.ndarray:
    """The step of each kept record, from whichever counters the log has."""
    if (table.step != NONE).any():
        if not _restarts_each_epoch(table):
            return np.where(table.step == NONE, 0, table.step)
        table.batch = np.where(table.batch == NONE, table.step, table.batch)  # `ep 3 it 12`: it counts batches
        table.step = np.full(len(table), NONE, dtype=np.int64)
    if (table.batch != NONE).any():
        return _batch_steps(table, state, facts)
    if (table.epoch != NONE).any():
        # one value of each key per epoch: an epoch-level log
        _, counts = np.unique(np.stack([table.epoch[table.pair_record], table.pair_key]), axis=1,
                              return_counts=True)
        if counts.max(initial=0) == 1:
            facts.step_unit = "epoch"
            facts.steps_per_epoch = 1.0
            return np.where(table.epoch == NONE, 0, table.epoch)
    logging_steps = state.facts.get("logging_steps")
    if logging_steps and logging_steps.isdigit() and int(logging_steps) > 0 and table.hf.any():
        return _hf_steps(table, int(logging_steps), facts)
    facts.notes.append("the log has no step counter; steps number the logged records in order")
    return np.arange(len(table), dtype=np.int64)


def _restarts_each_epoch(table: Table) -> bool:
    """Whether the step counter starts over at every new epoch (a batch index, not a global step)."""
    both = (table.step != NONE) & (table.epoch != NONE)
    step, epoch = table.step[both], table.epoch[both]
    if len(step) < 3:
        return False
    back = np.diff(step) < 0
    new_epoch = np.diff(epoch) != 0
    return bool(back.any()) and not (back & ~new_epoch).any() and back.sum() >= 0.8 * new_epoch.sum()


def _runs_on_across_epochs(table: Table) -> bool:
    """Whether an `n/N` counter read as the batch of the epoch never starts over when the epoch changes: then
    it counts the run's steps (`[ep 02/08] it 126/1000`), not the batches of each epoch."""
    both = (table.batch != NONE) & (table.epoch != NONE)
    batch, epoch = table.batch[both], table.epoch[both]
    new_epoch = np.diff(epoch) != 0
    return bool(new_epoch.any()) and bool(np.all(np.diff(batch) >= 0)) and bool(np.all(np.diff(batch)[new_epoch] > 0))


def _batch_steps(table: Table, state: _State, facts: RunFacts) -> np.ndarray:
    """Global step from (epoch, batch): batches per epoch from `batch n/N` or the largest batch seen."""
    if _runs_on_across_epochs(table):
        both = (table.batch != NONE) & (table.epoch != NONE)
        starts = table.batch[both][np.flatnonzero(np.diff(table.epoch[both]) != 0) + 1]
        if len(starts) >= 2:
            facts.steps_per_epoch = float(np.median(np.diff(starts)))
        facts.notes.append("the step counter runs on across epochs: it is the run's step, not the batch of the epoch")
        return np.where(table.batch == NONE, 0, table.batch)
    batches = table.batch[table.batch != NONE]
    zero_based = int(batches.min()) == 0
    size = state.batches_of or (int(batches.max()) + (1 if zero_based else 0))
    epochs = table.epoch[table.epoch != NONE]
    first_epoch = int(epochs.min()) if len(epochs) else 0
    facts.steps_per_epoch = float(size)
    epoch = np.where(table.epoch == NONE, first_epoch, table.epoch) - first_epoch
    batch = np.where(table.batch == NONE, 0, table.batch) - (0 if zero_based else 1)
    facts.notes.append(f"steps computed as epoch × {size} + the batch position within the epoch")
    return epoch * size + batch


def _hf_steps(table: Table, every: int, facts: RunFacts) -> np.ndarray:
    """HF Trainer dicts carry no step: the k-th train log is at k·logging_steps; eval logs are placed
    by their `epoch` value, interpolated between the train logs."""
    is_train = table.has_key("loss")
    epoch = table.value_of("epoch")
    steps = np.cumsum(is_train) * every
    known = is_train & ~np.isnan(epoch)
    known_epochs, known_steps = list(epoch[known]), [int(s) for s in steps[known]]
    out = np.zeros(len(table), dtype=np.int64)
    last = 0
    for i in range(len(table)):
        if is_train[i]:
            step = int(steps[i])
        elif not np.isnan(epoch[i]) and len(known_epochs) >= 2:
            step = _place(float(epoch[i]), known_epochs, known_steps)
        else:
            step = last
        out[i] = last = step
    facts.steps_per_epoch = steps_per_epoch(list(zip(known_steps, known_epochs, strict=True)), {})
    facts.notes.append(f"steps of the HF Trainer dicts rebuilt from logging_steps={every}; eval steps "
                       "placed by their epoch value")
    return out


def _place(epoch: float, epochs: list[float], steps: list[int]) -> int:
    """The step at which `epoch` was reached, interpolated (or extrapolated) from the train logs."""
    if epoch <= epochs[-1]:
        return round(float(np.interp(epoch, epochs, steps)))
    slope = (steps[-1] - steps[0]) / max(epochs[-1] - epochs[0], 1e-9)
    return round(steps[-1] + (epoch - epochs[-1]) * slope)


def _mean_window(loss_steps: np.ndarray) -> int:
    """The steps each logged mean covers: the logging interval, when the log keeps one (else 1)."""
    gaps = np.diff(np.unique(loss_steps))
    if len(gaps) < 5:
        return 1
    interval = int(np.median(gaps))
    return interval if interval > 1 and np.mean(gaps == interval) >= 0.8 else 1


def _set_facts(state: _State, table: Table, facts: RunFacts) -> None:
    known = state.facts
    try:
        rate = float(known.get("learning_rate", "nan"))
    except ValueError:
        rate = float("nan")
    if np.isfinite(rate) and rate > 0:
        facts.learning_rate = rate
    if known.get("optimizer"):
        facts.optimizer = known["optimizer"]
    for key in ("per_device_train_batch_size", "train_batch_size", "batch_size"):
        if known.get(key, "").isdigit() and int(known[key]) > 0:
            facts.batch_size = int(known[key])
            break
    if table.hf.any():
        facts.framework = "huggingface"
        if known.get("logging_steps", "").isdigit() and int(known["logging_steps"]) > 0:
            facts.loss_window = int(known["logging_steps"])
        facts.nan_filtered = known.get("logging_nan_inf_filter", "True") != "False"
        facts.notes.append("HF Trainer logs: each loss is the mean over logging_steps steps (one-step spikes "
                           "are diluted)" + ("; NaN/inf losses are replaced by the window mean unless "
                                             "logging_nan_inf_filter=False" if facts.nan_filtered else ""))
    elif state.mlflow:
        facts.notes.append("an MLflow metric file (timestamp, value, step per line): its one series is read "
                           "as the training loss")
    elif state.keras:
        facts.framework = "keras"
        facts.notes.append("Keras progress bars show running means; only the end-of-epoch line is used")
