"""Batch samplers: which examples go together into one batch."""

from __future__ import annotations

import torch

from companion.checks import check_int, check_ndim, check_tensor

__all__ = [
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
