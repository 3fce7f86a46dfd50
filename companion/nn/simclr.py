"""SimCLR's network (Chen et al. 2020): an encoder, then a projection head for the loss only.

The encoder ``f`` is the capstone's :class:`~companion.nn.product_net.ProductNet` without
its head: three convolution blocks with BatchNorm, an average over positions and the
hidden layer, ``h = f(x)``, 128 features. The projection head ``g`` is a two-layer
perceptron, and the contrastive loss sees only its output:

    z = g(h) = W₂ ReLU(W₁ h + b₁) + b₂        (NT-Xent normalises z)

After training the head is thrown away and ``h`` is the representation that probes score:
Chen et al. found ``h`` better than ``z`` by over 10 points of linear probe, since the
loss makes ``z`` invariant to the augmentations and ``g`` absorbs that loss of
information.
"""

from __future__ import annotations

import torch
from torch import nn

from companion.checks import check_instance, check_int
from companion.nn.product_net import ProductNet, ProductNetConfig

__all__ = ["SimCLRNet"]


class SimCLRNet(nn.Module):
    """``x -> z``, the projection of the encoder's features; ``(B, C, S, S) -> (B, P)``.

    Args:
        encoder: the :class:`~companion.nn.product_net.ProductNetConfig` of the encoder
            (its ``head`` and ``outputs`` are not used: the head is replaced).
        projection: width ``P`` of the projection ``z`` (and of the head's hidden layer).

    Raises:
        TypeError, ValueError: for a config that is not a ``ProductNetConfig`` or a
            ``projection`` that is not a positive int.
    """

    def __init__(self, encoder: ProductNetConfig | None = None, *, projection: int = 64) -> None:
        super().__init__()
        encoder = encoder if encoder is not None else ProductNetConfig()
        check_instance("encoder", encoder, ProductNetConfig)
        check_int("projection", projection, low=1)
        self.encoder = ProductNet(encoder)
        self.encoder.head = nn.Identity()  # the encoder ends at its features h
        width = encoder.features
        self.projection = nn.Sequential(
            nn.Linear(width, width), nn.ReLU(), nn.Linear(width, projection)
        )

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """The representation ``h``: ``(B, C, S, S) -> (B, F)``, what a probe scores.

        Raises:
            ValueError: if ``x`` is not ``(B, C, S, S)`` for the encoder's config.
        """
        return self.encoder.features(x)  # (B, F)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``(B, C, S, S) -> (B, P)``: ``z = g(h)``, not normalised."""
        return self.projection(self.features(x))  # (B, F) -> (B, P)
