"""Statistics of gradients, weights, updates and Adam's state, computed on the device without a host sync.

Every function returns tensors that stay where the parameters live (float32); nothing here calls
`.item()`, `float()` or `.cpu()`. The recorder copies them to the host in one batch every N steps.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

Params = Sequence[torch.Tensor]


def foreach_norms32(tensors: Sequence[torch.Tensor]) -> list[torch.Tensor]:
    """Per-tensor 2-norms as float32 device scalars, in one fused kernel per device and dtype.

    `_foreach_norm(..., dtype=float32)` refuses float64 inputs (it will not narrow), so a model in double
    precision takes their norms in float64 and casts each one: a kernel more per tensor, only there.
    """
    tensors = list(tensors)
    try:
        return list(torch._foreach_norm(tensors, 2, dtype=torch.float32))
    except RuntimeError:
        if not any(t.dtype in (torch.float64, torch.complex128) for t in tensors):
            raise
        return [norm.to(torch.float32) for norm in torch._foreach_norm(tensors, 2)]


def _norms(tensors: Sequence[torch.Tensor]) -> torch.Tensor:
    """Per-tensor 2-norms as one float32 vector (one fused kernel per device and dtype)."""
    if any(t.requires_grad for t in tensors):  # gradients of create_graph=True: build no graph here
        with torch.no_grad():
            return torch.stack(foreach_norms32(tensors))
    return torch.stack(foreach_norms32(tensors))


def grad_norms(params: Params) -> tuple[torch.Tensor, torch.Tensor] | None:
    """(global norm, per-parameter norms) of the current `.grad`s; absent grads count as 0.

    None when no parameter has a gradient. A NaN/inf anywhere shows in the global norm and in the
    per-parameter vector, which is how non-finite gradients are flagged.
    """
    present = [i for i, p in enumerate(params) if p.grad is not None]
    if not present:
        return None
    grads = [params[i].grad for i in present]
    dense = [g if not g.is_sparse else g.coalesce().values() for g in grads]
    found = _norms(dense)
    if len(present) == len(params):
        per = found
    else:
        per = torch.zeros(len(params), dtype=torch.float32, device=found.device)
        per[torch.tensor(present, device=found.device)] = found
    return torch.linalg.vector_norm(per), per


def grad_norm_list(params: Params) -> list[torch.Tensor] | torch.Tensor | None:
    """The norm of each parameter's `.grad` (absent grads count as 0); None if none has one.

    The common case (every gradient present, dense, built without a graph) is one `_foreach_norm` whose
    device scalars are kept as they are (they are stacked once per flush, not once per step); anything
    else takes the general path of `grad_norms` and gives one vector.
    """
    try:
        return foreach_norms32([p.grad for p in params])
    except Exception:  # an absent, sparse or graph-carrying gradient
        found = grad_norms(params)
        return None if found is None else found[1]


class UpdateMeter:
    """|Δw| of one optimizer step and |w| after it: snapshot before the step, difference after.

    Keeps one copy of the parameters (allocated once) so that the update of any optimizer is measured
    exactly, Adam's included, instead of being guessed from `lr * grad`.
    """

    def __init__(self) -> None:
        self._before: list[torch.Tensor] | None = None
        self._armed = False

    def before(self, params: Params) -> None:
        with torch.no_grad():  # the parameters as they are: no detached views to build per call
            if self._before is None or len(self._before) != len(params):
                self._before = [p.detach().clone() for p in params]
            else:
                torch._foreach_copy_(self._before, list(params))
        self._armed = True

    def after(self, params: Params) -> tuple[torch.Tensor, torch.Tensor] | None:
        """(update norm, weight norm) of the step just taken, or None without a snapshot."""
        if not self._armed or self._before is None:
            return None
        self._armed = False
        live = list(params)
        with torch.no_grad():
            torch._foreach_sub_(self._before, live)  # the snapshot now holds before − after
            # both norms in one fused call: the differences first, then the weights
            norms = torch.stack(foreach_norms32(self._before + live))
            n = len(live)
            return torch.linalg.vector_norm(norms[:n]), torch.linalg.vector_norm(norms[n:])

    def weight_norm(self, params: Params) -> torch.Tensor:
        with torch.no_grad():
            return torch.linalg.vector_norm(_norms([p.detach() for p in params]))


#: Names of the Adam statistics, in the order `adam_stats` returns them.
ADAM_STATS = ("adam_sqrt_v_over_eps", "adam_v_below_eps", "adam_effective_lr")


def is_adam_family(optimizer: torch.optim.Optimizer | None) -> bool:
    """Adam, AdamW, NAdam, RAdam…: optimizers whose step divides by sqrt(v̂) + eps."""
    if optimizer is None:
        return False
    group = optimizer.param_groups[0] if optimizer.param_groups else {}
    return "eps" in group and "betas" in group


def adam_stats(optimizer: torch.optim.Optimizer) -> torch.Tensor | None:
    """[mean √v̂ / eps, share of elements with √v̂ < eps, mean lr / (√v̂ + eps)] over all elements.

    Why these settle the near-convergence question: while √v̂ ≫ eps, Adam's step stays about `lr` however
    small the gradient gets, so the effective step size lr/(√v̂+eps) grows as the loss approaches zero;
    when √v̂ falls to eps, eps takes over and damps it. Computed every few steps only, a handful of kernels
    per parameter group (its second moments are flattened into one vector first).
    """
    sums: list[torch.Tensor] = []
    count = 0
    with torch.no_grad():
        for group in optimizer.param_groups:
            eps, lr = float(group.get("eps", 1e-8)), group.get("lr", 0.0)
            beta2 = float(group["betas"][1])
            if isinstance(lr, torch.Tensor):
                lr = lr.detach()
            states = [optimizer.state.get(p, {}) for p in group["params"]]
            found = [(st["exp_avg_sq"], st["step"]) for st in states if "exp_avg_sq" in st and "step" in st]
            if not found:
                continue
            v = torch.cat([sq.detach().reshape(-1).float() for sq, _ in found])
            # bias correction as a tensor op: reading `step` on the host would sync when it lives on the GPU
            step = found[0][1]
            t = step.detach().float() if isinstance(step, torch.Tensor) else torch.tensor(float(step))
            correction = (1.0 - torch.pow(beta2, t)).clamp_min(1e-30).to(v.device)
            root = v.div_(correction).sqrt_()
            sums.append(torch.stack([root.sum() / eps, (root < eps).sum().float(),
                                     (lr / (root + eps)).sum()]))
            count += v.numel()
    if not sums:
        return None
    return torch.stack(sums).sum(0) / max(count, 1)
