"""An embedding network for metric learning.

``EmbeddingNet`` is the ``f`` of the triplet loss: a small CNN mapping an image to a point
on the unit sphere. A *Siamese* (or triplet) network is nothing more than this one network
applied to the anchor, the positive and the negative: the weights are shared, so the three
embeddings live in the same space and can be compared. In practice the whole batch goes
through ``f`` once and the miner (:func:`companion.metric.miners.mine_triplets`) picks the
triplets among the embeddings.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import torch
import torch.nn.functional as F
from torch import nn

from companion.checks import check_bool, check_instance, check_int, check_multiple
from companion.nn.cnn import check_square_images, conv_blocks
from companion.nn.vit import VisionTransformer
from companion.nn.vit_config import ViTConfig

__all__ = ["EmbeddingConfig", "EmbeddingNet", "ViTEmbedding"]


@dataclass(frozen=True)
class EmbeddingConfig:
    """Shape of an :class:`EmbeddingNet`.

    Attributes:
        image_size: side ``S`` of the square input images, a multiple of 4.
        in_channels: ``C`` of the input images.
        channels: output channels of the two convolution blocks.
        dim: size ``D`` of the embedding.
        normalize: project the embedding onto the unit sphere ``‖f(x)‖ = 1``.
        global_pool: average the last feature map over all positions before the linear
            layer (features that do not depend on where the digit is) instead of
            flattening it.

    Raises:
        TypeError: for a size that is not an int, or a flag that is not a bool.
        ValueError: for a size out of range, or an ``image_size`` not a multiple of 4.
    """

    image_size: int = 8
    in_channels: int = 1
    channels: tuple[int, int] = (32, 64)
    dim: int = 32
    normalize: bool = True
    global_pool: bool = True

    def __post_init__(self) -> None:
        check_int("image_size", self.image_size, low=4)
        check_multiple("image_size", self.image_size, 4, "(two 2x2 pools)")
        check_int("in_channels", self.in_channels, low=1)
        if not isinstance(self.channels, tuple) or len(self.channels) != 2:
            raise ValueError(f"channels must be a tuple of 2 ints, got {self.channels!r}")
        for channels in self.channels:
            check_int("channels", channels, low=1)
        check_int("dim", self.dim, low=1)
        check_bool("normalize", self.normalize)
        check_bool("global_pool", self.global_pool)


class EmbeddingNet(nn.Module):
    """``f(x) = normalize(W · flatten(block₂(block₁(x))) + b)``, each block a 3x3
    convolution, a ReLU and a 2x2 max-pool (the pools halve the side twice).

    Input ``(B, C, S, S)``; output ``(B, D)``, of unit length when ``config.normalize``.
    """

    def __init__(self, config: EmbeddingConfig | None = None) -> None:
        super().__init__()
        config = config if config is not None else EmbeddingConfig()
        check_instance("config", config, EmbeddingConfig)
        self.config = config
        c2 = config.channels[1]
        self.features = conv_blocks(config.in_channels, config.channels)  # (B, c2, S/4, S/4)
        positions = 1 if config.global_pool else (config.image_size // 4) ** 2
        self.head = nn.Linear(c2 * positions, config.dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``(B, C, S, S) -> (B, D)``.

        Raises:
            ValueError: if ``x`` is not ``(B, C, S, S)`` for this config.
        """
        cfg = self.config
        check_square_images(x, cfg.in_channels, cfg.image_size)
        B, _C, _S, _ = x.shape  # (B, C, S, S)
        h = self.features(x)  # (B, c2, S/4, S/4)
        if cfg.global_pool:
            h = h.mean(dim=(2, 3))  # (B, c2)
        h = h.reshape(B, -1)  # (B, c2 · positions)
        z = self.head(h)  # (B, D)
        return F.normalize(z, dim=1) if cfg.normalize else z


class ViTEmbedding(nn.Module):
    """A Vision Transformer as the ``f`` of the triplet loss:
    ``f(x) = normalize(W · z_cls + b)``, the class token's final state projected to ``D``
    numbers and put on the unit sphere.

    It is :class:`~companion.nn.vit.VisionTransformer` with a head of ``dim`` outputs
    (``self.vit``), initialised as a plain ``nn.Linear`` (the classifier's zero head would
    map every image to the same point). :meth:`encode` is the ViT's, so the attention
    probes of :mod:`companion.viz.probes` work on it unchanged.

    Args:
        config: the ViT's sizes (its ``num_classes`` is replaced by ``dim``).
        dim: size ``D`` of the embedding.
    """

    def __init__(self, config: ViTConfig, dim: int = 32) -> None:
        super().__init__()
        check_instance("config", config, ViTConfig)
        check_int("dim", dim, low=1)
        self.vit = VisionTransformer(replace(config, num_classes=dim))
        self.vit.head.reset_parameters()

    def encode(
        self, images: torch.Tensor, *, need_weights: bool = False
    ) -> tuple[torch.Tensor, list[torch.Tensor]]:
        """:meth:`companion.nn.vit.VisionTransformer.encode` of the underlying ViT."""
        return self.vit.encode(images, need_weights=need_weights)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        """``(B, C, H, W) -> (B, D)``, each row of unit length."""
        return F.normalize(self.vit(images), dim=1)  # (B, D)
