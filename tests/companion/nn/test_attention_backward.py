"""companion.nn.attention_backward: the hand-derived gradients of attention against autograd."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from attention_inputs import DTYPES, SHAPES, TOL, make_inputs, random_mask

from companion.nn.attention import causal_mask, padding_mask, scaled_dot_product_attention
from companion.nn.attention_backward import attention_backward


def autograd_grads(q, k, v, d_out, mask, *, pytorch=False):
    if pytorch:
        out = F.scaled_dot_product_attention(q, k, v, attn_mask=mask)
    else:
        out = scaled_dot_product_attention(q, k, v, mask)[0]
    return torch.autograd.grad(out, (q, k, v), d_out)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("mask_kind", ["none", "random", "empty_rows"])
def test_attention_backward_equals_autograd(dtype, shape, mask_kind):
    q, k, v, d_out = make_inputs(*shape, dtype)
    batch, L_q, L_k = shape[:3]
    mask = {
        "none": None,
        "random": random_mask((*batch, L_q, L_k)),
        "empty_rows": random_mask((*batch, L_q, L_k), empty_rows=True),
    }[mask_kind]
    ours = attention_backward(q, k, v, d_out, mask)
    for pytorch in (False, True):
        expected = autograd_grads(q, k, v, d_out, mask, pytorch=pytorch)
        for a, b in zip(ours, expected, strict=True):
            torch.testing.assert_close(a, b, **TOL[dtype])


@pytest.mark.parametrize("dtype", DTYPES)
def test_causal_and_padding_masks(dtype):
    q, k, v, d_out = make_inputs((3,), 6, 6, 4, 5, dtype, seed=2)
    for mask in (causal_mask(6), padding_mask(torch.tensor([6, 2, 0]), 6)):
        ours = attention_backward(q, k, v, d_out, mask)
        expected = autograd_grads(q, k, v, d_out, mask, pytorch=True)
        for a, b in zip(ours, expected, strict=True):
            torch.testing.assert_close(a, b, **TOL[dtype])


def test_fully_masked_rows_get_zero_gradient():
    q, k, v, d_out = make_inputs((2,), 4, 5, 3, 3, torch.float64)
    mask = random_mask((2, 4, 5), empty_rows=True)
    dQ, dK, dV = attention_backward(q, k, v, d_out, mask)
    assert dQ[:, 0].abs().max() == 0
    assert all(torch.isfinite(t).all() for t in (dQ, dK, dV))


def test_broadcast_key_and_value_sum_their_gradients():
    """A key shared by every batch entry gets the sum of their gradients."""
    g = torch.Generator().manual_seed(4)
    q = torch.randn(3, 4, 5, 4, generator=g, dtype=torch.float64, requires_grad=True)
    k = torch.randn(5, 4, generator=g, dtype=torch.float64, requires_grad=True)
    v = torch.randn(1, 4, 5, 2, generator=g, dtype=torch.float64, requires_grad=True)
    d_out = torch.randn(3, 4, 5, 2, generator=g, dtype=torch.float64)
    mask = causal_mask(5)
    ours = attention_backward(q, k, v, d_out, mask)
    expected = autograd_grads(q, k, v, d_out, mask)
    for a, b, x in zip(ours, expected, (q, k, v), strict=True):
        assert a.shape == x.shape
        torch.testing.assert_close(a, b, **TOL[torch.float64])


@pytest.mark.parametrize(
    ("grad_output", "error", "match"),
    [
        ([1.0], TypeError, "grad_output must be a torch.Tensor, got list"),
        (torch.zeros(4, 3), ValueError, r"grad_output must have the output's shape \(4, 2\)"),
        (torch.zeros(4, 2, dtype=torch.float32), ValueError, "and dtype torch.float64"),
    ],
)
def test_error_messages(grad_output, error, match):
    q, k, v = (torch.randn(n, w, dtype=torch.float64) for n, w in ((4, 3), (5, 3), (5, 2)))
    with pytest.raises(error, match=match):
        attention_backward(q, k, v, grad_output)


def test_input_checks_are_the_attention_ones():
    with pytest.raises(ValueError, match="query and key must have the same d_k"):
        attention_backward(
            torch.zeros(4, 3), torch.zeros(5, 2), torch.zeros(5, 2), torch.zeros(4, 2)
        )
