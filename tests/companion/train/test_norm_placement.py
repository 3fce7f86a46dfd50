"""companion.train.norm_placement: the norm-placement experiment's pieces."""

from __future__ import annotations

import dataclasses

import torch

from companion.nn.block import BlockConfig
from companion.train.norm_placement import POST_NORM, rows_as_tokens, train_norm_placement
from companion.train.recipe import Recipe


def test_rows_as_tokens():
    images = torch.arange(2 * 64, dtype=torch.float32).reshape(2, 1, 8, 8)
    tokens = rows_as_tokens(images)
    assert tokens.shape == (2, 8, 8)
    torch.testing.assert_close(tokens[1, 3], images[1, 0, 3])


def test_the_chapter_s_network_is_post_norm():
    assert POST_NORM == BlockConfig(depth=6, embed_dim=32, num_heads=4, norm_first=False)


def test_train_norm_placement_trains_with_the_recipe_and_seed():
    """A one-block encoder for one epoch: the recipe's epochs, a validation accuracy per
    epoch, and the seed alone decides the trained weights."""
    config = dataclasses.replace(POST_NORM, depth=1, embed_dim=8, num_heads=2)
    recipe = Recipe(epochs=2, batch_size=256, lr=1e-3, schedule="warmup", warmup_epochs=1)
    model, history = train_norm_placement(config, recipe, seed=3)
    again, _ = train_norm_placement(config, recipe, seed=3)
    assert not model.training
    assert history.epochs == 2
    assert len(history.metrics["val_accuracy"]) == 2
    assert all(0 <= a <= 1 for a in history.metrics["val_accuracy"])
    for (name, a), b in zip(model.state_dict().items(), again.state_dict().values(), strict=True):
        assert torch.equal(a, b), name
