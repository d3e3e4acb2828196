"""Skip rewriting a report or plots whose inputs did not change.

A warm rerun of a suite computes nothing, yet rendering the HTML report and
the plots took most of its time. Each output records a key: a hash of the
results table's content and of everything else the rendering depends on
(suite record, options, segbench version). When the key stored with an
existing output equals the new one, the output is left as it is.

The HTML report carries its key in a ``<meta name='segbench-key'>`` tag of its
head; a folder of plots carries it in the file :data:`PLOTS_KEY`.
"""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path
from typing import Any

import pandas as pd

from .. import __version__

__all__ = ["PLOTS_KEY", "content_key", "html_key", "html_key_tag", "read_text_key", "write_text_key"]

#: the file beside the plots that holds their key
PLOTS_KEY = ".plots-key"
_META = re.compile(r"<meta name='segbench-key' content='([0-9a-f]+)'>")


def content_key(results: pd.DataFrame, **parts: Any) -> str:
    """A hex key of the table's content (every cell, the column names) and of
    ``parts`` (JSON-serialisable; anything else by its ``str``), with the
    segbench version."""
    rows = pd.util.hash_pandas_object(results, index=False).to_numpy()
    digest = hashlib.sha256(rows.tobytes())
    payload = {"columns": [str(c) for c in results.columns], "parts": parts, "segbench": __version__}
    digest.update(json.dumps(payload, sort_keys=True, default=str).encode())
    return digest.hexdigest()[:32]


def html_key_tag(key: str) -> str:
    """The tag that stores ``key`` in an HTML report's head."""
    return f"<meta name='segbench-key' content='{key}'>"


def html_key(path: Path) -> str | None:
    """The key stored in an existing HTML report (None when there is none)."""
    try:
        with open(path, encoding="utf-8", errors="replace") as handle:
            head = handle.read(4096)
    except OSError:
        return None
    found = _META.search(head)
    return found.group(1) if found else None


def read_text_key(path: Path) -> str | None:
    """The key in a key file (None when missing or unreadable)."""
    try:
        return Path(path).read_text(encoding="utf-8").strip() or None
    except OSError:
        return None


def write_text_key(path: Path, key: str) -> None:
    """Store ``key`` in a key file (atomically)."""
    from ..io import atomic_write_text

    atomic_write_text(path, key + "\n")
