"""The result store: one Parquet file per finished prediction, written atomically.

Layout under a suite's output folder::

    cells/<dataset>/<key>.parquet   rows of one (dataset, image, segmenter config)
    results.parquet                 all cells of the suite combined (rewritten after each run)
    predictions/index.csv           the kept label images of those rows (rewritten with it)

A cell file exists only once its rows are complete (written to a temporary file,
then renamed), so a run killed at any moment leaves either the whole cell or
nothing, and the next run recomputes exactly the missing cells. Each cell file
carries its own key and a SHA-256 of its rows in the Parquet metadata; a file
that cannot be read, holds another cell's rows or whose rows no longer match
their checksum (a flipped bit, a cut, garbage) is never trusted: the runner
computes it again.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path
from typing import Iterable

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from ..errors import SegbenchError
from ..io import atomic_path, atomic_write_text
from ..results import (
    CELLS_DIR, PREDICTION_FILE, PREDICTION_INDEX, PREDICTION_INDEX_COLUMNS, PREDICTIONS_DIR, RESULTS_CSV,
    RESULTS_FILE, Col,
)

__all__ = ["ResultStore", "prediction_index", "safe_rmtree"]


#: Parquet metadata key holding a cell file's own key (checked when it is read)
CELL_KEY_METADATA = "segbench_cell_key"
#: Parquet metadata key holding :func:`content_checksum` of a cell's rows
CELL_CHECKSUM_METADATA = "segbench_cell_sha256"


def content_checksum(table: pa.Table) -> str:
    """SHA-256 of a table's column names, types and values (its metadata left
    out), the same for equal contents however Parquet laid them out on disk.

    Examples
    --------
    >>> a = pa.table({"f1": [0.5, float("nan")], "image": ["a", None]})
    >>> content_checksum(a) == content_checksum(a.replace_schema_metadata({"k": "v"}))
    True
    >>> content_checksum(a) == content_checksum(pa.table({"f1": [0.5, 0.25], "image": ["a", None]}))
    False
    """
    digest = hashlib.sha256(str(table.schema.remove_metadata()).encode())
    for row in table.to_pylist():  # floats as repr: exact, NaN and -0.0 kept apart
        digest.update(json.dumps(list(row.values()), default=repr).encode() + b"\n")
    return digest.hexdigest()


def prediction_index(results: pd.DataFrame) -> pd.DataFrame:
    """The index of the label images a results table kept: one row per image and
    variant (its threshold rows share one file), ``file`` relative to the
    predictions folder, sorted by dataset, variant and image.

    Examples
    --------
    >>> rows = pd.DataFrame({"dataset": ["d", "d"], "image": ["a", "a"], "segmenter": ["s", "s"],
    ...                      "variant": ["s", "s"], "params": ["{}", "{}"], "threshold": [0.5, 0.75],
    ...                      "prediction_path": ["predictions/d/s+0-0/a.tif"] * 2})
    >>> prediction_index(rows)["file"].tolist()
    ['d/s+0-0/a.tif']
    """
    kept = results[results[Col.PREDICTION_PATH].fillna("") != ""].drop_duplicates(Col.PREDICTION_PATH)
    index = kept.assign(**{PREDICTION_FILE: kept[Col.PREDICTION_PATH].str.removeprefix(PREDICTIONS_DIR + "/")})
    return index.loc[:, list(PREDICTION_INDEX_COLUMNS)].sort_values([Col.DATASET, Col.VARIANT, Col.IMAGE])


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


def _distrust(table: pa.Table, key: str) -> str | None:
    """Why the rows read from cell ``key``'s file cannot be trusted, or None."""
    metadata = table.schema.metadata or {}
    stored = metadata.get(CELL_KEY_METADATA.encode(), b"").decode(errors="replace")
    if stored != key:
        return f"holds the rows of cell {stored or 'unknown'!r}, not {key!r}"
    checksum = metadata.get(CELL_CHECKSUM_METADATA.encode(), b"").decode(errors="replace")
    if not checksum:
        return "has no checksum of its rows (damaged, or written by an older segbench)"
    if checksum != content_checksum(table):
        return "its rows do not match their checksum (the file was damaged)"
    return None


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

    def load(self, dataset: str, key: str) -> tuple[pa.Table | None, str | None]:
        """The stored rows of a cell and None; ``(None, None)`` when it is not
        stored; or None and why they cannot be trusted: unreadable, holding
        another cell's rows, or not matching the checksum written with them."""
        if not self.cell_path(dataset, key).is_file():
            return None, None
        try:
            table = pq.read_table(self.cell_path(dataset, key))
            damage = _distrust(table, key)
        except Exception as exc:  # noqa: BLE001 - damaged bytes fail Parquet and Arrow in many ways
            return None, f"unreadable ({' '.join(str(exc).split())[:120]})"
        return (None, damage) if damage else (table, None)

    def write(self, dataset: str, key: str, rows: list[dict]) -> pa.Table:
        """Store the rows of one finished cell (atomic), with its key and the
        checksum of its rows in the file's metadata; returns them as a table."""
        table = pa.Table.from_pylist(rows)
        metadata = {CELL_KEY_METADATA: key, CELL_CHECKSUM_METADATA: content_checksum(table)}
        table = table.replace_schema_metadata(metadata)
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
            else:
                table, _ = self.load(dataset, key)  # a damaged cell was reported when the run was planned
                if table is not None:
                    tables.append(table)
        if not tables:
            return pd.DataFrame()
        return pa.concat_tables(tables, promote_options="default").to_pandas()

    def combine(
        self,
        keys: Iterable[tuple[str, str]] | None = None,
        csv: bool = False,
        loaded: dict[tuple[str, str], pa.Table] | None = None,
    ) -> pd.DataFrame:
        """Write ``results.parquet`` (and ``results.csv`` when asked) from the
        cells, then the index of their kept label images (when any were ever kept)."""
        frame = self.read(keys, loaded)
        if not frame.empty:
            _write_table(self.root / RESULTS_FILE, pa.Table.from_pandas(frame, preserve_index=False))
            if csv:
                atomic_write_text(self.root / RESULTS_CSV, frame.to_csv(index=False))
            if (self.root / PREDICTIONS_DIR).is_dir():
                index = prediction_index(frame)
                atomic_write_text(self.root / PREDICTIONS_DIR / PREDICTION_INDEX, index.to_csv(index=False))
        return frame
