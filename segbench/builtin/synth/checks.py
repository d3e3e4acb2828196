"""Parameter validation for plugin constructors.

Each function returns the value in canonical form (float, int, tuple) or raises
``ValueError`` whose message names the parameter, says what was expected and
what was given, e.g. ``parameter 'touching_fraction' must be a number in
[0, 1], got 1.5``.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Sequence

import numpy as np


def _fail(name: str, expected: str, value) -> ValueError:
    return ValueError(f"parameter {name!r} must be {expected}, got {value!r}")


def _bounds(low, high, low_open) -> str:
    left = "(" if low_open else "["
    lo = "-inf" if low is None else f"{low:g}"
    hi = "inf" if high is None else f"{high:g}"
    return f"{left}{lo}, {hi}" + ("]" if high is not None else ")")


def number(name: str, value, low=None, high=None, low_open: bool = False) -> float:
    """A real number in ``[low, high]`` (``(low, high]`` when ``low_open``)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(value):
        raise _fail(name, f"a number in {_bounds(low, high, low_open)}", value)
    value = float(value)
    too_low = low is not None and (value <= low if low_open else value < low)
    if too_low or (high is not None and value > high):
        raise _fail(name, f"a number in {_bounds(low, high, low_open)}", value)
    return value


def at_most(name: str, value, bound, why: str, fix: str):
    """``value`` when it is at most ``bound``; otherwise ``ValueError`` with one
    line naming the parameter, its value, why it is too large, the bound and
    what to do, e.g. ``min_gap: 100000 px is wider than the [48, 48] image
    (at most 48); lower min_gap``."""
    if value > bound:
        raise ValueError(f"{name}: {_show(value)} {why} (at most {_show(bound)}); {fix}")
    return value


def at_least(name: str, value, bound, why: str, fix: str):
    """``value`` when it is at least ``bound``; otherwise the one line of
    :func:`at_most`, with ``at least``."""
    if value < bound:
        raise ValueError(f"{name}: {_show(value)} {why} (at least {_show(bound)}); {fix}")
    return value


def _show(value) -> str:
    """An integer as it is, a real number in ``%g`` form."""
    return str(value) if isinstance(value, numbers.Integral) else f"{value:g}"


def integer(name: str, value, low=None, high=None) -> int:
    """An integer in ``[low, high]``."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise _fail(name, f"an integer in {_bounds(low, high, False)}", value)
    if (low is not None and value < low) or (high is not None and value > high):
        raise _fail(name, f"an integer in {_bounds(low, high, False)}", value)
    return int(value)


def flag(name: str, value) -> bool:
    """``True`` or ``False``."""
    if not isinstance(value, (bool, np.bool_)):
        raise _fail(name, "true or false", value)
    return bool(value)


def choice(name: str, value, options: Sequence[str]) -> str:
    """One of ``options``."""
    if value not in options:
        raise _fail(name, "one of " + ", ".join(repr(o) for o in options), value)
    return value


def number_range(name: str, value, low=None, low_open: bool = False) -> tuple[float, float]:
    """A number ``v`` (read as ``(v, v)``) or a pair ``[lo, hi]`` with ``lo <= hi``."""
    if isinstance(value, Sequence) and not isinstance(value, str):
        if len(value) != 2:
            raise _fail(name, "a number or a [low, high] pair", value)
        lo, hi = (number(name, v, low=low, low_open=low_open) for v in value)
        if lo > hi:
            raise _fail(name, "a [low, high] pair with low <= high", value)
        return lo, hi
    v = number(name, value, low=low, low_open=low_open)
    return v, v


def integer_range(name: str, value, low: int = 0) -> tuple[int, int]:
    """An integer ``v`` (read as ``(v, v)``) or a pair ``[lo, hi]`` with ``lo <= hi``."""
    if isinstance(value, Sequence) and not isinstance(value, str):
        if len(value) != 2:
            raise _fail(name, "an integer or a [low, high] pair", value)
        lo, hi = (integer(name, v, low=low) for v in value)
        if lo > hi:
            raise _fail(name, "a [low, high] pair with low <= high", value)
        return lo, hi
    v = integer(name, value, low=low)
    return v, v


def spatial_shape(name: str, value, minimum: int = 1) -> tuple[int, ...]:
    """A ``(Y, X)`` or ``(Z, Y, X)`` sequence of integers >= ``minimum``."""
    expected = f"a list of 2 (Y, X) or 3 (Z, Y, X) integers >= {minimum}"
    if isinstance(value, str) or not isinstance(value, Sequence) or len(value) not in (2, 3):
        raise _fail(name, expected, value)
    for v in value:
        if isinstance(v, bool) or not isinstance(v, numbers.Integral) or v < minimum:
            raise _fail(name, expected, value)
    return tuple(int(v) for v in value)


def covariance(name: str, value, ndim: int) -> np.ndarray:
    """A variance ``v > 0`` (read as ``v * I``) or a symmetric positive definite
    ``ndim x ndim`` matrix."""
    if isinstance(value, numbers.Real) and not isinstance(value, bool):
        return number(name, value, low=0, low_open=True) * np.eye(ndim)
    expected = f"a variance > 0 or a symmetric positive definite {ndim}x{ndim} matrix"
    try:
        matrix = np.asarray(value, dtype=float)
    except (TypeError, ValueError):
        raise _fail(name, expected, value) from None
    if matrix.shape != (ndim, ndim) or not np.all(np.isfinite(matrix)):
        raise _fail(name, expected, value)
    if not np.allclose(matrix, matrix.T) or np.linalg.eigvalsh(matrix).min() <= 0:
        raise _fail(name, expected, value)
    return matrix
