"""companion.data.views: the contrastive views' shapes, ranges, determinism, each
augmentation on its own, and errors."""

from __future__ import annotations

import re

import pytest
import torch
import torch.nn.functional as F

from companion.data.views import ContrastiveViews, resized_crops, two_views

NONE = ContrastiveViews(
    scale=(1.0, 1.0), ratio=(1.0, 1.0), flip=False, brightness=0.0, contrast=0.0
)


def _images(n: int = 6, size: int = 28) -> torch.Tensor:
    return torch.rand(n, 1, size, size, generator=torch.Generator().manual_seed(0))


def _gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def test_views_keep_the_shape_dtype_and_range() -> None:
    x = _images()
    for dtype in (torch.float32, torch.float64):
        v = ContrastiveViews()(x.to(dtype), _gen())
        assert v.shape == x.shape
        assert v.dtype == dtype
        assert v.min() >= 0
        assert v.max() <= 1


def test_a_seeded_generator_gives_the_same_views() -> None:
    x = _images()
    assert torch.equal(ContrastiveViews()(x, _gen(3)), ContrastiveViews()(x, _gen(3)))
    assert not torch.equal(ContrastiveViews()(x, _gen(3)), ContrastiveViews()(x, _gen(4)))


def test_no_augmentation_is_the_identity() -> None:
    x = _images()
    torch.testing.assert_close(NONE(x, _gen()), x, rtol=0, atol=1e-5)


def test_the_flip_mirrors_about_half_the_images() -> None:
    x = _images(200, 8)
    v = ContrastiveViews(scale=(1.0, 1.0), ratio=(1.0, 1.0), brightness=0.0, contrast=0.0)(
        x, _gen()
    )
    mirrored = [torch.allclose(a, b.flip(-1), atol=1e-5) for a, b in zip(v, x, strict=True)]
    kept = [torch.allclose(a, b, atol=1e-5) for a, b in zip(v, x, strict=True)]
    assert all(m or k for m, k in zip(mirrored, kept, strict=True))
    assert 70 < sum(mirrored) < 130


def test_a_central_box_of_half_the_side_is_pytorch_s_resize_of_the_centre() -> None:
    """Away from its border (where the crop reads the pixels beyond the box, and
    ``F.interpolate`` repeats its edge), the view is ``F.interpolate`` of the centre."""
    x = _images(3, 8)
    box = torch.tensor([[0.0, 0.0, 0.5, 0.5]]).repeat(3, 1)
    got = resized_crops(x, box)
    want = F.interpolate(x[..., 2:6, 2:6], size=8, mode="bilinear", align_corners=False)
    torch.testing.assert_close(got[..., 1:7, 1:7], want[..., 1:7, 1:7])
    mirrored = resized_crops(x, box, torch.tensor([True, False, True]))
    torch.testing.assert_close(mirrored[0], got[0].flip(-1))
    torch.testing.assert_close(mirrored[1], got[1])
    whole = resized_crops(x, torch.tensor([[0.0, 0.0, 1.0, 1.0]]).repeat(3, 1))
    torch.testing.assert_close(whole, x, rtol=0, atol=1e-6)


def test_resized_crops_errors() -> None:
    x = _images(2, 8)
    with pytest.raises(
        ValueError, match=re.escape("boxes must have shape (2, 4) (B, 4): cx, cy, w, h, got (2, 3)")
    ):
        resized_crops(x, torch.zeros(2, 3))
    with pytest.raises(
        TypeError,
        match=re.escape("mirror must be a boolean tensor (True to mirror), got torch.int64"),
    ):
        resized_crops(x, torch.zeros(2, 4), torch.zeros(2, dtype=torch.long))


def test_crop_boxes_follow_the_scale_and_ratio() -> None:
    views = ContrastiveViews(scale=(0.3, 0.6), ratio=(0.5, 2.0))
    boxes = views.crop_boxes(2_000, _gen())
    area = boxes[:, 2] * boxes[:, 3]
    assert area.min() >= 0.3 * 0.5 - 1e-6  # clamped at the side, at most halved
    assert area.max() <= 0.6 + 1e-6
    assert (boxes[:, 2:] <= 1).all()
    assert (boxes[:, 0].abs() <= 1 - boxes[:, 2] + 1e-6).all()


def test_brightness_and_contrast_move_the_mean_and_the_spread() -> None:
    x = _images(50) * 0.5 + 0.25  # room both ways: no clamping
    bright = ContrastiveViews(
        scale=(1.0, 1.0), ratio=(1.0, 1.0), flip=False, brightness=0.2, contrast=0.0
    )
    v = bright(x, _gen())
    ratio = v.mean(dim=(1, 2, 3)) / x.mean(dim=(1, 2, 3))
    assert ratio.min() >= 0.8 - 1e-5
    assert ratio.max() <= 1.2 + 1e-5
    torch.testing.assert_close(v / ratio[:, None, None, None], x, rtol=1e-4, atol=1e-5)
    contrast = ContrastiveViews(
        scale=(1.0, 1.0), ratio=(1.0, 1.0), flip=False, brightness=0.0, contrast=0.2
    )
    w = contrast(x, _gen())
    torch.testing.assert_close(w.mean(dim=(1, 2, 3)), x.mean(dim=(1, 2, 3)), rtol=1e-4, atol=1e-5)
    spread = w.std(dim=(1, 2, 3)) / x.std(dim=(1, 2, 3))
    assert spread.min() >= 0.8 - 1e-4
    assert spread.max() <= 1.2 + 1e-4


def test_two_views_stacks_two_draws() -> None:
    x = _images(5)
    v = two_views(x, _gen(1))
    g = _gen(1)
    first, second = ContrastiveViews()(x, g), ContrastiveViews()(x, g)
    assert torch.equal(v, torch.cat([first, second]))
    assert not torch.equal(v[:5], v[5:])


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"scale": 0.5}, TypeError, "scale must be a tuple (low, high), got 0.5"),
        (
            {"scale": (0.0, 1.0)},
            ValueError,
            "scale[0] must be a finite number in (0.0, 1.0], got 0.0",
        ),
        (
            {"scale": (0.6, 0.5)},
            ValueError,
            "scale[1] must be a finite number in [0.6, 1.0], got 0.5",
        ),
        (
            {"ratio": (0.0, 2.0)},
            ValueError,
            "ratio[0] must be a finite number in (0.0, inf], got 0.0",
        ),
        ({"flip": 1}, TypeError, "flip must be a bool, got int"),
        ({"brightness": 1.0}, ValueError, "brightness must be a finite number in [0, 1), got 1.0"),
        ({"contrast": -0.1}, ValueError, "contrast must be a finite number in [0, 1), got -0.1"),
        ({"noise": -1.0}, ValueError, "noise must be a finite number >= 0, got -1.0"),
    ],
)
def test_views_reject_bad_settings(kwargs: dict, error: type, message: str) -> None:
    with pytest.raises(error, match=re.escape(message)):
        ContrastiveViews(**kwargs)


def test_views_reject_bad_inputs() -> None:
    views = ContrastiveViews()
    with pytest.raises(
        ValueError, match=re.escape("images must be 4-D (B, C, H, W), got shape (28, 28)")
    ):
        views(torch.rand(28, 28), _gen())
    with pytest.raises(
        TypeError, match="images must be a floating-point tensor, got dtype torch.uint8"
    ):
        views(torch.zeros(2, 1, 28, 28, dtype=torch.uint8), _gen())
    with pytest.raises(TypeError, match="generator must be a Generator, got int"):
        views(_images(), 0)
    with pytest.raises(TypeError, match="views must be a ContrastiveViews, got dict"):
        two_views(_images(), _gen(), {})
