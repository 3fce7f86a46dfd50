"""Augmentations: move the digits around, so a network learns what a digit is, not where.

Every function here draws all its randomness from a ``torch.Generator`` it is given (the
package's one way to pass randomness to a data function; ``None`` where allowed means
PyTorch's global generator). Each ``transform(x, generator)`` has the signature of
:func:`companion.train.loop.fit`'s ``transform``. :class:`ShiftAveraged` is the
test-time twin of :func:`random_shift`: it averages a model's logits over shifted copies.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import nn

from companion.checks import check_instance, check_int, check_ndim, check_tensor

__all__ = [
    "FlipAveraged",
    "ShiftAveraged",
    "random_flip",
    "random_placement",
    "random_shift",
    "shift_on_canvas",
]


def shift_on_canvas(
    images: torch.Tensor,
    *,
    canvas_size: int = 16,
    max_shift: int | None = None,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """Paste each image at a random position on a larger blank canvas.

    Each ``(C, h, w)`` image lands with its top-left corner at a uniformly random offset
    ``(i, j)`` with ``0 <= i, j <= max_shift`` (default: as far as the canvas allows,
    ``canvas_size - h``). Used to show that distances between raw pixels fall apart when
    the same digit moves by a few pixels.

    Args:
        images: ``(N, C, h, w)``.
        canvas_size: side ``S`` of the square canvas, at least ``max(h, w)``.
        max_shift: largest offset in pixels along each axis.
        generator: a CPU generator the offsets are drawn from (``None``: PyTorch's global
            one; with ``max_shift=0`` nothing is drawn).

    Returns:
        ``(N, C, S, S)`` on the device and with the dtype of ``images``.

    Raises:
        ValueError: if ``images`` is not 4-D, or the canvas or the shift do not fit.
    """
    check_ndim("images", check_tensor("images", images), 4, "(N, C, h, w)")
    n, c, h, w = images.shape
    room = canvas_size - max(h, w)
    check_int("canvas_size", canvas_size, low=max(h, w))
    if max_shift is None:
        max_shift = room
    check_int("max_shift", max_shift, low=0, high=room)  # room on this canvas
    if max_shift == 0:
        offsets = torch.zeros(n, 2, dtype=torch.int64)
    else:
        offsets = torch.randint(0, max_shift + 1, (n, 2), generator=generator)
    canvas = images.new_zeros(n, c, canvas_size, canvas_size)
    for k, (i, j) in enumerate(offsets.tolist()):
        canvas[k, :, i : i + h, j : j + w] = images[k]
    return canvas


def random_shift(
    images: torch.Tensor, generator: torch.Generator, *, max_shift: int = 1
) -> torch.Tensor:
    """Move each image by a random whole number of pixels in ``[-max_shift, max_shift]``
    along each axis, filling with zeros (a light augmentation; the signature is
    :func:`companion.train.loop.fit`'s ``transform``).

    Args:
        images: ``(B, C, H, W)``.
        generator: a CPU generator; all randomness is drawn from it.
        max_shift: largest shift in pixels, ``0 <= max_shift < min(H, W)``.

    Returns:
        ``(B, C, H, W)``, on the device and with the dtype of ``images``.

    Raises:
        ValueError: if ``images`` is not 4-D or ``max_shift`` is out of range.
    """
    check_ndim("images", check_tensor("images", images), 4, "(B, C, H, W)")
    B, _, H, W = images.shape
    check_int("max_shift", max_shift, low=0, high=min(H, W) - 1)
    if max_shift == 0:
        return images
    s = max_shift
    shifts = torch.randint(-s, s + 1, (B, 2), generator=generator).to(images.device)
    padded = F.pad(images, (s, s, s, s))  # (B, C, H + 2s, W + 2s)
    rows = torch.arange(H, device=images.device) + s - shifts[:, :1]  # (B, H)
    cols = torch.arange(W, device=images.device) + s - shifts[:, 1:]  # (B, W)
    batch = torch.arange(B, device=images.device)[:, None, None]  # (B, 1, 1)
    out = padded.permute(0, 2, 3, 1)[batch, rows[:, :, None], cols[:, None, :]]  # (B, H, W, C)
    return out.permute(0, 3, 1, 2).contiguous()  # (B, C, H, W)


def random_flip(images: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """Mirror each image left to right with probability 1/2 (a shirt mirrored is still a
    shirt; a digit mirrored is not, so this is for Fashion-MNIST, not the digits).

    Args:
        images: ``(B, C, H, W)``.
        generator: a CPU generator; all randomness is drawn from it.

    Returns:
        ``(B, C, H, W)``, on the device and with the dtype of ``images``.

    Raises:
        ValueError: if ``images`` is not 4-D.
    """
    check_ndim("images", check_tensor("images", images), 4, "(B, C, H, W)")
    flip = torch.rand(images.shape[0], generator=generator) < 0.5  # (B,)
    flip = flip.to(images.device)[:, None, None, None]  # (B, 1, 1, 1)
    return torch.where(flip, images.flip(-1), images)


class ShiftAveraged(nn.Module):
    """Test-time augmentation: ``model``'s logits averaged over shifted copies of the input.

    Each image is moved by every ``(dy, dx)`` with ``-s <= dy, dx <= s`` (``s = max_shift``,
    zero fill: the shifts :func:`random_shift` trains with), giving ``V = (2s + 1)²`` views,
    and the logits of the views are averaged:

        logits(x) = (1 / V) · Σ_{dy, dx} model(shift(x, dy, dx))

    A prediction then no longer hangs on where, within a pixel or so, the digit happens to
    sit. ``max_shift=0`` gives ``model(x)`` itself.

    Args:
        model: a classifier ``(B, C, H, W) -> (B, K)``.
        max_shift: largest shift in pixels, ``s >= 0`` (and ``s < min(H, W)``).

    Raises:
        TypeError: if ``model`` is not an ``nn.Module``, or ``max_shift`` not an int.
        ValueError: if ``max_shift`` is negative; in ``forward``, if the images are not 4-D
            or ``max_shift`` is not below their height and width.
    """

    def __init__(self, model: nn.Module, *, max_shift: int = 1) -> None:
        super().__init__()
        check_instance("model", model, nn.Module)
        self.model = model
        self.max_shift = check_int("max_shift", max_shift, low=0)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        """``(B, C, H, W) -> (B, K)``: the mean of the ``V`` views' logits."""
        check_ndim("images", check_tensor("images", images), 4, "(B, C, H, W)")
        B, _, H, W = images.shape
        s = check_int("max_shift", self.max_shift, low=0, high=min(H, W) - 1)
        padded = F.pad(images, (s, s, s, s))  # (B, C, H + 2s, W + 2s)
        views = [
            padded[:, :, s - dy : s - dy + H, s - dx : s - dx + W]  # (B, C, H, W) moved by (dy, dx)
            for dy in range(-s, s + 1)
            for dx in range(-s, s + 1)
        ]
        logits = self.model(torch.cat(views))  # (V·B, K)
        return logits.reshape(len(views), B, -1).mean(dim=0)  # (V, B, K) -> (B, K)


class FlipAveraged(nn.Module):
    """Test-time augmentation: ``model``'s logits averaged over the image and its mirror
    image, the test-time twin of :func:`random_flip`:

        logits(x) = (model(x) + model(flip(x))) / 2

    Args:
        model: a classifier ``(B, C, H, W) -> (B, K)``.

    Raises:
        TypeError: if ``model`` is not an ``nn.Module``; in ``forward``, ValueError if the
            images are not 4-D.
    """

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        check_instance("model", model, nn.Module)
        self.model = model

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        """``(B, C, H, W) -> (B, K)``: the mean of the two views' logits."""
        check_ndim("images", check_tensor("images", images), 4, "(B, C, H, W)")
        B = images.shape[0]
        logits = self.model(torch.cat([images, images.flip(-1)]))  # (2B, K)
        return logits.reshape(2, B, -1).mean(dim=0)  # (B, K)


def random_placement(
    canvas_size: int = 16, *, max_shift: int | None = None
) -> Callable[[torch.Tensor, torch.Generator], torch.Tensor]:
    """An augmentation for :func:`companion.train.loop.fit`: ``transform(x, generator)`` pastes
    each ``(C, h, w)`` image of the batch at a fresh random place on a
    ``canvas_size × canvas_size`` canvas (:func:`companion.data.augment.shift_on_canvas`), so the
    network sees every digit at many positions. Each batch's offsets come from a generator
    spawned from ``generator`` by one draw (a seed in ``[0, 2^31 - 1)``), as the stored
    runs were measured."""

    def transform(x: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        spawned = torch.Generator().manual_seed(
            int(torch.randint(0, 2**31 - 1, (1,), generator=generator))
        )
        return shift_on_canvas(x, canvas_size=canvas_size, max_shift=max_shift, generator=spawned)

    return transform
