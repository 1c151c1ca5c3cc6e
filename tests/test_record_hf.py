"""The Hugging Face Trainer callback against the real Trainer, with a tiny BERT built from a config."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")

import lossdoctor  # noqa: E402
from lossdoctor.integrations.hf import LossdoctorCallback  # noqa: E402
from lossdoctor.record import read_store  # noqa: E402
from lossdoctor.signals import RunSignals  # noqa: E402


class _Tokens(torch.utils.data.Dataset):
    """Random token sequences whose label is whether token 1 occurs: learnable, and made in code."""

    def __init__(self, n: int, seed: int = 0) -> None:
        gen = torch.Generator().manual_seed(seed)
        self.ids = torch.randint(2, 50, (n, 12), generator=gen)
        self.ids[: n // 2, 3] = 1
        self.labels = (self.ids == 1).any(1).long()

    def __len__(self) -> int:
        return len(self.ids)

    def __getitem__(self, i: int) -> dict:
        return {"input_ids": self.ids[i], "attention_mask": torch.ones(12, dtype=torch.long), "labels": self.labels[i]}


class _Norms(transformers.TrainerCallback):
    """Reference: the gradient norm HF itself computes (before clipping) at every step."""

    def __init__(self) -> None:
        self.seen: list[float] = []

    def on_pre_optimizer_step(self, args, state, control, model=None, **kw):
        self.seen.append(torch.cat([p.grad.flatten() for p in model.parameters() if p.grad is not None]).norm().item())


def test_trainer_callback_records_every_step(tmp_path) -> None:
    torch.manual_seed(0)
    config = transformers.BertConfig(vocab_size=50, hidden_size=16, num_hidden_layers=1, num_attention_heads=2,
                                     intermediate_size=32, max_position_embeddings=16, num_labels=2)
    model = transformers.BertForSequenceClassification(config)
    args = transformers.TrainingArguments(output_dir=str(tmp_path / "out"), per_device_train_batch_size=8,
                                          gradient_accumulation_steps=2, num_train_epochs=2, learning_rate=1e-3,
                                          logging_steps=1, logging_nan_inf_filter=False, max_grad_norm=1e-3,
                                          save_strategy="no", report_to=[], use_cpu=True, disable_tqdm=True)
    reference = _Norms()
    callback = LossdoctorCallback(tmp_path / "run", flush_every=4)
    trainer = transformers.Trainer(model=model, args=args, train_dataset=_Tokens(72),
                                   callbacks=[callback, reference])
    trainer.train()
    content = read_store(tmp_path / "run" / "lossdoctor.db")
    steps, loss = content.series["loss"]
    assert steps.tolist() == list(range(1, 11))  # 9 batches of 8 per epoch, 2 per step: 5 steps per epoch
    logged = {e["step"]: e for e in trainer.state.log_history if "loss" in e and "grad_norm" in e}
    # HF's own per-step figures (logging_steps=1): its loss (the mean over the step's micro-batches; some
    # HF versions log their sum instead when the model takes num_items_in_batch) and its pre-clip norm
    micro = np.array(content.series["micro_batches"][1])
    hf_loss = np.array([logged[s]["loss"] for s in steps])
    assert (np.isclose(loss, hf_loss, rtol=1e-3) | np.isclose(np.array(loss) * micro, hf_loss, rtol=1e-3)).all()
    grad_steps, grad = content.series["grad_norm"]
    np.testing.assert_allclose(grad, [logged[s]["grad_norm"] for s in grad_steps], rtol=1e-3)
    assert min(grad) > 1e-2  # far above max_grad_norm=1e-3: recorded before clipping
    # the last step of an epoch gets one batch of 8
    assert content.series["batch_size"][1][:5].tolist() == [16.0, 16.0, 16.0, 16.0, 8.0]
    assert content.series["micro_batches"][1][:5].tolist() == [2.0, 2.0, 2.0, 2.0, 1.0]
    assert content.series["epoch"][1].tolist() == [0.0] * 5 + [1.0] * 5
    assert content.meta["framework"] == "huggingface" and content.meta["gradient_accumulation_steps"] == 2
    assert content.meta["steps_per_epoch"] == 5 and content.meta["drop_last"] is False
    run = lossdoctor.read(tmp_path / "run")
    assert run.format == "lossdoctor_store" and run.facts.steps_per_epoch == 5
    assert reference.seen and max(reference.seen) <= 1.1e-3  # HF's own hook sees clipped gradients


def test_the_loss_point_where_trainer_state_changes_its_lr_belongs_to_neither_rate(tmp_path) -> None:
    """Before transformers 4.51 the Trainer logged the next step's LR, since then the logged step's, and the file
    does not say which. The Trainer of this environment logs a drop after step 8 at step 10 (the mean of steps 9-10,
    all at the new rate); an older one logged it at step 8 (the mean of steps 7-8, all at the old rate). A warm
    restart logged every 5 steps then put one old-rate point on the restart's side."""
    torch.manual_seed(0)
    config = transformers.BertConfig(vocab_size=50, hidden_size=16, num_hidden_layers=1, num_attention_heads=2,
                                     intermediate_size=32, max_position_embeddings=16, num_labels=2)
    model = transformers.BertForSequenceClassification(config)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    schedule = torch.optim.lr_scheduler.StepLR(optimizer, step_size=8, gamma=0.1)
    args = transformers.TrainingArguments(output_dir=str(tmp_path / "out"), per_device_train_batch_size=8,
                                          max_steps=16, logging_steps=2, save_strategy="no", report_to=[],
                                          use_cpu=True, disable_tqdm=True)
    trainer = transformers.Trainer(model=model, args=args, train_dataset=_Tokens(96),
                                   optimizers=(optimizer, schedule))
    trainer.train()
    trainer.state.save_to_json(str(tmp_path / "trainer_state.json"))
    logged = {e["step"]: e["learning_rate"] for e in trainer.state.log_history if "learning_rate" in e}
    run = lossdoctor.read(tmp_path / "trainer_state.json")
    assert run.facts.lr_change_point_ambiguous
    sig = RunSignals(run)
    (step, before, after), = sig.lr_jumps
    assert logged[step] == pytest.approx(0.01) and (before, after) == pytest.approx((0.1, 0.01))
    assert step in (8, 10)  # as an older Trainer logs it, or as this one does

