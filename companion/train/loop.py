"""A small, reusable training loop for tensors that fit in memory.

``fit`` runs minibatch gradient descent with a seeded shuffle, an optional learning-rate
schedule and an optional per-batch transform (augmentation), evaluates whatever the
caller asks for after each epoch, and returns a :class:`History`. A progress bar is
drawn on ``stderr`` (see :func:`companion.utils.progress_enabled`), never in stored
notebook outputs.

The loop is generic over the loss: ``loss_fn(model(x_batch), y_batch)`` is a
cross-entropy for a classifier, or a triplet loss on embeddings and labels.
"""

from __future__ import annotations

import math
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

import torch
from torch import nn
from tqdm import tqdm

from companion.checks import check_choice, check_int, check_number, check_tensor
from companion.train.optim import warmup_cosine
from companion.utils import progress_enabled

__all__ = ["BatchSampler", "History", "accuracy", "fit", "predict"]

LossFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
EvalFn = Callable[[nn.Module], dict[str, float]]
Transform = Callable[[torch.Tensor, torch.Generator], torch.Tensor]


class BatchSampler(Protocol):
    """What :func:`fit` needs of a ``batch_sampler`` (e.g.
    :class:`companion.data.samplers.PKSampler`): the number of batches of an epoch, and the
    epoch's index tensors drawn from a generator."""

    def __len__(self) -> int: ...

    def batches(self, generator: torch.Generator) -> list[torch.Tensor]: ...


@dataclass
class History:
    """What :func:`fit` measured: the mean training loss of each epoch, and each metric
    returned by ``evaluate`` after each epoch, under the key ``evaluate`` gave it
    (:func:`companion.train.recipes.train_on_digits` records
    ``metrics["eval_accuracy"][e]``, the accuracy on its ``eval_split`` after epoch ``e``).

    Attributes:
        train_loss: one mean training loss per epoch.
        metrics: one list per key returned by ``evaluate``, one value per epoch.
    """

    train_loss: list[float] = field(default_factory=list)
    metrics: dict[str, list[float]] = field(default_factory=dict)

    @property
    def epochs(self) -> int:
        return len(self.train_loss)


def _model_device(model: nn.Module) -> torch.device:
    first = next(model.parameters(), None)
    return first.device if first is not None else torch.device("cpu")


def _check_pair(x: torch.Tensor, y: torch.Tensor) -> None:
    check_tensor("x", x)
    check_tensor("y", y)
    if x.shape[0] != y.shape[0]:
        raise ValueError(
            f"x and y must have the same number of rows, got {x.shape[0]} and {y.shape[0]}"
        )


def fit(
    model: nn.Module,
    loss_fn: LossFn,
    x: torch.Tensor,
    y: torch.Tensor,
    *,
    epochs: int,
    batch_size: int = 64,
    lr: float = 1e-3,
    weight_decay: float = 0.0,
    schedule: str | None = "cosine",
    warmup_epochs: int = 0,
    transform: Transform | None = None,
    evaluate: EvalFn | None = None,
    seed: int = 0,
    drop_last: bool = False,
    batch_sampler: BatchSampler | None = None,
    progress: bool | None = None,
) -> History:
    """Train ``model`` with AdamW on ``(x, y)`` for ``epochs`` passes.

    Args:
        model: the network; ``x`` batches are moved to its device.
        loss_fn: ``loss_fn(model(x_batch), y_batch) -> scalar``.
        x, y: the whole training set, ``(N, ...)`` and ``(N, ...)``.
        epochs: passes over the data, at least 1.
        batch_size: examples per step.
        lr: peak learning rate of AdamW.
        weight_decay: AdamW's decoupled weight decay.
        schedule: ``"cosine"`` (linear warm-up then cosine decay to 0, stepped per batch),
            ``"warmup"`` (linear warm-up then constant) or ``None`` (constant).
        warmup_epochs: epochs of linear warm-up for ``"cosine"`` and ``"warmup"``.
        transform: ``transform(x_batch, generator) -> x_batch``, applied to each training
            batch (augmentation); it must draw its randomness from ``generator``.
        evaluate: called with the model (in eval mode, without gradients) after each epoch;
            each key of the dict it returns becomes a list in ``History.metrics``.
        seed: seeds the shuffle and the ``transform`` generator.
        drop_last: skip a last, smaller batch (useful for losses that need full batches).
        batch_sampler: draws each epoch's batches (``batch_sampler.batches(generator)``,
            ``len(batch_sampler)`` of them) instead of a shuffled pass over the data; then
            ``batch_size`` and ``drop_last`` must keep their defaults.
        progress: draw a progress bar; ``None`` follows ``COMPANION_PROGRESS``.

    Returns:
        The :class:`History` of the run. The model is left in train mode.

    Raises:
        TypeError, ValueError: for mismatched data or out-of-range settings.
    """
    _check_pair(x, y)
    check_int("epochs", epochs, low=1)
    check_int("batch_size", batch_size, low=1)
    check_number("lr", lr, low=0, low_open=True)
    check_number("weight_decay", weight_decay, low=0)
    check_choice("schedule", schedule, ("cosine", "warmup", None))
    check_int("warmup_epochs", warmup_epochs, low=0, high=epochs - 1)  # below epochs

    if batch_sampler is not None:
        if not (hasattr(batch_sampler, "batches") and hasattr(batch_sampler, "__len__")):
            raise TypeError(
                "batch_sampler must have batches(generator) and __len__ (a PKSampler, say), "
                f"got {type(batch_sampler).__name__}"
            )
        if batch_size != 64 or drop_last:
            raise ValueError(
                "batch_size and drop_last must keep their defaults with a batch_sampler, got "
                f"batch_size={batch_size}, drop_last={drop_last}"
            )

    device = _model_device(model)
    x, y = x.to(device), y.to(device)
    n = x.shape[0]
    if batch_sampler is not None:
        steps_per_epoch = len(batch_sampler)
    else:
        steps_per_epoch = n // batch_size if drop_last else math.ceil(n / batch_size)
    if steps_per_epoch == 0:
        raise ValueError(f"drop_last=True with batch_size={batch_size} > N={n} leaves no batch")
    total_steps = epochs * steps_per_epoch
    warmup_steps = warmup_epochs * steps_per_epoch

    def lr_factor(step: int) -> float:
        if schedule == "cosine":
            return warmup_cosine(step, warmup_steps=warmup_steps, total_steps=total_steps)
        if schedule == "warmup" and step < warmup_steps:
            return (step + 1) / warmup_steps
        return 1.0

    optimizer = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=weight_decay)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lr_factor)
    generator = torch.Generator().manual_seed(seed)
    history = History()

    bar = tqdm(
        range(epochs),
        desc="epochs",
        disable=not progress_enabled(progress),
        file=sys.stderr,
        leave=False,
    )
    for _ in bar:
        model.train()
        if batch_sampler is not None:
            batches = [b.to(device) for b in batch_sampler.batches(generator)]
        else:
            order = torch.randperm(n, generator=generator).to(device)
            batches = [order[i * batch_size : (i + 1) * batch_size] for i in range(steps_per_epoch)]
        total, seen = 0.0, 0
        for idx in batches:
            xb, yb = x[idx], y[idx]
            if transform is not None:
                xb = transform(xb, generator)
            loss = loss_fn(model(xb), yb)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            scheduler.step()
            total += loss.item() * len(idx)
            seen += len(idx)
        history.train_loss.append(total / seen)
        postfix = {"loss": f"{history.train_loss[-1]:.3f}"}
        if evaluate is not None:
            model.eval()
            with torch.no_grad():
                scores = evaluate(model)
            model.train()
            for key, value in scores.items():
                history.metrics.setdefault(key, []).append(float(value))
                postfix[key] = f"{float(value):.3f}"
        bar.set_postfix(postfix)
    bar.close()
    return history


@torch.no_grad()
def predict(model: nn.Module, x: torch.Tensor, *, batch_size: int = 512) -> torch.Tensor:
    """``model(x)`` in eval mode, batch by batch, without gradients; the model's mode is
    restored afterwards. Returns the outputs concatenated along dim 0, on the model's
    device."""
    check_int("batch_size", batch_size, low=1)
    was_training = model.training
    model.eval()
    x = x.to(_model_device(model))
    try:
        outs = [model(x[i : i + batch_size]) for i in range(0, x.shape[0], batch_size)]
    finally:
        model.train(was_training)
    return torch.cat(outs)


def accuracy(model: nn.Module, x: torch.Tensor, y: torch.Tensor, *, batch_size: int = 512) -> float:
    """Share of rows where ``argmax(model(x))`` equals ``y``, in [0, 1]."""
    _check_pair(x, y)
    logits = predict(model, x, batch_size=batch_size)
    return (logits.argmax(dim=-1) == y.to(logits.device)).float().mean().item()
