"""Atomic file writes: write to a hidden temporary file beside the target, then
``os.replace`` it into place, so a killed writer never leaves a truncated file.

This is the one place segbench writes a file whose path a user gives (``--html``,
``--json``, ``--csv``, ``--out``): only a regular file, or nothing, is replaced
there, never a directory, device node, FIFO or socket."""

from __future__ import annotations

import os
import secrets
import stat
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from ..errors import InputError


#: characters of the target's name kept in the temporary file's name, so a target
#: whose name is near the file system's 255-byte limit still gets a temporary file
TMP_NAME_CHARS = 40


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
        The final location: absent, or a regular file (a link is followed).

    Raises
    ------
    InputError
        ``path`` exists and is not a regular file (checked before anything is written).

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
    _check_replaceable(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name[:TMP_NAME_CHARS]}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
    try:
        yield tmp
        os.replace(tmp, path)
    finally:
        try:
            tmp.unlink(missing_ok=True)
        except OSError:  # e.g. a read-only folder: never hide the error that got us here
            pass


def atomic_write_text(path: str | Path, text: str, encoding: str = "utf-8") -> None:
    """Write ``text`` to ``path`` through :func:`atomic_path`: readers see the
    old file or all of ``text``, never part of it.

    Raises
    ------
    InputError
        ``path`` exists and is not a regular file.

    Examples
    --------
    >>> import tempfile
    >>> target = Path(tempfile.mkdtemp()) / "run.json"
    >>> atomic_write_text(target, "{}")
    >>> target.read_text()
    '{}'
    """
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding=encoding)


def _check_replaceable(path: Path) -> None:
    """Refuse a ``path`` that exists and is not a regular file (a folder, a
    device node such as /dev/sda, a FIFO, a socket)."""
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        return
    except OSError as exc:
        raise InputError(path, f"cannot be written ({exc.strerror})", "choose a new file name") from None
    if not stat.S_ISREG(mode):
        kind = "a folder" if stat.S_ISDIR(mode) else "not a regular file"
        raise InputError(path, f"is {kind}; segbench replaces only regular files", "choose a new file name")
