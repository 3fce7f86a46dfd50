"""Tests of companion.metric (distances, triplet loss, mining, retrieval) and
companion.nn.embedding (the embedding network and its helpers)."""

from __future__ import annotations

import dataclasses
import itertools

import pytest
import torch
import torch.nn.functional as F

from companion.data.augment import random_placement
from companion.data.samplers import PKSampler, pk_batch
from companion.metric.distances import pairwise_distances
from companion.metric.losses import (
    batch_hard_soft_margin_loss,
    batch_hard_triplet_loss,
    mined_triplet_loss,
    triplet_margin_loss,
)
from companion.metric.miners import STRATEGIES, count_triplets, mine_triplets
from companion.metric.retrieval import (
    embedding_spread,
    nearest_neighbor_accuracy,
    nearest_neighbors,
    recall_at_k,
)
from companion.nn.embedding import EmbeddingConfig, EmbeddingNet
from companion.viz.probes import pca_2d

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


# --- pairwise_distances ------------------------------------------------------------------


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize(("n", "m", "d"), [(5, 7, 3), (12, 1, 16)])
@pytest.mark.parametrize("squared", [False, True])
def test_pairwise_distances_match_loop_and_cdist(dtype, n, m, d, squared):
    x, _ = make_batch(n, d, 2, dtype, seed=1)
    y, _ = make_batch(m, d, 2, dtype, seed=2)
    got = pairwise_distances(x, y, squared=squared)
    want = torch.tensor(
        [[naive_distance(x[i], y[j], squared) for j in range(m)] for i in range(n)], dtype=dtype
    )
    assert got.shape == (n, m)
    assert got.dtype == dtype
    torch.testing.assert_close(got, want, **tol(dtype))
    if not squared:
        torch.testing.assert_close(got, torch.cdist(x, y), **tol(dtype))


@pytest.mark.parametrize("dtype", DTYPES)
def test_pairwise_distances_self_has_zero_diagonal_and_finite_gradient(dtype):
    x, _ = make_batch(6, 4, 2, dtype)
    x = torch.cat([x, x[:2]]).requires_grad_()  # two duplicated rows: distance exactly 0
    dist = pairwise_distances(x)
    assert torch.equal(dist.diagonal(), torch.zeros(8, dtype=dtype))
    torch.testing.assert_close(dist, dist.T)
    dist.sum().backward()
    assert torch.isfinite(x.grad).all()


@pytest.mark.parametrize("dtype", DTYPES)
def test_pairwise_distances_gradient_matches_cdist_away_from_zero(dtype):
    x, _ = make_batch(4, 3, 2, dtype, seed=3)
    y, _ = make_batch(5, 3, 2, dtype, seed=4)
    x1, x2 = x.clone().requires_grad_(), x.clone().requires_grad_()
    pairwise_distances(x1, y).sum().backward()
    torch.cdist(x2, y).sum().backward()
    torch.testing.assert_close(x1.grad, x2.grad, **tol(dtype))


def test_pairwise_distances_errors():
    with pytest.raises(ValueError, match=r"x must be 2-D \(N, D\), got shape \(3,\)"):
        pairwise_distances(torch.zeros(3))
    with pytest.raises(ValueError, match=r"y must be 2-D \(N, D\), got shape \(1, 2, 3\)"):
        pairwise_distances(torch.zeros(3, 2), torch.zeros(1, 2, 3))
    with pytest.raises(ValueError, match="same number of columns, got 2 and 3"):
        pairwise_distances(torch.zeros(3, 2), torch.zeros(4, 3))
    with pytest.raises(TypeError, match="x must be a torch.Tensor, got list"):
        pairwise_distances([[1.0]])
    with pytest.raises(TypeError, match="x must be a floating-point tensor, got dtype torch.int64"):
        pairwise_distances(torch.zeros(3, 2, dtype=torch.int64))


# --- triplet_margin_loss -----------------------------------------------------------------


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize(("n", "d"), [(1, 2), (9, 16)])
@pytest.mark.parametrize("margin", [0.2, 0.5, 1.0])  # PyTorch requires margin > 0
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_triplet_margin_loss_matches_pytorch(dtype, n, d, margin, reduction):
    a, _ = make_batch(n, d, 2, dtype, seed=5)
    p, _ = make_batch(n, d, 2, dtype, seed=6)
    k, _ = make_batch(n, d, 2, dtype, seed=7)
    got = triplet_margin_loss(a, p, k, margin=margin, reduction=reduction)
    want = F.triplet_margin_loss(a, p, k, margin=margin, p=2, reduction=reduction)
    # PyTorch measures ||a - p + 1e-6||: a shift of at most 1e-6 * sqrt(d) per distance.
    slack = 2e-6 * d**0.5 * (n if reduction == "sum" else 1)
    torch.testing.assert_close(got, want, rtol=tol(dtype)["rtol"], atol=slack)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("squared", [False, True])
def test_triplet_margin_loss_matches_loop_and_backward(dtype, squared):
    a, _ = make_batch(6, 3, 2, dtype, seed=8)
    p, _ = make_batch(6, 3, 2, dtype, seed=9)
    k, _ = make_batch(6, 3, 2, dtype, seed=10)
    a.requires_grad_()
    got = triplet_margin_loss(a, p, k, margin=0.7, squared=squared, reduction="none")
    want = [
        max(naive_distance(a[i], p[i], squared) - naive_distance(a[i], k[i], squared) + 0.7, 0)
        for i in range(6)
    ]
    torch.testing.assert_close(got, torch.tensor(want, dtype=dtype), **tol(dtype))
    got.mean().backward()
    assert torch.isfinite(a.grad).all()


@pytest.mark.parametrize("dtype", DTYPES)
def test_triplet_margin_loss_empty_batch_is_zero_and_differentiable(dtype):
    a = torch.zeros(0, 4, dtype=dtype, requires_grad=True)
    loss = triplet_margin_loss(a, a, a)
    assert loss.item() == 0.0
    loss.backward()
    assert a.grad.shape == (0, 4)


def test_triplet_margin_loss_gradient_is_finite_when_anchor_equals_positive():
    a = torch.ones(2, 3, requires_grad=True)
    loss = triplet_margin_loss(a, a.detach().clone(), torch.zeros(2, 3), margin=5.0)
    loss.backward()
    assert torch.isfinite(a.grad).all()


def test_triplet_margin_loss_errors():
    x = torch.zeros(4, 3)
    with pytest.raises(ValueError, match=r"same shape, got \(4, 3\), \(4, 3\) and \(5, 3\)"):
        triplet_margin_loss(x, x, torch.zeros(5, 3))
    with pytest.raises(ValueError, match=r"anchor must be 2-D \(N, D\), got shape \(3,\)"):
        triplet_margin_loss(torch.zeros(3), x, x)
    with pytest.raises(ValueError, match="margin must be a finite number >= 0, got -0.1"):
        triplet_margin_loss(x, x, x, margin=-0.1)
    with pytest.raises(ValueError, match="reduction must be one of .*, got 'max'"):
        triplet_margin_loss(x, x, x, reduction="max")


# --- mine_triplets -----------------------------------------------------------------------


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("strategy", STRATEGIES)
@pytest.mark.parametrize(("n", "classes"), [(10, 3), (13, 4)])
@pytest.mark.parametrize("squared", [False, True])
def test_mine_triplets_match_loop(dtype, strategy, n, classes, squared):
    x, y = make_batch(n, 3, classes, dtype, seed=n)
    margin = 1.0
    want, _ = naive_triplets(x, y, strategy, margin, squared)
    a, p, k = mine_triplets(x, y, strategy=strategy, margin=margin, squared=squared)
    assert a.dtype == p.dtype == k.dtype == torch.int64
    assert sorted(zip(a.tolist(), p.tolist(), k.tolist(), strict=True)) == sorted(want)
    assert len(want) > 0


@pytest.mark.parametrize(("classes", "per_class"), [(2, 2), (3, 4), (10, 4)])
def test_mine_all_counts_p_k_batch(classes, per_class):
    y = torch.arange(classes).repeat_interleave(per_class)
    x, _ = make_batch(len(y), 5, 2, torch.float32)
    a, _, _ = mine_triplets(x, y, strategy="all")
    assert len(a) == classes * per_class * (per_class - 1) * (classes - 1) * per_class
    h, _, _ = mine_triplets(x, y, strategy="hard")
    assert len(h) == classes * per_class


@pytest.mark.parametrize("dtype", DTYPES)
def test_count_triplets_matches_loop(dtype):
    x, y = make_batch(12, 3, 3, dtype, seed=14)
    counts = count_triplets(x, y, margin=1.0)
    assert list(counts) == list(STRATEGIES)
    for strategy in STRATEGIES:
        triplets, d = naive_triplets(x, y, strategy, 1.0, False)
        active = sum(d[a][p] - d[a][k] + 1.0 > 0 for a, p, k in triplets)
        assert counts[strategy] == (len(triplets), active)
    # semi-hard triplets all have a positive loss, by definition
    assert counts["semihard"][0] == counts["semihard"][1]


def test_mine_triplets_runs_without_gradient():
    x, y = make_batch(8, 3, 2, torch.float32)
    x.requires_grad_()
    for strategy in STRATEGIES:
        for idx in mine_triplets(x, y, strategy=strategy, margin=1.0):
            assert not idx.requires_grad


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_single_class_batch_has_no_triplets_and_zero_loss(strategy):
    x, _ = make_batch(6, 3, 1, torch.float32)
    y = torch.zeros(6, dtype=torch.int64)
    for idx in mine_triplets(x, y, strategy=strategy):
        assert idx.numel() == 0
    x.requires_grad_()
    loss = mined_triplet_loss(x, y, strategy=strategy)
    assert loss.item() == 0.0
    loss.backward()
    assert torch.equal(x.grad, torch.zeros_like(x))


def test_no_semihard_triplet_gives_zero_differentiable_loss():
    # Two tight, far-apart clusters: every negative is beyond d(a, p) + margin.
    x = torch.tensor([[0.0, 0.0], [0.1, 0.0], [10.0, 0.0], [10.1, 0.0]], requires_grad=True)
    y = torch.tensor([0, 0, 1, 1])
    assert mine_triplets(x, y, strategy="semihard", margin=0.5)[0].numel() == 0
    for loss in (
        mined_triplet_loss(x, y, strategy="semihard", margin=0.5),
        batch_hard_triplet_loss(x, y, margin=0.5),
    ):
        assert loss.item() == 0.0
        loss.backward()
        assert torch.isfinite(x.grad).all()


def test_hard_skips_anchors_without_a_positive():
    x, _ = make_batch(5, 2, 2, torch.float64)
    y = torch.tensor([0, 0, 1, 1, 2])  # the class-2 image has no positive
    a, _, _ = mine_triplets(x, y, strategy="hard")
    assert a.tolist() == [0, 1, 2, 3]


def test_mine_triplets_errors():
    x = torch.zeros(4, 3)
    y = torch.tensor([0, 0, 1, 1])
    with pytest.raises(
        ValueError, match=r"labels must have shape \(4,\) \(one label per row\), got \(3,\)"
    ):
        mine_triplets(x, y[:3])
    with pytest.raises(ValueError, match=r"embeddings must be 2-D \(N, D\), got shape \(4,\)"):
        mine_triplets(torch.zeros(4), y)
    with pytest.raises(ValueError, match="margin must be a finite number >= 0, got -1"):
        mine_triplets(x, y, margin=-1)
    with pytest.raises(ValueError, match="strategy must be one of .*, got 'easy'"):
        mine_triplets(x, y, strategy="easy")
    with pytest.raises(TypeError, match="labels must be a torch.Tensor, got list"):
        mine_triplets(x, [0, 0, 1, 1])


# --- the mined losses --------------------------------------------------------------------


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("strategy", STRATEGIES)
@pytest.mark.parametrize("squared", [False, True])
def test_mined_triplet_loss_matches_loop(dtype, strategy, squared):
    x, y = make_batch(12, 4, 3, dtype, seed=11)
    margin = 0.8
    triplets, d = naive_triplets(x, y, strategy, margin, squared)
    want = sum(max(d[a][p] - d[a][k] + margin, 0) for a, p, k in triplets) / len(triplets)
    x.requires_grad_()
    got = mined_triplet_loss(x, y, strategy=strategy, margin=margin, squared=squared)
    torch.testing.assert_close(got, torch.tensor(want, dtype=dtype), **tol(dtype))
    got.backward()
    assert torch.isfinite(x.grad).all()
    assert x.grad.abs().sum() > 0


@pytest.mark.parametrize("dtype", DTYPES)
def test_batch_hard_loss_matches_triplet_margin_loss_on_mined_triplets(dtype):
    x, y = make_batch(16, 5, 4, dtype, seed=12)
    a, p, k = mine_triplets(x, y, strategy="hard")
    want = triplet_margin_loss(x[a], x[p], x[k], margin=0.3)
    got = batch_hard_triplet_loss(x, y, margin=0.3)
    torch.testing.assert_close(got, want, **tol(dtype))
    # and against the per-anchor formula of Hermans et al.
    d = torch.cdist(x, x)
    same = y[:, None] == y[None, :]
    losses = [
        max(d[i][same[i] & (torch.arange(16) != i)].max() - d[i][~same[i]].min() + 0.3, 0)
        for i in range(16)
        if (same[i].sum() > 1 and (~same[i]).any())
    ]
    torch.testing.assert_close(got, torch.stack(losses).mean(), **tol(dtype))


def test_mined_triplet_loss_errors():
    x = torch.zeros(4, 3)
    with pytest.raises(ValueError, match=r"labels must have shape \(4,\)"):
        mined_triplet_loss(x, torch.zeros(5, dtype=torch.int64))
    with pytest.raises(ValueError, match="strategy must be one of"):
        mined_triplet_loss(x, torch.zeros(4, dtype=torch.int64), strategy="hardest")
    with pytest.raises(ValueError, match="margin must be a finite number >= 0"):
        batch_hard_triplet_loss(x, torch.zeros(4, dtype=torch.int64), margin=-0.2)


def naive_soft_margin(x: torch.Tensor, y: torch.Tensor, squared: bool) -> torch.Tensor:
    """Hermans et al.'s batch-hard soft-margin loss, one anchor at a time, from the
    definition (differentiable: built from torch scalars)."""
    n = len(y)
    losses = []
    for a in range(n):
        dists = [((x[a] - x[j]) ** 2).sum() for j in range(n)]
        if not squared:
            dists = [dd.clamp_min(1e-300).sqrt() if dd > 0 else dd * 0 for dd in dists]
        pos = [dists[p] for p in range(n) if p != a and y[p] == y[a]]
        neg = [dists[k] for k in range(n) if y[k] != y[a]]
        if pos and neg:
            losses.append(F.softplus(torch.stack(pos).max() - torch.stack(neg).min()))
    return torch.stack(losses).mean() if losses else x.sum() * 0


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("squared", [False, True])
@pytest.mark.parametrize(("n", "classes"), [(12, 3), (9, 4), (16, 5)])
def test_batch_hard_soft_margin_loss_matches_loop(dtype, squared, n, classes):
    x, y = make_batch(n, 4, classes, dtype, seed=n + classes)
    x.requires_grad_()
    got = batch_hard_soft_margin_loss(x, y, squared=squared)
    want = naive_soft_margin(x, y, squared)
    torch.testing.assert_close(got, want, **tol(dtype))
    (g_got,) = torch.autograd.grad(got, x)
    (g_want,) = torch.autograd.grad(want, x)
    torch.testing.assert_close(g_got, g_want, **tol(dtype))


@pytest.mark.parametrize("dtype", DTYPES)
def test_batch_hard_soft_margin_loss_has_no_margin_and_pushes_easy_triplets(dtype):
    # two tight, far-apart classes: every triplet is easy, the loss small but not 0
    x = torch.tensor([[0.0, 0.0], [0.1, 0.0], [3.0, 0.0], [3.1, 0.0]], dtype=dtype)
    x.requires_grad_()
    y = torch.tensor([0, 0, 1, 1])
    got = batch_hard_soft_margin_loss(x, y)
    # anchors 0 and 3: 0.1 - 3.0; anchors 1 and 2: 0.1 - 2.9
    want = F.softplus(torch.tensor([-2.9, -2.8, -2.8, -2.9], dtype=dtype)).mean()
    torch.testing.assert_close(got, want, **tol(dtype))
    got.backward()
    assert x.grad.abs().sum() > 0  # the hinge with margin 0.2 would give no gradient here
    assert batch_hard_triplet_loss(x.detach(), y, margin=0.2).item() == 0.0


@pytest.mark.parametrize("dtype", DTYPES)
def test_batch_hard_soft_margin_loss_no_valid_anchor_and_large_distances(dtype):
    x = torch.randn(5, 3, generator=torch.Generator().manual_seed(0), dtype=dtype)
    x.requires_grad_()
    loss = batch_hard_soft_margin_loss(x, torch.arange(5))  # no positives at all
    assert loss.item() == 0.0
    loss.backward()
    assert torch.equal(x.grad, torch.zeros_like(x))
    far = torch.tensor([[0.0], [1e4], [0.0], [1e4]], dtype=dtype)
    swapped = batch_hard_soft_margin_loss(far, torch.tensor([0, 0, 1, 1]))  # wrong order
    assert torch.isfinite(swapped)
    torch.testing.assert_close(swapped, torch.tensor(1e4, dtype=dtype), **tol(dtype))


def test_batch_hard_soft_margin_loss_errors():
    with pytest.raises(ValueError, match=r"embeddings must be 2-D \(N, D\)"):
        batch_hard_soft_margin_loss(torch.zeros(4), torch.zeros(4, dtype=torch.int64))
    with pytest.raises(ValueError, match=r"labels must have shape \(4,\)"):
        batch_hard_soft_margin_loss(torch.zeros(4, 3), torch.zeros(3, dtype=torch.int64))
    with pytest.raises(
        TypeError, match="embeddings must be a floating-point tensor, got dtype torch.int64"
    ):
        batch_hard_soft_margin_loss(torch.zeros(4, 3, dtype=torch.int64), torch.zeros(4))


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


# --- companion.nn.embedding -----------------------------------------------------------------


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize(("size", "global_pool"), [(8, True), (16, True), (8, False)])
def test_embedding_net_shapes_and_unit_norm(dtype, size, global_pool):
    torch.manual_seed(0)
    net = EmbeddingNet(
        EmbeddingConfig(image_size=size, channels=(4, 8), dim=5, global_pool=global_pool)
    ).to(dtype)
    out = net(torch.rand(3, 1, size, size, dtype=dtype))
    assert out.shape == (3, 5)
    assert out.dtype == dtype
    torch.testing.assert_close(out.norm(dim=1), torch.ones(3, dtype=dtype), **tol(dtype))
    raw = EmbeddingNet(EmbeddingConfig(image_size=size, dim=5, normalize=False)).to(dtype)
    assert raw(torch.rand(2, 1, size, size, dtype=dtype)).shape == (2, 5)


def test_embedding_net_learns_with_fit_and_the_triplet_loss():
    """Eight epochs of batch-hard triplet loss on the 269 validation digits: the loss
    falls, and the nearest neighbour in embedding space shares the label far more often
    than before training (about 0.52 -> 0.72 in this run; chance is about 0.1)."""
    from companion.data.digits import load_digits
    from companion.train.loop import Recipe, fit, predict

    x, y = load_digits("val")
    torch.manual_seed(0)
    net = EmbeddingNet(EmbeddingConfig(channels=(8, 16), dim=8))
    before = recall_at_k(predict(net, x), y, 1)

    def loss_fn(embeddings, labels):
        return batch_hard_triplet_loss(embeddings, labels, margin=0.2)

    history = fit(
        net, x, y, Recipe(epochs=8, batch_size=64, lr=3e-3), loss_fn=loss_fn, progress=False
    )
    after = recall_at_k(predict(net, x), y, 1)
    assert history.epochs == 8
    assert history.train_loss[-1] < 0.9 * history.train_loss[0]
    assert after > before + 0.1
    assert after > 0.6


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        (
            {"image_size": 6},
            ValueError,
            r"image_size must be a multiple of 4 \(two 2x2 pools\), got 6",
        ),
        ({"image_size": 0}, ValueError, "image_size must be an int >= 4, got 0"),
        ({"image_size": 8.0}, TypeError, "image_size must be an int, got float"),
        ({"in_channels": 0}, ValueError, "in_channels must be an int >= 1, got 0"),
        ({"channels": (4,)}, ValueError, r"channels must be a tuple of 2 ints, got \(4,\)"),
        ({"channels": (4, 0)}, ValueError, "channels must be an int >= 1, got 0"),
        ({"dim": 0}, ValueError, "dim must be an int >= 1, got 0"),
        ({"normalize": 1}, TypeError, "normalize must be a bool, got int"),
        ({"global_pool": None}, TypeError, "global_pool must be a bool, got NoneType"),
    ],
)
def test_embedding_config_validates_itself(kwargs, error, message):
    with pytest.raises(error, match=message):
        EmbeddingConfig(**kwargs)


def test_embedding_config_is_frozen():
    config = EmbeddingConfig()
    with pytest.raises(dataclasses.FrozenInstanceError):
        config.dim = 3  # type: ignore[misc]


def test_embedding_net_errors():
    with pytest.raises(TypeError, match="config must be an EmbeddingConfig, got dict"):
        EmbeddingNet({"dim": 3})  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"x must have shape \(B, 1, 8, 8\), got \(2, 1, 16, 16\)"):
        EmbeddingNet()(torch.zeros(2, 1, 16, 16))


def test_pk_batch_is_class_balanced_and_seeded():
    labels = torch.arange(5).repeat_interleave(6)
    idx = pk_batch(
        labels, classes_per_batch=3, images_per_class=4, generator=torch.Generator().manual_seed(0)
    )
    again = pk_batch(
        labels, classes_per_batch=3, images_per_class=4, generator=torch.Generator().manual_seed(0)
    )
    assert torch.equal(idx, again)
    assert len(idx) == 12
    assert len(set(idx.tolist())) == 12
    counts = torch.bincount(labels[idx], minlength=5)
    assert sorted(counts.tolist()) == [0, 0, 4, 4, 4]


def test_pk_batch_errors():
    labels = torch.tensor([0, 0, 1, 1, 1])
    with pytest.raises(ValueError, match=r"classes_per_batch must be an int in \[1, 2\], got 3"):
        pk_batch(labels, classes_per_batch=3, images_per_class=1)
    with pytest.raises(ValueError, match="images_per_class must be an int >= 1, got 0"):
        pk_batch(labels, classes_per_batch=1, images_per_class=0)
    with pytest.raises(ValueError, match="class 0 has 2 images, fewer than images_per_class=3"):
        pk_batch(labels, classes_per_batch=2, images_per_class=3)
    with pytest.raises(ValueError, match=r"labels must be 1-D \(N,\), got shape \(1, 5\)"):
        pk_batch(labels[None], classes_per_batch=1, images_per_class=1)


def test_random_placement_moves_digits_and_keeps_them_whole():
    x = torch.rand(4, 1, 8, 8)
    transform = random_placement(16)
    g = torch.Generator().manual_seed(0)
    out1, out2 = transform(x, g), transform(x, g)
    assert out1.shape == (4, 1, 16, 16)
    torch.testing.assert_close(out1.sum(dim=(1, 2, 3)), x.sum(dim=(1, 2, 3)))
    assert not torch.equal(out1, out2)  # a fresh placement for each call


@pytest.mark.parametrize("dtype", DTYPES)
def test_pca_2d_matches_top_singular_directions(dtype):
    g = torch.Generator().manual_seed(0)
    x = torch.randn(50, 4, generator=g, dtype=dtype) * torch.tensor(
        [5.0, 2.0, 0.5, 0.1], dtype=dtype
    )
    z = pca_2d(x)
    assert z.shape == (50, 2)
    variances = z.var(dim=0)
    centred = x - x.mean(dim=0)
    top = torch.linalg.svdvals(centred)[:2] ** 2 / 49
    torch.testing.assert_close(variances, top, **tol(dtype))
    with pytest.raises(
        ValueError, match=r"x must be 2-D \(N, D\) with N, D >= 2, got shape \(5,\)"
    ):
        pca_2d(torch.zeros(5))


def test_pk_sampler_draws_an_epoch_of_class_balanced_batches():
    labels = torch.arange(6).repeat_interleave(10)  # 60 images, 6 classes
    sampler = PKSampler(labels, classes_per_batch=3, images_per_class=4)
    assert len(sampler) == 60 // 12
    batches = sampler.batches(torch.Generator().manual_seed(0))
    again = sampler.batches(torch.Generator().manual_seed(0))
    assert len(batches) == len(sampler)
    for b, b2 in zip(batches, again, strict=True):
        assert torch.equal(b, b2)
        assert b.shape == (12,)
        assert sorted(torch.bincount(labels[b], minlength=6).tolist()) == [0, 0, 0, 4, 4, 4]


def test_pk_sampler_errors():
    labels = torch.tensor([0, 0, 1, 1, 1])
    with pytest.raises(ValueError, match=r"classes_per_batch must be an int in \[1, 2\], got 3"):
        PKSampler(labels, classes_per_batch=3, images_per_class=1)
    with pytest.raises(ValueError, match=r"images_per_class must be an int in \[1, 2\], got 3"):
        PKSampler(labels, classes_per_batch=2, images_per_class=3)
    with pytest.raises(ValueError, match=r"labels must be 1-D \(N,\), got shape \(1, 5\)"):
        PKSampler(labels[None], classes_per_batch=1, images_per_class=1)


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
