"""companion.metric.retrieval: nearest neighbours, k-NN accuracy, Recall@k and mAP, each in
both modes (leave-one-out and against a reference), against loops over the definitions and
scikit-learn's ``average_precision_score``; and embedding spread."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest
import torch
from metric_references import make_batch, naive_distance, tol
from sklearn.metrics import average_precision_score

from companion.metric.distances import pairwise_distances
from companion.metric.retrieval import (
    embedding_spread,
    mean_average_precision,
    nearest_neighbor_accuracy,
    nearest_neighbors,
    recall_at_k,
)

DTYPES = [torch.float32, torch.float64]
MODES = ["leave_one_out", "reference"]
METRICS = [recall_at_k, nearest_neighbor_accuracy, mean_average_precision]


def _tol(dtype: torch.dtype) -> float:
    return 1e-6 if dtype == torch.float32 else 1e-12


def make_embeddings(
    n: int, d: int, classes: int, dtype: torch.dtype, seed: int, *, grid: bool = False
) -> tuple[torch.Tensor, torch.Tensor]:
    """Embeddings and labels; on a small integer ``grid`` many distances tie exactly."""
    g = torch.Generator().manual_seed(seed)
    labels = torch.randint(0, classes, (n,), generator=g)
    if grid:
        x = torch.randint(0, 3, (n, d), generator=g).to(dtype)
    else:
        x = torch.randn(n, d, generator=g, dtype=dtype) + labels[:, None].to(dtype) * 0.5
    return x, labels


def make_case(
    mode: str, dtype: torch.dtype, grid: bool, seed: int
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None, torch.Tensor | None]:
    """``(query, query_labels, reference, reference_labels)``: 14 queries, and either no
    reference (leave-one-out) or 11 reference rows."""
    query, query_labels = make_embeddings(14, 3, 3, dtype, seed=seed, grid=grid)
    if mode == "leave_one_out":
        return query, query_labels, None, None
    reference, reference_labels = make_embeddings(11, 3, 3, dtype, seed=seed + 50, grid=grid)
    return query, query_labels, reference, reference_labels


# --- naive references --------------------------------------------------------------------


def naive_ranking(
    query: torch.Tensor, i: int, reference: torch.Tensor | None
) -> list[tuple[float, int]]:
    """``(distance, j)`` of every candidate of query row ``i``, nearest first, ties by index;
    leave-one-out (no reference), the other query rows."""
    rows = query if reference is None else reference
    return sorted(
        (naive_distance(query[i], rows[j], False), j)
        for j in range(len(rows))
        if reference is not None or j != i
    )


def naive_vote(labels: list[int]) -> int:
    """The most common label, nearest first in ``labels``; a tie to the nearer label."""
    counts = Counter(labels)
    return next(label for label in labels if counts[label] == max(counts.values()))


def naive_average_precision(d: list[float], relevant: list[bool]) -> float:
    """(1/R) Σ over relevant items i of precision among all items at distance ≤ d_i."""
    hits = [x for x, r in zip(d, relevant, strict=True) if r]
    return sum(sum(1 for h in hits if h <= x) / sum(1 for y in d if y <= x) for x in hits) / len(
        hits
    )


# --- nearest_neighbors -------------------------------------------------------------------


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("grid", [False, True], ids=["continuous", "ties"])
@pytest.mark.parametrize("k", [1, 3, 10])
def test_nearest_neighbors_matches_loop(dtype, mode, grid, k):
    query, _, reference, _ = make_case(mode, dtype, grid, seed=k)
    dist, idx = nearest_neighbors(query, reference, k=k)
    assert dist.shape == idx.shape == (len(query), k)
    assert dist.dtype == dtype
    for i in range(len(query)):
        expected = naive_ranking(query, i, reference)[:k]
        assert idx[i].tolist() == [j for _, j in expected]
        torch.testing.assert_close(
            dist[i], torch.tensor([d for d, _ in expected], dtype=dtype), **tol(dtype)
        )


@pytest.mark.parametrize("dtype", DTYPES)
def test_nearest_neighbors_and_accuracy(dtype):
    gallery = torch.tensor([[0.0, 0.0], [3.0, 0.0], [0.0, 4.0]], dtype=dtype)
    queries = torch.tensor([[0.1, 3.0], [2.0, 0.0]], dtype=dtype)
    dist, idx = nearest_neighbors(queries, gallery, k=2)
    assert idx.tolist() == [[2, 0], [1, 0]]
    torch.testing.assert_close(dist[1], torch.tensor([1.0, 2.0], dtype=dtype), **tol(dtype))
    acc = nearest_neighbor_accuracy(queries, torch.tensor([7, 8]), gallery, torch.tensor([9, 8, 7]))
    assert acc == 1.0


def test_tied_neighbours_come_in_index_order():
    # 40 rows at the same distance 1 from the query: topk alone may pick any of them
    reference = torch.cat([torch.eye(4), -torch.eye(4)]).repeat(5, 1)  # (40, 4)
    for k in (1, 7, 40):
        dist, idx = nearest_neighbors(torch.zeros(1, 4), reference, k=k)
        assert idx[0].tolist() == list(range(k))
        assert dist[0].tolist() == [1.0] * k
    # a nearer row still comes first, then the tied ones by index
    reference[30] = 0.5 * reference[30]
    assert nearest_neighbors(torch.zeros(1, 4), reference, k=3)[1][0].tolist() == [30, 0, 1]


def test_leave_one_out_never_returns_the_query_itself():
    x = torch.tensor([[0.0, 0.0], [0.0, 0.0], [1.0, 0.0], [1.0, 0.0]])  # two duplicate pairs
    dist, idx = nearest_neighbors(x, k=1)
    assert idx[:, 0].tolist() == [1, 0, 3, 2]
    assert dist[:, 0].tolist() == [0.0] * 4
    _, idx = nearest_neighbors(x, k=3)
    assert all(i not in row for i, row in enumerate(idx.tolist()))


# --- recall_at_k -------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("k", [1, 3])
def test_recall_at_k_matches_loop(dtype, k):
    x, y = make_batch(15, 4, 3, dtype, seed=13)
    n = len(y)
    hits = 0
    for i in range(n):
        others = sorted((naive_distance(x[i], x[j], False), j) for j in range(n) if j != i)
        hits += any(y[j] == y[i] for _, j in others[:k])
    assert recall_at_k(x, y, k=k) == pytest.approx(hits / n)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("grid", [False, True], ids=["continuous", "ties"])
@pytest.mark.parametrize("k", [1, 2, 5])
def test_recall_at_k_in_both_modes_matches_loop(dtype, mode, grid, k):
    query, query_labels, reference, reference_labels = make_case(mode, dtype, grid, seed=k)
    labels = query_labels if reference is None else reference_labels
    hits = sum(
        any(labels[j] == query_labels[i] for _, j in naive_ranking(query, i, reference)[:k])
        for i in range(len(query))
    )
    assert recall_at_k(query, query_labels, reference, reference_labels, k=k) == hits / len(query)


def test_recall_at_k_perfect_clusters():
    x = torch.tensor([[0.0], [0.1], [5.0], [5.1]])
    assert recall_at_k(x, torch.tensor([0, 0, 1, 1]), k=1) == 1.0
    assert recall_at_k(x, torch.tensor([0, 1, 0, 1]), k=1) == 0.0


def test_recall_at_k_against_a_reference():
    query = torch.tensor([[0.0], [5.0]])
    reference = torch.tensor([[0.2], [4.0], [5.1]])
    labels = torch.tensor([0, 1])
    assert recall_at_k(query, labels, reference, torch.tensor([1, 0, 0]), k=1) == 0.0
    assert recall_at_k(query, labels, reference, torch.tensor([1, 0, 0]), k=2) == 0.5
    assert recall_at_k(query, labels, reference, torch.tensor([0, 1, 0]), k=2) == 1.0


# --- nearest_neighbor_accuracy -----------------------------------------------------------


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("grid", [False, True], ids=["continuous", "ties"])
@pytest.mark.parametrize("k", [1, 2, 4])
def test_nearest_neighbor_accuracy_matches_loop(dtype, mode, grid, k):
    query, query_labels, reference, reference_labels = make_case(mode, dtype, grid, seed=k)
    labels = query_labels if reference is None else reference_labels
    right = sum(
        naive_vote([int(labels[j]) for _, j in naive_ranking(query, i, reference)[:k]])
        == int(query_labels[i])
        for i in range(len(query))
    )
    got = nearest_neighbor_accuracy(query, query_labels, reference, reference_labels, k=k)
    assert got == right / len(query)


def test_a_tied_vote_goes_to_the_nearer_label():
    reference = torch.tensor([[1.0], [2.0], [3.0], [4.0]])
    reference_labels = torch.tensor([5, 6, 6, 5])  # k=4: two votes each, 5 is nearer
    query = torch.zeros(1, 1)
    assert nearest_neighbor_accuracy(query, torch.tensor([5]), reference, reference_labels, k=4)
    assert not nearest_neighbor_accuracy(query, torch.tensor([6]), reference, reference_labels, k=4)
    # k=3: two votes for 6 beat the nearer single vote for 5
    assert nearest_neighbor_accuracy(query, torch.tensor([6]), reference, reference_labels, k=3)


@pytest.mark.parametrize("mode", MODES)
def test_one_nn_accuracy_is_recall_at_one(mode):
    query, query_labels, reference, reference_labels = make_case(mode, torch.float64, False, 7)
    args = (query, query_labels, reference, reference_labels)
    assert nearest_neighbor_accuracy(*args) == recall_at_k(*args, k=1)


# --- mean_average_precision --------------------------------------------------------------


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("grid", [False, True], ids=["continuous", "ties"])
@pytest.mark.parametrize(("n", "dim", "classes"), [(2, 1, 1), (12, 2, 3), (40, 4, 5)])
def test_leave_one_out_map_matches_sklearn_and_a_loop(dtype, grid, n, dim, classes):
    x, labels = make_embeddings(n, dim, classes, dtype, seed=n + dim, grid=grid)
    dist = pairwise_distances(x)
    sk, loop = [], []
    for i in range(n):
        others = [j for j in range(n) if j != i]
        relevant = [bool(labels[j] == labels[i]) for j in others]
        if not any(relevant):
            continue  # no AP: left out
        di = dist[i, others]
        sk.append(average_precision_score(relevant, -di.numpy()))
        loop.append(naive_average_precision(di.tolist(), relevant))
    got = mean_average_precision(x, labels)
    assert got == pytest.approx(float(np.mean(sk)), abs=_tol(dtype))
    assert got == pytest.approx(float(np.mean(loop)), abs=_tol(dtype))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("grid", [False, True], ids=["continuous", "ties"])
@pytest.mark.parametrize(("q", "g", "classes"), [(1, 3, 2), (10, 25, 4), (30, 7, 3)])
def test_query_reference_map_matches_sklearn_and_a_loop(dtype, grid, q, g, classes):
    query, query_labels = make_embeddings(q, 3, classes, dtype, seed=q, grid=grid)
    reference, reference_labels = make_embeddings(g, 3, classes, dtype, seed=100 + g, grid=grid)
    dist = pairwise_distances(query, reference)
    relevant = [(reference_labels == query_labels[i]).numpy() for i in range(q)]
    sk = [
        average_precision_score(relevant[i], -dist[i].numpy())
        for i in range(q)
        if relevant[i].any()
    ]
    loop = [
        naive_average_precision(dist[i].tolist(), relevant[i].tolist())
        for i in range(q)
        if relevant[i].any()
    ]
    if not sk:
        with pytest.raises(ValueError, match="at least one query"):
            mean_average_precision(query, query_labels, reference, reference_labels)
        return
    got = mean_average_precision(query, query_labels, reference, reference_labels)
    assert got == pytest.approx(float(np.mean(sk)), abs=_tol(dtype))
    assert got == pytest.approx(float(np.mean(loop)), abs=_tol(dtype))


def test_map_of_separated_classes_is_one_and_ties_lower_it():
    x = torch.tensor([[0.0], [0.1], [5.0], [5.1]])
    assert mean_average_precision(x, torch.tensor([0, 0, 1, 1])) == 1.0
    # one relevant and one irrelevant item at the same distance: precision 1/2, not 1
    tied = torch.tensor([[0.0], [1.0], [-1.0]])
    assert mean_average_precision(
        tied[:1], torch.tensor([0]), tied[1:], torch.tensor([0, 1])
    ) == pytest.approx(0.5)


# --- errors: one test per message --------------------------------------------------------

X, Y = torch.zeros(4, 2), torch.tensor([0, 0, 1, 1])
REF, REF_Y = torch.ones(3, 2), torch.tensor([0, 1, 1])


@pytest.mark.parametrize("metric", METRICS)
@pytest.mark.parametrize(
    ("args", "kwargs", "error", "message"),
    [
        ((X, Y, 1), {}, TypeError, "reference must be a torch.Tensor, got int"),
        (([[0.0]], Y), {}, TypeError, "query must be a torch.Tensor, got list"),
        (
            (X.long(), Y),
            {},
            TypeError,
            "query must be a floating-point tensor, got dtype torch.int64",
        ),
        ((torch.zeros(4), Y), {}, ValueError, r"query must be 2-D \(Q, D\), got shape \(4,\)"),
        (
            (torch.zeros(1, 2), Y[:1]),
            {},
            ValueError,
            r"query.shape\[0\] must be an int >= 2, got 1",
        ),
        (
            (X, Y, torch.zeros(3), REF_Y),
            {},
            ValueError,
            r"reference must be 2-D \(R, D\), got shape \(3,\)",
        ),
        (
            (X, Y, REF.double(), REF_Y),
            {},
            TypeError,
            r"reference must have the dtype of query \(torch.float32\), got torch.float64",
        ),
        (
            (X, Y, torch.zeros(3, 5), REF_Y),
            {},
            ValueError,
            r"reference must have shape \(3, 2\) \(R, D of query\), got \(3, 5\)",
        ),
        (
            (X, Y, torch.zeros(0, 2), REF_Y[:0]),
            {},
            ValueError,
            r"reference.shape\[0\] must be an int >= 1, got 0",
        ),
        ((X, Y, REF), {}, ValueError, "reference_labels must be given with reference, got None"),
        (
            (X, Y),
            {"reference_labels": REF_Y},
            ValueError,
            "reference must be given with reference_labels, got None",
        ),
        (
            (X, Y[:2]),
            {},
            ValueError,
            r"query_labels must have shape \(4,\) \(one label per row\), got \(2,\)",
        ),
        ((X, Y.tolist()), {}, TypeError, "query_labels must be a torch.Tensor, got list"),
        (
            (X, Y, REF, REF_Y[:2]),
            {},
            ValueError,
            r"reference_labels must have shape \(3,\) \(one label per row\), got \(2,\)",
        ),
    ],
)
def test_each_input_message(metric, args, kwargs, error, message):
    with pytest.raises(error, match=message):
        metric(*args, **kwargs)


@pytest.mark.parametrize("metric", [recall_at_k, nearest_neighbor_accuracy])
@pytest.mark.parametrize(
    ("args", "k", "error", "message"),
    [
        ((X, Y), 4, ValueError, r"k must be an int in \[1, 3\], got 4"),
        ((X, Y, REF, REF_Y), 4, ValueError, r"k must be an int in \[1, 3\], got 4"),
        ((X, Y, REF, REF_Y), 0, ValueError, r"k must be an int in \[1, 3\], got 0"),
        ((X, Y), 1.0, TypeError, "k must be an int, got float"),
    ],
)
def test_each_k_message(metric, args, k, error, message):
    with pytest.raises(error, match=message):
        metric(*args, k=k)


def test_nearest_neighbors_k_must_fit_the_reference():
    with pytest.raises(ValueError, match=r"k must be an int in \[1, 4\], got 0"):
        nearest_neighbors(X, X, k=0)


def test_nearest_neighbors_query_must_be_a_matrix():
    with pytest.raises(ValueError, match=r"query must be 2-D \(Q, D\), got shape \(2,\)"):
        nearest_neighbors(torch.zeros(2), X)


def test_nearest_neighbors_widths_must_match():
    with pytest.raises(ValueError, match=r"reference must have shape \(4, 3\) \(R, D of query\)"):
        nearest_neighbors(torch.zeros(2, 3), X)


def test_nearest_neighbors_leave_one_out_k_is_at_most_q_minus_one():
    with pytest.raises(ValueError, match=r"k must be an int in \[1, 3\], got 4"):
        nearest_neighbors(X, k=4)


def test_map_needs_a_query_with_a_relevant_reference_row():
    with pytest.raises(ValueError, match="query_labels must share a label with the reference"):
        mean_average_precision(torch.zeros(3, 2), torch.tensor([0, 1, 2]))


def test_map_takes_no_k():
    with pytest.raises(TypeError, match="unexpected keyword argument 'k'"):
        mean_average_precision(X, Y, k=1)


# --- embedding_spread --------------------------------------------------------------------


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
