"""companion.foundations.tensor_ops: broadcasting against torch.broadcast_shapes, einsum by
loops against torch.einsum (including the attention contractions)."""

from __future__ import annotations

import pytest
import torch

from companion.foundations.tensor_ops import broadcast_shape, einsum_by_loops


@pytest.mark.parametrize(
    "shapes",
    [
        [(2, 3, 4, 5), (1, 5)],
        [(2, 1, 4, 5), (3, 1, 5)],
        [(2, 3, 4, 5), (2, 1, 1, 5)],
        [(4, 1), (1, 6), (6,)],
        [(), (3, 2)],
        [(1,), (1,)],
        [(2, 0), (1, 0)],
    ],
)
def test_broadcast_shape_equals_torch(shapes):
    assert broadcast_shape(*shapes) == tuple(torch.broadcast_shapes(*shapes))


@pytest.mark.parametrize("shapes", [[(2, 3), (3, 2)], [(4, 5), (4,)], [(2, 3, 4), (5, 4)]])
def test_incompatible_shapes(shapes):
    with pytest.raises(RuntimeError):
        torch.broadcast_shapes(*shapes)
    with pytest.raises(ValueError, match="shapes must be broadcastable"):
        broadcast_shape(*shapes)


def test_broadcast_shape_rejects_non_shapes():
    with pytest.raises(TypeError, match="shapes must be sequences of ints"):
        broadcast_shape((2, 3.0))
    with pytest.raises(TypeError, match="shapes must be sequences of ints"):
        broadcast_shape("ab")


g = torch.Generator().manual_seed(0)


def _t(*shape):
    return torch.randn(*shape, generator=g, dtype=torch.float64)


@pytest.mark.parametrize(
    ("equation", "operands"),
    [
        ("ij,jk->ik", (_t(3, 4), _t(4, 2))),  # matrix product
        ("i,i->", (_t(5), _t(5))),  # inner product
        ("i,j->ij", (_t(3), _t(4))),  # outer product
        ("ii->", (_t(4, 4),)),  # trace
        ("ij->ji", (_t(2, 3),)),  # transpose
        ("bhqd,bhkd->bhqk", (_t(2, 2, 3, 4), _t(2, 2, 5, 4))),  # attention scores
        ("bhqk,bhkd->bhqd", (_t(2, 2, 3, 5), _t(2, 2, 5, 4))),  # weights times values
        ("bhld->blhd", (_t(2, 3, 4, 2),)),  # merging heads, before the reshape
        ("ij,jk,kl->il", (_t(2, 3), _t(3, 4), _t(4, 2))),
    ],
)
def test_einsum_by_loops_equals_torch(equation, operands):
    torch.testing.assert_close(
        einsum_by_loops(equation, *operands), torch.einsum(equation, *operands)
    )


def test_attention_scores_three_ways():
    Q, K = _t(2, 3, 4, 8), _t(2, 3, 5, 8)
    scores = einsum_by_loops("bhqd,bhkd->bhqk", Q, K)
    torch.testing.assert_close(scores, Q @ K.transpose(-2, -1))
    torch.testing.assert_close(scores, torch.einsum("bhqd,bhkd->bhqk", Q, K))


@pytest.mark.parametrize(
    ("equation", "operands", "match"),
    [
        ("ij,jk", (_t(2, 2), _t(2, 2)), "equation must be explicit"),
        ("...ij->ij", (_t(2, 2),), "equation must be explicit"),
        ("ij,jk->ik", (_t(2, 2),), "one term per operand"),
        ("ijk->i", (_t(2, 2),), "must name each of the 2 dimensions"),
        ("ij,jk->ik", (_t(2, 3), _t(4, 2)), "index 'j' must have one size, got 3 and 4"),
        ("ij->ik", (_t(2, 3),), "must use only the inputs' indices"),
    ],
)
def test_einsum_errors(equation, operands, match):
    with pytest.raises(ValueError, match=match):
        einsum_by_loops(equation, *operands)
