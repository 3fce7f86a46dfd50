"""companion.train.recipes: the course's recipes train what they promise (Fashion-MNIST stripes,
triplets, digits ViT)."""

from __future__ import annotations

import dataclasses
from dataclasses import replace

import pytest
import torch

from companion.data import augment
from companion.data.digits import load_digits
from companion.metric.retrieval import recall_at_k
from companion.nn import vit_config
from companion.nn.cnn import CNNConfig, SmallCNN
from companion.nn.embedding import EmbeddingConfig, EmbeddingNet, ViTEmbedding
from companion.train import recipes
from companion.train.loop import accuracy, fit, predict

TINY_VIT = dataclasses.replace(
    vit_config.VIT_FASHION, image_size=8, patch_size=4, embed_dim=16, depth=1, num_heads=2,
    mlp_dim=32,
)  # fmt: skip


def _stripes(n: int, size: int = 8, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """Two classes a CNN learns at once: vertical against horizontal stripes, noisy."""
    gen = torch.Generator().manual_seed(seed)
    y = torch.randint(0, 2, (n,), generator=gen)
    lines = (torch.arange(size) % 2).float()
    vertical = lines.expand(size, size)
    x = torch.where(y[:, None, None] == 1, vertical, vertical.T).unsqueeze(1)
    return x + 0.3 * torch.randn(x.shape, generator=gen), y


def test_fit_trains_a_classifier_and_records_validation() -> None:
    x, y = _stripes(256)
    x_val, y_val = _stripes(64, seed=1)
    torch.manual_seed(0)
    cnn = SmallCNN(CNNConfig(image_size=8, channels=(4, 8), hidden=16, num_classes=2))
    recipe = replace(recipes.FASHION, epochs=4, batch_size=32, warmup_epochs=1, max_shift=1)
    history = fit(
        cnn, x, y, recipe, evaluate=lambda m: {"eval_accuracy": accuracy(m, x_val, y_val)}
    )
    assert not cnn.training
    assert len(history.metrics["eval_accuracy"]) == 4
    assert history.train_loss[-1] < history.train_loss[0]
    assert accuracy(cnn, x_val, y_val) >= 0.9


@pytest.mark.parametrize(
    "make",
    [
        lambda: EmbeddingNet(EmbeddingConfig(image_size=8, channels=(4, 8), dim=8)),
        lambda: ViTEmbedding(TINY_VIT, dim=8),
    ],
)
def test_fit_trains_an_embedding(make) -> None:
    x, y = _stripes(256)
    torch.manual_seed(0)
    net = make()
    before = recall_at_k(predict(net, x), y, k=1)
    recipe = replace(recipes.TRIPLET, epochs=4, batch_size=32, lr=3e-3, flip=False)
    history = fit(net, x, y, recipe)
    assert not net.training
    assert history.epochs == 4
    assert recall_at_k(predict(net, x), y, k=1) >= max(0.9, before)


def test_train_on_digits_scores_the_shift_average() -> None:
    config = dataclasses.replace(
        vit_config.VIT_DIGITS, embed_dim=8, depth=1, num_heads=2, mlp_dim=8
    )
    recipe = dataclasses.replace(
        recipes.DIGITS_VIT, epochs=1, batch_size=256, warmup_epochs=0, test_shift=1
    )
    model, history = recipes.train_on_digits(config, recipe, train_split="val", eval_split="val")
    x_val, y_val = load_digits("val")
    averaged = accuracy(augment.ShiftAveraged(model, max_shift=1), x_val, y_val)
    assert history.metrics["eval_accuracy"] == [averaged]


def test_train_on_digits_learns() -> None:
    """A tiny ViT trained for 10 epochs on the 269 validation digits: the training loss
    falls, and the accuracy ends well above chance (0.1; this run reaches about 0.38)."""
    config = dataclasses.replace(
        vit_config.VIT_DIGITS, embed_dim=16, depth=1, num_heads=2, mlp_dim=32
    )
    recipe = dataclasses.replace(
        recipes.DIGITS_VIT, epochs=10, batch_size=64, warmup_epochs=1, lr=1e-2, weight_decay=0
    )
    model, history = recipes.train_on_digits(config, recipe, train_split="val", eval_split="val")
    assert not model.training
    assert history.epochs == 10
    assert len(history.metrics["eval_accuracy"]) == 10
    assert history.train_loss[-1] < history.train_loss[0] - 0.15
    assert history.metrics["eval_accuracy"][-1] > 0.25
    assert history.metrics["eval_accuracy"][-1] > history.metrics["eval_accuracy"][0] + 0.1


def test_train_on_digits_refuses_the_test_split() -> None:
    with pytest.raises(ValueError, match=r"eval_split must not be 'test': make choices on 'val'"):
        recipes.train_on_digits(eval_split="test")


def test_the_warm_up_arms_differ_only_in_the_warm_up() -> None:
    """The training chapter's two arms: the recipe the old warm-up script ran (6 epochs,
    batches of 64, AdamW at a peak of 1e-2, cosine), without and with 2 epochs of warm-up."""
    arms = (recipes.POSTNORM_NO_WARMUP, recipes.POSTNORM_WARMUP)
    assert [r.warmup_epochs for r in arms] == [0, 2]
    assert replace(recipes.POSTNORM_WARMUP, warmup_epochs=0) == recipes.POSTNORM_NO_WARMUP
    base = recipes.POSTNORM_NO_WARMUP
    assert (base.epochs, base.batch_size, base.lr, base.schedule) == (6, 64, 1e-2, "cosine")
    assert (base.weight_decay, base.label_smoothing, base.max_shift, base.flip) == (0, 0, 0, False)


def test_the_triplet_ablation_varies_only_the_loss_s_settings() -> None:
    """Each row is the chapter's DIGITS_TRIPLET with its miner, margin and distance set by
    its name, nothing else; the sphere and raw rows share their recipe (normalising is the
    network's)."""
    for name, recipe in recipes.TRIPLET_ABLATION.items():
        miner, distance, _ = name.split("_")
        assert recipe.strategy == ("semihard" if miner == "semihard" else "hard")
        assert recipe.soft_margin == (miner == "soft")
        assert recipe.squared == (distance == "squared")
        expected = replace(
            recipes.DIGITS_TRIPLET,
            strategy=recipe.strategy,
            soft_margin=recipe.soft_margin,
            squared=recipe.squared,
        )
        assert recipe == expected, name
    ablation = recipes.TRIPLET_ABLATION
    assert ablation["semihard_plain_raw"] == ablation["semihard_plain_sphere"]
    assert ablation["soft_plain_raw"] == ablation["soft_plain_sphere"]
    assert len({r.digest() for r in ablation.values()}) == 5
