"""companion.nn attention against PyTorch's own (and a naive loop where it has no twin)."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F
from attention_inputs import random_mask
from torch import nn

from companion.nn.attention import causal_mask, padding_mask, scaled_dot_product_attention
from companion.nn.memory_efficient import memory_efficient_attention, online_softmax_steps
from companion.nn.multihead import MultiHeadAttention, split_heads
from companion.viz.probes import attention_entropy

DTYPES = [torch.float32, torch.float64]
TOL = {torch.float32: {"atol": 1e-5, "rtol": 1e-5}, torch.float64: {"atol": 1e-10, "rtol": 1e-10}}
# (batch dims of q/k/v, L_q, L_k, d_k, d_v)
SHAPES = [((), 5, 5, 4, 4), ((3,), 4, 7, 8, 5), ((2, 3), 6, 3, 4, 6), ((2, 1), 1, 9, 3, 2)]


def make_qkv(batch, L_q, L_k, d_k, d_v, dtype, seed=0, requires_grad=False):
    g = torch.Generator().manual_seed(seed)
    q = torch.randn(*batch, L_q, d_k, generator=g, dtype=dtype)
    k = torch.randn(*batch, L_k, d_k, generator=g, dtype=dtype)
    v = torch.randn(*batch, L_k, d_v, generator=g, dtype=dtype)
    return [t.requires_grad_(requires_grad) for t in (q, k, v)]


def torch_weights(q, k, mask=None):
    """PyTorch's attention weights, through its SDPA applied to an identity value matrix."""
    eye = torch.eye(k.shape[-2], dtype=q.dtype).expand(*k.shape[:-2], -1, -1)
    return F.scaled_dot_product_attention(q, k, eye, attn_mask=mask)


# ------------------------------------------------------------ scaled dot-product attention


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("masked", [False, True])
def test_sdpa_equals_pytorch(dtype, shape, masked):
    q, k, v = make_qkv(*shape, dtype)
    batch, L_q, L_k = shape[:3]
    mask = random_mask((*batch, L_q, L_k)) if masked else None
    out, weights = scaled_dot_product_attention(q, k, v, mask)
    torch.testing.assert_close(
        out, F.scaled_dot_product_attention(q, k, v, attn_mask=mask), **TOL[dtype]
    )
    torch.testing.assert_close(weights, torch_weights(q, k, mask), **TOL[dtype])
    assert out.shape == (*batch, L_q, shape[4])
    assert weights.shape == (*batch, L_q, L_k)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("mask_shape", [(6, 7), (1, 7), (3, 1, 7), (2, 1, 6, 7)])
def test_sdpa_broadcasts_the_mask(dtype, mask_shape):
    q, k, v = make_qkv((3,), 6, 7, 4, 5, dtype)
    mask = random_mask(mask_shape)
    out, weights = scaled_dot_product_attention(q, k, v, mask)
    shape = torch.broadcast_shapes(mask_shape, (3, 6, 7))  # the mask may add batch dims
    q, k, v = (t.expand(*shape[:-2], -1, -1) for t in (q, k, v))
    expected = F.scaled_dot_product_attention(q, k, v, attn_mask=mask)
    torch.testing.assert_close(out, expected, **TOL[dtype])
    assert weights.shape == shape


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize(("L_q", "L_k"), [(5, 5), (3, 6), (6, 3)])
def test_causal_mask_equals_is_causal(dtype, L_q, L_k):
    q, k, v = make_qkv((2,), L_q, L_k, 4, 4, dtype)
    mask = causal_mask(L_q, L_k)
    out, _ = scaled_dot_product_attention(q, k, v, mask)
    expected = F.scaled_dot_product_attention(q, k, v, is_causal=True)
    torch.testing.assert_close(out, expected, **TOL[dtype])


def test_causal_mask_values():
    assert causal_mask(3).tolist() == [
        [True, False, False],
        [True, True, False],
        [True, True, True],
    ]
    assert causal_mask(2, 3).shape == (2, 3)
    assert causal_mask(2, device="cpu").dtype == torch.bool


def test_padding_mask_values_and_use():
    mask = padding_mask(torch.tensor([2, 4, 0]), 4)
    assert mask.shape == (3, 1, 4)
    assert mask[:, 0].tolist() == [
        [True, True, False, False],
        [True, True, True, True],
        [False, False, False, False],
    ]
    q, k, v = make_qkv((3,), 5, 4, 4, 4, torch.float64)
    out, weights = scaled_dot_product_attention(q, k, v, mask)
    # the padded keys get no weight; the sequence of length 0 attends to nothing
    assert weights[0, :, 2:].abs().max() == 0
    assert out[2].abs().max() == 0
    expected, _ = scaled_dot_product_attention(q[0], k[0, :2], v[0, :2])
    torch.testing.assert_close(out[0], expected, **TOL[torch.float64])


@pytest.mark.parametrize("dtype", DTYPES)
def test_fully_masked_rows_are_zero_never_nan(dtype):
    q, k, v = make_qkv((2,), 4, 5, 3, 3, dtype, requires_grad=True)
    mask = random_mask((2, 4, 5), empty_rows=True)
    out, weights = scaled_dot_product_attention(q, k, v, mask)
    assert out[:, 0].abs().max() == 0
    assert weights[:, 0].abs().max() == 0
    torch.testing.assert_close(weights[:, 1:].sum(-1), torch.ones(2, 3, dtype=dtype))
    out.sum().backward()
    for t in (q, k, v):
        assert torch.isfinite(t.grad).all()
    assert q.grad[:, 0].abs().max() == 0
    # where PyTorch's output is defined (the other rows) it is equal
    ours, _ = scaled_dot_product_attention(q, k, v, mask)
    theirs = F.scaled_dot_product_attention(q, k, v, attn_mask=mask)
    torch.testing.assert_close(ours[:, 1:], theirs[:, 1:], **TOL[dtype])


def test_sdpa_gradients_equal_pytorch():
    q, k, v = make_qkv((2,), 4, 6, 3, 5, torch.float64, requires_grad=True)
    mask = random_mask((4, 6))
    grads = torch.autograd.grad(scaled_dot_product_attention(q, k, v, mask)[0].sum(), (q, k, v))
    expected = torch.autograd.grad(
        F.scaled_dot_product_attention(q, k, v, attn_mask=mask).sum(), (q, k, v)
    )
    for ours, theirs in zip(grads, expected, strict=True):
        torch.testing.assert_close(ours, theirs, **TOL[torch.float64])


def test_attention_is_permutation_equivariant():
    q, k, v = make_qkv((), 6, 6, 4, 4, torch.float64)
    perm = torch.randperm(6, generator=torch.Generator().manual_seed(3))
    out, _ = scaled_dot_product_attention(q, k, v)
    out_perm, _ = scaled_dot_product_attention(q[perm], k[perm], v[perm])
    torch.testing.assert_close(out_perm, out[perm], **TOL[torch.float64])


@pytest.mark.parametrize("block_size", [1, 3, 10])
def test_online_softmax_steps_end_at_the_direct_normaliser(block_size):
    s = torch.randn(10, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    steps = online_softmax_steps(s, block_size)
    assert len(steps) == math.ceil(10 / block_size)
    assert steps[-1]["max"] == float(s.max())
    assert steps[-1]["sum"] == pytest.approx(float(torch.exp(s - s.max()).sum()), rel=1e-12)
    for step in steps:  # after each block: the normaliser of the prefix seen so far
        prefix = s[: step["start"] + block_size]
        assert step["sum"] == pytest.approx(float(torch.exp(prefix - prefix.max()).sum()))


# ------------------------------------------------------------------------ error messages

_Q = torch.randn(2, 3, 4)
_K = torch.randn(2, 5, 4)
_V = torch.randn(2, 5, 6)
_MHA = MultiHeadAttention(8, 2)
_X = torch.randn(2, 3, 8)

ERRORS = [
    (
        lambda: scaled_dot_product_attention([1.0], _K, _V),
        TypeError,
        "query must be a torch.Tensor",
    ),
    (
        lambda: scaled_dot_product_attention(_Q, _K.long(), _V),
        TypeError,
        r"key must be a floating-point tensor, got dtype torch.int64",
    ),
    (
        lambda: scaled_dot_product_attention(_Q, _K, torch.randn(5)),
        ValueError,
        r"value must have shape \(..., L, d\) with 2\+ dims, got \(5,\)",
    ),
    (
        lambda: scaled_dot_product_attention(_Q, _K.double(), _V),
        TypeError,
        "must share one dtype, got torch.float32, torch.float64",
    ),
    (
        lambda: scaled_dot_product_attention(_Q, torch.randn(2, 5, 3), _V),
        ValueError,
        r"same d_k .* got query \(2, 3, 4\) and key \(2, 5, 3\)",
    ),
    (
        lambda: scaled_dot_product_attention(_Q, _K, torch.randn(2, 4, 6)),
        ValueError,
        r"same L_k .* got key \(2, 5, 4\) and value \(2, 4, 6\)",
    ),
    (
        lambda: scaled_dot_product_attention(_Q, torch.randn(3, 5, 4), torch.randn(3, 5, 6)),
        ValueError,
        "batch dims of query .* do not broadcast",
    ),
    (
        lambda: scaled_dot_product_attention(_Q, _K, _V, [[True]]),
        TypeError,
        "mask must be a torch.Tensor, got list",
    ),
    (
        lambda: scaled_dot_product_attention(_Q, _K, _V, torch.ones(3, 5)),
        TypeError,
        r"mask must be a boolean tensor \(True = may attend\), got torch.float32",
    ),
    (
        lambda: scaled_dot_product_attention(_Q, _K, _V, torch.ones(3, 4, dtype=torch.bool)),
        ValueError,
        r"mask of shape \(3, 4\) does not broadcast to \(..., L_q, L_k\) = \(2, 3, 5\)",
    ),
    (
        lambda: memory_efficient_attention(_Q, _K, _V, torch.ones(4, 5, dtype=torch.bool)),
        ValueError,
        r"mask of shape \(4, 5\) does not broadcast",
    ),
    (
        lambda: memory_efficient_attention(_Q.int(), _K, _V),
        TypeError,
        "query must be a floating-point tensor, got dtype torch.int32",
    ),
    (
        lambda: memory_efficient_attention(_Q, _K, _V, block_size=2.0),
        TypeError,
        "block_size must be an int, got float",
    ),
    (
        lambda: memory_efficient_attention(_Q, _K, _V, block_size=0),
        ValueError,
        "block_size must be an int >= 1, got 0",
    ),
    (lambda: causal_mask(3.0), TypeError, "L_q must be an int, got float"),
    (lambda: causal_mask(3, 0), ValueError, "L_k must be an int >= 1, got 0"),
    (lambda: padding_mask(torch.tensor([1]), 2.5), TypeError, "L must be an int, got float"),
    (lambda: padding_mask(torch.tensor([1]), 0), ValueError, "L must be an int >= 1, got 0"),
    (
        lambda: padding_mask(torch.tensor([1.0]), 3),
        TypeError,
        r"lengths must be an integer tensor of shape \(B,\), got torch.float32",
    ),
    (
        lambda: padding_mask(torch.tensor([[1]]), 3),
        ValueError,
        r"lengths must have shape \(B,\), got \(1, 1\)",
    ),
    (
        lambda: padding_mask(torch.tensor([1, 4]), 3),
        ValueError,
        r"lengths must lie in \[0, L=3\], got \[1, 4\]",
    ),
    (
        lambda: split_heads(_X, 3),
        ValueError,
        "D must be divisible by num_heads, got D=8 and num_heads=3",
    ),
    (lambda: MultiHeadAttention(8.0, 2), TypeError, "embed_dim must be an int, got float"),
    (lambda: MultiHeadAttention(8, 0), ValueError, "num_heads must be an int >= 1, got 0"),
    (
        lambda: MultiHeadAttention(10, 4),
        ValueError,
        "embed_dim must be divisible by num_heads, got embed_dim=10 and num_heads=4",
    ),
    (lambda: _MHA(_X, None, _X), TypeError, "key must be a torch.Tensor, got NoneType"),
    (
        lambda: _MHA(_X, _X, torch.randn(2, 3, 6)),
        ValueError,
        r"value must have shape \(B, L, 8\) \(D = embed_dim\), got \(2, 3, 6\)",
    ),
    (
        lambda: _MHA(_X, torch.randn(2, 4, 8), _X),
        ValueError,
        r"expected query \(B, L_q, D\), key and value \(B, L_k, D\), got .* key \(2, 4, 8\)",
    ),
    (
        lambda: _MHA(_X, _X, _X, torch.ones(5, 2, 3, 3, dtype=torch.bool)),
        ValueError,
        r"does not broadcast to \(..., L_q, L_k\) = \(2, 2, 3, 3\)",
    ),
    (
        lambda: _MHA(_X, _X, _X, torch.ones(3, 2, 1, 3, 3, dtype=torch.bool)),
        ValueError,
        r"does not broadcast to \(B, H, L_q, L_k\) = \(2, 2, 3, 3\)",
    ),
    (
        lambda: _MHA(_X, _X, _X, torch.ones(2, 3, 3)),
        TypeError,
        "mask must be a boolean tensor",
    ),
    (
        lambda: MultiHeadAttention.from_torch(nn.Linear(2, 2)),
        TypeError,
        "module must be a MultiheadAttention, got Linear",
    ),
    (
        lambda: MultiHeadAttention.from_torch(nn.MultiheadAttention(8, 2)),
        ValueError,
        "batch_first=True, got batch_first=False",
    ),
    (
        lambda: MultiHeadAttention.from_torch(
            nn.MultiheadAttention(8, 2, kdim=4, batch_first=True)
        ),
        ValueError,
        "kdim and vdim must equal embed_dim=8, got kdim=4, vdim=8",
    ),
    (
        lambda: MultiHeadAttention.from_torch(
            nn.MultiheadAttention(8, 2, add_bias_kv=True, batch_first=True)
        ),
        ValueError,
        "add_bias_kv=True and add_zero_attn=True are not supported",
    ),
    (
        lambda: attention_entropy(torch.tensor([1, 0])),
        TypeError,
        "weights must be a floating-point tensor, got dtype torch.int64",
    ),
    (
        lambda: online_softmax_steps(torch.zeros(2, 2), 1),
        ValueError,
        r"scores must be 1-D \(L,\), got shape \(2, 2\)",
    ),
    (
        lambda: online_softmax_steps(torch.zeros(4), 0),
        ValueError,
        "block_size must be an int >= 1, got 0",
    ),
]


@pytest.mark.parametrize(("call", "error", "match"), ERRORS)
def test_error_messages(call, error, match):
    with pytest.raises(error, match=match):
        call()


PATHS_TOL = {
    torch.float32: {"atol": 1e-6, "rtol": 1e-5},
    torch.float64: {"atol": 1e-12, "rtol": 1e-10},
}


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
    torch.testing.assert_close(out, expected, **PATHS_TOL[dtype])
    torch.testing.assert_close(out, out_grad.detach(), **PATHS_TOL[dtype])
    torch.testing.assert_close(w, w_grad.detach(), **PATHS_TOL[dtype])
    if masked:
        assert w[..., 1, :].abs().max() == 0


def test_the_autograd_path_still_differentiates_the_weights():
    (q, k, v), mask = _inputs(torch.float64, requires_grad=True)
    _, weights = scaled_dot_product_attention(q, k, v, mask)
    (grad_q,) = torch.autograd.grad(weights.square().sum(), q)
    assert torch.isfinite(grad_q).all()
    assert grad_q.abs().max() > 0
