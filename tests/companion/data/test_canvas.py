"""companion.data.canvas: products shrunk and placed at random, against a per-image loop, and
their errors."""

from __future__ import annotations

import re

import pytest
import torch
import torch.nn.functional as F

from companion.data.canvas import place_on_canvas, random_canvas


def _images(n: int = 12, size: int = 6) -> torch.Tensor:
    return torch.rand(n, 1, size, size, generator=torch.Generator().manual_seed(0)) + 0.1


def test_moving_only_pastes_each_image_unchanged() -> None:
    x = _images()
    canvas = place_on_canvas(x, canvas_size=10, generator=torch.Generator().manual_seed(1))
    assert canvas.shape == (12, 1, 10, 10)
    for k in range(12):
        rows, cols = canvas[k, 0].nonzero(as_tuple=True)
        i, j = int(rows.min()), int(cols.min())
        assert torch.equal(canvas[k, :, i : i + 6, j : j + 6], x[k])
        assert canvas[k].sum().item() == pytest.approx(x[k].sum().item(), rel=1e-6)


def test_matches_a_loop_over_images() -> None:
    x = _images(20, 8)
    canvas = place_on_canvas(
        x, canvas_size=16, scales=(0.5, 1.0), generator=torch.Generator().manual_seed(3)
    )
    u = torch.rand(20, 3, generator=torch.Generator().manual_seed(3), dtype=torch.float64)
    for k in range(20):
        s = 0.5 + 0.5 * u[k, 0].item()
        size = max(1, round(s * 8))
        i = int(u[k, 1].item() * (16 - size + 1))
        j = int(u[k, 2].item() * (16 - size + 1))
        small = x[k : k + 1]
        if size != 8:
            small = F.interpolate(small, size=(size, size), mode="bilinear", antialias=True)
        expected = torch.zeros(1, 16, 16)
        expected[:, i : i + size, j : j + size] = small[0]
        torch.testing.assert_close(canvas[k], expected)


def test_the_same_generator_gives_the_same_images() -> None:
    x = _images()
    a = place_on_canvas(
        x, canvas_size=12, scales=(0.6, 1.0), generator=torch.Generator().manual_seed(5)
    )
    b = place_on_canvas(
        x, canvas_size=12, scales=(0.6, 1.0), generator=torch.Generator().manual_seed(5)
    )
    assert torch.equal(a, b)


def test_every_image_fits_and_shrinks_within_its_scales() -> None:
    x = torch.ones(200, 1, 10, 10)
    canvas = place_on_canvas(
        x, canvas_size=14, scales=(0.6, 1.0), generator=torch.Generator().manual_seed(0)
    )
    sides = (canvas[:, 0] > 0.5).any(dim=2).sum(dim=1)  # rows covered per image
    assert int(sides.min()) >= 6
    assert int(sides.max()) <= 10
    assert len(sides.unique()) >= 4  # sizes vary


def test_random_canvas_is_place_on_canvas_with_the_generator() -> None:
    x = _images()
    transform = random_canvas(12, scales=(0.7, 1.0))
    got = transform(x, torch.Generator().manual_seed(9))
    expected = place_on_canvas(
        x, canvas_size=12, scales=(0.7, 1.0), generator=torch.Generator().manual_seed(9)
    )
    assert torch.equal(got, expected)


def test_keeps_dtype() -> None:
    x = _images().double()
    assert place_on_canvas(x, canvas_size=8).dtype == torch.float64


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"scales": [0.5, 1.0]}, TypeError, "scales must be a tuple (low, high), got [0.5, 1.0]"),
        (
            {"scales": (0.0, 1.0)},
            ValueError,
            "scales[0] must be a finite number in (0, 1], got 0.0",
        ),
        (
            {"scales": (0.8, 0.5)},
            ValueError,
            "scales[1] must be a finite number in [0.8, 1], got 0.5",
        ),
        (
            {"scales": (0.5, 1.5)},
            ValueError,
            "scales[1] must be a finite number in [0.5, 1], got 1.5",
        ),
        ({"canvas_size": 4}, ValueError, "canvas_size must be an int >= 6, got 4"),
    ],
)
def test_errors(kwargs: dict, error: type, message: str) -> None:
    args = {"canvas_size": 10, **kwargs}
    with pytest.raises(error, match=re.escape(message)):
        place_on_canvas(_images(), **args)


def test_rejects_images_that_are_not_4d() -> None:
    with pytest.raises(
        ValueError, match=re.escape("images must have shape (N, C, h, w), got (6, 6)")
    ):
        place_on_canvas(torch.zeros(6, 6), canvas_size=10)


def test_random_canvas_checks_its_scales_at_once() -> None:
    with pytest.raises(TypeError, match="scales must be a tuple"):
        random_canvas(10, scales=0.5)  # type: ignore[arg-type]
