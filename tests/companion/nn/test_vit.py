"""companion.nn.vit: patches against naive loops, the model's shapes, dropout and errors."""

from __future__ import annotations

import dataclasses

import pytest
import torch
import torch.nn.functional as F

import companion.nn as nn_pkg
from companion.nn import vit, vit_config
from companion.nn.block import TransformerBlock

DTYPES = [torch.float32, torch.float64]
TOL = {torch.float32: {"atol": 2e-5, "rtol": 1e-4}, torch.float64: {"atol": 1e-10, "rtol": 1e-9}}
SMALL = vit_config.ViTConfig(
    image_size=8, patch_size=2, in_channels=3, num_classes=5, embed_dim=16, depth=2,
    num_heads=4, mlp_dim=24,
)  # fmt: skip


# ---------------------------------------------------------------------------- patches


def _patchify_loop(images: torch.Tensor, P: int) -> torch.Tensor:
    B, _, H, W = images.shape
    rows = []
    for b in range(B):
        patches = []
        for i in range(H // P):
            for j in range(W // P):
                patches.append(images[b, :, i * P : (i + 1) * P, j * P : (j + 1) * P].flatten())
        rows.append(torch.stack(patches))
    return torch.stack(rows)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize(("shape", "P"), [((2, 1, 8, 8), 2), ((3, 3, 12, 8), 4), ((1, 2, 6, 6), 6)])
def test_patchify_matches_loop(dtype: torch.dtype, shape: tuple[int, ...], P: int) -> None:
    images = torch.randn(shape, generator=torch.Generator().manual_seed(0), dtype=dtype)
    out = vit.patchify(images, P)
    B, C, H, W = shape
    assert out.shape == (B, H * W // P**2, C * P * P)
    torch.testing.assert_close(out, _patchify_loop(images, P), atol=0, rtol=0)


def test_patchify_errors() -> None:
    with pytest.raises(ValueError, match=r"images must be 4-D \(B, C, H, W\), got shape \(8, 8\)"):
        vit.patchify(torch.zeros(8, 8), 2)
    with pytest.raises(
        ValueError, match=r"image size must be divisible by the patch size, got 8x6"
    ):
        vit.patchify(torch.zeros(1, 1, 8, 6), 4)
    with pytest.raises(ValueError, match=r"patch_size must be an int >= 1, got 0"):
        vit.patchify(torch.zeros(1, 1, 8, 8), 0)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize(("C", "P", "D"), [(1, 2, 8), (3, 4, 16)])
def test_patch_embedding_equals_strided_conv(dtype: torch.dtype, C: int, P: int, D: int) -> None:
    torch.manual_seed(0)
    embed = vit.PatchEmbedding(P, C, D).to(dtype)
    images = torch.randn(2, C, 4 * P, 2 * P, dtype=dtype)
    weight = embed.proj.weight.reshape(D, C, P, P)
    conv = F.conv2d(images, weight, embed.proj.bias, stride=P)  # (B, D, gh, gw)
    expected = conv.flatten(2).transpose(1, 2)  # (B, N, D)
    torch.testing.assert_close(embed(images), expected, **TOL[dtype])


def test_patch_embedding_channels_error() -> None:
    embed = vit.PatchEmbedding(2, 3, 8)
    with pytest.raises(
        ValueError, match=r"images must have shape \(B, 3, H, W\), got \(1, 1, 8, 8\)"
    ):
        embed(torch.zeros(1, 1, 8, 8))


def test_vit_stacks_transformer_blocks_and_encoder_block_is_gone() -> None:
    model = vit.VisionTransformer(dataclasses.replace(SMALL, dropout=0.1))
    assert len(model.blocks) == SMALL.depth
    for block in model.blocks:
        assert type(block) is TransformerBlock
        assert block.norm_first
        assert block.ln_1.eps == block.ln_2.eps == SMALL.layer_norm_eps
        assert block.dropout.p == 0.1
    assert not hasattr(vit, "EncoderBlock")
    assert not any(hasattr(getattr(nn_pkg, m), "EncoderBlock") for m in nn_pkg.__all__)


# ------------------------------------------------------------------------------ model


def test_forward_shapes_and_encode() -> None:
    torch.manual_seed(0)
    model = vit.VisionTransformer(SMALL).eval()
    with torch.no_grad():  # a trained head is not zero: make it so, to compare logits
        model.head.weight.normal_()
    images = torch.randn(3, 3, 8, 8)
    logits = model(images)
    assert logits.shape == (3, SMALL.num_classes)
    tokens, weights = model.encode(images, need_weights=True)
    assert tokens.shape == (3, SMALL.num_patches + 1, SMALL.embed_dim)
    assert len(weights) == SMALL.depth
    assert all(w.shape == (3, SMALL.num_heads, 17, 17) for w in weights)
    torch.testing.assert_close(model.head(tokens[:, 0]), logits)
    assert model.encode(images)[1] == []


@pytest.mark.parametrize(
    ("shape", "message"),
    [
        (
            (2, 3, 16, 16),
            r"images must have shape \(B, 3, 8, 8\) for this config, got \(2, 3, 16, 16\)",
        ),
        (
            (2, 1, 8, 8),
            r"images must have shape \(B, 3, 8, 8\) for this config, got \(2, 1, 8, 8\)",
        ),
        ((3, 8, 8), r"images must have shape \(B, 3, 8, 8\) for this config, got \(3, 8, 8\)"),
    ],
)
def test_forward_rejects_wrong_images(shape: tuple[int, ...], message: str) -> None:
    model = vit.VisionTransformer(SMALL)
    with pytest.raises(ValueError, match=message):
        model(torch.zeros(shape))


def test_model_rejects_non_config() -> None:
    with pytest.raises(TypeError, match=r"config must be a ViTConfig, got dict"):
        vit.VisionTransformer({})  # type: ignore[arg-type]


def test_dropout_is_used_in_training_only() -> None:
    config = dataclasses.replace(SMALL, dropout=0.5)
    torch.manual_seed(0)
    model = vit.VisionTransformer(config)
    with torch.no_grad():
        model.head.weight.normal_()
    images = torch.randn(2, 3, 8, 8)
    assert not torch.equal(model(images), model(images))
    model.eval()
    assert torch.equal(model(images), model(images))
