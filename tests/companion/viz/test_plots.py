"""companion.viz.plots: the chapters' plots draw what they are given."""

from __future__ import annotations

import math

import matplotlib.pyplot as plt
import pytest
import torch

from companion.foundations import calculus as calc
from companion.viz import plots


def test_plot_unit_balls_draws_one_curve_per_p() -> None:
    fig, ax = plt.subplots()
    try:
        assert plots.plot_unit_balls((1, 2, math.inf), ax=ax) is ax
        assert len(ax.get_lines()) == 3 + 2  # three balls and the two axes lines
        with pytest.raises(ValueError, match=r"ps must name at least one p, got an empty"):
            plots.plot_unit_balls((), ax=ax)
    finally:
        plt.close(fig)


def test_plot_linear_map() -> None:
    fig, axes = plt.subplots(1, 2)
    try:
        symmetric = torch.tensor([[2.0, 1.0], [1.0, 2.0]])
        assert plots.plot_linear_map(symmetric, ax=axes[0], title="sym") is axes[0]
        labels = [t.get_text() for t in axes[0].texts if "λ" in t.get_text()]
        assert sorted(labels) == [" λ=1", " λ=3"]  # one label per real eigenvalue
        rotation = torch.tensor([[0.0, -1.0], [1.0, 0.0]])  # eigenvalues ±i: none drawn
        plots.plot_linear_map(rotation, ax=axes[1])
        assert not [t for t in axes[1].texts if "λ" in t.get_text()]
        shear = torch.tensor([[1.0, 1.0], [0.0, 1.0]])  # λ = 1 twice, one direction
        axes[1].clear()
        plots.plot_linear_map(shear, ax=axes[1])
        assert [t.get_text() for t in axes[1].texts if "λ" in t.get_text()] == [" λ=1"]
    finally:
        plt.close(fig)


# Forward-mode AD (jacfwd, torch.func.hessian) loads decompositions through torch.jit.script,
# which warns on this torch version: not our code.
JIT_SCRIPT_WARNING = pytest.mark.filterwarnings("ignore:.*torch.jit.script.*:DeprecationWarning")


# ---------------------------------------------------------------- plotting
@JIT_SCRIPT_WARNING
def test_plot_contours_and_path():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots()
    a = torch.tensor([[3.0, 0.0], [0.0, 1.0]], dtype=torch.float64)
    f = lambda p: 0.5 * ((p @ a) * p).sum(-1)  # noqa: E731
    out = plots.plot_contours(f, xlim=(-2, 2), ylim=(-1, 1), resolution=20, ax=ax)
    assert out is ax
    assert ax.get_xlim() == (-2.0, 2.0)
    path = calc.gradient_descent(
        torch.func.grad(f), torch.tensor([1.5, 0.8], dtype=torch.float64), lr=0.1, steps=5
    )
    plots.plot_path(path, ax=ax, label="lr=0.1")
    assert len(ax.lines) == 3  # path, start, end
    plots.plot_contours(f, xlim=(-2, 2), ylim=(-1, 1), resolution=5, ax=ax, filled=True)
    with pytest.raises(ValueError, match="resolution must be an int >= 2, got 1"):
        plots.plot_contours(f, xlim=(-2, 2), ylim=(-1, 1), resolution=1, ax=ax)
    with pytest.raises(ValueError, match=r"f must map \(N, 2\) points to \(N,\) values"):
        plots.plot_contours(lambda p: p, xlim=(-2, 2), ylim=(-1, 1), resolution=5, ax=ax)
    with pytest.raises(ValueError, match=r"path must have shape \(T, 2\), got \(3, 3\)"):
        plots.plot_path(torch.zeros(3, 3), ax=ax)
    with pytest.raises(TypeError, match=r"path must be a torch\.Tensor"):
        plots.plot_path([[0.0, 0.0]], ax=ax)
    plt.close(fig)
