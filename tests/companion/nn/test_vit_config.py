"""companion.nn.vit_config: presets, validation and parameter counts by the formula."""

from __future__ import annotations

import dataclasses

import pytest
import torch

from companion.nn import vit, vit_config, vit_torchvision
from companion.nn.vit import VisionTransformer
from companion.utils import count_parameters

SMALL = vit_config.ViTConfig(
    image_size=8, patch_size=2, in_channels=3, num_classes=5, embed_dim=16, depth=2,
    num_heads=4, mlp_dim=24,
)  # fmt: skip


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


def test_vit_fashion_counts_by_the_formula() -> None:
    cfg = vit_config.VIT_FASHION
    assert cfg.num_patches == 16
    assert vit_config.parameter_count(cfg) == count_parameters(VisionTransformer(cfg))
