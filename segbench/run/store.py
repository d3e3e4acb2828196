"""The result store: one Parquet file per finished prediction, written atomically.

Layout under a suite's output folder::

    cells/<dataset>/<key>.parquet   rows of one (dataset, image, segmenter config)
    results.parquet                 all cells combined (rewritten after each run)

A cell file exists only once its rows are complete (written to a temporary file,
then renamed), so a run killed at any moment leaves either the whole cell or
nothing, and the next run recomputes exactly the missing cells.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Iterable

import pandas as pd

__all__ = ["ResultStore", "atomic_write_bytes", "atomic_write_text"]


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` so readers never see a partial file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def atomic_write_text(path: Path, text: str) -> None:
    atomic_write_bytes(path, text.encode())


class ResultStore:
    """Per-cell Parquet files under ``root/cells``.

    Parameters
    ----------
    root : Path
        The suite's output folder.
    """

    def __init__(self, root: str | Path):
        self.root = Path(root)
        self.cells = self.root / "cells"

    def cell_path(self, dataset: str, key: str) -> Path:
        return self.cells / dataset / f"{key}.parquet"

    def has(self, dataset: str, key: str) -> bool:
        return self.cell_path(dataset, key).is_file()

    def write(self, dataset: str, key: str, rows: list[dict]) -> Path:
        """Store the rows of one finished cell (atomic)."""
        path = self.cell_path(dataset, key)
        frame = pd.DataFrame(rows)
        buffer = frame.to_parquet(index=False)
        atomic_write_bytes(path, buffer)
        return path

    def read(self, keys: Iterable[tuple[str, str]] | None = None) -> pd.DataFrame:
        """All stored rows, or those of the given (dataset, key) cells."""
        if keys is None:
            paths = sorted(self.cells.glob("*/*.parquet"))
        else:
            paths = [self.cell_path(d, k) for d, k in keys]
            paths = [p for p in paths if p.is_file()]
        if not paths:
            return pd.DataFrame()
        return pd.concat([pd.read_parquet(p) for p in paths], ignore_index=True)

    def combine(self, keys: Iterable[tuple[str, str]] | None = None, csv: bool = False) -> pd.DataFrame:
        """Write ``results.parquet`` (and ``results.csv`` when asked) from the cells."""
        frame = self.read(keys)
        if not frame.empty:
            atomic_write_bytes(self.root / "results.parquet", frame.to_parquet(index=False))
            if csv:
                atomic_write_text(self.root / "results.csv", frame.to_csv(index=False))
        return frame
