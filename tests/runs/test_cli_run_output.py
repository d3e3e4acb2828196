"""What `segbench run` prints: library chatter goes to a log file, exit codes, dry-run counts."""

import textwrap

import pytest

import segbench.plugins
from segbench import testing
from segbench.cli import main


@pytest.fixture
def with_testing_plugins(monkeypatch):
    real = segbench.plugins.load_registry
    monkeypatch.setattr(
        segbench.plugins, "load_registry",
        lambda extra=(): real(extra=[*extra, (testing, "segbench-testing", "1.0")]),
    )


def suite(tmp_path, segmenters, datasets=None, executor="local"):
    datasets = datasets or textwrap.dedent("""\
          - name: blobs
            generator: procedural
            params: {n_images: 3, shape: [48, 48], n_objects: 4}
            split: {train: 1, test: 2}
        """)
    path = tmp_path / "suite.yaml"
    path.write_text(
        f"name: out\noutput: {tmp_path / 'out'}\ndatasets:\n{datasets}segmenters:\n{segmenters}"
        f"executor: {{kind: {executor}, workers: 2}}\n"
    )
    return str(path)


@pytest.mark.parametrize("executor", ["local", "processes"])
def test_library_chatter_goes_to_the_log_not_the_terminal(tmp_path, capfd, with_testing_plugins, executor):
    path = suite(tmp_path, "  - name: misbehaving\n    params: {mode: chatter}\n", executor=executor)
    assert main(["run", path, "--no-html", "--no-plots"]) == 0
    out, err = capfd.readouterr()
    assert "library chatter" not in out + err
    assert "2 predictions: 2 computed" in err  # segbench's own lines still reach the terminal
    log = (tmp_path / "out" / "logs" / "libraries.log").read_text()
    assert log.count("library chatter on stderr") == 2 and log.count("library chatter on stdout") == 2


def test_exit_codes_say_whether_anything_could_run(tmp_path, with_testing_plugins):
    missing = "  - name: lab\n    path: /no/such/folder\n"
    assert main(["run", suite(tmp_path, "  - name: blob-threshold\n", datasets=missing), "--no-html"]) == 2
    both = missing + "  - name: blobs\n    generator: procedural\n    params: {n_images: 2, shape: [48, 48]}\n"
    assert main(["run", suite(tmp_path, "  - name: blob-threshold\n", datasets=both), "--no-html", "--no-plots"]) == 1


def test_dry_run_counts_what_will_run(tmp_path, capsys, with_testing_plugins):
    segs = "  - name: blob-threshold\n    params: {threshold: [0.3, 0.6]}\n  - name: trainable-threshold\n    train: {}\n"
    assert main(["run", suite(tmp_path, segs), "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "4 predictions planned (0 cached), 1 training, 1 dataset to generate" in " ".join(out.split())


def test_a_reference_dataset_brings_the_agreement_table(tmp_path, capsys, with_testing_plugins):
    datasets = textwrap.dedent("""\
          - name: lab
            generator: procedural
            params: {n_images: 3, shape: [48, 48], n_objects: 4}
            reference: true
          - name: synthetic
            generator: procedural
            params: {n_images: 3, shape: [48, 48], n_objects: 6, touching_fraction: 0.5}
        """)
    segs = "  - name: blob-threshold\n    params: {sigma: [0.5, 1.0, 2.0]}\n"
    assert main(["run", suite(tmp_path, segs, datasets=datasets), "--no-html", "--no-plots"]) == 0
    out = " ".join(capsys.readouterr().out.split())
    assert "Rank agreement by F1@0.5" in out and "synthetic lab 3" in out
