"""Products that move: each image shrunk by a random factor and pasted at a random place on
a larger blank canvas.

On Fashion-MNIST every product is centred and scaled to fill its 28x28 frame, so the
distance between raw pixels already compares silhouettes, and pixels are a strong
representation. Once products sit anywhere, at any size, the same pixel no longer holds the
same part of a product, and pixel distance weakens (as it does on the shifted digits of the
triplet chapter). :func:`place_on_canvas` builds such images; :func:`random_canvas` is the
same as an augmentation for :func:`companion.train.loop.fit`, drawing fresh places and sizes
for every batch.

A scale ``s`` resizes an ``h x w`` image to ``round(s·h) x round(s·w)`` by bilinear
interpolation with antialiasing (``F.interpolate``), then pastes it with its top-left
corner at a uniformly random offset where it fits. All randomness comes from the
``torch.Generator`` given, so a fixed generator gives the same images on any machine.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F

from companion.checks import check_int, check_layout, check_number

__all__ = ["place_on_canvas", "random_canvas"]


def _check_scales(scales: tuple[float, float]) -> tuple[float, float]:
    if not isinstance(scales, tuple) or len(scales) != 2:
        raise TypeError(f"scales must be a tuple (low, high), got {scales!r}")
    low, high = scales
    check_number("scales[0]", low, low=0, high=1, low_open=True)
    check_number("scales[1]", high, low=low, high=1)
    return low, high


def place_on_canvas(
    images: torch.Tensor,
    *,
    canvas_size: int,
    scales: tuple[float, float] = (1.0, 1.0),
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """Shrink each image by a random factor and paste it at a random place on a canvas.

    Image ``k`` gets a scale ``s_k ~ U(scales)``, is resized to
    ``(h_k, w_k) = (round(s_k·h), round(s_k·w))``, and lands with its top-left corner at
    ``(i_k, j_k)``, each uniform over the offsets where it fits
    (``0 <= i_k <= S − h_k``). Images of the same resized size are resized together.

    Args:
        images: ``(N, C, h, w)``, ``h`` and ``w`` at most ``canvas_size``.
        canvas_size: side ``S`` of the square canvas.
        scales: ``(low, high)`` with ``0 < low <= high <= 1``; ``(1.0, 1.0)`` only moves.
        generator: a CPU generator the scales and offsets are drawn from (``None``:
            PyTorch's global one).

    Returns:
        ``(N, C, S, S)``, zero where no image lies, on the device and with the dtype of
        ``images``.

    Raises:
        TypeError: if ``scales`` is not a tuple of two numbers.
        ValueError: if ``images`` is not 4-D, a scale is out of ``(0, 1]`` or its bounds are
            in the wrong order, or the canvas is smaller than an image.
    """
    check_layout("images", images, ("N", "C", "h", "w"))
    low, high = _check_scales(scales)
    n, c, h, w = images.shape
    check_int("canvas_size", canvas_size, low=max(h, w))
    u = torch.rand(n, 3, generator=generator, dtype=torch.float64)  # scale, row, column
    scale = low + (high - low) * u[:, 0]
    sizes_h = (scale * h).round().clamp(min=1).long()
    sizes_w = (scale * w).round().clamp(min=1).long()
    rows = (u[:, 1] * (canvas_size - sizes_h + 1)).floor().long()
    cols = (u[:, 2] * (canvas_size - sizes_w + 1)).floor().long()
    canvas = images.new_zeros(n, c, canvas_size, canvas_size)
    pairs = torch.stack([sizes_h, sizes_w], dim=1)  # (N, 2)
    for size in pairs.unique(dim=0).tolist():
        idx = ((pairs[:, 0] == size[0]) & (pairs[:, 1] == size[1])).nonzero().flatten()
        batch = images[idx.to(images.device)]
        if size != [h, w]:
            batch = F.interpolate(batch, size=size, mode="bilinear", antialias=True)
        for k, img in zip(idx.tolist(), batch, strict=True):
            i, j = int(rows[k]), int(cols[k])
            canvas[k, :, i : i + size[0], j : j + size[1]] = img
    return canvas


def random_canvas(
    canvas_size: int, *, scales: tuple[float, float] = (1.0, 1.0)
) -> Callable[[torch.Tensor, torch.Generator], torch.Tensor]:
    """An augmentation for :func:`companion.train.loop.fit`: ``transform(x, generator)``
    is :func:`place_on_canvas` of the batch, with fresh scales and places drawn from
    ``generator``, so the network sees each product at many places and sizes.

    Raises:
        TypeError, ValueError: as :func:`place_on_canvas`, for ``scales``.
    """
    _check_scales(scales)

    def transform(x: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        return place_on_canvas(x, canvas_size=canvas_size, scales=scales, generator=generator)

    return transform
