"""The triplet loss, on given triplets and on the triplets a miner picks.

An embedding network ``f`` maps each image to a vector; metric learning trains it so that
images of the same class land close together and images of different classes far apart.
The triplet loss does this on an *anchor* ``a``, a *positive* ``p`` (same class) and a
*negative* ``n`` (another class):

.. math::

    L(a, p, n) = \\max\\big(d(f(a), f(p)) - d(f(a), f(n)) + \\alpha,\\ 0\\big)

with the margin ``α`` and ``d`` the Euclidean distance (or its square, as in FaceNet).
Which triplets of a batch enter the loss is the job of a *miner*
(:mod:`companion.metric.miners`).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from companion.checks import (
    check_choice,
    check_labels,
    check_matrix,
    check_number,
    check_same_shape,
)
from companion.metric.distances import pairwise_distances, row_distances
from companion.metric.miners import check_miner_inputs, mine_from_distances, triplet_mask

__all__ = [
    "batch_hard_soft_margin_loss",
    "batch_hard_triplet_loss",
    "mined_triplet_loss",
    "rho_push_loss",
    "triplet_margin_loss",
]

_REDUCTIONS: tuple[str, ...] = ("mean", "sum", "none")


# --- the loss ----------------------------------------------------------------------------


def triplet_margin_loss(
    anchor: torch.Tensor,
    positive: torch.Tensor,
    negative: torch.Tensor,
    *,
    margin: float = 1.0,
    squared: bool = False,
    reduction: str = "mean",
) -> torch.Tensor:
    """The triplet loss ``max(d(a_i, p_i) − d(a_i, n_i) + margin, 0)`` of each row ``i``.

    With ``squared=False`` this is ``torch.nn.functional.triplet_margin_loss`` with
    ``p=2``, except that PyTorch measures ``‖a − p + ε‖`` with ``ε = 1e-6`` added to every
    coordinate: the two agree to within ``2·ε·sqrt(D)`` per row. With ``squared=True``
    the distances are squared, as in FaceNet. An empty batch gives a loss of 0 (PyTorch
    gives NaN for ``"mean"``), still attached to the inputs' graph.

    Args:
        anchor, positive, negative: ``(N, D)`` each.
        margin: ``α >= 0``.
        squared: use ``‖·‖²`` instead of ``‖·‖``.
        reduction: ``"mean"``, ``"sum"`` or ``"none"`` (the ``(N,)`` losses).

    Raises:
        ValueError: for inputs that are not 2-D or differ in shape, a negative margin or
            an unknown reduction.
    """
    for name, t in (("anchor", anchor), ("positive", positive), ("negative", negative)):
        check_matrix(name, t)
    check_same_shape("positive", positive, "anchor", anchor)
    check_same_shape("negative", negative, "anchor", anchor)
    check_number("margin", margin, low=0)
    check_choice("reduction", reduction, _REDUCTIONS)
    d_ap = row_distances(anchor, positive, squared=squared)  # (N,)
    d_an = row_distances(anchor, negative, squared=squared)  # (N,)
    losses = F.relu(d_ap - d_an + margin)  # (N,)
    if reduction == "none":
        return losses
    if losses.numel() == 0:
        return losses.sum()  # 0, with a grad_fn when the inputs have one
    return losses.mean() if reduction == "mean" else losses.sum()


# --- mining ------------------------------------------------------------------------------


def mined_triplet_loss(
    embeddings: torch.Tensor,
    labels: torch.Tensor,
    *,
    strategy: str = "all",
    margin: float = 0.2,
    squared: bool = False,
    rho: float = 0.0,
) -> torch.Tensor:
    """Mine the batch with ``strategy``, then average the triplet loss over those triplets.

    ``loss_fn(embeddings, labels)`` for :func:`companion.train.loop.fit`. The distances
    come from one :func:`~companion.metric.distances.pairwise_distances` matrix of the
    batch, so the loss of each triplet
    equals ``triplet_margin_loss(e[a], e[p], e[n])`` up to rounding, at a fraction of the
    cost ("all" and "semihard" score every ``(a, p, n)`` of the batch at once, a
    ``(B, B, B)`` tensor: meant for batches of up to a few hundred rows). When the batch
    holds no triplet (a single class, say) the loss is 0 and still differentiable (zero
    gradient).

    With ``rho > 0`` the loss is Roth et al.'s (2020) ρ-regularisation in expectation: their
    miner swaps, with probability ``rho``, an anchor's triplet ``(a, p, n)`` for
    ``(a, a, p')``, ``p'`` another image of the anchor's class, whose loss
    ``max(margin − d(a, p'), 0)`` pushes images of one class apart, so that the embedding
    keeps some of what varies inside a training class. Here the mined loss is weighted by
    ``1 − rho`` and :func:`rho_push_loss` by ``rho``: the swap's weights, without its
    randomness (with one triplet per anchor and as many positives per anchor, as in their
    batches, this is the swap's expected loss).

    Args:
        embeddings: ``(B, D)``; labels: ``(B,)``; the rest as in
            :func:`~companion.metric.miners.mine_triplets`.
        rho: the swap probability, in ``[0, 1)``.

    Returns:
        A scalar tensor.
    """
    labels = check_miner_inputs(embeddings, labels, margin, strategy)
    check_number("rho", rho, low=0, high=1, high_open=True)
    dist = pairwise_distances(embeddings, squared=squared)  # (B, B), differentiable
    if strategy == "hard":
        with torch.no_grad():
            a, p, n = mine_from_distances(dist, labels, strategy, margin)
        losses = F.relu(dist[a, p] - dist[a, n] + margin)  # (T,)
        mined = losses.sum() / max(len(losses), 1)  # 0 with a zero gradient when T = 0
    else:
        # "all" and "semihard": every triplet of the batch at once, masked (no index lists).
        with torch.no_grad():
            mask = triplet_mask(dist, labels, strategy, margin)  # (B, B, B)
        losses = F.relu(dist[:, :, None] - dist[:, None, :] + margin)  # (B, B, B): a, p, n
        mined = (losses * mask).sum() / mask.sum().clamp_min(1)
    if rho == 0:
        return mined
    return (1 - rho) * mined + rho * _push(dist, labels, margin)


def rho_push_loss(
    embeddings: torch.Tensor,
    labels: torch.Tensor,
    *,
    margin: float = 0.2,
    squared: bool = False,
) -> torch.Tensor:
    """The mean over ordered pairs ``(a, p)`` of one class, ``a ≠ p``, of
    ``max(margin − d(a, p), 0)``: the loss of ρ-regularisation's swapped triplet
    ``(a, a, p)`` (Roth et al., 2020), which pushes images of one class apart up to
    ``margin``. A batch without such a pair gives 0 (differentiable).

    Args:
        embeddings: ``(B, D)``; labels: ``(B,)``; margin: ``α >= 0``; squared: use
            ``‖·‖²``.

    Returns:
        A scalar tensor.
    """
    labels = check_miner_inputs(embeddings, labels, margin, "all")
    return _push(pairwise_distances(embeddings, squared=squared), labels, margin)


def _push(dist: torch.Tensor, labels: torch.Tensor, margin: float) -> torch.Tensor:
    """:func:`rho_push_loss` from the batch's ``(B, B)`` distances."""
    same = labels[:, None] == labels[None, :]  # (B, B)
    same.fill_diagonal_(False)
    losses = F.relu(margin - dist) * same  # (B, B)
    return losses.sum() / same.sum().clamp_min(1)


def batch_hard_triplet_loss(
    embeddings: torch.Tensor,
    labels: torch.Tensor,
    *,
    margin: float = 0.2,
    squared: bool = False,
) -> torch.Tensor:
    """Hermans et al.'s batch-hard loss: the mean over anchors ``a`` of
    ``max(max_p d(a, p) − min_n d(a, n) + margin, 0)``.

    Anchors lacking a positive or a negative are left out; a batch without any valid
    anchor gives 0 (differentiable). Same as ``mined_triplet_loss(..., strategy="hard")``.

    Args:
        embeddings: ``(B, D)``; labels: ``(B,)``; margin: ``α >= 0``.
    """
    return mined_triplet_loss(embeddings, labels, strategy="hard", margin=margin, squared=squared)


def batch_hard_soft_margin_loss(
    embeddings: torch.Tensor,
    labels: torch.Tensor,
    *,
    squared: bool = False,
) -> torch.Tensor:
    """Hermans et al.'s batch-hard loss with a soft margin: the mean over anchors ``a`` of
    ``softplus(max_p d(a, p) − min_n d(a, n))``, with ``softplus(x) = log(1 + eˣ)``.

    The hinge ``max(x + α, 0)`` is replaced by ``softplus(x)``: there is no margin to
    choose, and triplets already in order (``x < 0``) still get a small push, which decays
    as ``eˣ``. Hardest positive ``p`` (the farthest of ``a``'s class, ``a`` itself left
    out) and hardest negative ``n`` (the closest of another class) are chosen as in
    :func:`batch_hard_triplet_loss`; anchors lacking a positive or a negative are left out,
    and a batch without a valid anchor gives 0 (differentiable, zero gradient).

    Args:
        embeddings: ``(B, D)``.
        labels: ``(B,)`` integer class labels.
        squared: use squared distances (Hermans et al. use plain ones).

    Returns:
        A scalar tensor.

    Raises:
        ValueError: if ``embeddings`` is not 2-D or ``labels`` does not match it.
        TypeError: for non-tensor inputs or non-floating embeddings.
    """
    check_matrix("embeddings", embeddings)
    labels = check_labels("labels", labels, embeddings.shape[0]).to(embeddings.device)
    dist = pairwise_distances(embeddings, squared=squared)  # (B, B), differentiable
    with torch.no_grad():
        # (T,) each: one triplet per valid anchor
        a, p, n = mine_from_distances(dist, labels, "hard", 0.0)
    losses = F.softplus(dist[a, p] - dist[a, n])  # (T,)
    return losses.sum() / max(len(losses), 1)  # 0 with a zero gradient when T = 0
