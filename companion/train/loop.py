"""A small, reusable training loop for tensors that fit in memory.

``fit`` runs minibatch gradient descent as a :class:`~companion.train.recipe.Recipe` says
(optimiser, schedule, epochs, batches, loss, augmentation) with a seeded shuffle,
evaluates whatever the caller asks for after each epoch, and returns a :class:`History`.
A progress bar is drawn on ``stderr`` (see :func:`companion.utils.progress_enabled`),
never in stored notebook outputs.

The loop is generic over the loss: ``loss_fn(model(x_batch), y_batch)`` is a
cross-entropy for a classifier, or a triplet loss on embeddings and labels. With a
contrastive recipe (``recipe.views >= 2``) each batch is augmented ``views`` times, the
views are stacked, and the loss gets which rows are views of one image instead of the
labels: ``loss_fn(model(views), instance_ids)``, so a self-supervised run never sees a
label (``y`` may then be ``None``).
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

from companion.checks import check_instance, check_int, check_number, check_tensor
from companion.train.optim import warmup_cosine
from companion.train.recipe import Recipe
from companion.utils import progress_enabled

__all__ = [
    "NO_WEIGHT_DECAY",
    "BatchSampler",
    "History",
    "Recipe",
    "accuracy",
    "fit",
    "no_weight_decay",
    "predict",
    "weight_decay_groups",
]

#: Parameters the reference ViT recipes never decay, by name, beside every bias and every
#: 1-D parameter (timm's ``no_weight_decay``: ``pos_embed``, ``cls_token``; here the
#: course's names).
NO_WEIGHT_DECAY: tuple[str, ...] = ("class_token", "position_embedding")

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
    x: torch.Tensor,
    y: torch.Tensor | None,
    recipe: Recipe,
    *,
    loss_fn: LossFn | None = None,
    transform: Transform | None = None,
    evaluate: EvalFn | None = None,
    batch_sampler: BatchSampler | None = None,
    seed: int = 0,
    progress: bool | None = None,
) -> History:
    """Train ``model`` with AdamW on ``(x, y)`` as ``recipe`` says.

    Args:
        model: the network; ``x`` batches are moved to its device.
        x, y: the whole training set, ``(N, ...)`` and ``(N, ...)``; ``y`` is never used
            with ``recipe.views >= 2`` and may be ``None`` there.
        recipe: the settings (:class:`~companion.train.recipe.Recipe`): ``epochs`` passes,
            batches of ``batch_size`` (``drop_last``), AdamW at peak ``lr`` with
            ``weight_decay``, the ``schedule`` with ``warmup_epochs`` (stepped per batch),
            the loss :meth:`~companion.train.recipe.Recipe.loss_fn` and the augmentation
            :meth:`~companion.train.recipe.Recipe.augmentation`. With ``views >= 2``, each
            batch ``(B, ...)`` becomes ``views`` calls of the transform stacked,
            ``(views·B, ...)``, and the loss's second argument is the instance ids
            ``arange(B).repeat(views)`` (row ``v·B + b`` is view ``v`` of image ``b``).
        loss_fn: ``loss_fn(model(x_batch), y_batch) -> scalar`` instead of the recipe's.
        transform: ``transform(x_batch, generator) -> x_batch`` instead of the recipe's
            augmentation (e.g. :func:`~companion.data.augment.random_placement`); it must
            draw its randomness from ``generator``.
        evaluate: called with the model (in eval mode, without gradients) after each epoch;
            each key of the dict it returns becomes a list in ``History.metrics``.
        batch_sampler: draws each epoch's batches (``batch_sampler.batches(generator)``,
            ``len(batch_sampler)`` of them) instead of a shuffled pass over the data (the
            recipe's ``batch_size`` and ``drop_last`` are then not used).
        seed: seeds the shuffle and the ``transform`` generator.
        progress: draw a progress bar; ``None`` follows ``COMPANION_PROGRESS``.

    Returns:
        The :class:`History` of the run. The model is left in eval mode.

    Raises:
        TypeError, ValueError: for mismatched data, a ``recipe`` that is not a ``Recipe``,
            a ``batch_sampler`` without ``batches`` and ``__len__``, or ``y=None`` with a
            recipe that uses labels.
    """
    check_instance("recipe", recipe, Recipe)
    views = recipe.views
    if y is None and views < 2:
        raise ValueError(f"y must be given unless recipe.views >= 2, got None (views={views})")
    if y is None:
        check_tensor("x", x)
        y = torch.zeros(x.shape[0], dtype=torch.int64)  # never read: views replace labels
    _check_pair(x, y)
    if batch_sampler is not None and not (
        hasattr(batch_sampler, "batches") and hasattr(batch_sampler, "__len__")
    ):
        raise TypeError(
            "batch_sampler must have batches(generator) and __len__ (a PKSampler, say), "
            f"got {type(batch_sampler).__name__}"
        )
    loss_fn = loss_fn if loss_fn is not None else recipe.loss_fn()
    transform = transform if transform is not None else recipe.augmentation()
    epochs, batch_size, schedule = recipe.epochs, recipe.batch_size, recipe.schedule

    device = _model_device(model)
    x, y = x.to(device), y.to(device)
    n = x.shape[0]
    if batch_sampler is not None:
        steps_per_epoch = len(batch_sampler)
    else:
        steps_per_epoch = n // batch_size if recipe.drop_last else math.ceil(n / batch_size)
    if steps_per_epoch == 0:
        raise ValueError(f"drop_last=True with batch_size={batch_size} > N={n} leaves no batch")
    total_steps = epochs * steps_per_epoch
    warmup_steps = recipe.warmup_epochs * steps_per_epoch

    def lr_factor(step: int) -> float:
        if schedule == "cosine":
            return warmup_cosine(step, warmup_steps=warmup_steps, total_steps=total_steps)
        if schedule == "warmup" and step < warmup_steps:
            return (step + 1) / warmup_steps
        return 1.0

    optimizer = torch.optim.AdamW(
        model.parameters(), lr=recipe.lr, weight_decay=recipe.weight_decay
    )
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
            if views >= 2:  # (views·B, ...): the views stacked; their ids, never labels
                xb = torch.cat([transform(xb, generator) for _ in range(views)])
                yb = torch.arange(len(idx), device=device).repeat(views)  # (views·B,)
            elif transform is not None:
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
    model.eval()
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


def no_weight_decay(model: nn.Module, names: tuple[str, ...] = NO_WEIGHT_DECAY) -> list[str]:
    """The names of ``model``'s parameters that the reference ViT recipes (the ViT paper's,
    DeiT's, timm's ``param_groups_weight_decay``) leave undecayed: every 1-D parameter
    (LayerNorm's scale and shift), every bias, and those named in ``names`` (the class
    token and the position embeddings). :func:`fit` decays every parameter, as the
    course's stored runs were trained."""
    check_instance("model", model, nn.Module)
    return [
        name
        for name, p in model.named_parameters()
        if p.ndim <= 1 or name.endswith(".bias") or name.split(".")[-1] in names
    ]


def weight_decay_groups(
    model: nn.Module, weight_decay: float, names: tuple[str, ...] = NO_WEIGHT_DECAY
) -> list[dict[str, object]]:
    """Two parameter groups for ``torch.optim.AdamW``: the weights decayed by
    ``weight_decay``, and the parameters of :func:`no_weight_decay` with no decay::

        torch.optim.AdamW(weight_decay_groups(model, 0.05), lr=3e-3)
    """
    check_number("weight_decay", weight_decay, low=0)
    skip = set(no_weight_decay(model, names))
    params = dict(model.named_parameters())
    return [
        {"params": [p for n, p in params.items() if n not in skip], "weight_decay": weight_decay},
        {"params": [p for n, p in params.items() if n in skip], "weight_decay": 0.0},
    ]
