"""Pre-norm against post-norm on the digits, trained with or without learning-rate warm-up.

Each 8x8 digit is read as 8 tokens (its rows, 8 pixels each) by a
:class:`~companion.nn.block.TokenEncoder`; both placements get the same sizes, data,
seed and optimiser (AdamW; by default at a constant learning rate from the first step, no
warm-up; or, for the control runs, after a linear warm-up).
Xiong et al. (2020) show why post-norm needs the warm-up: at initialisation the
gradients of its last layers are large, and a full learning rate from step one can
throw the model into a bad region it does not leave. ``schedule="cosine"`` with
``warmup_epochs`` runs :func:`~companion.train.loop.fit`'s warm-up + cosine schedule
instead, the experiment of the training chapter.
"""

from __future__ import annotations

import torch

from companion.data.digits import load_digits
from companion.nn.block import BlockConfig, TokenEncoder
from companion.train.loop import History, accuracy, fit
from companion.train.recipe import Recipe, seeded

__all__ = ["rows_as_tokens", "train_norm_placement"]


def rows_as_tokens(images: torch.Tensor) -> torch.Tensor:
    """``(N, 1, 8, 8)`` images → ``(N, 8, 8)`` tokens: one token per row of pixels."""
    if images.ndim != 4 or images.shape[1] != 1:
        raise ValueError(f"images must have shape (N, 1, H, W), got {tuple(images.shape)}")
    return images[:, 0]  # (N, H, W): row r is token r


def train_norm_placement(
    config: BlockConfig,
    *,
    epochs: int = 8,
    lr: float = 3e-3,
    batch_size: int = 64,
    seed: int = 0,
    schedule: str | None = None,
    warmup_epochs: int = 0,
) -> tuple[TokenEncoder, History]:
    """Train ``TokenEncoder(config)`` on the digits' train split with AdamW at peak ``lr``.

    ``schedule=None`` (the default) keeps ``lr`` constant from the first step, after a
    linear warm-up from ``lr/steps`` to ``lr`` over ``warmup_epochs`` if that is above 0
    (the control run for the warm-up explanation); ``"cosine"`` is ``fit``'s linear warm-up
    over ``warmup_epochs`` then cosine decay (``warmup_epochs=0``: the decay alone, no
    warm-up). After each epoch the validation accuracy is recorded as
    ``history.metrics["val_accuracy"]``.
    """
    model = seeded(lambda: TokenEncoder(config), seed)
    x_train, y_train = load_digits("train")
    x_val, y_val = load_digits("val")
    x_train, x_val = rows_as_tokens(x_train), rows_as_tokens(x_val)

    def evaluate(m: torch.nn.Module) -> dict[str, float]:
        return {"val_accuracy": accuracy(m, x_val, y_val)}

    recipe = Recipe(
        epochs=epochs,
        batch_size=batch_size,
        lr=lr,
        # None: the full learning rate from the first step, or after a linear warm-up
        schedule=schedule if schedule is not None else ("warmup" if warmup_epochs else None),
        warmup_epochs=warmup_epochs,
    )
    history = fit(model, x_train, y_train, recipe, evaluate=evaluate, seed=seed)
    return model.eval(), history
