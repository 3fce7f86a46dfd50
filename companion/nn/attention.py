"""Scaled dot-product attention and its masks.

Each query asks every key how similar it is; a softmax turns the similarities of one
query into weights that sum to one; the output is the weighted average of the values:

    Attention(Q, K, V) = softmax(Q Kᵀ / √d_k) V

Shapes use ``L_q`` (number of queries), ``L_k`` (number of keys and values), ``d_k``
(query/key width), ``d_v`` (value width) and any leading batch dimensions ``...``.

Masks are boolean and **True where a query may attend** (as the boolean ``attn_mask`` of
``torch.nn.functional.scaled_dot_product_attention``); they broadcast to
``(..., L_q, L_k)``. A query whose whole row is masked attends to nothing: its weights
and its output are zero (never NaN).

``scaled_dot_product_attention`` is the one attention computation of the package
(:class:`companion.nn.multihead.MultiHeadAttention` and the Vision Transformer call it);
:func:`companion.nn.memory_efficient.memory_efficient_attention` gives the same output
block by block with the online softmax, never holding an ``L_q x L_k`` matrix.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

__all__ = [
    "causal_mask",
    "padding_mask",
    "scaled_dot_product_attention",
]


# --------------------------------------------------------------------------- checks


def _check_qkv(query: Tensor, key: Tensor, value: Tensor) -> None:
    """Raise a ``TypeError``/``ValueError`` naming what came when q, k, v do not fit."""
    for name, t in (("query", query), ("key", key), ("value", value)):
        if not isinstance(t, Tensor):
            raise TypeError(f"{name} must be a torch.Tensor, got {type(t).__name__}")
        if not t.is_floating_point():
            raise TypeError(f"{name} must be a floating-point tensor, got dtype {t.dtype}")
        if t.ndim < 2:
            raise ValueError(
                f"{name} must have shape (..., L, d) with 2+ dims, got {tuple(t.shape)}"
            )
    if not query.dtype == key.dtype == value.dtype:
        raise TypeError(
            f"query, key and value must share one dtype, got {query.dtype}, {key.dtype}, "
            f"{value.dtype}"
        )
    if query.shape[-1] != key.shape[-1]:
        raise ValueError(
            f"query and key must have the same d_k (last dim), got query {tuple(query.shape)} "
            f"and key {tuple(key.shape)}"
        )
    if key.shape[-2] != value.shape[-2]:
        raise ValueError(
            f"key and value must have the same L_k (dim -2), got key {tuple(key.shape)} "
            f"and value {tuple(value.shape)}"
        )
    try:
        torch.broadcast_shapes(query.shape[:-2], key.shape[:-2], value.shape[:-2])
    except RuntimeError:
        raise ValueError(
            f"the batch dims of query {tuple(query.shape)}, key {tuple(key.shape)} and "
            f"value {tuple(value.shape)} do not broadcast"
        ) from None


def _check_mask(mask: Tensor, scores_shape: torch.Size) -> torch.Size:
    """Check a boolean mask against ``(..., L_q, L_k)``; return the broadcast shape."""
    if not isinstance(mask, Tensor):
        raise TypeError(f"mask must be a torch.Tensor, got {type(mask).__name__}")
    if mask.dtype != torch.bool:
        raise TypeError(f"mask must be a boolean tensor (True = may attend), got {mask.dtype}")
    try:
        shape = torch.broadcast_shapes(mask.shape, scores_shape)
    except RuntimeError:
        shape = None
    if shape is None or shape[-2:] != scores_shape[-2:]:
        raise ValueError(
            f"mask of shape {tuple(mask.shape)} does not broadcast to (..., L_q, L_k) = "
            f"{tuple(scores_shape)}"
        )
    return shape


def _has_empty_rows(mask: Tensor | None) -> bool:
    """Whether some query row of ``mask`` allows no key at all."""
    return mask is not None and not bool(mask.any(dim=-1).all())


# ------------------------------------------------------------------------- attention


def scaled_dot_product_attention(
    query: Tensor, key: Tensor, value: Tensor, mask: Tensor | None = None
) -> tuple[Tensor, Tensor]:
    """Attention output and weights, ``softmax(Q Kᵀ / √d_k) V``.

    Args:
        query: ``(..., L_q, d_k)``.
        key: ``(..., L_k, d_k)``.
        value: ``(..., L_k, d_v)``.
        mask: optional boolean, broadcastable to ``(..., L_q, L_k)``; True where a query
            may attend. Masked scores get weight exactly 0.

    Returns:
        ``(output, weights)``: output ``(..., L_q, d_v)``, weights ``(..., L_q, L_k)``
        (each row sums to 1, or is all zeros for a fully masked row, whose output is 0).

    The queries are scaled (``L_q·d_k`` multiplications) rather than the scores
    (``L_q·L_k``), and the masked scores are filled in place: the ``L_q x L_k`` matrix is
    written once by the product, read and written once by the softmax, read once by the
    product with the values.

    Raises:
        TypeError: non-tensor or non-floating inputs, mixed dtypes, a non-boolean mask.
        ValueError: different ``d_k`` for query and key, different ``L_k`` for key and
            value, batch dims or a mask that do not broadcast.
    """
    _check_qkv(query, key, value)
    d_k = query.shape[-1]
    scores = (query * (1.0 / math.sqrt(d_k))) @ key.transpose(-2, -1)  # (..., L_q, L_k)
    if mask is not None:
        shape = _check_mask(mask, scores.shape)
        # finfo.min rather than -inf: a fully masked row stays finite (uniform, then zeroed)
        fill = torch.finfo(scores.dtype).min
        if shape == scores.shape:
            scores.masked_fill_(~mask, fill)  # in place: no second L_q x L_k matrix
        else:
            scores = scores.masked_fill(~mask, fill)  # the mask adds batch dims
    if torch.is_grad_enabled() and (
        query.requires_grad or key.requires_grad or value.requires_grad
    ):
        weights = torch.softmax(scores, dim=-1)  # (..., L_q, L_k); autograd keeps it
        del scores  # let the allocator reuse it before the next product
        if _has_empty_rows(mask):
            weights = weights.masked_fill(~mask.any(dim=-1, keepdim=True), 0.0)
    else:  # no gradient needed: the softmax overwrites the scores, one L_q x L_k matrix
        weights = torch.softmax(scores, dim=-1, out=scores)  # (..., L_q, L_k)
        if _has_empty_rows(mask):
            weights.masked_fill_(~mask.any(dim=-1, keepdim=True), 0.0)
    return weights @ value, weights  # (..., L_q, d_v), (..., L_q, L_k)


# ---------------------------------------------------------------------------- masks


def causal_mask(
    L_q: int, L_k: int | None = None, *, device: torch.device | str | None = None
) -> Tensor:
    """Boolean ``(L_q, L_k)`` mask, True where key ``j`` may be seen by query ``i``: ``j ≤ i``.

    Aligned top-left like ``is_causal=True`` of PyTorch's ``scaled_dot_product_attention``
    (``L_k`` defaults to ``L_q``).

    Raises:
        TypeError: for non-int lengths.
        ValueError: for lengths below 1.
    """
    L_k = L_q if L_k is None else L_k
    for name, n in (("L_q", L_q), ("L_k", L_k)):
        if not isinstance(n, int) or isinstance(n, bool):
            raise TypeError(f"{name} must be an int, got {type(n).__name__}")
        if n < 1:
            raise ValueError(f"{name} must be a positive int, got {n}")
    return torch.ones(L_q, L_k, dtype=torch.bool, device=device).tril()


def padding_mask(lengths: Tensor, L: int) -> Tensor:
    """Boolean ``(B, 1, L)`` mask, True at key positions ``j < lengths[b]`` (real tokens).

    The middle axis broadcasts over the queries, so the mask fits scores
    ``(B, L_q, L)`` directly (and :class:`MultiHeadAttention`, which adds the head axis).

    Args:
        lengths: ``(B,)`` integer tensor, each in ``[0, L]``.
        L: padded length of the sequences.

    Raises:
        TypeError: ``lengths`` not an integer tensor, ``L`` not an int.
        ValueError: ``lengths`` not 1-D, ``L`` below 1, a length outside ``[0, L]``.
    """
    if not isinstance(L, int) or isinstance(L, bool):
        raise TypeError(f"L must be an int, got {type(L).__name__}")
    if L < 1:
        raise ValueError(f"L must be a positive int, got {L}")
    if not isinstance(lengths, Tensor) or lengths.is_floating_point() or lengths.is_complex():
        got = lengths.dtype if isinstance(lengths, Tensor) else type(lengths).__name__
        raise TypeError(f"lengths must be an integer tensor of shape (B,), got {got}")
    if lengths.ndim != 1:
        raise ValueError(f"lengths must have shape (B,), got {tuple(lengths.shape)}")
    if bool(((lengths < 0) | (lengths > L)).any()):
        raise ValueError(f"lengths must lie in [0, L={L}], got {lengths.tolist()}")
    positions = torch.arange(L, device=lengths.device)  # (L,)
    return (positions[None, :] < lengths[:, None])[:, None, :]  # (B, 1, L)


# ------------------------------------------------------------------ multi-head attention


# ------------------------------------------------------------ helpers for the chapter
