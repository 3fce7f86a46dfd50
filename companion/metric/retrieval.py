"""Retrieval: nearest neighbours in embedding space, and how often they share the label."""

from __future__ import annotations

import torch

from companion.checks import check_bool, check_int, check_labels, check_matrix
from companion.metric.distances import pairwise_distances

__all__ = [
    "embedding_spread",
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
    check_matrix("queries", queries)
    check_matrix("gallery", gallery)
    if queries.shape[1] != gallery.shape[1]:
        raise ValueError(
            "queries and gallery must have the same number of columns, "
            f"got {queries.shape[1]} and {gallery.shape[1]}"
        )
    check_int("k", k, low=1, high=gallery.shape[0])  # at most the gallery size
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
    check_matrix("queries", queries)
    check_matrix("gallery", gallery)
    query_labels = check_labels("query_labels", query_labels, queries.shape[0])
    gallery_labels = check_labels("gallery_labels", gallery_labels, gallery.shape[0])
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
    check_matrix("embeddings", embeddings)
    n = embeddings.shape[0]
    labels = check_labels("labels", labels, n).to(embeddings.device)
    check_int("k", k, low=1, high=n - 1)  # each query's gallery is the other N - 1
    dist = pairwise_distances(embeddings)  # (N, N)
    dist.fill_diagonal_(float("inf"))  # a query never retrieves itself
    idx = dist.topk(k, dim=1, largest=False).indices  # (N, k)
    hits = (labels[idx] == labels[:, None]).any(dim=1)  # (N,)
    return hits.float().mean().item()
