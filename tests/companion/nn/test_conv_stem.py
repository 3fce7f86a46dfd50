"""The convolutional stem: sizes by the formula, parameters by the formula, the plain ViT
untouched, gradients everywhere, one test per message."""

from __future__ import annotations

import inspect

import pytest
import torch
import torch.nn.functional as F

from companion.nn import conv_stem
from companion.nn.conv_stem import (
    STEM_CHANNELS,
    ConvStem,
    ConvStemViT,
    conv_output_size,
    conv_stem_grid_size,
    conv_stem_parameter_count,
    conv_stem_vit_parameter_count,
)
from companion.nn.vit import PatchEmbedding, VisionTransformer
from companion.nn.vit_config import VIT_DIGITS, VIT_FASHION, ViTConfig, parameter_count


def _n_parameters(module: torch.nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


# ------------------------------------------------------------------------------ sizes


@pytest.mark.parametrize(
    ("size", "k", "s", "p", "expected"),
    [(28, 3, 2, 1, 14), (14, 3, 2, 1, 7), (7, 2, 2, 1, 4), (8, 3, 2, 1, 4), (5, 3, 1, 0, 3)],
)
def test_conv_output_size_formula(size: int, k: int, s: int, p: int, expected: int) -> None:
    assert conv_output_size(size, k, s, p) == expected
    conv = torch.nn.Conv2d(1, 1, kernel_size=k, stride=s, padding=p)
    assert conv(torch.zeros(1, 1, size, size)).shape[-1] == expected


def test_conv_output_size_rejects_a_kernel_larger_than_the_input() -> None:
    with pytest.raises(ValueError, match=r"kernel_size must be <= size \+ 2·padding, got"):
        conv_output_size(2, 5, 1, 1)


def test_stem_grid_keeps_sixteen_tokens_on_28x28() -> None:
    assert conv_stem_grid_size(28) == 4 == VIT_FASHION.grid_size
    assert conv_stem_grid_size(8) == 2 == VIT_DIGITS.grid_size


def test_stem_shapes_step_by_step() -> None:
    torch.manual_seed(0)
    stem = ConvStem(1, 64)
    x = torch.randn(2, 1, 28, 28)
    c1, c2 = STEM_CHANNELS
    h1 = stem.convs[:3](x)
    h2 = stem.convs[3:](h1)
    assert h1.shape == (2, c1, 14, 14)
    assert h2.shape == (2, c2, 7, 7)
    assert stem.proj(h2).shape == (2, 64, 4, 4)
    assert stem(x).shape == (2, 16, 64)


def test_stem_tokens_are_the_grid_row_by_row() -> None:
    torch.manual_seed(0)
    stem = ConvStem(1, 8, channels=(4, 4)).eval()
    x = torch.randn(2, 1, 28, 28)
    grid = stem.proj(stem.convs(x))  # (B, D, 4, 4)
    tokens = stem(x)  # (B, 16, D)
    for i in range(4):
        for j in range(4):
            torch.testing.assert_close(tokens[:, 4 * i + j], grid[:, :, i, j], rtol=0, atol=0)


# ------------------------------------------------------------------------- parameters


def test_stem_parameter_count_formula() -> None:
    for C, channels, D in ((1, STEM_CHANNELS, 64), (3, (8, 16), 32), (1, (1, 1), 1)):
        assert _n_parameters(ConvStem(C, D, channels=channels)) == conv_stem_parameter_count(
            C, channels, D
        )
    assert conv_stem_parameter_count(1, STEM_CHANNELS, 64) == 23_080


def test_stem_vit_parameter_count() -> None:
    assert parameter_count(VIT_FASHION) == 139_018
    model = ConvStemViT(VIT_FASHION)
    assert _n_parameters(model) == conv_stem_vit_parameter_count(VIT_FASHION) == 158_898
    assert _n_parameters(ConvStemViT(VIT_DIGITS, (8, 16))) == conv_stem_vit_parameter_count(
        VIT_DIGITS, (8, 16)
    )


# --------------------------------------------------------------------- the plain ViT


def test_plain_vit_is_unchanged() -> None:
    """Building a ConvStemViT in between does not change what a seed gives the plain ViT:
    same keys, same weights, same outputs; and its own non-stem weights are the plain ViT's."""
    torch.manual_seed(0)
    before = VisionTransformer(VIT_FASHION)
    torch.manual_seed(0)
    stem_vit = ConvStemViT(VIT_FASHION)
    torch.manual_seed(0)
    after = VisionTransformer(VIT_FASHION)
    assert isinstance(after.patch_embedding, PatchEmbedding)
    assert _n_parameters(after) == parameter_count(VIT_FASHION)
    a, b = before.state_dict(), after.state_dict()
    assert list(a) == list(b)
    assert "patch_embedding.proj.weight" in b
    for key in a:
        assert torch.equal(a[key], b[key]), key
    shared = {k: v for k, v in stem_vit.state_dict().items() if not k.startswith("patch_embedding")}
    assert set(shared) == {k for k in a if not k.startswith("patch_embedding")}
    for key, value in shared.items():
        assert torch.equal(value, a[key]), key
    images = torch.randn(3, 1, 28, 28)
    with torch.no_grad():
        for m in (before, after):
            m.head.weight.fill_(0.01)
    assert torch.equal(before(images), after(images))


# ------------------------------------------------------------------- forward/backward


def test_forward_shapes_and_encode() -> None:
    torch.manual_seed(0)
    model = ConvStemViT(VIT_FASHION)
    images = torch.randn(3, 1, 28, 28)
    assert model(images).shape == (3, 10)
    tokens, weights = model.encode(images, need_weights=True)
    assert tokens.shape == (3, 17, 64)
    assert len(weights) == 4
    assert all(w.shape == (3, 4, 17, 17) for w in weights)


def test_one_batch_backward_reaches_every_parameter() -> None:
    torch.manual_seed(0)
    model = ConvStemViT(VIT_FASHION).train()
    with torch.no_grad():  # a zero head passes no gradient back: give it weights
        model.head.weight.normal_(std=0.1)
    images, labels = torch.randn(4, 1, 28, 28), torch.tensor([0, 1, 2, 3])
    F.cross_entropy(model(images), labels).backward()
    for name, p in model.named_parameters():
        assert p.grad is not None, name
        assert p.grad.abs().sum() > 0, name


def test_follows_the_input_device_and_dtype() -> None:
    """No device is written in the module; on the meta device (shapes only) and in float64
    everything stays with the input."""
    source = inspect.getsource(conv_stem)
    assert '"cpu"' not in source
    assert '"cuda"' not in source
    model = ConvStemViT(VIT_FASHION).to("meta")
    assert model(torch.empty(2, 1, 28, 28, device="meta")).device.type == "meta"
    model = ConvStemViT(VIT_FASHION).double()
    assert model(torch.randn(2, 1, 28, 28, dtype=torch.float64)).dtype == torch.float64


# ---------------------------------------------------------------------------- errors


def test_rejects_wrong_image_size() -> None:
    model = ConvStemViT(VIT_FASHION)
    with pytest.raises(
        ValueError,
        match=r"images must have shape \(B, 1, 28, 28\) for this config, got \(2, 1, 32, 32\)",
    ):
        model(torch.zeros(2, 1, 32, 32))


def test_rejects_wrong_channels() -> None:
    model = ConvStemViT(VIT_FASHION)
    with pytest.raises(
        ValueError,
        match=r"images must have shape \(B, 1, 28, 28\) for this config, got \(2, 3, 28, 28\)",
    ):
        model(torch.zeros(2, 3, 28, 28))


def test_stem_rejects_wrong_channels() -> None:
    with pytest.raises(
        ValueError, match=r"images must have shape \(B, 1, H, W\), got \(2, 3, 28, 28\)"
    ):
        ConvStem(1, 64)(torch.zeros(2, 3, 28, 28))


def test_stem_rejects_wrong_ndim() -> None:
    with pytest.raises(
        ValueError, match=r"images must be 4-D \(B, C, H, W\), got shape \(1, 28, 28\)"
    ):
        ConvStem(1, 64)(torch.zeros(1, 28, 28))


def test_rejects_non_tensor() -> None:
    with pytest.raises(TypeError, match=r"images must be a torch.Tensor, got list"):
        ConvStemViT(VIT_FASHION)([[0.0]])  # type: ignore[arg-type]


def test_stem_rejects_non_tensor() -> None:
    with pytest.raises(TypeError, match=r"images must be a torch.Tensor, got list"):
        ConvStem(1, 64)([[0.0]])  # type: ignore[arg-type]


def test_rejects_a_config_whose_grid_the_stem_does_not_give() -> None:
    config = ViTConfig(
        image_size=28,
        patch_size=14,
        in_channels=1,
        num_classes=10,
        embed_dim=16,
        depth=1,
        num_heads=2,
        mlp_dim=16,
    )
    with pytest.raises(ValueError, match=r"config.grid_size must be the stem's grid side 4 "):
        ConvStemViT(config)


def test_rejects_bad_channels() -> None:
    with pytest.raises(ValueError, match=r"channels must be a tuple of 2 ints, got \[24, 48\]"):
        ConvStem(1, 64, channels=[24, 48])  # type: ignore[arg-type]


def test_rejects_non_config() -> None:
    with pytest.raises(TypeError, match=r"config must be a ViTConfig, got dict"):
        ConvStemViT({})  # type: ignore[arg-type]


def test_torchvision_conversion_is_refused() -> None:
    with pytest.raises(NotImplementedError, match="no torchvision counterpart"):
        ConvStemViT(VIT_FASHION).to_torchvision()
    with pytest.raises(NotImplementedError, match="no torchvision counterpart"):
        ConvStemViT.from_torchvision({}, VIT_FASHION)
