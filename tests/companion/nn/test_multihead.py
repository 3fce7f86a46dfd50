"""companion.nn.multihead: multi-head attention against nn.MultiheadAttention."""

from __future__ import annotations

import pytest
import torch
from attention_inputs import random_mask
from torch import nn

from companion.nn.attention import causal_mask, padding_mask
from companion.nn.multihead import MultiHeadAttention, merge_heads, split_heads

DTYPES = [torch.float32, torch.float64]
TOL = {torch.float32: {"atol": 1e-5, "rtol": 1e-5}, torch.float64: {"atol": 1e-10, "rtol": 1e-10}}


# ------------------------------------------------------------------- multi-head attention


def make_torch_mha(E, H, dtype, bias=True, seed=0):
    torch.manual_seed(seed)
    m = nn.MultiheadAttention(E, H, bias=bias, batch_first=True, dtype=dtype)
    if bias:  # PyTorch initialises the biases to 0; make them matter
        with torch.no_grad():
            m.in_proj_bias.normal_()
            m.out_proj.bias.normal_()
    return m.eval()


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize(("E", "H", "L_q", "L_k"), [(8, 2, 5, 5), (12, 3, 4, 7), (6, 1, 3, 2)])
def test_mha_from_torch_equals_torch(dtype, bias, E, H, L_q, L_k):
    theirs = make_torch_mha(E, H, dtype, bias)
    ours = MultiHeadAttention.from_torch(theirs)
    g = torch.Generator().manual_seed(1)
    x = torch.randn(2, L_q, E, generator=g, dtype=dtype)
    y = torch.randn(2, L_k, E, generator=g, dtype=dtype)
    out, weights = ours(x, y, y)
    expected, expected_w = theirs(x, y, y, average_attn_weights=False)
    torch.testing.assert_close(out, expected, **TOL[dtype])
    torch.testing.assert_close(weights, expected_w, **TOL[dtype])
    assert weights.shape == (2, H, L_q, L_k)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("mask_shape", [(5, 6), (2, 5, 6), (2, 3, 5, 6), (2, 1, 6)])
def test_mha_masks_equal_torch(dtype, mask_shape):
    theirs = make_torch_mha(12, 3, dtype)
    ours = MultiHeadAttention.from_torch(theirs)
    g = torch.Generator().manual_seed(2)
    x = torch.randn(2, 5, 12, generator=g, dtype=dtype)
    y = torch.randn(2, 6, 12, generator=g, dtype=dtype)
    mask = random_mask(mask_shape)
    out, weights = ours(x, y, y, mask)
    # PyTorch's boolean attn_mask is True where attending is NOT allowed, of shape
    # (L_q, L_k) or (B·H, L_q, L_k)
    full = mask.unsqueeze(1) if mask.ndim == 3 else mask
    torch_mask = ~full.expand(2, 3, 5, 6).reshape(6, 5, 6)
    expected, expected_w = theirs(x, y, y, attn_mask=torch_mask, average_attn_weights=False)
    torch.testing.assert_close(out, expected, **TOL[dtype])
    torch.testing.assert_close(weights, expected_w, **TOL[dtype])


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("mask_kind", ["none", "random", "causal", "padding", "empty_rows"])
def test_mha_need_weights_false_equals_true(dtype, mask_kind):
    torch.manual_seed(0)
    mha = MultiHeadAttention(16, 4).to(dtype)
    x = torch.randn(3, 6, 16, dtype=dtype)
    mask = {
        "none": None,
        "random": random_mask((3, 6, 6)),
        "causal": causal_mask(6),
        "padding": padding_mask(torch.tensor([6, 2, 0]), 6),
        "empty_rows": random_mask((3, 4, 6, 6), empty_rows=True),
    }[mask_kind]
    out, weights = mha(x, x, x, mask)
    fast, none = mha(x, x, x, mask, need_weights=False)
    assert none is None
    assert weights is not None
    torch.testing.assert_close(fast, out, **TOL[dtype])
    assert torch.isfinite(fast).all()


def test_mha_is_differentiable_and_heads_round_trip():
    torch.manual_seed(0)
    mha = MultiHeadAttention(8, 2)
    x = torch.randn(2, 5, 8, requires_grad=True)
    out, _ = mha(x, x, x, causal_mask(5), need_weights=False)
    out.sum().backward()
    assert x.grad is not None
    assert all(p.grad is not None for p in mha.parameters())
    assert split_heads(x, 2).shape == (2, 2, 5, 4)
    torch.testing.assert_close(merge_heads(split_heads(x, 2)), x)
