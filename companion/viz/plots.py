"""Pictures of the foundations: unit balls, linear maps, level sets and descent paths.

Every function draws on an ``Axes`` (given or the current one) and returns it.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import matplotlib.pyplot as plt
import numpy as np
import torch
from matplotlib.axes import Axes
from torch import Tensor

from companion.checks import check_int, check_layout, check_output, check_tensor
from companion.foundations.linalg import transform_unit_circle, unit_ball_boundary
from companion.viz.style import to_numpy

__all__ = [
    "plot_contours",
    "plot_linear_map",
    "plot_path",
    "plot_unit_balls",
]


def plot_unit_balls(ps: Sequence[float] = (1.0, 2.0, math.inf), *, ax: Axes | None = None) -> Axes:
    """Draw the unit sphere ``‖x‖_p = 1`` in the plane for each ``p`` in ``ps``; return the Axes."""
    if len(ps) == 0:
        raise ValueError("ps must name at least one p, got an empty sequence")
    ax = ax if ax is not None else plt.gca()
    for p in ps:
        points = unit_ball_boundary(p).numpy()
        closed = np.vstack([points, points[:1]])  # (n_points + 1, 2): back to the start
        label = "p = ∞" if math.isinf(p) else f"p = {p:g}"
        _ = ax.plot(closed[:, 0], closed[:, 1], label=label)
    ax.set_aspect("equal")
    ax.axhline(0, color="0.8", lw=0.8, zorder=0)
    ax.axvline(0, color="0.8", lw=0.8, zorder=0)
    ax.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize=8)
    return ax


def plot_linear_map(A: torch.Tensor, *, ax: Axes | None = None, title: str | None = None) -> Axes:
    """Draw the unit circle, its image under ``A`` (``(2, 2)``) and the real eigenvectors.

    Each real eigenvector ``v`` (unit length, black and dashed) is drawn over its image
    ``A v = λ v`` (red), an arrow of length ``|λ|`` along the same line; a repeated eigenpair
    (a shear's) is drawn and labelled once. Returns the Axes.
    """
    circle, image = transform_unit_circle(A)
    circle, image = to_numpy(circle), to_numpy(image)
    ax = ax if ax is not None else plt.gca()
    _ = ax.plot(circle[:, 0], circle[:, 1], color="0.6", lw=1, label="unit circle")
    _ = ax.plot(image[:, 0], image[:, 1], color="C0", label="image $Ax$")
    eigenvalues, eigenvectors = torch.linalg.eig(A.detach().cpu().double())
    drawn: list[tuple[float, list[float]]] = []
    for lam, v in zip(eigenvalues, eigenvectors.mT, strict=True):
        if abs(lam.imag) > 1e-12:
            continue  # complex pair: no real direction is kept
        v, lam_real = v.real.tolist(), lam.real.item()
        if any(
            abs(lam_real - mu) < 1e-9 and abs(v[0] * w[1] - v[1] * w[0]) < 1e-6 for mu, w in drawn
        ):
            continue  # a defective matrix (a shear) repeats the same eigenpair: draw it once
        drawn.append((lam_real, v))
        # Av = λv first, thick and red; then v on top, thin, black and dashed, so that both
        # stay visible where they overlap (λ > 0 puts them on the same ray)
        _ = ax.annotate(
            "",
            xy=(lam_real * v[0], lam_real * v[1]),
            xytext=(0, 0),
            arrowprops={"arrowstyle": "->", "color": "C3", "lw": 2.5},
        )
        _ = ax.annotate(
            "",
            xy=(v[0], v[1]),
            xytext=(0, 0),
            arrowprops={"arrowstyle": "->", "color": "black", "lw": 1.2, "linestyle": "--"},
        )
        _ = ax.text(lam_real * v[0], lam_real * v[1], f" λ={lam_real:.2g}", color="C3")
    ax.set_aspect("equal")
    ax.axhline(0, color="0.85", lw=0.8, zorder=0)
    ax.axvline(0, color="0.85", lw=0.8, zorder=0)
    if title is not None:
        ax.set_title(title)
    return ax


def plot_contours(
    f: Callable[[Tensor], Tensor],
    *,
    xlim: tuple[float, float],
    ylim: tuple[float, float],
    levels: int | list[float] = 15,
    resolution: int = 100,
    ax: Axes | None = None,
    filled: bool = False,
) -> Axes:
    """Draw the level sets of a function of two variables on ``xlim × ylim``.

    Args:
        f: maps a batch of points ``(N, 2)`` to values ``(N,)`` (float64).
        xlim, ylim: the plotted window.
        levels: how many contour levels, or their values.
        resolution: grid points per axis.
        ax: where to draw (default: the current axes).
        filled: ``contourf`` instead of contour lines.

    Returns:
        The axes, with equal aspect ratio.
    """
    check_int("resolution", resolution, low=2)
    xs = torch.linspace(*xlim, resolution, dtype=torch.float64)
    ys = torch.linspace(*ylim, resolution, dtype=torch.float64)
    gx, gy = torch.meshgrid(xs, ys, indexing="xy")  # (R, R) each
    points = torch.stack([gx, gy], dim=-1).reshape(-1, 2)  # (R*R, 2)
    with torch.no_grad():
        values = check_output("f", f(points))
    if values.shape != (points.shape[0],):
        raise ValueError(
            f"f must map (N, 2) points to (N,) values, got shape {tuple(values.shape)}"
        )
    z = values.reshape(resolution, resolution).numpy()  # (R, R)
    ax = ax if ax is not None else plt.gca()
    draw = ax.contourf if filled else ax.contour
    draw(gx.numpy(), gy.numpy(), z, levels=levels, cmap="viridis", alpha=0.8)
    ax.set_xlim(*xlim)
    ax.set_ylim(*ylim)
    ax.set_aspect("equal")
    return ax


def plot_path(
    path: Tensor,
    *,
    ax: Axes | None = None,
    label: str | None = None,
    color: str | None = None,
) -> Axes:
    """Draw an optimisation path ``(T, 2)``, e.g. from
    :func:`~companion.foundations.calculus.gradient_descent`.

    Iterates are dots joined by lines; the start is a square, the end a cross.
    """
    check_tensor("path", path)
    check_layout("path", path, ("T", 2))
    p = path.detach().cpu().to(torch.float64).numpy()
    ax = ax if ax is not None else plt.gca()
    (line,) = ax.plot(p[:, 0], p[:, 1], "o-", ms=3, lw=1, label=label, color=color)
    ax.plot(p[0, 0], p[0, 1], "s", color=line.get_color(), ms=6)
    ax.plot(p[-1, 0], p[-1, 1], "x", color=line.get_color(), ms=8, mew=2)
    return ax
