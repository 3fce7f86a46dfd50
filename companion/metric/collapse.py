"""Why batch-hard mining collapses: the triplet losses of embeddings that ignore the labels,
as their spread shrinks to a point.

Take embeddings whose geometry does not depend on the labels (a network at initialisation
on a task its first features do not solve) and shrink them towards their mean,
``e_i(s) = ē + s (e_i − ē)`` with ``0 < s <= 1``. Plain distances scale by ``s``, so for the
batch-hard loss of each anchor, ``max(s (max_p d(a, p) − min_n d(a, n)) + α, 0)``, where the
hardest positive is usually farther than the nearest negative: the loss falls linearly to
``α`` at the collapsed point, and shrinking the embedding is a way down it. Batch-all
averages ``s (d(a, p) − d(a, n)) + α`` over every triplet, whose mean difference is about 0
for such embeddings: it stays near ``α`` whatever ``s``, with no pull towards a point.
Semi-hard keeps the triplets with ``d(a, p) < d(a, n) < d(a, p) + α``, each costing less than
``α``: as ``s`` shrinks, those it keeps cost more, so it resists the collapse.
(Schroff et al. 2015 warn of the collapse; Wu et al. 2017 and Xuan et al. 2020 study it.)

:func:`losses_by_spread` computes the three losses for given embeddings;
:func:`label_independent_losses` for random unit vectors with labels drawn independently,
averaged over draws.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from companion.checks import check_int, check_labels, check_matrix, check_number
from companion.metric.losses import batch_hard_triplet_loss, mined_triplet_loss
from companion.metric.miners import STRATEGIES

__all__ = ["label_independent_losses", "losses_by_spread", "shrink_to_mean"]


def shrink_to_mean(embeddings: torch.Tensor, scale: float) -> torch.Tensor:
    """``ē + scale · (e_i − ē)``, ``ē`` the mean row: every pairwise distance times
    ``scale``.

    Args:
        embeddings: ``(N, D)`` floating point.
        scale: ``s >= 0`` (0: every row at the mean, a collapsed embedding).

    Returns:
        ``(N, D)``.
    """
    check_matrix("embeddings", embeddings)
    check_number("scale", scale, low=0)
    mean = embeddings.mean(dim=0, keepdim=True)  # (1, D)
    return mean + scale * (embeddings - mean)


def _check_scales(scales: Sequence[float]) -> list[float]:
    scales = list(scales)
    check_int("len(scales)", len(scales), low=1)
    for s in scales:
        check_number("scale", s, low=0, low_open=True)
    return scales


@torch.no_grad()
def losses_by_spread(
    embeddings: torch.Tensor,
    labels: torch.Tensor,
    scales: Sequence[float],
    *,
    margin: float = 0.2,
) -> dict[str, list[float]]:
    """Batch-all, batch-hard and semi-hard triplet loss (hinge of margin ``α``, plain
    distances: :func:`~companion.metric.losses.mined_triplet_loss`) of
    ``shrink_to_mean(embeddings, s)`` for each ``s`` of ``scales``.

    Args:
        embeddings: ``(B, D)``; labels: ``(B,)`` integer labels.
        scales: each ``s > 0`` (at ``s = 0`` semi-hard keeps no triplet).
        margin: ``α >= 0``.

    Returns:
        ``{strategy: [loss at each scale]}`` for ``"all"``, ``"hard"``, ``"semihard"``
        (a semi-hard batch with no triplet left counts 0).
    """
    check_matrix("embeddings", embeddings, "(B, D)")
    labels = check_labels("labels", labels, embeddings.shape[0])
    scales = _check_scales(scales)
    out: dict[str, list[float]] = {strategy: [] for strategy in STRATEGIES}
    for s in scales:
        e = shrink_to_mean(embeddings, s)  # (B, D)
        for strategy in STRATEGIES:
            if strategy == "hard":
                loss = batch_hard_triplet_loss(e, labels, margin=margin)
            else:
                loss = mined_triplet_loss(e, labels, strategy=strategy, margin=margin)
            out[strategy].append(loss.item())
    return out


def label_independent_losses(
    scales: Sequence[float],
    *,
    classes: int = 8,
    per_class: int = 8,
    dim: int = 32,
    margin: float = 0.2,
    draws: int = 20,
    seed: int = 0,
) -> dict[str, list[float]]:
    """:func:`losses_by_spread` of ``draws`` batches of random unit vectors, averaged.

    Each draw: ``P x K = classes x per_class`` labels and, independently of them, ``P K``
    points uniform on the unit sphere of dimension ``dim``, the geometry of an embedding
    that knows nothing of the classes.

    Args:
        scales: each ``s > 0``; the spread is ``s`` times a random embedding's.
        classes, per_class: ``P >= 2`` and ``K >= 2``.
        dim: ``D >= 1``.
        margin: ``α >= 0``.
        draws: batches averaged, ``>= 1``.
        seed: seeds the draws (a ``torch.Generator``).

    Returns:
        ``{strategy: [mean loss at each scale]}`` for ``"all"``, ``"hard"``, ``"semihard"``.
    """
    check_int("classes", classes, low=2)
    check_int("per_class", per_class, low=2)
    check_int("dim", dim, low=1)
    check_int("draws", draws, low=1)
    scales = _check_scales(scales)
    generator = torch.Generator().manual_seed(seed)
    labels = torch.arange(classes).repeat_interleave(per_class)  # (P K,)
    total = {strategy: [0.0] * len(scales) for strategy in STRATEGIES}
    for _ in range(draws):
        points = torch.randn(classes * per_class, dim, generator=generator)  # (P K, D)
        points = points / points.norm(dim=1, keepdim=True)  # on the unit sphere
        for strategy, losses in losses_by_spread(points, labels, scales, margin=margin).items():
            total[strategy] = [t + v / draws for t, v in zip(total[strategy], losses, strict=True)]
    return total
