"""Shared inputs of the attention tests: seeded q, k, v, upstream gradients and masks, and a
probe for the largest matrix an implementation builds (imported by the test files)."""

from __future__ import annotations

import torch
from torch.overrides import TorchFunctionMode

DTYPES = [torch.float32, torch.float64]
TOL = {torch.float32: {"atol": 1e-5, "rtol": 1e-5}, torch.float64: {"atol": 1e-10, "rtol": 1e-10}}
# (batch dims of q/k/v, L_q, L_k, d_k, d_v)
SHAPES = [((), 5, 5, 4, 4), ((3,), 4, 7, 8, 5), ((2, 3), 6, 3, 4, 6), ((2, 1), 1, 9, 3, 2)]


def make_inputs(batch, L_q, L_k, d_k, d_v, dtype, seed=0):
    """Seeded ``q (*batch, L_q, d_k)``, ``k``, ``v`` (requiring grad) and ``d_out``."""
    g = torch.Generator().manual_seed(seed)
    q = torch.randn(*batch, L_q, d_k, generator=g, dtype=dtype, requires_grad=True)
    k = torch.randn(*batch, L_k, d_k, generator=g, dtype=dtype, requires_grad=True)
    v = torch.randn(*batch, L_k, d_v, generator=g, dtype=dtype, requires_grad=True)
    d_out = torch.randn(*batch, L_q, d_v, generator=g, dtype=dtype)
    return q, k, v, d_out


def random_mask(shape, seed=1, *, empty_rows=False):
    """A random boolean mask (True = may attend); key 0 always allowed, unless
    ``empty_rows``, where query row 0 may attend to nothing."""
    g = torch.Generator().manual_seed(seed)
    mask = torch.rand(shape, generator=g) > 0.5
    mask[..., 0] = True
    if empty_rows:
        mask[..., 0, :] = False
    return mask


class LargestFloatMatrix(TorchFunctionMode):
    """Record the largest ``min(rows, columns)`` of every floating tensor torch returns.

    A tensor holding all ``L_q x L_k`` scores has ``min = min(L_q, L_k)``; blocks of
    ``b x b`` scores, the keys ``(L_k, d_k)`` or the output ``(L_q, d_v)`` have at most
    ``max(b, d_k, d_v)``.
    """

    def __init__(self) -> None:
        super().__init__()
        self.largest = 0

    def __torch_function__(self, func, types, args=(), kwargs=None):
        result = func(*args, **(kwargs or {}))
        for t in result if isinstance(result, tuple) else (result,):
            if isinstance(t, torch.Tensor) and t.ndim >= 2 and t.is_floating_point():
                self.largest = max(self.largest, min(t.shape[-2], t.shape[-1]))
        return result
