"""Content hashes of files and folders, for cache keys."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Iterable, Iterator

from ..errors import InputError

__all__ = ["content_hash"]

_SCHEME = b"segbench-content-v1\0"
_CHUNK = 1 << 20


def content_hash(target: str | Path | Iterable[str | Path]) -> str:
    """SHA-256 of file names and contents, as 64 hex digits.

    The hash changes when a file is added, removed, renamed or changed, and
    not when files are only moved to another place as a whole or touched
    (modification times are not hashed). Hidden files and folders (names
    starting with a dot) are skipped, so temporary files of a writer at work
    do not count.

    Parameters
    ----------
    target : str, Path, or iterable of them
        A folder (every file below it, recursively, named by its path relative
        to the folder, in sorted order), a single file (named by its file
        name), or several files and folders (in the given order, each named
        by its own name).

    Returns
    -------
    str
        Hex digest.

    Raises
    ------
    segbench.errors.InputError
        A named file or folder does not exist.

    Examples
    --------
    >>> import tempfile
    >>> folder = Path(tempfile.mkdtemp())
    >>> _ = (folder / "a.txt").write_text("x")
    >>> before = content_hash(folder)
    >>> _ = (folder / "a.txt").write_text("y")
    >>> content_hash(folder) != before
    True
    """
    if isinstance(target, (str, Path)):
        target = Path(target)
        files = _folder_files(target, "") if target.is_dir() else _named_files([target])
    else:
        files = _named_files([Path(t) for t in target])
    digest = hashlib.sha256(_SCHEME)
    for name, path in files:
        digest.update(name.encode("utf-8") + b"\0" + str(path.stat().st_size).encode() + b"\0")
        with open(path, "rb") as stream:
            while chunk := stream.read(_CHUNK):
                digest.update(chunk)
    return digest.hexdigest()


def _named_files(paths: list[Path]) -> Iterator[tuple[str, Path]]:
    for path in paths:
        if path.is_dir():
            yield from _folder_files(path, path.name + "/")
        elif path.is_file():
            yield path.name, path
        else:
            raise InputError(path, "file not found", "check the path")


def _folder_files(folder: Path, prefix: str) -> Iterable[tuple[str, Path]]:
    if not folder.is_dir():
        raise InputError(folder, "folder not found", "check the path")
    files = []
    for path in folder.rglob("*"):
        relative = path.relative_to(folder)
        if path.is_file() and not any(part.startswith(".") for part in relative.parts):
            files.append((prefix + relative.as_posix(), path))
    return sorted(files)
