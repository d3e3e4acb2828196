"""Atomic file writes: write to a hidden temporary file beside the target, then
``os.replace`` it into place, so a killed writer never leaves a truncated file."""

from __future__ import annotations

import os
import secrets
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator


@contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """Yield a temporary path to write to; on success it replaces ``path``.

    The temporary file is hidden (its name starts with a dot and ends with
    ``.tmp``), lives in the target's folder (so the rename never crosses file
    systems), and is removed if the block raises. Missing parent folders are
    created.

    Parameters
    ----------
    path : str or Path
        The final location.

    Examples
    --------
    >>> import tempfile
    >>> target = Path(tempfile.mkdtemp()) / "note.txt"
    >>> with atomic_path(target) as tmp:
    ...     _ = tmp.write_text("done")
    >>> target.read_text()
    'done'
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
    try:
        yield tmp
        os.replace(tmp, path)
    finally:
        try:
            tmp.unlink(missing_ok=True)
        except OSError:  # e.g. a read-only folder: never hide the error that got us here
            pass
