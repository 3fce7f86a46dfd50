"""Shared by the metric tests (tests/companion/metric/): tolerances by dtype, random
batches, and naive references written straight from the definitions."""

from __future__ import annotations

import itertools

import torch

__all__ = ["make_batch", "naive_distance", "naive_triplets", "tol"]


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
