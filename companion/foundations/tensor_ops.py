"""Broadcasting and ``einsum``, written out: the index bookkeeping of attention code.

==================================  ======================================================
:func:`broadcast_shape`             the shape two or more tensors broadcast to (NumPy's
                                    rules), as ``torch.broadcast_shapes``
:func:`einsum_by_loops`             ``torch.einsum`` for explicit equations, by a loop over
                                    every assignment of the indices
==================================  ======================================================

Broadcasting aligns shapes **from the right**; two sizes are compatible when they are
equal or one of them is 1 (it is repeated), and a missing leading dimension counts as 1.
So ``(B, H, L, d) @ (d, e)`` applies one ``(d, e)`` matrix to every batch and head, and
``(B, 1, 1, L)`` masks every head and query alike. ``einsum`` names every index: an index
in the inputs but not in the output is summed over, so ``"bhqd,bhkd->bhqk"`` is
``Q @ K.transpose(-2, -1)``, the attention scores for every batch entry and head.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence

import torch

from companion.checks import check_tensor

__all__ = ["broadcast_shape", "einsum_by_loops"]


def broadcast_shape(*shapes: Sequence[int]) -> tuple[int, ...]:
    """The shape ``shapes`` broadcast to: aligned from the right, each size equal or 1.

    Raises:
        TypeError: a shape that is not a sequence of ints.
        ValueError: two sizes that differ with neither equal to 1.
    """
    result: list[int] = []
    for shape in shapes:
        if isinstance(shape, (str, bytes)) or not all(
            isinstance(s, int) and not isinstance(s, bool) for s in shape
        ):
            raise TypeError(f"shapes must be sequences of ints, got {shape!r}")
        shape = list(shape)
        width = max(len(result), len(shape))
        result = [1] * (width - len(result)) + result  # pad on the left with 1s
        shape = [1] * (width - len(shape)) + shape
        for i, (a, b) in enumerate(zip(result, shape, strict=True)):
            if a != b and 1 not in (a, b):
                raise ValueError(
                    f"shapes must be broadcastable (sizes equal or 1, aligned from the right), "
                    f"got sizes {a} and {b} in {tuple(shapes)}"
                )
            result[i] = b if a == 1 else a
    return tuple(result)


def einsum_by_loops(equation: str, *operands: torch.Tensor) -> torch.Tensor:
    """``torch.einsum(equation, *operands)`` by brute force, for small tensors.

    ``equation`` is explicit, ``"ij,jk->ik"``: one letter per dimension of each operand, the
    output's letters after ``->`` (no ``...``). For every assignment of values to all the
    letters, the product of the operands' entries is added to the output entry named by the
    output letters; letters absent from the output are therefore summed over.

    Raises:
        ValueError: a malformed equation, or sizes that disagree for one letter.
    """
    if "->" not in equation or "." in equation:
        raise ValueError(f"equation must be explicit, 'ij,jk->ik' (no '...'), got {equation!r}")
    inputs, output = equation.replace(" ", "").split("->")
    terms = inputs.split(",")
    if len(terms) != len(operands):
        raise ValueError(
            f"equation must name one term per operand, got {len(terms)} terms for "
            f"{len(operands)} operands"
        )
    sizes: dict[str, int] = {}
    for term, x in zip(terms, operands, strict=True):
        x = check_tensor("operands", x)
        if len(term) != x.ndim:
            raise ValueError(f"term {term!r} must name each of the {x.ndim} dimensions")
        for letter, size in zip(term, x.shape, strict=True):
            if sizes.setdefault(letter, size) != size:
                raise ValueError(
                    f"index {letter!r} must have one size, got {sizes[letter]} and {size}"
                )
    if not set(output) <= set(sizes):
        raise ValueError(f"the output {output!r} must use only the inputs' indices")
    letters = sorted(sizes)
    out = torch.zeros([sizes[c] for c in output], dtype=operands[0].dtype)
    for values in itertools.product(*(range(sizes[c]) for c in letters)):
        at = dict(zip(letters, values, strict=True))
        product = torch.ones((), dtype=operands[0].dtype)
        for term, x in zip(terms, operands, strict=True):
            product = product * x[tuple(at[c] for c in term)]
        out[tuple(at[c] for c in output)] += product
    return out
