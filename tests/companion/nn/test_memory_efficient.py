"""companion.nn.memory_efficient: forward and recompute backward against PyTorch's attention."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F
from attention_inputs import DTYPES, SHAPES, TOL, LargestFloatMatrix, make_inputs, random_mask

from companion.nn.attention import causal_mask, padding_mask, scaled_dot_product_attention
from companion.nn.memory_efficient import memory_efficient_attention, online_softmax_steps


def masks_for(batch, L_q, L_k):
    """No mask, causal, padding (one sequence empty), random with fully masked rows."""
    lengths = torch.arange(batch[-1] if batch else 1) % (L_k + 1)  # starts with a length 0
    return {
        "none": None,
        "causal": causal_mask(L_q, L_k),
        "padding": padding_mask(lengths, L_k) if batch else padding_mask(lengths, L_k)[0],
        "empty_rows": random_mask((*batch, L_q, L_k), empty_rows=True),
    }


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("block_size", [1, 2, 3, 128])
@pytest.mark.parametrize("mask_kind", ["none", "causal", "padding", "empty_rows"])
def test_output_and_gradients_equal_pytorch(dtype, shape, block_size, mask_kind):
    q, k, v, d_out = make_inputs(*shape, dtype)
    mask = masks_for(*shape[:3])[mask_kind]
    out = memory_efficient_attention(q, k, v, mask, block_size=block_size)
    expected = F.scaled_dot_product_attention(q, k, v, attn_mask=mask)
    torch.testing.assert_close(out, expected, **TOL[dtype])
    grads = torch.autograd.grad(out, (q, k, v), d_out)
    expected_grads = torch.autograd.grad(expected, (q, k, v), d_out)
    for a, b in zip(grads, expected_grads, strict=True):
        assert torch.isfinite(a).all()
        torch.testing.assert_close(a, b, **TOL[dtype])


@pytest.mark.parametrize("dtype", DTYPES)
def test_without_gradient_equals_direct(dtype):
    q, k, v, _ = make_inputs((2, 3), 9, 11, 4, 5, dtype)
    mask = random_mask((2, 3, 9, 11), empty_rows=True)
    with torch.no_grad():
        out = memory_efficient_attention(q, k, v, mask, block_size=4)
    expected, _ = scaled_dot_product_attention(q.detach(), k.detach(), v.detach(), mask)
    assert not out.requires_grad
    torch.testing.assert_close(out, expected, **TOL[dtype])


def test_row_masked_in_first_blocks_only():
    """A row whose first key blocks are all masked starts with a running max of -inf."""
    q, k, v, d_out = make_inputs((2,), 4, 9, 3, 3, torch.float64)
    mask = torch.ones(4, 9, dtype=torch.bool)
    mask[1, :7] = False
    mask[2, :] = False
    out = memory_efficient_attention(q, k, v, mask, block_size=2)
    expected, _ = scaled_dot_product_attention(q, k, v, mask)
    torch.testing.assert_close(out, expected, **TOL[torch.float64])
    grads = torch.autograd.grad(out, (q, k, v), d_out)
    expected_grads = torch.autograd.grad(expected, (q, k, v), d_out)
    for a, b in zip(grads, expected_grads, strict=True):
        torch.testing.assert_close(a, b, **TOL[torch.float64])
    assert grads[0][:, 2].abs().max() == 0


def test_broadcast_inputs_get_summed_gradients():
    g = torch.Generator().manual_seed(4)
    q = torch.randn(3, 4, 5, 4, generator=g, dtype=torch.float64, requires_grad=True)
    k = torch.randn(6, 4, generator=g, dtype=torch.float64, requires_grad=True)
    v = torch.randn(1, 4, 6, 2, generator=g, dtype=torch.float64, requires_grad=True)
    mask = padding_mask(torch.tensor([6, 2, 0]), 6)[:, None]  # (3, 1, 1, 6)
    out = memory_efficient_attention(q, k, v, mask, block_size=4)
    expected, _ = scaled_dot_product_attention(q, k, v, mask)
    torch.testing.assert_close(out, expected, **TOL[torch.float64])
    d_out = torch.randn(out.shape, generator=g, dtype=torch.float64)
    for a, b, x in zip(
        torch.autograd.grad(out, (q, k, v), d_out),
        torch.autograd.grad(expected, (q, k, v), d_out),
        (q, k, v),
        strict=True,
    ):
        assert a.shape == x.shape
        torch.testing.assert_close(a, b, **TOL[torch.float64])


def test_only_the_inputs_needing_a_gradient_get_one():
    q, k, v, d_out = make_inputs((2,), 5, 6, 3, 3, torch.float64)
    k.requires_grad_(False)
    out = memory_efficient_attention(q, k, v, block_size=4)
    out.backward(d_out)
    assert k.grad is None
    assert q.grad is not None
    assert v.grad is not None


def test_gradcheck():
    q, k, v, _ = make_inputs((2,), 3, 5, 2, 3, torch.float64)
    mask = random_mask((3, 5), empty_rows=True)
    assert torch.autograd.gradcheck(
        lambda a, b, c: memory_efficient_attention(a, b, c, mask, block_size=2), (q, k, v)
    )


@pytest.mark.parametrize("masked", [False, True])
def test_forward_and_backward_never_hold_the_score_matrix(masked):
    q, k, v, d_out = make_inputs((2,), 40, 48, 4, 4, torch.float32)
    mask = random_mask((40, 48)) if masked else None
    with LargestFloatMatrix() as blocked:
        out = memory_efficient_attention(q, k, v, mask, block_size=8)
        out.backward(d_out)
    assert blocked.largest == 8
    with LargestFloatMatrix() as direct:
        scaled_dot_product_attention(q, k, v, mask)[0].backward(d_out)
    assert direct.largest == 40


def test_saves_only_the_inputs_the_output_and_one_number_per_row():
    q, k, v, _ = make_inputs((2, 3), 40, 48, 4, 4, torch.float32)
    saved = []

    def pack(t):
        saved.append(t.shape)
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        memory_efficient_attention(q, k, v, block_size=8)
    # q, k, v; the output (2·3, 40, 4); one log-sum-exp per query row (2·3, 40, 1)
    expected = [q.shape, k.shape, v.shape, (6, 40, 4), (6, 40, 1)]
    assert sorted(math.prod(s) for s in saved) == sorted(math.prod(s) for s in expected)
    assert sum(math.prod(s) for s in saved) < 2 * 3 * 40 * 48  # less than one score matrix


@pytest.mark.parametrize("block_size", [1, 3, 4, 10])
def test_online_softmax_steps_end_at_the_direct_normaliser(block_size):
    s = torch.randn(10, generator=torch.Generator().manual_seed(5), dtype=torch.float64) * 3
    steps = online_softmax_steps(s, block_size)
    assert [step["start"] for step in steps] == list(range(0, 10, block_size))
    assert steps[-1]["max"] == pytest.approx(float(s.max()), abs=1e-12)
    assert steps[-1]["sum"] == pytest.approx(float(torch.exp(s - s.max()).sum()), rel=1e-12)


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"block_size": 2.0}, TypeError, "block_size must be an int, got float"),
        ({"block_size": True}, TypeError, "block_size must be an int, got bool"),
        ({"block_size": 0}, ValueError, "block_size must be an int >= 1, got 0"),
        ({"mask": torch.ones(4, 5)}, TypeError, "mask must be a boolean tensor"),
        ({"mask": torch.ones(3, 5, dtype=torch.bool)}, ValueError, "does not broadcast"),
    ],
)
def test_error_messages(kwargs, error, match):
    q, k, v = torch.zeros(4, 3), torch.zeros(5, 3), torch.zeros(5, 2)
    with pytest.raises(error, match=match):
        memory_efficient_attention(q, k, v, **kwargs)


def make_qkv(batch, L_q, L_k, d_k, d_v, dtype, seed=0, requires_grad=False):
    g = torch.Generator().manual_seed(seed)
    q = torch.randn(*batch, L_q, d_k, generator=g, dtype=dtype)
    k = torch.randn(*batch, L_k, d_k, generator=g, dtype=dtype)
    v = torch.randn(*batch, L_k, d_v, generator=g, dtype=dtype)
    return [t.requires_grad_(requires_grad) for t in (q, k, v)]


# --------------------------------------------------------------- memory-efficient attention


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("block_size", [1, 2, 3, 128])
def test_memory_efficient_equals_direct(dtype, shape, block_size):
    q, k, v = make_qkv(*shape, dtype)
    batch, L_q, L_k = shape[:3]
    mask = random_mask((*batch, L_q, L_k), empty_rows=L_q > 1)
    for m in (None, mask):
        expected, _ = scaled_dot_product_attention(q, k, v, m)
        out = memory_efficient_attention(q, k, v, m, block_size=block_size)
        torch.testing.assert_close(out, expected, **TOL[dtype])


def test_memory_efficient_row_masked_in_first_blocks_only():
    """A row whose first key blocks are all masked starts with a running max of -inf."""
    q, k, v = make_qkv((2,), 4, 9, 3, 3, torch.float64)
    mask = torch.ones(4, 9, dtype=torch.bool)
    mask[1, :7] = False
    mask[2, :] = False
    expected, _ = scaled_dot_product_attention(q, k, v, mask)
    out = memory_efficient_attention(q, k, v, mask, block_size=2)
    torch.testing.assert_close(out, expected, **TOL[torch.float64])
    assert torch.isfinite(out).all()


def test_memory_efficient_broadcast_mask_and_causal():
    q, k, v = make_qkv((3,), 7, 7, 4, 4, torch.float32)
    for mask in (causal_mask(7), padding_mask(torch.tensor([7, 3, 0]), 7)):
        expected, _ = scaled_dot_product_attention(q, k, v, mask)
        out = memory_efficient_attention(q, k, v, mask, block_size=3)
        torch.testing.assert_close(out, expected, **TOL[torch.float32])


def test_memory_efficient_gradients_equal_direct():
    q, k, v = make_qkv((2,), 5, 7, 3, 4, torch.float64, requires_grad=True)
    mask = random_mask((5, 7), empty_rows=True)
    ours = torch.autograd.grad(
        memory_efficient_attention(q, k, v, mask, block_size=2).square().sum(), (q, k, v)
    )
    direct = torch.autograd.grad(
        scaled_dot_product_attention(q, k, v, mask)[0].square().sum(), (q, k, v)
    )
    for a, b in zip(ours, direct, strict=True):
        assert torch.isfinite(a).all()
        torch.testing.assert_close(a, b, **TOL[torch.float64])


@pytest.mark.parametrize("masked", [False, True])
def test_memory_efficient_never_holds_the_score_matrix(masked):
    q, k, v = make_qkv((2,), 40, 48, 4, 4, torch.float32)
    mask = random_mask((40, 48)) if masked else None
    with LargestFloatMatrix() as direct:
        scaled_dot_product_attention(q, k, v, mask)
    with LargestFloatMatrix() as blocked:
        memory_efficient_attention(q, k, v, mask, block_size=8)
    assert direct.largest == 40
    assert blocked.largest == 8
