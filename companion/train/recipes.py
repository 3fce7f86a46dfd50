"""Training recipes: a model, a dataset and :func:`~companion.train.loop.fit`, with the
settings a chapter chose on the validation split."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from companion.checks import check_int
from companion.data.augment import ShiftAveraged, random_shift
from companion.data.digits import load_digits
from companion.nn.vit import VisionTransformer
from companion.nn.vit_config import VIT_DIGITS, ViTConfig
from companion.train.loop import History, accuracy, fit

__all__ = [
    "DigitsRecipe",
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
