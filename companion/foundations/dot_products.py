"""Why attention divides by ``√d_k``: the dot product of two random vectors has variance ``d``.

For independent ``q, k`` with i.i.d. entries of mean 0 and variance 1,
``Var[q·k] = Σ_i E[q_i²] E[k_i²] = d``; dividing by ``√d`` brings it back to 1.
"""

from __future__ import annotations

import math

import torch

from companion.checks import check_choice, check_int

__all__ = [
    "DOT_PRODUCT_ENTRIES",
    "dot_product_variance_experiment",
    "random_dot_products",
]


#: The entry distributions :func:`random_dot_products` knows; each has mean 0, variance 1.
DOT_PRODUCT_ENTRIES: tuple[str, ...] = ("gaussian", "rademacher", "uniform")


def random_dot_products(
    d: int,
    n: int,
    *,
    generator: torch.Generator | None = None,
    entries: str = "gaussian",
    scaled: bool = False,
    dtype: torch.dtype = torch.float32,
    device: torch.device | str | None = None,
) -> torch.Tensor:
    """``n`` dot products ``q·k`` of independent ``d``-dimensional random vectors; ``(n,)``.

    The entries of ``q`` and ``k`` are i.i.d. with mean 0 and variance 1: standard
    ``"gaussian"``, ``"rademacher"`` (±1 with probability ½) or ``"uniform"`` on
    ``[-√3, √3]``. Then ``E[q·k] = 0`` and ``Var[q·k] = Σ_i E[q_i²] E[k_i²] = d``.
    With ``scaled=True`` the products are divided by ``√d`` (attention's scaling), so their
    variance is 1.

    Raises:
        TypeError: if ``d`` or ``n`` is not an int.
        ValueError: if ``d`` or ``n`` is below 1, or ``entries`` is unknown.
    """
    d = check_int("d", d, low=1)
    n = check_int("n", n, low=1)
    check_choice("entries", entries, DOT_PRODUCT_ENTRIES)
    gen_device = generator.device if generator is not None else device
    shape = (2, n, d)  # q and k, stacked
    if entries == "gaussian":
        qk = torch.randn(shape, generator=generator, dtype=dtype, device=gen_device)
    elif entries == "rademacher":
        bits = torch.randint(0, 2, shape, generator=generator, device=gen_device)
        qk = (2 * bits - 1).to(dtype)
    else:
        u = torch.rand(shape, generator=generator, dtype=dtype, device=gen_device)
        qk = math.sqrt(3) * (2 * u - 1)
    qk = qk.to(device) if device is not None else qk
    dots = (qk[0] * qk[1]).sum(dim=-1)  # (n,)
    return dots / math.sqrt(d) if scaled else dots


def dot_product_variance_experiment(
    d: int,
    n: int,
    generator: torch.Generator | None = None,
    *,
    entries: str = "gaussian",
    scaled: bool = False,
) -> float:
    """Sample variance of ``n`` dot products from :func:`random_dot_products` (float64).

    Theory: ``d`` (or 1 with ``scaled=True``); the Monte Carlo error of the estimate is
    about ``d · √(2/n)`` for Gaussian entries.

    Raises:
        TypeError: if ``d`` or ``n`` is not an int.
        ValueError: if ``d`` is below 1, ``n`` below 2, or ``entries`` is unknown.
    """
    check_int("n", n, low=2)  # a variance needs two samples
    dots = random_dot_products(
        d, n, generator=generator, entries=entries, scaled=scaled, dtype=torch.float64
    )
    return dots.var().item()
