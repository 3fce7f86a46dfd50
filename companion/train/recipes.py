"""Training recipes: a model, a dataset and :func:`~companion.train.loop.fit`, with the
settings a chapter chose on the validation split.

The chapters, the benchmarks and the exercises all train through these functions, so a
number a benchmark stores comes from the same code as the chapter's live run.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import nn

from companion.checks import check_bool, check_choice, check_int, check_number
from companion.data.augment import ShiftAveraged, random_flip, random_shift
from companion.data.digits import load_digits
from companion.metric.losses import batch_hard_soft_margin_loss, mined_triplet_loss
from companion.metric.miners import STRATEGIES
from companion.nn.vit import VisionTransformer
from companion.nn.vit_config import VIT_DIGITS, ViTConfig
from companion.train.loop import BatchSampler, History, Transform, accuracy, fit

__all__ = [
    "CAPSTONE",
    "DIGITS_TRIPLET",
    "DIGITS_TRIPLET_FINAL",
    "DIGITS_TRIPLET_OPEN",
    "DIGITS_TRIPLET_SHIFTED",
    "FASHION_FULL",
    "RETRIEVAL_CNN",
    "RETRIEVAL_TRIPLET",
    "DigitsRecipe",
    "FashionRecipe",
    "TripletRecipe",
    "fashion_augmentation",
    "train_classifier",
    "train_embedding",
    "train_on_digits",
]


@dataclass(frozen=True)
class DigitsRecipe:
    """How :func:`train_on_digits` trains (defaults chosen on the validation split).

    Attributes:
        epochs: passes over the training split.
        batch_size: images per step.
        lr: peak learning rate of AdamW (linear warm-up, then cosine decay to 0).
        warmup_epochs: epochs of warm-up.
        weight_decay: AdamW's decoupled weight decay.
        label_smoothing: cross-entropy's label smoothing.
        max_shift: random shift of each training image, in pixels (0: no augmentation).
        test_shift: predictions average the logits over every shift of up to ``test_shift``
            pixels (:class:`~companion.data.augment.ShiftAveraged`); 0: the plain model.
    """

    epochs: int = 100
    batch_size: int = 128
    lr: float = 3e-3
    warmup_epochs: int = 5
    weight_decay: float = 0.3
    label_smoothing: float = 0.1
    max_shift: int = 1
    test_shift: int = 1

    def __post_init__(self) -> None:
        check_int("max_shift", self.max_shift, low=0)
        check_int("test_shift", self.test_shift, low=0)


def train_on_digits(
    config: ViTConfig = VIT_DIGITS,
    recipe: DigitsRecipe | None = None,
    *,
    train_split: str = "train",
    eval_split: str | None = "val",
    seed: int = 0,
    device: torch.device | str | None = None,
) -> tuple[VisionTransformer, History]:
    """Train ``VisionTransformer(config)`` on a split of :func:`~companion.data.digits.load_digits`.

    The loss is cross-entropy with ``recipe.label_smoothing``; each training batch is
    moved by :func:`~companion.data.augment.random_shift` (``recipe.max_shift``). After
    each epoch the accuracy on ``eval_split`` of
    ``ShiftAveraged(model, max_shift=recipe.test_shift)`` is recorded as
    ``history.metrics["eval_accuracy"]`` (skipped if ``eval_split`` is ``None``; never pass
    the test split here: score it once at the end, the same way).

    Returns:
        The trained model (in eval mode) and its :class:`companion.train.loop.History`.

    Raises:
        ValueError: if ``eval_split`` is ``"test"`` (choices are made on the validation
            split; the test split is scored once, by the caller, at the end).
    """
    if eval_split == "test":
        raise ValueError(
            "eval_split must not be 'test': make choices on 'val' and score the test split "
            "once at the end"
        )
    recipe = recipe if recipe is not None else DigitsRecipe()
    torch.manual_seed(seed)
    model = VisionTransformer(config).to(device)
    x, y = load_digits(train_split, device=device)
    evaluate = None
    if eval_split is not None:
        x_eval, y_eval = load_digits(eval_split, device=device)

        def evaluate(m: nn.Module) -> dict[str, float]:
            scored = ShiftAveraged(m, max_shift=recipe.test_shift)
            return {"eval_accuracy": accuracy(scored, x_eval, y_eval)}

    def transform(xb: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
        return random_shift(xb, gen, max_shift=recipe.max_shift)

    history = fit(
        model,
        nn.CrossEntropyLoss(label_smoothing=recipe.label_smoothing),
        x,
        y,
        epochs=recipe.epochs,
        batch_size=recipe.batch_size,
        lr=recipe.lr,
        weight_decay=recipe.weight_decay,
        schedule="cosine",
        warmup_epochs=recipe.warmup_epochs,
        transform=transform if recipe.max_shift > 0 else None,
        evaluate=evaluate,
        seed=seed,
    )
    return model.eval(), history


# --- Fashion-MNIST ---------------------------------------------------------------------


@dataclass(frozen=True)
class FashionRecipe:
    """How :func:`train_classifier` trains a classifier on Fashion-MNIST (the ViT chapter's
    choices, made on the validation split; the CNN is trained the same way).

    Attributes:
        epochs: passes over the training images.
        batch_size: images per step.
        lr: peak learning rate of AdamW (linear warm-up, then cosine decay to 0).
        warmup_epochs: epochs of warm-up, below ``epochs``.
        weight_decay: AdamW's decoupled weight decay.
        label_smoothing: cross-entropy's label smoothing.
        max_shift: random shift of each training image, in pixels (0: none).
        flip: mirror each training image left to right with probability 1/2.
    """

    epochs: int = 3
    batch_size: int = 128
    lr: float = 3e-3
    warmup_epochs: int = 1
    weight_decay: float = 0.05
    label_smoothing: float = 0.1
    max_shift: int = 0
    flip: bool = True

    def __post_init__(self) -> None:
        check_int("epochs", self.epochs, low=1)
        check_int("warmup_epochs", self.warmup_epochs, low=0, high=self.epochs - 1)
        check_int("max_shift", self.max_shift, low=0)
        check_bool("flip", self.flip)
        check_number("label_smoothing", self.label_smoothing, low=0, high=1, high_open=True)


#: The ViT chapter's benchmark, the same recipe trained longer on all 60,000 images.
FASHION_FULL = FashionRecipe(epochs=30)


def fashion_augmentation(max_shift: int = 2, flip: bool = True) -> Transform | None:
    """``transform(x, generator)`` for :func:`~companion.train.loop.fit`: a random mirror
    (:func:`~companion.data.augment.random_flip`), then a random shift of up to
    ``max_shift`` pixels (:func:`~companion.data.augment.random_shift`); ``None`` if
    neither is asked for."""
    check_int("max_shift", max_shift, low=0)
    check_bool("flip", flip)
    if max_shift == 0 and not flip:
        return None

    def transform(x: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        if flip:
            x = random_flip(x, generator)
        return random_shift(x, generator, max_shift=max_shift) if max_shift else x

    return transform


def train_classifier(
    model: nn.Module,
    x: torch.Tensor,
    y: torch.Tensor,
    recipe: FashionRecipe | None = None,
    *,
    x_eval: torch.Tensor | None = None,
    y_eval: torch.Tensor | None = None,
    seed: int = 0,
) -> History:
    """Train a classifier (a ViT, a CNN) with ``recipe`` on ``(x, y)``.

    The loss is cross-entropy with ``recipe.label_smoothing``; each training batch is
    augmented by :func:`fashion_augmentation`. If ``x_eval, y_eval`` are given (the
    validation split: never the test split), their accuracy after each epoch is
    ``history.metrics["eval_accuracy"]``. The model is trained in place, on its device.

    Returns:
        The :class:`~companion.train.loop.History`; the model is left in eval mode.
    """
    recipe = recipe if recipe is not None else FashionRecipe()
    evaluate = None
    if x_eval is not None and y_eval is not None:

        def evaluate(m: nn.Module) -> dict[str, float]:
            return {"eval_accuracy": accuracy(m, x_eval, y_eval)}

    history = fit(
        model,
        nn.CrossEntropyLoss(label_smoothing=recipe.label_smoothing),
        x,
        y,
        epochs=recipe.epochs,
        batch_size=recipe.batch_size,
        lr=recipe.lr,
        weight_decay=recipe.weight_decay,
        schedule="cosine",
        warmup_epochs=recipe.warmup_epochs,
        transform=fashion_augmentation(recipe.max_shift, recipe.flip),
        evaluate=evaluate,
        seed=seed,
    )
    model.eval()
    return history


@dataclass(frozen=True)
class TripletRecipe:
    """How :func:`train_embedding` trains an embedding network with a mined triplet loss.

    Attributes:
        epochs: passes over the training images.
        batch_size: images per step (batches are full: the last, smaller one is dropped).
        lr: peak learning rate of AdamW (warm-up, then cosine decay).
        warmup_epochs: epochs of warm-up, below ``epochs``.
        weight_decay: AdamW's decoupled weight decay.
        strategy: the miner, one of :data:`companion.metric.miners.STRATEGIES`.
        margin: the triplet loss's margin ``α``.
        max_shift: random shift of each training image, in pixels.
        flip: mirror each training image left to right with probability 1/2.
        soft_margin: Hermans et al.'s soft margin ``softplus(d(a,p) − d(a,n))`` instead of
            the hinge (no ``margin``); only with ``strategy="hard"``.
    """

    epochs: int = 3
    batch_size: int = 128
    lr: float = 2e-3
    warmup_epochs: int = 0
    weight_decay: float = 0.0
    strategy: str = "semihard"
    margin: float = 0.2
    max_shift: int = 0
    flip: bool = True
    soft_margin: bool = False

    def __post_init__(self) -> None:
        check_int("epochs", self.epochs, low=1)
        check_int("warmup_epochs", self.warmup_epochs, low=0, high=self.epochs - 1)
        check_choice("strategy", self.strategy, STRATEGIES)
        check_number("margin", self.margin, low=0)
        check_bool("soft_margin", self.soft_margin)
        if self.soft_margin and self.strategy != "hard":
            raise ValueError(
                f"soft_margin=True needs strategy='hard' (batch-hard), got {self.strategy!r}"
            )


#: The triplet chapter's Fashion-MNIST section, the CNN classifier whose features are
#: compared.
RETRIEVAL_CNN = FashionRecipe(epochs=3)
#: The triplet chapter's Fashion-MNIST section, the triplet-trained embedding.
RETRIEVAL_TRIPLET = TripletRecipe(epochs=3)
#: The capstone, the ViT and the CNN embedding trained the same way on the seen classes.
CAPSTONE = TripletRecipe(epochs=3, warmup_epochs=1, weight_decay=0.05)
#: The triplet chapter's digits, each mining strategy for 4 epochs on the training split
#: (``strategy`` set by the chapter; batches of 64, AdamW at 3e-3, no augmentation).
DIGITS_TRIPLET = TripletRecipe(epochs=4, batch_size=64, lr=3e-3, flip=False)
#: The triplet chapter's final fit on train + validation with the chosen strategy.
DIGITS_TRIPLET_FINAL = TripletRecipe(epochs=10, batch_size=64, lr=3e-3, flip=False)
#: The triplet chapter's digits on a 16x16 canvas (pasted at fresh random places, the
#: ``transform`` given to :func:`train_embedding`).
DIGITS_TRIPLET_SHIFTED = TripletRecipe(epochs=8, batch_size=64, lr=3e-3, flip=False)
#: The same on the classes 0-4 only (half the images, so more epochs).
DIGITS_TRIPLET_OPEN = TripletRecipe(epochs=12, batch_size=64, lr=3e-3, flip=False)


def train_embedding(
    model: nn.Module,
    x: torch.Tensor,
    y: torch.Tensor,
    recipe: TripletRecipe | None = None,
    *,
    evaluate: Callable[[nn.Module], dict[str, float]] | None = None,
    transform: Transform | None = None,
    batch_sampler: BatchSampler | None = None,
    seed: int = 0,
) -> History:
    """Train an embedding network with ``mined_triplet_loss(f(x_batch), y_batch)``
    (:func:`~companion.metric.losses.mined_triplet_loss`, ``recipe.strategy`` and
    ``recipe.margin``; :func:`~companion.metric.losses.batch_hard_soft_margin_loss` with
    ``recipe.soft_margin``) on ``(x, y)``, batches augmented by
    :func:`fashion_augmentation` or by ``transform`` when it is given.

    ``evaluate(model)`` (optional) is called after each epoch, as in
    :func:`~companion.train.loop.fit`. With ``batch_sampler`` (a
    :class:`~companion.data.samplers.PKSampler`, say) the batches are drawn by it instead of
    a shuffled pass of ``recipe.batch_size`` images.

    Returns:
        The :class:`~companion.train.loop.History`; the model is left in eval mode.
    """
    recipe = recipe if recipe is not None else TripletRecipe()

    def loss_fn(embeddings: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        if recipe.soft_margin:
            return batch_hard_soft_margin_loss(embeddings, labels)
        return mined_triplet_loss(
            embeddings, labels, strategy=recipe.strategy, margin=recipe.margin
        )

    if transform is None:
        transform = fashion_augmentation(recipe.max_shift, recipe.flip)
    batches = (
        {"batch_sampler": batch_sampler}
        if batch_sampler is not None
        else {"batch_size": recipe.batch_size, "drop_last": True}
    )

    history = fit(
        model,
        loss_fn,
        x,
        y,
        epochs=recipe.epochs,
        lr=recipe.lr,
        weight_decay=recipe.weight_decay,
        schedule="cosine",
        warmup_epochs=recipe.warmup_epochs,
        transform=transform,
        evaluate=evaluate,
        seed=seed,
        **batches,
    )
    model.eval()
    return history
