"""Block diagrams of attention and the Transformer, drawn with matplotlib (no files, no network).

Four figures in the notation of the chapters: scaled dot-product attention, multi-head
attention, the (pre-norm) encoder block and the Vision Transformer pipeline. Each function
draws on an ``Axes`` (a new one of a size legible at the site's width when none is given)
and returns it; data flows upwards, as in Vaswani et al. (2017), except for the ViT
pipeline, which reads from left to right.

Longer than the ~300 lines a module may take: four figures drawn with one set of box and
arrow helpers, which would otherwise be shared across modules for no reader's gain.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
from matplotlib.axes import Axes
from matplotlib.patches import FancyArrowPatch, FancyBboxPatch, Rectangle

__all__ = [
    "COLORS",
    "draw_encoder_block",
    "draw_multi_head_attention",
    "draw_scaled_dot_product_attention",
    "draw_vit_pipeline",
]

#: One colour per kind of operation, the same in every diagram.
COLORS: dict[str, str] = {
    "input": "#eeeeee",
    "linear": "#cfe2f3",
    "matmul": "#d9d2e9",
    "softmax": "#fce5cd",
    "mask": "#f4cccc",
    "norm": "#fff2cc",
    "attention": "#f4b6b6",
    "mlp": "#d9ead3",
    "add": "#ffffff",
}
FONT_SIZE = 10


def _axes(ax: Axes | None, size: tuple[float, float], xlim: float, ylim: float) -> Axes:
    """A blank Axes with data coordinates ``[0, xlim] x [0, ylim]``."""
    if ax is None:
        _, ax = plt.subplots(figsize=size)
    ax.set_xlim(0, xlim)
    ax.set_ylim(0, ylim)
    ax.set_aspect("equal")
    ax.axis("off")
    return ax


def _box(
    ax: Axes,
    x: float,
    y: float,
    text: str,
    kind: str,
    *,
    width: float = 2.4,
    height: float = 0.6,
    fontsize: float = FONT_SIZE,
) -> tuple[float, float, float, float]:
    """A rounded box centred on ``(x, y)``; returns ``(x, y, width, height)``."""
    ax.add_patch(
        FancyBboxPatch(
            (x - width / 2, y - height / 2),
            width,
            height,
            boxstyle="round,pad=0.02,rounding_size=0.12",
            facecolor=COLORS[kind],
            edgecolor="#444444",
            linewidth=1.0,
        )
    )
    ax.text(x, y, text, ha="center", va="center", fontsize=fontsize)
    return x, y, width, height


def _add(ax: Axes, x: float, y: float, r: float = 0.18) -> tuple[float, float, float, float]:
    """The ⊕ of a residual connection, centred on ``(x, y)``."""
    ax.add_patch(plt.Circle((x, y), r, facecolor=COLORS["add"], edgecolor="#444444", lw=1.0))
    ax.text(x, y, "+", ha="center", va="center", fontsize=FONT_SIZE + 1)
    return x, y, 2 * r, 2 * r


def _arrow(ax: Axes, start: tuple[float, float], end: tuple[float, float], **kw: object) -> None:
    ax.add_patch(
        FancyArrowPatch(
            start,
            end,
            arrowstyle="-|>",
            mutation_scale=12,
            color="#333333",
            linewidth=1.1,
            shrinkA=0,
            shrinkB=0,
            **kw,
        )
    )


def _up(ax: Axes, lower: tuple, upper: tuple, dx: float = 0.0) -> None:
    """An arrow from the top of box ``lower`` to the bottom of box ``upper``."""
    _arrow(ax, (lower[0] + dx, lower[1] + lower[3] / 2), (upper[0] + dx, upper[1] - upper[3] / 2))


def draw_scaled_dot_product_attention(ax: Axes | None = None) -> Axes:
    """``softmax(Q Kᵀ / √d_k) V``, from the inputs up to the output, with its shapes."""
    ax = _axes(ax, (5.2, 5.0), 7.0, 6.8)
    q = _box(ax, 1.3, 0.4, r"$Q$  $(L_q, d_k)$", "input", width=2.0)
    k = _box(ax, 3.5, 0.4, r"$K$  $(L_k, d_k)$", "input", width=2.0)
    v = _box(ax, 5.7, 0.4, r"$V$  $(L_k, d_v)$", "input", width=2.0)
    mm1 = _box(ax, 2.4, 1.6, r"MatMul  $QK^\top$", "matmul", width=2.8)
    scale = _box(ax, 2.4, 2.7, r"Scale  $\div\sqrt{d_k}$", "linear", width=2.8)
    mask = _box(ax, 2.4, 3.8, "Mask (optional)", "mask", width=2.8)
    soft = _box(ax, 2.4, 4.9, "Softmax (each row)", "softmax", width=2.8)
    mm2 = _box(ax, 4.0, 6.0, r"MatMul  $AV$   $(L_q, d_v)$", "matmul", width=3.4)
    _arrow(ax, (q[0], q[1] + 0.3), (mm1[0] - 0.7, mm1[1] - 0.3))
    _arrow(ax, (k[0], k[1] + 0.3), (mm1[0] + 0.7, mm1[1] - 0.3))
    for lower, upper in ((mm1, scale), (scale, mask), (mask, soft)):
        _up(ax, lower, upper)
    _arrow(ax, (soft[0], soft[1] + 0.3), (mm2[0] - 1.0, mm2[1] - 0.3))
    _arrow(ax, (v[0], v[1] + 0.3), (v[0], mm2[1] - 0.3))
    # S is defined after the scaling (notation page): label it there, not at Q Kᵀ
    ax.text(4.0, 2.7, r"scores $S$  $(L_q, L_k)$", ha="left", va="center", fontsize=FONT_SIZE - 1)
    ax.text(4.0, 4.9, r"weights $A$", ha="left", va="center", fontsize=FONT_SIZE - 1)
    ax.set_title("Scaled dot-product attention", fontsize=FONT_SIZE + 1)
    return ax


def draw_multi_head_attention(ax: Axes | None = None, num_heads: int = 3) -> Axes:
    """``MHA(X) = [head_1, …, head_H] W_O``, each head attention in its own ``d_k = D/H``."""
    ax = _axes(ax, (5.6, 5.2), 7.6, 7.0)
    inputs = [
        _box(ax, x, 0.4, name, "input", width=1.7)
        for x, name in ((1.4, "query"), (3.8, "key"), (6.2, "value"))
    ]
    shift = 0.12
    linears = []
    for x, w in ((1.4, r"$W_Q^h$"), (3.8, r"$W_K^h$"), (6.2, r"$W_V^h$")):
        for h in range(num_heads - 1, 0, -1):  # the stack of the other heads, behind
            _box(ax, x + h * shift, 1.7 + h * shift, "", "linear", width=1.7)
        linears.append(_box(ax, x, 1.7, "Linear " + w, "linear", width=1.7))
    for h in range(num_heads - 1, 0, -1):
        _box(ax, 3.8 + h * shift, 3.2 + h * shift, "", "attention", width=5.2, height=0.7)
    attn = _box(
        ax,
        3.8,
        3.2,
        "Scaled dot-product attention\n" + r"$H$ heads, each in $d_k = D/H$",
        "attention",
        width=5.2,
        height=0.7,
    )
    concat = _box(
        ax, 3.8, 4.6, r"Concat  $[\mathrm{head}_1, \dots, \mathrm{head}_H]$", "matmul", width=4.2
    )
    out = _box(ax, 3.8, 5.8, r"Linear $W_O$   $(B, L, D)$", "linear", width=3.2)
    for lower, upper in zip(inputs, linears, strict=True):
        _up(ax, lower, upper)
    for lin in linears:
        _arrow(ax, (lin[0], lin[1] + 0.3), (lin[0] * 0.6 + 3.8 * 0.4, attn[1] - 0.35))
    _up(ax, attn, concat)
    _up(ax, concat, out)
    ax.text(7.3, 2.5, r"$\times H$", ha="right", va="center", fontsize=FONT_SIZE)
    ax.set_title("Multi-head attention", fontsize=FONT_SIZE + 1)
    return ax


def draw_encoder_block(ax: Axes | None = None) -> Axes:
    """The pre-norm encoder block: ``z' = z + MSA(LN(z))``, ``z_out = z' + MLP(LN(z'))``."""
    ax = _axes(ax, (4.6, 6.4), 6.0, 8.6)
    x = 2.4
    z_in = _box(ax, x, 0.4, r"$z_{\ell-1}$  $(B, L, D)$", "input", width=2.6)
    ln1 = _box(ax, x, 1.6, "LayerNorm", "norm")
    msa = _box(ax, x, 2.7, "Multi-head attention", "attention", width=2.8)
    add1 = _add(ax, x, 3.75)
    ln2 = _box(ax, x, 4.8, "LayerNorm", "norm")
    mlp = _box(
        ax,
        x,
        6.1,
        "MLP\n" + r"Linear $D{\to}4D$, GELU, Linear $4D{\to}D$",
        "mlp",
        width=3.6,
        height=0.8,
    )
    add2 = _add(ax, x, 7.3)
    _arrow(ax, (x, z_in[1] + 0.3), (x, ln1[1] - 0.3))
    _up(ax, ln1, msa)
    _arrow(ax, (x, msa[1] + 0.3), (x, add1[1] - 0.18))
    _arrow(ax, (x, add1[1] + 0.18), (x, ln2[1] - 0.3))
    _up(ax, ln2, mlp)
    _arrow(ax, (x, mlp[1] + 0.4), (x, add2[1] - 0.18))
    _arrow(ax, (x, add2[1] + 0.18), (x, 8.2))
    ax.text(x + 0.15, 8.1, r"$z_\ell$", ha="left", va="center", fontsize=FONT_SIZE)
    # the residual stream: around each sub-layer, added back
    for y0, y1 in ((1.0, add1[1]), (4.1, add2[1])):
        ax.plot([x, 4.8, 4.8], [y0, y0, y1], color="#333333", lw=1.1)
        _arrow(ax, (4.8, y1), (x + 0.18, y1))
    ax.text(4.95, 2.4, "residual", rotation=90, ha="left", va="center", fontsize=FONT_SIZE - 1)
    ax.text(4.95, 5.7, "residual", rotation=90, ha="left", va="center", fontsize=FONT_SIZE - 1)
    # what repeats: the two sub-layers with their residuals, bracketed on the left
    bx = 0.55
    ax.plot([bx + 0.15, bx, bx, bx + 0.15], [1.0, 1.0, 7.6, 7.6], color="#333333", lw=1.1)
    ax.text(
        bx - 0.1,
        4.3,
        r"$\times\, n_\mathrm{blocks}$",
        rotation=90,
        ha="right",
        va="center",
        fontsize=FONT_SIZE,
    )
    ax.text(
        x + 1.5,
        0.4,
        r"$\ell = 1, \dots, n_\mathrm{blocks}$",
        ha="left",
        va="center",
        fontsize=FONT_SIZE - 1,
    )
    ax.set_title("Encoder block (pre-norm)", fontsize=FONT_SIZE + 1)
    return ax


def draw_vit_pipeline(ax: Axes | None = None, grid: int = 3) -> Axes:
    """Image → patches → tokens ``x_p E`` + class token + positions ``E_pos`` → encoder → head."""
    ax = _axes(ax, (8.0, 3.6), 13.2, 5.6)
    # the image, cut into grid x grid patches
    side = 1.8
    x0, y0 = 0.2, 1.9
    cell = side / grid
    for r in range(grid):
        for c in range(grid):
            shade = 0.55 + 0.4 * ((r * grid + c) % 5) / 4
            ax.add_patch(
                Rectangle(
                    (x0 + c * cell, y0 + (grid - 1 - r) * cell),
                    cell,
                    cell,
                    facecolor=(shade, shade, 0.9),
                    edgecolor="white",
                    lw=1.2,
                )
            )
    ax.text(
        x0 + side / 2,
        y0 - 0.3,
        "image\n" + r"$(C, h, w)$",
        ha="center",
        va="top",
        fontsize=FONT_SIZE - 1,
    )
    # the flattened patches
    n = grid * grid
    px = 3.0
    for i in range(n):
        ax.add_patch(
            Rectangle(
                (px, 0.55 + i * 0.45), 0.9, 0.35, facecolor="#d0d8f0", edgecolor="#444444", lw=0.8
            )
        )
    ax.text(
        px + 0.45,
        0.45,
        r"$N$ patches" + "\n" + r"$x_p^i \in \mathbb{R}^{P^2C}$",
        ha="center",
        va="top",
        fontsize=FONT_SIZE - 1,
    )
    _arrow(ax, (x0 + side + 0.1, y0 + side / 2), (px - 0.1, y0 + side / 2))
    proj = _box(ax, 5.35, 2.8, "Linear $E$\n" + r"$x_p^i E$", "linear", width=1.5, height=0.9)
    _arrow(ax, (px + 1.0, 2.8), (proj[0] - 0.75, 2.8))
    # the tokens: class token first, each with its position embedding added
    tx = 6.7
    for i in range(n + 1):
        kind = "mask" if i == 0 else "linear"
        ax.add_patch(
            Rectangle(
                (tx, 0.55 + i * 0.42),
                0.7,
                0.34,
                facecolor=COLORS[kind],
                edgecolor="#444444",
                lw=0.8,
            )
        )
        ax.text(tx + 0.8, 0.72 + i * 0.42, "+", ha="left", va="center", fontsize=FONT_SIZE - 1)
        ax.add_patch(
            Rectangle(
                (tx + 1.05, 0.55 + i * 0.42),
                0.35,
                0.34,
                facecolor=COLORS["norm"],
                edgecolor="#444444",
                lw=0.8,
            )
        )
    ax.text(tx + 0.35, 0.72, r"cls", ha="center", va="center", fontsize=FONT_SIZE - 2)
    ax.text(
        tx + 0.7,
        0.45,
        r"$z_0 = [x_{\mathrm{class}};\, x_p E] + E_{pos}$",
        ha="center",
        va="top",
        fontsize=FONT_SIZE - 1,
    )
    ax.text(
        tx + 1.22,
        0.55 + (n + 1) * 0.42 + 0.1,
        r"$E_{pos}$",
        ha="center",
        va="bottom",
        fontsize=FONT_SIZE - 1,
    )
    _arrow(ax, (proj[0] + 0.75, 2.8), (tx - 0.1, 2.8))
    enc = _box(
        ax,
        9.9,
        2.8,
        "Encoder\n" + r"$n_\mathrm{blocks}$" + "\nblocks",
        "attention",
        width=1.6,
        height=1.6,
    )
    _arrow(ax, (tx + 1.5, 2.8), (enc[0] - 0.8, 2.8))
    head = _box(
        ax,
        12.0,
        2.8,
        "LayerNorm,\nhead on\n" + r"$z^0_{n_\mathrm{blocks}}$",
        "norm",
        width=1.9,
        height=1.4,
    )
    _arrow(ax, (enc[0] + 0.8, 2.8), (head[0] - 0.95, 2.8))
    _arrow(ax, (head[0], head[1] + 0.7), (head[0], 4.6))
    ax.text(head[0], 4.7, "class scores", ha="center", va="bottom", fontsize=FONT_SIZE - 1)
    ax.set_title("The Vision Transformer", fontsize=FONT_SIZE + 1)
    return ax
