"""Prescriptions: the fix for a cause as code for the run's framework, with numbers computed from the run.

A check knows *what* is wrong; a prescription says *what to write*, in the idiom of the framework the
log came from (PyTorch, Hugging Face `Trainer`, Lightning, Keras), with the values taken from the run
itself: the clipping threshold from the logged gradient norms, the accumulation factor from the
measured gradient noise (or the loss scatter), the batch size and the short last batch from the run's
facts, the LR from the logged LR. `basis` says where each number came from. Torch-free.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from .run import BATCH_SIZE, GRAD_NORM, GRADIENT_NOISE_SCALE, LR, Run
from .signals import robust_std, rolling_median, trend_window

#: Step-to-step scatter of the loss that accumulation aims for.
TARGET_SCATTER = 0.10
#: Clip at this multiple of the median gradient norm: typical steps pass, spikes are cut.
CLIP_OVER_MEDIAN = 2.0
#: ...and never below this percentile of it: the clip is for blow-ups, and leaves at least this share of steps alone.
CLIP_LEAVES_ALONE = 90.0
_FRAMEWORKS = {"huggingface": "hf", "lightning": "lightning", "keras": "keras"}
_LABELS = {"torch": "plain PyTorch", "hf": "Hugging Face Trainer", "lightning": "Lightning", "keras": "Keras"}


@dataclass
class Prescription:
    """The fix for one cause: code per framework, the numbers in it, and how they were computed."""

    cause: str
    framework: str  # "torch", "hf", "lightning" or "keras": the run's own
    numbers: dict[str, float] = field(default_factory=dict)
    basis: list[str] = field(default_factory=list)
    code: dict[str, list[str]] = field(default_factory=dict)

    def lines(self) -> list[str]:
        """The run's framework first; the plain PyTorch form after it, since any loop can use it."""
        own = self.code.get(self.framework) or self.code["torch"]
        out = list(own)
        if self.framework != "torch":
            out += ["# in a plain PyTorch loop:", *self.code["torch"]]
        return out + [f"# {line}" for line in self.basis]


def framework_of(run: Run) -> str:
    return _FRAMEWORKS.get((run.facts.framework or "").lower(), "torch")


def num(x: float) -> str:
    """Two significant digits, scientific as people write it in code (`1e-5`, `3e-4`, `0.25`, `12`)."""
    if x == 0 or not math.isfinite(x):
        return repr(float(x))
    if abs(x) < 1e-3 or abs(x) >= 1e4:
        mantissa, exponent = f"{x:.1e}".split("e")
        mantissa = mantissa.rstrip("0").rstrip(".")
        return f"{mantissa}e{int(exponent)}"
    return f"{float(f'{x:.2g}'):g}"


def _finite(run: Run, name: str) -> np.ndarray:
    series = run.get(name)
    if series is None:
        return np.array([])
    values = series.values
    return values[np.isfinite(values)]


#: What the Hugging Face Trainer clips the gradient norm to unless `max_grad_norm` is set.
HF_DEFAULT_MAX_GRAD_NORM = 1.0


#: A gradient norm that never again comes below this multiple of its median so far has run away for good.
RUNAWAY_OVER_MEDIAN = 10.0


def norms_before_runaway(norms: np.ndarray) -> np.ndarray:
    """The norms up to where they run away for good (never again below RUNAWAY_OVER_MEDIAN times their median
    until then, over at least the last twentieth of the run), or all of them. After a fatal blow-up every norm
    is huge, and a percentile over them clipped nothing (red-team 21a r08: max_norm=8e15 for a run that had lived
    at 0.2)."""
    if len(norms) < 20:
        return norms
    lowest_from = np.minimum.accumulate(norms[::-1])[::-1]
    stride = max(1, len(norms) // 20_000)  # the medians of a long log's prefixes from every stride-th norm
    last = len(norms) - max(10, len(norms) // 20)  # a runaway lasts: a spike on the last steps is none
    for cut in np.unique(np.linspace(10, last, 200).astype(int)) if last > 10 else []:
        if lowest_from[cut] > RUNAWAY_OVER_MEDIAN * float(np.median(norms[: cut : stride])):
            return norms[:cut]
    return norms


def clip_threshold(run: Run) -> tuple[float, str]:
    """(max_norm, why): twice the median logged gradient norm, or the common 1.0 without one."""
    norms = _finite(run, GRAD_NORM)
    norms = norms_before_runaway(norms[norms > 0])
    if len(norms) < 10:
        return 1.0, "max_norm=1.0: the common default (log the gradient norm and lossdoctor computes it)"
    median = float(np.median(norms))
    # Never below the 90th percentile: a norm that fell through training has most of its early steps above twice
    # the run's median, and a clip there would cut a third of the steps, not the blow-ups (red-team 19a r07).
    high = float(np.percentile(norms, CLIP_LEAVES_ALONE))
    threshold = float(num(max(CLIP_OVER_MEDIAN * median, high)))
    if framework_of(run) == "hf" and threshold > HF_DEFAULT_MAX_GRAD_NORM:
        # The Trainer's logged norms are before clipping, and it clips at 1.0 unless told otherwise: never
        # prescribe a looser clip than the one that was (by default) already acting.
        return HF_DEFAULT_MAX_GRAD_NORM, (
            f"max_norm=1.0: the Trainer's default, tighter than {CLIP_OVER_MEDIAN:g}× the median logged norm "
            f"{num(median)} (logged before clipping): keep it (a larger max_grad_norm, or 0, lets the blow-ups"
            " through)")
    above = float(np.mean(norms > threshold))
    basis = (f"{CLIP_OVER_MEDIAN:g}× the median gradient norm {num(median)}" if CLIP_OVER_MEDIAN * median >= high
             else f"the {CLIP_LEAVES_ALONE:g}th percentile of the gradient norm ({CLIP_OVER_MEDIAN:g}× its median"
                  f" {num(median)} would cut more than a tenth of the steps, not just the blow-ups)")
    return threshold, (f"max_norm={num(threshold)}: {basis}; {above:.1%} of steps exceed it, the largest"
                       f" ({num(float(norms.max()))}) by {float(norms.max()) / threshold:.3g}×")


#: Most batches per update the loss scatter alone prescribes: beyond it the run makes too few updates.
MAX_ACCUMULATION = 16


def accumulation_steps(run: Run) -> tuple[int, str]:
    """(k, why): from the recorded gradient noise scale when there is one, else from the loss scatter."""
    batch = batch_size_of(run)
    noise = _finite(run, GRADIENT_NOISE_SCALE)
    if len(noise) and batch:
        b_noise = float(np.median(noise[-max(1, len(noise) // 2):]))
        k = int(np.clip(math.ceil(b_noise / batch), 1, 256))
        return k, (f"k={k}: the measured gradient noise scale is {num(b_noise)} samples (median over the second "
                   f"half), {num(b_noise / batch)}× the batch of {batch}; below it, steps are mostly noise")
    loss = run.get("loss")
    values = loss.values[np.isfinite(loss.values) & (loss.values > 0)] if loss is not None else np.array([])
    if len(values) < 20:
        return 4, "k=4: too few loss points to measure the noise"
    logs = np.log10(values)
    decades = robust_std(logs - rolling_median(logs, trend_window(len(logs))))
    window = max(1, run.facts.loss_window)
    single = decades * math.sqrt(window)  # a logged mean over `window` steps hides sqrt(window) of it
    wanted = math.ceil((single / math.log10(1 + TARGET_SCATTER)) ** 2)
    k = int(np.clip(wanted, 2, MAX_ACCUMULATION))
    shown = 10**single - 1
    averaged = f" (each logged point averages {window} steps)" if window > 1 else ""
    capped = (f"; {wanted} would reach ±{TARGET_SCATTER:.0%}, but that many batches per update cost as many times"
              " fewer updates: for a benign scatter, smoothing the displayed curve is the cheaper cure") \
        if wanted > k else ""
    return k, (f"k={k}: single steps scatter ±{shown:.0%} around the trend{averaged}; noise falls as "
               f"1/sqrt(k), so {k} batches per step bring it to about ±{10 ** (single / math.sqrt(k)) - 1:.0%}"
               f"{capped}")


def batch_size_of(run: Run) -> int | None:
    if run.facts.batch_size:
        return int(run.facts.batch_size)
    sizes = _finite(run, BATCH_SIZE)
    if len(sizes):
        values, counts = np.unique(sizes, return_counts=True)
        return int(values[np.argmax(counts)])
    return None


def _lr(run: Run) -> float | None:
    lrs = _finite(run, LR)
    lrs = lrs[lrs > 0]
    return float(lrs.max()) if len(lrs) else run.facts.learning_rate


def _steps(run: Run) -> int:
    loss = run.get("loss")
    return int(loss.steps[-1]) + 1 if loss is not None and len(loss) else 0


def _guard_lines(log_dir: str = "run_dir") -> dict[str, list[str]]:
    return {
        "torch": [f"guard = lossdoctor.Guard(optimizer, log_dir={log_dir!r})  # then guard.step(loss) "
                  "instead of optimizer.step()"],
        "hf": ["Trainer(..., callbacks=[lossdoctor.guard.hf.GuardCallback()])"],
        "lightning": ["Trainer(..., callbacks=[lossdoctor.guard.lightning.GuardCallback()])"],
        "keras": ["model.fit(..., callbacks=[lossdoctor.guard.keras.GuardCallback(log_dir='run_dir')])"],
    }


def _merge(*blocks: dict[str, list[str]]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for block in blocks:
        for key, lines in block.items():
            out.setdefault(key, []).extend(lines)
    return out


def _partial_last_batch(run: Run) -> Prescription:
    batch = batch_size_of(run)
    n = run.facts.dataset_size
    numbers: dict[str, float] = {}
    basis: list[str] = []
    b = str(batch) if batch else "B"
    note = ""
    if batch and n:
        last = n % batch
        numbers.update(batch_size=batch, dataset_size=n, last_batch=last)
        note = f"  # drops {last} of {n} samples per epoch ({last / n:.1%})" if last else ""
        divisor = _nearest_divisor(n, batch)
        if divisor is not None and divisor != batch:
            basis.append(f"or batch_size={divisor}, which divides the {n} samples exactly")
    sizes = _finite(run, BATCH_SIZE)
    if batch and len(sizes) and sizes.min() < batch:
        basis.append(f"the run's batches hold {int(sizes.min())} instead of {batch} samples at the end of each epoch")
    threshold, why = clip_threshold(run)
    numbers["max_norm"] = threshold
    basis.append(why)
    if len(_finite(run, GRAD_NORM)):
        basis.append("the gradient norms were measured with the current loss scale: once the loss is normalised "
                     "once, clip at twice the new median instead")
    code = _merge(
        {"torch": [f"loader = DataLoader(dataset, batch_size={b}, shuffle=True, drop_last=True){note}",
                   "loss = criterion(output, target)  # reduction='mean', no extra `/ batch_size`",
                   f"torch.nn.utils.clip_grad_norm_(model.parameters(), max_norm={num(threshold)})  # limits the "
                   "damage"],
         "hf": [f"TrainingArguments(..., per_device_train_batch_size={b}, dataloader_drop_last=True, "
                f"max_grad_norm={num(threshold)})"],
         "lightning": [f"DataLoader(dataset, batch_size={b}, shuffle=True, drop_last=True){note}  # in "
                       "train_dataloader()", f"Trainer(..., gradient_clip_val={num(threshold)})"],
         "keras": [f"dataset = dataset.batch({b}, drop_remainder=True){note}",
                   "# a custom loss must not divide by the batch size itself: Keras already averages"]},
    )
    return Prescription("partial_last_batch", framework_of(run), numbers, basis, code)


def _nearest_divisor(n: int, batch: int) -> int | None:
    candidates = [d for d in range(max(1, batch // 2), 2 * batch + 1) if n % d == 0]
    return min(candidates, key=lambda d: (abs(d - batch), -d)) if candidates else None


def _clipping(cause: str) -> Callable[[Run], Prescription]:
    def build(run: Run) -> Prescription:
        threshold, why = clip_threshold(run)
        c = num(threshold)
        code = _merge(
            {"torch": [f"torch.nn.utils.clip_grad_norm_(model.parameters(), max_norm={c})  # after backward()"],
             "hf": [f"TrainingArguments(..., max_grad_norm={c})"],
             "lightning": [f"Trainer(..., gradient_clip_val={c})"],
             "keras": [_keras_optimizer(run, learning_rate="lr", clipnorm=c)]},
            {k: ["# or adaptive: clips, and skips the updates of clear outliers", *v]
             for k, v in _guard_lines().items()},
        )
        if cause == "exploding_gradients":
            code["torch"].append("# for RNNs: prefer GRU/LSTM over a plain tanh RNN, add LayerNorm")
        if cause == "outlier_batches":
            code["torch"].append("per_sample = F.mse_loss(model(x), y, reduction='none').flatten(1).mean(1)  "
                                 "# log idx[per_sample.argmax()] to find the bad samples")
        if cause == "numerical_instability":
            code["torch"][:0] = ["loss = F.cross_entropy(logits, target)  # from logits, never log(softmax)",
                                 "# log(sum(exp(x))) in a loss: torch.logsumexp(x, dim) or torch.logcumsumexp(x, dim)"
                                 ", never x.exp().sum().log()",
                                 "torch.autograd.set_detect_anomaly(True)  # while debugging: names the op"]
            code["hf"].append("TrainingArguments(..., bf16=True, logging_nan_inf_filter=False)")
        return Prescription(cause, framework_of(run), {"max_norm": threshold}, [why], code)

    return build


def _small_batch_noise(run: Run) -> Prescription:
    k, why = accumulation_steps(run)
    batch = batch_size_of(run)
    basis = [why]
    if batch:
        basis.append(f"effective batch {k * batch} ({k} × {batch}); the loss stays a mean, so keep the LR")
    code = {
        "torch": [f"loss = loss_fn(model(x), y) / {k}  # accumulate {k} batches per step", "loss.backward()",
                  f"if (i + 1) % {k} == 0:", "    optimizer.step(); optimizer.zero_grad()",
                  "# or just smooth what you display (an EMA of the loss)"],
        "hf": [f"TrainingArguments(..., gradient_accumulation_steps={k})"],
        "lightning": [f"Trainer(..., accumulate_grad_batches={k})"],
        "keras": [f"keras.optimizers.Adam(learning_rate=lr, gradient_accumulation_steps={k})"],
    }
    return Prescription("small_batch_noise", framework_of(run), {"accumulation_steps": k}, basis, code)


#: torch.optim classes a log can name (Lightning's `lr-SGD`, a recorder's facts).
_TORCH_OPTIMIZERS = {name.lower(): name for name in ("SGD", "Adam", "AdamW", "RMSprop", "Adagrad", "Adadelta",
                                                       "NAdam", "RAdam", "Adamax", "ASGD", "Rprop", "SparseAdam")}


def _optimizer(run: Run, params: str, new: str) -> str:
    """The optimizer line at the new LR: the run's own optimizer when the log names it; else the LR set on
    whatever optimizer the script builds (an Adam-family rate would be far too high for SGD's, and the other
    way round an SGD rate for Adam's)."""
    named = _TORCH_OPTIMIZERS.get((run.facts.optimizer or "").lower())
    if named == "SGD":
        return f"optimizer = torch.optim.SGD({params}, lr={new}, momentum=0.9)  # keep your own momentum"
    if named:
        return f"optimizer = torch.optim.{named}({params}, lr={new})"
    return f"for group in optimizer.param_groups: group['lr'] = {new}  # your optimizer (the log names none)"


#: Keras optimizer classes, by the lower-case name a log may give.
_KERAS_OPTIMIZERS = {name.lower(): name for name in ("SGD", "RMSprop", "Adam", "AdamW", "Adadelta", "Adagrad",
                                                       "Adamax", "Adafactor", "Nadam", "Ftrl", "Lion", "Lamb")}


def _keras_optimizer(run: Run, **settings: str) -> str:
    """The Keras optimizer with `settings`: the run's own class when the log names it; else the settings put on
    the compiled model's optimizer (Keras 3 reads both at each update), since an Adam line would swap an SGD
    run's optimizer along with its rate. Settings given as `lr` keep the user's rate."""
    named = _KERAS_OPTIMIZERS.get((run.facts.optimizer or "").lower())
    if named:
        return f"keras.optimizers.{named}(" + ", ".join(f"{k}={v}" for k, v in settings.items()) + ")"
    changed = [f"model.optimizer.{k} = {v}" for k, v in settings.items() if v != "lr"]
    return "; ".join(changed) + "  # your optimizer, after compile() (the log names none)"


def _lr_too_high(run: Run) -> Prescription:
    lr = _lr(run)
    threshold, why = clip_threshold(run)
    steps = _steps(run)
    warmup = max(1, round(0.05 * steps)) if steps else 100
    new = num(lr / 3) if lr else "lr / 3"
    basis = [f"learning rate {new}: a third of the largest logged LR ({num(lr)})" if lr else
             "learning rate: a third of yours (the log has no LR)",
             f"warmup over {warmup} steps: 5% of the run's {steps} steps" if steps else "warmup: 100 steps", why]
    code = {
        "torch": [_optimizer(run, "model.parameters()", new),
                  f"scheduler = torch.optim.lr_scheduler.LinearLR(optimizer, start_factor=0.01, total_iters={warmup})",
                  f"torch.nn.utils.clip_grad_norm_(model.parameters(), max_norm={num(threshold)})"],
        "hf": [f"TrainingArguments(..., learning_rate={new}, warmup_steps={warmup}, max_grad_norm={num(threshold)})"],
        "lightning": [f"Trainer(..., gradient_clip_val={num(threshold)})",
                      _optimizer(run, "self.parameters()", new).replace("optimizer = ", "return ", 1)
                      + ("  # in configure_optimizers()" if run.facts.optimizer else "")],
        "keras": [_keras_optimizer(run, learning_rate=new, clipnorm=num(threshold)),
                  "keras.callbacks.ReduceLROnPlateau(monitor='loss', factor=0.5, patience=2)"],
    }
    numbers = {"max_norm": threshold, "warmup_steps": warmup} | ({"lr": float(new)} if lr else {})
    return Prescription("lr_too_high", framework_of(run), numbers, basis, code)


def _adam_near_convergence(run: Run) -> Prescription:
    logged = _lr(run)
    lr = logged or 1e-3
    new = num(lr / 100)
    steps = _steps(run) or 1000
    whose = f"the logged LR ({num(lr)})" if logged else f"Adam's default LR ({num(lr)}; the log has no LR: scale yours)"
    basis = [f"lr={new}: a hundredth of {whose}, for steps that shrink near the optimum",
             f"T_max={steps}: the run's length; eps=1e-6 keeps Adam's denominator from vanishing"]
    code = {
        "torch": [f"optimizer = torch.optim.Adam(model.parameters(), lr={new}, eps=1e-6)",
                  f"scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max={steps})",
                  "# or stop once the loss stops improving (early stopping)"],
        "hf": [f"TrainingArguments(..., learning_rate={new}, lr_scheduler_type='cosine', adam_epsilon=1e-6)"],
        "keras": [f"keras.optimizers.Adam(learning_rate={new}, epsilon=1e-6)",
                  "keras.callbacks.EarlyStopping(monitor='loss', patience=50)"],
        "lightning": [f"torch.optim.Adam(self.parameters(), lr={new}, eps=1e-6)  # in configure_optimizers()"],
    }
    return Prescription("adam_near_convergence", framework_of(run), {"lr": float(new), "t_max": steps}, basis, code)


_BUILDERS: dict[str, Callable[[Run], Prescription]] = {
    "partial_last_batch": _partial_last_batch,
    "small_batch_noise": _small_batch_noise,
    "lr_too_high": _lr_too_high,
    "adam_near_convergence": _adam_near_convergence,
    "exploding_gradients": _clipping("exploding_gradients"),
    "outlier_batches": _clipping("outlier_batches"),
    "numerical_instability": _clipping("numerical_instability"),
}


def prescribe(run: Run, cause: str) -> Prescription | None:
    """The prescription for `cause` on this run, or None for a cause without one."""
    build = _BUILDERS.get(cause)
    return build(run) if build is not None else None
