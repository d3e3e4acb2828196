"""Sweeps: a list in a segmenter's params is a sweep, expanded into a grid."""

from __future__ import annotations

import itertools
import json
from typing import Any

__all__ = ["format_value", "grid"]


def format_value(value: Any) -> str:
    """A parameter value as shown in variant labels (lists and dicts as JSON)."""
    return json.dumps(value) if isinstance(value, (list, dict)) else str(value)


def grid(params: dict[str, Any]) -> list[dict[str, Any]]:
    """Cartesian product over list values (a list is a sweep).

    Examples
    --------
    >>> grid({"a": [1, 2], "b": 0})
    [{'a': 1, 'b': 0}, {'a': 2, 'b': 0}]
    """
    keys = list(params)
    values = [v if isinstance(v, list) else [v] for v in params.values()]
    return [dict(zip(keys, combo)) for combo in itertools.product(*values)]
