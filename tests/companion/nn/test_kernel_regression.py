"""companion.nn.kernel_regression against a naive loop, and as dot-product attention."""

from __future__ import annotations

import math

import pytest
import torch

from companion.nn.attention import scaled_dot_product_attention
from companion.nn.kernel_regression import kernel_regression

DTYPES = [torch.float32, torch.float64]
TOL = {torch.float32: {"atol": 1e-5, "rtol": 1e-5}, torch.float64: {"atol": 1e-10, "rtol": 1e-10}}


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("bandwidth", [0.3, 1.0])
@pytest.mark.parametrize("d_v", [None, 3])
def test_equals_a_loop(dtype, bandwidth, d_v):
    g = torch.Generator().manual_seed(0)
    queries, keys = (
        torch.randn(5, generator=g, dtype=dtype),
        torch.randn(7, generator=g, dtype=dtype),
    )
    values = torch.randn(7, *((d_v,) if d_v else ()), generator=g, dtype=dtype)
    predictions, weights = kernel_regression(queries, keys, values, bandwidth=bandwidth)
    for i, q in enumerate(queries.tolist()):
        kernel = [math.exp(-((q - k) ** 2) / (2 * bandwidth**2)) for k in keys.tolist()]
        w = torch.tensor([c / sum(kernel) for c in kernel], dtype=dtype)
        torch.testing.assert_close(weights[i], w, **TOL[dtype])
        torch.testing.assert_close(
            predictions[i],
            (w[:, None] * values.reshape(7, -1)).sum(0).reshape(values.shape[1:]),
            **TOL[dtype],
        )


def test_is_dot_product_attention_with_augmented_vectors():
    """−(q − k)²/2 = q·k − k²/2 − q²/2, and the q² term cancels in each row's softmax."""
    g = torch.Generator().manual_seed(1)
    queries, keys = (
        torch.randn(4, generator=g, dtype=torch.float64),
        torch.randn(6, generator=g, dtype=torch.float64),
    )
    values = torch.randn(6, 2, generator=g, dtype=torch.float64)
    q = torch.stack([queries, torch.ones(4, dtype=torch.float64)], dim=-1) * math.sqrt(math.sqrt(2))
    k = torch.stack([keys, -(keys**2) / 2], dim=-1) * math.sqrt(math.sqrt(2))  # d_k = 2: undo 1/√2
    out, weights = scaled_dot_product_attention(q, k, values)
    expected, expected_weights = kernel_regression(queries, keys, values)
    torch.testing.assert_close(weights, expected_weights)
    torch.testing.assert_close(out, expected)


@pytest.mark.parametrize(
    ("call", "error", "match"),
    [
        (
            lambda: kernel_regression([0.0], torch.zeros(2), torch.zeros(2)),
            TypeError,
            "queries must be a torch.Tensor",
        ),
        (
            lambda: kernel_regression(torch.zeros(2, 1), torch.zeros(2), torch.zeros(2)),
            ValueError,
            r"queries must be 1-D \(L_q,\), got shape \(2, 1\)",
        ),
        (
            lambda: kernel_regression(torch.zeros(2), torch.zeros(2, 1), torch.zeros(2)),
            ValueError,
            r"keys must be 1-D \(L_k,\), got shape \(2, 1\)",
        ),
        (
            lambda: kernel_regression(torch.zeros(2), torch.zeros(3), torch.zeros(2)),
            ValueError,
            r"values must have shape \(L_k,\) or \(L_k, d_v\) with L_k = 3",
        ),
        (
            lambda: kernel_regression(torch.zeros(2), torch.zeros(2), torch.zeros(2), bandwidth=0),
            ValueError,
            "bandwidth must be a finite number > 0",
        ),
    ],
)
def test_error_messages(call, error, match):
    with pytest.raises(error, match=match):
        call()
