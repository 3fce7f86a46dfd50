"""Probes: how much a frozen representation knows about the labels, read two ways.

A self-supervised network is trained without labels, so its features are scored by
what a small model fit on top of them can do (Chen et al. 2020; Wang & Isola 2020):

- the *linear probe*: a multinomial logistic regression on the standardised features,
  ``p(y | h) = softmax(W (h − μ)/σ + b)``, fit on labelled training images with an L2
  penalty ``(λ/2)‖W‖²`` by full-batch L-BFGS from zeros (a convex problem, so the fit
  is deterministic), scored by its accuracy on other images;
- *k-NN accuracy*: each query's label voted by its ``k`` nearest labelled rows, cosine
  or Euclidean (:func:`~companion.metric.retrieval.nearest_neighbor_accuracy`).

Both see only frozen features: the network is never changed by a probe.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from companion.checks import (
    check_choice,
    check_int,
    check_labels,
    check_matrix,
    check_number,
    check_same_dtype,
    check_shape,
)
from companion.metric.retrieval import nearest_neighbor_accuracy

__all__ = ["KNN_METRICS", "LinearProbe", "fit_linear_probe", "knn_accuracy", "linear_probe"]

#: The similarities :func:`knn_accuracy` ranks neighbours by.
KNN_METRICS: tuple[str, ...] = ("cosine", "euclidean")


@dataclass(frozen=True)
class LinearProbe:
    """A fitted linear probe: ``logits = W (h − μ)/σ + b``.

    Attributes:
        mean: ``(F,)``, the training features' mean ``μ``.
        scale: ``(F,)``, their standard deviation ``σ`` (1 where a feature is constant).
        weight: ``(K, F)``, ``W``.
        bias: ``(K,)``, ``b``.
    """

    mean: torch.Tensor
    scale: torch.Tensor
    weight: torch.Tensor
    bias: torch.Tensor

    def logits(self, features: torch.Tensor) -> torch.Tensor:
        """``(N, F) -> (N, K)`` logits.

        Raises:
            TypeError, ValueError: for ``features`` that is not ``(N, F)`` floating.
        """
        check_matrix("features", features, "(N, F)")
        check_shape("features", features, (features.shape[0], self.weight.shape[1]), "(N, F)")
        h = (features.to(self.weight) - self.mean) / self.scale  # (N, F), standardised
        return h @ self.weight.T + self.bias  # (N, F) x (F, K) -> (N, K)

    def accuracy(self, features: torch.Tensor, labels: torch.Tensor) -> float:
        """The share of rows whose largest logit is their label, in [0, 1]."""
        predicted = self.logits(features).argmax(dim=1)  # (N,)
        labels = check_labels("labels", labels, features.shape[0]).to(predicted.device)
        return int((predicted == labels).sum()) / len(labels)


def fit_linear_probe(
    features: torch.Tensor,
    labels: torch.Tensor,
    *,
    weight_decay: float = 1e-3,
    max_iter: int = 200,
    classes: int | None = None,
) -> LinearProbe:
    """Fit a :class:`LinearProbe` by minimising, with full-batch L-BFGS from zeros,

    .. math::

        \\frac{1}{N} \\sum_n -\\log \\operatorname{softmax}(W \\tilde h_n + b)_{y_n}
        + \\frac{\\lambda}{2} \\lVert W \\rVert^2, \\qquad
        \\tilde h_n = (h_n - \\mu) / \\sigma

    Args:
        features: ``(N, F)`` frozen features of labelled training images (no gradient
            flows back into them).
        labels: ``(N,)`` class indices ``0..K−1``.
        weight_decay: ``λ >= 0``.
        max_iter: L-BFGS iterations, ``>= 1``.
        classes: ``K`` (default ``max(labels) + 1``).

    Returns:
        The fitted probe, on the device and in the dtype of ``features``.

    Raises:
        TypeError, ValueError: for ``features`` that is not ``(N, F)`` floating, labels
            that are not ``(N,)``, or a setting out of range.
    """
    check_matrix("features", features, "(N, F)")
    labels = check_labels("labels", labels, features.shape[0]).to(features.device)
    weight_decay = check_number("weight_decay", weight_decay, low=0)
    check_int("max_iter", max_iter, low=1)
    k = int(labels.max()) + 1 if classes is None else check_int("classes", classes, low=1)
    if int(labels.max()) >= k or int(labels.min()) < 0:
        low, high = int(labels.min()), int(labels.max())
        raise ValueError(f"labels must be in 0..{k - 1} (classes={k}), got {low}..{high}")
    x = features.detach()
    mean = x.mean(dim=0)  # (F,)
    scale = x.std(dim=0, unbiased=False)  # (F,)
    scale = torch.where(scale > 0, scale, torch.ones_like(scale))  # a constant feature: 1
    x = (x - mean) / scale  # (N, F), standardised
    weight = torch.zeros(k, x.shape[1], dtype=x.dtype, device=x.device, requires_grad=True)
    bias = torch.zeros(k, dtype=x.dtype, device=x.device, requires_grad=True)
    optimizer = torch.optim.LBFGS(
        [weight, bias],
        lr=1.0,
        max_iter=max_iter,
        history_size=20,
        tolerance_grad=1e-9,
        tolerance_change=1e-12,
        line_search_fn="strong_wolfe",
    )

    def closure() -> torch.Tensor:
        optimizer.zero_grad()
        loss = F.cross_entropy(x @ weight.T + bias, labels)
        loss = loss + 0.5 * weight_decay * weight.pow(2).sum()
        loss.backward()
        return loss

    with torch.enable_grad():
        optimizer.step(closure)
    return LinearProbe(mean, scale, weight.detach(), bias.detach())


def linear_probe(
    train_features: torch.Tensor,
    train_labels: torch.Tensor,
    test_features: torch.Tensor,
    test_labels: torch.Tensor,
    *,
    weight_decay: float = 1e-3,
    max_iter: int = 200,
) -> float:
    """The linear-probe accuracy: :func:`fit_linear_probe` on the training features, its
    accuracy on the test features (standardised with the *training* mean and scale).

    Args:
        train_features: ``(N, F)``; train_labels: ``(N,)``.
        test_features: ``(M, F)`` in the dtype of ``train_features``; test_labels: ``(M,)``.
        weight_decay, max_iter: as :func:`fit_linear_probe`.

    Returns:
        A float in [0, 1].

    Raises:
        TypeError, ValueError: as :func:`fit_linear_probe`, and for test features of
            another width or dtype.
    """
    check_matrix("train_features", train_features, "(N, F)")
    check_matrix("test_features", test_features, "(M, F)")
    check_same_dtype("test_features", test_features, "train_features", train_features)
    width = (test_features.shape[0], train_features.shape[1])
    check_shape("test_features", test_features, width, "(M, F of train_features)")
    classes = int(max(int(train_labels.max()), int(test_labels.max()))) + 1
    probe = fit_linear_probe(
        train_features,
        train_labels,
        weight_decay=weight_decay,
        max_iter=max_iter,
        classes=classes,
    )
    return probe.accuracy(test_features, test_labels)


@torch.no_grad()
def knn_accuracy(
    query: torch.Tensor,
    query_labels: torch.Tensor,
    reference: torch.Tensor | None = None,
    reference_labels: torch.Tensor | None = None,
    *,
    k: int = 10,
    metric: str = "cosine",
) -> float:
    """k-NN accuracy: the share of queries whose ``k`` nearest reference rows vote for
    their label, the course's metric signature (leave-one-out within ``query`` when
    ``reference`` is ``None``).

    ``"cosine"`` ranks by cosine similarity (the rows normalised to unit length, where
    ``‖u − v‖² = 2 − 2 cos(u, v)`` gives the same order), ``"euclidean"`` by distance.
    The vote and its tie rule are
    :func:`~companion.metric.retrieval.nearest_neighbor_accuracy`'s: the most common
    label among the ``k``, a tie going to the label whose first neighbour is nearer
    (neighbours at equal distance in index order).

    Args:
        query: ``(Q, D)``; query_labels: ``(Q,)``.
        reference: ``(R, D)`` or ``None``; reference_labels: ``(R,)``, given with it.
        k: ``1 <= k <= R`` (``Q − 1`` leave-one-out).
        metric: one of :data:`KNN_METRICS`.

    Returns:
        A float in [0, 1].

    Raises:
        TypeError, ValueError: as
            :func:`~companion.metric.retrieval.nearest_neighbor_accuracy`, and for another
            ``metric``.
    """
    check_choice("metric", metric, KNN_METRICS)
    if metric == "cosine":
        check_matrix("query", query, "(Q, D)")
        query = F.normalize(query, dim=1)
        if reference is not None:
            check_matrix("reference", reference, "(R, D)")
            reference = F.normalize(reference, dim=1)
    return nearest_neighbor_accuracy(query, query_labels, reference, reference_labels, k=k)
