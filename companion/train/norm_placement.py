"""Pre-norm against post-norm on the digits, trained with or without learning-rate warm-up.

Each 8x8 digit is read as 8 tokens (its rows, 8 pixels each) by a
:class:`~companion.nn.block.TokenEncoder`; both placements get the same sizes, data,
seed and optimiser (AdamW; by default at a constant learning rate from the first step, no
warm-up; or, for the control runs, after a linear warm-up).
Xiong et al. (2020) show why post-norm needs the warm-up: at initialisation the
gradients of its last layers are large, and a full learning rate from step one can
throw the model into a bad region it does not leave. The training chapter's experiment
(:data:`POST_NORM` trained with ``recipes.POSTNORM_NO_WARMUP`` and ``recipes.POSTNORM_WARMUP``,
:func:`~companion.train.loop.fit`'s cosine schedule without and with a warm-up) is the
registered run ``warmup`` (:mod:`companion.train.training_runs`).
"""

from __future__ import annotations

import torch

from companion.checks import check_layout
from companion.data.digits import load_digits
from companion.nn.block import BlockConfig, TokenEncoder
from companion.train.loop import History, accuracy, fit
from companion.train.recipe import Recipe, seeded

__all__ = ["POST_NORM", "rows_as_tokens", "train_norm_placement"]

#: The training chapter's post-norm network, 6 blocks, D = 32, 4 heads (the Transformer
#: block chapter's post-norm runs are this size too).
POST_NORM = BlockConfig(depth=6, embed_dim=32, num_heads=4, norm_first=False)


def rows_as_tokens(images: torch.Tensor) -> torch.Tensor:
    """``(N, 1, 8, 8)`` images → ``(N, 8, 8)`` tokens: one token per row of pixels."""
    check_layout("images", images, ("N", 1, "H", "W"))
    return images[:, 0]  # (N, H, W): row r is token r


def train_norm_placement(
    config: BlockConfig, recipe: Recipe, *, seed: int = 0
) -> tuple[TokenEncoder, History]:
    """Train ``TokenEncoder(config)`` on the digits' train split with ``recipe``
    (:func:`~companion.train.loop.fit`; its initialisation seeded by
    :func:`~companion.train.recipe.seeded` with ``seed``).

    The chapters' recipes: ``schedule=None`` keeps ``lr`` constant from the first step;
    ``"warmup"`` reaches it by a linear warm-up over ``warmup_epochs`` and then keeps it
    (the Transformer block chapter's control runs); ``"cosine"`` is the linear warm-up then
    cosine decay (``warmup_epochs=0``: the decay alone, no warm-up; the training chapter's
    ``recipes.POSTNORM_NO_WARMUP`` and ``recipes.POSTNORM_WARMUP``). After each epoch the
    validation accuracy is recorded as ``history.metrics["val_accuracy"]``.
    """
    model = seeded(lambda: TokenEncoder(config), seed)
    x_train, y_train = load_digits("train")
    x_val, y_val = load_digits("val")
    x_train, x_val = rows_as_tokens(x_train), rows_as_tokens(x_val)

    def evaluate(m: torch.nn.Module) -> dict[str, float]:
        return {"val_accuracy": accuracy(m, x_val, y_val)}

    history = fit(model, x_train, y_train, recipe, evaluate=evaluate, seed=seed)
    return model.eval(), history
