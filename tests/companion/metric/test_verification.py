"""companion.metric.verification: pairs, ROC, TAR@FAR, thresholds and the verification
protocol, against scikit-learn's ``roc_curve`` and loops over the definitions."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
import torch
from sklearn.metrics import roc_curve as sk_roc_curve

from companion.metric.retrieval import mean_average_precision
from companion.metric.verification import (
    VERIFICATION_FARS,
    balanced_pairs,
    best_threshold,
    pair_scores,
    roc_curve,
    tar_at_far,
    verification_accuracy,
    verification_protocol,
)

DTYPES = [torch.float32, torch.float64]
# (number of pairs, number of distinct distance levels; None = continuous, no ties)
PAIR_CASES = [(2, None), (7, 2), (40, 5), (300, None), (300, 12)]


def _tol(dtype: torch.dtype) -> float:
    return 1e-6 if dtype == torch.float32 else 1e-12


def make_pairs(
    n: int, levels: int | None, dtype: torch.dtype, seed: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """Distances (many ties when ``levels`` is set) and labels with both kinds of pair;
    same pairs tend to be closer, so the curves are not trivial."""
    g = torch.Generator().manual_seed(seed)
    is_same = torch.rand(n, generator=g) < 0.4
    is_same[0], is_same[-1] = True, False
    d = torch.rand(n, generator=g, dtype=torch.float64) + 0.5 * (~is_same).double()
    if levels is not None:
        d = torch.floor(d / 1.5 * levels) / levels  # ties, exact in float32 and float64
    return d.to(dtype), is_same


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


# --- naive references ---------------------------------------------------------------------


def naive_roc(d: list[float], same: list[bool]) -> list[tuple[float, float, float]]:
    """(far, tar, threshold) at -inf and at every distinct distance, from the definitions."""
    n_same, n_diff = sum(same), len(same) - sum(same)
    points = [(0.0, 0.0, -math.inf)]
    for t in sorted(set(d)):
        tp = sum(1 for x, s in zip(d, same, strict=True) if s and x <= t)
        fp = sum(1 for x, s in zip(d, same, strict=True) if not s and x <= t)
        points.append((fp / n_diff, tp / n_same, t))
    return points


def naive_accuracy(d: list[float], same: list[bool], t: float) -> float:
    return sum((x <= t) == s for x, s in zip(d, same, strict=True)) / len(d)


# --- pair_scores ------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("squared", [False, True])
@pytest.mark.parametrize(("n", "dim"), [(2, 1), (9, 3), (20, 5)])
def test_pair_scores_lists_every_pair_once(dtype, squared, n, dim):
    x, labels = make_embeddings(n, dim, 3, dtype, seed=n)
    distances, is_same = pair_scores(x, labels, squared=squared)
    pairs = list(itertools.combinations(range(n), 2))
    assert distances.shape == is_same.shape == (len(pairs),) == (n * (n - 1) // 2,)
    assert distances.dtype == dtype
    assert is_same.dtype == torch.bool
    for p, (i, j) in enumerate(pairs):
        sq = float(((x[i] - x[j]) ** 2).sum())
        expected = sq if squared else math.sqrt(sq)
        assert float(distances[p]) == pytest.approx(expected, rel=1e-5, abs=1e-5)
        assert bool(is_same[p]) == bool(labels[i] == labels[j])


# --- roc_curve ---------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize(("n", "levels"), PAIR_CASES)
@pytest.mark.parametrize("drop_intermediate", [True, False])
def test_roc_curve_matches_sklearn(dtype, n, levels, drop_intermediate):
    d, same = make_pairs(n, levels, dtype, seed=n + (levels or 0))
    far, tar, thresholds = roc_curve(d, same, drop_intermediate=drop_intermediate)
    fpr, tpr, sk_thr = sk_roc_curve(same.numpy(), -d.numpy(), drop_intermediate=drop_intermediate)
    assert far.dtype == tar.dtype == thresholds.dtype == dtype
    np.testing.assert_allclose(far.numpy(), fpr, rtol=0, atol=_tol(dtype))
    np.testing.assert_allclose(tar.numpy(), tpr, rtol=0, atol=_tol(dtype))
    np.testing.assert_array_equal(thresholds.double().numpy(), -sk_thr)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize(("n", "levels"), PAIR_CASES)
def test_roc_curve_matches_the_definition(dtype, n, levels):
    d, same = make_pairs(n, levels, dtype, seed=7 * n)
    far, tar, thresholds = roc_curve(d, same, drop_intermediate=False)
    expected = naive_roc(d.tolist(), same.tolist())
    assert len(far) == len(expected)
    for k, (f, t, thr) in enumerate(expected):
        assert float(far[k]) == pytest.approx(f, abs=_tol(dtype))
        assert float(tar[k]) == pytest.approx(t, abs=_tol(dtype))
        assert float(thresholds[k]) == thr
    assert (far[0], tar[0], far[-1], tar[-1]) == (0, 0, 1, 1)
    assert bool((torch.diff(thresholds) > 0).all())


def test_roc_curve_groups_tied_distances():
    # the tie at 0.5 (one same, one different) is one step to (1/2, 1), never half-way
    d = torch.tensor([0.1, 0.5, 0.5, 0.9])
    same = torch.tensor([True, True, False, False])
    far, tar, thresholds = roc_curve(d, same, drop_intermediate=False)
    assert far.tolist() == [0.0, 0.0, 0.5, 1.0]
    assert tar.tolist() == [0.0, 0.5, 1.0, 1.0]
    assert thresholds.tolist() == [-math.inf, *d.unique().tolist()]


# --- tar_at_far --------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize(("n", "levels"), PAIR_CASES)
@pytest.mark.parametrize("target", [0.0, 1e-3, 0.1, 0.25, 0.5, 1.0])
def test_tar_at_far_matches_a_loop(dtype, n, levels, target):
    d, same = make_pairs(n, levels, dtype, seed=3 * n + 1)
    far, tar, _ = roc_curve(d, same)
    got = tar_at_far(far, tar, target)
    best = max(t for f, t, _ in naive_roc(d.tolist(), same.tolist()) if f <= target + 1e-12)
    assert got == pytest.approx(best, abs=_tol(dtype))
    assert tar_at_far(far, tar, 1.0) == 1.0


def test_tar_at_far_needs_every_threshold():
    # three ties, each of one same and one different pair: a straight diagonal whose middle
    # point (FAR = TAR = 2/3) scikit-learn's drop_intermediate removes
    d = torch.tensor([0.1, 0.1, 0.2, 0.2, 0.3, 0.3], dtype=torch.float64)
    same = torch.tensor([True, False] * 3)
    assert tar_at_far(*roc_curve(d, same)[:2], 0.7) == pytest.approx(2 / 3)
    dropped = roc_curve(d, same, drop_intermediate=True)
    assert len(dropped[0]) == 3
    assert tar_at_far(*dropped[:2], 0.7) == pytest.approx(1 / 3)


def test_tar_at_far_with_no_qualifying_point_is_zero():
    assert tar_at_far(torch.tensor([0.5, 1.0]), torch.tensor([0.8, 1.0]), 0.1) == 0.0


# --- best_threshold and verification_accuracy -------------------------------------------


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize(("n", "levels"), PAIR_CASES)
def test_best_threshold_maximises_accuracy(dtype, n, levels):
    d, same = make_pairs(n, levels, dtype, seed=5 * n + 2)
    dl, sl = d.tolist(), same.tolist()
    t = best_threshold(d, same)
    candidates = [min(dl) - 1.0, *sorted(set(dl))]  # accept nothing, then each distance
    accuracies = [naive_accuracy(dl, sl, c) for c in candidates]
    best = max(accuracies)
    assert verification_accuracy(d, same, t) == pytest.approx(best, abs=1e-12)
    assert naive_accuracy(dl, sl, t) == pytest.approx(best, abs=1e-12)
    first = candidates[accuracies.index(best)]
    if accuracies.index(best) == 0:
        assert t < min(dl)
    else:
        assert t == first  # the smallest of the best thresholds, a distance itself


def test_best_threshold_can_accept_nothing():
    # the closest pair is different and the same pairs are far: accepting none is best
    d = torch.tensor([0.1, 0.2, 0.3, 0.9], dtype=torch.float32)
    same = torch.tensor([False, False, False, True])
    t = best_threshold(d, same)
    assert t < 0.1
    assert torch.tensor(t, dtype=torch.float32) == torch.nextafter(
        torch.tensor(0.1), torch.tensor(-math.inf)
    )
    assert verification_accuracy(d, same, t) == 0.75


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize(("n", "levels"), PAIR_CASES)
@pytest.mark.parametrize("threshold", [-1.0, 0.0, 0.4, 0.75, 2.0])
def test_verification_accuracy_matches_a_loop(dtype, n, levels, threshold):
    d, same = make_pairs(n, levels, dtype, seed=11 * n)
    expected = naive_accuracy(d.tolist(), same.tolist(), threshold)
    assert verification_accuracy(d, same, threshold) == pytest.approx(expected, abs=1e-12)


def test_threshold_from_validation_scores_test_pairs():
    x, labels = make_embeddings(60, 4, 3, torch.float64, seed=1)
    d_val, same_val = pair_scores(x[:30], labels[:30])
    d_test, same_test = pair_scores(x[30:], labels[30:])
    t = best_threshold(d_val, same_val)
    assert verification_accuracy(d_val, same_val, t) >= verification_accuracy(
        d_val, same_val, t * 1.1
    )
    assert 0.0 <= verification_accuracy(d_test, same_test, t) <= 1.0


# --- errors: one test per message ------------------------------------------------------

D = torch.tensor([0.1, 0.2, 0.3])
SAME = torch.tensor([True, False, True])


def test_pair_scores_needs_two_embeddings():
    with pytest.raises(ValueError, match=r"embeddings.shape\[0\] must be an int >= 2, got 1"):
        pair_scores(torch.zeros(1, 3), torch.tensor([0]))


def test_pair_scores_needs_a_matrix():
    with pytest.raises(ValueError, match=r"embeddings must be 2-D \(N, D\), got shape \(3,\)"):
        pair_scores(torch.zeros(3), torch.tensor([0, 1, 2]))


def test_pair_scores_needs_one_label_per_row():
    with pytest.raises(ValueError, match=r"labels must have shape \(3,\) \(one label per row\)"):
        pair_scores(torch.zeros(3, 2), torch.tensor([0, 1]))


def test_pair_scores_squared_must_be_a_bool():
    with pytest.raises(TypeError, match="squared must be a bool, got int"):
        pair_scores(torch.zeros(3, 2), torch.tensor([0, 1, 2]), squared=1)


def test_distances_must_be_floating():
    with pytest.raises(TypeError, match="distances must be a floating-point tensor"):
        roc_curve(torch.tensor([1, 2, 3]), SAME)


def test_distances_must_be_a_vector():
    with pytest.raises(ValueError, match=r"distances must be 1-D \(d,\), got shape \(1, 3\)"):
        best_threshold(D[None], SAME)


def test_distances_must_be_finite():
    with pytest.raises(ValueError, match=r"distances must be finite, got 1 NaN or infinite"):
        roc_curve(torch.tensor([0.1, math.nan, 0.3]), SAME)


def test_is_same_must_be_a_tensor():
    with pytest.raises(TypeError, match="is_same must be a torch.Tensor, got list"):
        roc_curve(D, [True, False, True])


def test_is_same_must_be_boolean():
    with pytest.raises(TypeError, match="is_same must be a boolean tensor .*got torch.int64"):
        verification_accuracy(D, SAME.long(), 0.2)


def test_is_same_must_match_distances():
    with pytest.raises(ValueError, match=r"is_same must have the shape of distances \(3,\)"):
        roc_curve(D, SAME[:2])


def test_pairs_of_both_kinds_are_needed():
    with pytest.raises(ValueError, match="at least one same and one different pair, got 3 same"):
        roc_curve(D, torch.ones(3, dtype=torch.bool))


def test_drop_intermediate_must_be_a_bool():
    with pytest.raises(TypeError, match="drop_intermediate must be a bool, got str"):
        roc_curve(D, SAME, drop_intermediate="yes")


def test_threshold_must_be_finite():
    with pytest.raises(ValueError, match="threshold must be a finite number, got inf"):
        verification_accuracy(D, SAME, math.inf)


def test_target_far_must_be_a_rate():
    with pytest.raises(ValueError, match=r"target_far must be a finite number in \[0.0, 1.0\]"):
        tar_at_far(torch.tensor([0.0, 1.0]), torch.tensor([0.0, 1.0]), 1.5)


def test_far_and_tar_must_match():
    with pytest.raises(ValueError, match=r"tar must have the shape of far \(2,\), got \(3,\)"):
        tar_at_far(torch.tensor([0.0, 1.0]), torch.tensor([0.0, 0.5, 1.0]), 0.1)


def test_balanced_pairs_keeps_every_same_pair_and_as_many_different():
    labels = torch.arange(4).repeat_interleave(5)  # 20 images, 40 same pairs of 190
    _, is_same = pair_scores(torch.randn(20, 3), labels)
    keep = balanced_pairs(is_same, generator=torch.Generator().manual_seed(0))
    again = balanced_pairs(is_same, generator=torch.Generator().manual_seed(0))
    assert torch.equal(keep, again)
    assert torch.equal(keep, torch.sort(keep).values)
    assert len(set(keep.tolist())) == len(keep) == 2 * int(is_same.sum())
    assert int(is_same[keep].sum()) == int(is_same.sum())


def test_balanced_pairs_errors():
    with pytest.raises(TypeError, match="is_same must be a boolean tensor"):
        balanced_pairs(torch.tensor([1, 0]))
    with pytest.raises(ValueError, match=r"is_same must be 1-D \(P,\), got shape \(1, 2\)"):
        balanced_pairs(torch.tensor([[True, False]]))
    with pytest.raises(ValueError, match="at least one same and one different pair, got 2 same"):
        balanced_pairs(torch.tensor([True, True]))


# --- verification_protocol ---------------------------------------------------------------


def test_verification_protocol_chooses_the_threshold_on_validation():
    g = torch.Generator().manual_seed(0)
    labels = torch.arange(5).repeat_interleave(8)
    centres = 3 * torch.randn(5, 4, generator=g)

    def emb() -> torch.Tensor:
        return centres[labels] + 0.5 * torch.randn(40, 4, generator=g)

    val, test = emb(), emb()
    scores = verification_protocol(val, labels, test, labels)
    val_d, val_same = pair_scores(val, labels)
    keep = balanced_pairs(val_same, generator=torch.Generator().manual_seed(0))
    assert scores["threshold"] == best_threshold(val_d[keep], val_same[keep])
    assert scores["test_accuracy"] <= scores["test_best_accuracy"]
    far, tar, _ = roc_curve(*pair_scores(test, labels))
    for target in VERIFICATION_FARS:
        assert scores[f"tar_at_far_{target:g}"] == tar_at_far(far, tar, target)
    assert scores["map"] == mean_average_precision(test, labels)


def test_verification_protocol_seed_must_be_an_int():
    x, labels = torch.randn(6, 2), torch.tensor([0, 0, 1, 1, 2, 2])
    with pytest.raises(TypeError, match="seed must be an int, got float"):
        verification_protocol(x, labels, x, labels, seed=0.5)


def test_verification_protocol_needs_pairs_of_both_kinds():
    x = torch.randn(4, 2)
    with pytest.raises(ValueError, match="at least one same and one different pair, got 0 same"):
        verification_protocol(x, torch.arange(4), x, torch.tensor([0, 0, 1, 1]))
