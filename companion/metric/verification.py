"""Verification and retrieval scores of an embedding, FaceNet-style.

*Verification* asks of a pair of images "same identity or not?" and answers "same" when
their distance is at most a threshold ``t``. Over all pairs, with ``P_same`` same-label
and ``P_diff`` different-label pairs,

``TAR(t) = |{same pairs with d ≤ t}| / P_same``   (true accept rate, FaceNet's VAL)

``FAR(t) = |{different pairs with d ≤ t}| / P_diff``   (false accept rate)

and the ROC curve is ``(FAR(t), TAR(t))`` as ``t`` grows. The threshold is chosen on
validation pairs (:func:`best_threshold`) and scored once on test pairs
(:func:`verification_accuracy`).

*Retrieval* ranks a gallery by distance to each query; :func:`mean_average_precision`
averages, over the queries, the precision at each rank where a same-label image appears.

Everything matches scikit-learn with the negated distance as the score (a small distance
is a high score): :func:`roc_curve` gives ``sklearn.metrics.roc_curve(is_same, -d,
drop_intermediate=False)``, with ``thresholds = -sklearn_thresholds``;
:func:`mean_average_precision` averages ``sklearn.metrics.average_precision_score`` over
the queries. Ties are grouped as scikit-learn groups them. The tests check both
(scikit-learn is the tests' reference; this module imports only torch).
"""

from __future__ import annotations

import torch

from companion.checks import (
    check_bool,
    check_int,
    check_labels,
    check_matrix,
    check_ndim,
    check_number,
    check_same_shape,
    check_tensor,
    check_vector,
)
from companion.metric.distances import pairwise_distances

__all__ = [
    "balanced_pairs",
    "best_threshold",
    "mean_average_precision",
    "pair_scores",
    "roc_curve",
    "tar_at_far",
    "verification_accuracy",
]


def _check_pairs(distances: object, is_same: object) -> tuple[torch.Tensor, torch.Tensor]:
    """Check ``distances (P,)`` (finite floats) and ``is_same (P,)`` (bool) with both kinds."""
    distances = check_vector("distances", distances)
    if not bool(torch.isfinite(distances).all()):
        bad = int((~torch.isfinite(distances)).sum())
        raise ValueError(f"distances must be finite, got {bad} NaN or infinite value(s)")
    is_same = check_tensor("is_same", is_same)
    if is_same.dtype != torch.bool:
        raise TypeError(
            f"is_same must be a boolean tensor (True = same label), got {is_same.dtype}"
        )
    check_same_shape("is_same", is_same, "distances", distances)
    n_same = int(is_same.sum())
    if n_same == 0 or n_same == is_same.numel():
        raise ValueError(
            "is_same must hold at least one same and one different pair, "
            f"got {n_same} same and {is_same.numel() - n_same} different"
        )
    return distances, is_same.to(distances.device)


def _cumulative_counts(
    distances: torch.Tensor, is_same: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Accepted same and different pairs at each distinct distance, ascending.

    Returns ``(thresholds, tps, fps)``, each ``(T,)`` with ``T`` the number of distinct
    distances: ``tps[k]`` / ``fps[k]`` same / different pairs with ``d ≤ thresholds[k]``
    (int64). Tied distances fall on the same side of every threshold.
    """
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
    """Every distinct pair ``i < j`` of a set of embeddings: its distance and whether the
    two share a label.

    The pairs are those of ``torch.triu_indices(N, N, offset=1)`` (row by row), so there
    are ``P = N (N − 1) / 2`` of them: ``distances[p] = ‖e_i − e_j‖`` (or its square) and
    ``is_same[p] = labels[i] == labels[j]``.

    Args:
        embeddings: ``(N, D)``, ``N >= 2``.
        labels: ``(N,)``.
        squared: squared Euclidean distances (FaceNet's) instead of plain ones.

    Returns:
        ``(distances, is_same)``: ``(P,)`` in the dtype of ``embeddings`` and ``(P,)`` bool,
        on the device of ``embeddings``.

    Raises:
        TypeError: for a non-floating ``embeddings``, non-tensor ``labels`` or non-bool
            ``squared``.
        ValueError: if ``embeddings`` is not 2-D or has fewer than 2 rows, or the labels do
            not match the rows.
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

    Among all pairs of ``C`` equal classes only about ``1/C`` are same pairs, so an
    accuracy over all pairs rewards rejecting everything (``1 − 1/C``). On a balanced set,
    chance is 1/2.

    Args:
        is_same: ``(P,)`` bool, e.g. from :func:`pair_scores`.
        generator: seeds the draw of the different pairs (on the CPU).

    Returns:
        int64 ``(M,)`` increasing indices into the pairs, on the device of ``is_same``.

    Raises:
        TypeError: for a non-boolean ``is_same``.
        ValueError: if ``is_same`` is not 1-D or holds no same or no different pair.
    """
    is_same = check_tensor("is_same", is_same)
    if is_same.dtype != torch.bool:
        raise TypeError(
            f"is_same must be a boolean tensor (True = same label), got {is_same.dtype}"
        )
    check_ndim("is_same", is_same, 1, "(P,)")
    same = torch.nonzero(is_same).squeeze(1)  # (S,)
    diff = torch.nonzero(~is_same).squeeze(1)  # (P - S,)
    if same.numel() == 0 or diff.numel() == 0:
        raise ValueError(
            "is_same must hold at least one same and one different pair, "
            f"got {same.numel()} same and {diff.numel()} different"
        )
    keep = torch.randperm(diff.numel(), generator=generator)[: same.numel()].to(diff.device)
    return torch.sort(torch.cat([same, diff[keep]])).values


@torch.no_grad()
def roc_curve(
    distances: torch.Tensor, is_same: torch.Tensor, *, drop_intermediate: bool = False
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """The ROC curve of "same if ``d ≤ t``": false and true accept rates at each threshold.

    The thresholds are ``−inf`` (nothing accepted: ``FAR = TAR = 0``), then the distinct
    distances in increasing order, the last one accepting every pair
    (``FAR = TAR = 1``). At threshold ``t_k``:

    ``TAR_k = |{same pairs with d ≤ t_k}| / P_same``,
    ``FAR_k = |{different pairs with d ≤ t_k}| / P_diff``.

    This is ``sklearn.metrics.roc_curve(is_same, -distances, drop_intermediate=...)`` with
    ``far = fpr``, ``tar = tpr`` and ``thresholds = -sklearn_thresholds``.
    ``drop_intermediate=True`` (scikit-learn's default; here ``False``, every threshold)
    drops the points where the curve goes straight on: the plot and its area stay, but a
    dropped point inside a diagonal piece (tied distances) can be the one
    :func:`tar_at_far` needs, so keep them all for TAR@FAR.

    Args:
        distances: ``(P,)`` finite, e.g. from :func:`pair_scores`.
        is_same: ``(P,)`` bool, with both same and different pairs.
        drop_intermediate: drop thresholds that lie on a straight piece of the curve.

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
    """The true accept rate at a false accept rate of at most ``target_far``.

    ``TAR@FAR = max{TAR_k : FAR_k ≤ target_far}`` over the points of :func:`roc_curve`:
    the best threshold that lets through at most that share of different pairs (FaceNet's
    "VAL at FAR = 10⁻³"). No interpolation: between two thresholds there is none. Returns
    0 when no point qualifies.

    Args:
        far: ``(T,)``; tar: ``(T,)``, the first two outputs of :func:`roc_curve`.
        target_far: in ``[0, 1]``.

    Returns:
        A float in ``[0, 1]``.

    Raises:
        TypeError: for non-floating ``far`` or ``tar``, or a non-number ``target_far``.
        ValueError: if ``far`` or ``tar`` is not 1-D, their shapes differ, or
            ``target_far`` is outside ``[0, 1]``.
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
    ``t``). If accepting no pair is best, ``t`` is the float just below the smallest
    distance. Choose it on validation pairs; score it on test pairs with
    :func:`verification_accuracy`.

    Args:
        distances: ``(P,)`` finite; is_same: ``(P,)`` bool, with both kinds of pair.

    Returns:
        ``t``, a float (exactly representable in the dtype of ``distances``).

    Raises:
        TypeError: as :func:`roc_curve`.
        ValueError: as :func:`roc_curve`.
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
    """The share of pairs that the rule "same if ``d ≤ threshold``" gets right.

    ``accuracy = (1/P) Σ_p 1[(d_p ≤ threshold) = is_same_p]``

    Args:
        distances: ``(P,)`` finite; is_same: ``(P,)`` bool, with both kinds of pair;
        threshold: a finite number, e.g. from :func:`best_threshold` on validation pairs.

    Returns:
        A float in ``[0, 1]``.

    Raises:
        TypeError: as :func:`roc_curve`, and for a non-number ``threshold``.
        ValueError: as :func:`roc_curve`, and for a non-finite ``threshold``.
    """
    distances, is_same = _check_pairs(distances, is_same)
    threshold = check_number("threshold", threshold)
    correct = int(((distances <= threshold) == is_same).sum())  # exact count, any device
    return correct / distances.numel()


def _average_precision(distances: torch.Tensor, relevant: torch.Tensor) -> torch.Tensor:
    """Average precision of each row's ranking, ties grouped: ``(Q, G), (Q, G) -> (Q,)``.

    ``AP = (1/R) Σ_g r_g · precision(g)``: for each group ``g`` of tied distances, ``r_g``
    relevant items in it, and the precision once the whole group is retrieved. Rows with no
    relevant item give NaN.
    """
    order = torch.argsort(distances, dim=1, stable=True)  # (Q, G)
    d = torch.gather(distances, 1, order)
    rel = torch.gather(relevant, 1, order).long()
    g = d.shape[1]
    position = torch.arange(g, device=d.device).expand_as(d)  # (Q, G)
    ends_run = torch.ones_like(rel, dtype=torch.bool)
    ends_run[:, :-1] = d[:, 1:] != d[:, :-1]  # the last item of a group of ties
    # index of the end of each item's group: the next run end at or after it
    end = torch.where(ends_run, position, torch.full_like(position, g))
    end = end.flip(1).cummin(dim=1).values.flip(1)  # (Q, G)
    hits_by_end = torch.gather(torch.cumsum(rel, dim=1), 1, end)  # relevant up to the group end
    precision = hits_by_end.to(d.dtype) / (end + 1).to(d.dtype)  # (Q, G)
    n_relevant = rel.sum(dim=1).to(d.dtype)  # (Q,)
    return (rel.to(d.dtype) * precision).sum(dim=1) / n_relevant


@torch.no_grad()
def mean_average_precision(
    query_emb: torch.Tensor,
    query_labels: torch.Tensor,
    gallery_emb: torch.Tensor | None = None,
    gallery_labels: torch.Tensor | None = None,
) -> float:
    """Retrieval mAP: each query ranks the gallery by Euclidean distance; the gallery
    images with its label are the relevant ones.

    For a query with ``R`` relevant gallery images, ranked at positions ``k_1 < ... < k_R``,
    ``AP = (1/R) Σ_r precision@k_r`` with ``precision@k`` the share of relevant images among
    the first ``k``; images at tied distances are retrieved together (scikit-learn's
    ``average_precision_score(relevant, -distances)``, which this matches). The mAP is
    the mean AP over the queries that have at least one relevant gallery image; the others
    are left out, as they have no AP.

    Without a gallery, retrieval is within the query set, leave-one-out: each row in turn
    is the query and all the other rows are its gallery.

    Args:
        query_emb: ``(Q, D)``; query_labels: ``(Q,)``.
        gallery_emb: ``(G, D)``, or ``None`` for leave-one-out within the queries
            (then ``Q >= 2``).
        gallery_labels: ``(G,)``; given exactly when ``gallery_emb`` is.

    Returns:
        A float in ``[0, 1]``.

    Raises:
        TypeError: for non-floating embeddings or non-tensor labels.
        ValueError: for inputs that are not 2-D, widths or label counts that do not
            match, a gallery given without its labels (or labels without a gallery), fewer
            than 2 queries for leave-one-out, or no query with a relevant gallery image.
    """
    check_matrix("query_emb", query_emb, "(Q, D)")
    query_labels = check_labels("query_labels", query_labels, query_emb.shape[0])
    query_labels = query_labels.to(query_emb.device)
    if gallery_emb is not None and gallery_labels is None:
        raise ValueError("gallery_labels must be given with gallery_emb, got None")
    if gallery_labels is not None and gallery_emb is None:
        raise ValueError("gallery_emb must be given with gallery_labels, got None")
    if gallery_emb is None or gallery_labels is None:
        n = query_emb.shape[0]
        check_int("query_emb.shape[0]", n, low=2)  # leave-one-out needs another row
        others = ~torch.eye(n, dtype=torch.bool, device=query_emb.device)  # (Q, Q)
        distances = pairwise_distances(query_emb)[others].view(n, n - 1)  # (Q, Q - 1)
        same = query_labels[:, None] == query_labels[None, :]
        relevant = same[others].view(n, n - 1)
    else:
        check_matrix("gallery_emb", gallery_emb, "(G, D)")
        gallery_labels = check_labels("gallery_labels", gallery_labels, gallery_emb.shape[0])
        if gallery_emb.shape[1] != query_emb.shape[1]:
            raise ValueError(
                "query_emb and gallery_emb must have the same number of columns, "
                f"got {query_emb.shape[1]} and {gallery_emb.shape[1]}"
            )
        distances = pairwise_distances(query_emb, gallery_emb.to(query_emb.device))  # (Q, G)
        relevant = query_labels[:, None] == gallery_labels.to(query_emb.device)[None, :]
    has_relevant = relevant.any(dim=1)  # (Q,)
    if not bool(has_relevant.any()):
        raise ValueError(
            "query_labels must share a label with the gallery for at least one query, got none"
        )
    ap = _average_precision(distances[has_relevant], relevant[has_relevant])  # (Q',)
    return ap.mean().item()
