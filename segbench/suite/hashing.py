"""Stable hashes and seeds derived from a suite's content."""

from __future__ import annotations

import hashlib
import json
from typing import Any


def stable_hash(obj: Any) -> str:
    """sha256 hex digest of a JSON rendering with sorted keys (stable across runs)."""
    text = json.dumps(obj, sort_keys=True, default=str, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


def config_id(name: str, params: Any, settings: Any) -> str:
    """What a model is, without the data it learns from: 12 hex digits of the
    plugin ``name``, its constructor ``params`` and its ``fit`` ``settings``
    (None for a segmenter used as it is). Cell rows carry it; a training's
    seed derives from it."""
    return stable_hash({"name": name, "params": params, "train": settings})[:12]


def derive_seed(seed: int, *parts: Any) -> int:
    """A seed in ``[0, 2**31)`` derived from the suite seed and the matrix cell."""
    return int(stable_hash([seed, *parts])[:8], 16) & 0x7FFFFFFF


