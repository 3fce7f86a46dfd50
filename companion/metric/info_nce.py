"""InfoNCE and NT-Xent: a softmax over one positive and many negatives, as cross-entropy.

The triplet loss compares an anchor with one positive and one negative. The N-pair loss
(Sohn 2016) and InfoNCE (van den Oord et al. 2018) compare it with one positive and *many*
negatives at once: with the cosine similarity ``s(q, k) = q·k / (‖q‖ ‖k‖)`` and a
temperature ``τ``, a query ``q_i``, its positive ``k_j`` and its negatives ``N(i)`` give

.. math::

    \\ell_{ij} = -\\log \\frac{\\exp(s_{ij}/τ)}
        {\\exp(s_{ij}/τ) + \\sum_{k \\in N(i)} \\exp(s_{ik}/τ)}

the cross-entropy of a softmax over the positive and the negatives, with the positive as
the target. A small ``τ`` sharpens the softmax, so the hardest negatives (the most
similar) get most of the gradient.

NT-Xent, SimCLR's loss (Chen et al. 2020), is InfoNCE on a batch of ``2B`` rows, two
augmented views of each of ``B`` images: each row's positive is the other view of its
image, and its negatives are the ``2B − 2`` views of the other images; a row is never its
own negative. No label is used: which rows are views of one image is all it needs.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from companion.checks import (
    check_boolean,
    check_labels,
    check_matrix,
    check_ndim,
    check_number,
    check_same_dtype,
    check_shape,
    check_tensor,
)

__all__ = ["info_nce", "nt_xent", "positive_pairs", "similarity_logits"]


def similarity_logits(
    query: torch.Tensor, keys: torch.Tensor, *, temperature: float
) -> torch.Tensor:
    """The cosine similarities divided by the temperature, ``s(q_i, k_j) / τ``.

    Args:
        query: ``(Q, D)``; keys: ``(K, D)`` in the dtype of ``query``.
        temperature: ``τ > 0``.

    Returns:
        ``(Q, K)`` logits, each in ``[−1/τ, 1/τ]``.

    Raises:
        TypeError: for a non-floating ``query`` or ``keys``, or differing dtypes.
        ValueError: for inputs that are not 2-D, differing widths, or ``τ <= 0``.
    """
    check_matrix("query", query, "(Q, D)")
    check_matrix("keys", keys, "(K, D)")
    check_same_dtype("keys", keys, "query", query)
    check_shape("keys", keys, (keys.shape[0], query.shape[1]), "(K, D of query)")
    temperature = check_number("temperature", temperature, low=0, low_open=True)
    q = F.normalize(query, dim=1)  # (Q, D), unit rows
    k = F.normalize(keys.to(query.device), dim=1)  # (K, D), unit rows
    return q @ k.T / temperature  # (Q, D) x (D, K) -> (Q, K)


def info_nce(
    query: torch.Tensor,
    keys: torch.Tensor,
    positive_mask: torch.Tensor,
    *,
    temperature: float,
    negative_mask: torch.Tensor | None = None,
) -> torch.Tensor:
    """InfoNCE, averaged over the positive pairs (see the module doc for ``ℓ_ij``).

    Each ``True`` of ``positive_mask`` is one positive pair ``(i, j)``; it competes with
    the negatives of row ``i`` only (never with the row's other positives). With one
    positive per row and every other key a negative, this is
    ``F.cross_entropy(similarity_logits(query, keys), target)``, ``target[i]`` the
    column of row ``i``'s positive.

    Args:
        query: ``(Q, D)``; keys: ``(K, D)``, both normalised inside (cosine similarity).
        positive_mask: ``(Q, K)`` bool, ``True`` where ``keys[j]`` is a positive of
            ``query[i]``.
        temperature: ``τ > 0``.
        negative_mask: ``(Q, K)`` bool, ``True`` where ``keys[k]`` is a negative of
            ``query[i]`` (default: every key that is not a positive); a key in neither
            mask is left out (a row's own view, say).

    Returns:
        A scalar, the mean of ``ℓ_ij`` over the positive pairs; 0 (with a gradient) if
        there is none. A row without negatives gives ``ℓ_ij = 0``.

    Raises:
        TypeError: as :func:`similarity_logits`, or for masks that are not boolean.
        ValueError: as :func:`similarity_logits`, for masks that are not ``(Q, K)``, or
            a pair that is both positive and negative.
    """
    logits = similarity_logits(query, keys, temperature=temperature)  # (Q, K)
    shape = tuple(logits.shape)
    check_boolean("positive_mask", positive_mask, "True for a positive pair")
    check_shape("positive_mask", positive_mask, shape, "(Q, K)")
    positive_mask = positive_mask.to(logits.device)
    if negative_mask is None:
        negative_mask = ~positive_mask
    else:
        check_boolean("negative_mask", negative_mask, "True for a negative pair")
        check_shape("negative_mask", negative_mask, shape, "(Q, K)")
        negative_mask = negative_mask.to(logits.device)
        both = int((positive_mask & negative_mask).sum())
        if both:
            raise ValueError(
                f"positive_mask and negative_mask must not share a pair, got {both} shared"
            )
    if not bool(positive_mask.any()):
        return logits.sum() * 0.0  # no positive pair: 0, still attached to the graph
    negatives = logits.masked_fill(~negative_mask, float("-inf"))  # (Q, K)
    negative_lse = torch.logsumexp(negatives, dim=1, keepdim=True)  # (Q, 1): log Σ_N exp
    # ℓ_ij = log(exp(s_ij) + Σ_N exp(s_ik)) − s_ij, for every (i, j); kept where positive
    losses = torch.logaddexp(logits, negative_lse) - logits  # (Q, K)
    return losses[positive_mask].mean()


def positive_pairs(instance_ids: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """NT-Xent's masks from which rows are views of one image.

    Args:
        instance_ids: ``(N,)`` integers, equal for views of the same image.

    Returns:
        ``(positive_mask, negative_mask)``, both ``(N, N)`` bool: positives are the other
        views of a row's image, negatives the views of every other image; the diagonal
        (a row and itself) is in neither.

    Raises:
        TypeError: for ``instance_ids`` that is not an integer tensor.
        ValueError: for ``instance_ids`` that is not 1-D, or an image with one view only.
    """
    check_ndim("instance_ids", check_tensor("instance_ids", instance_ids), 1, "(N,)")
    if instance_ids.is_floating_point() or instance_ids.dtype == torch.bool:
        raise TypeError(f"instance_ids must be an integer tensor, got dtype {instance_ids.dtype}")
    same = instance_ids[:, None] == instance_ids[None, :]  # (N, N)
    eye = torch.eye(len(instance_ids), dtype=torch.bool, device=instance_ids.device)
    positive_mask = same & ~eye
    alone = (~positive_mask.any(dim=1)).nonzero().flatten()
    if len(alone):
        first = int(instance_ids[alone[0]])
        raise ValueError(
            "instance_ids must name each image at least twice (two views), got id "
            f"{first} once ({len(alone)} rows without a second view)"
        )
    return positive_mask, ~same


def nt_xent(
    embeddings: torch.Tensor, instance_ids: torch.Tensor, *, temperature: float = 0.2
) -> torch.Tensor:
    """SimCLR's NT-Xent loss: :func:`info_nce` of the batch with itself, the masks of
    :func:`positive_pairs`.

    With two views of each of ``B`` images (``N = 2B`` rows), row ``i`` and its other view
    ``j`` give ``ℓ_ij = −log(exp(s_ij/τ) / Σ_{k ≠ i} exp(s_ik/τ))`` and the loss is the
    mean over the ``2B`` rows: Chen et al.'s

    .. math::

        L = \\frac{1}{2B} \\sum_{b=1}^{B} \\big(\\ell(2b{-}1, 2b) + \\ell(2b, 2b{-}1)\\big)

    (the rows in any order: ``instance_ids`` says which go together).

    Args:
        embeddings: ``(N, D)``, normalised inside (e.g. ``(2B, D)``, the two views stacked).
        instance_ids: ``(N,)`` integers, equal exactly for views of the same image (never
            the class labels: two images of one class are still each other's negatives).
        temperature: ``τ > 0`` (SimCLR's 0.1 to 0.5).

    Returns:
        A scalar.

    Raises:
        TypeError, ValueError: as :func:`similarity_logits` and :func:`positive_pairs`,
            and for ``instance_ids`` that is not ``(N,)``.
    """
    check_matrix("embeddings", embeddings, "(N, D)")
    check_labels("instance_ids", instance_ids, embeddings.shape[0])
    positive_mask, negative_mask = positive_pairs(instance_ids.to(embeddings.device))
    return info_nce(
        embeddings,
        embeddings,
        positive_mask,
        temperature=temperature,
        negative_mask=negative_mask,
    )
