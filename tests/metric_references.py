"""Shared by the metric tests (tests/companion/metric/): tolerances by dtype, random
batches, and naive references written straight from the definitions."""

from __future__ import annotations

import itertools

import torch

__all__ = ["make_batch", "naive_distance", "naive_map_at_r", "naive_triplets", "tol"]


def tol(dtype: torch.dtype) -> dict[str, float]:
    return (
        {"rtol": 1e-5, "atol": 1e-5} if dtype == torch.float32 else {"rtol": 1e-10, "atol": 1e-10}
    )


def make_batch(
    n: int, d: int, classes: int, dtype: torch.dtype, seed: int = 0
) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, d, generator=g, dtype=dtype)
    y = torch.randint(0, classes, (n,), generator=g)
    return x, y


def naive_distance(u: torch.Tensor, v: torch.Tensor, squared: bool) -> float:
    u, v = u.detach(), v.detach()
    s = sum((a - b) ** 2 for a, b in zip(u.tolist(), v.tolist(), strict=True))
    return s if squared else s**0.5


def naive_triplets(x, y, strategy, margin, squared):
    """Per-triplet loops, straight from the definitions."""
    n = len(y)
    d = [[naive_distance(x[i], x[j], squared) for j in range(n)] for i in range(n)]
    out = []
    for a in range(n):
        positives = [p for p in range(n) if p != a and y[p] == y[a]]
        negatives = [k for k in range(n) if y[k] != y[a]]
        if strategy == "hard":
            if positives and negatives:
                p = max(positives, key=lambda j: d[a][j])
                k = min(negatives, key=lambda j: d[a][j])
                out.append((a, p, k))
            continue
        for p, k in itertools.product(positives, negatives):
            if strategy == "all" or d[a][p] < d[a][k] < d[a][p] + margin:
                out.append((a, p, k))
    return out, d


def naive_map_at_r(query, query_labels, reference=None, reference_labels=None) -> float | None:
    """MAP@R by loops (Musgrave et al. 2020, §3.2): each query ranks its candidates by
    distance, ties by index (leave-one-out without a reference, its own row left out),
    ``R`` = candidates of its label, ``AP@R = (1/R) Σ_{i<=R} P(i) rel(i)``; queries with
    ``R = 0`` left out, ``None`` when all are."""
    rows = query if reference is None else reference
    labels = query_labels if reference is None else reference_labels
    aps = []
    for i in range(len(query)):
        candidates = [j for j in range(len(rows)) if reference is not None or j != i]
        ranked = sorted((naive_distance(query[i], rows[j], False), j) for j in candidates)
        rel = [int(labels[j]) == int(query_labels[i]) for _, j in ranked]
        r = sum(rel)
        if r == 0:
            continue
        hits, total = 0, 0.0
        for position, relevant in enumerate(rel[:r], start=1):
            hits += relevant
            total += hits / position if relevant else 0.0
        aps.append(total / r)
    return sum(aps) / len(aps) if aps else None
