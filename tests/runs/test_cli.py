"""The command line: help that teaches, exit codes, one-line errors, formats."""

import json
import textwrap

import pytest

from segbench.cli import main


def run_cli(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_help_lists_commands_and_examples(capsys):
    with pytest.raises(SystemExit) as info:
        main(["--help"])
    out = capsys.readouterr().out
    assert info.value.code == 0
    for command in ("run", "report", "evaluate", "generate", "list"):
        assert command in out
    assert "segbench run suites/fluorescent.yaml --dry-run" in out
    with pytest.raises(SystemExit):
        main(["run", "--help"])
    out = capsys.readouterr().out
    assert "A killed run resumes where it stopped" in out and "--executor" in out


def test_no_command_prints_help_and_exits_2(capsys):
    code, out, _ = run_cli(capsys)
    assert code == 2 and "commands" in out


@pytest.fixture
def suite(tmp_path):
    path = tmp_path / "suite.yaml"
    path.write_text(
        textwrap.dedent(
            f"""\
            name: cli
            output: {tmp_path / 'out'}
            datasets:
              - name: nuclei
                generator: procedural
                params: {{n_images: 3, shape: [64, 64]}}
            segmenters:
              - name: otsu-watershed
                params: {{min_size: [5, 20]}}
            metrics: {{iou_thresholds: [0.5, 0.75]}}
            """
        )
    )
    return path


def test_dry_run_then_run_then_report(capsys, suite, tmp_path):
    code, out, _ = run_cli(capsys, "run", str(suite), "--dry-run")
    assert code == 0
    assert "not generated yet" in out and "1 dataset to generate" in out
    code, out, err = run_cli(capsys, "run", str(suite), "--format", "json")
    assert code == 0
    (board,) = json.loads(out)
    assert [r["variant"] for r in board["rows"]] != [] and len(board["rows"]) == 2
    assert "6 predictions: 6 computed, 0 cached, 0 failed" in err
    assert (tmp_path / "out" / "plots" / "nuclei_vs_iou.png").is_file()
    code, out, _ = run_cli(capsys, "run", str(suite), "--dry-run")
    assert "6 predictions planned (6 cached)" in out
    code, out, _ = run_cli(capsys, "report", str(tmp_path / "out"), "--format", "markdown")
    assert code == 0 and out.startswith("### nuclei (ranked by F1@0.5)")
    assert "| # | segmenter | F1@0.5 | 95% CI | rank 95% | AP@0.5 | AP@0.75 | DSB AP |" in out
    code, out, _ = run_cli(capsys, "report", str(tmp_path / "out"), "--format", "csv", "--rank-by", "seg")
    assert code == 0 and out.startswith("dataset,rank,variant")


def test_invalid_suite_exits_2_with_one_line_per_problem(capsys, suite):
    suite.write_text(suite.read_text().replace("segmenters:", "segmentrs:"))
    code, _, err = run_cli(capsys, "run", str(suite))
    assert code == 2
    lines = [line for line in err.splitlines() if line.startswith("error:")]
    assert lines[0] == f"error: {suite}:7: segmentrs: unknown key (did you mean 'segmenters'?); allowed: " \
        "datasets, description, executor, metrics, name, output, save_predictions, seed, segmenters"


def test_failed_dataset_is_reported_and_the_rest_runs(capsys, suite, tmp_path):
    text = suite.read_text().replace(
        "segmenters:", f"  - name: missing\n    path: {tmp_path / 'nowhere'}\nsegmenters:"
    )
    suite.write_text(text)
    code, _, err = run_cli(capsys, "run", str(suite), "--no-plots")
    assert code == 1
    assert "6 predictions: 6 computed" in err
    assert f"failed: datasets.missing.path: folder {tmp_path / 'nowhere'} does not exist" in err


def test_report_without_results_says_what_to_do(capsys, tmp_path):
    code, _, err = run_cli(capsys, "report", str(tmp_path))
    assert code == 2 and "no results.parquet here" in err and "segbench run SUITE" in err


def test_list_json_shows_builtins(capsys):
    code, out, _ = run_cli(capsys, "list", "--json", "--params")
    listing = {(p["kind"], p["name"]): p for p in json.loads(out)["plugins"]}
    otsu = listing[("segmenter", "otsu-watershed")]
    assert otsu["distribution"] == "segbench" and "min_size" in otsu["params"]
    assert ("generator", "procedural") in listing
