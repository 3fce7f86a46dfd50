"""Tests for companion.nn.vit: shapes against naive loops, blocks against PyTorch's encoder
layer, the torchvision key mapping, the parameter counts, and every error message."""

from __future__ import annotations

import dataclasses
import json
import re
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from torch import nn

import companion.nn as nn_pkg
from companion.data import augment
from companion.data.digits import load_digits
from companion.nn import vit, vit_config, vit_torchvision
from companion.nn.block import TransformerBlock
from companion.train import recipes
from companion.train.loop import accuracy
from companion.train.recipe import Recipe
from companion.utils import count_parameters
from companion.viz import probes
from course_tools.reference_vit import TorchVisionTwin

DTYPES = [torch.float32, torch.float64]
TOL = {torch.float32: {"atol": 2e-5, "rtol": 1e-4}, torch.float64: {"atol": 1e-10, "rtol": 1e-9}}
SMALL = vit_config.ViTConfig(
    image_size=8, patch_size=2, in_channels=3, num_classes=5, embed_dim=16, depth=2,
    num_heads=4, mlp_dim=24,
)  # fmt: skip


def _random_state_dict(config: vit_config.ViTConfig, dtype: torch.dtype, seed: int = 0) -> dict:
    g = torch.Generator().manual_seed(seed)
    return {
        k: torch.randn(shape, generator=g, dtype=dtype) * 0.3
        for k, shape in vit_torchvision.torchvision_shapes(config).items()
    }


# ----------------------------------------------------------------------------- config


@pytest.mark.parametrize(
    ("config", "expected"),
    [
        (vit_config.VIT_B_16, 86_567_656),
        (vit_config.VIT_L_16, 304_326_632),
        (vit_config.VIT_H_14, 632_045_800),
    ],
)
def test_parameter_counts_match_torchvision(config: vit_config.ViTConfig, expected: int) -> None:
    assert vit_config.parameter_count(config) == expected
    with torch.device("meta"):  # shapes only, nothing allocated
        model = vit.VisionTransformer(config)
    assert count_parameters(model) == expected
    assert sum(
        s.numel() for s in map(torch.Size, vit_torchvision.torchvision_shapes(config).values())
    ) == (expected)


def test_parameter_counts_by_part() -> None:
    model = vit.VisionTransformer(SMALL)
    parts = vit_config.parameter_counts(SMALL)
    assert parts["patch_embedding"] == count_parameters(model.patch_embedding)
    assert parts["blocks"] == count_parameters(model.blocks)
    assert parts["head"] == count_parameters(model.head)
    assert parts["position_embedding"] == model.position_embedding.numel()
    assert vit_config.parameter_count(SMALL) == count_parameters(model)


def test_presets() -> None:
    assert (vit_config.VIT_B_16.num_patches, vit_config.VIT_B_16.patch_dim) == (196, 768)
    assert vit_config.VIT_H_14.grid_size == 16
    assert vit_config.VIT_DIGITS.image_size == 8
    with pytest.raises(dataclasses.FrozenInstanceError):
        vit_config.VIT_B_16.depth = 3  # type: ignore[misc]


def test_config_image_size_not_divisible() -> None:
    with pytest.raises(ValueError, match=r"image_size must be divisible by patch_size, got "):
        vit_config.ViTConfig(image_size=30, patch_size=16)


def test_config_heads_not_dividing() -> None:
    with pytest.raises(ValueError, match=r"embed_dim must be divisible by num_heads, got "):
        vit_config.ViTConfig(embed_dim=100, num_heads=12)


@pytest.mark.parametrize(
    ("bad", "error", "message"),
    [
        (0, ValueError, "depth must be an int >= 1, got 0"),
        (-3, ValueError, "depth must be an int >= 1, got -3"),
        (2.0, TypeError, "depth must be an int, got float"),
        (True, TypeError, "depth must be an int, got bool"),
    ],
)
def test_config_positive_ints(bad: object, error: type[Exception], message: str) -> None:
    with pytest.raises(error, match=message):
        vit_config.ViTConfig(depth=bad)  # type: ignore[arg-type]


def test_config_dropout_and_eps() -> None:
    with pytest.raises(
        ValueError, match=r"dropout must be a finite number in \[0.0, 1.0\), got 1.0"
    ):
        vit_config.ViTConfig(dropout=1.0)
    with pytest.raises(ValueError, match=r"layer_norm_eps must be a finite number > 0.0, got 0.0"):
        vit_config.ViTConfig(layer_norm_eps=0.0)


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
        ValueError, match=r"images must be \(B, 3, H, W\), got shape \(1, 1, 8, 8\)"
    ):
        embed(torch.zeros(1, 1, 8, 8))


# ----------------------------------------------------------------------------- blocks


def _torch_layer_and_block(config: vit_config.ViTConfig, dtype: torch.dtype):
    torch.manual_seed(0)
    layer = nn.TransformerEncoderLayer(
        config.embed_dim, config.num_heads, config.mlp_dim, dropout=0.0, activation="gelu",
        layer_norm_eps=config.layer_norm_eps, batch_first=True, norm_first=True, dtype=dtype,
    )  # fmt: skip
    with torch.no_grad():
        for p in layer.parameters():
            p.add_(0.1 * torch.randn_like(p))  # non-trivial biases and norms
    block = TransformerBlock(
        config.embed_dim, config.num_heads, config.mlp_dim, layer_norm_eps=config.layer_norm_eps
    ).to(dtype)
    sd = {
        "ln_1.weight": layer.norm1.weight, "ln_1.bias": layer.norm1.bias,
        "ln_2.weight": layer.norm2.weight, "ln_2.bias": layer.norm2.bias,
        "fc_1.weight": layer.linear1.weight, "fc_1.bias": layer.linear1.bias,
        "fc_2.weight": layer.linear2.weight, "fc_2.bias": layer.linear2.bias,
        "attention.out_proj.weight": layer.self_attn.out_proj.weight,
        "attention.out_proj.bias": layer.self_attn.out_proj.bias,
    }  # fmt: skip
    E = config.embed_dim
    for k, name in enumerate(("q_proj", "k_proj", "v_proj")):
        sd[f"attention.{name}.weight"] = layer.self_attn.in_proj_weight[k * E : (k + 1) * E]
        sd[f"attention.{name}.bias"] = layer.self_attn.in_proj_bias[k * E : (k + 1) * E]
    block.load_state_dict({k: v.detach() for k, v in sd.items()}, strict=True)
    return layer, block


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize(("B", "L"), [(2, 17), (3, 5)])
def test_encoder_block_matches_torch_layer(dtype: torch.dtype, B: int, L: int) -> None:
    layer, block = _torch_layer_and_block(SMALL, dtype)
    x = torch.randn(B, L, SMALL.embed_dim, dtype=dtype, generator=torch.Generator().manual_seed(1))
    out = block(x)
    torch.testing.assert_close(out, layer(x), **TOL[dtype])  # training mode, slow path
    layer.eval()
    block.eval()
    with torch.no_grad():  # PyTorch's fused inference path
        torch.testing.assert_close(block(x), layer(x), **TOL[dtype])


@pytest.mark.parametrize("dtype", DTYPES)
def test_encoder_block_weights_match_torch(dtype: torch.dtype) -> None:
    layer, block = _torch_layer_and_block(SMALL, dtype)
    x = torch.randn(2, 9, SMALL.embed_dim, dtype=dtype, generator=torch.Generator().manual_seed(2))
    out, weights = block.forward_with_weights(x)
    h = layer.norm1(x)
    _, expected = layer.self_attn(h, h, h, need_weights=True, average_attn_weights=False)
    assert weights.shape == (2, SMALL.num_heads, 9, 9)
    torch.testing.assert_close(weights, expected, **TOL[dtype])
    torch.testing.assert_close(out, block(x), **TOL[dtype])
    _, direct = block.attention(block.ln_1(x), block.ln_1(x), block.ln_1(x), need_weights=True)
    assert torch.equal(weights, direct)  # the weights of MultiHeadAttention called directly


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


@pytest.mark.parametrize("norm_first", [True, False])
def test_block_dropout_in_eval_mode_equals_no_dropout(norm_first: bool) -> None:
    torch.manual_seed(0)
    plain = TransformerBlock(16, 4, 24, norm_first=norm_first).eval()
    torch.manual_seed(0)
    dropped = TransformerBlock(16, 4, 24, norm_first=norm_first, dropout=0.3).eval()
    x = torch.randn(2, 5, 16, generator=torch.Generator().manual_seed(3))
    assert torch.equal(dropped(x), plain(x))
    for a, b in zip(dropped.forward_with_weights(x), plain.forward_with_weights(x), strict=True):
        assert torch.equal(a, b)
    assert not torch.equal(dropped.train()(x), plain(x))  # and it does drop out in training


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
            r"images must be \(B, 3, 8, 8\) for this config, got shape \(2, 3, 16, 16\)",
        ),
        ((2, 1, 8, 8), r"images must be \(B, 3, 8, 8\) for this config, got shape \(2, 1, 8, 8\)"),
        ((3, 8, 8), r"images must be \(B, 3, 8, 8\) for this config, got shape \(3, 8, 8\)"),
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


# ------------------------------------------------------------------------ torchvision


TORCHVISION_KEYS = Path(__file__).parent / "fixtures" / "torchvision_vit_b_16_keys.json"


def test_torchvision_shapes_equal_torchvisions_own_key_table() -> None:
    """Against torchvision's real ``vit_b_16`` state dict, recorded by
    tools/make_torchvision_fixture.py: every key, in torchvision's order, and its shape."""
    recorded = json.loads(TORCHVISION_KEYS.read_text())
    theirs = {key: tuple(shape) for key, shape in recorded["shapes"].items()}
    ours = vit_torchvision.torchvision_shapes(vit_config.VIT_B_16)
    assert sorted(set(theirs) - set(ours)) == [], "keys torchvision has and we lack"
    assert sorted(set(ours) - set(theirs)) == [], "keys we expect and torchvision lacks"
    assert list(ours) == list(theirs)
    assert ours == theirs
    assert vit_config.parameter_count(vit_config.VIT_B_16) == recorded["parameters"]


def test_a_real_torchvision_state_dict_loads() -> None:
    """Zeros in torchvision's recorded shapes load with no missing, unexpected or
    mis-shaped key, and come back under the same keys."""
    recorded = json.loads(TORCHVISION_KEYS.read_text())["shapes"]
    with torch.device("meta"):
        state_dict = {key: torch.zeros(shape) for key, shape in recorded.items()}
        ours = vit_torchvision.from_torchvision_state_dict(state_dict, vit_config.VIT_B_16)
        back = vit_torchvision.to_torchvision_state_dict(ours, vit_config.VIT_B_16)
    assert {k: list(v.shape) for k, v in back.items()} == recorded


@pytest.mark.parametrize("dtype", DTYPES)
def test_from_torchvision_matches_reference(dtype: torch.dtype) -> None:
    sd = _random_state_dict(SMALL, dtype)
    model = vit.VisionTransformer.from_torchvision(sd, SMALL)
    assert not model.training
    reference = TorchVisionTwin(SMALL).to(dtype)
    reference.load_torchvision(sd)
    reference.eval()
    images = torch.randn(4, 3, 8, 8, dtype=dtype, generator=torch.Generator().manual_seed(3))
    with torch.no_grad():
        torch.testing.assert_close(model(images), reference(images), **TOL[dtype])


def test_from_torchvision_round_trip() -> None:
    sd = _random_state_dict(SMALL, torch.float32)
    back = vit.VisionTransformer.from_torchvision(sd, SMALL).to_torchvision()
    assert set(back) == set(sd)
    for key, value in sd.items():
        assert torch.equal(back[key], value), key


def test_from_torchvision_missing_key() -> None:
    sd = _random_state_dict(SMALL, torch.float32)
    del sd["encoder.layers.encoder_layer_1.mlp.3.bias"]
    del sd["class_token"]
    with pytest.raises(
        ValueError,
        match=r"missing keys: class_token, encoder\.layers\.encoder_layer_1\.mlp\.3\.bias$",
    ):
        vit.VisionTransformer.from_torchvision(sd, SMALL)


def test_from_torchvision_unexpected_key() -> None:
    sd = _random_state_dict(SMALL, torch.float32)
    sd["heads.pre_logits.weight"] = torch.zeros(3)
    with pytest.raises(ValueError, match=r"unexpected keys: heads\.pre_logits\.weight$"):
        vit.VisionTransformer.from_torchvision(sd, SMALL)


def test_from_torchvision_misshaped_key() -> None:
    sd = _random_state_dict(SMALL, torch.float32)
    sd["encoder.pos_embedding"] = torch.zeros(1, 5, 16)
    message = "mis-shaped keys: encoder.pos_embedding: expected (1, 17, 16), got (1, 5, 16)"
    with pytest.raises(ValueError, match=re.escape(message)):
        vit.VisionTransformer.from_torchvision(sd, SMALL)


# --------------------------------------------------------------------------- analysis


@pytest.mark.parametrize("dtype", DTYPES)
def test_class_token_attention_matches_loop(dtype: torch.dtype) -> None:
    g = torch.Generator().manual_seed(0)
    weights = torch.rand(2, 3, 10, 10, generator=g, dtype=dtype).softmax(-1)
    out = probes.class_token_attention(weights, 3)
    expected = torch.zeros(2, 3, 3, dtype=dtype)
    for b in range(2):
        for i in range(3):
            for j in range(3):
                expected[b, i, j] = sum(weights[b, h, 0, 1 + 3 * i + j] for h in range(3)) / 3
    torch.testing.assert_close(out, expected, **TOL[dtype])


def test_class_token_attention_error() -> None:
    with pytest.raises(ValueError, match=r"weights must be \(B, H, 17, 17\) for grid_size=4, got"):
        probes.class_token_attention(torch.zeros(1, 2, 10, 10), 4)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("depth", [1, 3])
def test_attention_rollout_matches_loop(dtype: torch.dtype, depth: int) -> None:
    g = torch.Generator().manual_seed(0)
    weights = [torch.rand(2, 4, 5, 5, generator=g, dtype=dtype).softmax(-1) for _ in range(depth)]
    out = probes.attention_rollout(weights)
    for b in range(2):
        r = torch.eye(5, dtype=dtype)
        for w in weights:
            a = 0.5 * w[b].mean(0) + 0.5 * torch.eye(5, dtype=dtype)
            r = a @ r
        torch.testing.assert_close(out[b], r, **TOL[dtype])
    torch.testing.assert_close(out.sum(-1), torch.ones(2, 5, dtype=dtype), **TOL[dtype])


def test_attention_rollout_errors() -> None:
    with pytest.raises(ValueError, match=r"at least one block's attention weights, got none"):
        probes.attention_rollout([])
    with pytest.raises(ValueError, match=r"must all have the same shape \(B, H, L, L\), got"):
        probes.attention_rollout([torch.zeros(1, 2, 5, 5), torch.zeros(1, 2, 4, 4)])


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("batched", [True, False])
def test_position_similarity_matches_loop(dtype: torch.dtype, batched: bool) -> None:
    pos = torch.randn(1, 10, 6, dtype=dtype, generator=torch.Generator().manual_seed(0))
    out = probes.position_similarity(pos if batched else pos[0], 3)
    assert out.shape == (3, 3, 3, 3)
    for i in range(3):
        for j in range(3):
            for k in range(3):
                for m in range(3):
                    expected = F.cosine_similarity(pos[0, 1 + 3 * i + j], pos[0, 1 + 3 * k + m], 0)
                    torch.testing.assert_close(out[i, j, k, m], expected, **TOL[dtype])


def test_position_similarity_error() -> None:
    with pytest.raises(ValueError, match=r"must be \(1, 17, D\) or \(17, D\) for grid_size=4"):
        probes.position_similarity(torch.zeros(1, 10, 4), 4)


# ----------------------------------------------------------------------------- training


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("max_shift", [1, 2])
def test_random_shift_is_a_shift(dtype: torch.dtype, max_shift: int) -> None:
    g = torch.Generator().manual_seed(0)
    images = torch.zeros(6, 2, 9, 8, dtype=dtype)
    images[:, :, 2:-2, 2:-2] = torch.rand(6, 2, 5, 4, generator=g, dtype=dtype) + 0.1
    out = augment.random_shift(images, torch.Generator().manual_seed(1), max_shift=max_shift)
    again = augment.random_shift(images, torch.Generator().manual_seed(1), max_shift=max_shift)
    assert torch.equal(out, again)
    assert out.dtype == dtype
    assert out.shape == images.shape
    for b in range(6):  # each output is the input rolled by some (dy, dx), nothing lost
        candidates = [
            torch.roll(images[b], (dy, dx), dims=(1, 2))
            for dy in range(-max_shift, max_shift + 1)
            for dx in range(-max_shift, max_shift + 1)
        ]
        assert any(torch.equal(out[b], c) for c in candidates)


def test_random_shift_zero_is_identity_and_errors() -> None:
    images = torch.rand(2, 1, 8, 8)
    assert torch.equal(augment.random_shift(images, torch.Generator(), max_shift=0), images)
    with pytest.raises(ValueError, match=r"images must be 4-D \(B, C, H, W\), got shape \(8, 8\)"):
        augment.random_shift(torch.zeros(8, 8), torch.Generator())
    with pytest.raises(ValueError, match=r"max_shift must be an int in \[0, 7\], got 8"):
        augment.random_shift(images, torch.Generator(), max_shift=8)


def _shift_loop(image: torch.Tensor, dy: int, dx: int) -> torch.Tensor:
    """``image`` (C, H, W) moved down by ``dy`` and right by ``dx`` pixels, zero fill."""
    _, H, W = image.shape
    out = torch.zeros_like(image)
    for i in range(H):
        for j in range(W):
            if 0 <= i - dy < H and 0 <= j - dx < W:
                out[:, i, j] = image[:, i - dy, j - dx]
    return out


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("max_shift", [0, 1, 2])
def test_shift_averaged_matches_loop(dtype: torch.dtype, max_shift: int) -> None:
    torch.manual_seed(0)
    config = dataclasses.replace(
        vit_config.VIT_DIGITS, embed_dim=16, depth=1, num_heads=2, mlp_dim=16
    )
    model = vit.VisionTransformer(config).to(dtype).eval()
    images = torch.rand(3, 1, 8, 8, dtype=dtype)
    with torch.no_grad():
        out = augment.ShiftAveraged(model, max_shift=max_shift)(images)
        r = range(-max_shift, max_shift + 1)
        views = [[model(_shift_loop(x, dy, dx)[None])[0] for dy in r for dx in r] for x in images]
        expected = torch.stack([torch.stack(v).mean(0) for v in views])
    assert out.shape == (3, 10)
    assert out.dtype == dtype
    torch.testing.assert_close(out, expected, **TOL[dtype])


def test_shift_averaged_zero_is_the_model() -> None:
    model = nn.Linear(4, 3)
    images = torch.rand(2, 1, 2, 2)
    wrapped = augment.ShiftAveraged(nn.Sequential(nn.Flatten(), model), max_shift=0)
    torch.testing.assert_close(wrapped(images), model(images.flatten(1)), atol=0, rtol=0)


def test_shift_averaged_errors() -> None:
    with pytest.raises(TypeError, match=r"model must be an nn.Module, got function"):
        augment.ShiftAveraged(lambda x: x)
    with pytest.raises(ValueError, match=r"max_shift must be an int >= 0, got -1"):
        augment.ShiftAveraged(nn.Identity(), max_shift=-1)
    for bad, kind in [(1.0, "float"), (True, "bool")]:
        with pytest.raises(TypeError, match=rf"max_shift must be an int, got {kind}"):
            augment.ShiftAveraged(nn.Identity(), max_shift=bad)
    wrapped = augment.ShiftAveraged(nn.Identity(), max_shift=2)
    with pytest.raises(ValueError, match=r"images must be 4-D \(B, C, H, W\), got shape \(8, 8\)"):
        wrapped(torch.zeros(8, 8))
    with pytest.raises(ValueError, match=r"max_shift must be an int in \[0, 1\], got 2"):
        wrapped(torch.zeros(1, 1, 2, 5))


@pytest.mark.parametrize("field", ["max_shift", "test_shift"])
def test_recipe_rejects_bad_shifts(field: str) -> None:
    with pytest.raises(ValueError, match=rf"{field} must be an int >= 0, got -1"):
        Recipe(**{field: -1})
    with pytest.raises(TypeError, match=rf"{field} must be an int, got float"):
        Recipe(**{field: 0.5})


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
