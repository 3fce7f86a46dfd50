"""Multi-head attention: ``H`` attentions in ``D / H`` dimensions each, side by side."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from companion.checks import (
    check_divisible,
    check_instance,
    check_int,
    check_layout,
    check_tensor,
)
from companion.nn.attention import _attend, _has_empty_rows
from companion.nn.attention_checks import check_mask

__all__ = [
    "MultiHeadAttention",
    "merge_heads",
    "split_heads",
]


def split_heads(x: Tensor, num_heads: int) -> Tensor:
    """``(B, L, D)`` → ``(B, H, L, D / H)``: each head gets its own slice of the features."""
    _B, _L, D = x.shape
    check_divisible("D", D, "num_heads", num_heads)  # D: the feature size, x.shape[-1]
    return _split_heads(x, num_heads)


def _split_heads(x: Tensor, num_heads: int) -> Tensor:
    """:func:`split_heads` without the check, for :meth:`MultiHeadAttention.forward`: its
    input check fixes the width to ``embed_dim``, which ``__init__`` checked divides by
    ``num_heads``, so checking again on every call would only repeat it."""
    B, L, D = x.shape
    return x.view(B, L, num_heads, D // num_heads).transpose(1, 2)  # (B, H, L, d_k)


def merge_heads(x: Tensor) -> Tensor:
    """``(B, H, L, d)`` → ``(B, L, H·d)``: concatenate the heads' outputs feature-wise."""
    B, H, L, d = x.shape
    return x.transpose(1, 2).reshape(B, L, H * d)  # (B, L, D)


def _check_inputs(
    query: Tensor,
    key: Tensor,
    value: Tensor,
    mask: Tensor | None,
    embed_dim: int,
    num_heads: int,
) -> Tensor | None:
    """Check :meth:`MultiHeadAttention.forward`'s inputs; return the mask as attention takes it.

    ``query`` ``(B, L_q, embed_dim)``, ``key``/``value`` ``(B, L_k, embed_dim)``; a 3-D
    ``mask`` ``(B, L_q, L_k)`` gets a head axis, ``(B, 1, L_q, L_k)``, and the mask must
    broadcast to ``(B, H, L_q, L_k)``. This is the only check of the mask on the way to
    the kernel (``_attend`` and PyTorch's fused attention check nothing).
    """
    for name, t in (("query", query), ("key", key), ("value", value)):
        check_layout(name, check_tensor(name, t), ("B", "L", embed_dim), "(D = embed_dim)")
    B, L_q, _ = query.shape
    if key.shape[0] != B or value.shape[0] != B or key.shape[1] != value.shape[1]:
        raise ValueError(
            f"expected query (B, L_q, D), key and value (B, L_k, D), got query "
            f"{tuple(query.shape)}, key {tuple(key.shape)}, value {tuple(value.shape)}"
        )
    L_k = key.shape[1]
    H = num_heads
    if mask is not None:
        if isinstance(mask, Tensor) and mask.ndim == 3:
            mask = mask.unsqueeze(1)  # (B, 1, L_q, L_k): the same for every head
        if check_mask(mask, torch.Size((B, H, L_q, L_k))) != (B, H, L_q, L_k):
            raise ValueError(
                f"mask of shape {tuple(mask.shape)} does not broadcast to "
                f"(B, H, L_q, L_k) = {(B, H, L_q, L_k)}"
            )
    return mask


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
        check_int("embed_dim", embed_dim, low=1)
        check_int("num_heads", num_heads, low=1)
        check_divisible("embed_dim", embed_dim, "num_heads", num_heads)
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
        """Attend from ``query`` ``(B, L_q, D)`` to ``key``/``value`` ``(B, L_k, D)``.

        Args:
            mask: optional boolean, True = may attend: ``(L_q, L_k)``, ``(B, L_q, L_k)``
                (same for every head; e.g. :func:`~companion.nn.attention.padding_mask`'s
                ``(B, 1, L_k)``) or
                ``(B, H, L_q, L_k)``, or anything broadcastable to those.
            need_weights: if False, skip materialising the weights and let PyTorch's fused
                kernel compute the same output (unless a mask row is fully masked, where the
                explicit path keeps its zero-output rule); the weights returned are None.

        Returns:
            ``(output, weights)``: ``(B, L_q, D)`` and per-head ``(B, H, L_q, L_k)`` or None.

        Raises:
            ValueError: inputs not 3-D or not of width ``embed_dim``, batch or ``L_k`` that
                differ, a mask that does not broadcast (TypeError for a non-boolean mask).
        """
        mask = _check_inputs(query, key, value, mask, self.embed_dim, self.num_heads)
        H = self.num_heads
        q = _split_heads(self.q_proj(query), H)  # (B, L_q, D) -> (B, H, L_q, d_k)
        k = _split_heads(self.k_proj(key), H)  # (B, L_k, D) -> (B, H, L_k, d_k)
        v = _split_heads(self.v_proj(value), H)  # (B, L_k, D) -> (B, H, L_k, d_k)
        if need_weights or _has_empty_rows(mask):  # explicit: weights (B, H, L_q, L_k)
            out, weights = _attend(q, k, v, mask, mask_checked=True)  # (B, H, L_q, d_k)
        else:  # PyTorch's fused kernel: the same output, no weights materialised
            out = F.scaled_dot_product_attention(q, k, v, attn_mask=mask)  # (B, H, L_q, d_k)
            weights = None
        out = merge_heads(out)  # (B, H, L_q, d_k) -> (B, L_q, D)
        return self.out_proj(out), (weights if need_weights else None)

    @classmethod
    def from_torch(cls, module: nn.MultiheadAttention) -> MultiHeadAttention:
        """A copy of ``nn.MultiheadAttention(batch_first=True)``'s weights, same outputs.

        Dropout is not copied (the outputs agree in ``eval()`` mode or with dropout 0).

        Raises:
            TypeError: if ``module`` is not an ``nn.MultiheadAttention``.
            ValueError: if it is not batch first, has ``kdim``/``vdim`` other than
                ``embed_dim``, ``add_bias_kv`` or ``add_zero_attn``.
        """
        check_instance("module", module, nn.MultiheadAttention)
        if not module.batch_first:
            raise ValueError("module must be built with batch_first=True, got batch_first=False")
        if not module._qkv_same_embed_dim:
            raise ValueError(
                f"kdim and vdim must equal embed_dim={module.embed_dim}, got kdim="
                f"{module.kdim}, vdim={module.vdim}"
            )
        if module.bias_k is not None or module.add_zero_attn:
            raise ValueError("add_bias_kv=True and add_zero_attn=True are not supported")
        D = module.embed_dim
        bias = module.in_proj_bias is not None
        new = cls(D, module.num_heads, bias=bias).to(
            device=module.in_proj_weight.device, dtype=module.in_proj_weight.dtype
        )
        with torch.no_grad():
            for idx, proj in enumerate((new.q_proj, new.k_proj, new.v_proj)):
                proj.weight.copy_(module.in_proj_weight[idx * D : (idx + 1) * D])
                if bias:
                    proj.bias.copy_(module.in_proj_bias[idx * D : (idx + 1) * D])
            new.out_proj.weight.copy_(module.out_proj.weight)
            if bias:
                new.out_proj.bias.copy_(module.out_proj.bias)
        return new
