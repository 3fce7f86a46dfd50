"""companion.nn.cnn, companion.nn.embedding.ViTEmbedding, companion.data.augment.random_flip
and the Fashion-MNIST recipes: shapes, equalities with what they mirror, learning, errors."""

from __future__ import annotations

import dataclasses
import re
from dataclasses import replace

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from companion.data.augment import FlipAveraged, random_flip
from companion.metric.retrieval import recall_at_k
from companion.nn import vit_config
from companion.nn.cnn import CNNConfig, CNNFeatures, SmallCNN, conv_blocks
from companion.nn.embedding import EmbeddingConfig, EmbeddingNet, ViTEmbedding
from companion.nn.vit import VisionTransformer
from companion.train import recipes
from companion.train.loop import accuracy, fit, predict
from companion.train.recipe import Recipe, augmentation
from companion.utils import count_parameters

TINY_VIT = dataclasses.replace(
    vit_config.VIT_FASHION, image_size=8, patch_size=4, embed_dim=16, depth=1, num_heads=2,
    mlp_dim=32,
)  # fmt: skip


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize(("size", "channels"), [(28, (32, 64)), (8, (4, 6))])
def test_small_cnn_equals_its_layers_by_hand(dtype, size: int, channels) -> None:
    torch.manual_seed(0)
    cnn = SmallCNN(CNNConfig(image_size=size, channels=channels, hidden=12)).to(dtype)
    x = torch.rand(3, 1, size, size, dtype=dtype)
    c1, c2 = cnn.convs[0], cnn.convs[3]
    h = F.max_pool2d(F.relu(F.conv2d(x, c1.weight, c1.bias, padding=1)), 2)
    h = F.max_pool2d(F.relu(F.conv2d(h, c2.weight, c2.bias, padding=1)), 2)
    features = F.relu(h.flatten(1) @ cnn.hidden.weight.T + cnn.hidden.bias)
    logits = features @ cnn.classifier.weight.T + cnn.classifier.bias
    tol = {"rtol": 1e-5, "atol": 1e-6} if dtype == torch.float32 else {"rtol": 1e-12, "atol": 0}
    torch.testing.assert_close(cnn.features(x), features, **tol)
    torch.testing.assert_close(cnn(x), logits, **tol)
    torch.testing.assert_close(CNNFeatures(cnn)(x), features, **tol)
    assert cnn(x).shape == (3, 10)
    assert cnn.features(x).shape == (3, 12)


def test_small_cnn_parameter_count_by_the_formula() -> None:
    cfg = CNNConfig()
    c1, c2 = cfg.channels
    flat = c2 * (cfg.image_size // 4) ** 2
    expected = (9 * c1 + c1) + (9 * c1 * c2 + c2) + (flat * cfg.hidden + cfg.hidden)
    expected += cfg.hidden * cfg.num_classes + cfg.num_classes
    assert count_parameters(SmallCNN(cfg)) == expected


def test_embedding_net_keeps_its_state_dict_keys() -> None:
    """EmbeddingNet's convolutions come from conv_blocks: saved weights still load."""
    keys = set(EmbeddingNet(EmbeddingConfig()).state_dict())
    assert keys == {"features.0.weight", "features.0.bias", "features.3.weight"} | {
        "features.3.bias",
        "head.weight",
        "head.bias",
    }
    assert len(conv_blocks(1, (2, 3))) == 6


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"image_size": 30}, ValueError, "image_size must be a multiple of 4 (two 2x2 pools)"),
        ({"image_size": 2}, ValueError, "image_size must be"),
        ({"channels": (32,)}, ValueError, "channels must be a tuple of 2 ints, got (32,)"),
        ({"channels": (32, 0)}, ValueError, "channels must be"),
        ({"hidden": 0}, ValueError, "hidden must be"),
        ({"num_classes": 2.0}, TypeError, "num_classes must be an int"),
    ],
)  # fmt: skip
def test_cnn_config_validates_itself(kwargs, error, message: str) -> None:
    with pytest.raises(error, match=re.escape(message)):
        CNNConfig(**kwargs)


def test_cnn_errors() -> None:
    with pytest.raises(TypeError, match="config must be a CNNConfig, got dict"):
        SmallCNN({})  # type: ignore[arg-type]
    with pytest.raises(
        ValueError, match=re.escape("x must have shape (B, 1, 28, 28), got (2, 1, 8, 8)")
    ):
        SmallCNN()(torch.zeros(2, 1, 8, 8))
    with pytest.raises(TypeError, match="cnn must be a SmallCNN, got Linear"):
        CNNFeatures(nn.Linear(2, 2))  # type: ignore[arg-type]


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_random_flip_mirrors_about_half_the_images(dtype) -> None:
    x = torch.rand(400, 2, 5, 7, dtype=dtype)
    out = random_flip(x, torch.Generator().manual_seed(0))
    flipped = torch.tensor([torch.equal(o, i.flip(-1)) for o, i in zip(out, x, strict=True)])
    kept = torch.tensor([torch.equal(o, i) for o, i in zip(out, x, strict=True)])
    assert bool((flipped | kept).all())  # each image is itself or its mirror image
    assert 150 < int(flipped.sum()) < 250
    again = random_flip(x, torch.Generator().manual_seed(0))
    assert torch.equal(out, again)
    assert out.dtype == dtype


def test_random_flip_errors() -> None:
    with pytest.raises(ValueError, match=re.escape("images must be 4-D (B, C, H, W)")):
        random_flip(torch.zeros(3, 4), torch.Generator())


def test_augmentation() -> None:
    assert augmentation(0, flip=False) is None
    x = torch.rand(8, 1, 6, 6)
    flip_only = augmentation(0, flip=True)
    torch.testing.assert_close(
        flip_only(x, torch.Generator().manual_seed(3)),
        random_flip(x, torch.Generator().manual_seed(3)),
    )
    both = augmentation(2, flip=True)
    assert both(x, torch.Generator().manual_seed(0)).shape == x.shape


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
    ("kwargs", "error", "message"),
    [
        ({"epochs": 0}, ValueError, "epochs must be"),
        ({"epochs": 2, "warmup_epochs": 2}, ValueError, "warmup_epochs must be"),
        ({"max_shift": -1}, ValueError, "max_shift must be"),
        ({"flip": 1}, TypeError, "flip must be a bool"),
        ({"label_smoothing": 1.0}, ValueError, "label_smoothing must be"),
    ],
)
def test_recipe_validates_itself(kwargs, error, message: str) -> None:
    with pytest.raises(error, match=re.escape(message)):
        Recipe(**kwargs)


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"strategy": "hardest"}, ValueError, "strategy must be one of"),
        ({"margin": -0.1}, ValueError, "margin must be"),
        ({"epochs": 1, "warmup_epochs": 1}, ValueError, "warmup_epochs must be"),
    ],
)
def test_triplet_recipe_validates_itself(kwargs, error, message: str) -> None:
    with pytest.raises(error, match=re.escape(message)):
        Recipe(loss="triplet", **kwargs)


def test_vit_embedding_is_a_vit_on_the_sphere() -> None:
    torch.manual_seed(0)
    net = ViTEmbedding(TINY_VIT, dim=6)
    x = torch.rand(5, 1, 8, 8)
    z = net(x)
    assert z.shape == (5, 6)
    torch.testing.assert_close(z.norm(dim=1), torch.ones(5))
    torch.testing.assert_close(z, F.normalize(net.vit(x), dim=1))
    assert isinstance(net.vit, VisionTransformer)
    assert net.vit.head.weight.abs().sum() > 0  # not the classifier's zero head
    tokens, weights = net.encode(x, need_weights=True)
    assert tokens.shape == (5, 5, 16)
    assert len(weights) == 1


def test_vit_embedding_errors() -> None:
    with pytest.raises(TypeError, match="config must be a ViTConfig, got EmbeddingConfig"):
        ViTEmbedding(EmbeddingConfig())  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="dim must be"):
        ViTEmbedding(TINY_VIT, dim=0)


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


def test_vit_fashion_counts_by_the_formula() -> None:
    cfg = vit_config.VIT_FASHION
    assert cfg.num_patches == 16
    assert vit_config.parameter_count(cfg) == count_parameters(VisionTransformer(cfg))


def test_flip_averaged_is_the_mean_of_the_two_views() -> None:
    torch.manual_seed(0)
    model = nn.Sequential(nn.Flatten(), nn.Linear(12, 3))
    x = torch.rand(4, 1, 3, 4)
    expected = (model(x) + model(x.flip(-1))) / 2
    torch.testing.assert_close(FlipAveraged(model)(x), expected)
    symmetric = torch.cat([x, x.flip(-1)], dim=-1)  # a mirror-symmetric image: no change
    wide = nn.Sequential(nn.Flatten(), nn.Linear(24, 3))
    torch.testing.assert_close(FlipAveraged(wide)(symmetric), wide(symmetric))


def test_flip_averaged_errors() -> None:
    with pytest.raises(TypeError, match="model must be an nn.Module, got function"):
        FlipAveraged(lambda x: x)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=re.escape("images must be 4-D (B, C, H, W)")):
        FlipAveraged(nn.Identity())(torch.zeros(2, 3))


def test_open_set_retrieval_refuses_a_class_both_seen_and_unseen() -> None:
    from companion.train import experiments

    with pytest.raises(
        ValueError, match=re.escape("seen and unseen must not share a class, got [5]")
    ):
        experiments.open_set_retrieval(seen=(0, 5), unseen=(5, 6))
