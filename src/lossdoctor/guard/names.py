"""Names shared by the guard and the readers (torch-free): the log file and its series."""

from __future__ import annotations

#: The file name `lossdoctor diagnose` looks for next to a training log.
GUARD_LOG = "lossdoctor_guard.jsonl"
#: Series the guard records per step, in row order: grad norm before clipping, clip factor applied
#: (1 = none), 1 when the update was skipped (2 when the previous update was undone with it), LR scale,
#: and the loss it saw.
COLUMNS = ("guard_grad_norm", "guard_clip", "guard_skip", "guard_lr_scale", "guard_loss")
