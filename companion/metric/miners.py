"""Triplet miners: which ``(anchor, positive, negative)`` triplets of a batch enter the loss.

==============  ==========================================================================
``"all"``       every valid triplet (batch-all)
``"hard"``      per anchor, its farthest positive and its closest negative (batch-hard,
                Hermans et al. 2017)
``"semihard"``  every ``(a, p, n)`` with ``d(a, p) < d(a, n) < d(a, p) + α``: negatives
                farther than the positive but inside the margin (FaceNet, Schroff et al.
                2015)
==============  ==========================================================================

Miners return index tensors ``(a, p, n)`` and run without gradient. The losses
(:mod:`companion.metric.losses`) share the building blocks: :func:`check_miner_inputs`,
:func:`mine_from_distances` on a distance matrix already computed, and :func:`triplet_mask`.
"""

from __future__ import annotations

import torch

from companion.checks import check_choice, check_labels, check_matrix, check_number
from companion.metric.distances import pairwise_distances

__all__ = [
    "STRATEGIES",
    "check_miner_inputs",
    "count_triplets",
    "mine_from_distances",
    "mine_triplets",
    "triplet_mask",
]


#: The mining strategies :func:`mine_triplets` knows.
STRATEGIES: tuple[str, ...] = ("all", "hard", "semihard")


@torch.no_grad()
def mine_triplets(
    embeddings: torch.Tensor,
    labels: torch.Tensor,
    *,
    strategy: str = "all",
    margin: float = 0.2,
    squared: bool = False,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Choose the triplets of a batch that a triplet loss should see.

    A triplet ``(a, p, n)`` is *valid* when ``labels[a] == labels[p]``, ``a != p`` and
    ``labels[n] != labels[a]``. Strategies:

    - ``"all"``: every valid triplet; a batch with ``n_c`` images of class ``c`` has
      ``Σ_c n_c (n_c − 1)(B − n_c)`` of them.
    - ``"hard"``: one triplet per anchor, with ``p = argmax_p d(a, p)`` (hardest positive)
      and ``n = argmin_n d(a, n)`` (hardest negative); anchors without a positive or a
      negative are skipped.
    - ``"semihard"``: every valid triplet with ``d(a, p) < d(a, n) < d(a, p) + margin``.

    Computed without gradient; the indices are meant for
    ``triplet_margin_loss(e[a], e[p], e[n])``. "all" and "semihard" build a ``(B, B, B)``
    boolean mask: meant for batches of up to a few hundred rows.

    Args:
        embeddings: ``(B, D)``.
        labels: ``(B,)`` integer class labels.
        strategy: ``"all"``, ``"hard"`` or ``"semihard"``.
        margin: ``α >= 0``, used by ``"semihard"`` (checked for every strategy).
        squared: mine on squared distances (FaceNet) instead of distances.

    Returns:
        ``(anchor_idx, positive_idx, negative_idx)``: three int64 ``(T,)`` tensors on the
        embeddings' device, ordered by anchor, then positive, then negative.

    Raises:
        ValueError: if ``embeddings`` is not 2-D, ``labels`` does not match it, the margin
            is negative or the strategy unknown.
    """
    labels = check_miner_inputs(embeddings, labels, margin, strategy)
    dist = pairwise_distances(embeddings, squared=squared)  # (B, B)
    return mine_from_distances(dist, labels, strategy, margin)


@torch.no_grad()
def count_triplets(
    embeddings: torch.Tensor,
    labels: torch.Tensor,
    *,
    margin: float = 0.2,
    squared: bool = False,
) -> dict[str, tuple[int, int]]:
    """How many triplets each strategy mines from a batch, and how many of them are
    *active* (a positive loss, ``d(a, p) − d(a, n) + margin > 0``).

    Args:
        embeddings: ``(B, D)``; labels: ``(B,)``; margin, squared: as in
            :func:`mine_triplets`.

    Returns:
        ``{strategy: (triplets, active)}`` for each of :data:`STRATEGIES`.
    """
    labels = check_miner_inputs(embeddings, labels, margin)
    dist = pairwise_distances(embeddings, squared=squared)  # (B, B), once for the three
    counts = {}
    for strategy in STRATEGIES:
        a, p, n = mine_from_distances(dist, labels, strategy, margin)
        active = int((dist[a, p] - dist[a, n] + margin > 0).sum())
        counts[strategy] = (len(a), active)
    return counts


def check_miner_inputs(
    embeddings: torch.Tensor, labels: torch.Tensor, margin: float, strategy: str | None = None
) -> torch.Tensor:
    """The miners' input checks (here and in ``losses.mined_triplet_loss``): ``embeddings``
    ``(B, D)``, ``labels`` ``(B,)``, ``margin >= 0`` and, when given, a known ``strategy``.

    Returns:
        The checked labels, on the embeddings' device.
    """
    check_matrix("embeddings", embeddings)
    labels = check_labels("labels", labels, embeddings.shape[0])
    check_number("margin", margin, low=0)
    if strategy is not None:
        check_choice("strategy", strategy, STRATEGIES)
    return labels.to(embeddings.device)


def _valid_masks(labels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """``(is_positive, is_negative)``, both ``(B, B)`` booleans, from ``(B,)`` labels."""
    same = labels[:, None] == labels[None, :]  # (B, B)
    eye = torch.eye(len(labels), dtype=torch.bool, device=labels.device)
    return same & ~eye, ~same


def triplet_mask(
    dist: torch.Tensor, labels: torch.Tensor, strategy: str, margin: float
) -> torch.Tensor:
    """``mask[a, p, n]``, ``(B, B, B)``: the triplets "all" or "semihard" keeps."""
    is_positive, is_negative = _valid_masks(labels)
    mask = is_positive[:, :, None] & is_negative[:, None, :]  # (B, B, B): a, p, n
    if strategy == "semihard":
        d_ap = dist.detach()[:, :, None]  # (B, B, 1): a, p
        d_an = dist.detach()[:, None, :]  # (B, 1, B): a, n
        mask &= (d_an > d_ap) & (d_an < d_ap + margin)
    return mask


def mine_from_distances(
    dist: torch.Tensor, labels: torch.Tensor, strategy: str, margin: float
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """The miners on a ``(B, B)`` distance matrix and ``(B,)`` labels (checked by
    :func:`check_miner_inputs`): ``(anchor_idx, positive_idx, negative_idx)`` as
    :func:`mine_triplets` returns them."""
    if strategy != "hard":
        a, p, n = triplet_mask(dist, labels, strategy, margin).nonzero(as_tuple=True)
        return a, p, n
    is_positive, is_negative = _valid_masks(labels)
    dist = dist.detach()
    hardest_p = dist.masked_fill(~is_positive, float("-inf")).argmax(dim=1)  # (B,)
    hardest_n = dist.masked_fill(~is_negative, float("inf")).argmin(dim=1)  # (B,)
    has_both = is_positive.any(dim=1) & is_negative.any(dim=1)  # (B,)
    a = torch.arange(len(labels), device=labels.device)[has_both]
    return a, hardest_p[has_both], hardest_n[has_both]
