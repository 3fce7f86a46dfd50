"""Batch samplers: which examples go together into one batch."""

from __future__ import annotations

import torch

from companion.checks import check_int, check_ndim, check_tensor

__all__ = [
    "PKSampler",
    "pk_batch",
]


def pk_batch(
    labels: torch.Tensor,
    *,
    classes_per_batch: int,
    images_per_class: int,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """Indices of one class-balanced batch: ``P`` random classes, ``K`` random images of each.

    Args:
        labels: ``(N,)`` integer labels of the dataset.
        classes_per_batch: ``P``, at most the number of classes.
        images_per_class: ``K``, at most the size of the smallest chosen class.
        generator: seeds the draw.

    Returns:
        int64 ``(P·K,)`` indices into the dataset, class by class, on the labels' device.

    Raises:
        ValueError: if ``labels`` is not 1-D, ``P`` or ``K`` is below 1, or the data has
            too few classes or images.
    """
    check_ndim("labels", check_tensor("labels", labels), 1, "(N,)")
    classes = labels.unique()
    check_int("classes_per_batch", classes_per_batch, low=1, high=len(classes))
    check_int("images_per_class", images_per_class, low=1)
    chosen = classes[torch.randperm(len(classes), generator=generator)[:classes_per_batch]]
    picks = []
    for c in chosen.tolist():
        members = (labels == c).nonzero(as_tuple=True)[0]
        if len(members) < images_per_class:
            raise ValueError(
                f"class {c} has {len(members)} images, fewer than images_per_class="
                f"{images_per_class}"
            )
        order = torch.randperm(len(members), generator=generator).to(members.device)
        picks.append(members[order[:images_per_class]])
    return torch.cat(picks)


class PKSampler:
    """An epoch of ``P x K`` batches for :func:`companion.train.loop.fit` (Hermans et al., 2017).

    Each batch is :func:`pk_batch`: ``P`` classes drawn at random, then ``K`` images of
    each, so that every anchor has ``K − 1`` positives and ``(P − 1) K`` negatives, which
    random batches do not promise. An epoch is ``N // (P K)`` such batches, drawn
    independently (an image can appear in several batches of an epoch, or in none), as in
    Hermans et al.'s training, which samples identities rather than passing over images.

    Args:
        labels: ``(N,)`` integer labels of the training set.
        classes_per_batch: ``P``, at most the number of classes.
        images_per_class: ``K``, at most the size of the smallest class.

    Raises:
        ValueError: if ``labels`` is not 1-D, or ``P`` or ``K`` is out of range.
    """

    def __init__(self, labels: torch.Tensor, *, classes_per_batch: int, images_per_class: int):
        check_ndim("labels", check_tensor("labels", labels), 1, "(N,)")
        counts = labels.unique(return_counts=True)[1]
        check_int("classes_per_batch", classes_per_batch, low=1, high=len(counts))
        check_int("images_per_class", images_per_class, low=1, high=int(counts.min()))
        self.labels = labels
        self.classes_per_batch = classes_per_batch
        self.images_per_class = images_per_class
        self.batch_size = classes_per_batch * images_per_class  # at most N, by the checks

    def __len__(self) -> int:
        """Batches per epoch, ``N // (P K)``."""
        return len(self.labels) // self.batch_size

    def batches(self, generator: torch.Generator | None = None) -> list[torch.Tensor]:
        """One epoch: ``len(self)`` index tensors of shape ``(P·K,)``, drawn with
        ``generator``."""
        return [
            pk_batch(
                self.labels,
                classes_per_batch=self.classes_per_batch,
                images_per_class=self.images_per_class,
                generator=generator,
            )
            for _ in range(len(self))
        ]
