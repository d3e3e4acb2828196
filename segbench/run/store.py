"""The result store: one Parquet file per finished prediction, written atomically.

Layout under a suite's output folder::

    cells/<dataset>/<key>.parquet   rows of one (dataset, image, segmenter config)
    results.parquet                 all cells of the suite combined (rewritten after each run)

A cell file exists only once its rows are complete (written to a temporary file,
then renamed), so a run killed at any moment leaves either the whole cell or
nothing, and the next run recomputes exactly the missing cells.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Iterable

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from ..errors import SegbenchError
from ..io import atomic_path
from ..results import CELLS_DIR, RESULTS_CSV, RESULTS_FILE

__all__ = ["ResultStore", "atomic_write_text", "safe_rmtree"]


#: Parquet metadata key holding a cell file's own key (checked when it is read)
CELL_KEY_METADATA = "segbench_cell_key"


def atomic_write_text(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` so readers never see a partial file."""
    with atomic_path(path) as tmp:
        tmp.write_text(text)


def safe_rmtree(path: Path, root: Path) -> None:
    """Remove ``path``, which must lie strictly inside ``root`` (the output
    folder) once links are resolved; anything else is refused."""
    target, base = Path(path).resolve(), Path(root).resolve()
    if target == base or base not in target.parents:
        raise SegbenchError(f"refusing to delete {path}: it is not inside the output folder {root}")
    shutil.rmtree(target)


def _write_table(path: Path, table: pa.Table) -> None:
    with atomic_path(path) as tmp:
        pq.write_table(table, tmp)


class ResultStore:
    """Per-cell Parquet files under ``root/cells``.

    Parameters
    ----------
    root : Path
        The suite's output folder.
    """

    def __init__(self, root: str | Path):
        self.root = Path(root)
        self.cells = self.root / CELLS_DIR

    def cell_path(self, dataset: str, key: str) -> Path:
        return self.cells / dataset / f"{key}.parquet"

    def has(self, dataset: str, key: str) -> bool:
        return self.cell_path(dataset, key).is_file()

    def check(self, dataset: str, key: str) -> str | None:
        """Why the stored cell cannot be trusted (unreadable, or holding another
        cell's rows), or None when it is sound or absent. Reads only the
        file's footer."""
        path = self.cell_path(dataset, key)
        if not path.is_file():
            return None
        try:
            metadata = pq.read_schema(path).metadata or {}
        except (OSError, pa.ArrowException) as exc:
            return f"unreadable ({' '.join(str(exc).split())[:120]})"
        stored = metadata.get(CELL_KEY_METADATA.encode(), b"").decode()
        if stored != key:
            return f"holds the rows of cell {stored or 'unknown'!r}, not {key!r}"
        return None

    def write(self, dataset: str, key: str, rows: list[dict]) -> pa.Table:
        """Store the rows of one finished cell (atomic), with its key in the
        file's metadata; returns them as a table."""
        table = pa.Table.from_pylist(rows)
        table = table.replace_schema_metadata({CELL_KEY_METADATA: key})
        _write_table(self.cell_path(dataset, key), table)
        return table

    def read(
        self, keys: Iterable[tuple[str, str]] | None = None, loaded: dict[tuple[str, str], pa.Table] | None = None
    ) -> pd.DataFrame:
        """All stored rows, or those of the given (dataset, key) cells.

        ``loaded`` maps cells already in memory (e.g. just written) to their
        tables, so only the others are read from disk."""
        loaded = loaded or {}
        if keys is None:
            keys = [(p.parent.name, p.stem) for p in sorted(self.cells.glob("*/*.parquet"))]
        tables = []
        for dataset, key in keys:
            if (dataset, key) in loaded:
                tables.append(loaded[(dataset, key)])
            elif self.has(dataset, key) and self.check(dataset, key) is None:
                tables.append(pq.read_table(self.cell_path(dataset, key)))
        if not tables:
            return pd.DataFrame()
        return pa.concat_tables(tables, promote_options="default").to_pandas()

    def combine(
        self,
        keys: Iterable[tuple[str, str]] | None = None,
        csv: bool = False,
        loaded: dict[tuple[str, str], pa.Table] | None = None,
    ) -> pd.DataFrame:
        """Write ``results.parquet`` (and ``results.csv`` when asked) from the cells."""
        frame = self.read(keys, loaded)
        if not frame.empty:
            _write_table(self.root / RESULTS_FILE, pa.Table.from_pandas(frame, preserve_index=False))
            if csv:
                atomic_write_text(self.root / RESULTS_CSV, frame.to_csv(index=False))
        return frame
