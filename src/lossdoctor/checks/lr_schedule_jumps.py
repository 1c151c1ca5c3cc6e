"""The loss jumps exactly where the logged learning rate jumps: the schedule, not a fault."""

from __future__ import annotations

import numpy as np

from ..findings import Finding
from ..signals import RunSignals, fmt
from . import check
from ._restart_shape import RestartShape, restart_shape

#: A loss level change must exceed this many standard errors to count as following the LR jump.
MIN_SE = 3.0
#: Points on each side of a jump used for the local fits, at most.
MAX_WINDOW = 100
#: A loss that leaves its course at a jump must do so by this many standard deviations of the rank test.
MIN_COURSE_Z = 3.0
#: Logged points on each side of an LR drop over which the loss's slope before and after are compared:
#: enough for a slope to stand out of batch noise, short enough to stay with the drop.
TURN_WINDOW = 20
#: Standard errors by which the loss's slope must fall at an LR drop (and fall below zero) to count.
MIN_TURN_T = 3.0
#: Wider windows for a turn that takes longer to show through heavy batch noise (a loss that wandered up for
#: an epoch at a high LR and falls for the epochs after the drop). Each is tried only where both sides have
#: room; looking at three more windows raises the bar (as a Bonferroni correction would): on noise runs with
#: idle LR drops, the four windows at this bar fire about as often as the first alone does at MIN_TURN_T.
WIDE_TURN_WINDOWS = (40, 60, 80)
MIN_WIDE_TURN_T = 3.5
#: Once one jump of the schedule clearly moves the loss, another jump in the same direction counts at this
#: many standard errors: the schedule is established, and a jump while the loss still falls fast has wider ones.
MIN_SE_ONCE_ESTABLISHED = 2.0
#: Jumps of one kind it takes to pool their evidence.
MIN_POOLED = 3


def _course_change(sig: RunSignals, i: int, left: int, right: int, up: bool, gap: int = 0) -> float | None:
    """The shift when the loss leaves its course at point i in the direction the LR change predicts.

    A lower LR lets the loss fall below the course it was on (a plateau that starts falling again);
    a higher LR (a warm restart) throws it above, and then also above the level just before the jump,
    since the fast early fall of a run bends upwards away from a straight course by itself.
    """
    found = sig.course_change(i, left, right, gap)
    if found is None:
        return None
    z, shift = found
    visible = np.log10(1.05) if sig.log_space else 0.25 * sig.step_noise
    if up:
        w = min(left - gap, right, 20)
        if z < MIN_COURSE_Z or np.median(sig.y[i : i + w]) <= np.median(sig.y[i - gap - w : i - gap]) + visible:
            return None
    elif z > -MIN_COURSE_Z:
        return None
    return shift if abs(shift) >= visible else None


def _turn(sig: RunSignals, i: int, left: int, right: int, gap: int = 0) -> tuple[float, float, int] | None:
    """(change before, change after, points) when the loss turns down at an LR drop at point i; each change is
    the median of the second half of its window against that of the first, for the evidence.

    At a high LR the loss can stall or climb; a lower LR lets it fall again. Where the two straight lines
    meet there is no step, so only the slopes tell. Drops only: the fast early fall of a run flattens by
    itself, which would read as a turn up at a warm restart.
    """
    tries = [(min(TURN_WINDOW, left - gap, right), MIN_TURN_T)]
    tries += [(w, MIN_WIDE_TURN_T) for w in WIDE_TURN_WINDOWS if w <= min(left - gap, right)]
    for width, bar in tries:
        found = sig.slope_change(i, width, gap)
        if found is not None and found[1] < 0 and found[1] - found[0] <= -bar * found[2]:
            break
    else:
        return None
    half = width // 2

    def halves(part: np.ndarray) -> float:
        return float(np.median(part[-half:]) - np.median(part[:half]))

    return halves(sig.y[i - gap - width : i - gap]), halves(sig.y[i : i + width]), width


def _pooled(jumps: list[tuple[int, float, float]], shifts: list[tuple[float, float] | None]) -> list:
    """Jumps of one kind (all up, or all down) that each move the loss too little to tell, but together do: their
    level changes in the direction the LR predicts, summed in standard errors (Stouffer), reach MIN_SE. A schedule
    that restarts every few hundred steps repeats one small kick; no single kick need stand out of the noise."""
    found = []
    for up in (True, False):
        group = [(j, shifts[k]) for k, j in enumerate(jumps) if (j[2] > j[1]) == up and shifts[k] is not None]
        if len(group) < MIN_POOLED:
            continue
        t = np.array([(1 if up else -1) * c / se for _, (c, se) in group])
        if t.sum() / np.sqrt(len(t)) >= MIN_SE:
            found += [(step, b, a, c) for ((step, b, a), (c, _)), tk in zip(group, t, strict=True) if tk > 0]
    return found


def _size(sig: RunSignals, delta: float) -> str:
    return f"×{fmt(10**delta)}" if sig.log_space else f"{delta:+.3g}"


@check("lr_schedule_jumps", "benign", "loss jumps where the LR schedule jumps (expected)")
def lr_schedule_jumps(sig: RunSignals) -> Finding | None:
    """Fires when the logged LR jumps (step decay, warm restarts) and the loss level changes at the
    same steps by more than three standard errors (local line fits on each side), leaves the
    course it was on in the direction the LR change predicts (a robust rank test, three sigmas), or,
    at a drop, turns down: its slope falls below zero and by three standard errors.

    A drop of the LR lets the loss settle lower at once; a warm restart kicks it up. Both are the
    schedule doing its job. False positives: a loss change that coincides with an LR jump by chance
    (a data change at the same step), which the evidence lets you check.
    """
    jumps = sig.lr_jumps
    if not jumps and sig.n >= 20:
        restarts = restart_shape(sig)
        return _restart_finding(sig, restarts) if restarts is not None else None
    if not jumps or sig.n < 20:
        return None
    # Where the log cannot say which rate the point at a change was trained at, it belongs to neither side.
    gap = int(sig.run.facts.lr_change_point_ambiguous)
    idx = [min(int(np.searchsorted(sig.steps, s)) + gap, sig.n) for s, _, _ in jumps]
    bounds = [0, *idx, sig.n]
    followed, shifts = [], []
    turns: dict[int, str] = {}  # jumps found by the loss turning down: how, in words
    for k, (step, before, after) in enumerate(jumps):
        i = idx[k]
        # Each side runs up to the neighbouring jump: the loss between two jumps answers to the LR there.
        left = min(MAX_WINDOW, i - bounds[k])
        right = min(MAX_WINDOW, bounds[k + 2] - i - (gap if k + 1 < len(jumps) else 0))
        change = sig.level_shift(i, left, right, gap)
        shifts.append(change)
        if change is not None and abs(change[0]) > MIN_SE * change[1]:
            followed.append((step, before, after, change[0]))
            continue
        course = _course_change(sig, i, left, right, up=after > before, gap=gap)
        if course is not None:
            followed.append((step, before, after, course))
            continue
        turn = _turn(sig, i, left, right, gap) if after < before else None
        if turn is not None:
            change_before, change_after, width = turn
            turns[step] = (
                f"the loss turned down: it went {_size(sig, change_before)} over the {width} logged points"
                f" before the drop and {_size(sig, change_after)} over the {width} after"
                " (median of each window's second half against its first)"
            )
            followed.append((step, before, after, change_after - change_before))
    followed += [f for f in _pooled(jumps, shifts) if all(f[0] != g[0] for g in followed)]
    if not followed:
        return None
    for k, (step, before, after) in enumerate(jumps):
        change = shifts[k]
        if any(f[0] == step for f in followed) or change is None:
            continue
        same_way = any((a < b) == (after < before) and np.sign(d) == np.sign(change[0]) for _, b, a, d in followed)
        if same_way and abs(change[0]) > MIN_SE_ONCE_ESTABLISHED * change[1]:
            followed.append((step, before, after, change[0]))
    followed.sort()
    evidence = []
    for step, before, after, delta in followed[:6]:
        how = turns.get(step) or f"the loss level changed {_size(sig, delta)}"
        evidence.append(f"at step {step} the LR went {fmt(before)} → {fmt(after)} and {how}")
    if len(followed) > 6:
        evidence.append(f"… and {len(followed) - 6} more jumps")
    evidence.append(f"{len(followed)} of {len(jumps)} LR jumps move the loss; between them it follows its trend")
    ups = sum(1 for _, b, a, _ in followed if a > b)
    return Finding(
        id="lr_schedule_jumps",
        severity="benign",
        confidence=0.85 if len(followed) >= max(1, len(jumps) // 2) else 0.6,
        title="The loss jumps where the learning-rate schedule jumps (expected)",
        evidence=evidence,
        fix=[
            "# nothing to fix: the schedule changes the step size and the loss follows.",
            *(
                [
                    "# if the jumps up at warm restarts hurt, restart lower or less often:",
                    "CosineAnnealingWarmRestarts(optimizer, T_0=T, T_mult=2, eta_min=lr / 100)",
                ]
                if ups
                else []
            ),
        ],
        steps=[s for s, *_ in followed],
    )


def _restart_finding(sig: RunSignals, found: RestartShape) -> Finding:
    """Warm restarts seen in the loss of a log that does not record its learning rate."""
    info = found.folded.info
    evidence = [
        f"in {found.falling} of {found.periods} periods of {fmt(info.length)} steps (inferred from how the loss"
        " repeats; the log marks no epochs) the loss is kicked up"
        f" at the period's start and falls ×{fmt(10 ** found.fall)} through it (median; its first three tenths"
        " against its last three)",
        "shape by tenths of the period: " + " ".join(f"{x:+.3f}" for x in found.shape) + " (log10 residual)",
        "a steady fall, not one step (a mode switch) and not the same batches in the same order (the periods do not"
        " repeat point by point): the shape of a warm-restart schedule, which raises the LR at each restart and"
        " anneals it",
        "the log has no learning-rate series: log the LR to confirm (a restart is where it jumps up)",
    ]
    return Finding(
        id="lr_schedule_jumps",
        severity="benign",
        confidence=0.55,
        title="The loss is kicked up at every restart of the schedule and falls as the LR anneals (expected)",
        evidence=evidence,
        fix=[
            "# nothing to fix: each restart raises the step size and the loss follows it.",
            "# if the kicks hurt, restart lower or less often:",
            "CosineAnnealingWarmRestarts(optimizer, T_0=T, T_mult=2, eta_min=lr / 100)",
        ],
        steps=[int(s) for s in info.starts[:200]],
    )
