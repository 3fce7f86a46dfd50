"""Two views of one image: the augmentations a contrastive loss learns to see through.

SimCLR (Chen et al. 2020) learns without labels by asking two random views of an image to
land together and views of other images apart, so the augmentations decide what the
embedding learns to ignore. Theirs are made for 224x224 colour photographs (crops down
to 8% of the image, colour distortion, blur); these are chosen for 28x28 grey products,
where a crop of 8% is a 8x8 patch of plain cloth:

- a *random resized crop* of ``scale`` of the area (aspect ratio ``ratio``), resized back
  to the full size: the view must still show enough of the product to say what it is,
  and matching a part to the whole teaches shape (SimCLR's most important augmentation);
- a *horizontal mirror* with probability 1/2: a mirrored shoe is still a shoe;
- *brightness and contrast* jitter: a grey image has no colour histogram to cheat with,
  but the overall ink level and contrast of a product are shortcuts the network should
  not match views by;
- optional *Gaussian noise*: a weak texture perturbation (off by default).

Every random draw comes from the ``torch.Generator`` given (a CPU one), so a seeded
generator gives the same views on any device; :class:`ContrastiveViews` is a
``transform(x, generator)`` for :func:`~companion.train.loop.fit`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from companion.checks import (
    check_bool,
    check_boolean,
    check_floating,
    check_instance,
    check_ndim,
    check_number,
    check_shape,
    check_tensor,
)

__all__ = ["ContrastiveViews", "resized_crops", "two_views"]


def resized_crops(
    images: torch.Tensor, boxes: torch.Tensor, mirror: torch.Tensor | None = None
) -> torch.Tensor:
    """Each image's box, resized (bilinear) to the full image, mirrored where ``mirror``.

    A box ``(cx, cy, w, h)`` is in ``F.affine_grid``'s normalised coordinates (the image
    spans ``[−1, 1]``, pixel edges): output pixel ``u`` samples the input at
    ``cx + w·u`` (``−w·u`` mirrored), ``cy + h·v``. Outside the image counts as 0.

    Args:
        images: ``(B, C, H, W)`` floating.
        boxes: ``(B, 4)``.
        mirror: ``(B,)`` bool, or ``None`` (no mirror).

    Returns:
        ``(B, C, H, W)``, on the device and in the dtype of ``images``.

    Raises:
        TypeError, ValueError: for ``boxes`` or ``mirror`` of another shape or kind.
    """
    check_ndim("images", check_floating("images", images), 4, "(B, C, H, W)")
    b = images.shape[0]
    check_shape("boxes", check_tensor("boxes", boxes), (b, 4), "(B, 4): cx, cy, w, h")
    if mirror is None:
        mirror = torch.zeros(b, dtype=torch.bool)
    check_shape("mirror", check_boolean("mirror", mirror, "True to mirror"), (b,), "(B,)")
    cx, cy, w, h = boxes.to(torch.float32).cpu().unbind(dim=1)  # (B,) each
    sign = torch.where(mirror.cpu(), -1.0, 1.0)  # (B,): a negative x scale mirrors
    theta = torch.zeros(b, 2, 3)  # output grid -> input grid, one affine map per image
    theta[:, 0, 0], theta[:, 0, 2] = w * sign, cx
    theta[:, 1, 1], theta[:, 1, 2] = h, cy
    theta = theta.to(images.device, images.dtype)
    grid = F.affine_grid(theta, list(images.shape), align_corners=False)  # (B, H, W, 2)
    return F.grid_sample(images, grid, mode="bilinear", align_corners=False)


def _range(name: str, value: object, low: float, high: float) -> tuple[float, float]:
    if not isinstance(value, tuple) or len(value) != 2:
        raise TypeError(f"{name} must be a tuple (low, high), got {value!r}")
    a = check_number(f"{name}[0]", value[0], low=low, high=high, low_open=low == 0)
    b = check_number(f"{name}[1]", value[1], low=a, high=high)
    return a, b


@dataclass(frozen=True)
class ContrastiveViews:
    """A random view of each image in a batch: crop, mirror, brightness, contrast, noise.

    Attributes:
        scale: the crop's share of the image area, drawn uniformly in ``(low, high]``
            (``(1.0, 1.0)``: no crop).
        ratio: the crop's width over height, drawn log-uniformly in ``[low, high]``.
        flip: mirror left to right with probability 1/2.
        brightness: multiply by a factor drawn in ``[1 − b, 1 + b]`` (0: none).
        contrast: move each pixel towards or away from the image's mean by a factor drawn
            in ``[1 − c, 1 + c]`` (0: none).
        noise: standard deviation of added Gaussian noise (0: none).

    Raises:
        TypeError, ValueError: for a range that is not ``(low, high)`` with
            ``0 < low <= high <= 1`` (``scale``), a ``ratio`` outside ``(0, ∞)``, a
            jitter outside ``[0, 1)`` or a negative ``noise``.
    """

    scale: tuple[float, float] = (0.35, 1.0)
    ratio: tuple[float, float] = (3 / 4, 4 / 3)
    flip: bool = True
    brightness: float = 0.4
    contrast: float = 0.4
    noise: float = 0.0

    def __post_init__(self) -> None:
        _range("scale", self.scale, 0.0, 1.0)
        _range("ratio", self.ratio, 0.0, math.inf)
        check_bool("flip", self.flip)
        check_number("brightness", self.brightness, low=0, high=1, high_open=True)
        check_number("contrast", self.contrast, low=0, high=1, high_open=True)
        check_number("noise", self.noise, low=0)

    def crop_boxes(self, n: int, generator: torch.Generator) -> torch.Tensor:
        """``(n, 4)`` boxes ``(cx, cy, w, h)`` in the normalised coordinates of
        ``F.affine_grid`` (the image spans ``[−1, 1]``): width and height as shares of
        the side (at most 1), the centre drawn so the box stays inside the image."""
        area = torch.empty(n).uniform_(*self.scale, generator=generator)  # (n,)
        log_ratio = torch.empty(n).uniform_(*map(math.log, self.ratio), generator=generator)
        w = (area * log_ratio.exp()).sqrt().clamp(max=1.0)  # (n,) share of the width
        h = (area / log_ratio.exp()).sqrt().clamp(max=1.0)  # (n,) share of the height
        cx = (torch.rand(n, generator=generator) * 2 - 1) * (1 - w)  # (n,) in [w − 1, 1 − w]
        cy = (torch.rand(n, generator=generator) * 2 - 1) * (1 - h)
        return torch.stack([cx, cy, w, h], dim=1)

    def __call__(self, images: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        """One random view of each image.

        Args:
            images: ``(B, C, H, W)``, values in ``[0, 1]``.
            generator: a CPU generator; all randomness is drawn from it.

        Returns:
            ``(B, C, H, W)`` with values in ``[0, 1]`` (noise aside), on the device and in
            the dtype of ``images``.

        Raises:
            TypeError, ValueError: for ``images`` that is not a 4-D floating tensor, or a
                ``generator`` that is not a ``torch.Generator``.
        """
        check_ndim("images", check_floating("images", images), 4, "(B, C, H, W)")
        check_instance("generator", generator, torch.Generator)
        b = images.shape[0]
        device, dtype = images.device, images.dtype
        boxes = self.crop_boxes(b, generator)  # (B, 4)
        mirror = torch.zeros(b, dtype=torch.bool)
        if self.flip:
            mirror = torch.rand(b, generator=generator) < 0.5
        x = resized_crops(images, boxes, mirror)  # (B, C, H, W)
        bright = 1 + (torch.rand(b, generator=generator) * 2 - 1) * self.brightness  # (B,)
        contr = 1 + (torch.rand(b, generator=generator) * 2 - 1) * self.contrast  # (B,)
        bright = bright.to(device, dtype)[:, None, None, None]  # (B, 1, 1, 1)
        contr = contr.to(device, dtype)[:, None, None, None]
        x = x * bright
        mean = x.mean(dim=(1, 2, 3), keepdim=True)  # (B, 1, 1, 1)
        x = ((x - mean) * contr + mean).clamp(0, 1)
        if self.noise:
            noise = torch.randn(x.shape, generator=generator).to(device, dtype)
            x = x + self.noise * noise
        return x


def two_views(
    images: torch.Tensor, generator: torch.Generator, views: ContrastiveViews | None = None
) -> torch.Tensor:
    """Two views of each image, stacked: ``(B, C, H, W) -> (2B, C, H, W)``, rows ``b``
    and ``B + b`` views of image ``b`` (what :func:`~companion.metric.info_nce.nt_xent`
    takes with ``instance_ids = arange(B).repeat(2)``).

    Raises:
        TypeError, ValueError: as calling a :class:`ContrastiveViews`.
    """
    views = ContrastiveViews() if views is None else views
    check_instance("views", views, ContrastiveViews)
    return torch.cat([views(images, generator), views(images, generator)])
