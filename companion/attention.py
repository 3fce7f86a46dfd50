"""Scaled dot-product attention, masks, multi-head attention and memory-efficient attention.

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
(``MultiHeadAttention`` and the Vision Transformer call it); ``memory_efficient_attention``
gives the same output block by block with the online softmax, never holding an
``L_q x L_k`` matrix.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

__all__ = [
    "MultiHeadAttention",
    "attention_entropy",
    "causal_mask",
    "memory_efficient_attention",
    "merge_heads",
    "online_softmax_steps",
    "padding_mask",
    "scaled_dot_product_attention",
    "split_heads",
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
    _check_qkv(query, key, value)
    if not isinstance(block_size, int) or isinstance(block_size, bool):
        raise TypeError(f"block_size must be an int, got {type(block_size).__name__}")
    if block_size < 1:
        raise ValueError(f"block_size must be a positive int, got {block_size}")
    L_q, d_k = query.shape[-2:]
    L_k, d_v = value.shape[-2:]
    batch = torch.broadcast_shapes(query.shape[:-2], key.shape[:-2], value.shape[:-2])
    q = query * (1.0 / math.sqrt(d_k))  # (..., L_q, d_k): scale the queries once
    if mask is not None:
        shape = _check_mask(mask, torch.Size((*batch, L_q, L_k)))
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


def split_heads(x: Tensor, num_heads: int) -> Tensor:
    """``(B, L, E)`` → ``(B, H, L, E / H)``: each head gets its own slice of the features."""
    B, L, E = x.shape
    if E % num_heads != 0:
        raise ValueError(f"the feature size {E} is not divisible by num_heads={num_heads}")
    return x.view(B, L, num_heads, E // num_heads).transpose(1, 2)  # (B, H, L, d_k)


def merge_heads(x: Tensor) -> Tensor:
    """``(B, H, L, d)`` → ``(B, L, H·d)``: concatenate the heads' outputs feature-wise."""
    B, H, L, d = x.shape
    return x.transpose(1, 2).reshape(B, L, H * d)  # (B, L, E)


class MultiHeadAttention(nn.Module):
    """Multi-head attention, batch first, as ``nn.MultiheadAttention(batch_first=True)``.

    ``head_h = Attention(X_q W_qʰ, X_k W_kʰ, X_v W_vʰ)``, output
    ``concat(head_1, …, head_H) W_o``; each head works in ``d_k = embed_dim / num_heads``
    dimensions, so H heads cost about what one full-width head costs.

    Attributes:
        q_proj, k_proj, v_proj, out_proj: ``nn.Linear(embed_dim, embed_dim, bias=bias)``.
    """

    def __init__(self, embed_dim: int, num_heads: int, *, bias: bool = True) -> None:
        super().__init__()
        for name, n in (("embed_dim", embed_dim), ("num_heads", num_heads)):
            if not isinstance(n, int) or isinstance(n, bool):
                raise TypeError(f"{name} must be an int, got {type(n).__name__}")
            if n < 1:
                raise ValueError(f"{name} must be a positive int, got {n}")
        if embed_dim % num_heads != 0:
            raise ValueError(f"embed_dim={embed_dim} must be divisible by num_heads={num_heads}")
        self.embed_dim = embed_dim
        self.num_heads = num_heads
        self.head_dim = embed_dim // num_heads
        self.q_proj = nn.Linear(embed_dim, embed_dim, bias=bias)
        self.k_proj = nn.Linear(embed_dim, embed_dim, bias=bias)
        self.v_proj = nn.Linear(embed_dim, embed_dim, bias=bias)
        self.out_proj = nn.Linear(embed_dim, embed_dim, bias=bias)

    def forward(
        self,
        query: Tensor,
        key: Tensor,
        value: Tensor,
        mask: Tensor | None = None,
        *,
        need_weights: bool = True,
    ) -> tuple[Tensor, Tensor | None]:
        """Attend from ``query`` ``(B, L_q, E)`` to ``key``/``value`` ``(B, L_k, E)``.

        Args:
            mask: optional boolean, True = may attend: ``(L_q, L_k)``, ``(B, L_q, L_k)``
                (same for every head; e.g. :func:`padding_mask`'s ``(B, 1, L_k)``) or
                ``(B, H, L_q, L_k)``, or anything broadcastable to those.
            need_weights: if False, skip materialising the weights and let PyTorch's fused
                kernel compute the same output (unless a mask row is fully masked, where the
                explicit path keeps its zero-output rule); the weights returned are None.

        Returns:
            ``(output, weights)``: ``(B, L_q, E)`` and per-head ``(B, H, L_q, L_k)`` or None.

        Raises:
            ValueError: inputs not 3-D or not of width ``embed_dim``, batch or ``L_k`` that
                differ, a mask that does not broadcast (TypeError for a non-boolean mask).
        """
        for name, t in (("query", query), ("key", key), ("value", value)):
            if not isinstance(t, Tensor):
                raise TypeError(f"{name} must be a torch.Tensor, got {type(t).__name__}")
            if t.ndim != 3 or t.shape[-1] != self.embed_dim:
                raise ValueError(
                    f"{name} must have shape (B, L, embed_dim={self.embed_dim}), "
                    f"got {tuple(t.shape)}"
                )
        B, L_q, _ = query.shape
        if key.shape[0] != B or value.shape[0] != B or key.shape[1] != value.shape[1]:
            raise ValueError(
                f"expected query (B, L_q, E), key and value (B, L_k, E), got query "
                f"{tuple(query.shape)}, key {tuple(key.shape)}, value {tuple(value.shape)}"
            )
        L_k = key.shape[1]
        H = self.num_heads
        if mask is not None:
            if isinstance(mask, Tensor) and mask.ndim == 3:
                mask = mask.unsqueeze(1)  # (B, 1, L_q, L_k): the same for every head
            if _check_mask(mask, torch.Size((B, H, L_q, L_k))) != (B, H, L_q, L_k):
                raise ValueError(
                    f"mask of shape {tuple(mask.shape)} does not broadcast to "
                    f"(B, H, L_q, L_k) = {(B, H, L_q, L_k)}"
                )
        q = split_heads(self.q_proj(query), H)  # (B, H, L_q, d_k)
        k = split_heads(self.k_proj(key), H)  # (B, H, L_k, d_k)
        v = split_heads(self.v_proj(value), H)  # (B, H, L_k, d_k)
        if need_weights or _has_empty_rows(mask):
            out, weights = scaled_dot_product_attention(q, k, v, mask)  # (B, H, L_q, d_k)
        else:
            out = F.scaled_dot_product_attention(q, k, v, attn_mask=mask)  # (B, H, L_q, d_k)
            weights = None
        return self.out_proj(merge_heads(out)), (weights if need_weights else None)

    @classmethod
    def from_torch(cls, module: nn.MultiheadAttention) -> MultiHeadAttention:
        """A copy of ``nn.MultiheadAttention(batch_first=True)``'s weights, same outputs.

        Dropout is not copied (the outputs agree in ``eval()`` mode or with dropout 0).

        Raises:
            TypeError: if ``module`` is not an ``nn.MultiheadAttention``.
            ValueError: if it is not batch first, has ``kdim``/``vdim`` other than
                ``embed_dim``, ``add_bias_kv`` or ``add_zero_attn``.
        """
        if not isinstance(module, nn.MultiheadAttention):
            raise TypeError(f"module must be an nn.MultiheadAttention, got {type(module).__name__}")
        if not module.batch_first:
            raise ValueError("module must be built with batch_first=True, got batch_first=False")
        if not module._qkv_same_embed_dim:
            raise ValueError(
                f"kdim and vdim must equal embed_dim={module.embed_dim}, got kdim="
                f"{module.kdim}, vdim={module.vdim}"
            )
        if module.bias_k is not None or module.add_zero_attn:
            raise ValueError("add_bias_kv=True and add_zero_attn=True are not supported")
        E = module.embed_dim
        bias = module.in_proj_bias is not None
        new = cls(E, module.num_heads, bias=bias).to(
            device=module.in_proj_weight.device, dtype=module.in_proj_weight.dtype
        )
        with torch.no_grad():
            for idx, proj in enumerate((new.q_proj, new.k_proj, new.v_proj)):
                proj.weight.copy_(module.in_proj_weight[idx * E : (idx + 1) * E])
                if bias:
                    proj.bias.copy_(module.in_proj_bias[idx * E : (idx + 1) * E])
            new.out_proj.weight.copy_(module.out_proj.weight)
            if bias:
                new.out_proj.bias.copy_(module.out_proj.bias)
        return new


# ------------------------------------------------------------ helpers for the chapter


def attention_entropy(weights: Tensor) -> Tensor:
    """Entropy ``-Σ_j w_j log w_j`` (nats) of each row: ``(..., L_q, L_k)`` → ``(..., L_q)``.

    0 for a row that puts all its weight on one key, ``log L_k`` for a uniform row
    (``0 log 0`` counts as 0).
    """
    if not isinstance(weights, Tensor) or not weights.is_floating_point():
        got = weights.dtype if isinstance(weights, Tensor) else type(weights).__name__
        raise TypeError(f"weights must be a floating-point tensor, got {got}")
    return -torch.special.xlogy(weights, weights).sum(dim=-1)


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
