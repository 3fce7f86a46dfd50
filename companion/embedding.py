"""An embedding network for metric learning, and the glue to train and look at it.

``EmbeddingNet`` is the ``f`` of the triplet loss: a small CNN mapping an image to a point
on the unit sphere. A *Siamese* (or triplet) network is nothing more than this one network
applied to the anchor, the positive and the negative: the weights are shared, so the three
embeddings live in the same space and can be compared. In practice the whole batch goes
through ``f`` once and the miner (:func:`companion.metric.mine_triplets`) picks the
triplets among the embeddings.

Also here: a class-balanced ``P × K`` batch sampler (``P`` classes, ``K`` images each,
the batches batch-hard mining is designed for), a random-placement augmentation for
digits on a larger canvas, and a 2-D PCA projection to plot embeddings.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from companion.data import shift_on_canvas

__all__ = ["EmbeddingConfig", "EmbeddingNet", "pca_2d", "pk_batch", "random_placement"]


@dataclass
class EmbeddingConfig:
    """Shape of an :class:`EmbeddingNet`.

    Attributes:
        image_size: side ``S`` of the square input images, a multiple of 4.
        in_channels: ``C`` of the input images.
        channels: output channels of the two convolution blocks.
        dim: size ``E`` of the embedding.
        normalize: project the embedding onto the unit sphere ``‖f(x)‖ = 1``.
        global_pool: average the last feature map over all positions before the linear
            layer (features that do not depend on where the digit is) instead of
            flattening it.
    """

    image_size: int = 8
    in_channels: int = 1
    channels: tuple[int, int] = (32, 64)
    dim: int = 32
    normalize: bool = True
    global_pool: bool = True


class EmbeddingNet(nn.Module):
    """``f(x) = normalize(W · flatten(block₂(block₁(x))) + b)``, each block a 3x3
    convolution, a ReLU and a 2x2 max-pool (the pools halve the side twice).

    Input ``(B, C, S, S)``; output ``(B, E)``, of unit length when ``config.normalize``.
    """

    def __init__(self, config: EmbeddingConfig | None = None) -> None:
        super().__init__()
        config = config if config is not None else EmbeddingConfig()
        if config.image_size < 4 or config.image_size % 4 != 0:
            raise ValueError(
                f"image_size must be a positive multiple of 4, got {config.image_size}"
            )
        if config.dim < 1:
            raise ValueError(f"dim must be at least 1, got {config.dim}")
        self.config = config
        c1, c2 = config.channels
        self.features = nn.Sequential(
            nn.Conv2d(config.in_channels, c1, kernel_size=3, padding=1),
            nn.ReLU(),
            nn.MaxPool2d(2),  # (B, c1, S/2, S/2)
            nn.Conv2d(c1, c2, kernel_size=3, padding=1),
            nn.ReLU(),
            nn.MaxPool2d(2),  # (B, c2, S/4, S/4)
        )
        positions = 1 if config.global_pool else (config.image_size // 4) ** 2
        self.head = nn.Linear(c2 * positions, config.dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        cfg = self.config
        if x.ndim != 4 or x.shape[1:] != (cfg.in_channels, cfg.image_size, cfg.image_size):
            raise ValueError(
                f"x must have shape (B, {cfg.in_channels}, {cfg.image_size}, {cfg.image_size}),"
                f" got {tuple(x.shape)}"
            )
        B, _C, _S, _ = x.shape
        h = self.features(x)  # (B, c2, S/4, S/4)
        if cfg.global_pool:
            h = h.mean(dim=(2, 3))  # (B, c2)
        h = h.reshape(B, -1)  # (B, c2 · positions)
        z = self.head(h)  # (B, E)
        return F.normalize(z, dim=1) if cfg.normalize else z


def pk_batch(
    labels: torch.Tensor,
    *,
    classes_per_batch: int,
    images_per_class: int,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """Indices of one class-balanced batch: ``P`` random classes, ``K`` random images of each.

    Args:
        labels: ``(N,)`` integer labels of the dataset.
        classes_per_batch: ``P``, at most the number of classes.
        images_per_class: ``K``, at most the size of the smallest chosen class.
        generator: seeds the draw.

    Returns:
        int64 ``(P·K,)`` indices into the dataset, class by class, on the labels' device.

    Raises:
        ValueError: if ``labels`` is not 1-D, ``P`` or ``K`` is below 1, or the data has
            too few classes or images.
    """
    if labels.ndim != 1:
        raise ValueError(f"labels must be 1-D (N,), got shape {tuple(labels.shape)}")
    classes = labels.unique()
    if not 1 <= classes_per_batch <= len(classes):
        raise ValueError(
            f"classes_per_batch must be in [1, {len(classes)}] (classes in labels), "
            f"got {classes_per_batch}"
        )
    if images_per_class < 1:
        raise ValueError(f"images_per_class must be at least 1, got {images_per_class}")
    chosen = classes[torch.randperm(len(classes), generator=generator)[:classes_per_batch]]
    picks = []
    for c in chosen.tolist():
        members = (labels == c).nonzero(as_tuple=True)[0]
        if len(members) < images_per_class:
            raise ValueError(
                f"class {c} has {len(members)} images, fewer than images_per_class="
                f"{images_per_class}"
            )
        order = torch.randperm(len(members), generator=generator).to(members.device)
        picks.append(members[order[:images_per_class]])
    return torch.cat(picks)


def random_placement(
    canvas_size: int = 16, *, max_shift: int | None = None
) -> Callable[[torch.Tensor, torch.Generator], torch.Tensor]:
    """An augmentation for :func:`companion.train.fit`: ``transform(x, generator)`` pastes
    each ``(C, h, w)`` image of the batch at a fresh random place on a
    ``canvas_size × canvas_size`` canvas (:func:`companion.data.shift_on_canvas`), so the
    network sees every digit at many positions."""

    def transform(x: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        seed = int(torch.randint(0, 2**31 - 1, (1,), generator=generator))
        return shift_on_canvas(x, canvas_size=canvas_size, max_shift=max_shift, seed=seed)

    return transform


def pca_2d(x: torch.Tensor) -> torch.Tensor:
    """Project the rows of ``x`` on their two principal directions (for a scatter plot).

    Centres ``x``, takes the SVD ``X − mean = U Σ Vᵀ`` and returns ``U[:, :2] Σ[:2]``, with
    each direction's sign fixed so that its largest loading is positive (the SVD alone
    leaves the sign free).

    Args:
        x: ``(N, D)`` with ``N >= 2`` and ``D >= 2``.

    Returns:
        ``(N, 2)``.

    Raises:
        ValueError: if ``x`` is not 2-D with at least 2 rows and 2 columns.
    """
    if x.ndim != 2 or x.shape[0] < 2 or x.shape[1] < 2:
        raise ValueError(f"x must be 2-D (N, D) with N, D >= 2, got shape {tuple(x.shape)}")
    centred = x.detach() - x.detach().mean(dim=0)  # (N, D)
    _u, _s, vh = torch.linalg.svd(centred, full_matrices=False)  # vh: (min(N, D), D)
    directions = vh[:2]  # (2, D)
    largest = directions.abs().argmax(dim=1)  # (2,)
    signs = directions.gather(1, largest[:, None]).sign()  # (2, 1)
    return centred @ (directions * signs).T  # (N, 2)
