"""The capstone's convolutional network: one body, two heads, so that a classifier's features
and a metric-learning embedding are compared with the same network and the same budget.

The body sees the whole product wherever it sits: three blocks of a 3x3 convolution,
BatchNorm, a ReLU and a 2x2 max-pool, then an average over every position (so a product
that moves gives nearly the same features), then one hidden layer:

    h = ReLU(W_h · mean_{positions}(block₃(block₂(block₁(x)))) + b_h)      (the features, F)

The head is either a classifier, ``logits = W_c h + b_c`` (trained with cross-entropy; its
features ``h`` are then compared), or an embedding on the unit sphere,
``f(x) = normalize(W_e h + b_e)`` (trained with the triplet loss). Three 3x3 convolutions
between pools see 18x18 pixels each; the average pools the rest of the canvas.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from companion.checks import check_choice, check_instance, check_int, check_layout

__all__ = ["HEADS", "ProductNet", "ProductNetConfig"]

#: The heads a :class:`ProductNet` can have.
HEADS: tuple[str, ...] = ("classifier", "embedding")


@dataclass(frozen=True)
class ProductNetConfig:
    """Sizes of a :class:`ProductNet`.

    Attributes:
        image_size: side ``S`` of the square inputs (at least 8).
        in_channels: ``C``.
        channels: output channels of the three convolution blocks.
        features: width ``F`` of the hidden layer (the classifier's features).
        head: ``"classifier"`` or ``"embedding"``.
        outputs: classes ``K`` of the classifier, or size ``D`` of the embedding.

    Raises:
        TypeError, ValueError: for a size that is not a positive int, ``channels`` that is
            not three of them, or another ``head``.
    """

    image_size: int = 28
    in_channels: int = 1
    channels: tuple[int, int, int] = (16, 32, 64)
    features: int = 128
    head: str = "embedding"
    outputs: int = 32

    def __post_init__(self) -> None:
        check_int("image_size", self.image_size, low=8)
        if not isinstance(self.channels, tuple) or len(self.channels) != 3:
            raise ValueError(f"channels must be a tuple of 3 ints, got {self.channels!r}")
        for channels in self.channels:
            check_int("channels", channels, low=1)
        for name in ("in_channels", "features", "outputs"):
            check_int(name, getattr(self, name), low=1)
        check_choice("head", self.head, HEADS)


class ProductNet(nn.Module):
    """Three convolution blocks, an average over positions, a hidden layer and a head;
    ``(B, C, S, S) -> (B, K)`` logits or ``(B, D)`` unit vectors (see the module doc)."""

    def __init__(self, config: ProductNetConfig | None = None) -> None:
        super().__init__()
        config = config if config is not None else ProductNetConfig()
        check_instance("config", config, ProductNetConfig)
        self.config = config
        layers: list[nn.Module] = []
        c_in = config.in_channels
        for c_out in config.channels:
            layers += [
                nn.Conv2d(c_in, c_out, kernel_size=3, padding=1, bias=False),
                nn.BatchNorm2d(c_out),
                nn.ReLU(),
                nn.MaxPool2d(2),  # halves the side
            ]
            c_in = c_out
        self.convs = nn.Sequential(*layers)  # (B, c3, S/8, S/8), sides rounded down
        self.hidden = nn.Linear(c_in, config.features)
        self.head = nn.Linear(config.features, config.outputs)

    def pooled(self, x: torch.Tensor) -> torch.Tensor:
        """The last convolution map averaged over positions: ``(B, C, S, S) -> (B, c₃)``.

        Raises:
            ValueError: if ``x`` is not ``(B, C, S, S)`` for this config.
        """
        cfg = self.config
        check_layout("x", x, ("B", cfg.in_channels, cfg.image_size, cfg.image_size))
        h = self.convs(x)  # (B, c3, S/8, S/8)
        return h.mean(dim=(2, 3))  # (B, c3): the average over positions

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """The hidden layer ``h``: ``(B, C, S, S) -> (B, F)``.

        Raises:
            ValueError: if ``x`` is not ``(B, C, S, S)`` for this config.
        """
        return torch.relu(self.hidden(self.pooled(x)))  # (B, F)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``(B, C, S, S) -> (B, K)`` logits, or ``(B, D)`` rows of unit length."""
        z = self.head(self.features(x))  # (B, K) or (B, D)
        return F.normalize(z, dim=1) if self.config.head == "embedding" else z
