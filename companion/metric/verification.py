"""Verification scores of an embedding, FaceNet-style.

*Verification* asks of a pair of images "same identity or not?" and answers "same" when
their distance is at most a threshold ``t``. With ``P_same`` same-label and ``P_diff``
different-label pairs, ``TAR(t) = |{same pairs with d ≤ t}| / P_same`` (true accept rate,
FaceNet's VAL), ``FAR(t) = |{different pairs with d ≤ t}| / P_diff`` (false accept rate),
and the ROC curve is ``(FAR(t), TAR(t))`` as ``t`` grows. The pairs come from
:func:`pair_scores` and :func:`balanced_pairs`; the threshold is chosen on validation pairs
(:func:`best_threshold`) and scored once on test pairs (:func:`verification_accuracy`);
:func:`verification_protocol` chains the steps. Ties are grouped as scikit-learn groups
them (its functions are the tests' reference; this module imports only torch). Recall@k
and mAP are in :mod:`companion.metric.retrieval`.
"""

from __future__ import annotations

import torch

from companion.checks import (
    check_bool,
    check_boolean,
    check_int,
    check_labels,
    check_matrix,
    check_ndim,
    check_number,
    check_same_shape,
    check_vector,
)
from companion.metric.distances import pairwise_distances
from companion.metric.retrieval import mean_average_precision

__all__ = [
    "VERIFICATION_FARS",
    "balanced_pairs",
    "best_threshold",
    "pair_scores",
    "roc_curve",
    "tar_at_far",
    "verification_accuracy",
    "verification_protocol",
]

#: The false accept rates at which :func:`verification_protocol` reads the true accept rate.
VERIFICATION_FARS: tuple[float, ...] = (1e-3, 1e-2)


def _check_is_same(is_same: object, distances: torch.Tensor | None = None) -> torch.Tensor:
    """Check ``is_same``: bool ``(P,)`` (the shape of ``distances``, if given), both kinds."""
    is_same = check_boolean("is_same", is_same, "True = same label")
    if distances is None:
        check_ndim("is_same", is_same, 1, "(P,)")
    else:
        check_same_shape("is_same", is_same, "distances", distances)
    n_same = int(is_same.sum())
    if n_same == 0 or n_same == is_same.numel():
        raise ValueError(
            "is_same must hold at least one same and one different pair, "
            f"got {n_same} same and {is_same.numel() - n_same} different"
        )
    return is_same


def _check_pairs(distances: object, is_same: object) -> tuple[torch.Tensor, torch.Tensor]:
    """Check ``distances (P,)`` (finite floats) and ``is_same (P,)`` (bool) with both kinds."""
    distances = check_vector("distances", distances)
    bad = int((~torch.isfinite(distances)).sum())
    if bad:
        raise ValueError(f"distances must be finite, got {bad} NaN or infinite value(s)")
    return distances, _check_is_same(is_same, distances).to(distances.device)


def _cumulative_counts(
    distances: torch.Tensor, is_same: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """``(thresholds, tps, fps)``, each ``(T,)``: the ``T`` distinct distances ascending,
    and the same / different pairs with ``d ≤ thresholds[k]`` (int64). Tied distances fall
    on the same side of every threshold."""
    order = torch.argsort(distances, stable=True)  # (P,)
    d = distances[order]
    same = is_same[order].long()
    last = torch.nonzero(d[1:] != d[:-1]).squeeze(1)  # last index of each run but the final
    last = torch.cat([last, last.new_tensor([d.numel() - 1])])  # (T,)
    tps = torch.cumsum(same, dim=0)[last]  # (T,)
    fps = last + 1 - tps  # (T,)
    return d[last], tps, fps


def pair_scores(
    embeddings: torch.Tensor, labels: torch.Tensor, *, squared: bool = False
) -> tuple[torch.Tensor, torch.Tensor]:
    """Every distinct pair ``i < j`` of a set of embeddings, those of
    ``torch.triu_indices(N, N, offset=1)`` (row by row), ``P = N (N − 1) / 2`` in all:
    ``distances[p] = ‖e_i − e_j‖`` (or its square) and ``is_same[p] = labels[i] == labels[j]``.

    Args:
        embeddings: ``(N, D)``, ``N >= 2``; labels: ``(N,)``; squared: squared Euclidean
            distances (FaceNet's) instead of plain ones.

    Returns:
        ``(distances, is_same)``: ``(P,)`` in the dtype of ``embeddings`` and ``(P,)`` bool,
        on the device of ``embeddings``.

    Raises:
        TypeError: for a non-floating ``embeddings``, non-tensor ``labels`` or non-bool ``squared``.
        ValueError: for ``embeddings`` not 2-D or of fewer than 2 rows, or unmatched labels.
    """
    check_matrix("embeddings", embeddings)
    n = embeddings.shape[0]
    check_int("embeddings.shape[0]", n, low=2)  # one pair at least
    labels = check_labels("labels", labels, n).to(embeddings.device)
    check_bool("squared", squared)
    i, j = torch.triu_indices(n, n, offset=1, device=embeddings.device)  # (P,), (P,)
    distances = pairwise_distances(embeddings, squared=squared)[i, j]  # (P,)
    return distances, labels[i] == labels[j]


def balanced_pairs(
    is_same: torch.Tensor, *, generator: torch.Generator | None = None
) -> torch.Tensor:
    """Indices of a balanced pair set, as LFW's protocol uses: every same pair, and as many
    different pairs drawn at random without replacement (all of them if there are fewer).
    Among all pairs of ``C`` equal classes only about ``1/C`` are same pairs, so an accuracy
    over all pairs rewards rejecting everything (``1 − 1/C``); on a balanced set, chance is 1/2.

    Args:
        is_same: ``(P,)`` bool, e.g. from :func:`pair_scores`.
        generator: seeds the draw of the different pairs (on the CPU).

    Returns:
        int64 ``(M,)`` increasing indices into the pairs, on the device of ``is_same``.

    Raises:
        TypeError: for a non-boolean ``is_same``.
        ValueError: if ``is_same`` is not 1-D or holds no same or no different pair.
    """
    is_same = _check_is_same(is_same)
    same = torch.nonzero(is_same).squeeze(1)  # (S,)
    diff = torch.nonzero(~is_same).squeeze(1)  # (P - S,)
    keep = torch.randperm(diff.numel(), generator=generator)[: same.numel()].to(diff.device)
    return torch.sort(torch.cat([same, diff[keep]])).values


@torch.no_grad()
def roc_curve(
    distances: torch.Tensor, is_same: torch.Tensor, *, drop_intermediate: bool = False
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """The ROC curve of "same if ``d ≤ t``": ``FAR`` and ``TAR`` at each threshold: ``−inf``
    (nothing accepted, ``FAR = TAR = 0``), then the distinct distances in increasing order,
    the last one accepting every pair (``FAR = TAR = 1``). This is scikit-learn's
    ``roc_curve(is_same, -distances, drop_intermediate=...)`` with ``far = fpr``,
    ``tar = tpr`` and ``thresholds = -sklearn_thresholds``. ``drop_intermediate=True``
    (scikit-learn's default; here ``False``) drops the points where the curve goes straight
    on: the plot and its area stay, but a dropped point inside a diagonal piece (tied
    distances) can be the one :func:`tar_at_far` needs, so keep them all for TAR@FAR.

    Args:
        distances: ``(P,)`` finite, e.g. from :func:`pair_scores`; is_same: ``(P,)`` bool,
            with both same and different pairs; drop_intermediate: as above.

    Returns:
        ``(far, tar, thresholds)``, each ``(T + 1,)`` in the dtype of ``distances``:
        ``far`` and ``tar`` non-decreasing from 0 to 1, ``thresholds`` increasing.

    Raises:
        TypeError: for a non-floating ``distances`` or a non-boolean ``is_same``.
        ValueError: for shapes that differ or are not 1-D, a NaN or infinite distance, or
            pairs of one kind only.
    """
    distances, is_same = _check_pairs(distances, is_same)
    check_bool("drop_intermediate", drop_intermediate)
    thresholds, tps, fps = _cumulative_counts(distances, is_same)
    if drop_intermediate and tps.numel() > 2:
        # scikit-learn's rule: keep the ends and every point where the slope changes
        bend = (torch.diff(fps, n=2) != 0) | (torch.diff(tps, n=2) != 0)  # (T - 2,)
        keep = torch.cat([bend.new_ones(1), bend, bend.new_ones(1)])  # (T,)
        thresholds, tps, fps = thresholds[keep], tps[keep], fps[keep]
    zero = tps.new_zeros(1)
    tps, fps = torch.cat([zero, tps]), torch.cat([zero, fps])  # (T + 1,)
    thresholds = torch.cat([thresholds.new_full((1,), float("-inf")), thresholds])
    dtype = distances.dtype
    return fps.to(dtype) / fps[-1].to(dtype), tps.to(dtype) / tps[-1].to(dtype), thresholds


def tar_at_far(far: torch.Tensor, tar: torch.Tensor, target_far: float) -> float:
    """The true accept rate at a false accept rate of at most ``target_far``, in ``[0, 1]``:
    ``TAR@FAR = max{TAR_k : FAR_k ≤ target_far}`` over the points of :func:`roc_curve`, the
    best threshold that lets through at most that share of different pairs (FaceNet's "VAL
    at FAR = 10⁻³"); no interpolation between thresholds; 0 when no point qualifies.

    Args:
        far: ``(T,)``; tar: ``(T,)``, the first two outputs of :func:`roc_curve`;
        target_far: in ``[0, 1]``.

    Raises:
        TypeError: for non-floating ``far`` or ``tar``, or a non-number ``target_far``.
        ValueError: for ``far`` or ``tar`` not 1-D or of two shapes, or ``target_far`` out of range.
    """
    check_vector("far", far)
    check_vector("tar", tar)
    check_same_shape("tar", tar, "far", far)
    target_far = check_number("target_far", target_far, low=0.0, high=1.0)
    allowed = far.to(tar.device) <= target_far  # (T,)
    if not bool(allowed.any()):
        return 0.0
    return tar[allowed].max().item()


@torch.no_grad()
def best_threshold(distances: torch.Tensor, is_same: torch.Tensor) -> float:
    """The threshold ``t`` whose rule "same if ``d ≤ t``" is right on the most pairs.

    ``accuracy(t) = (|{same pairs with d ≤ t}| + |{different pairs with d > t}|) / P`` is a
    step function that changes only at the distances, so ``t`` is one of them: the largest
    distance accepted by the best rule (ties between equally good rules go to the smallest
    ``t``); if accepting no pair is best, the float just below the smallest distance. Either
    way ``t`` is exact in the dtype of ``distances``. Choose it on validation pairs; score
    it on test pairs with :func:`verification_accuracy`.

    Args:
        distances: ``(P,)`` finite; is_same: ``(P,)`` bool, with both kinds of pair.

    Raises:
        TypeError, ValueError: as :func:`roc_curve`.
    """
    distances, is_same = _check_pairs(distances, is_same)
    thresholds, tps, fps = _cumulative_counts(distances, is_same)
    n_diff = distances.numel() - int(is_same.sum())
    correct = tps + (n_diff - fps)  # (T,): right answers when accepting up to thresholds[k]
    k = int(torch.argmax(correct))  # the first of the best
    if n_diff > int(correct[k]):  # accepting nothing is better still
        below = torch.nextafter(thresholds[:1], thresholds.new_full((1,), float("-inf")))
        return below.item()
    return thresholds[k].item()


def verification_accuracy(
    distances: torch.Tensor, is_same: torch.Tensor, threshold: float
) -> float:
    """The share of pairs that the rule "same if ``d ≤ threshold``" gets right:
    ``accuracy = (1/P) Σ_p 1[(d_p ≤ threshold) = is_same_p]``, a float in ``[0, 1]``.

    Args:
        distances: ``(P,)`` finite; is_same: ``(P,)`` bool, with both kinds of pair;
        threshold: a finite number, e.g. from :func:`best_threshold` on validation pairs.

    Raises:
        TypeError, ValueError: as :func:`roc_curve`, and for a non-finite ``threshold``.
    """
    distances, is_same = _check_pairs(distances, is_same)
    threshold = check_number("threshold", threshold)
    correct = int(((distances <= threshold) == is_same).sum())  # exact count, any device
    return correct / distances.numel()


def verification_protocol(
    val_emb: torch.Tensor,
    val_labels: torch.Tensor,
    test_emb: torch.Tensor,
    test_labels: torch.Tensor,
    *,
    seed: int = 0,
) -> dict[str, float]:
    """FaceNet's verification protocol on validation embeddings ``val_emb (N, D)`` with
    ``val_labels (N,)`` and test embeddings ``test_emb (M, D)`` with ``test_labels (M,)``.

    The pairs of each split are all its pairs (:func:`pair_scores`), cut to a balanced set
    (:func:`balanced_pairs`, as LFW's, drawn with ``seed``). The threshold is chosen on the
    validation pairs (:func:`best_threshold`) and scored once on the test pairs. The true
    accept rate at each false accept rate of :data:`VERIFICATION_FARS` is read on all the
    test pairs; the mAP is leave-one-out retrieval among the test embeddings
    (:func:`~companion.metric.retrieval.mean_average_precision`).

    Returns:
        ``threshold``, ``val_accuracy``, ``test_accuracy`` (at the validation threshold),
        ``test_best_accuracy`` (at the best threshold for the test pairs, an upper bound
        no protocol may report), ``tar_at_far_{far:g}`` and ``map``.

    Raises:
        TypeError, ValueError: as :func:`pair_scores`, for a non-int ``seed``, and for a
            split whose pairs are all of one kind.
    """
    generator = torch.Generator().manual_seed(check_int("seed", seed))
    val_d, val_same = pair_scores(val_emb, val_labels)
    keep = balanced_pairs(val_same, generator=generator)
    threshold = best_threshold(val_d[keep], val_same[keep])
    test_d, test_same = pair_scores(test_emb, test_labels)
    test_keep = balanced_pairs(test_same, generator=generator)
    d, same = test_d[test_keep], test_same[test_keep]
    scores = {
        "threshold": threshold,
        "val_accuracy": verification_accuracy(val_d[keep], val_same[keep], threshold),
        "test_accuracy": verification_accuracy(d, same, threshold),
        "test_best_accuracy": verification_accuracy(d, same, best_threshold(d, same)),
    }
    far, tar, _ = roc_curve(test_d, test_same)
    for target in VERIFICATION_FARS:
        scores[f"tar_at_far_{target:g}"] = tar_at_far(far, tar, target)
    scores["map"] = mean_average_precision(test_emb, test_labels)
    return scores
