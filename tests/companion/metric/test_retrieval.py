"""companion.metric.retrieval: Recall@k, nearest neighbours and embedding spread against loops."""

from __future__ import annotations

import pytest
import torch

from companion.metric.retrieval import (
    embedding_spread,
    nearest_neighbor_accuracy,
    nearest_neighbors,
    recall_at_k,
)

DTYPES = [torch.float32, torch.float64]


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


# --- naive references --------------------------------------------------------------------


def naive_distance(u: torch.Tensor, v: torch.Tensor, squared: bool) -> float:
    u, v = u.detach(), v.detach()
    s = sum((a - b) ** 2 for a, b in zip(u.tolist(), v.tolist(), strict=True))
    return s if squared else s**0.5


# --- retrieval ---------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("k", [1, 3])
def test_recall_at_k_matches_loop(dtype, k):
    x, y = make_batch(15, 4, 3, dtype, seed=13)
    n = len(y)
    hits = 0
    for i in range(n):
        others = sorted((naive_distance(x[i], x[j], False), j) for j in range(n) if j != i)
        hits += any(y[j] == y[i] for _, j in others[:k])
    assert recall_at_k(x, y, k) == pytest.approx(hits / n)


def test_recall_at_k_perfect_clusters():
    x = torch.tensor([[0.0], [0.1], [5.0], [5.1]])
    assert recall_at_k(x, torch.tensor([0, 0, 1, 1]), 1) == 1.0
    assert recall_at_k(x, torch.tensor([0, 1, 0, 1]), 1) == 0.0


@pytest.mark.parametrize("dtype", DTYPES)
def test_nearest_neighbors_and_accuracy(dtype):
    gallery = torch.tensor([[0.0, 0.0], [3.0, 0.0], [0.0, 4.0]], dtype=dtype)
    queries = torch.tensor([[0.1, 3.0], [2.0, 0.0]], dtype=dtype)
    dist, idx = nearest_neighbors(queries, gallery, k=2)
    assert idx.tolist() == [[2, 0], [1, 0]]
    torch.testing.assert_close(dist[1], torch.tensor([1.0, 2.0], dtype=dtype), **tol(dtype))
    acc = nearest_neighbor_accuracy(queries, torch.tensor([7, 8]), gallery, torch.tensor([9, 8, 7]))
    assert acc == 1.0


def test_retrieval_errors():
    x, y = torch.zeros(4, 2), torch.tensor([0, 0, 1, 1])
    with pytest.raises(ValueError, match=r"k must be an int in \[1, 3\], got 4"):
        recall_at_k(x, y, 4)
    with pytest.raises(ValueError, match=r"labels must have shape \(4,\)"):
        recall_at_k(x, y[:2], 1)
    with pytest.raises(ValueError, match=r"embeddings must be 2-D"):
        recall_at_k(torch.zeros(4), y, 1)
    with pytest.raises(ValueError, match=r"k must be an int in \[1, 4\], got 0"):
        nearest_neighbors(x, x, k=0)
    with pytest.raises(ValueError, match=r"queries must be 2-D"):
        nearest_neighbors(torch.zeros(2), x)
    with pytest.raises(ValueError, match="queries and gallery must have the same number of col"):
        nearest_neighbors(torch.zeros(2, 3), x)
    with pytest.raises(ValueError, match=r"labels must have shape \(4,\)"):
        nearest_neighbor_accuracy(x, y, x, y[:3])


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("relative", [False, True])
def test_embedding_spread_matches_loop(dtype, relative):
    emb = torch.randn(7, 3, generator=torch.Generator().manual_seed(0), dtype=dtype)
    rows = emb.tolist()
    mean = [sum(r[j] for r in rows) / len(rows) for j in range(3)]
    expected = max(sum((r[j] - mean[j]) ** 2 for j in range(3)) ** 0.5 for r in rows)
    if relative:
        expected /= sum(sum(v * v for v in r) ** 0.5 for r in rows) / len(rows)
    tol = 1e-5 if dtype == torch.float32 else 1e-12
    assert embedding_spread(emb, relative=relative) == pytest.approx(expected, rel=tol)


def test_embedding_spread_of_a_collapse_is_zero_and_scale_free_when_relative():
    point = torch.ones(5, 4)
    assert embedding_spread(point) == 0.0
    emb = torch.randn(6, 4, generator=torch.Generator().manual_seed(1))
    assert embedding_spread(10 * emb) == pytest.approx(10 * embedding_spread(emb), rel=1e-5)
    assert embedding_spread(10 * emb, relative=True) == pytest.approx(
        embedding_spread(emb, relative=True), rel=1e-5
    )


def test_embedding_spread_rejects_empty_rows():
    with pytest.raises(ValueError, match=r"embeddings.shape\[0\] must be an int >= 1, got 0"):
        embedding_spread(torch.zeros(0, 3))


def test_embedding_spread_rejects_a_non_bool_relative():
    with pytest.raises(TypeError, match="relative must be a bool, got int"):
        embedding_spread(torch.zeros(2, 3), relative=1)


def test_embedding_spread_rejects_a_vector():
    with pytest.raises(ValueError, match="embeddings must be 2-D"):
        embedding_spread(torch.zeros(3))
