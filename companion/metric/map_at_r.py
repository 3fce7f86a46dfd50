"""MAP@R, the retrieval score of Musgrave et al. (2020, "A Metric Learning Reality Check", §3.2).

Each query retrieves as many reference rows as there are of its class, ``R``, and scores
the order they come in::

    AP@R  = (1/R) Σ_{i=1..R} P(i) · rel(i),      P(i) = (1/i) Σ_{j=1..i} rel(j)
    MAP@R = mean of AP@R over the queries

with ``rel(i) = 1`` when the ``i``-th nearest reference row has the query's label. Unlike
Recall@k it rewards a query whose whole class comes first, and unlike the full mAP
(:func:`~companion.metric.retrieval.mean_average_precision`) it looks no further than ``R``.

The signature, the leave-one-out mode (no ``reference``: each row against the others, so
``R`` does not count the query itself) and the neighbour order are those of
:func:`~companion.metric.retrieval.recall_at_k`: rows at the same distance come in index
order (a stable sort), not grouped.

A query with ``R = 0`` (its label nowhere in the reference) has no AP@R: it is left out of
the mean, as pytorch-metric-learning's ``AccuracyCalculator`` leaves out its "lone"
queries and :func:`~companion.metric.retrieval.mean_average_precision` those without a
relevant row; when every query has
``R = 0`` there is nothing to average, and :func:`map_at_r` raises a ``ValueError``.
"""

from __future__ import annotations

import torch

from companion.metric.retrieval import _check, _nearest

__all__ = ["map_at_r"]


def _relevant_counts(
    query_labels: torch.Tensor, reference_labels: torch.Tensor, *, leave_one_out: bool
) -> torch.Tensor:
    """``R`` of each query, the reference rows with its label: ``(Q,), (R,) -> (Q,)``.

    ``R_i = Σ_j 1[reference_labels[j] = query_labels[i]]``, less 1 (the query's own row)
    with ``leave_one_out``, where ``reference_labels`` are ``query_labels``.

    Args:
        query_labels: ``(Q,)``.
        reference_labels: ``(R,)``, on the device of ``query_labels``.
        leave_one_out: the reference is the query set itself, each row's own left out.

    Returns:
        ``(Q,)`` int64 counts on the device of ``query_labels``.
    """
    counts = (query_labels[:, None] == reference_labels[None, :]).sum(dim=1)  # (Q,)
    return counts - 1 if leave_one_out else counts


@torch.no_grad()
def map_at_r(
    query: torch.Tensor,
    query_labels: torch.Tensor,
    reference: torch.Tensor | None = None,
    reference_labels: torch.Tensor | None = None,
) -> float:
    """MAP@R: the mean over queries of ``AP@R = (1/R) Σ_{i=1..R} P(i) · rel(i)``.

    ``R`` is the number of reference rows with the query's label (the other rows of that
    label, leave-one-out); ``rel(i)`` says whether the ``i``-th nearest reference row (by
    Euclidean distance, ties in index order as :func:`~companion.metric.retrieval.recall_at_k`)
    has the query's label, and ``P(i)`` is the share of such rows among the first ``i``.
    Queries with ``R = 0`` are left out of the mean. Where every query has ``R = 1``,
    MAP@R is Recall@1.

    Args:
        query: ``(Q, D)``; query_labels: ``(Q,)``.
        reference: ``(R, D)``, or ``None`` for leave-one-out within ``query``.
        reference_labels: ``(R,)``; given exactly when ``reference`` is.

    Returns:
        A float in ``[0, 1]``.

    Raises:
        TypeError: as :func:`~companion.metric.retrieval.nearest_neighbor_accuracy`.
        ValueError: as :func:`~companion.metric.retrieval.nearest_neighbor_accuracy`, and
            when no query has a reference row of its label (``R = 0`` for all).
    """
    _, query_labels, reference_labels = _check(query, query_labels, reference, reference_labels)
    r = _relevant_counts(query_labels, reference_labels, leave_one_out=reference is None)  # (Q,)
    kept = r > 0
    if not bool(kept.any()):
        raise ValueError(
            "query_labels must share a label with the reference for at least one query "
            "(R >= 1), got R = 0 for every query"
        )
    r, labels = r[kept], query_labels[kept]  # (Q',)
    k = int(r.max())  # <= the candidates of every query
    rows = kept.nonzero().squeeze(1)  # (Q',): own rows left out, leave-one-out
    _, idx = _nearest(query, reference, k, rows)  # (Q', k), nearest first, ties by index
    rank = torch.arange(1, k + 1, device=idx.device)  # (k,): i = 1..k
    within_r = rank[None, :] <= r[:, None]  # (Q', k): i <= R of the query
    rel = (reference_labels[idx] == labels[:, None]) & within_r  # (Q', k)
    dtype = query.dtype
    precision = rel.cumsum(dim=1).to(dtype) / rank.to(dtype)  # (Q', k): P(i)
    ap = (precision * rel.to(dtype)).sum(dim=1) / r.to(dtype)  # (Q',)
    return ap.mean().item()
