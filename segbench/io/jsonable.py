"""JSON-ready copies of computed results (leaderboards, agreement statistics,
evaluation reports): what ``json.dumps(..., allow_nan=False)`` and a CSV writer
accept."""

from __future__ import annotations

import json
import math
from typing import Any

import numpy as np

__all__ = ["plain", "strict_json"]


def plain(value: Any) -> Any:
    """A copy of ``value`` with numpy scalars made Python numbers, tuples made
    lists, and NaN and infinities made ``None`` (JSON ``null``, an empty CSV
    field), inside dicts and lists at any depth.

    Examples
    --------
    >>> plain({"f1": np.float64("nan"), "ci": (np.float32(0.5), 1.0), "n": np.int64(3)})
    {'f1': None, 'ci': [0.5, 1.0], 'n': 3}
    """
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def strict_json(value: Any) -> str:
    """``value`` as strict JSON (:func:`plain` first, so NaN becomes null),
    indented by 2."""
    return json.dumps(plain(value), indent=2, allow_nan=False)
