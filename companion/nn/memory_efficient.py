"""Memory-efficient attention: the output of scaled dot-product attention, block by block.

The online softmax keeps a running maximum and a running sum per query, so no
``L_q x L_k`` matrix is ever held.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from companion.checks import check_floating, check_int, check_mask, check_ndim, check_qkv

__all__ = [
    "memory_efficient_attention",
    "online_softmax_steps",
]


def memory_efficient_attention(
    query: Tensor,
    key: Tensor,
    value: Tensor,
    mask: Tensor | None = None,
    *,
    block_size: int = 128,
) -> Tensor:
    """The output of :func:`scaled_dot_product_attention`, computed block by block.

    The keys and values are visited ``block_size`` at a time with the *online softmax*
    (all queries at once: they are independent of each other). Keep per query the
    running maximum ``m``, the running sum ``ℓ = Σ exp(s - m)`` and the running output
    ``o = Σ exp(s - m) v`` over the keys seen so far. A new block of scores ``s`` gives
    ``m' = max(m, max s)`` and, with the correction ``c = exp(m - m')``,

        ℓ' = c·ℓ + Σ exp(s - m'),     o' = c·o + exp(s - m') V_block,

    and at the end ``output = o / ℓ``: the softmax-weighted sum, without ever holding
    more than ``(..., L_q, block_size)`` scores (the direct computation holds
    ``(..., L_q, L_k)``). It is differentiable (autograd keeps the blocks it needs for
    the backward pass).

    Args:
        query: ``(..., L_q, d_k)``; key: ``(..., L_k, d_k)``; value: ``(..., L_k, d_v)``.
        mask: optional boolean, broadcastable to ``(..., L_q, L_k)``, True = may attend.
        block_size: number of keys per block, a positive int.

    Returns:
        output ``(..., L_q, d_v)``; zero for a fully masked query row.

    Raises:
        TypeError / ValueError: as :func:`scaled_dot_product_attention`; and for a
            ``block_size`` that is not a positive int.
    """
    check_qkv(query, key, value)
    check_int("block_size", block_size, low=1)
    L_q, d_k = query.shape[-2:]
    L_k, d_v = value.shape[-2:]
    batch = torch.broadcast_shapes(query.shape[:-2], key.shape[:-2], value.shape[:-2])
    q = query * (1.0 / math.sqrt(d_k))  # (..., L_q, d_k): scale the queries once
    if mask is not None:
        shape = check_mask(mask, torch.Size((*batch, L_q, L_k)))
        batch = shape[:-2]
        mask = mask.expand(shape)  # a view (..., L_q, L_k): it is sliced by key blocks
    q = q.expand(*batch, L_q, d_k)  # (..., L_q, d_k); a view, so each block has all batch dims
    k_t = key.transpose(-2, -1)  # (..., d_k, L_k)
    options = {"dtype": query.dtype, "device": query.device}
    m = torch.full((*batch, L_q, 1), -math.inf, **options)  # running maximum
    total = torch.zeros((*batch, L_q, 1), **options)  # running sum of exp(s - m)
    out = torch.zeros((*batch, L_q, d_v), **options)  # running sum of exp(s - m) v
    for j in range(0, L_k, block_size):
        s = q @ k_t[..., j : j + block_size]  # (..., L_q, b)
        if mask is not None:
            s.masked_fill_(~mask[..., j : j + block_size], -math.inf)
        # The output does not depend on m (it cancels in o / ℓ): no gradient through it.
        m_new = torch.maximum(m, s.detach().amax(dim=-1, keepdim=True))  # (..., L_q, 1)
        m_safe = m_new.masked_fill(m_new == -math.inf, 0.0)  # rows with no key allowed yet
        p = s.sub_(m_safe).exp_()  # (..., L_q, b), in place; exp(-inf) = 0 where masked
        correction = torch.exp(m - m_safe)  # (..., L_q, 1); 0 while m is -inf
        total = total.mul_(correction).add_(p.sum(dim=-1, keepdim=True))
        out = out.mul_(correction).add_(p @ value[..., j : j + block_size, :])  # (..., L_q, d_v)
        m = m_new
    # A fully masked row has total = 0 and out = 0: divide it by 1 to return 0.
    return out / total.masked_fill_(total == 0, 1.0)  # (..., L_q, d_v)


def online_softmax_steps(scores: Tensor, block_size: int) -> list[dict[str, float]]:
    """Record the online softmax of one row of ``scores`` ``(L,)``, block by block.

    Returns one dict per block with the block's ``start``, the running maximum ``max`` and
    running sum ``sum`` (of ``exp(s - max)``) after that block; the last ``sum`` equals
    ``Σ exp(s - max s)``, the normaliser of the direct softmax.
    """
    check_ndim("scores", check_floating("scores", scores), 1, "(L,)")
    check_int("block_size", block_size, low=1)
    m, total, steps = -math.inf, 0.0, []
    for start in range(0, scores.shape[0], block_size):
        block = scores[start : start + block_size]
        m_new = max(m, float(block.max()))
        total = total * math.exp(m - m_new) + float(torch.exp(block - m_new).sum())
        m = m_new
        steps.append({"start": start, "max": m, "sum": total})
    return steps
