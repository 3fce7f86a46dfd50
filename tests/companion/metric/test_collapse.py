"""companion.metric.collapse: the three losses of label-independent embeddings as they shrink,
against loops over the definitions, and the trends the triplet chapter asserts."""

from __future__ import annotations

import itertools

import pytest
import torch
from metric_references import naive_triplets

from companion.metric.collapse import label_independent_losses, losses_by_spread, shrink_to_mean
from companion.metric.miners import STRATEGIES

SCALES = [1.0, 0.3, 0.1, 0.03]


def _naive_loss(x: torch.Tensor, y: torch.Tensor, strategy: str, margin: float) -> float:
    """The mean hinge over the mined triplets, each written out (0 when none)."""
    triplets, d = naive_triplets(x, y.tolist(), strategy, margin, squared=False)
    losses = [max(d[a][p] - d[a][n] + margin, 0.0) for a, p, n in triplets]
    return sum(losses) / len(losses) if losses else 0.0


def test_shrink_to_mean_scales_every_distance():
    g = torch.Generator().manual_seed(0)
    x = torch.randn(7, 5, generator=g, dtype=torch.float64)
    for s in (0.0, 0.25, 1.0):
        shrunk = shrink_to_mean(x, s)
        torch.testing.assert_close(torch.cdist(shrunk, shrunk), s * torch.cdist(x, x))
        torch.testing.assert_close(shrunk.mean(dim=0), x.mean(dim=0))


@pytest.mark.parametrize("margin", [0.2, 0.5])
def test_losses_by_spread_matches_a_loop(margin: float):
    g = torch.Generator().manual_seed(1)
    x = torch.nn.functional.normalize(torch.randn(12, 4, generator=g, dtype=torch.float64), dim=1)
    y = torch.arange(3).repeat_interleave(4)  # P x K = 3 x 4
    got = losses_by_spread(x, y, SCALES, margin=margin)
    assert set(got) == set(STRATEGIES)
    for strategy in STRATEGIES:
        expected = [_naive_loss(shrink_to_mean(x, s), y, strategy, margin) for s in SCALES]
        assert got[strategy] == pytest.approx(expected, abs=1e-9)


def test_batch_hard_falls_linearly_to_the_margin():
    """Where every anchor's hardest positive is farther than its nearest negative, the loss
    is α + s · mean(max_p d − min_n d): a line in s that ends at α."""
    g = torch.Generator().manual_seed(2)
    x = torch.randn(16, 8, generator=g, dtype=torch.float64)
    y = torch.arange(4).repeat_interleave(4)
    hard = losses_by_spread(x, y, [1.0, 0.5, 0.25], margin=0.2)["hard"]
    slope = hard[0] - 0.2
    assert slope > 0
    assert hard == pytest.approx([0.2 + slope, 0.2 + slope / 2, 0.2 + slope / 4], abs=1e-9)


def test_label_independent_trends():
    """Batch-hard falls towards α as the spread shrinks, batch-all stays within 0.02 of α,
    semi-hard rises towards α: only batch-hard is pulled towards the collapsed point."""
    scales = [1.0, 0.3, 0.1, 0.03, 0.01]
    got = label_independent_losses(scales, draws=5, seed=0)
    hard, every, semi = got["hard"], got["all"], got["semihard"]
    assert all(a > b for a, b in itertools.pairwise(hard))
    assert hard[0] > 0.5
    assert hard[-1] < 0.21
    assert all(abs(v - 0.2) < 0.02 for v in every)
    assert all(a < b for a, b in itertools.pairwise(semi))
    assert semi[0] < 0.15
    assert semi[-1] > 0.19


def test_label_independent_losses_is_seeded():
    a = label_independent_losses([1.0, 0.1], draws=2, seed=3)
    assert a == label_independent_losses([1.0, 0.1], draws=2, seed=3)
    assert a != label_independent_losses([1.0, 0.1], draws=2, seed=4)


def test_errors():
    x, y = torch.randn(4, 2), torch.tensor([0, 0, 1, 1])
    with pytest.raises(ValueError, match="scale must be"):
        losses_by_spread(x, y, [1.0, 0.0])
    with pytest.raises(ValueError, match=r"len\(scales\) must be"):
        losses_by_spread(x, y, [])
    with pytest.raises(ValueError, match="labels must have shape"):
        losses_by_spread(x, y[:3], [1.0])
    with pytest.raises(ValueError, match="scale must be"):
        shrink_to_mean(x, -1.0)
    with pytest.raises(ValueError, match="per_class must be"):
        label_independent_losses([1.0], per_class=1)
    with pytest.raises(ValueError, match="draws must be"):
        label_independent_losses([1.0], draws=0)
