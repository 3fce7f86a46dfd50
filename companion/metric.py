"""Metric learning: distances between embeddings, the triplet loss, triplet mining, retrieval.

An embedding network ``f`` maps each image to a vector; metric learning trains it so that
images of the same class land close together and images of different classes far apart.
The triplet loss does this on an *anchor* ``a``, a *positive* ``p`` (same class) and a
*negative* ``n`` (another class):

.. math::

    L(a, p, n) = \\max\\big(d(f(a), f(p)) - d(f(a), f(n)) + \\alpha,\\ 0\\big)

with the margin ``α`` and ``d`` the Euclidean distance (or its square, as in FaceNet).
Which triplets of a batch enter the loss is the job of a *miner*:

==============  ==========================================================================
``"all"``       every valid triplet (batch-all)
``"hard"``      per anchor, its farthest positive and its closest negative (batch-hard,
                Hermans et al. 2017)
``"semihard"``  every ``(a, p, n)`` with ``d(a, p) < d(a, n) < d(a, p) + α``: negatives
                farther than the positive but inside the margin (FaceNet, Schroff et al.
                2015)
==============  ==========================================================================

Distances, miners, losses and retrieval scores are separate small functions, so each can
be tested alone against a per-triplet loop.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

__all__ = [
    "STRATEGIES",
    "batch_hard_triplet_loss",
    "count_triplets",
    "mine_triplets",
    "mined_triplet_loss",
    "nearest_neighbor_accuracy",
    "nearest_neighbors",
    "pairwise_distances",
    "recall_at_k",
    "triplet_margin_loss",
]

#: The mining strategies :func:`mine_triplets` knows.
STRATEGIES: tuple[str, ...] = ("all", "hard", "semihard")
_REDUCTIONS: tuple[str, ...] = ("mean", "sum", "none")


# --- input checks ------------------------------------------------------------------------


def _check_matrix(name: str, x: object) -> torch.Tensor:
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor, got {type(x).__name__}")
    if x.ndim != 2:
        raise ValueError(f"{name} must be 2-D (N, D), got shape {tuple(x.shape)}")
    if not x.is_floating_point():
        raise TypeError(f"{name} must have a floating dtype, got {x.dtype}")
    return x


def _check_labels(labels: object, n: int) -> torch.Tensor:
    if not isinstance(labels, torch.Tensor):
        raise TypeError(f"labels must be a torch.Tensor, got {type(labels).__name__}")
    if labels.ndim != 1 or labels.shape[0] != n:
        raise ValueError(
            f"labels must have shape ({n},) to match the {n} embeddings, "
            f"got shape {tuple(labels.shape)}"
        )
    return labels


def _check_margin(margin: float) -> None:
    if isinstance(margin, bool) or not isinstance(margin, (int, float)) or not margin >= 0:
        raise ValueError(f"margin must be a number >= 0, got {margin!r}")


def _safe_sqrt(squared_distances: torch.Tensor) -> torch.Tensor:
    """``sqrt`` with a zero (not infinite) gradient where the argument is 0.

    The derivative of ``sqrt(s)`` is ``1 / (2 sqrt(s))``, infinite at ``s = 0``; multiplied
    by the zero gradient of ``s`` there it gives NaN. Taking the root only where ``s > 0``
    and a constant 0 elsewhere keeps every gradient finite.
    """
    positive = squared_distances > 0
    safe = torch.where(positive, squared_distances, torch.ones_like(squared_distances))
    return torch.where(positive, safe.sqrt(), torch.zeros_like(squared_distances))


# --- distances ---------------------------------------------------------------------------


def pairwise_distances(
    x: torch.Tensor, y: torch.Tensor | None = None, *, squared: bool = False
) -> torch.Tensor:
    """Euclidean distances between every row of ``x`` and every row of ``y``.

    Uses ``‖x_i − y_j‖² = ‖x_i‖² + ‖y_j‖² − 2 x_i·y_j`` (one matrix product, no ``(N, M, D)``
    tensor), clamped at 0 against rounding. With ``y=None`` the distances are within ``x``
    and the diagonal is exactly 0. The square root has a finite gradient (0) at distance 0.
    Rounding in the expansion is about ``eps·‖x‖²`` (eps of the dtype): distances between
    nearly equal rows are accurate to about ``sqrt(eps)·‖x‖``.

    Args:
        x: ``(N, D)``.
        y: ``(M, D)``, or ``None`` for ``y = x``.
        squared: return ``‖x_i − y_j‖²`` instead of ``‖x_i − y_j‖``.

    Returns:
        ``(N, M)`` (``(N, N)`` when ``y`` is ``None``).

    Raises:
        ValueError: if ``x`` or ``y`` is not 2-D, or their widths ``D`` differ.
    """
    _check_matrix("x", x)
    other = x if y is None else _check_matrix("y", y)
    if other.shape[1] != x.shape[1]:
        raise ValueError(
            f"x and y must have the same number of columns, got {x.shape[1]} and {other.shape[1]}"
        )
    x_sq = (x * x).sum(dim=1)  # (N,)
    y_sq = (other * other).sum(dim=1)  # (M,)
    sq = x_sq[:, None] + y_sq[None, :] - 2.0 * (x @ other.T)  # (N, M)
    sq = sq.clamp_min(0.0)
    if y is None:
        diagonal = torch.eye(x.shape[0], dtype=torch.bool, device=x.device)
        sq = sq.masked_fill(diagonal, 0.0)
    return sq if squared else _safe_sqrt(sq)


def _row_distances(a: torch.Tensor, b: torch.Tensor, *, squared: bool) -> torch.Tensor:
    """``‖a_i − b_i‖`` (or its square) for each row ``i``: ``(N, D), (N, D) -> (N,)``."""
    sq = ((a - b) ** 2).sum(dim=1)  # (N,)
    return sq if squared else _safe_sqrt(sq)


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
        _check_matrix(name, t)
    if not anchor.shape == positive.shape == negative.shape:
        raise ValueError(
            "anchor, positive and negative must have the same shape, got "
            f"{tuple(anchor.shape)}, {tuple(positive.shape)} and {tuple(negative.shape)}"
        )
    _check_margin(margin)
    if reduction not in _REDUCTIONS:
        raise ValueError(f"reduction must be one of {_REDUCTIONS}, got {reduction!r}")
    d_ap = _row_distances(anchor, positive, squared=squared)  # (N,)
    d_an = _row_distances(anchor, negative, squared=squared)  # (N,)
    losses = F.relu(d_ap - d_an + margin)  # (N,)
    if reduction == "none":
        return losses
    if losses.numel() == 0:
        return losses.sum()  # 0, with a grad_fn when the inputs have one
    return losses.mean() if reduction == "mean" else losses.sum()


# --- mining ------------------------------------------------------------------------------


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
    _check_matrix("embeddings", embeddings)
    labels = _check_labels(labels, embeddings.shape[0])
    _check_margin(margin)
    if strategy not in STRATEGIES:
        raise ValueError(f"strategy must be one of {STRATEGIES}, got {strategy!r}")
    dist = pairwise_distances(embeddings, squared=squared)  # (B, B)
    return _mine(dist, labels.to(embeddings.device), strategy, margin)


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
    _check_matrix("embeddings", embeddings)
    dist = pairwise_distances(embeddings, squared=squared)  # (B, B)
    counts = {}
    for strategy in STRATEGIES:
        a, p, n = mine_triplets(
            embeddings, labels, strategy=strategy, margin=margin, squared=squared
        )
        active = int((dist[a, p] - dist[a, n] + margin > 0).sum())
        counts[strategy] = (len(a), active)
    return counts


def _valid_masks(labels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """``(is_positive, is_negative)``, both ``(B, B)`` booleans, from ``(B,)`` labels."""
    same = labels[:, None] == labels[None, :]  # (B, B)
    eye = torch.eye(len(labels), dtype=torch.bool, device=labels.device)
    return same & ~eye, ~same


def _triplet_mask(
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


def _mine(
    dist: torch.Tensor, labels: torch.Tensor, strategy: str, margin: float
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """The miners on a ``(B, B)`` distance matrix and ``(B,)`` labels."""
    if strategy != "hard":
        a, p, n = _triplet_mask(dist, labels, strategy, margin).nonzero(as_tuple=True)
        return a, p, n
    is_positive, is_negative = _valid_masks(labels)
    dist = dist.detach()
    hardest_p = dist.masked_fill(~is_positive, float("-inf")).argmax(dim=1)  # (B,)
    hardest_n = dist.masked_fill(~is_negative, float("inf")).argmin(dim=1)  # (B,)
    has_both = is_positive.any(dim=1) & is_negative.any(dim=1)  # (B,)
    a = torch.arange(len(labels), device=labels.device)[has_both]
    return a, hardest_p[has_both], hardest_n[has_both]


def mined_triplet_loss(
    embeddings: torch.Tensor,
    labels: torch.Tensor,
    *,
    strategy: str = "all",
    margin: float = 0.2,
    squared: bool = False,
) -> torch.Tensor:
    """Mine the batch with ``strategy``, then average the triplet loss over those triplets.

    ``loss_fn(embeddings, labels)`` for :func:`companion.train.fit`. The distances come
    from one :func:`pairwise_distances` matrix of the batch, so the loss of each triplet
    equals ``triplet_margin_loss(e[a], e[p], e[n])`` up to rounding, at a fraction of the
    cost ("all" and "semihard" score every ``(a, p, n)`` of the batch at once, a
    ``(B, B, B)`` tensor: meant for batches of up to a few hundred rows). When the batch
    holds no triplet (a single class, say) the loss is 0 and still differentiable (zero
    gradient).

    Args:
        embeddings: ``(B, D)``; labels: ``(B,)``; the rest as in :func:`mine_triplets`.

    Returns:
        A scalar tensor.
    """
    _check_matrix("embeddings", embeddings)
    labels = _check_labels(labels, embeddings.shape[0])
    _check_margin(margin)
    if strategy not in STRATEGIES:
        raise ValueError(f"strategy must be one of {STRATEGIES}, got {strategy!r}")
    dist = pairwise_distances(embeddings, squared=squared)  # (B, B), differentiable
    labels = labels.to(embeddings.device)
    if strategy == "hard":
        with torch.no_grad():
            a, p, n = _mine(dist, labels, strategy, margin)
        losses = F.relu(dist[a, p] - dist[a, n] + margin)  # (T,)
        return losses.sum() / max(len(losses), 1)  # 0 with a zero gradient when T = 0
    # "all" and "semihard": every triplet of the batch at once, masked (no index lists).
    with torch.no_grad():
        mask = _triplet_mask(dist, labels, strategy, margin)  # (B, B, B)
    losses = F.relu(dist[:, :, None] - dist[:, None, :] + margin)  # (B, B, B): a, p, n
    return (losses * mask).sum() / mask.sum().clamp_min(1)


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


# --- retrieval ---------------------------------------------------------------------------


@torch.no_grad()
def nearest_neighbors(
    queries: torch.Tensor, gallery: torch.Tensor, *, k: int = 1
) -> tuple[torch.Tensor, torch.Tensor]:
    """The ``k`` gallery rows closest to each query (Euclidean), nearest first.

    Args:
        queries: ``(Q, D)``; gallery: ``(G, D)``; k: ``1 <= k <= G``.

    Returns:
        ``(distances, indices)``, both ``(Q, k)``.

    Raises:
        ValueError: for inputs that are not 2-D, differing widths, or ``k`` out of range.
    """
    _check_matrix("queries", queries)
    _check_matrix("gallery", gallery)
    if queries.shape[1] != gallery.shape[1]:
        raise ValueError(
            "queries and gallery must have the same number of columns, "
            f"got {queries.shape[1]} and {gallery.shape[1]}"
        )
    if isinstance(k, bool) or not isinstance(k, int) or not 1 <= k <= gallery.shape[0]:
        raise ValueError(f"k must be an int in [1, {gallery.shape[0]}] (gallery size), got {k!r}")
    dist = pairwise_distances(queries, gallery)  # (Q, G)
    distances, indices = dist.topk(k, dim=1, largest=False)  # (Q, k), (Q, k)
    return distances, indices


@torch.no_grad()
def nearest_neighbor_accuracy(
    queries: torch.Tensor,
    query_labels: torch.Tensor,
    gallery: torch.Tensor,
    gallery_labels: torch.Tensor,
) -> float:
    """1-NN classification: the share of queries whose nearest gallery row has their label.

    Args:
        queries: ``(Q, D)``; query_labels: ``(Q,)``; gallery: ``(G, D)``;
        gallery_labels: ``(G,)``.

    Returns:
        A float in [0, 1].
    """
    _check_matrix("queries", queries)
    _check_matrix("gallery", gallery)
    query_labels = _check_labels(query_labels, queries.shape[0])
    gallery_labels = _check_labels(gallery_labels, gallery.shape[0])
    _, idx = nearest_neighbors(queries, gallery, k=1)  # (Q, 1)
    predicted = gallery_labels.to(idx.device)[idx[:, 0]]  # (Q,)
    return (predicted == query_labels.to(idx.device)).float().mean().item()


@torch.no_grad()
def recall_at_k(embeddings: torch.Tensor, labels: torch.Tensor, k: int = 1) -> float:
    """Recall@k of retrieval within one set: each row in turn is the query, all the other
    rows are the gallery; a query counts as a hit when one of its ``k`` nearest neighbours
    (itself excluded) has its label.

    ``recall@k = (1/N) Σ_i 1[∃ j ∈ kNN(i), j ≠ i: labels[j] = labels[i]]``

    Args:
        embeddings: ``(N, D)``; labels: ``(N,)``; k: ``1 <= k <= N − 1``.

    Returns:
        A float in [0, 1].

    Raises:
        ValueError: if ``embeddings`` is not 2-D, labels do not match, or ``k`` is out of
            range.
    """
    _check_matrix("embeddings", embeddings)
    n = embeddings.shape[0]
    labels = _check_labels(labels, n).to(embeddings.device)
    if isinstance(k, bool) or not isinstance(k, int) or not 1 <= k <= n - 1:
        raise ValueError(f"k must be an int in [1, {n - 1}] (N - 1), got {k!r}")
    dist = pairwise_distances(embeddings)  # (N, N)
    dist.fill_diagonal_(float("inf"))  # a query never retrieves itself
    idx = dist.topk(k, dim=1, largest=False).indices  # (N, k)
    hits = (labels[idx] == labels[:, None]).any(dim=1)  # (N,)
    return hits.float().mean().item()
