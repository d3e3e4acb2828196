"""Stable hashes and seeds derived from a suite's content."""

from __future__ import annotations

import hashlib
import json
from typing import Any


def stable_hash(obj: Any) -> str:
    """sha256 hex digest of a JSON rendering with sorted keys (stable across runs)."""
    text = json.dumps(obj, sort_keys=True, default=str, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


def derive_seed(seed: int, *parts: Any) -> int:
    """A seed in ``[0, 2**31)`` derived from the suite seed and the matrix cell."""
    return int(stable_hash([seed, *parts])[:8], 16) & 0x7FFFFFFF


