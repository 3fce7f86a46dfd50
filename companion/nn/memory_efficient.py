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
recomputed from the scores and the log-sum-exp, ``A = exp(S − lse)``, exactly the
softmax. With ``D = rowsum(dO ⊙ O)`` (one number per query), each key block ``j`` gives

    dV_j = A_jᵀ dO,   dA_j = dO V_jᵀ,   dS_j = A_j ⊙ (dA_j − D),
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

from companion.checks import check_floating, check_int, check_ndim
from companion.nn.attention_checks import check_mask, check_qkv

__all__ = ["memory_efficient_attention", "online_softmax_steps"]


def _prepare(
    query: Tensor, key: Tensor, value: Tensor, mask: Tensor | None
) -> tuple[Tensor, Tensor, Tensor, Tensor | None, torch.Size]:
    """Scale the queries and flatten the batch dims: ``(q, k, v, masked_out, batch)``.

    ``q = query / √d_k`` ``(N, L_q, d_k)``, ``k`` ``(N, L_k, d_k)``, ``v`` ``(N, L_k, d_v)``
    with ``N`` the product of the broadcast batch dims ``batch`` (views where no input is
    broadcast); ``masked_out`` is the negated mask (True where a score is masked),
    expanded to ``(*batch, L_q, L_k)`` as a view, or None.
    """
    L_q, d_k = query.shape[-2:]
    L_k, d_v = value.shape[-2:]
    batch = torch.broadcast_shapes(query.shape[:-2], key.shape[:-2], value.shape[:-2])
    masked_out = None
    if mask is not None:
        shape = check_mask(mask, torch.Size((*batch, L_q, L_k)))
        batch = shape[:-2]
        masked_out = (~mask).expand(shape)  # (*batch, L_q, L_k), a view: sliced by key blocks
    q = (query * (1.0 / math.sqrt(d_k))).expand(*batch, L_q, d_k).reshape(-1, L_q, d_k)
    k = key.expand(*batch, L_k, d_k).reshape(-1, L_k, d_k)  # (N, L_k, d_k)
    v = value.expand(*batch, L_k, d_v).reshape(-1, L_k, d_v)  # (N, L_k, d_v)
    return q, k, v, masked_out, batch


def _fill_masked(s: Tensor, masked_out: Tensor | None, cols: slice, batch: torch.Size) -> None:
    """Set the masked scores of the key block ``cols`` of ``s`` ``(N, L_q, b)`` to -inf."""
    if masked_out is not None:
        s.view(*batch, *s.shape[-2:]).masked_fill_(masked_out[..., cols], -math.inf)


def _block_buffer(N: int, L_q: int, block_size: int, like: Tensor) -> Tensor:
    """One ``(N, L_q, block_size)`` buffer that every key block's scores are written into.

    Writing into memory already in use is much faster than a fresh allocation per block
    (the operating system hands out new memory page by page on first touch).
    """
    return torch.empty((N, L_q, block_size), dtype=like.dtype, device=like.device)


def _block_view(buffer: Tensor, b: int) -> Tensor:
    """The first ``N·L_q·b`` numbers of ``buffer`` as a contiguous ``(N, L_q, b)`` tensor."""
    N, L_q, _ = buffer.shape
    return buffer.view(-1)[: N * L_q * b].view(N, L_q, b)


def _blocks_forward(
    q: Tensor,
    k: Tensor,
    v: Tensor,
    masked_out: Tensor | None,
    batch: torch.Size,
    block_size: int,
) -> tuple[Tensor, Tensor]:
    """Online-softmax forward, no autograd: ``(O, lse)``, ``(N, L_q, d_v)`` and ``(N, L_q, 1)``."""
    N, L_q, _ = q.shape
    L_k, d_v = v.shape[-2:]
    k_t = k.transpose(1, 2)  # (N, d_k, L_k)
    options = {"dtype": q.dtype, "device": q.device}
    m = torch.full((N, L_q, 1), -math.inf, **options)  # running maximum
    total = torch.zeros((N, L_q, 1), **options)  # running sum of exp(s - m)
    out = torch.zeros((N, L_q, d_v), **options)  # running sum of exp(s - m) v
    m_safe = m
    buffer = _block_buffer(N, L_q, min(block_size, L_k), q)
    for j in range(0, L_k, block_size):
        cols = slice(j, j + block_size)
        s = _block_view(buffer, k_t[:, :, cols].shape[-1])  # (N, L_q, b)
        torch.bmm(q, k_t[:, :, cols], out=s)  # the scores of key block j
        _fill_masked(s, masked_out, cols, batch)
        m_new = torch.maximum(m, s.amax(dim=-1, keepdim=True))  # (N, L_q, 1)
        m_safe = m_new.masked_fill(m_new == -math.inf, 0.0)  # rows with no key allowed yet
        p = s.sub_(m_safe).exp_()  # (N, L_q, b), in place; exp(-inf) = 0 where masked
        correction = torch.exp(m - m_safe)  # (N, L_q, 1); 0 while m is -inf
        total.mul_(correction).add_(p.sum(dim=-1, keepdim=True))
        out.mul_(correction).baddbmm_(p, v[:, cols])  # (N, L_q, d_v): c·o + A_j V_j
        m = m_new
    empty = total == 0  # (N, L_q, 1): rows that may attend to nothing
    # lse = +inf for an empty row: then exp(s - lse) = 0 in the backward pass, never NaN
    lse = (m_safe + total.log()).masked_fill_(empty, math.inf)  # (N, L_q, 1)
    return out.div_(total.masked_fill_(empty, 1.0)), lse  # (N, L_q, d_v), (N, L_q, 1)


def _blocks_backward(
    q: Tensor,
    k: Tensor,
    v: Tensor,
    out: Tensor,
    lse: Tensor,
    d_out: Tensor,
    masked_out: Tensor | None,
    batch: torch.Size,
    block_size: int,
) -> tuple[Tensor, Tensor, Tensor]:
    """Recompute backward, no autograd: gradients w.r.t. the *scaled* ``q``, ``k`` and ``v``.

    All ``(N, L, d)``; ``out`` and ``d_out`` are ``(N, L_q, d_v)``, ``lse`` ``(N, L_q, 1)``.
    """
    L_k = k.shape[1]
    D = (d_out * out).sum(dim=-1, keepdim=True)  # (N, L_q, 1): rowsum(dO ⊙ O)
    neg_lse, neg_D = -lse, -D
    dq = torch.zeros_like(q)  # (N, L_q, d_k)
    dk = torch.empty_like(k)  # (N, L_k, d_k)
    dv = torch.empty((*k.shape[:2], v.shape[-1]), dtype=v.dtype, device=v.device)
    k_t, v_t = k.transpose(1, 2), v.transpose(1, 2)  # (N, d_k, L_k), (N, d_v, L_k)
    N, L_q, _ = q.shape
    p_buffer = _block_buffer(N, L_q, min(block_size, L_k), q)
    ds_buffer = _block_buffer(N, L_q, min(block_size, L_k), q)
    for j in range(0, L_k, block_size):
        cols = slice(j, j + block_size)
        b = k_t[:, :, cols].shape[-1]
        p = _block_view(p_buffer, b)  # (N, L_q, b)
        torch.baddbmm(neg_lse, q, k_t[:, :, cols], out=p)  # S_j − lse
        _fill_masked(p, masked_out, cols, batch)
        p.exp_()  # A_j = exp(S_j − lse), the weights recomputed; 0 where masked
        dv[:, cols] = torch.bmm(p.transpose(1, 2), d_out)  # (N, b, d_v): A_jᵀ dO
        ds = _block_view(ds_buffer, b)  # (N, L_q, b)
        torch.baddbmm(neg_D, d_out, v_t[:, :, cols], out=ds)  # dA_j − D
        ds.mul_(p)  # dS_j = A_j ⊙ (dA_j − D)
        dq.baddbmm_(ds, k[:, cols])  # (N, L_q, d_k): += dS_j K_j
        dk[:, cols] = torch.bmm(ds.transpose(1, 2), q)  # (N, b, d_k): dS_jᵀ (Q / √d_k)
    return dq, dk, dv


class _MemoryEfficientAttention(torch.autograd.Function):
    """Forward by key blocks; backward recomputes each block's weights from ``lse``."""

    @staticmethod
    def forward(
        ctx: FunctionCtx,
        query: Tensor,
        key: Tensor,
        value: Tensor,
        mask: Tensor | None,
        block_size: int,
    ) -> Tensor:
        q, k, v, masked_out, batch = _prepare(query, key, value, mask)
        out, lse = _blocks_forward(q, k, v, masked_out, batch, block_size)
        # Only the output and one log-sum-exp per query row are kept (and the inputs).
        ctx.save_for_backward(query, key, value, out, lse, mask)
        ctx.block_size = block_size
        return out.view(*batch, *out.shape[-2:])  # (..., L_q, d_v)

    @staticmethod
    @once_differentiable
    def backward(ctx: Any, grad_output: Tensor) -> tuple[Tensor | None, ...]:
        query, key, value, out, lse, mask = ctx.saved_tensors
        q, k, v, masked_out, batch = _prepare(query, key, value, mask)
        d_out = grad_output.reshape(out.shape)  # (N, L_q, d_v)
        dq, dk, dv = _blocks_backward(q, k, v, out, lse, d_out, masked_out, batch, ctx.block_size)
        dq.mul_(1.0 / math.sqrt(query.shape[-1]))  # S = (Q/√d_k) Kᵀ: one more 1/√d_k for Q
        grads = []
        for g, x, needed in zip(
            (dq, dk, dv), (query, key, value), ctx.needs_input_grad[:3], strict=True
        ):
            # (N, L, d) -> (*batch, L, d), summed over the dims the input was broadcast along
            grads.append(g.view(*batch, *g.shape[-2:]).sum_to_size(x.shape) if needed else None)
        return (*grads, None, None)


def memory_efficient_attention(
    query: Tensor,
    key: Tensor,
    value: Tensor,
    mask: Tensor | None = None,
    *,
    block_size: int = 128,
) -> Tensor:
    """The output of :func:`~companion.nn.attention.scaled_dot_product_attention`, block by
    block.

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
        TypeError: as :func:`~companion.nn.attention.scaled_dot_product_attention`, and for a
            ``block_size`` that is not an int.
        ValueError: as :func:`~companion.nn.attention.scaled_dot_product_attention`, and for a
            ``block_size`` below 1.
    """
    check_qkv(query, key, value)
    check_int("block_size", block_size, low=1)
    needs_grad = torch.is_grad_enabled() and any(t.requires_grad for t in (query, key, value))
    if needs_grad:
        return _MemoryEfficientAttention.apply(query, key, value, mask, block_size)
    # inference: no autograd bookkeeping, nothing saved
    q, k, v, masked_out, batch = _prepare(query, key, value, mask)
    out, _ = _blocks_forward(q, k, v, masked_out, batch, block_size)
    return out.view(*batch, *out.shape[-2:])  # (..., L_q, d_v)


# ------------------------------------------------------------ helpers for the chapter


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
