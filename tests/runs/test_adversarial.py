"""Adversarial input: what careless users and hostile suite files do to `segbench run`.

Each case gets one clear line (or runs correctly), and nothing outside the
output folder, nor anything already computed, is ever lost. Kill tests block
the run at a known point instead of racing it with sleeps.
"""

import errno
import json
import os
import signal
import stat
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from segbench import testing
from segbench.cli import main
from segbench.errors import SegbenchError
from segbench.metrics import match
from segbench.plugins import load_registry
from segbench.results import OUTPUT_MARKER
from segbench.run.runner import run_suite
from segbench.suite import SuiteLoadError, load_suite

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


@pytest.fixture(scope="module")
def registry():
    return load_registry(extra=[(testing, "segbench-testing", "1.0")])


def suite_text(output, dataset_name="blobs", segmenters="  - name: blob-threshold\n", extra="", executor="local"):
    return textwrap.dedent(f"""\
        name: adv
        output: {output}
        datasets:
          - name: {dataset_name}
            generator: procedural
            params: {{n_images: 4, shape: [48, 48], n_objects: 5}}
            split: {{train: 1, test: 3}}
        segmenters:
        """) + segmenters + extra + f"executor: {{kind: {executor}, workers: 2}}\n"


def write(tmp_path, text, name="suite.yaml"):
    path = tmp_path / name
    path.write_text(text) if isinstance(text, str) else path.write_bytes(text)
    return path


def problems(path, registry):
    with pytest.raises(SuiteLoadError) as info:
        load_suite(path, registry)
    return [str(p) for p in info.value.problems]


# ---------------------------------------------------------------------------
# data loss


@pytest.mark.parametrize("name", ["..", "../../victim2", "/data/lab/victim", ".", "a/b", "x" * 65])
def test_dataset_names_that_are_paths_are_refused_and_nothing_is_deleted(tmp_path, registry, name):
    victim = tmp_path / "victim2"
    victim.mkdir()
    (victim / "keep.txt").write_text("mine")
    path = write(tmp_path, suite_text(tmp_path / "out" / "deep", dataset_name=json.dumps(name)))
    lines = problems(path, registry)
    assert any("datasets[0].name: dataset name" in line and "may hold only letters, digits" in line for line in lines)
    assert (victim / "keep.txt").read_text() == "mine"


def test_segmenter_labels_and_suite_names_are_checked_too(tmp_path, registry):
    text = suite_text(tmp_path / "out", segmenters="  - name: blob-threshold\n    label: ../x\n").replace(
        "name: adv", "name: a/b"
    )
    lines = problems(write(tmp_path, text), registry)
    assert any(": name: suite name 'a/b' may hold only" in line for line in lines)
    assert any("segmenters[0].label: label '../x' may hold only" in line for line in lines)


def test_a_folder_segbench_did_not_write_is_never_replaced(tmp_path, registry, monkeypatch):
    """output: . with the user's own data/blobs folder: refused, the folder untouched;
    even inside a folder segbench marked, a dataset folder it did not write is kept."""
    own = tmp_path / "data" / "blobs"
    own.mkdir(parents=True)
    (own / "precious.tif").write_bytes(b"lab data")
    monkeypatch.chdir(tmp_path)
    suite = load_suite(write(tmp_path, suite_text(".")), registry)
    with pytest.raises(SegbenchError, match="already holds files and was not created by segbench"):
        run_suite(suite, registry)
    (tmp_path / OUTPUT_MARKER).write_text("")
    summary = run_suite(suite, registry)
    (failure,) = summary.failures
    assert "was not written by segbench" in str(failure) and "move it away or choose another output" in str(failure)
    assert (own / "precious.tif").read_bytes() == b"lab data"


USER_FILES = ("report.html", "results.parquet", "results.csv", "run.json", "suite.json")


def test_an_existing_folder_segbench_did_not_create_is_not_written_into(tmp_path, capsys):
    """output: a lab's own folder holding files of segbench's names: one line, nothing written there."""
    own = tmp_path / "paper"
    own.mkdir()
    for name in USER_FILES:
        (own / name).write_text("mine")
    assert main(["run", str(write(tmp_path, suite_text(own, segmenters="  - name: otsu-watershed\n")))]) == 2
    (line,) = capsys.readouterr().err.strip().splitlines()
    assert f"output: {own} already holds files and was not created by segbench" in line
    assert "choose one with output: or --output" in line
    assert sorted(p.name for p in own.iterdir()) == sorted(USER_FILES)
    assert all((own / name).read_text() == "mine" for name in USER_FILES)


def test_an_empty_folder_is_taken_and_marked_and_a_marked_one_is_reused(tmp_path, registry):
    out = tmp_path / "out"
    out.mkdir()
    suite = load_suite(write(tmp_path, suite_text(out)), registry)
    assert run_suite(suite, registry).ok and (out / OUTPUT_MARKER).is_file()
    assert run_suite(suite, registry).n_cached == 3


def test_a_second_run_into_a_locked_output_stops_with_one_line(tmp_path, registry):
    from filelock import FileLock

    out = tmp_path / "out"
    out.mkdir()
    suite = load_suite(write(tmp_path, suite_text(out)), registry)
    with FileLock(str(out / ".segbench.lock")):
        with pytest.raises(SegbenchError, match="another segbench run is writing to .* wait for it to finish"):
            run_suite(suite, registry)
    assert not (out / "data").exists()
    assert run_suite(suite, registry).ok


def test_a_generated_dataset_that_lost_an_image_is_written_again(tmp_path, registry):
    suite_path = write(tmp_path, suite_text(tmp_path / "out"))
    assert run_suite(load_suite(suite_path, registry), registry).ok
    images = tmp_path / "out" / "data" / "blobs" / "images"
    victim = sorted(images.iterdir())[-1]
    victim.unlink()
    summary = run_suite(load_suite(suite_path, registry), registry)
    assert summary.ok and len(list(images.iterdir())) == 4
    assert any("were missing or changed since they were written" in w for w in summary.warnings)
    assert summary.n_cached == 3  # the same images again: the cells stay valid


def test_damaged_and_swapped_cells_are_reported_and_computed_again(tmp_path, registry):
    suite_path = write(tmp_path, suite_text(tmp_path / "out"))
    assert run_suite(load_suite(suite_path, registry), registry).ok
    first, second, third = sorted((tmp_path / "out" / "cells" / "blobs").iterdir())
    first.write_bytes(first.read_bytes()[:20])  # truncated
    third.write_bytes(second.read_bytes())  # a valid cell copied over another
    summary = run_suite(load_suite(suite_path, registry), registry)
    assert summary.ok and summary.n_cached == 1 and summary.n_done == 2
    assert sum("unreadable" in w for w in summary.warnings) == 1
    assert sum("holds the rows of cell" in w for w in summary.warnings) == 1
    results = pd.read_parquet(tmp_path / "out" / "results.parquet")
    assert results.groupby(["image", "threshold"]).size().eq(1).all() and results["image"].nunique() == 3


@pytest.mark.kill
def test_workers_end_when_the_run_is_killed(tmp_path):
    """SIGKILL a `processes` run while a worker is inside a cell: the worker goes too."""
    path = write(tmp_path, suite_text(tmp_path / "out", executor="processes"))
    blocked = tmp_path / "blocked"
    script = textwrap.dedent(f"""
        from segbench import testing
        from segbench.plugins import load_registry
        from segbench.run.runner import run_suite
        from segbench.suite import load_suite
        registry = load_registry(extra=[(testing, "segbench-testing", "1.0")])
        run_suite(load_suite({str(path)!r}, registry), registry)
        """)
    env = {**os.environ, testing.BLOCK_AFTER_VARIABLE: "0", testing.BLOCKED_VARIABLE: str(blocked)}
    # its own process group, so the clean-up below ends the run and its workers even when the test fails
    proc = subprocess.Popen([sys.executable, "-c", script], env=env, start_new_session=True)
    try:
        deadline = time.monotonic() + 120
        while not blocked.exists() and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        assert blocked.exists(), f"no worker blocked (run exited with {proc.poll()})"
        worker = int(blocked.read_text())  # written atomically: complete once it exists
        assert worker != proc.pid
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        deadline = time.monotonic() + 30
        while _alive(worker) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not _alive(worker)
    finally:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:  # everything it started has ended
            pass
        proc.wait()


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().split()[2] != "Z"  # a zombie has ended
    except FileNotFoundError:
        return False


# ---------------------------------------------------------------------------
# information disclosure


def test_a_results_folder_cannot_make_the_report_read_files_outside_it(tmp_path, registry, monkeypatch, caplog):
    """suite.json's dataset folder and a prediction_path with ../ lead out of the results folder:
    not read, a note and a warning instead; the user's own suite's datasets are still shown."""
    import segbench.io
    from segbench.report.html import write_html_report

    out = tmp_path / "out"
    text = suite_text(out).replace("name: adv", "name: adv\nsave_predictions: true")
    assert run_suite(load_suite(write(tmp_path, text), registry), registry).ok
    secret = tmp_path / "secret"
    (out / "data" / "blobs").rename(secret)  # images someone else's results folder points at
    record = json.loads((out / "suite.json").read_text())
    record["datasets"][0]["folder"] = str(out / ".." / "secret")
    (out / "suite.json").write_text(json.dumps(record))
    results = pd.read_parquet(out / "results.parquet")
    results["prediction_path"] = "../secret/masks/" + results["image"] + ".tif"
    results.to_parquet(out / "results.parquet")
    read = []
    for name in ("read_image", "read_labels", "find_pairs", "read_sample"):
        real = getattr(segbench.io, name)
        monkeypatch.setattr(segbench.io, name, lambda path, *a, real=real, **k: read.append(Path(path)) or real(path, *a, **k))

    page = write_html_report(out).read_text()
    assert not any(secret in p.resolve().parents or p.resolve() == secret for p in read)
    assert "lies outside the results folder and the datasets of your suite; not read" in page
    assert any("lies outside the results folder" in r.getMessage() for r in caplog.records)

    read.clear()
    caplog.clear()
    write_html_report(out, dataset_folders=[secret])  # the user's own suite names it: its images are shown
    assert any(p.resolve().parent == secret / "images" for p in read)
    skipped = [r.getMessage() for r in caplog.records if "lies outside the results folder" in r.getMessage()]
    assert skipped and all(": prediction " in line for line in skipped)  # ../ predictions are still not read


# ---------------------------------------------------------------------------
# untrusted input


def test_a_suite_cannot_send_work_to_another_machine_s_scheduler(tmp_path, registry):
    from segbench.run.executors import check_address, is_local_address

    with pytest.raises(SegbenchError, match=r"10\.1\.2\.3:8786 is not on this machine.*confirm with --address"):
        check_address("tcp://10.1.2.3:8786", confirmed=False)
    assert is_local_address("tcp://127.0.0.1:8786") and is_local_address("localhost:8786")
    assert not is_local_address("tls://scheduler.example.org:8786")
    text = suite_text(tmp_path / "out", segmenters="  - name: otsu-watershed\n").replace(
        "kind: local", "kind: dask, address: 'tcp://10.1.2.3:8786'"
    )
    assert main(["run", str(write(tmp_path, text))]) == 2
    assert not (tmp_path / "out").exists()  # refused before anything was written


def test_yaml_alias_bomb_is_refused_quickly(tmp_path, registry):
    bomb = 'a: &a ["x","x","x","x","x","x","x","x","x"]\n'
    for i in range(1, 9):
        prev = chr(ord("a") + i - 1)
        cur = chr(ord("a") + i)
        bomb += f"{cur}: &{cur} [*{prev},*{prev},*{prev},*{prev},*{prev},*{prev},*{prev},*{prev},*{prev}]\n"
    start = time.process_time()
    (line,) = problems(write(tmp_path, bomb), registry)
    assert time.process_time() - start < 30  # generous: it is linear, not 9**9
    assert "expands to more than 100000 values (through aliases)" in line


@pytest.mark.parametrize("loop", ["description: &a [*a]\n", "x_: &a {b: *a}\n"])
def test_a_self_referencing_alias_is_refused_at_once(tmp_path, registry, loop):
    text = suite_text(tmp_path / "out") + loop
    if loop.startswith("x_"):  # inside a segmenter's params
        text = suite_text(tmp_path / "out", segmenters="  - name: blob-threshold\n    params: {sigma: &a [*a]}\n")
    (line,) = problems(write(tmp_path, text), registry)  # returns at all: the loop is not followed
    assert "an alias refers to a value that contains it (a loop" in line and "remove the alias" in line


def test_a_huge_sweep_is_refused_before_it_is_expanded(tmp_path, registry):
    sweep = "{sigma: [%s], work: [%s], call_log: [%s]}" % (
        ", ".join(map(str, range(1, 1001))), ", ".join(map(str, range(1000))), ", ".join(f"l{i}" for i in range(100)))
    text = suite_text(tmp_path / "out", segmenters=f"  - name: blob-threshold\n    params: {sweep}\n")
    lines = problems(write(tmp_path, text), registry)  # counted, not expanded
    assert any("segmenters[0].params: the sweeps make 100,000,000 variants (1000 x 1000 x 100)" in line for line in lines)


def test_an_empty_sweep_is_refused_with_its_line(tmp_path, registry):
    text = suite_text(tmp_path / "out", segmenters="  - name: otsu-watershed\n  - name: blob-threshold\n    params: {sigma: []}\n")
    suite = load_suite(write(tmp_path, text), registry)
    (problem,) = suite.problems
    assert str(problem).endswith(":11: segmenters[1].params.sigma: an empty list is a sweep over no values "
                                 "(the entry would run nothing); give at least one value")


def test_a_suite_file_is_read_only_up_to_a_bound(tmp_path, registry):
    (line,) = problems(Path("/dev/zero"), registry)  # returns at all: the read is bounded
    assert "larger than 1 MiB; a suite is a small YAML text file" in line


def test_workers_are_capped_at_the_machine_s_cores_unless_the_command_line_says(tmp_path, registry):
    text = suite_text(tmp_path / "out").replace("workers: 2", "workers: 100000")
    suite = load_suite(write(tmp_path, text), registry)
    assert suite.executor.workers == os.cpu_count()
    assert any("100000 workers asked" in note and "--workers 100000" in note for note in suite.skipped)


def test_duplicate_keys_are_refused_with_their_line(tmp_path, registry):
    text = suite_text(tmp_path / "out") + "seed: 1\nseed: 2\n"
    (line,) = problems(write(tmp_path, text), registry)
    first = text.splitlines().index("seed: 1") + 1
    assert line.endswith(f":{first + 1}: key 'seed' appears twice in one mapping (first on line {first}); keep one")


@pytest.mark.parametrize(
    "old, new, expected",
    [
        ("shape: [48, 48]", "shape: [100000, 100000]", "params.shape: [100000, 100000] is 10,000,000,000 pixels"),
        ("n_images: 4", "n_images: 1000000000", "params.n_images: must be a whole number from 1 to 100000"),
        ("name: adv", "name: adv\nseed: 100000000000000000000000000000", "seed: must be a whole number from 0 to"),
        ("name: adv", "name: adv\nseed: 1e29", "seed: must be a whole number from 0 to 4294967295, got '1e29'"),
        ("- name: blob-threshold", "- name: blob-threshold\n    timeout: .nan", "timeout: must be a positive, finite"),
        ("- name: blob-threshold", "- name: blob-threshold\n    timeout: .inf", "timeout: must be a positive, finite"),
        ("- name: blob-threshold", "- name: blob-threshold\n    timeout: 1e300", "timeout: must be a positive, finite"),
        ("name: adv", "name: adv\ndescription: {a: 1}", "description: must be text, got dict {'a': 1}"),
        ("output: ", "output: ~nobody/x\nx_: ", "output: '~nobody/x' names another user's home folder (~USER)"),
        ("name: adv", "name: adv\n? [a, b]\n: 1", ":2: a key is a list or mapping (a complex key, `? [a, b]`)"),
        ("- name: blob-threshold", "- name: blob-threshold\n    params: {? {a: 1} : 2}", "a key is a list or mapping"),
        ("name: adv", "name: adv\nmetrics: {iou_thresholds: [0.5, 0.5000000001, 0.7]}", "0.5 given more than once"),
        ("name: adv", "name: adv\nmetrics: {iou_thresholds: [.nan]}", "must be a list of numbers in (0, 1], got [nan]"),
        ("output: ", "output: ''\nx_: ", "output: must name a folder for the results"),
        ("output: ", "output: /\nx_: ", "output: '/' is the file system's root"),
    ],
)
def test_out_of_bounds_values_are_refused_before_work_starts(tmp_path, registry, old, new, expected):
    text = suite_text(tmp_path / "out").replace(old, new, 1)
    text = text.replace(f"x_: {tmp_path / 'out'}\n", "")
    lines = problems(write(tmp_path, text), registry)
    assert any(expected in line for line in lines), lines


def test_too_many_objects_for_the_image_is_one_line(tmp_path, registry):
    text = suite_text(tmp_path / "out").replace("n_objects: 5", "n_objects: 1000000")
    summary = run_suite(load_suite(write(tmp_path, text), registry), registry)
    (failure,) = summary.failures
    assert "n_objects: 1000000 objects of radius 10 px cannot fit in a [48, 48] image" in str(failure)


def test_user_text_is_printed_as_written_not_as_markup(tmp_path, registry, capsys):
    text = suite_text(tmp_path / "out", segmenters="  - name: otsu-watershed\n")
    text = text.replace("name: adv", "name: adv\nmetrics: {iou_thresholds: [.nan]}")
    assert main(["run", str(write(tmp_path, text))]) == 2
    assert "got [nan]" in capsys.readouterr().err


ESCAPES = "\x1b]0;owned\x07\x1b[2J\x9b31m"


def assert_no_control_characters(text):
    """Nothing a terminal would act on: no ESC, BEL or CSI; the escapes shown instead."""
    assert not any(c in text for c in "\x1b\x07\x9b"), repr(text)
    assert "\\x1b]0;owned\\x07\\x1b[2J\\x9b31m" in text


def test_user_text_reaches_the_terminal_without_control_characters(tmp_path, capsys, monkeypatch):
    """An image name, a file name, a folder name and a results folder's labels holding
    ESC ]0; (window title), ESC [2J (clear screen) and CSI: shown, never acted on."""
    lab = lab_folder(tmp_path)
    (lab / "images" / "img0000.tif").rename(lab / "images" / f"img{ESCAPES}.tif")  # an image without its mask
    otsu = "  - name: otsu-watershed\n"
    text = suite_text(tmp_path / "out", segmenters=otsu).replace(
        "generator: procedural\n    params: {n_images: 4, shape: [48, 48], n_objects: 5}\n    split: {train: 1, test: 3}",
        f"path: {lab}",
    )
    assert main(["run", str(write(tmp_path, text)), "--no-html", "--no-plots"]) == 0
    assert_no_control_characters(capsys.readouterr().err)

    pred = tmp_path / "pred"
    pred.mkdir()
    for mask in (lab / "masks").iterdir():
        (pred / mask.name).write_bytes(mask.read_bytes())
    (pred / f"x{ESCAPES}.tif").write_bytes(mask.read_bytes())  # a prediction without ground truth
    assert main(["evaluate", "--gt", str(lab), "--pred", str(pred)]) == 0
    assert_no_control_characters(capsys.readouterr().err)

    assert main(["report", str(tmp_path / f"no{ESCAPES}")]) == 2
    assert_no_control_characters(capsys.readouterr().err)

    results = pd.read_parquet(tmp_path / "out" / "results.parquet")
    results["segmenter"] = results["variant"] = f"otsu{ESCAPES}"
    results.to_parquet(tmp_path / "out" / "results.parquet")
    monkeypatch.setenv("COLUMNS", "300")
    assert main(["report", str(tmp_path / "out")]) == 0
    assert_no_control_characters(capsys.readouterr().out)


# ---------------------------------------------------------------------------
# tracebacks that became one line


@pytest.fixture
def not_files(tmp_path):
    """A folder, a FIFO and a link to a device node: paths a writer must not replace."""
    (tmp_path / "folder").mkdir()
    os.mkfifo(tmp_path / "fifo")
    (tmp_path / "device").symlink_to("/dev/null")
    return [tmp_path / "folder", tmp_path / "fifo", tmp_path / "device"]


def test_atomic_writes_replace_only_regular_files(not_files):
    from segbench.io import atomic_path

    for path in not_files:
        with pytest.raises(SegbenchError, match=f"{path}: is (a folder|not a regular file); segbench replaces only"):
            with atomic_path(path) as tmp:
                tmp.write_text("x")
    assert not_files[0].is_dir() and stat.S_ISFIFO(os.stat(not_files[1]).st_mode)
    assert os.readlink(not_files[2]) == "/dev/null"
    assert sorted(p.name for p in not_files[0].parent.iterdir()) == ["device", "fifo", "folder"]  # no temporary left


def test_report_and_evaluate_writers_refuse_what_is_not_a_file_in_one_line(tmp_path, registry, not_files, capsys):
    out = tmp_path / "out"
    assert run_suite(load_suite(write(tmp_path, suite_text(out)), registry), registry).ok
    masks = str(out / "data" / "blobs" / "masks")
    for path in not_files:
        for argv in (["report", str(out), "--html", str(path)], ["evaluate", "--gt", masks, "--pred", masks, "--json", str(path)]):
            capsys.readouterr()
            assert main(argv) == 2
            err = capsys.readouterr().err.strip().splitlines()
            assert err[-1].startswith(f"error: {path}: is ") and "Traceback" not in "".join(err)
    assert os.readlink(not_files[2]) == "/dev/null"


def test_a_suite_that_is_not_utf8_is_one_line(tmp_path, registry):
    text = suite_text(tmp_path / "out")
    (line,) = problems(write(tmp_path, text.encode() + b"description: caf\xe9\n"), registry)
    assert line.endswith(f":{len(text.splitlines()) + 1}: not UTF-8 text (byte 0xe9); save the file as UTF-8")


def test_output_that_is_a_file_or_below_one_is_one_line(tmp_path, registry, capsys):
    afile = tmp_path / "afile"
    afile.write_text("x")
    assert any("is a file, not a folder" in line for line in problems(write(tmp_path, suite_text(afile)), registry))
    otsu = "  - name: otsu-watershed\n"
    assert main(["run", str(write(tmp_path, suite_text(afile / "out", segmenters=otsu)))]) == 2
    assert "error: output: cannot create" in capsys.readouterr().err


def test_a_full_disk_stops_the_run_with_one_line_and_damages_no_cell(tmp_path, registry, monkeypatch):
    from segbench.run import store

    suite_path = write(tmp_path, suite_text(tmp_path / "out"))
    real = store._write_table
    calls = []

    def fill_up(path, table):
        calls.append(path)
        if len(calls) > 1:
            raise OSError(errno.ENOSPC, "No space left on device")
        real(path, table)

    monkeypatch.setattr(store, "_write_table", fill_up)
    with pytest.raises(SegbenchError, match="No space left on device.*finished cells are kept"):
        run_suite(load_suite(suite_path, registry), registry)
    monkeypatch.setattr(store, "_write_table", real)
    summary = run_suite(load_suite(suite_path, registry), registry)
    assert summary.ok and summary.n_cached == 1 and summary.n_done == 2


def test_bad_files_in_a_folder_dataset_are_data_problems_reported_once(tmp_path, registry):
    import tifffile

    from segbench.builtin.procedural import Procedural
    from segbench.io import write_dataset

    lab = tmp_path / "lab"
    write_dataset(lab, Procedural(shape=(48, 48), n_objects=5).generate(3, seed=1))
    os.rename(lab / "images" / "img0000.tif", os.fsdecode(bytes(lab / "images") + b"/im\xffg.tif"))
    image = tifffile.imread(lab / "images" / "img0001.tif").astype(np.float32)
    image[3, 3] = np.nan
    tifffile.imwrite(lab / "images" / "img0001.tif", image)
    segs = "  - name: blob-threshold\n  - name: blob-threshold\n    label: second\n    params: {sigma: 2.0}\n"
    text = suite_text(tmp_path / "out", segmenters=segs).replace(
        "generator: procedural\n    params: {n_images: 4, shape: [48, 48], n_objects: 5}\n    split: {train: 1, test: 3}",
        f"path: {lab}",
    )
    summary = run_suite(load_suite(write(tmp_path, text), registry), registry)
    (failure,) = summary.failures  # one line for the image, not one per segmenter
    assert str(failure).endswith("img0001.tif: 1 pixel(s) are NaN or infinite; replace them (e.g. with the "
                                 "background value) or leave the image out")
    assert any("im\ufffdg.tif: its file name is not valid UTF-8" in w for w in summary.warnings)
    assert summary.n_done == 2  # img0002 with both segmenters


def test_saved_prediction_names_are_one_to_one_and_never_too_long(tmp_path, registry):
    """Images `a b`, `a+b`, `a_b` and a 240-character name: four prediction files, each its own image's."""
    import tifffile

    from segbench.builtin.procedural import Procedural
    from segbench.io import write_dataset

    lab = tmp_path / "lab"
    write_dataset(lab, Procedural(shape=(48, 48), n_objects=5).generate(4, seed=1))
    names = ["a b", "a+b", "a_b", "x" * 240]
    for old, new in zip(sorted(p.stem for p in (lab / "images").iterdir()), names):
        for sub in ("images", "masks"):
            os.rename(lab / sub / f"{old}.tif", lab / sub / f"{new}.tif")
    text = suite_text(tmp_path / "out").replace(
        "generator: procedural\n    params: {n_images: 4, shape: [48, 48], n_objects: 5}\n    split: {train: 1, test: 3}",
        f"path: {lab}",
    ).replace("name: adv", "name: adv\nsave_predictions: true")
    summary = run_suite(load_suite(write(tmp_path, text), registry), registry)
    assert summary.ok and summary.n_done == 4, summary.failures
    paths = summary.results.groupby("image")["prediction_path"].first()
    assert sorted(paths.index) == sorted(names) and paths.nunique() == 4
    for name, relpath in paths.items():
        assert all(len(part.encode()) < 200 for part in Path(relpath).parts)
        labels = tifffile.imread(tmp_path / "out" / relpath)
        expected = testing.BlobThreshold().predict(tifffile.imread(lab / "images" / f"{name}.tif"))
        assert np.array_equal(labels > 0, expected > 0), name


def lab_folder(tmp_path, n_images=3):
    """A folder dataset of procedural images and their label images."""
    from segbench.builtin.procedural import Procedural
    from segbench.io import write_dataset

    lab = tmp_path / "lab"
    write_dataset(lab, Procedural(shape=(64, 64), n_objects=6).generate(n_images, seed=1))
    return lab


def as_intensity(lab, mask):
    """The mask file replaced by its image: intensity images given as masks."""
    import tifffile

    tifffile.imwrite(mask, tifffile.imread(lab / "images" / mask.name).astype(np.uint16))


def as_binary(lab, mask):
    """The mask file replaced by a 0/255 mask of the same objects: one id for all."""
    import tifffile

    tifffile.imwrite(mask, (tifffile.imread(mask) > 0).astype(np.uint8) * 255)


@pytest.mark.parametrize("spoil, doubt", [(as_intensity, "looks like an intensity image, not a label image"),
                                          (as_binary, "is a binary mask: its one id covers")])
def test_masks_that_are_not_label_images_are_warned_about_once_per_dataset(tmp_path, registry, spoil, doubt):
    lab = lab_folder(tmp_path)
    for mask in (lab / "masks").iterdir():
        spoil(lab, mask)
    text = suite_text(tmp_path / "out").replace(
        "generator: procedural\n    params: {n_images: 4, shape: [48, 48], n_objects: 5}\n    split: {train: 1, test: 3}",
        f"path: {lab}",
    )
    summary = run_suite(load_suite(write(tmp_path, text), registry), registry)
    assert summary.ok and summary.n_done == 3  # scored as they are
    (line,) = [w for w in summary.warnings if "not label images" in w]
    assert line.startswith(f"datasets.blobs: {lab}: 3 of 3 masks checked are not label images (e.g. {lab / 'masks'}")
    assert doubt in line and "give label images with one id per object" in line


@pytest.mark.parametrize("side", ["--gt", "--pred"])
@pytest.mark.parametrize("spoil, doubt", [(as_intensity, "looks like an intensity image"), (as_binary, "is a binary mask")])
def test_evaluate_warns_once_per_folder_on_either_side(tmp_path, capsys, side, spoil, doubt):
    lab = lab_folder(tmp_path)
    spoiled = tmp_path / "spoiled"
    spoiled.mkdir()
    for mask in (lab / "masks").iterdir():
        (spoiled / mask.name).write_bytes(mask.read_bytes())
        spoil(lab, spoiled / mask.name)
    folders = {"--gt": lab / "masks", "--pred": lab / "masks", side: spoiled}
    assert main(["evaluate", "--gt", str(folders["--gt"]), "--pred", str(folders["--pred"])]) == 0
    (line,) = [l for l in capsys.readouterr().err.splitlines() if l.startswith("warning:")]
    assert line.startswith(f"warning: {side} {spoiled}: 3 of 3 masks checked are not label images") and doubt in line


def test_output_in_sys_is_one_line(tmp_path, capsys):
    text = suite_text("/sys/kernel", segmenters="  - name: otsu-watershed\n")
    assert main(["run", str(write(tmp_path, text))]) == 2
    (line,) = capsys.readouterr().err.strip().splitlines()
    assert line.startswith("error: output: /sys/kernel ")


@pytest.mark.parametrize("make", [lambda p: p.mkdir(), lambda p: p.symlink_to(p.parent / "elsewhere")])
def test_a_lock_file_that_is_a_folder_or_a_link_is_one_line(tmp_path, registry, make):
    suite = load_suite(write(tmp_path, suite_text(tmp_path / "out")), registry)
    assert run_suite(suite, registry).ok
    lock = tmp_path / "out" / ".segbench.lock"
    lock.unlink()
    make(lock)
    with pytest.raises(SegbenchError, match=r"\.segbench\.lock: is a (folder|link), not segbench's lock file; remove it"):
        run_suite(suite, registry)
    assert not (tmp_path / "elsewhere").exists()


@pytest.mark.parametrize("error", [errno.EACCES, errno.ENOSPC])
def test_a_dataset_that_cannot_be_written_is_one_line_and_the_rest_runs(tmp_path, registry, monkeypatch, error):
    """A read-only data/ folder or a full disk while a dataset is (re)generated."""
    import segbench.io

    real = segbench.io.write_dataset

    def refuse(folder, samples, **kwargs):
        if "blobs" in str(folder):
            raise OSError(error, os.strerror(error), str(folder / "images"))
        return real(folder, samples, **kwargs)

    monkeypatch.setattr(segbench.io, "write_dataset", refuse)
    text = suite_text(tmp_path / "out").replace(
        "datasets:\n", "datasets:\n  - name: other\n    generator: procedural\n    params: {n_images: 2, shape: [48, 48]}\n"
    )
    summary = run_suite(load_suite(write(tmp_path, text), registry), registry)
    (failure,) = summary.failures
    assert str(failure).startswith(f"datasets.blobs: cannot write its files under {tmp_path / 'out' / 'data' / 'blobs'} (")
    assert os.strerror(error) in str(failure) and "make that folder writable or free space" in str(failure)
    assert summary.n_done == 2  # the other dataset ran


def spoil_results(out, suite=None, column=None, value=None):
    if suite is not None:
        (out / "suite.json").write_text(suite)
    if column is not None:
        results = pd.read_parquet(out / "results.parquet")
        results[column] = results[column].astype(type(value))
        results.loc[0, column] = value
        results.to_parquet(out / "results.parquet")


@pytest.mark.parametrize(
    "suite, column, value, expected",
    [
        ("[1, 2]", None, None, "suite.json: holds a list, not a JSON object; rerun the suite"),
        ('{"rank_by": 5}', None, None, "suite.json: 'rank_by' must be text, got 5; rerun the suite"),
        (None, "tp", float("nan"), "results.parquet: 1 row(s) have no finite number in column 'tp'"),
        (None, "threshold", float("nan"), "results.parquet: 1 row(s) have no finite number in column 'threshold'"),
        (None, "params", "{broken", "results.parquet: column 'params' holds '{broken', not a JSON object"),
    ],
)
def test_a_broken_results_folder_is_one_line_in_every_reader(tmp_path, registry, capsys, suite, column, value, expected):
    out = tmp_path / "out"
    assert run_suite(load_suite(write(tmp_path, suite_text(out)), registry), registry).ok
    spoil_results(out, suite, column, value)
    for argv in (["report", str(out)], ["report", str(out), "--html", str(tmp_path / "r.html")], ["agreement", str(out)]):
        capsys.readouterr()
        assert main(argv) == 2
        (line,) = capsys.readouterr().err.strip().splitlines()
        assert line.startswith("error: ") and expected in line, line


def test_a_training_record_with_bad_fields_is_left_out_with_a_warning(tmp_path, capsys):
    record = tmp_path / "out" / "train" / "blobs" / "x-abc-123" / "segbench-training.json"
    record.parent.mkdir(parents=True)
    record.write_text(json.dumps({"seconds": "abc", "label": "x"}))
    assert main(["models", str(tmp_path / "out")]) == 1
    err = capsys.readouterr().err
    assert f"warning: {record}: 'seconds' must be a number of seconds, got 'abc'; left out" in err
    assert "Traceback" not in err


def test_an_rgba_image_is_segmented_as_grey(tmp_path, registry):
    """RGBA TIFFs in a folder dataset (R = G = B, opaque alpha): otsu-watershed scores them as the grey images."""
    import tifffile

    lab = lab_folder(tmp_path)
    grey = {}
    for image in (lab / "images").iterdir():
        grey[image.stem] = tifffile.imread(image)
        plane = grey[image.stem].astype(np.uint16)
        tifffile.imwrite(image, np.stack([plane, plane, plane, np.full_like(plane, 65535)], axis=-1))
    text = suite_text(tmp_path / "out", segmenters="  - name: otsu-watershed\n").replace(
        "generator: procedural\n    params: {n_images: 4, shape: [48, 48], n_objects: 5}\n    split: {train: 1, test: 3}",
        f"path: {lab}",
    )
    summary = run_suite(load_suite(write(tmp_path, text), registry), registry)
    assert summary.ok and summary.n_done == 3, summary.failures
    from segbench.builtin.otsu_watershed import OtsuWatershed
    from segbench.metrics import evaluate_image

    for name, image in grey.items():
        expected = evaluate_image(tifffile.imread(lab / "masks" / f"{name}.tif"), OtsuWatershed().predict(image), [0.5])
        row = summary.results.query("image == @name and threshold == 0.5").iloc[0]
        assert row["tp"] == expected.rows[0]["tp"] and row["fp"] == expected.rows[0]["fp"]


def test_a_segmenter_s_weights_error_is_reported_under_the_segmenter(tmp_path):
    """An InputError from a segmenter's own file (Cellpose weights) names the segmenter, not the dataset."""
    import types

    import segbench
    from segbench.errors import InputError

    class MissingWeights(segbench.Segmenter):
        name = "missing-weights"

        def __init__(self):
            raise InputError("weights/model.pth", "file not found", "check pretrained_model")

        def predict(self, image):
            raise AssertionError

    plugin = types.SimpleNamespace(segbench_register_segmenters=segbench.hookimpl(lambda: [MissingWeights]))
    registry = load_registry(extra=[(plugin, "weights-test", "1.0")])
    text = suite_text(tmp_path / "out", segmenters="  - name: missing-weights\n  - name: otsu-watershed\n")
    summary = run_suite(load_suite(write(tmp_path, text), registry), registry)
    assert summary.n_done == 3 and len(summary.failures) == 3
    assert all(f.message == "segmenter 'missing-weights': weights/model.pth: file not found; check pretrained_model"
               and f.where.startswith("blobs/") for f in summary.failures)


@pytest.mark.kill
def test_cellprofiler_temporary_folders_left_by_kill_9_are_removed_on_the_next_start(tmp_path, monkeypatch):
    """Only folders of ended processes carrying the plugin's marker go; others stay."""
    process = pytest.importorskip("segbench_cellprofiler.process")

    ended = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    dead = int(ended.stdout)

    def folder(name, pids=None):
        path = tmp_path / f"{process.WORKDIR_PREFIX}{name}"
        path.mkdir()
        if pids is not None:
            (path / process.OWNER_MARKER).write_text(json.dumps({"pids": pids}))
        return path

    stale = folder("stale", [dead])
    running = folder("running", [dead, os.getpid()])
    unmarked = folder("unmarked")
    garbage = folder("garbage")
    (garbage / process.OWNER_MARKER).write_text("not json")
    victim = tmp_path / "victim"
    victim.mkdir()
    (victim / process.OWNER_MARKER).write_text(json.dumps({"pids": [dead]}))
    (tmp_path / f"{process.WORKDIR_PREFIX}link").symlink_to(victim)

    assert process.remove_stale_workdirs(tmp_path) == [stale]
    assert not stale.exists() and running.is_dir() and unmarked.is_dir() and garbage.is_dir() and victim.is_dir()

    again = folder("again", [dead])
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    with pytest.raises(process.DriverFailure, match="could not run"):  # a start removes them first
        process.Driver(str(tmp_path / "no-python"), start_timeout=5)
    assert not again.exists() and running.is_dir()


def test_a_skipped_entry_makes_the_exit_code_1(tmp_path, capsys):
    text = suite_text(tmp_path / "out", segmenters="  - name: otsu-watershed\n  - name: nosuch\n")
    assert main(["run", str(write(tmp_path, text)), "--no-html", "--no-plots"]) == 1
    assert "unknown segmenter 'nosuch'" in capsys.readouterr().err


# ---------------------------------------------------------------------------
# properties


yaml_scalars = st.one_of(st.none(), st.booleans(), st.integers(-5, 10**30), st.floats(allow_nan=True),
                         st.text(max_size=8))
yaml_values = st.recursive(
    yaml_scalars,
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=8), children, max_size=3),
    max_leaves=12,
)
suite_keys = st.sampled_from(["name", "seed", "output", "datasets", "segmenters", "metrics", "executor", "extra"])


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.dictionaries(suite_keys, yaml_values, max_size=7))
def test_the_suite_loader_only_ever_answers_with_a_suite_or_its_problems(tmp_path, registry, data):
    import yaml

    path = tmp_path / "random.yaml"
    path.write_text(yaml.safe_dump(data))
    try:
        load_suite(path, registry)
    except SuiteLoadError as exc:
        assert exc.problems and all(str(p).startswith(str(path)) for p in exc.problems)


labels_2d = st.integers(0, 2**31 - 1).map(
    lambda seed: np.random.default_rng(seed).integers(0, 5, size=(12, 12)).astype(np.int32)
)


@settings(max_examples=80, deadline=None)
@given(gt=labels_2d, pred=labels_2d, t=st.sampled_from([0.1, 0.5, 0.9]))
def test_match_counts_are_consistent_and_symmetric(gt, pred, t):
    (row,) = match(gt, pred, thresholds=[t])
    assert row["tp"] + row["fn"] == row["n_true"] == len(np.unique(gt[gt > 0]))
    assert row["tp"] + row["fp"] == row["n_pred"] == len(np.unique(pred[pred > 0]))
    assert 0 <= row["f1"] <= 1 and 0 <= row["accuracy"] <= row["f1"]
    (swapped,) = match(pred, gt, thresholds=[t])
    assert (swapped["tp"], swapped["fp"], swapped["fn"]) == (row["tp"], row["fn"], row["fp"])
