"""A convolutional stem for the Vision Transformer (Xiao et al., 2021, "Early Convolutions
Help Transformers See Better").

The ViT's patch embedding is one large-stride convolution: a ``P x P`` kernel with stride
``P``. Xiao et al. replace it by a few 3x3 stride-2 convolutions, each followed by
BatchNorm and ReLU, and a last convolution to the width ``D``; the Transformer is left as it
is. On Fashion-MNIST's 28x28 images, with the course's sizes, the stem keeps the 16 tokens of
:data:`~companion.nn.vit_config.VIT_FASHION`::

    conv 3x3, stride 2, padding 1 → BN → ReLU      (B, 1, 28, 28)  → (B, c₁, 14, 14)
    conv 3x3, stride 2, padding 1 → BN → ReLU      (B, c₁, 14, 14) → (B, c₂, 7, 7)
    conv 2x2, stride 2, padding 1 (the projection)  (B, c₂, 7, 7)   → (B, D, 4, 4)
    flatten the grid row by row                     (B, D, 4, 4)    → (B, 16, D)

Each side follows the convolution's output-size formula, for input side ``H``, kernel ``k``,
stride ``s`` and padding ``p`` (:func:`conv_output_size`)::

    H_out = floor((H + 2p - k) / s) + 1
    28 → floor((28 + 2 - 3) / 2) + 1 = 13 + 1 = 14
    14 → floor((14 + 2 - 3) / 2) + 1 =  6 + 1 = 7
     7 → floor(( 7 + 2 - 2) / 2) + 1 =  3 + 1 = 4

The last step's padding is used on the top and left only: on the padded 9x9 grid the four
2x2 windows start at rows (and columns) 0, 2, 4, 6, so the first window row and column read
the zero padding and the ninth padded row and column is never read.

The convolutions before a BatchNorm have no bias (the BatchNorm's shift takes its place),
as in Xiao et al. :class:`ConvStemViT` is :class:`~companion.nn.vit.VisionTransformer`
with its ``patch_embedding`` swapped for a :class:`ConvStem`; the plain ViT is not changed.
"""

from __future__ import annotations

import torch
from torch import nn

from companion.checks import check_int, check_layout, check_ndim, check_tensor
from companion.nn.vit import VisionTransformer
from companion.nn.vit_config import ViTConfig, parameter_counts

__all__ = [
    "STEM_CHANNELS",
    "ConvStem",
    "ConvStemViT",
    "conv_output_size",
    "conv_stem_grid_size",
    "conv_stem_parameter_count",
    "conv_stem_vit_parameter_count",
]

#: The stem's widths ``(c₁, c₂)``: the width doubles at each stride-2 convolution, as in
#: Xiao et al., and ``(24, 48)`` gives :data:`~companion.nn.vit_config.VIT_FASHION` with
#: this stem 158,898 parameters (the plain ViT has 139,018).
STEM_CHANNELS: tuple[int, int] = (24, 48)


def conv_output_size(size: int, kernel_size: int, stride: int, padding: int) -> int:
    """Side of a convolution's output: ``floor((size + 2·padding - kernel_size) / stride) + 1``.

    Raises:
        TypeError: if an argument is not an int.
        ValueError: if a size is out of range or the kernel does not fit the padded input.
    """
    check_int("size", size, low=1)
    check_int("kernel_size", kernel_size, low=1)
    check_int("stride", stride, low=1)
    check_int("padding", padding, low=0)
    if size + 2 * padding < kernel_size:
        raise ValueError(
            f"kernel_size must be <= size + 2·padding, got kernel_size={kernel_size}, "
            f"size={size} and padding={padding}"
        )
    return (size + 2 * padding - kernel_size) // stride + 1


def conv_stem_grid_size(image_size: int) -> int:
    """Side of the stem's output grid for square images of side ``image_size``: the three
    steps of :func:`conv_output_size` (4 for 28x28 images, 2 for 8x8)."""
    side = conv_output_size(image_size, 3, 2, 1)
    side = conv_output_size(side, 3, 2, 1)
    return conv_output_size(side, 2, 2, 1)


def conv_stem_parameter_count(in_channels: int, channels: tuple[int, int], embed_dim: int) -> int:
    """Parameters of a :class:`ConvStem`, by the formula (``C`` in, ``(c₁, c₂)``, ``D``):

    ``9C·c₁ + 2c₁`` (conv, BatchNorm) ``+ 9c₁c₂ + 2c₂`` (conv, BatchNorm) ``+ 4c₂D + D``
    (the 2x2 projection with its bias). BatchNorm's running statistics are buffers, not
    parameters. For ``C = 1``, ``(24, 48)``, ``D = 64``: 23,080.
    """
    c1, c2 = channels
    D = embed_dim
    return (9 * in_channels * c1 + 2 * c1) + (9 * c1 * c2 + 2 * c2) + (4 * c2 * D + D)


def conv_stem_vit_parameter_count(
    config: ViTConfig, channels: tuple[int, int] = STEM_CHANNELS
) -> int:
    """Parameters of ``ConvStemViT(config, channels)``: those of the plain ViT
    (:func:`~companion.nn.vit_config.parameter_counts`) with the patch embedding's
    ``P²C·D + D`` replaced by :func:`conv_stem_parameter_count`. For
    :data:`~companion.nn.vit_config.VIT_FASHION`: ``139,018 - 3,200 + 23,080 = 158,898``."""
    counts = parameter_counts(config)
    stem = conv_stem_parameter_count(config.in_channels, channels, config.embed_dim)
    return sum(counts.values()) - counts["patch_embedding"] + stem


class ConvStem(nn.Module):
    """Two 3x3 stride-2 convolutions with BatchNorm and ReLU, then a 2x2 stride-2
    projection to ``D``: ``(B, C, H, W) -> (B, N, D)`` with ``N = G²`` and ``G`` given by
    :func:`conv_stem_grid_size` (see the module docstring).

    Args:
        in_channels: ``C``.
        embed_dim: ``D``, the width of the tokens.
        channels: ``(c₁, c₂)``, the widths of the two 3x3 convolutions.
    """

    def __init__(
        self, in_channels: int, embed_dim: int, *, channels: tuple[int, int] = STEM_CHANNELS
    ) -> None:
        super().__init__()
        check_int("in_channels", in_channels, low=1)
        check_int("embed_dim", embed_dim, low=1)
        if not isinstance(channels, tuple) or len(channels) != 2:
            raise ValueError(f"channels must be a tuple of 2 ints, got {channels!r}")
        for c in channels:
            check_int("channels", c, low=1)
        c1, c2 = channels
        self.in_channels = in_channels
        self.channels = channels
        self.convs = nn.Sequential(
            nn.Conv2d(in_channels, c1, kernel_size=3, stride=2, padding=1, bias=False),
            nn.BatchNorm2d(c1),
            nn.ReLU(),  # (B, c1, H/2, W/2)
            nn.Conv2d(c1, c2, kernel_size=3, stride=2, padding=1, bias=False),
            nn.BatchNorm2d(c2),
            nn.ReLU(),  # (B, c2, H/4, W/4)
        )
        self.proj = nn.Conv2d(c2, embed_dim, kernel_size=2, stride=2, padding=1)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        """``(B, C, H, W) -> (B, N, D)``, the grid's cells row by row (as
        :func:`~companion.nn.vit.patchify` numbers the patches).

        Raises:
            TypeError: if ``images`` is not a tensor.
            ValueError: if ``images`` is not ``(B, C, H, W)`` with this stem's ``C``.
        """
        check_ndim("images", check_tensor("images", images), 4, "(B, C, H, W)")
        check_layout("images", images, ("B", self.in_channels, "H", "W"))
        B, _C, _H, _W = images.shape  # batch, channels, height, width
        h = self.convs(images)  # (B, c2, H/4, W/4), sides rounded up
        h = self.proj(h)  # (B, D, G, G)
        D = h.shape[1]
        return h.reshape(B, D, -1).transpose(1, 2)  # (B, G·G, D)


class ConvStemViT(VisionTransformer):
    """:class:`~companion.nn.vit.VisionTransformer` whose ``patch_embedding`` is a
    :class:`ConvStem`; ``(B, C, H, W) -> (B, num_classes)``.

    The config's ``patch_size`` only fixes the number of tokens ``N``: the stem must give
    ``config.grid_size`` cells a side (4 for :data:`~companion.nn.vit_config.VIT_FASHION`).
    The ViT is built first and the stem after it, so for a given seed every other weight
    (class token, position embeddings, blocks, head) equals that of the plain
    ``VisionTransformer(config)``; only the stem differs.
    :meth:`~companion.nn.vit.VisionTransformer.encode`, the attention weights and the head
    are the ViT's. :meth:`from_torchvision` and
    :meth:`to_torchvision` do not apply (torchvision's ViT has no such stem).

    Args:
        config: the ViT's sizes.
        channels: the stem's widths ``(c₁, c₂)``.

    Raises:
        TypeError: if ``config`` is not a ``ViTConfig``.
        ValueError: if the stem's grid does not have ``config.grid_size`` cells a side.
    """

    def __init__(self, config: ViTConfig, channels: tuple[int, int] = STEM_CHANNELS) -> None:
        super().__init__(config)
        grid = conv_stem_grid_size(config.image_size)
        if grid != config.grid_size:
            raise ValueError(
                f"config.grid_size must be the stem's grid side {grid} (image_size="
                f"{config.image_size}), got {config.grid_size} (patch_size={config.patch_size})"
            )
        self.patch_embedding = ConvStem(config.in_channels, config.embed_dim, channels=channels)

    def _check_images(self, images: torch.Tensor) -> None:
        super()._check_images(check_tensor("images", images))

    @classmethod
    def from_torchvision(cls, state_dict: dict[str, torch.Tensor], config: ViTConfig):  # type: ignore[override]
        """Not available: torchvision's ViT has a patch embedding, not a stem."""
        raise NotImplementedError("ConvStemViT has no torchvision counterpart")

    def to_torchvision(self) -> dict[str, torch.Tensor]:
        """Not available: torchvision's ViT has a patch embedding, not a stem."""
        raise NotImplementedError("ConvStemViT has no torchvision counterpart")
