"""The backward pass of attention, derived by hand and written out.

With ``S = Q Kᵀ / √d_k`` (the scores), ``A = softmax(S)`` row by row (the weights) and
``O = A V`` (the output), a loss ``ℒ`` with gradient ``dO = ∂ℒ/∂O`` has

    dV = Aᵀ dO                              (O = A V, a matrix product)
    dA = dO Vᵀ                              (the same rule, for the other factor)
    dS = A ⊙ (dA − rowsum(dO ⊙ O))          (the softmax's Jacobian, row by row)
    dQ = dS K / √d_k,   dK = dSᵀ Q / √d_k   (S = Q Kᵀ / √d_k, a matrix product again)

The softmax step: for one row, ``∂A_j/∂S_i = A_j (δ_ij − A_i)``, so
``dS_i = Σ_j dA_j A_j (δ_ij − A_i) = A_i (dA_i − Σ_j A_j dA_j)``, and
``Σ_j A_j dA_j = Σ_j A_j (dO Vᵀ)_j = dO · (A V) = rowsum(dO ⊙ O)``: one number per query,
computed from the output, without the ``L_q x L_k`` matrix. A masked score has ``A = 0``
and gets ``dS = 0``; a fully masked row (weights and output 0, the package's convention)
gets a zero gradient.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from companion.checks import check_tensor
from companion.nn.attention import scaled_dot_product_attention
from companion.nn.attention_checks import check_mask, check_qkv

__all__ = ["attention_backward"]


def attention_backward(
    query: Tensor,
    key: Tensor,
    value: Tensor,
    grad_output: Tensor,
    mask: Tensor | None = None,
) -> tuple[Tensor, Tensor, Tensor]:
    """Gradients ``(dQ, dK, dV)`` of attention, by the formulas of the module docstring.

    Equal to what autograd gives through ``scaled_dot_product_attention`` (and through
    PyTorch's ``F.scaled_dot_product_attention``), fully masked rows included.

    Args:
        query: ``(..., L_q, d_k)``; key: ``(..., L_k, d_k)``; value: ``(..., L_k, d_v)``.
        grad_output: ``dO``, ``(..., L_q, d_v)``: the gradient of the loss with respect to
            the attention output.
        mask: optional boolean, broadcastable to ``(..., L_q, L_k)``, True = may attend.

    Returns:
        ``(dQ, dK, dV)``, each of the shape of its input (gradients summed over the
        batch dims an input was broadcast along).

    Raises:
        TypeError: as :func:`~companion.nn.attention.scaled_dot_product_attention`, and
            for a ``grad_output`` that is not a tensor.
        ValueError: as :func:`~companion.nn.attention.scaled_dot_product_attention`, and
            for a ``grad_output`` without the output's shape and dtype.
    """
    check_qkv(query, key, value)
    check_tensor("grad_output", grad_output)
    d_k = query.shape[-1]
    batch = torch.broadcast_shapes(query.shape[:-2], key.shape[:-2], value.shape[:-2])
    if mask is not None:
        batch = check_mask(mask, torch.Size((*batch, query.shape[-2], key.shape[-2])))[:-2]
    out_shape = torch.Size((*batch, query.shape[-2], value.shape[-1]))
    if grad_output.shape != out_shape or grad_output.dtype != query.dtype:
        raise ValueError(
            f"grad_output must have the output's shape {tuple(out_shape)} and dtype "
            f"{query.dtype}, got {tuple(grad_output.shape)} and {grad_output.dtype}"
        )
    scale = 1.0 / math.sqrt(d_k)
    with torch.no_grad():
        output, A = scaled_dot_product_attention(
            query, key, value, mask
        )  # (..., L_q, d_v), (..., L_q, L_k)
        dO = grad_output
        dV = A.transpose(-2, -1) @ dO  # (..., L_k, d_v)
        dA = dO @ value.transpose(-2, -1)  # (..., L_q, L_k)
        row = (dO * output).sum(dim=-1, keepdim=True)  # (..., L_q, 1): Σ_j A_j dA_j
        dS = A * (dA - row)  # (..., L_q, L_k); 0 where masked (A = 0)
        dQ = (dS @ key) * scale  # (..., L_q, d_k)
        dK = (dS.transpose(-2, -1) @ query) * scale  # (..., L_k, d_k)
    return dQ.sum_to_size(query.shape), dK.sum_to_size(key.shape), dV.sum_to_size(value.shape)
