"""companion.metric.info_nce: InfoNCE and NT-Xent against loops over the definition and
against ``F.cross_entropy`` on the same logits."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F
from metric_references import tol

from companion.metric.info_nce import info_nce, nt_xent, positive_pairs, similarity_logits

DTYPES = [torch.float32, torch.float64]
TEMPERATURES = [0.05, 0.2, 1.0]


def _cos(u: list[float], v: list[float]) -> float:
    dot = sum(a * b for a, b in zip(u, v, strict=True))
    return dot / (math.sqrt(sum(a * a for a in u)) * math.sqrt(sum(b * b for b in v)))


def naive_info_nce(query, keys, positive, negative, temperature) -> float:
    """One term per positive pair, straight from the definition."""
    q, k = query.tolist(), keys.tolist()
    pos, neg = positive.tolist(), negative.tolist()
    terms = []
    for i in range(len(q)):
        for j in range(len(k)):
            if not pos[i][j]:
                continue
            top = math.exp(_cos(q[i], k[j]) / temperature)
            below = top + sum(
                math.exp(_cos(q[i], k[m]) / temperature) for m in range(len(k)) if neg[i][m]
            )
            terms.append(-math.log(top / below))
    return sum(terms) / len(terms) if terms else 0.0


def naive_nt_xent(z, ids, temperature) -> float:
    """Chen et al.'s ℓ(i, j) = −log(exp(s_ij/τ) / Σ_{k≠i} exp(s_ik/τ)) for each row and
    its other view, averaged over the rows."""
    rows, ids = z.tolist(), ids.tolist()
    terms = []
    for i in range(len(rows)):
        for j in range(len(rows)):
            if j == i or ids[j] != ids[i]:
                continue
            top = math.exp(_cos(rows[i], rows[j]) / temperature)
            below = sum(
                math.exp(_cos(rows[i], rows[m]) / temperature)
                for m in range(len(rows))
                if m != i and (m == j or ids[m] != ids[i])
            )
            terms.append(-math.log(top / below))
    return sum(terms) / len(terms)


def _data(q: int, k: int, d: int, dtype: torch.dtype, seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    return (
        torch.randn(q, d, generator=g, dtype=dtype),
        torch.randn(k, d, generator=g, dtype=dtype),
        g,
    )


# --- similarity_logits --------------------------------------------------------------------


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("temperature", TEMPERATURES)
def test_similarity_logits_are_pytorch_s_cosine_over_the_temperature(dtype, temperature):
    query, keys, _ = _data(5, 7, 4, dtype)
    want = F.cosine_similarity(query[:, None, :], keys[None, :, :], dim=2) / temperature
    torch.testing.assert_close(
        similarity_logits(query, keys, temperature=temperature), want, **tol(dtype)
    )


# --- info_nce ---------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("temperature", TEMPERATURES)
def test_one_positive_per_row_is_cross_entropy_on_the_same_logits(dtype, temperature):
    query, keys, g = _data(6, 9, 5, dtype)
    target = torch.randint(0, 9, (6,), generator=g)
    mask = F.one_hot(target, 9).bool()
    logits = F.cosine_similarity(query[:, None, :], keys[None, :, :], dim=2) / temperature
    got = info_nce(query, keys, mask, temperature=temperature)
    torch.testing.assert_close(got, F.cross_entropy(logits, target), **tol(dtype))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("temperature", TEMPERATURES)
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_random_masks_match_the_loop(dtype, temperature, seed):
    query, keys, g = _data(5, 8, 3, dtype, seed)
    positive = torch.rand(5, 8, generator=g) < 0.3
    negative = ~positive & (torch.rand(5, 8, generator=g) < 0.7)  # some keys left out
    got = info_nce(query, keys, positive, temperature=temperature, negative_mask=negative)
    want = naive_info_nce(query, keys, positive, negative, temperature)
    torch.testing.assert_close(got, torch.tensor(want, dtype=dtype), **tol(dtype))


def test_the_default_negatives_are_every_key_not_a_positive():
    query, keys, g = _data(4, 6, 3, torch.float64)
    positive = torch.rand(4, 6, generator=g) < 0.4
    got = info_nce(query, keys, positive, temperature=0.3)
    want = naive_info_nce(query, keys, positive, ~positive, 0.3)
    torch.testing.assert_close(got, torch.tensor(want, dtype=torch.float64))


def test_no_positive_pair_gives_zero_with_a_gradient():
    query, keys, _ = _data(3, 4, 2, torch.float32)
    query.requires_grad_(True)
    loss = info_nce(query, keys, torch.zeros(3, 4, dtype=torch.bool), temperature=0.2)
    loss.backward()
    assert loss.item() == 0.0
    assert torch.equal(query.grad, torch.zeros_like(query))


def test_a_row_without_negatives_costs_nothing_and_has_a_finite_gradient():
    query, keys, _ = _data(2, 3, 4, torch.float64)
    query.requires_grad_(True)
    positive = torch.tensor([[True, False, False], [False, True, False]])
    negative = torch.tensor([[False, False, False], [True, False, True]])
    loss = info_nce(query, keys, positive, temperature=0.5, negative_mask=negative)
    want = naive_info_nce(query.detach(), keys, positive, negative, 0.5)
    torch.testing.assert_close(loss, torch.tensor(want, dtype=torch.float64))
    loss.backward()
    assert torch.isfinite(query.grad).all()
    assert torch.equal(query.grad[0], torch.zeros(4, dtype=torch.float64))  # ℓ = 0 there


def test_info_nce_gradient_matches_finite_differences():
    query, keys, g = _data(3, 5, 4, torch.float64)
    positive = torch.rand(3, 5, generator=g) < 0.4
    positive[:, 0] = True
    torch.autograd.gradcheck(
        lambda q, k: info_nce(q, k, positive, temperature=0.3),
        (query.requires_grad_(True), keys.requires_grad_(True)),
    )


def test_a_lower_temperature_weighs_the_hardest_negative_more():
    """The gradient on the negatives is softmax-weighted: at a low τ the most similar
    negative takes most of it."""
    query = torch.tensor([[1.0, 0.0]])
    keys = torch.tensor([[1.0, 0.1], [0.8, 0.6], [0.0, 1.0]], requires_grad=True)
    positive = torch.tensor([[True, False, False]])
    shares = []
    for temperature in (1.0, 0.1):
        keys.grad = None
        info_nce(query, keys, positive, temperature=temperature).backward()
        pull = keys.grad[1:].norm(dim=1)  # (2,): the hard and the easy negative
        shares.append((pull[0] / pull.sum()).item())
    assert shares[1] > shares[0] > 0.5


# --- nt_xent ----------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("temperature", TEMPERATURES)
def test_nt_xent_matches_the_loop(dtype, temperature):
    z, _, _ = _data(10, 1, 6, dtype)
    ids = torch.arange(5).repeat(2)
    want = naive_nt_xent(z, ids, temperature)
    got = nt_xent(z, ids, temperature=temperature)
    torch.testing.assert_close(got, torch.tensor(want, dtype=dtype), **tol(dtype))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("temperature", TEMPERATURES)
def test_nt_xent_is_cross_entropy_with_the_diagonal_masked(dtype, temperature):
    """SimCLR's usual code: the (2B, 2B) logits, the diagonal at −∞, the target of row b
    is b + B (and of row B + b, b)."""
    b = 6
    z, _, _ = _data(2 * b, 1, 5, dtype, seed=3)
    logits = F.cosine_similarity(z[:, None, :], z[None, :, :], dim=2) / temperature
    logits = logits.masked_fill(torch.eye(2 * b, dtype=torch.bool), float("-inf"))
    target = torch.cat([torch.arange(b, 2 * b), torch.arange(b)])
    got = nt_xent(z, torch.arange(b).repeat(2), temperature=temperature)
    torch.testing.assert_close(got, F.cross_entropy(logits, target), **tol(dtype))


def test_nt_xent_follows_the_ids_not_the_row_order():
    z, _, g = _data(8, 1, 3, torch.float64)
    ids = torch.arange(4).repeat(2)
    order = torch.randperm(8, generator=g)
    torch.testing.assert_close(nt_xent(z[order], ids[order]), nt_xent(z, ids))


def test_nt_xent_with_three_views_matches_the_loop():
    z, _, _ = _data(9, 1, 4, torch.float64)
    ids = torch.arange(3).repeat(3)
    got = nt_xent(z, ids, temperature=0.5)
    # each positive competes with the negatives only (the other positive left out)
    positive, negative = positive_pairs(ids)
    want = naive_info_nce(z, z, positive, negative, 0.5)
    torch.testing.assert_close(got, torch.tensor(want, dtype=torch.float64))


def test_nt_xent_gradient_is_finite_and_matches_finite_differences():
    z, _, _ = _data(6, 1, 3, torch.float64)
    z.requires_grad_(True)
    ids = torch.arange(3).repeat(2)
    torch.autograd.gradcheck(lambda x: nt_xent(x, ids, temperature=0.2), (z,))
    low = torch.randn(6, 3, requires_grad=True)
    nt_xent(low, ids, temperature=0.01).backward()
    assert torch.isfinite(low.grad).all()


def test_positive_pairs_leave_the_diagonal_out():
    positive, negative = positive_pairs(torch.tensor([0, 1, 0, 1]))
    eye = torch.eye(4, dtype=torch.bool)
    assert not (positive & eye).any()
    assert not (negative & eye).any()
    assert positive.tolist()[0] == [False, False, True, False]
    assert negative.tolist()[0] == [False, True, False, True]


# --- errors -------------------------------------------------------------------------------


def test_errors_name_what_was_expected_and_what_came():
    q, k = torch.randn(3, 4), torch.randn(5, 4)
    mask = torch.zeros(3, 5, dtype=torch.bool)
    with pytest.raises(
        TypeError, match="query must be a floating-point tensor, got dtype torch.int64"
    ):
        info_nce(torch.ones(3, 4, dtype=torch.long), k, mask, temperature=0.1)
    with pytest.raises(ValueError, match=r"query must be 2-D \(Q, D\), got shape \(4,\)"):
        info_nce(torch.randn(4), k, mask, temperature=0.1)
    with pytest.raises(
        ValueError, match=r"keys must have shape \(5, 4\) \(K, D of query\), got \(5, 3\)"
    ):
        info_nce(q, torch.randn(5, 3), mask, temperature=0.1)
    with pytest.raises(TypeError, match=r"keys must have the dtype of query \(torch.float32\)"):
        info_nce(q, k.double(), mask, temperature=0.1)
    with pytest.raises(ValueError, match=r"temperature must be a finite number > 0, got 0"):
        info_nce(q, k, mask, temperature=0)
    with pytest.raises(
        TypeError,
        match=r"positive_mask must be a boolean tensor \(True for a positive pair\), got torch.int",
    ):
        info_nce(q, k, mask.long(), temperature=0.1)
    with pytest.raises(
        ValueError, match=r"positive_mask must have shape \(3, 5\) \(Q, K\), got \(5, 3\)"
    ):
        info_nce(q, k, mask.T, temperature=0.1)
    with pytest.raises(
        TypeError, match=r"negative_mask must be a boolean tensor \(True for a negative pair\)"
    ):
        info_nce(q, k, mask, temperature=0.1, negative_mask=mask.float())
    with pytest.raises(
        ValueError, match=r"negative_mask must have shape \(3, 5\) \(Q, K\), got \(3, 4\)"
    ):
        info_nce(q, k, mask, temperature=0.1, negative_mask=torch.ones(3, 4, dtype=torch.bool))
    with pytest.raises(
        ValueError, match="positive_mask and negative_mask must not share a pair, got 15 shared"
    ):
        info_nce(q, k, ~mask, temperature=0.1, negative_mask=~mask)


def test_nt_xent_errors():
    z = torch.randn(4, 3)
    with pytest.raises(
        ValueError, match=r"instance_ids must have shape \(4,\) \(one label per row\), got \(3,\)"
    ):
        nt_xent(z, torch.tensor([0, 1, 0]))
    with pytest.raises(TypeError, match="instance_ids must be a torch.Tensor, got list"):
        nt_xent(z, [0, 1, 0, 1])
    with pytest.raises(
        TypeError, match="instance_ids must be an integer tensor, got dtype torch.float32"
    ):
        nt_xent(z, torch.tensor([0.0, 1.0, 0.0, 1.0]))
    with pytest.raises(
        ValueError,
        match=r"instance_ids must name each image at least twice \(two views\), got id 2 once",
    ):
        nt_xent(z, torch.tensor([0, 2, 0, 1]))
    with pytest.raises(ValueError, match=r"embeddings must be 2-D \(N, D\), got shape \(4,\)"):
        nt_xent(torch.randn(4), torch.arange(2).repeat(2))
    with pytest.raises(ValueError, match=r"instance_ids must be 1-D \(N,\), got shape \(2, 2\)"):
        positive_pairs(torch.zeros(2, 2, dtype=torch.long))
