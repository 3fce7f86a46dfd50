"""scaled_dot_product_attention's two paths: in place without gradients, out of place with."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from companion.nn.attention import scaled_dot_product_attention

TOL = {torch.float32: {"atol": 1e-6, "rtol": 1e-5}, torch.float64: {"atol": 1e-12, "rtol": 1e-10}}


def _inputs(dtype, requires_grad=False):
    g = torch.Generator().manual_seed(0)
    q, k, v = (torch.randn(2, 3, 6, 4, generator=g, dtype=dtype) for _ in range(3))
    mask = torch.rand(2, 3, 6, 6, generator=g) > 0.4
    mask[..., 1, :] = False  # fully masked rows
    mask[..., 0, 0] = True
    return [t.requires_grad_(requires_grad) for t in (q, k, v)], mask


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("context", ["no_grad", "inference_mode", "no_requires_grad"])
@pytest.mark.parametrize("masked", [False, True])
def test_in_place_path_equals_pytorch_and_the_autograd_path(dtype, context, masked):
    (q, k, v), mask = _inputs(dtype)
    mask = mask if masked else None
    expected = F.scaled_dot_product_attention(q, k, v, attn_mask=mask)
    with_grad = [t.detach().clone().requires_grad_() for t in (q, k, v)]
    out_grad, w_grad = scaled_dot_product_attention(*with_grad, mask)
    assert out_grad.requires_grad
    if context == "no_grad":
        with torch.no_grad():
            out, w = scaled_dot_product_attention(q, k, v, mask)
    elif context == "inference_mode":
        with torch.inference_mode():
            out, w = scaled_dot_product_attention(q, k, v, mask)
    else:
        out, w = scaled_dot_product_attention(q, k, v, mask)
    torch.testing.assert_close(out, expected, **TOL[dtype])
    torch.testing.assert_close(out, out_grad.detach(), **TOL[dtype])
    torch.testing.assert_close(w, w_grad.detach(), **TOL[dtype])
    if masked:
        assert w[..., 1, :].abs().max() == 0


def test_the_autograd_path_still_differentiates_the_weights():
    (q, k, v), mask = _inputs(torch.float64, requires_grad=True)
    _, weights = scaled_dot_product_attention(q, k, v, mask)
    (grad_q,) = torch.autograd.grad(weights.square().sum(), q)
    assert torch.isfinite(grad_q).all()
    assert grad_q.abs().max() > 0
