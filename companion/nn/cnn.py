"""A small convolutional network: the baseline the Vision Transformer is measured against.

Two blocks of a 3x3 convolution, a ReLU and a 2x2 max-pool, then one hidden layer and a
linear classifier:

    h = ReLU(W_1 · flatten(block₂(block₁(x))) + b_1)        (the features, width F)
    logits = W_2 h + b_2

The convolution builds in what a ViT has to learn from data: each filter sees a small
neighbourhood (locality), and the same filter slides over the whole image (translation
equivariance). :meth:`SmallCNN.features` returns ``h``, the penultimate layer, so the
classifier's representation can be compared with a metric-learning embedding.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from companion.checks import check_instance, check_int, check_layout, check_multiple

__all__ = ["CNNConfig", "CNNFeatures", "SmallCNN", "check_square_images", "conv_blocks"]


def conv_blocks(in_channels: int, channels: tuple[int, int]) -> nn.Sequential:
    """``[Conv2d 3x3 (padding 1) → ReLU → MaxPool 2x2] x 2``.

    ``(B, C, S, S) -> (B, c₂, S/4, S/4)`` with ``channels = (c₁, c₂)``.
    """
    c1, c2 = channels
    return nn.Sequential(
        nn.Conv2d(in_channels, c1, kernel_size=3, padding=1),
        nn.ReLU(),
        nn.MaxPool2d(2),  # (B, c1, S/2, S/2)
        nn.Conv2d(c1, c2, kernel_size=3, padding=1),
        nn.ReLU(),
        nn.MaxPool2d(2),  # (B, c2, S/4, S/4)
    )


def check_square_images(x: torch.Tensor, channels: int, size: int) -> None:
    """Raise ``ValueError`` unless ``x`` is ``(B, channels, size, size)`` (the input check of
    both convolutional networks, :class:`SmallCNN` and
    :class:`~companion.nn.embedding.EmbeddingNet`)."""
    check_layout("x", x, ("B", channels, size, size))


@dataclass(frozen=True)
class CNNConfig:
    """Sizes of a :class:`SmallCNN`; the defaults fit Fashion-MNIST's 28x28 grey images.

    Attributes:
        image_size: side ``S`` of the square inputs, a multiple of 4.
        in_channels: ``C``.
        channels: output channels of the two convolution blocks.
        hidden: width ``F`` of the hidden layer (the features).
        num_classes: outputs of the classifier.
    """

    image_size: int = 28
    in_channels: int = 1
    channels: tuple[int, int] = (16, 32)
    hidden: int = 128
    num_classes: int = 10

    def __post_init__(self) -> None:
        check_int("image_size", self.image_size, low=4)
        check_multiple("image_size", self.image_size, 4, "(two 2x2 pools)")
        if not isinstance(self.channels, tuple) or len(self.channels) != 2:
            raise ValueError(f"channels must be a tuple of 2 ints, got {self.channels!r}")
        for channels in self.channels:
            check_int("channels", channels, low=1)
        for name in ("in_channels", "hidden", "num_classes"):
            check_int(name, getattr(self, name), low=1)


class SmallCNN(nn.Module):
    """Convolution blocks, a hidden layer and a classifier; ``(B, C, S, S) -> (B, K)``."""

    def __init__(self, config: CNNConfig | None = None) -> None:
        super().__init__()
        config = config if config is not None else CNNConfig()
        check_instance("config", config, CNNConfig)
        self.config = config
        self.convs = conv_blocks(config.in_channels, config.channels)
        flat = config.channels[1] * (config.image_size // 4) ** 2
        self.hidden = nn.Linear(flat, config.hidden)
        self.classifier = nn.Linear(config.hidden, config.num_classes)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """The penultimate layer ``h``: ``(B, C, S, S) -> (B, F)``.

        Raises:
            ValueError: if ``x`` is not ``(B, C, S, S)`` for this config.
        """
        check_square_images(x, self.config.in_channels, self.config.image_size)
        B = x.shape[0]
        h = self.convs(x)  # (B, c2, S/4, S/4)
        return torch.relu(self.hidden(h.reshape(B, -1)))  # (B, F)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``(B, C, S, S) -> (B, K)``: the logits."""
        return self.classifier(self.features(x))  # (B, K)


class CNNFeatures(nn.Module):
    """The penultimate layer of a :class:`SmallCNN` as a module of its own,
    ``(B, C, S, S) -> (B, F)``, sharing the CNN's weights (for
    :func:`companion.train.loop.predict`, or as a fixed embedding to compare with one
    learned by metric learning)."""

    def __init__(self, cnn: SmallCNN) -> None:
        super().__init__()
        check_instance("cnn", cnn, SmallCNN)
        self.cnn = cnn

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``(B, C, S, S) -> (B, F)``: :meth:`SmallCNN.features`."""
        return self.cnn.features(x)
