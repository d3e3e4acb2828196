"""The cell store never trusts a damaged cell file.

Each cell file carries a checksum of its rows. Whatever happens to its bytes
(a flipped bit anywhere, a cut at any point, garbage), reading it either
reports the damage, so the runner computes the cell again with one warning, or
gives exactly the rows that were written: never a crash, never a changed number.
"""

import shutil

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from segbench import testing
from segbench.plugins import load_registry
from segbench.run.runner import run_suite
from segbench.run.store import ResultStore
from segbench.suite import load_suite

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

SCORES = ["image", "threshold", "tp", "fp", "fn", "f1", "accuracy", "seg", "aji", "dsb_mean_accuracy"]


@pytest.fixture(scope="module")
def registry():
    return load_registry(extra=[(testing, "segbench-testing", "1.0")])


def write_suite(folder, output):
    path = folder / "suite.yaml"
    path.write_text(
        f"name: cells\noutput: {output}\n"
        "datasets:\n  - name: blobs\n    generator: procedural\n    params: {n_images: 3, shape: [48, 48], n_objects: 5}\n"
        "segmenters:\n  - name: blob-threshold\nexecutor: {kind: local}\n"
    )
    return path


@pytest.fixture(scope="module")
def finished(tmp_path_factory, registry):
    """A finished run: its suite file, output folder and results."""
    folder = tmp_path_factory.mktemp("finished")
    suite_path = write_suite(folder, folder / "out")
    summary = run_suite(load_suite(suite_path, registry), registry)
    assert summary.ok and summary.n_done == 3
    return suite_path, folder / "out", summary.results


def scores(frame):
    return frame[SCORES].sort_values(["image", "threshold"]).reset_index(drop=True)


def flip_between_header_and_footer(data: bytes) -> bytes:
    """Every byte of the column data inverted; the magic bytes and the footer (metadata) intact."""
    footer = int.from_bytes(data[-8:-4], "little") + 8
    return data[:4] + bytes(b ^ 0xFF for b in data[4:-footer]) + data[-footer:]


@pytest.mark.parametrize(
    "damage",
    [flip_between_header_and_footer, lambda data: data[: len(data) // 2], lambda data: b"\x00garbage" * 50],
    ids=["middle-flipped", "truncated", "garbage"],
)
def test_a_damaged_cell_is_computed_again_with_one_warning(tmp_path, registry, finished, damage):
    _, out, results = finished
    copy = tmp_path / "out"
    shutil.copytree(out, copy)
    suite = load_suite(write_suite(tmp_path, copy), registry)
    victim = sorted((copy / "cells" / "blobs").iterdir())[1]
    victim.write_bytes(damage(victim.read_bytes()))
    summary = run_suite(suite, registry)
    assert summary.ok and summary.n_cached == 2 and summary.n_done == 1
    (warning,) = [w for w in summary.warnings if "computed again" in w]
    assert warning.startswith(f"{victim}: ") and ("unreadable" in warning or "checksum" in warning)
    pd.testing.assert_frame_equal(scores(summary.results), scores(results))
    table, damage = ResultStore(copy).load("blobs", victim.stem)
    assert table is not None and damage is None  # replaced by a sound cell


def test_changed_values_with_a_valid_parquet_layout_are_caught_by_the_checksum(tmp_path, finished):
    """A cell rewritten with one score changed but its metadata copied: a valid file, not trusted."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    _, out, _ = finished
    cell = sorted((out / "cells" / "blobs").iterdir())[0]
    table = pq.read_table(cell)
    frame = table.to_pandas()
    frame.loc[0, "f1"] = 0.123
    forged = tmp_path / "cells" / "blobs" / cell.name
    forged.parent.mkdir(parents=True)
    pq.write_table(pa.Table.from_pandas(frame, schema=table.schema, preserve_index=False), forged)
    loaded, damage = ResultStore(tmp_path).load("blobs", cell.stem)
    assert loaded is None and damage == "its rows do not match their checksum (the file was damaged)"


def check_damaged(tmp_path, original, data):
    """Write ``data`` as the cell file; its rows must be refused or equal the original's.
    Returns whether they were refused."""
    store = ResultStore(tmp_path)
    path = store.cell_path("blobs", original["key"])
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    table, damage = store.load("blobs", original["key"])
    if table is None:
        assert damage
        return True
    assert damage is None
    pd.testing.assert_frame_equal(table.to_pandas(), original["frame"])
    return False


@pytest.fixture(scope="module")
def original(finished):
    """One sound cell: its key, bytes and rows."""
    _, out, _ = finished
    cell = sorted((out / "cells" / "blobs").iterdir())[0]
    table, damage = ResultStore(out).load("blobs", cell.stem)
    assert damage is None
    return {"key": cell.stem, "data": cell.read_bytes(), "frame": table.to_pandas()}


SETTINGS = settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


@SETTINGS
@given(where=st.floats(0, 1, exclude_max=True), bits=st.integers(1, 255))
def test_any_flipped_byte_is_detected_or_harmless(tmp_path, original, where, bits):
    data = bytearray(original["data"])
    position = int(where * len(data))
    data[position] ^= bits
    check_damaged(tmp_path, original, bytes(data))


@SETTINGS
@given(where=st.floats(0, 1, exclude_max=True))
def test_a_cell_cut_at_any_point_is_detected(tmp_path, original, where):
    data = original["data"]
    assert check_damaged(tmp_path, original, data[: int(where * len(data))])


@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(garbage=st.binary(max_size=2000), keep_tail=st.booleans())
def test_garbage_is_detected(tmp_path, original, garbage, keep_tail):
    """Random bytes, alone or followed by the real file's footer."""
    tail = original["data"][-2000:] if keep_tail else b""
    check_damaged(tmp_path, original, garbage + tail)
