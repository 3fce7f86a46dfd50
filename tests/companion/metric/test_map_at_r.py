"""companion.metric.map_at_r: MAP@R against a loop over its definition (Musgrave et al.
2020, §3.2) in both modes, with and without ties; small cases worked by hand; Recall@1
where every query has ``R = 1``; queries with ``R = 0`` left out; one test per message."""

from __future__ import annotations

import pytest
import torch
from metric_references import naive_map_at_r

from companion.metric.map_at_r import map_at_r
from companion.metric.retrieval import mean_average_precision, recall_at_k

DTYPES = [torch.float32, torch.float64]
MODES = ["leave_one_out", "reference"]


def _tol(dtype: torch.dtype) -> float:
    return 1e-6 if dtype == torch.float32 else 1e-12


def make_case(
    mode: str, dtype: torch.dtype, grid: bool, seed: int, classes: int = 3
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None, torch.Tensor | None]:
    """``(query, query_labels, reference, reference_labels)``: 14 queries, and no reference
    (leave-one-out) or 11 reference rows; on a small integer ``grid`` many distances tie."""
    g = torch.Generator().manual_seed(seed)

    def rows(n: int) -> tuple[torch.Tensor, torch.Tensor]:
        labels = torch.randint(0, classes, (n,), generator=g)
        if grid:
            return torch.randint(0, 3, (n, 3), generator=g).to(dtype), labels
        return torch.randn(n, 3, generator=g, dtype=dtype) + labels[:, None].to(dtype), labels

    query, query_labels = rows(14)
    if mode == "leave_one_out":
        return query, query_labels, None, None
    return query, query_labels, *rows(11)


# --- against the loop --------------------------------------------------------------------


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("grid", [False, True], ids=["continuous", "ties"])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_map_at_r_matches_loop(dtype, mode, grid, seed):
    args = make_case(mode, dtype, grid, seed, classes=2 + seed)
    expected = naive_map_at_r(*args)
    got = map_at_r(*args)
    assert isinstance(got, float)
    assert 0.0 <= got <= 1.0
    assert got == pytest.approx(expected, abs=_tol(dtype))


# --- by hand -----------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", DTYPES)
def test_map_at_r_by_hand_against_a_reference(dtype):
    # R = 2; ranking: relevant, irrelevant | relevant, irrelevant
    query = torch.zeros(1, 1, dtype=dtype)
    reference = torch.tensor([[1.0], [2.0], [3.0], [4.0]], dtype=dtype)
    args = (query, torch.tensor([0]), reference, torch.tensor([0, 1, 0, 1]))
    assert map_at_r(*args) == pytest.approx(0.5)  # (1/2)(1/1 + 0)
    assert mean_average_precision(*args) == pytest.approx((1 + 2 / 3) / 2)  # looks past R
    swapped = (query, torch.tensor([0]), reference, torch.tensor([1, 0, 1, 0]))
    assert map_at_r(*swapped) == pytest.approx(0.25)  # (1/2)(0 + 1/2)


@pytest.mark.parametrize("dtype", DTYPES)
def test_map_at_r_by_hand_leave_one_out(dtype):
    x = torch.tensor([[0.0], [1.0], [2.0], [10.0]], dtype=dtype)
    labels = torch.tensor([0, 0, 1, 0])
    # row 0: 1 (rel), 2 -> 1/2; row 1: 0 and 2 tie, 0 first (rel), 2 -> 1/2;
    # row 2: R = 0, left out; row 3: 2, 1 (rel) -> (1/2)(1/2)
    assert map_at_r(x, labels) == pytest.approx((0.5 + 0.5 + 0.25) / 3, abs=_tol(dtype))


def test_map_at_r_of_separated_and_of_interleaved_classes():
    x = torch.tensor([[0.0], [0.1], [0.2], [5.0], [5.1], [5.2]])
    assert map_at_r(x, torch.tensor([0, 0, 0, 1, 1, 1])) == 1.0
    # leave-one-out each row's R = 1 nearest neighbour has the other label
    assert map_at_r(torch.tensor([[0.0], [1.0], [3.0], [4.0]]), torch.tensor([0, 1, 1, 0])) == 0.0


def test_tied_neighbours_come_in_index_order_not_grouped():
    # two reference rows at distance 1, R = 1: the lower index decides, no 1/2 credit
    query, reference = torch.zeros(1, 1), torch.tensor([[-1.0], [1.0]])
    assert map_at_r(query, torch.tensor([0]), reference, torch.tensor([0, 1])) == 1.0
    assert map_at_r(query, torch.tensor([0]), reference, torch.tensor([1, 0])) == 0.0
    assert mean_average_precision(
        query, torch.tensor([0]), reference, torch.tensor([1, 0])
    ) == pytest.approx(0.5)


# --- relations ---------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("grid", [False, True], ids=["continuous", "ties"])
def test_map_at_r_is_recall_at_one_where_r_is_one(dtype, grid):
    g = torch.Generator().manual_seed(3)
    if grid:
        x = torch.randint(0, 2, (16, 2), generator=g).to(dtype)
    else:
        x = torch.randn(16, 2, generator=g, dtype=dtype)
    pairs = torch.arange(16) // 2  # each label twice: leave-one-out R = 1
    assert map_at_r(x, pairs) == recall_at_k(x, pairs, k=1)
    # against a reference with each label once
    query_labels, reference_labels = torch.arange(8) % 4, torch.randperm(4, generator=g)
    args = (x[:8], query_labels, x[8:12], reference_labels)
    assert map_at_r(*args) == recall_at_k(*args, k=1)


def test_queries_with_r_zero_are_left_out():
    query = torch.tensor([[0.0], [0.8], [9.0]])
    reference = torch.tensor([[0.5], [1.0], [4.0]])
    reference_labels = torch.tensor([0, 1, 1])
    kept = map_at_r(query[:2], torch.tensor([0, 1]), reference, reference_labels)
    with_lone = map_at_r(query, torch.tensor([0, 1, 7]), reference, reference_labels)
    assert with_lone == kept == pytest.approx((1.0 + 0.5) / 2)  # row 1: 1.0 (rel), 0.5


def test_reference_given_as_the_query_set_counts_the_query_itself():
    x = torch.tensor([[0.0], [1.0], [2.0], [10.0]])
    labels = torch.tensor([0, 0, 1, 0])
    # with the query set as its own reference, each row finds itself first, at distance 0
    got = map_at_r(x, labels, x, labels)
    assert got == pytest.approx(naive_map_at_r(x, labels, x, labels))
    assert got > map_at_r(x, labels)


# --- errors: one test per message --------------------------------------------------------

X, Y = torch.zeros(4, 2), torch.tensor([0, 0, 1, 1])
REF, REF_Y = torch.ones(3, 2), torch.tensor([0, 1, 1])


@pytest.mark.parametrize(
    ("args", "kwargs", "error", "message"),
    [
        ((X, Y, 1), {}, TypeError, "reference must be a torch.Tensor, got int"),
        (([[0.0]], Y), {}, TypeError, "query must be a torch.Tensor, got list"),
        ((X.long(), Y), {}, TypeError, "query must be a floating-point tensor, got dtype"),
        ((torch.zeros(4), Y), {}, ValueError, r"query must be 2-D \(Q, D\), got shape \(4,\)"),
        ((X[:1], Y[:1]), {}, ValueError, r"query.shape\[0\] must be an int >= 2, got 1"),
        ((X, Y, torch.zeros(3), REF_Y), {}, ValueError, r"reference must be 2-D \(R, D\)"),
        (
            (X, Y, REF.double(), REF_Y),
            {},
            TypeError,
            r"reference must have the dtype of query \(torch.float32\), got torch.float64",
        ),
        (
            (X, Y, torch.zeros(3, 5), REF_Y),
            {},
            ValueError,
            r"reference must have shape \(3, 2\) \(R, D of query\), got \(3, 5\)",
        ),
        (
            (X, Y, torch.zeros(0, 2), REF_Y[:0]),
            {},
            ValueError,
            r"reference.shape\[0\] must be an int >= 1, got 0",
        ),
        ((X, Y, REF), {}, ValueError, "reference_labels must be given with reference, got None"),
        (
            (X, Y),
            {"reference_labels": REF_Y},
            ValueError,
            "reference must be given with reference_labels, got None",
        ),
        ((X, Y[:2]), {}, ValueError, r"query_labels must have shape \(4,\) \(one label per row\)"),
        ((X, Y.tolist()), {}, TypeError, "query_labels must be a torch.Tensor, got list"),
        (
            (X, Y, REF, REF_Y[:2]),
            {},
            ValueError,
            r"reference_labels must have shape \(3,\) \(one label per row\), got \(2,\)",
        ),
    ],
)
def test_each_input_message(args, kwargs, error, message):
    with pytest.raises(error, match=message):
        map_at_r(*args, **kwargs)


def test_map_at_r_needs_a_query_with_r_at_least_one():
    message = r"query_labels must share a label with the reference for at least one query \(R"
    with pytest.raises(ValueError, match=message):
        map_at_r(torch.zeros(3, 2), torch.tensor([0, 1, 2]))
    with pytest.raises(ValueError, match=message):
        map_at_r(X, Y, REF, torch.tensor([5, 6, 7]))


def test_map_at_r_takes_no_k():
    with pytest.raises(TypeError, match="unexpected keyword argument 'k'"):
        map_at_r(X, Y, k=1)
