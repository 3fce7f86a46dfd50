"""Memory-efficient attention that trains: blocks of keys forward, recomputed backward.

**Forward.** The keys and values are visited ``block_size`` at a time with the *online
softmax* (all queries at once: they are independent of each other). Keep per query the
running maximum ``m``, the running sum ``ℓ = Σ exp(s − m)`` and the running output
``o = Σ exp(s − m) v`` over the keys seen so far. A new block of scores ``s`` gives
``m' = max(m, max s)`` and, with the correction ``c = exp(m − m')``,

    ℓ' = c·ℓ + Σ exp(s − m'),     o' = c·o + exp(s − m') V_block,

and at the end ``O = o / ℓ``. Besides the output, one number per query row is kept for
the backward pass, its log-sum-exp ``lse = m + log ℓ = log Σ_j exp(s_j)``.

**Backward** (as FlashAttention does). The weights are never stored: a block of them is
recomputed from the scores and the log-sum-exp, ``P = exp(S − lse)``, exactly the
softmax. With ``D = rowsum(dO ⊙ O)`` (one number per query), each key block ``j`` gives

    dV_j = P_jᵀ dO,   dP_j = dO V_jᵀ,   dS_j = P_j ⊙ (dP_j − D),
    dQ += dS_j K_j / √d_k,   dK_j = dS_jᵀ Q / √d_k,

the formulas of :mod:`companion.nn.attention_backward`, one block of columns at a time.
Forward and backward hold at most ``(..., L_q, block_size)`` scores, never the
``(..., L_q, L_k)`` matrix that autograd through the direct computation stores.

Masks are boolean, True where a query may attend; a fully masked query row has output
0 and gradient 0 (the package's convention, and PyTorch's).
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import Tensor
from torch.autograd.function import FunctionCtx, once_differentiable

from companion.attention import _check_mask, _check_qkv

__all__ = ["memory_efficient_attention", "online_softmax_steps"]


def _blocks_forward(
    q: Tensor, key: Tensor, value: Tensor, masked_out: Tensor | None, block_size: int
) -> tuple[Tensor, Tensor]:
    """Online-softmax forward, no autograd: ``(O, lse)``, ``(..., L_q, d_v)`` and ``(..., L_q, 1)``.

    ``q`` is already scaled by ``1/√d_k`` and has every batch dim; ``masked_out`` is the
    expanded *negated* mask (True where a score is masked), or None.
    """
    *batch, L_q, _ = q.shape
    L_k, d_v = value.shape[-2:]
    k_t = key.transpose(-2, -1)  # (..., d_k, L_k)
    options = {"dtype": q.dtype, "device": q.device}
    m = torch.full((*batch, L_q, 1), -math.inf, **options)  # running maximum
    total = torch.zeros((*batch, L_q, 1), **options)  # running sum of exp(s - m)
    out = torch.zeros((*batch, L_q, d_v), **options)  # running sum of exp(s - m) v
    m_safe = m
    for j in range(0, L_k, block_size):
        s = q @ k_t[..., j : j + block_size]  # (..., L_q, b)
        if masked_out is not None:
            s.masked_fill_(masked_out[..., j : j + block_size], -math.inf)
        m_new = torch.maximum(m, s.amax(dim=-1, keepdim=True))  # (..., L_q, 1)
        m_safe = m_new.masked_fill(m_new == -math.inf, 0.0)  # rows with no key allowed yet
        p = s.sub_(m_safe).exp_()  # (..., L_q, b), in place; exp(-inf) = 0 where masked
        correction = torch.exp(m - m_safe)  # (..., L_q, 1); 0 while m is -inf
        total.mul_(correction).add_(p.sum(dim=-1, keepdim=True))
        out.mul_(correction).add_(p @ value[..., j : j + block_size, :])  # (..., L_q, d_v)
        m = m_new
    empty = total == 0  # (..., L_q, 1): rows that may attend to nothing
    # lse = +inf for an empty row: then exp(s - lse) = 0 in the backward pass, never NaN
    lse = (m_safe + total.log()).masked_fill_(empty, math.inf)  # (..., L_q, 1)
    return out.div_(total.masked_fill_(empty, 1.0)), lse  # (..., L_q, d_v), (..., L_q, 1)


class _MemoryEfficientAttention(torch.autograd.Function):
    """Forward by key blocks; backward recomputes each block's weights from ``lse``."""

    @staticmethod
    def forward(
        ctx: FunctionCtx,
        query: Tensor,
        key: Tensor,
        value: Tensor,
        masked_out: Tensor | None,
        block_size: int,
    ) -> Tensor:
        scale = 1.0 / math.sqrt(query.shape[-1])
        batch = masked_out.shape[:-2] if masked_out is not None else None
        q = _scaled_queries(query, key, value, scale, batch)  # (..., L_q, d_k)
        out, lse = _blocks_forward(q, key, value, masked_out, block_size)
        # Only the output and one log-sum-exp per query row are kept (and the inputs).
        ctx.save_for_backward(query, key, value, out, lse, masked_out)
        ctx.block_size = block_size
        return out

    @staticmethod
    @once_differentiable
    def backward(ctx: Any, grad_output: Tensor) -> tuple[Tensor | None, ...]:
        query, key, value, out, lse, masked_out = ctx.saved_tensors
        block_size = ctx.block_size
        scale = 1.0 / math.sqrt(query.shape[-1])
        q = _scaled_queries(query, key, value, scale, out.shape[:-2])  # (..., L_q, d_k)
        *batch, L_q, d_k = q.shape
        L_k, d_v = value.shape[-2:]
        dO = grad_output  # (..., L_q, d_v)
        D = (dO * out).sum(dim=-1, keepdim=True)  # (..., L_q, 1): rowsum(dO ⊙ O)
        options = {"dtype": q.dtype, "device": q.device}
        dq = torch.zeros((*batch, L_q, d_k), **options)  # gradient w.r.t. the scaled queries
        dK = torch.empty((*batch, L_k, d_k), **options)
        dV = torch.empty((*batch, L_k, d_v), **options)
        k_t = key.transpose(-2, -1)  # (..., d_k, L_k)
        v_t = value.transpose(-2, -1)  # (..., d_v, L_k)
        for j in range(0, L_k, block_size):
            cols = slice(j, j + block_size)
            s = q @ k_t[..., cols]  # (..., L_q, b): the scores again
            if masked_out is not None:
                s.masked_fill_(masked_out[..., cols], -math.inf)
            p = s.sub_(lse).exp_()  # (..., L_q, b): the weights, recomputed in place
            dV[..., cols, :] = p.transpose(-2, -1) @ dO  # (..., b, d_v): dV_j = P_jᵀ dO
            dp = dO @ v_t[..., cols]  # (..., L_q, b): dP_j = dO V_jᵀ
            ds = dp.sub_(D).mul_(p)  # (..., L_q, b): dS_j = P_j ⊙ (dP_j − D), in place
            dq.add_(ds @ key[..., cols, :])  # (..., L_q, d_k): += dS_j K_j
            dK[..., cols, :] = ds.transpose(-2, -1) @ q  # (..., b, d_k): dS_jᵀ (Q/√d_k)
        dQ = dq.mul_(scale)  # S = (Q/√d_k) Kᵀ: one more factor 1/√d_k for Q
        needs = ctx.needs_input_grad
        return (
            dQ.sum_to_size(query.shape) if needs[0] else None,
            dK.sum_to_size(key.shape) if needs[1] else None,
            dV.sum_to_size(value.shape) if needs[2] else None,
            None,
            None,
        )


def _scaled_queries(
    query: Tensor, key: Tensor, value: Tensor, scale: float, batch: torch.Size | None
) -> Tensor:
    """``query / √d_k`` expanded to every batch dim of q, k, v (and the mask)."""
    if batch is None:
        batch = torch.broadcast_shapes(query.shape[:-2], key.shape[:-2], value.shape[:-2])
    return (query * scale).expand(*batch, *query.shape[-2:])  # (..., L_q, d_k)


def memory_efficient_attention(
    query: Tensor,
    key: Tensor,
    value: Tensor,
    mask: Tensor | None = None,
    *,
    block_size: int = 128,
) -> Tensor:
    """The output of ``scaled_dot_product_attention``, computed block by block.

    Forward with the online softmax over blocks of ``block_size`` keys; backward (when a
    gradient is needed) recomputes each block's weights from the saved output and the
    log-sum-exp of each query row, so training never stores an ``L_q x L_k`` matrix
    either. See the module docstring for the formulas.

    Args:
        query: ``(..., L_q, d_k)``; key: ``(..., L_k, d_k)``; value: ``(..., L_k, d_v)``.
        mask: optional boolean, broadcastable to ``(..., L_q, L_k)``, True = may attend.
        block_size: number of keys per block, a positive int.

    Returns:
        output ``(..., L_q, d_v)``; zero (with zero gradient) for a fully masked query row.

    Raises:
        TypeError / ValueError: as ``scaled_dot_product_attention``; and for a
            ``block_size`` that is not a positive int.
    """
    _check_qkv(query, key, value)
    if not isinstance(block_size, int) or isinstance(block_size, bool):
        raise TypeError(f"block_size must be an int, got {type(block_size).__name__}")
    if block_size < 1:
        raise ValueError(f"block_size must be a positive int, got {block_size}")
    L_q, L_k = query.shape[-2], key.shape[-2]
    masked_out = None
    if mask is not None:
        batch = torch.broadcast_shapes(query.shape[:-2], key.shape[:-2], value.shape[:-2])
        shape = _check_mask(mask, torch.Size((*batch, L_q, L_k)))
        masked_out = (~mask).expand(shape)  # (..., L_q, L_k), a view: sliced by key blocks
    needs_grad = torch.is_grad_enabled() and any(t.requires_grad for t in (query, key, value))
    if not needs_grad:  # inference: no autograd bookkeeping, nothing saved
        scale = 1.0 / math.sqrt(query.shape[-1])
        batch = masked_out.shape[:-2] if masked_out is not None else None
        q = _scaled_queries(query, key, value, scale, batch)  # (..., L_q, d_k)
        return _blocks_forward(q, key, value, masked_out, block_size)[0]
    return _MemoryEfficientAttention.apply(query, key, value, masked_out, block_size)


# ------------------------------------------------------------ helpers for the chapter


def online_softmax_steps(scores: Tensor, block_size: int) -> list[dict[str, float]]:
    """Record the online softmax of one row of ``scores`` ``(L,)``, block by block.

    Returns one dict per block with the block's ``start``, the running maximum ``max`` and
    running sum ``sum`` (of ``exp(s - max)``) after that block; the last ``sum`` equals
    ``Σ exp(s - max s)``, the normaliser of the direct softmax.
    """
    if not isinstance(scores, Tensor) or scores.ndim != 1 or not scores.is_floating_point():
        got = tuple(scores.shape) if isinstance(scores, Tensor) else type(scores).__name__
        raise ValueError(f"scores must be a 1-D floating-point tensor, got {got}")
    if not isinstance(block_size, int) or block_size < 1:
        raise ValueError(f"block_size must be a positive int, got {block_size}")
    m, total, steps = -math.inf, 0.0, []
    for start in range(0, scores.shape[0], block_size):
        block = scores[start : start + block_size]
        m_new = max(m, float(block.max()))
        total = total * math.exp(m - m_new) + float(torch.exp(block - m_new).sum())
        m = m_new
        steps.append({"start": start, "max": m, "sum": total})
    return steps
