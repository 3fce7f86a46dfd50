"""companion.data.augment: shifts, placements and flips against loops, the test-time averages, and
their errors."""

from __future__ import annotations

import dataclasses
import re

import pytest
import torch
from torch import nn

from companion.data import augment
from companion.data.augment import FlipAveraged, random_flip, random_placement, shift_on_canvas
from companion.data.digits import load_digits
from companion.nn import vit, vit_config


def test_shift_on_canvas_places_each_image_unchanged() -> None:
    x, _ = load_digits("test")
    canvas = shift_on_canvas(
        x[:20], canvas_size=16, max_shift=8, generator=torch.Generator().manual_seed(0)
    )
    assert canvas.shape == (20, 1, 16, 16)
    # Same pixels, moved: the sums agree and each image is a translated copy.
    torch.testing.assert_close(canvas.sum(dim=(1, 2, 3)), x[:20].sum(dim=(1, 2, 3)))
    again = shift_on_canvas(
        x[:20], canvas_size=16, max_shift=8, generator=torch.Generator().manual_seed(0)
    )
    assert torch.equal(canvas, again)


def test_shift_on_canvas_zero_shift_is_top_left() -> None:
    x, _ = load_digits("test")
    canvas = shift_on_canvas(x[:3], canvas_size=10, max_shift=0)
    assert torch.equal(canvas[:, :, :8, :8], x[:3])


def test_shift_on_canvas_rejects_non_4d() -> None:
    with pytest.raises(
        ValueError, match=r"images must be 4-D \(N, C, h, w\), got shape \(3, 8, 8\)"
    ):
        shift_on_canvas(torch.zeros(3, 8, 8))


def test_shift_on_canvas_rejects_small_canvas() -> None:
    with pytest.raises(ValueError, match="canvas_size must be an int >= 8, got 6"):
        shift_on_canvas(torch.zeros(1, 1, 8, 8), canvas_size=6)


def test_shift_on_canvas_rejects_large_shift() -> None:
    with pytest.raises(ValueError, match=r"max_shift must be an int in \[0, 8\], got 9"):
        shift_on_canvas(torch.zeros(1, 1, 8, 8), canvas_size=16, max_shift=9)


def test_random_placement_moves_digits_and_keeps_them_whole():
    x = torch.rand(4, 1, 8, 8)
    transform = random_placement(16)
    g = torch.Generator().manual_seed(0)
    out1, out2 = transform(x, g), transform(x, g)
    assert out1.shape == (4, 1, 16, 16)
    torch.testing.assert_close(out1.sum(dim=(1, 2, 3)), x.sum(dim=(1, 2, 3)))
    assert not torch.equal(out1, out2)  # a fresh placement for each call


DTYPES = [torch.float32, torch.float64]
TOL = {torch.float32: {"atol": 2e-5, "rtol": 1e-4}, torch.float64: {"atol": 1e-10, "rtol": 1e-9}}


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
    with pytest.raises(TypeError, match=r"model must be a Module, got function"):
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
    with pytest.raises(TypeError, match="model must be a Module, got function"):
        FlipAveraged(lambda x: x)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=re.escape("images must be 4-D (B, C, H, W)")):
        FlipAveraged(nn.Identity())(torch.zeros(2, 3))
