"""companion.nn.embedding: the embedding networks (CNN and ViT) put unit vectors on the sphere,
learn, and check their input."""

from __future__ import annotations

import dataclasses

import pytest
import torch
import torch.nn.functional as F

from companion.metric.losses import (
    batch_hard_triplet_loss,
)
from companion.metric.retrieval import (
    recall_at_k,
)
from companion.nn import vit_config
from companion.nn.cnn import conv_blocks
from companion.nn.embedding import EmbeddingConfig, EmbeddingNet, ViTEmbedding
from companion.nn.vit import VisionTransformer
from companion.train.loop import fit, predict

DTYPES = [torch.float32, torch.float64]


def tol(dtype: torch.dtype) -> dict[str, float]:
    return (
        {"rtol": 1e-5, "atol": 1e-5} if dtype == torch.float32 else {"rtol": 1e-10, "atol": 1e-10}
    )


# --- companion.nn.embedding -----------------------------------------------------------------


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize(("size", "global_pool"), [(8, True), (16, True), (8, False)])
def test_embedding_net_shapes_and_unit_norm(dtype, size, global_pool):
    torch.manual_seed(0)
    net = EmbeddingNet(
        EmbeddingConfig(image_size=size, channels=(4, 8), dim=5, global_pool=global_pool)
    ).to(dtype)
    out = net(torch.rand(3, 1, size, size, dtype=dtype))
    assert out.shape == (3, 5)
    assert out.dtype == dtype
    torch.testing.assert_close(out.norm(dim=1), torch.ones(3, dtype=dtype), **tol(dtype))
    raw = EmbeddingNet(EmbeddingConfig(image_size=size, dim=5, normalize=False)).to(dtype)
    assert raw(torch.rand(2, 1, size, size, dtype=dtype)).shape == (2, 5)


def test_embedding_net_learns_with_fit_and_the_triplet_loss():
    """Eight epochs of batch-hard triplet loss on the 269 validation digits: the loss
    falls, and the nearest neighbour in embedding space shares the label far more often
    than before training (about 0.52 -> 0.72 in this run; chance is about 0.1)."""
    from companion.data.digits import load_digits
    from companion.train.loop import Recipe

    x, y = load_digits("val")
    torch.manual_seed(0)
    net = EmbeddingNet(EmbeddingConfig(channels=(8, 16), dim=8))
    before = recall_at_k(predict(net, x), y, k=1)

    def loss_fn(embeddings, labels):
        return batch_hard_triplet_loss(embeddings, labels, margin=0.2)

    history = fit(
        net, x, y, Recipe(epochs=8, batch_size=64, lr=3e-3), loss_fn=loss_fn, progress=False
    )
    after = recall_at_k(predict(net, x), y, k=1)
    assert history.epochs == 8
    assert history.train_loss[-1] < 0.9 * history.train_loss[0]
    assert after > before + 0.1
    assert after > 0.6


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        (
            {"image_size": 6},
            ValueError,
            r"image_size must be a multiple of 4 \(two 2x2 pools\), got 6",
        ),
        ({"image_size": 0}, ValueError, "image_size must be an int >= 4, got 0"),
        ({"image_size": 8.0}, TypeError, "image_size must be an int, got float"),
        ({"in_channels": 0}, ValueError, "in_channels must be an int >= 1, got 0"),
        ({"channels": (4,)}, ValueError, r"channels must be a tuple of 2 ints, got \(4,\)"),
        ({"channels": (4, 0)}, ValueError, "channels must be an int >= 1, got 0"),
        ({"dim": 0}, ValueError, "dim must be an int >= 1, got 0"),
        ({"normalize": 1}, TypeError, "normalize must be a bool, got int"),
        ({"global_pool": None}, TypeError, "global_pool must be a bool, got NoneType"),
    ],
)
def test_embedding_config_validates_itself(kwargs, error, message):
    with pytest.raises(error, match=message):
        EmbeddingConfig(**kwargs)


def test_embedding_config_is_frozen():
    config = EmbeddingConfig()
    with pytest.raises(dataclasses.FrozenInstanceError):
        config.dim = 3  # type: ignore[misc]


def test_embedding_net_errors():
    with pytest.raises(TypeError, match="config must be an EmbeddingConfig, got dict"):
        EmbeddingNet({"dim": 3})  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"x must have shape \(B, 1, 8, 8\), got \(2, 1, 16, 16\)"):
        EmbeddingNet()(torch.zeros(2, 1, 16, 16))


TINY_VIT = dataclasses.replace(
    vit_config.VIT_FASHION, image_size=8, patch_size=4, embed_dim=16, depth=1, num_heads=2,
    mlp_dim=32,
)  # fmt: skip


def test_embedding_net_keeps_its_state_dict_keys() -> None:
    """EmbeddingNet's convolutions come from conv_blocks: saved weights still load."""
    keys = set(EmbeddingNet(EmbeddingConfig()).state_dict())
    assert keys == {"features.0.weight", "features.0.bias", "features.3.weight"} | {
        "features.3.bias",
        "head.weight",
        "head.bias",
    }
    assert len(conv_blocks(1, (2, 3))) == 6


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
