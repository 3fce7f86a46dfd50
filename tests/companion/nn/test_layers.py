"""companion.nn.layers: layer_norm and gelu against torch.nn.functional."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from companion.nn.layers import gelu, layer_norm

DTYPES = [torch.float32, torch.float64]
TOL = {torch.float32: {"atol": 1e-5, "rtol": 1e-5}, torch.float64: {"atol": 1e-10, "rtol": 1e-10}}
SHAPES = [(7,), (3, 5), (2, 4, 16), (2, 3, 4, 8)]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("affine", [False, True])
@pytest.mark.parametrize("eps", [1e-5, 1e-6])
def test_layer_norm_equals_pytorch(dtype, shape, affine, eps):
    g = torch.Generator().manual_seed(0)
    x = 3 * torch.randn(shape, generator=g, dtype=dtype) + 1
    D = shape[-1]
    weight = torch.randn(D, generator=g, dtype=dtype) if affine else None
    bias = torch.randn(D, generator=g, dtype=dtype) if affine else None
    expected = F.layer_norm(x, (D,), weight, bias, eps)
    torch.testing.assert_close(layer_norm(x, weight, bias, eps=eps), expected, **TOL[dtype])


@pytest.mark.parametrize("dtype", DTYPES)
def test_layer_norm_gradients_equal_pytorch(dtype):
    g = torch.Generator().manual_seed(1)
    x = torch.randn(3, 4, 6, generator=g, dtype=dtype, requires_grad=True)
    w = torch.randn(6, generator=g, dtype=dtype, requires_grad=True)
    b = torch.randn(6, generator=g, dtype=dtype, requires_grad=True)
    d_out = torch.randn(3, 4, 6, generator=g, dtype=dtype)
    ours = torch.autograd.grad(layer_norm(x, w, b), (x, w, b), d_out)
    theirs = torch.autograd.grad(F.layer_norm(x, (6,), w, b), (x, w, b), d_out)
    for a, e in zip(ours, theirs, strict=True):
        torch.testing.assert_close(a, e, **TOL[dtype])


def test_layer_norm_normalises_each_token_not_the_batch():
    x = torch.randn(5, 8, generator=torch.Generator().manual_seed(2), dtype=torch.float64) * 4
    y = layer_norm(x)
    torch.testing.assert_close(y.mean(-1), torch.zeros(5, dtype=torch.float64), atol=1e-12, rtol=0)
    torch.testing.assert_close(
        y.var(-1, unbiased=False), torch.ones(5, dtype=torch.float64), atol=1e-4, rtol=0
    )
    # one token's result does not depend on the other tokens of the batch
    torch.testing.assert_close(layer_norm(x[:1]), y[:1], atol=1e-12, rtol=0)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("approximate", ["none", "tanh"])
def test_gelu_equals_pytorch(dtype, shape, approximate):
    x = 4 * torch.randn(shape, generator=torch.Generator().manual_seed(3), dtype=dtype)
    expected = F.gelu(x, approximate=approximate)
    torch.testing.assert_close(gelu(x, approximate), expected, **TOL[dtype])


def test_gelu_at_known_points():
    x = torch.tensor([0.0, 10.0, -10.0], dtype=torch.float64)
    torch.testing.assert_close(gelu(x), torch.tensor([0.0, 10.0, 0.0], dtype=torch.float64))


@pytest.mark.parametrize(
    ("call", "error", "match"),
    [
        (lambda: layer_norm([1.0]), TypeError, "x must be a torch.Tensor, got list"),
        (lambda: layer_norm(torch.tensor(1.0)), ValueError, r"x must have shape \(\.\.\., D\)"),
        (
            lambda: layer_norm(torch.zeros(2, 3), torch.ones(4)),
            ValueError,
            r"weight must have shape \(3,\) \(D, the width of x\), got \(4,\)",
        ),
        (
            lambda: layer_norm(torch.zeros(2, 3), None, torch.ones(2, 3)),
            ValueError,
            r"bias must have shape \(3,\) \(D, the width of x\), got \(2, 3\)",
        ),
        (
            lambda: layer_norm(torch.zeros(2, 3), torch.ones(3, dtype=torch.int64)),
            TypeError,
            "weight must be a floating-point tensor",
        ),
        (
            lambda: layer_norm(torch.zeros(2, 3), eps=0.0),
            ValueError,
            "eps must be a finite number > 0",
        ),
        (lambda: gelu(torch.ones(2, dtype=torch.int64)), TypeError, "x must be a floating"),
        (
            lambda: gelu(torch.ones(2), "erf"),
            ValueError,
            "approximate must be one of 'none', 'tanh'",
        ),
    ],
)
def test_error_messages(call, error, match):
    with pytest.raises(error, match=match):
        call()
