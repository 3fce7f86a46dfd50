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

``scaled_dot_product_attention`` is the package's explicit attention computation.
:class:`companion.nn.multihead.MultiHeadAttention` calls it (through its private body
``_attend``, which skips the mask check MultiHeadAttention has made) when the weights are
asked for (``need_weights=True``) or a mask row is fully masked; otherwise it lets PyTorch's fused
``torch.nn.functional.scaled_dot_product_attention`` compute the same output. So the
Transformer block and the Vision Transformer, which attend through ``MultiHeadAttention``,
call it only when they return attention weights
(:meth:`companion.nn.block.TransformerBlock.forward_with_weights`,
``VisionTransformer.encode(need_weights=True)``), never in a plain forward pass.
:func:`companion.nn.memory_efficient.memory_efficient_attention` gives the same output
block by block with the online softmax, never holding an ``L_q x L_k`` matrix.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from companion.checks import check_int, check_layout
from companion.nn.attention_checks import check_mask, check_qkv

__all__ = [
    "causal_mask",
    "padding_mask",
    "scaled_dot_product_attention",
]


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
    return _attend(query, key, value, mask)


def _attend(
    query: Tensor,
    key: Tensor,
    value: Tensor,
    mask: Tensor | None = None,
    *,
    mask_checked: bool = False,
) -> tuple[Tensor, Tensor]:
    """:func:`scaled_dot_product_attention`, with ``mask_checked=True`` for a caller that
    has checked ``mask`` against the scores' shape already
    (:class:`~companion.nn.multihead.MultiHeadAttention`, before its projections): the
    mask is then not checked a second time.
    """
    check_qkv(query, key, value)
    d_k = query.shape[-1]
    scores = (query * (1.0 / math.sqrt(d_k))) @ key.transpose(-2, -1)  # (..., L_q, L_k)
    if mask is not None:
        if mask_checked:
            shape = torch.broadcast_shapes(mask.shape, scores.shape)
        else:
            shape = check_mask(mask, scores.shape)
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
    check_int("L_q", L_q, low=1)
    check_int("L_k", L_k, low=1)
    return torch.ones(L_q, L_k, dtype=torch.bool, device=device).tril()


def padding_mask(lengths: Tensor, L: int) -> Tensor:
    """Boolean ``(B, 1, L)`` mask, True at key positions ``j < lengths[b]`` (real tokens).

    The middle axis broadcasts over the queries, so the mask fits scores
    ``(B, L_q, L)`` directly (and :class:`~companion.nn.multihead.MultiHeadAttention`,
    which adds the head axis).

    Args:
        lengths: ``(B,)`` integer tensor, each in ``[0, L]``.
        L: padded length of the sequences.

    Raises:
        TypeError: ``lengths`` not an integer tensor, ``L`` not an int.
        ValueError: ``lengths`` not 1-D, ``L`` below 1, a length outside ``[0, L]``.
    """
    check_int("L", L, low=1)
    if not isinstance(lengths, Tensor) or lengths.is_floating_point() or lengths.is_complex():
        got = lengths.dtype if isinstance(lengths, Tensor) else type(lengths).__name__
        raise TypeError(f"lengths must be an integer tensor of shape (B,), got {got}")
    check_layout("lengths", lengths, ("B",))
    if bool(((lengths < 0) | (lengths > L)).any()):
        raise ValueError(f"lengths must lie in [0, L={L}], got {lengths.tolist()}")
    positions = torch.arange(L, device=lengths.device)  # (L,)
    return (positions[None, :] < lengths[:, None])[:, None, :]  # (B, 1, L)
