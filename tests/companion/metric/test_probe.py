"""companion.metric.probe: the linear probe against a plain gradient-descent reference, and
k-NN accuracy against a loop (cosine and Euclidean, leave-one-out, the tie rule)."""

from __future__ import annotations

import math
from collections import Counter

import pytest
import torch
import torch.nn.functional as F

from companion.metric.probe import (
    KNN_METRICS,
    LinearProbe,
    fit_linear_probe,
    knn_accuracy,
    linear_probe,
)


def _blobs(n: int, d: int, classes: int, seed: int, dtype=torch.float64, spread: float = 1.5):
    g = torch.Generator().manual_seed(seed)
    centres = torch.randn(classes, d, generator=g, dtype=dtype) * spread
    y = torch.arange(n) % classes
    x = centres[y] + torch.randn(n, d, generator=g, dtype=dtype) + 5.0  # off-centre: standardise
    return x, y


def naive_knn(query, query_labels, reference, reference_labels, k, metric) -> float:
    """Each query's k nearest by a loop, ties by index; the most common label, a tie of
    labels to the one whose first neighbour is nearer."""
    q, r = query.tolist(), (query if reference is None else reference).tolist()
    labels = (query_labels if reference is None else reference_labels).tolist()
    hits = 0
    for i, row in enumerate(q):
        scored = []
        for j, other in enumerate(r):
            if reference is None and j == i:
                continue
            if metric == "cosine":
                dot = sum(a * b for a, b in zip(row, other, strict=True))
                norms = math.sqrt(sum(a * a for a in row)) * math.sqrt(sum(b * b for b in other))
                scored.append((-dot / norms, j))
            else:
                scored.append((sum((a - b) ** 2 for a, b in zip(row, other, strict=True)), j))
        votes = [labels[j] for _, j in sorted(scored)[:k]]
        counts = Counter(votes)
        best = max(counts.values())
        predicted = next(v for v in votes if counts[v] == best)  # first in distance order
        hits += predicted == int(query_labels[i])
    return hits / len(q)


# --- the linear probe ---------------------------------------------------------------------


def test_the_probe_reaches_the_minimum_of_its_objective():
    """Plain full-batch gradient descent on the same objective, run long, lands on the same
    weights (the problem is strictly convex with λ > 0)."""
    x, y = _blobs(60, 3, 3, seed=0)
    probe = fit_linear_probe(x, y, weight_decay=0.1, max_iter=500)
    h = (x - x.mean(0)) / x.std(0, unbiased=False)
    w = torch.zeros(3, 3, dtype=torch.float64, requires_grad=True)
    b = torch.zeros(3, dtype=torch.float64, requires_grad=True)
    for _ in range(5_000):
        loss = F.cross_entropy(h @ w.T + b, y) + 0.05 * w.pow(2).sum()
        gw, gb = torch.autograd.grad(loss, (w, b))
        with torch.no_grad():
            w -= 0.5 * gw
            b -= 0.5 * gb
    torch.testing.assert_close(probe.weight, w.detach(), rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(probe.bias, b.detach(), rtol=1e-5, atol=1e-5)


def test_the_probe_standardises_with_the_training_statistics():
    x, y = _blobs(40, 4, 2, seed=1)
    x[:, 2] = 3.0  # a constant feature gets a scale of 1
    probe = fit_linear_probe(x, y)
    torch.testing.assert_close(probe.mean, x.mean(0))
    assert probe.scale[2].item() == 1.0
    logits = probe.logits(x)
    want = (x - probe.mean) / probe.scale @ probe.weight.T + probe.bias
    torch.testing.assert_close(logits, want)


def test_linear_probe_scores_the_test_set_and_is_deterministic():
    x, y = _blobs(200, 5, 4, seed=2)
    xt, yt = _blobs(100, 5, 4, seed=2)
    first = linear_probe(x, y, xt, yt)
    assert first == linear_probe(x, y, xt, yt)
    probe = fit_linear_probe(x, y, classes=4)
    assert first == probe.accuracy(xt, yt)
    assert first > 0.9  # separable blobs


def test_a_probe_on_float32_features_stays_in_float32():
    x, y = _blobs(50, 3, 2, seed=3, dtype=torch.float32)
    probe = fit_linear_probe(x, y)
    assert isinstance(probe, LinearProbe)
    assert probe.weight.dtype == torch.float32


def test_probe_errors():
    x, y = _blobs(10, 3, 2, seed=0)
    with pytest.raises(
        ValueError, match=r"labels must have shape \(10,\) \(one label per row\), got \(9,\)"
    ):
        fit_linear_probe(x, y[:9])
    with pytest.raises(ValueError, match="weight_decay must be a finite number >= 0, got -1"):
        fit_linear_probe(x, y, weight_decay=-1)
    with pytest.raises(ValueError, match="max_iter must be an int >= 1, got 0"):
        fit_linear_probe(x, y, max_iter=0)
    with pytest.raises(ValueError, match=r"labels must be in 0..0 \(classes=1\), got 0..1"):
        fit_linear_probe(x, y, classes=1)
    with pytest.raises(
        ValueError,
        match=r"test_features must have shape \(10, 3\) \(M, F of train_features\), got \(10, 2\)",
    ):
        linear_probe(x, y, x[:, :2], y)
    with pytest.raises(
        TypeError, match=r"test_features must have the dtype of train_features \(torch.float64\)"
    ):
        linear_probe(x, y, x.float(), y)
    with pytest.raises(
        ValueError, match=r"features must have shape \(10, 3\) \(N, F\), got \(10, 4\)"
    ):
        fit_linear_probe(x, y).logits(torch.randn(10, 4, dtype=torch.float64))


# --- k-NN accuracy ------------------------------------------------------------------------


@pytest.mark.parametrize("metric", KNN_METRICS)
@pytest.mark.parametrize("k", [1, 3, 6])
def test_knn_accuracy_matches_the_loop(metric, k):
    x, y = _blobs(30, 4, 3, seed=4, spread=0.7)
    ref, ref_y = _blobs(25, 4, 3, seed=5, spread=0.7)
    got = knn_accuracy(x, y, ref, ref_y, k=k, metric=metric)
    assert got == naive_knn(x, y, ref, ref_y, k, metric)


@pytest.mark.parametrize("metric", KNN_METRICS)
def test_knn_accuracy_leave_one_out_matches_the_loop(metric):
    x, y = _blobs(24, 3, 4, seed=6, spread=0.5)
    assert knn_accuracy(x, y, k=4, metric=metric) == naive_knn(x, y, None, None, 4, metric)


def test_the_tie_goes_to_the_label_of_the_nearer_neighbour():
    query = torch.tensor([[1.0, 0.0]])
    reference = torch.tensor([[0.0, 1.0], [1.0, 0.1], [1.0, 0.3], [0.1, 1.0]])
    labels = torch.tensor([0, 1, 0, 1])  # nearest by cosine: rows 1 (label 1), 2 (label 0)
    assert knn_accuracy(query, torch.tensor([1]), reference, labels, k=2) == 1.0
    assert knn_accuracy(query, torch.tensor([0]), reference, labels, k=2) == 0.0


def test_cosine_ignores_the_length_of_a_row():
    x, y = _blobs(20, 3, 2, seed=7)
    scaled = x * torch.linspace(0.1, 10, 20, dtype=torch.float64)[:, None]
    assert knn_accuracy(scaled, y, k=3) == knn_accuracy(x, y, k=3)


def test_knn_errors():
    x, y = _blobs(10, 3, 2, seed=0)
    with pytest.raises(ValueError, match="metric must be one of 'cosine', 'euclidean', got 'dot'"):
        knn_accuracy(x, y, metric="dot")
    with pytest.raises(ValueError, match="k must be an int in \\[1, 9\\], got 10"):
        knn_accuracy(x, y, k=10)
    with pytest.raises(ValueError, match="reference_labels must be given with reference, got None"):
        knn_accuracy(x, y, x)
    with pytest.raises(ValueError, match=r"query must be 2-D \(Q, D\), got shape \(3,\)"):
        knn_accuracy(x[0], y)
    with pytest.raises(ValueError, match=r"reference must be 2-D \(R, D\), got shape \(3,\)"):
        knn_accuracy(x, y, x[0], y)
