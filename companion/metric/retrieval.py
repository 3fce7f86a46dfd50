"""Retrieval: nearest neighbours in embedding space, and how often they share the label.

Every metric has one signature, pytorch-metric-learning's (``AccuracyCalculator``)::

    metric(query, query_labels, reference=None, reference_labels=None, *, k=...)

With a ``reference`` (a gallery), each query row ranks the reference rows by Euclidean
distance. Without one, retrieval is *leave-one-out* within the query set: each row in turn
is the query and all the other rows are its reference (its own row excluded).
:func:`nearest_neighbors` ranks the same way, without labels.

Ties: among rows at the same distance, the one with the lower index comes first (a
stable sort), so every result is the same on any device. :func:`mean_average_precision`
instead retrieves tied rows together, as scikit-learn does.
"""

from __future__ import annotations

import torch

from companion.checks import (
    check_bool,
    check_given_together,
    check_int,
    check_labels,
    check_matrix,
    check_same_dtype,
    check_shape,
)
from companion.metric.distances import pairwise_distances

__all__ = [
    "embedding_spread",
    "mean_average_precision",
    "nearest_neighbor_accuracy",
    "nearest_neighbors",
    "recall_at_k",
]


@torch.no_grad()
def embedding_spread(embeddings: torch.Tensor, *, relative: bool = False) -> float:
    """How far the embeddings lie from their mean, the sign of a collapse when it is small.

    ``spread = max_i ‖e_i − ē‖``, with ``ē = (1/N) Σ_i e_i``; with ``relative=True``,
    divided by the mean length ``(1/N) Σ_i ‖e_i‖``, so that embeddings without a fixed
    scale (not normalised) can be compared with those on the unit sphere, where the mean
    length is 1 and a healthy spread is of order 1.

    Args:
        embeddings: ``(N, D)``, ``N >= 1``.
        relative: divide by the mean length.

    Returns:
        A float ``>= 0``.

    Raises:
        TypeError: if ``embeddings`` is not a floating-point tensor, or ``relative`` not a
            bool.
        ValueError: if ``embeddings`` is not 2-D or has no row.
    """
    check_matrix("embeddings", embeddings)
    check_bool("relative", relative)
    check_int("embeddings.shape[0]", embeddings.shape[0], low=1)  # one row at least
    spread = (embeddings - embeddings.mean(dim=0)).norm(dim=1).max()  # (N, D) -> ()
    if relative:
        spread = spread / embeddings.norm(dim=1).mean()
    return spread.item()


def _candidates(query: object, reference: object) -> int:
    """Check ``query (Q, D)`` and ``reference (R, D)`` (or ``None``); return how many rows
    each query ranks: ``R``, or ``Q − 1`` leave-one-out."""
    check_matrix("query", query, "(Q, D)")
    if reference is None:
        return check_int("query.shape[0]", query.shape[0], low=2) - 1  # one other row at least
    check_matrix("reference", reference, "(R, D)")
    check_same_dtype("reference", reference, "query", query)
    check_shape("reference", reference, (reference.shape[0], query.shape[1]), "(R, D of query)")
    return check_int("reference.shape[0]", reference.shape[0], low=1)


def _labels(
    query: torch.Tensor,
    query_labels: object,
    reference: torch.Tensor | None,
    reference_labels: object,
) -> tuple[torch.Tensor, torch.Tensor]:
    """The checked ``(query_labels (Q,), reference_labels (R,))`` on the query's device;
    leave-one-out, the reference labels are the query labels."""
    query_labels = check_labels("query_labels", query_labels, query.shape[0]).to(query.device)
    if reference is None:
        return query_labels, query_labels
    reference_labels = check_labels("reference_labels", reference_labels, reference.shape[0])
    return query_labels, reference_labels.to(query.device)


def _check(
    query: object, query_labels: object, reference: object, reference_labels: object
) -> tuple[int, torch.Tensor, torch.Tensor]:
    """Every check of a metric's four arguments; returns the number of candidates per query
    and the two label vectors (:func:`_candidates`, :func:`_labels`)."""
    n = _candidates(query, reference)  # first: recall_at_k(x, y, 1) names the reference
    check_given_together("reference", reference, "reference_labels", reference_labels)
    return (n, *_labels(query, query_labels, reference, reference_labels))


def _distances(query: torch.Tensor, reference: torch.Tensor | None) -> torch.Tensor:
    """``(Q, R)`` distances; leave-one-out ``(Q, Q)`` with an infinite diagonal."""
    if reference is not None:
        return pairwise_distances(query, reference.to(query.device))
    return pairwise_distances(query).fill_diagonal_(float("inf"))  # never retrieves itself


#: Distances computed at once, at most (query rows x candidate rows), for k-nearest search:
#: a block of query rows at a time instead of one ``(Q, R)`` matrix, whose temporaries
#: (1.6 GB for 10,000 x 10,000, five times over) cost more than the product itself.
BLOCK_ENTRIES = 1 << 22


def _nearest(
    query: torch.Tensor,
    reference: torch.Tensor | None,
    k: int,
    rows: torch.Tensor | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """``_k_nearest(_distances(query, reference)[rows], k)``, a block of query rows at a
    time (:data:`BLOCK_ENTRIES`): each row's ranking needs only its own distances.
    ``rows``: indices of the query rows to rank (default: all); leave-one-out, each row
    still leaves out its own index in ``query``."""
    candidates = query if reference is None else reference.to(query.device)  # (N, D)
    if rows is None:
        rows = torch.arange(query.shape[0], device=query.device)
    step = max(1, BLOCK_ENTRIES // candidates.shape[0])
    values, indices = [], []
    for start in range(0, rows.numel(), step):
        block = rows[start : start + step]  # (b,)
        dist = pairwise_distances(query[block], candidates)  # (b, N)
        if reference is None:  # never retrieves itself
            dist[torch.arange(block.numel(), device=dist.device), block] = float("inf")
        v, i = _k_nearest(dist, k)  # (b, k) each
        values.append(v)
        indices.append(i)
    return torch.cat(values), torch.cat(indices)


def _k_nearest(dist: torch.Tensor, k: int) -> tuple[torch.Tensor, torch.Tensor]:
    """The ``k`` smallest entries of each row, nearest first, ties to the lower index:
    ``torch.sort(dist, stable=True)[:, :k]`` at the cost of ``topk``."""
    values, idx = dist.topk(k, dim=1, largest=False)  # (Q, k): ties in any order
    tied = (dist <= values[:, -1:]).sum(dim=1) > k  # (Q,): a tie across the k-th place
    if bool(tied.any()):  # rare: sort those rows in full
        rows = dist[tied]
        order = torch.sort(rows, dim=1, stable=True).indices[:, :k]
        values[tied], idx[tied] = rows.gather(1, order), order
    idx, by_index = idx.sort(dim=1)  # ties inside the k: lower index first
    values, by_value = values.gather(1, by_index).sort(dim=1, stable=True)
    return values, idx.gather(1, by_value)


@torch.no_grad()
def nearest_neighbors(
    query: torch.Tensor, reference: torch.Tensor | None = None, *, k: int = 1
) -> tuple[torch.Tensor, torch.Tensor]:
    """The ``k`` reference rows closest to each query row (Euclidean), nearest first.

    Without a ``reference``, leave-one-out: the other rows of ``query``, each row's own
    left out. Tied rows come in index order.

    Args:
        query: ``(Q, D)``.
        reference: ``(R, D)`` in the dtype of ``query``, or ``None`` (then ``Q >= 2``).
        k: ``1 <= k <= R`` (``Q − 1`` leave-one-out).

    Returns:
        ``(distances, indices)``, both ``(Q, k)``; ``indices`` into ``reference`` (into
        ``query`` leave-one-out).

    Raises:
        TypeError: for a non-floating ``query`` or ``reference``, differing dtypes, or a
            non-int ``k``.
        ValueError: for inputs that are not 2-D, differing widths, or ``k`` out of range.
    """
    n = _candidates(query, reference)
    check_int("k", k, low=1, high=n)
    return _nearest(query, reference, k)


@torch.no_grad()
def nearest_neighbor_accuracy(
    query: torch.Tensor,
    query_labels: torch.Tensor,
    reference: torch.Tensor | None = None,
    reference_labels: torch.Tensor | None = None,
    *,
    k: int = 1,
) -> float:
    """k-NN classification: the share of queries whose ``k`` nearest reference rows vote
    for their label (with ``k = 1``: whose nearest row has their label).

    The vote is the most common label among the ``k`` neighbours; a tie between labels goes
    to the one whose first neighbour is nearer.

    Args:
        query: ``(Q, D)``; query_labels: ``(Q,)``.
        reference: ``(R, D)``, or ``None`` for leave-one-out within ``query``.
        reference_labels: ``(R,)``; given exactly when ``reference`` is.
        k: ``1 <= k <= R`` (``Q − 1`` leave-one-out).

    Returns:
        A float in [0, 1].

    Raises:
        TypeError: as :func:`nearest_neighbors`, and for non-tensor labels.
        ValueError: as :func:`nearest_neighbors`, for label counts that do not match, and
            for a reference given without its labels (or labels without a reference).
    """
    n, query_labels, reference_labels = _check(query, query_labels, reference, reference_labels)
    check_int("k", k, low=1, high=n)
    _, idx = _nearest(query, reference, k)  # (Q, k)
    votes = reference_labels[idx]  # (Q, k), nearest first
    counts = (votes[:, :, None] == votes[:, None, :]).sum(dim=2)  # (Q, k): votes for each
    rank = torch.arange(k, device=idx.device)
    winner = (counts * k - rank).argmax(dim=1)  # most votes, then the nearer neighbour
    predicted = votes.gather(1, winner[:, None]).squeeze(1)  # (Q,)
    return int((predicted == query_labels).sum()) / query.shape[0]


@torch.no_grad()
def recall_at_k(
    query: torch.Tensor,
    query_labels: torch.Tensor,
    reference: torch.Tensor | None = None,
    reference_labels: torch.Tensor | None = None,
    *,
    k: int = 1,
) -> float:
    """Recall@k: the share of queries with at least one of their ``k`` nearest reference
    rows of their label.

    ``recall@k = (1/Q) Σ_i 1[∃ j ∈ kNN(i): reference_labels[j] = query_labels[i]]``;
    leave-one-out (no reference), ``kNN(i)`` never holds ``i``.

    Args:
        query: ``(Q, D)``; query_labels: ``(Q,)``.
        reference: ``(R, D)``, or ``None`` for leave-one-out within ``query``.
        reference_labels: ``(R,)``; given exactly when ``reference`` is.
        k: ``1 <= k <= R`` (``Q − 1`` leave-one-out), keyword only.

    Returns:
        A float in [0, 1].

    Raises:
        TypeError: as :func:`nearest_neighbor_accuracy`.
        ValueError: as :func:`nearest_neighbor_accuracy`.
    """
    n, query_labels, reference_labels = _check(query, query_labels, reference, reference_labels)
    check_int("k", k, low=1, high=n)
    _, idx = _nearest(query, reference, k)  # (Q, k)
    hits = (reference_labels[idx] == query_labels[:, None]).any(dim=1)  # (Q,)
    return int(hits.sum()) / query.shape[0]


def _average_precision(distances: torch.Tensor, relevant: torch.Tensor) -> torch.Tensor:
    """Average precision of each row's ranking, ties grouped: ``(Q, G), (Q, G) -> (Q,)``.

    ``AP = (1/R) Σ_g r_g · precision(g)``: for each group ``g`` of tied distances, ``r_g``
    relevant items in it, and the precision once the whole group is retrieved. Rows with no
    relevant item give NaN.
    """
    order = torch.argsort(distances, dim=1, stable=True)  # (Q, G)
    d = torch.gather(distances, 1, order)
    rel = torch.gather(relevant, 1, order).long()
    g = d.shape[1]
    position = torch.arange(g, device=d.device).expand_as(d)  # (Q, G)
    ends_run = torch.ones_like(rel, dtype=torch.bool)
    ends_run[:, :-1] = d[:, 1:] != d[:, :-1]  # the last item of a group of ties
    # index of the end of each item's group: the next run end at or after it
    end = torch.where(ends_run, position, torch.full_like(position, g))
    end = end.flip(1).cummin(dim=1).values.flip(1)  # (Q, G)
    hits_by_end = torch.gather(torch.cumsum(rel, dim=1), 1, end)  # relevant up to the group end
    precision = hits_by_end.to(d.dtype) / (end + 1).to(d.dtype)  # (Q, G)
    n_relevant = rel.sum(dim=1).to(d.dtype)  # (Q,)
    return (rel.to(d.dtype) * precision).sum(dim=1) / n_relevant


@torch.no_grad()
def mean_average_precision(
    query: torch.Tensor,
    query_labels: torch.Tensor,
    reference: torch.Tensor | None = None,
    reference_labels: torch.Tensor | None = None,
) -> float:
    """Retrieval mAP: each query ranks the reference rows by Euclidean distance; those with
    its label are the relevant ones.

    For a query with ``R`` relevant rows, ranked at positions ``k_1 < ... < k_R``,
    ``AP = (1/R) Σ_r precision@k_r`` with ``precision@k`` the share of relevant rows among
    the first ``k``; rows at tied distances are retrieved together (scikit-learn's
    ``average_precision_score(relevant, -distances)``, which this matches). The mAP is
    the mean AP over the queries that have at least one relevant row; the others are left
    out, as they have no AP. The whole ranking counts: there is no ``k``.

    Args:
        query: ``(Q, D)``; query_labels: ``(Q,)``.
        reference: ``(R, D)``, or ``None`` for leave-one-out within ``query``.
        reference_labels: ``(R,)``; given exactly when ``reference`` is.

    Returns:
        A float in ``[0, 1]``.

    Raises:
        TypeError: as :func:`nearest_neighbor_accuracy`.
        ValueError: as :func:`nearest_neighbor_accuracy`, and when no query has a relevant
            reference row.
    """
    _, query_labels, reference_labels = _check(query, query_labels, reference, reference_labels)
    distances = _distances(query, reference)  # (Q, R)
    relevant = query_labels[:, None] == reference_labels[None, :]  # (Q, R)
    if reference is None:  # drop each query's own row: (Q, Q - 1)
        n = query.shape[0]
        others = ~torch.eye(n, dtype=torch.bool, device=query.device)
        distances, relevant = distances[others].view(n, n - 1), relevant[others].view(n, n - 1)
    has_relevant = relevant.any(dim=1)  # (Q,)
    if not bool(has_relevant.any()):
        raise ValueError(
            "query_labels must share a label with the reference for at least one query, got none"
        )
    ap = _average_precision(distances[has_relevant], relevant[has_relevant])  # (Q',)
    return ap.mean().item()
