"""Attention before Transformers: Nadaraya–Watson kernel regression, a soft dictionary lookup.

A dictionary returns the value of the one key that equals the query. A *soft* lookup
returns a weighted average of all the values, each weighted by how similar its key is to
the query. With a Gaussian kernel of bandwidth ``h`` (Nadaraya, 1964; Watson, 1964):

    f(q) = Σ_i w_i(q) v_i,     w_i(q) = softmax_i(−(q − k_i)² / (2h²))

Attention is the same average, with the similarity ``q·k / √d_k`` learned through the
projections ``W_Q`` and ``W_K`` instead of a fixed distance.
"""

from __future__ import annotations

import torch
from torch import Tensor

from companion.checks import check_floating, check_ndim, check_number

__all__ = ["kernel_regression"]


def kernel_regression(
    queries: Tensor, keys: Tensor, values: Tensor, *, bandwidth: float = 1.0
) -> tuple[Tensor, Tensor]:
    """Nadaraya–Watson regression with a Gaussian kernel: predictions and weights.

    Args:
        queries: ``(L_q,)`` points where to predict.
        keys: ``(L_k,)`` observed inputs; values: ``(L_k,)`` or ``(L_k, d_v)`` observed outputs.
        bandwidth: ``h > 0``, the kernel's width.

    Returns:
        ``(predictions, weights)``: ``(L_q,)`` (or ``(L_q, d_v)``) and ``(L_q, L_k)``, each
        row of the weights a softmax of ``−(q − k_i)² / (2h²)`` (it sums to 1).

    Raises:
        TypeError: inputs not floating-point tensors.
        ValueError: queries or keys not 1-D, values not of ``L_k`` rows, ``bandwidth``
            not positive.
    """
    for name, t in (("queries", queries), ("keys", keys), ("values", values)):
        check_floating(name, t)
    check_ndim("queries", queries, 1, "(L_q,)")
    check_ndim("keys", keys, 1, "(L_k,)")
    if values.ndim not in (1, 2) or values.shape[0] != keys.shape[0]:
        raise ValueError(
            f"values must have shape (L_k,) or (L_k, d_v) with L_k = {keys.shape[0]}, "
            f"got {tuple(values.shape)}"
        )
    check_number("bandwidth", bandwidth, low=0, low_open=True)
    scores = -((queries[:, None] - keys[None, :]) ** 2) / (2 * bandwidth**2)  # (L_q, L_k)
    weights = torch.softmax(scores, dim=-1)  # (L_q, L_k): one soft lookup per query
    return weights @ values, weights
