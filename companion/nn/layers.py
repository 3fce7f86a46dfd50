"""The two element-wise pieces of a Transformer block: LayerNorm and GELU.

LayerNorm normalises each token over its own ``D`` features (never over the batch), then
applies a learned scale ``γ`` and shift ``β``:

    LN(x) = γ ⊙ (x − μ) / √(σ² + ε) + β,   μ = mean(x),  σ² = mean((x − μ)²)   (per token)

GELU weights its input by the probability that a standard normal variable is below it:

    GELU(x) = x Φ(x) = x · ½ (1 + erf(x / √2))
    GELU_tanh(x) = ½ x (1 + tanh(√(2/π) (x + 0.044715 x³)))     (the tanh approximation)

Both are tested equal to ``torch.nn.functional.layer_norm`` and ``gelu``.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from companion.checks import check_choice, check_floating, check_number, check_shape

__all__ = ["gelu", "layer_norm"]


def layer_norm(
    x: Tensor,
    weight: Tensor | None = None,
    bias: Tensor | None = None,
    *,
    eps: float = 1e-5,
) -> Tensor:
    """LayerNorm over the last dimension, as ``F.layer_norm(x, (D,), weight, bias, eps)``.

    Args:
        x: ``(..., D)``: every token (every row) is normalised on its own.
        weight: optional scale ``γ`` of shape ``(D,)`` (1 when None).
        bias: optional shift ``β`` of shape ``(D,)`` (0 when None).
        eps: added to the variance, a positive float.

    Returns:
        ``(..., D)``: ``γ ⊙ (x − μ) / √(σ² + ε) + β`` with the biased variance ``σ²``.

    Raises:
        TypeError: ``x``, ``weight`` or ``bias`` not a floating-point tensor.
        ValueError: ``x`` with no feature dimension, ``weight``/``bias`` not of shape
            ``(D,)``, ``eps`` not positive.
    """
    check_floating("x", x)
    if x.ndim < 1:
        raise ValueError(f"x must have shape (..., D) with at least 1 dim, got {tuple(x.shape)}")
    D = x.shape[-1]
    for name, p in (("weight", weight), ("bias", bias)):
        if p is not None:
            check_floating(name, p)
            check_shape(name, p, (D,), "(D, the width of x)")
    check_number("eps", eps, low=0, low_open=True)
    mean = x.mean(dim=-1, keepdim=True)  # (..., 1): μ of each token
    centred = x - mean  # (..., D)
    var = (centred * centred).mean(dim=-1, keepdim=True)  # (..., 1): biased σ²
    y = centred * torch.rsqrt(var + eps)  # (..., D): mean 0, variance ≈ 1 per token
    if weight is not None:
        y = y * weight
    if bias is not None:
        y = y + bias
    return y


def gelu(x: Tensor, approximate: str = "none") -> Tensor:
    """GELU, ``x Φ(x)``, as ``F.gelu(x, approximate=...)``.

    Args:
        x: any shape.
        approximate: ``"none"`` for the exact ``x · ½ (1 + erf(x / √2))``, ``"tanh"`` for
            ``½ x (1 + tanh(√(2/π) (x + 0.044715 x³)))``.

    Returns:
        a tensor of the shape of ``x``.

    Raises:
        TypeError: ``x`` not a floating-point tensor.
        ValueError: ``approximate`` neither ``"none"`` nor ``"tanh"``.
    """
    check_floating("x", x)
    check_choice("approximate", approximate, ("none", "tanh"))
    if approximate == "none":
        return x * 0.5 * (1.0 + torch.erf(x / math.sqrt(2.0)))
    inner = math.sqrt(2.0 / math.pi) * (x + 0.044715 * x**3)  # approximate == "tanh"
    return 0.5 * x * (1.0 + torch.tanh(inner))
