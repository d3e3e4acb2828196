"""First-run rough edges of the command line: help that says what the commands
do (plugin commands included), list --params with defaults, types and
descriptions, report on a missing folder, --rank-by at any stored threshold."""

import json

import pytest

import segbench
import segbench.plugins
from segbench.cli import main


class HelloPlugin:
    """A plugin that adds a `hello` command."""

    @segbench.hookimpl
    def segbench_add_commands(self, subparsers):
        parser = subparsers.add_parser("hello", help="say hello (a plugin's command)")
        parser.set_defaults(func=lambda args: print("hello") or 0)


@pytest.fixture
def with_plugin(monkeypatch):
    load = segbench.plugins.load_registry
    monkeypatch.setattr(segbench.plugins, "load_registry",
                        lambda extra=(): load([*extra, (HelloPlugin(), "segbench-hello", "1.0")]))


def help_of(capsys, *argv) -> str:
    with pytest.raises(SystemExit) as info:
        main([*argv, "--help"])
    assert info.value.code == 0
    return capsys.readouterr().out


def test_top_level_help_lists_plugin_commands(with_plugin, capsys):
    out = help_of(capsys)
    assert "hello     say hello (a plugin's command)" in out
    assert main(["hello"]) == 0 and capsys.readouterr().out == "hello\n"


def test_report_help_prints_percent_once(capsys):
    out = help_of(capsys, "report")
    assert "95% bootstrap interval" in out and "%%" not in out
    assert "--html [FILE]" in out and "--wide" in out and "--image NAME" in out


def test_list_shows_what_its_help_promises(capsys):
    out = help_of(capsys, "list")
    assert "segmenters, generators, datasets and metrics" in " ".join(out.split())
    assert main(["list"]) == 0
    shown = capsys.readouterr().out
    for kind in ("segmenters", "generators", "datasets", "metrics"):
        assert any(line.startswith(kind) for line in shown.splitlines()), kind


def test_list_params_shows_defaults_types_and_descriptions(capsys):
    assert main(["list", "--params"]) == 0
    out = capsys.readouterr().out
    row = next(line for line in out.splitlines() if " min_distance " in line)
    cells = [c.strip() for c in row.strip("│ ").split("│")]
    assert cells[:4] == ["params", "min_distance", "5", "int"]
    assert cells[4].startswith("Smallest distance between two seeds")
    assert main(["list", "--json", "--params"]) == 0
    otsu = next(p for p in json.loads(capsys.readouterr().out)["plugins"] if p["name"] == "otsu-watershed")
    sigma = otsu["parameters"]["params"][0]
    assert sigma == {"name": "sigma", "default": "1.0", "type": "float or list of float",
                     "description": sigma["description"]} and sigma["description"].startswith("Standard deviation")
    assert "min_size" in otsu["params"] and otsu["train"] == []


def test_report_on_a_missing_folder_says_it_does_not_exist(tmp_path, capsys):
    assert main(["report", str(tmp_path / "nowhere")]) == 2
    err = capsys.readouterr().err
    assert f"{tmp_path / 'nowhere'}: folder does not exist" in err and "results.parquet" not in err


def test_report_ranks_by_any_stored_threshold(results_folder, capsys):
    folder = results_folder(predictions=False)
    assert main(["report", str(folder), "--rank-by", "f1@0.6", "--format", "json"]) == 0
    (board,) = json.loads(capsys.readouterr().out)
    assert board["rank_by"] == "f1@0.6" and "f1@0.6" in board["rows"][0]
    assert main(["report", str(folder), "--rank-by", "f1@0.61"]) == 2
    assert "stored thresholds: 0.5, 0.55, 0.6," in capsys.readouterr().err


@pytest.mark.parametrize("columns", [80, 100, 120])
def test_report_table_fits_columns(results_folder, capsys, monkeypatch, columns):
    folder = results_folder(predictions=False)
    monkeypatch.setenv("COLUMNS", str(columns))
    assert main(["report", str(folder)]) == 0
    out = capsys.readouterr().out
    assert max(map(len, out.splitlines())) <= columns
    for label in ("perfect", "otsu-watershed", "damaged"):
        assert any(line.split()[1:2] == [label] for line in out.splitlines() if line.strip()[:1].isdigit())
    # the error fractions are the first columns a narrow table leaves out; at 120 only they are
    assert ("4 more column(s) (merged %, split %, missed %, spurious %)" in out) == (columns == 120)
    assert "more column(s)" in out
    monkeypatch.delenv("COLUMNS")
    assert main(["report", str(folder)]) == 0  # piped: every column
    assert "more column(s)" not in capsys.readouterr().out


def test_run_writes_the_html_report_and_names_it_last(tmp_path, capsys):
    suite = tmp_path / "suite.yaml"
    suite.write_text(
        f"name: html\noutput: {tmp_path / 'out'}\n"
        "datasets:\n  - name: nuclei\n    generator: procedural\n    params: {n_images: 2, shape: [64, 64]}\n"
        "segmenters:\n  - name: otsu-watershed\n"
    )
    assert main(["run", str(suite), "--no-plots"]) == 0
    err = capsys.readouterr().err
    assert err.rstrip().splitlines()[-1] == f"HTML report: {tmp_path / 'out' / 'report.html'}"
    text = (tmp_path / "out" / "report.html").read_text()
    assert text.count("<tr class='variant'") == 1 and "otsu-watershed" in text
    assert main(["run", str(suite), "--no-plots", "--no-html"]) == 0
    assert "HTML report" not in capsys.readouterr().err
