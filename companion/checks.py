"""Input checks, one home for the whole package.

Every helper raises with the same wording, ``"<argument> must be <what was expected>, got
<what came>"``: a ``TypeError`` for the wrong kind of object, a ``ValueError`` for the right
kind with the wrong shape or value. Each returns its (checked) argument, so a function can
write ``x = check_floating("x", x)``. ``bool`` is never accepted as a number, although
Python counts ``True`` as the int 1.

Over ~300 lines by design: one home for every check, so each message has one wording.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch

__all__ = [
    "check_bool",
    "check_boolean",
    "check_choice",
    "check_divisible",
    "check_floating",
    "check_given_together",
    "check_instance",
    "check_int",
    "check_labels",
    "check_layout",
    "check_matrix",
    "check_multiple",
    "check_ndim",
    "check_number",
    "check_output",
    "check_same_dtype",
    "check_same_shape",
    "check_shape",
    "check_tensor",
    "check_vector",
]


def _type_name(x: object) -> str:
    return type(x).__name__


def check_tensor(name: str, x: object) -> torch.Tensor:
    """Return ``x`` if it is a ``torch.Tensor``.

    Raises:
        TypeError: ``"{name} must be a torch.Tensor, got <type>"``.
    """
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor, got {_type_name(x)}")
    return x


def check_floating(name: str, x: object) -> torch.Tensor:
    """Return ``x`` if it is a floating-point tensor.

    Raises:
        TypeError: ``"{name} must be a floating-point tensor, got dtype <dtype>"`` (or the
            message of :func:`check_tensor` for a non-tensor).
    """
    x = check_tensor(name, x)
    if not x.is_floating_point():
        raise TypeError(f"{name} must be a floating-point tensor, got dtype {x.dtype}")
    return x


def check_boolean(name: str, x: object, meaning: str) -> torch.Tensor:
    """Return ``x`` if it is a boolean tensor; ``meaning`` says what ``True`` stands for.

    Raises:
        TypeError: ``"{name} must be a boolean tensor ({meaning}), got <dtype>"``.
    """
    if check_tensor(name, x).dtype != torch.bool:
        raise TypeError(f"{name} must be a boolean tensor ({meaning}), got {x.dtype}")
    return x


def check_ndim(name: str, x: torch.Tensor, ndim: int, layout: str) -> torch.Tensor:
    """Return ``x`` if it has ``ndim`` dimensions; ``layout`` names them, e.g. ``"(N, D)"``.

    Raises:
        ValueError: ``"{name} must be {ndim}-D {layout}, got shape <shape>"``.
    """
    if x.ndim != ndim:
        raise ValueError(f"{name} must be {ndim}-D {layout}, got shape {tuple(x.shape)}")
    return x


def check_matrix(name: str, x: object, layout: str = "(N, D)") -> torch.Tensor:
    """Return ``x`` if it is a 2-D floating-point tensor (:func:`check_floating`, then
    :func:`check_ndim` with ``layout``)."""
    return check_ndim(name, check_floating(name, x), 2, layout)


def check_vector(name: str, x: object) -> torch.Tensor:
    """Return ``x`` if it is a 1-D floating-point tensor ``(d,)``."""
    return check_ndim(name, check_floating(name, x), 1, "(d,)")


def check_shape(name: str, x: torch.Tensor, expected: Sequence[int], why: str = "") -> torch.Tensor:
    """Return ``x`` if its shape is ``expected``; ``why`` says where that comes from.

    Raises:
        ValueError: ``"{name} must have shape {expected} {why}, got <shape>"``.
    """
    expected = tuple(expected)
    if tuple(x.shape) != expected:
        reason = f" {why}" if why else ""
        raise ValueError(f"{name} must have shape {expected}{reason}, got {tuple(x.shape)}")
    return x


def check_layout(
    name: str, x: torch.Tensor, layout: Sequence[int | str], why: str = ""
) -> torch.Tensor:
    """Return ``x`` if its shape fits ``layout``: one entry per dimension, an ``int`` for a
    size that is fixed, a ``str`` (``"B"``, say) for one that may be anything; ``why`` says
    where the fixed sizes come from.

    Raises:
        ValueError: ``"{name} must have shape (B, 1, 28, 28) {why}, got <shape>"``.
    """
    fits = x.ndim == len(layout) and all(
        isinstance(want, str) or got == want for got, want in zip(x.shape, layout, strict=True)
    )
    if not fits:
        reason = f" {why}" if why else ""
        shown = ", ".join(map(str, layout)) + ("," if len(layout) == 1 else "")
        raise ValueError(f"{name} must have shape ({shown}){reason}, got {tuple(x.shape)}")
    return x


def check_same_dtype(name: str, x: torch.Tensor, ref_name: str, ref: torch.Tensor) -> torch.Tensor:
    """Return ``x`` if it has the dtype of ``ref``.

    Raises:
        TypeError: ``"{name} must have the dtype of {ref_name} (<dtype>), got <dtype>"``.
    """
    if x.dtype != ref.dtype:
        raise TypeError(f"{name} must have the dtype of {ref_name} ({ref.dtype}), got {x.dtype}")
    return x


def check_same_shape(name: str, x: torch.Tensor, ref_name: str, ref: torch.Tensor) -> torch.Tensor:
    """Return ``x`` if it has the shape of ``ref``.

    Raises:
        ValueError: ``"{name} must have the shape of {ref_name} <shape>, got <shape>"``.
    """
    if x.shape != ref.shape:
        raise ValueError(
            f"{name} must have the shape of {ref_name} {tuple(ref.shape)}, got {tuple(x.shape)}"
        )
    return x


def _interval(low: float | None, high: float | None, low_open: bool, high_open: bool) -> str:
    if low is not None and high is not None:
        return f"in {'(' if low_open else '['}{low}, {high}{')' if high_open else ']'}"
    if low is not None:
        return f"{'>' if low_open else '>='} {low}"
    if high is not None:
        return f"{'<' if high_open else '<='} {high}"
    return ""


def check_bool(name: str, value: object) -> bool:
    """Return ``value`` if it is a ``bool`` (a flag; ``0`` and ``1`` are refused).

    Raises:
        TypeError: ``"{name} must be a bool, got <type>"``.
    """
    if not isinstance(value, bool):
        raise TypeError(f"{name} must be a bool, got {_type_name(value)}")
    return value


def check_instance(name: str, value: object, cls: type) -> object:
    """Return ``value`` if it is an instance of ``cls``.

    Raises:
        TypeError: ``"{name} must be a <cls>, got <type>"`` (``"an"`` before a vowel).
    """
    if not isinstance(value, cls):
        article = "an" if cls.__name__[:1].lower() in "aeiou" else "a"
        raise TypeError(f"{name} must be {article} {cls.__name__}, got {_type_name(value)}")
    return value


def check_int(name: str, value: object, *, low: int | None = None, high: int | None = None) -> int:
    """Return ``value`` if it is an ``int`` (not a ``bool``) in ``[low, high]``.

    Raises:
        TypeError: ``"{name} must be an int, got <type>"``.
        ValueError: ``"{name} must be an int >= {low}, got <value>"`` (or
            ``"in [{low}, {high}]"``, or ``"<= {high}"``).
    """
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name} must be an int, got {_type_name(value)}")
    if (low is not None and value < low) or (high is not None and value > high):
        interval = _interval(low, high, low_open=False, high_open=False)
        raise ValueError(f"{name} must be an int {interval}, got {value}")
    return value


def check_number(
    name: str,
    value: object,
    *,
    low: float | None = None,
    high: float | None = None,
    low_open: bool = False,
    high_open: bool = False,
) -> float:
    """Return ``value`` as a float if it is a finite real number in the interval.

    ``low_open`` / ``high_open`` exclude the bound: ``check_number("lr", lr, low=0,
    low_open=True)`` asks for ``lr > 0``. NaN and infinities are refused.

    Raises:
        TypeError: ``"{name} must be a number, got <type>"``.
        ValueError: ``"{name} must be a finite number > 0, got <value>"`` (with the
            interval asked for).
    """
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"{name} must be a number, got {_type_name(value)}")
    ok = math.isfinite(value)
    if low is not None:
        ok = ok and (value > low if low_open else value >= low)
    if high is not None:
        ok = ok and (value < high if high_open else value <= high)
    if not ok:
        interval = _interval(low, high, low_open, high_open)
        raise ValueError(f"{name} must be a finite number {interval}".rstrip() + f", got {value!r}")
    return float(value)


def check_divisible(name: str, value: int, by_name: str, by: int) -> int:
    """Return ``value`` if ``by`` divides it (two sizes already checked as ints >= 1).

    Raises:
        ValueError: ``"{name} must be divisible by {by_name}, got {name}=<value> and
            {by_name}=<by>"``.
    """
    if value % by != 0:
        raise ValueError(
            f"{name} must be divisible by {by_name}, got {name}={value} and {by_name}={by}"
        )
    return value


def check_multiple(name: str, value: int, of: int, why: str = "") -> int:
    """Return ``value`` if it is a multiple of the fixed number ``of``; ``why`` says why
    (for a multiple of another argument, see :func:`check_divisible`).

    Raises:
        ValueError: ``"{name} must be a multiple of {of} {why}, got <value>"``.
    """
    if value % of != 0:
        reason = f" {why}" if why else ""
        raise ValueError(f"{name} must be a multiple of {of}{reason}, got {value}")
    return value


def check_choice(name: str, value: object, choices: Sequence[object]) -> object:
    """Return ``value`` if it is one of ``choices``.

    Raises:
        ValueError: ``"{name} must be one of 'a', 'b', got <value>"``.
    """
    if value not in choices:
        listed = ", ".join(map(repr, choices))
        raise ValueError(f"{name} must be one of {listed}, got {value!r}")
    return value


def check_labels(name: str, labels: object, n: int) -> torch.Tensor:
    """Return ``labels`` if it is a ``(n,)`` tensor (one label per row of the data).

    Raises:
        TypeError: as :func:`check_tensor`.
        ValueError: ``"{name} must have shape ({n},), one label per row, got <shape>"``.
    """
    labels = check_tensor(name, labels)
    return check_shape(name, labels, (n,), "(one label per row)")


def check_given_together(name: str, value: object, other_name: str, other: object) -> object:
    """Return ``value`` if it and ``other`` are both given or both ``None`` (a pair of
    optional arguments, such as a reference set and its labels).

    Raises:
        ValueError: ``"{name} must be given with {other_name}, got None"``, or the two names
            the other way round.
    """
    if (value is None) != (other is None):
        missing, given = (name, other_name) if value is None else (other_name, name)
        raise ValueError(f"{missing} must be given with {given}, got None")
    return value


def check_output(name: str, out: object, *, scalar: bool = False) -> torch.Tensor:
    """Return ``out``, what the function ``name`` returned, if it is a tensor; with
    ``scalar=True``, if it is one number, returned as a 0-D tensor.

    Raises:
        TypeError: ``"{name} must return a torch.Tensor, got <type>"``.
        ValueError: with ``scalar=True``,
            ``"{name} must return a scalar (one element), got shape <shape>"``.
    """
    if not isinstance(out, torch.Tensor):
        raise TypeError(f"{name} must return a torch.Tensor, got {_type_name(out)}")
    if not scalar:
        return out
    if out.numel() != 1:
        raise ValueError(f"{name} must return a scalar (one element), got shape {tuple(out.shape)}")
    return out.reshape(())
