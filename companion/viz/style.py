"""Plotting helpers shared by the chapters: one figure style, heatmaps and image grids.

Every function draws on an ``Axes`` (given or new) and returns it, so a notebook cell can
compose figures and end with ``plt.show()``.
"""

from __future__ import annotations

from collections.abc import Sequence

import matplotlib as mpl
import matplotlib.pyplot as plt
import numpy as np
import torch
from matplotlib.axes import Axes

from companion.checks import check_bool, check_int

__all__ = ["heatmap", "show_images", "to_numpy", "use_course_style"]


def use_course_style(dpi: int = 80) -> None:
    """Small, readable figures: stored notebook images stay light (``dpi`` 80–100)."""
    check_int("dpi", dpi, low=50, high=200)
    mpl.rcParams.update(
        {
            "figure.dpi": dpi,
            "savefig.dpi": dpi,
            "figure.figsize": (6.0, 3.6),
            "axes.grid": False,
            "axes.spines.top": False,
            "axes.spines.right": False,
            "font.size": 10,
            "image.cmap": "viridis",
        }
    )


def to_numpy(x: torch.Tensor | np.ndarray | Sequence[float]) -> np.ndarray:
    """A NumPy copy of ``x``, detached and moved to the CPU if it is a tensor."""
    if isinstance(x, torch.Tensor):
        return x.detach().cpu().numpy()
    return np.asarray(x)


def heatmap(
    matrix: torch.Tensor | np.ndarray,
    *,
    row_labels: Sequence[str] | None = None,
    col_labels: Sequence[str] | None = None,
    annotate: bool = False,
    fmt: str = "{:.2f}",
    ax: Axes | None = None,
    title: str | None = None,
    cmap: str = "viridis",
    vmin: float | None = None,
    vmax: float | None = None,
    colorbar: bool = True,
) -> Axes:
    """Draw a 2-D ``matrix`` (rows top to bottom), optionally writing each value in its cell.

    Raises:
        ValueError: if ``matrix`` is not 2-D, or a label list does not match its side.
    """
    m = to_numpy(matrix)
    if m.ndim != 2:
        raise ValueError(f"matrix must be 2-D, got shape {m.shape}")
    for name, labels, size in (
        ("row_labels", row_labels, m.shape[0]),
        ("col_labels", col_labels, m.shape[1]),
    ):
        if labels is not None and len(labels) != size:
            raise ValueError(f"{name} must have {size} entries, got {len(labels)}")
    ax = ax if ax is not None else plt.gca()
    image = ax.imshow(m, cmap=cmap, vmin=vmin, vmax=vmax, aspect="auto")
    if colorbar:
        ax.figure.colorbar(image, ax=ax, fraction=0.046, pad=0.04)
    ax.set_xticks(range(m.shape[1]), col_labels if col_labels is not None else range(m.shape[1]))
    ax.set_yticks(range(m.shape[0]), row_labels if row_labels is not None else range(m.shape[0]))
    if col_labels is not None:
        ax.tick_params(axis="x", labelrotation=45)
    if annotate:
        middle = (np.nanmax(m) + np.nanmin(m)) / 2
        for (i, j), value in np.ndenumerate(m):
            color = "black" if value > middle else "white"
            ax.text(j, i, fmt.format(value), ha="center", va="center", color=color, fontsize=8)
    if title is not None:
        ax.set_title(title)
    return ax


def show_images(
    images: torch.Tensor | np.ndarray,
    *,
    titles: Sequence[str] | None = None,
    ncols: int = 8,
    cmap: str = "gray_r",
    size: float = 1.0,
    frame: bool = False,
) -> np.ndarray:
    """Show a grid of images given as ``(N, H, W)`` or ``(N, 1, H, W)``.

    With ``frame=True`` each image gets a thin grey border, so that where the ink sits in a
    blank canvas can be seen, and the rows are spaced for their titles.

    Returns the array of ``Axes`` (rows x columns); unused cells are blank.

    Raises:
        ValueError: for another shape, or ``titles`` of the wrong length.
    """
    arr = to_numpy(images)
    if arr.ndim == 4 and arr.shape[1] == 1:
        arr = arr[:, 0]  # (N, H, W)
    if arr.ndim != 3:
        raise ValueError(
            f"images must be (N, H, W) or (N, 1, H, W), got shape {to_numpy(images).shape}"
        )
    if titles is not None and len(titles) != len(arr):
        raise ValueError(f"titles must have {len(arr)} entries, got {len(titles)}")
    check_int("ncols", ncols, low=1)
    ncols = min(ncols, len(arr))
    nrows = -(-len(arr) // ncols)
    check_bool("frame", frame)
    _fig, axes = plt.subplots(
        nrows,
        ncols,
        figsize=(size * ncols, size * nrows * (1.3 if frame else 1.15)),
        squeeze=False,
        gridspec_kw={"hspace": 0.45} if frame else None,
    )
    for k, ax in enumerate(axes.flat):
        ax.axis("off")
        if k < len(arr):
            ax.imshow(arr[k], cmap=cmap)
            if frame:  # the axes' own spines, without ticks, as the border of the canvas
                ax.axis("on")
                ax.set(xticks=[], yticks=[])
                for spine in ax.spines.values():
                    spine.set(visible=True, edgecolor="0.55", linewidth=0.8)
            if titles is not None:
                ax.set_title(titles[k], fontsize=8)
    return axes
