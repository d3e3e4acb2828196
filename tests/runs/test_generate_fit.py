"""`segbench generate --fit`: progress while fitting (plain lines when stderr
is not a terminal, a bar on a terminal) and --print-params rounded for people."""

import io
import sys

import numpy as np
import pytest
import yaml

import segbench
import segbench.plugins
from segbench.cli import main
from segbench.cli.generate import rounded
from segbench.io import write_dataset


class Fitted(segbench.Generator):
    """A generator whose fit takes three steps and learns long floats."""

    name = "fitted"

    def __init__(self, shape=(16, 16), radius: float = 1.0, aspect_ratio=(1.0, 1.0)):
        self.shape, self.radius, self.aspect_ratio = list(shape), radius, list(aspect_ratio)

    def fit(self, dataset, workdir, *, seed=0, progress=None):
        for step in (1, 2, 3):
            progress(step, 3, 0.5 / step)
        self.radius, self.aspect_ratio = 10.173522503736745, [1.0, 1.5717615123874342]

    def params(self):
        return {"shape": self.shape, "radius": self.radius, "aspect_ratio": self.aspect_ratio, "n": 3}

    def generate(self, n, seed):
        for i in range(n):
            labels = np.zeros(self.shape, np.uint16)
            labels[2:6, 2:6] = 1
            yield segbench.Sample(f"f{i}", (labels * 100).astype(np.uint16), labels)


class FittedPlugin:
    @segbench.hookimpl
    def segbench_register_generators(self):
        return [Fitted]


@pytest.fixture
def lab(tmp_path, monkeypatch):
    real = segbench.plugins.load_registry
    monkeypatch.setattr(
        segbench.plugins, "load_registry",
        lambda extra=(): real(extra=[*extra, (FittedPlugin(), "fitted-dist", "1.0")]),
    )
    folder = tmp_path / "lab"
    write_dataset(folder, Fitted().generate(2, 0))
    return folder


def test_fit_progress_is_plain_lines_when_piped(lab, capsys):
    assert main(["generate", "fitted", "--fit", str(lab), "--print-params"]) == 0
    lines = capsys.readouterr().err.splitlines()
    what = f"fitting fitted on 2 images of {lab}"
    assert lines[0] == f"{what} (a line after each step)"
    assert [line.split(", ")[0] for line in lines[1:4]] == [
        f"{what}: 1/3 (mismatch 0.5)", f"{what}: 2/3 (mismatch 0.25)", f"{what}: 3/3 (mismatch 0.167)",
    ]
    assert all(line.endswith(" s") for line in lines[1:])
    assert lines[4].startswith(f"{what}: done in ") and len(lines) == 5


def test_fit_progress_is_a_bar_on_a_terminal(lab, monkeypatch, capsys):
    class Terminal(io.StringIO):
        def isatty(self):
            return True

    terminal = Terminal()
    monkeypatch.setattr(sys, "stderr", terminal)
    assert main(["generate", "fitted", "--fit", str(lab), "--print-params"]) == 0
    assert "fitting fitted on 2 images" in terminal.getvalue()
    assert "(a line after each step)" not in terminal.getvalue()


def test_print_params_rounds_floats_to_four_significant_digits(lab, capsys):
    assert main(["generate", "fitted", "--fit", str(lab), "--print-params"]) == 0
    out = capsys.readouterr().out
    assert "radius: 10.17\n" in out and "aspect_ratio: [1.0, 1.572]" in out and "n: 3" in out
    assert "4 significant digits" in out.splitlines()[1]
    assert yaml.safe_load(out) == {"shape": [16, 16], "radius": 10.17, "aspect_ratio": [1.0, 1.572], "n": 3}


def test_rounded_keeps_what_is_not_a_float():
    assert rounded({"a": 1.23456e-7, "b": [2, "x", None, (0.333333,)], "c": True}) == {
        "a": 1.235e-7, "b": [2, "x", None, [0.3333]], "c": True,
    }
