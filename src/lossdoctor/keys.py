"""How logged metric names become the canonical series names that checks rely on.

The rule, applied by every reader:

1. **Normalise** a key: lower-case it and turn ``/``, ``.``, ``-`` and spaces into ``_``
   (runs of ``_`` collapse, leading/trailing ``_`` go). ``train/loss`` and ``Train Loss`` both
   become ``train_loss``; ``lr-AdamW`` becomes ``lr_adamw``.
2. **Look it up** in the ordered alias table `ALIASES` below. Each canonical name (``loss``,
   ``val_loss``, ``lr``, ``grad_norm``, ``batch_size``, ``epoch``) lists its aliases best first.
3. **The best alias wins**: when several keys of one log map to the same canonical name, the one that
   comes earliest in that name's list becomes the canonical series; the others keep their original name.
   Per-epoch aggregates (``*_epoch``) sit at the end of the lists, so they never beat a per-step series.
4. **No train-loss alias at all?** A key containing ``loss`` that is not validation-like (``val``,
   ``valid``, ``eval``, ``test``, ``dev``) becomes ``loss``, per-step keys before ``*_epoch`` ones; and
   when a log holds only loss *components* (``train/box_loss``, ``train/obj_loss`` … as YOLO writes
   them), their sum is the loss (the total YOLO optimises); likewise ``val/*_loss`` for ``val_loss``.
5. **``--loss-key`` overrides** all of this: that key (matched as written, or after normalising)
   becomes ``loss``.
6. Every key that is not canonical keeps its **original name** as the series name.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from functools import lru_cache

from lossdoctor.run import BATCH_SIZE, EPOCH, GRAD_NORM, LOSS, LR, VAL_LOSS

_SEPARATORS = re.compile(r"[/.\-\s]+")
_UNDERSCORES = re.compile(r"_+")

#: Canonical name -> aliases (normalised), best first. Entries starting with ``re:`` are patterns.
ALIASES: dict[str, tuple[str, ...]] = {
    LOSS: (
        "loss", "train_loss", "loss_train", "training_loss", "train_loss_step", "loss_step",
        "trainer_loss", "train_total_loss", "total_loss", "train_loss_total", "loss_total",
        "train_epoch_loss_step", "train_loss_epoch", "loss_epoch", "training_loss_epoch",
        "train", "training",  # a hand-written `epoch,train,valid` table of losses
    ),
    VAL_LOSS: (
        "val_loss", "eval_loss", "valid_loss", "validation_loss", "loss_val", "loss_valid",
        "loss_validation", "loss_eval", "val_total_loss", "eval_total_loss", "test_loss", "loss_test",
        "val_loss_step", "val_loss_epoch", "valid_loss_epoch", "validation_loss_epoch", "test_loss_epoch",
        "valid", "val", "validation", "eval", "test", "dev",
    ),
    LR: (
        "lr", "learning_rate", "train_learning_rate", "train_lr", "trainer_lr", "optimizer_lr",
        "x_lr0", "lr_pg0", "lr0", "re:lr_[a-z]\\w*", "learning_rate_0", "lr_0",
    ),
    GRAD_NORM: (
        "grad_norm", "gradient_norm", "train_grad_norm", "train_gradient_norm", "total_grad_norm",
        "grad_norm_total", "grad_2_0_norm_total", "gnorm", "gradnorm", "train_gnorm", "train_gradnorm", "grad_norm_2",
        "gradients_global_norm", "global_grad_norm", "grad_global_norm", "global_norm", "grads_norm",
    ),
    BATCH_SIZE: ("batch_size", "train_batch_size", "bs", "train_bs", "global_batch_size"),
    EPOCH: ("epoch", "train_epoch", "trainer_epoch", "epochs", "ep", "current_epoch",
            # a namespaced counter (`Meta/epoch`, `progress/epoch`, `epoch_idx`), never a per-epoch metric
            r"re:(?:meta|info|progress|training|misc|stats|general|charts|system|state)_epoch",
            r"re:epoch_(?:idx|index|num|number|no)"),
}

_VAL_WORDS = re.compile(r"(^|_)(val|valid|validation|eval|evaluation|test|tst|dev|held_out|heldout|holdout)(_|$)")
#: `train/box_loss`, or bare `box_loss` beside `obj_loss` (a console table): the parts of a total loss.
_TRAIN_COMPONENT = re.compile(r"^(?:(?:train|training)_)?\w+_loss$")
_VAL_COMPONENT = re.compile(r"^(val|valid|validation)_\w+_loss$")


@lru_cache(maxsize=8192)  # a log repeats a few keys on millions of lines
def normalise(key: str) -> str:
    """Lower-case and unify separators, so one alias covers `train/loss`, `Train Loss`, `train.loss`."""
    key = _SEPARATORS.sub("_", key.strip().lower())
    return _UNDERSCORES.sub("_", key).strip("_")


def alias_rank(canonical: str, key: str) -> int | None:
    """Position of `key` in the alias list of `canonical`, or None when it is not an alias."""
    norm = normalise(key)
    for rank, alias in enumerate(ALIASES[canonical]):
        if alias.startswith("re:"):
            if re.fullmatch(alias[3:], norm):
                return rank
        elif norm == alias:
            return rank
    return None


def is_val_like(key: str) -> bool:
    """True for validation/eval/test keys, which never stand in for the training loss."""
    return bool(_VAL_WORDS.search(normalise(key)))


def find_key(keys: Iterable[str], wanted: str) -> str | None:
    """The key equal to `wanted` as written, else the one equal after normalising."""
    keys = list(keys)
    if wanted in keys:
        return wanted
    norm = normalise(wanted)
    return next((k for k in keys if normalise(k) == norm), None)


def loss_components(keys: Iterable[str], *, val: bool = False) -> list[str]:
    """Keys that are parts of a total loss (`train/box_loss`…), whose sum is the loss."""
    if val:
        return [k for k in keys if _VAL_COMPONENT.match(normalise(k))]
    return [k for k in keys if _TRAIN_COMPONENT.match(normalise(k)) and not is_val_like(k)]


#: Names of what a training loop minimises when it does not call it a loss (`mse`, `train_nll`, `cost`).
_OBJECTIVES = re.compile(r"^(?:train_|training_)?(?:mse|rmse|mae|nll|bce|ce|xent|cross_entropy|crossentropy|"
                         r"neg_log_likelihood|objective|cost|elbo_loss|kl|huber|smooth_l1|info_?nce|nt_?xent|"
                         r"contrastive|triplet|hinge|dice|focal)(?:_train|_training)?(?:_step)?$")


def is_loss_like(key: str) -> bool:
    """A key that holds a loss: it says `loss`, or names an objective (`mse`, `train_nll`, `cost`…)."""
    norm = normalise(key)
    evaluated = _VAL_WORDS.sub("_", norm).strip("_")  # `val_mse`: the objective, evaluated
    return "loss" in norm or bool(_OBJECTIVES.match(norm)) or bool(_OBJECTIVES.match(evaluated))


#: An objective's name as one part of a longer key (`metrics/train/xent`, `objective/mse_sum`, `train/ordinal_nll`).
_OBJECTIVE_WORDS = {"mse", "rmse", "mae", "nll", "bce", "xent", "cross_entropy", "crossentropy", "objective", "cost",
                    "elbo", "huber", "nce", "infonce", "triplet", "hinge", "dice", "focal", "ce"}
_TRAIN_WORDS = {"train", "training", "trn"}


def _names_objective(norm: str) -> bool:
    parts = norm.split("_")
    pairs = {"_".join(parts[i : i + 2]) for i in range(len(parts) - 1)}
    return bool(_OBJECTIVE_WORDS & (set(parts) | pairs))


def _without_side(norm: str) -> str:
    """The key less its train/validation words: `metrics_train_xent` and `metrics_eval_xent` both give
    `metrics_xent`."""
    return "_".join(p for p in _VAL_WORDS.sub("_", norm).split("_") if p and p not in _TRAIN_WORDS)


def fallback_loss_key(keys: Iterable[str]) -> str | None:
    """A train-side key that contains `loss` when no alias matched (per-step before `*_epoch`), else one that
    names an objective (`mse`, `nll`, `cost`…), whole or as one part of the key (training keys first)."""
    keys = list(keys)
    found = [k for k in keys if "loss" in normalise(k) and not is_val_like(k)]
    found.sort(key=lambda k: normalise(k).endswith("_epoch"))
    if found:
        return found[0]
    objectives = [k for k in keys if _OBJECTIVES.match(normalise(k))]
    if objectives:
        return objectives[0]
    parts = [k for k in keys if not is_val_like(k) and _names_objective(normalise(k))]
    parts.sort(key=lambda k: (not set(normalise(k).split("_")) & _TRAIN_WORDS, len(normalise(k))))
    return parts[0] if parts else None


def fallback_val_loss_key(keys: Iterable[str], loss_key: str | None) -> str | None:
    """A validation key that names the training loss's objective (`val_mse` beside `train_mse`), else one
    that names any objective: an evaluation of what the loop minimises."""
    candidates = []
    own_parts = set(normalise(loss_key).split("_")) - {"loss", "train", "training"} if loss_key else set()
    for key in keys:
        norm = normalise(key)
        if not is_val_like(key):
            continue
        rest = _VAL_WORDS.sub("_", norm).strip("_")
        # `val_total` beside `total_loss`: the evaluated form of the training loss's own name
        if _OBJECTIVES.match(rest) or rest in ("loss", "objective") or (rest and rest in own_parts):
            candidates.append((rest, key))
    if not candidates and loss_key:  # `metrics/eval/xent` beside `metrics/train/xent`: the same name, other side
        own_rest = _without_side(normalise(loss_key))
        candidates = [(own_rest, k) for k in keys if is_val_like(k) and _without_side(normalise(k)) == own_rest]
    if not candidates:
        return None
    own = normalise(loss_key) if loss_key else ""
    same = [key for rest, key in candidates if own.endswith(rest)]
    return (same or [key for _, key in candidates])[0]


#: The last part of a key that holds the learning rate or the gradient norm under a prefix (`metrics/opt/lr`,
#: `optim/gnorm_l2`), when no alias matches.
_LR_TAIL = re.compile(r"(?:^|_)(?:lr|learning_rate)$")
_GRAD_NORM_PART = re.compile(r"(?:^|_)(?:gnorm|grad_norm|gradnorm|gradient_norm)(?:_l2|_2|_total)?$")


def fallback_key(keys: Iterable[str], canonical: str) -> str | None:
    """A key that holds the LR or the gradient norm under a prefix of its own, when no alias matched."""
    pattern = {LR: _LR_TAIL, GRAD_NORM: _GRAD_NORM_PART}.get(canonical)
    if pattern is None:
        return None
    found = [k for k in keys if pattern.search(normalise(k)) and not is_val_like(k)]
    return found[0] if len(found) == 1 else None


def assign(keys: Iterable[str], *, loss_key: str | None = None) -> dict[str, str]:
    """Map each canonical name to the original key that provides it (best alias wins).

    `loss_key`, when given, must be one of `keys` (callers check) and provides `loss`.
    Loss components and the fallback are not decided here (see `readers._build`).
    """
    keys = list(keys)
    chosen: dict[str, str] = {}
    taken: set[str] = set()
    if loss_key is not None:
        chosen[LOSS] = loss_key
        taken.add(loss_key)
    for canonical in ALIASES:
        if canonical in chosen:
            continue
        best: tuple[int, str] | None = None
        for key in keys:
            if key in taken:
                continue
            rank = alias_rank(canonical, key)
            if rank is not None and (best is None or rank < best[0]):
                best = (rank, key)
        if best is not None:
            chosen[canonical] = best[1]
            taken.add(best[1])
    for canonical in (LR, GRAD_NORM):
        if canonical not in chosen:
            key = fallback_key([k for k in keys if k not in taken], canonical)
            if key is not None:
                chosen[canonical] = key
                taken.add(key)
    return chosen
