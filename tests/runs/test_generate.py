"""``segbench generate``: dataset folders that segbench.io reads back, seeds,
plugin generators, --list-params, and one-line errors."""

from __future__ import annotations

import io
import sys
from pathlib import Path

import numpy as np
import pytest

import segbench
import segbench.plugins
from segbench.builtin.procedural import Procedural
from segbench.cli import main
from segbench.errors import InputError
from segbench.io import open_dataset, read_dataset_meta

SMALL = ["shape=[48,64]", "n_objects=4", "radius=6"]


def generate(tmp_path: Path, *extra: str, out: str = "data") -> tuple[int, Path]:
    folder = tmp_path / out
    return main(["generate", "procedural", "--out", str(folder), *extra]), folder


def test_writes_a_dataset_that_open_dataset_reads(tmp_path, capsys):
    code, folder = generate(tmp_path, "--n", "3", "--seed", "5", "--param", *SMALL)
    assert code == 0
    assert capsys.readouterr().out.strip() == f"wrote 3 images from procedural (seed 5) to {folder}"
    dataset, problems = open_dataset(folder)
    assert problems == []
    assert dataset.names == ["img0000", "img0001", "img0002"]
    expected = Procedural(shape=[48, 64], n_objects=4, radius=6).generate(3, seed=5)
    for written, sample in zip(dataset, expected):
        assert written.name == sample.name
        assert written.image.dtype == np.uint16
        np.testing.assert_array_equal(written.image, sample.image)
        np.testing.assert_array_equal(written.labels, sample.labels)
        assert written.spacing == pytest.approx(sample.spacing)


def test_dataset_json_records_generator_params_seed_and_version(tmp_path):
    _, folder = generate(tmp_path, "--n", "2", "--seed", "9", "--param", *SMALL, "placement=clustered")
    meta = read_dataset_meta(folder)
    assert meta["generator"] == "procedural"
    assert meta["distribution"] == "segbench"
    assert meta["seed"] == 9 and meta["n_images"] == 2
    assert meta["segbench_version"] == segbench.__version__
    assert meta["spacing"] == [0.5, 0.5]
    params = meta["params"]
    assert params["shape"] == [48, 64] and params["placement"] == "clustered"
    assert params["touching_fraction"] == 0.1  # defaults are recorded too
    assert set(params) == set(Procedural.constructor_params())
    # the recorded params rebuild the generator
    again = next(Procedural(**params).generate(1, seed=9))
    np.testing.assert_array_equal(again.image, open_dataset(folder)[0][0].image)


def test_3d_stacks_keep_their_spacing(tmp_path):
    code, folder = generate(tmp_path, "--n", "1", "--param", "shape=[6,32,32]", "n_objects=3",
                            "radius=5", "z_step=1.5")
    assert code == 0
    dataset, problems = open_dataset(folder)
    assert problems == []
    sample = dataset[0]
    assert sample.image.shape == sample.labels.shape == (6, 32, 32)
    assert dataset.spacing == pytest.approx((1.5, 0.5, 0.5))
    assert sample.spacing == pytest.approx((1.5, 0.5, 0.5))


def test_same_seed_same_images_other_seed_other_images(tmp_path):
    generate(tmp_path, "--n", "2", "--seed", "1", "--param", *SMALL, out="a")
    generate(tmp_path, "--n", "2", "--seed", "1", "--param", *SMALL, out="b")
    generate(tmp_path, "--n", "2", "--seed", "2", "--param", *SMALL, out="c")
    (a, _), (b, _), (c, _) = (open_dataset(tmp_path / x) for x in "abc")
    for x, y, z in zip(a, b, c):
        np.testing.assert_array_equal(x.image, y.image)
        np.testing.assert_array_equal(x.labels, y.labels)
        assert not np.array_equal(x.image, z.image)


@pytest.mark.parametrize(
    "argv, message",
    [
        (["generate", "nosuch", "--out", "OUT"], "unknown generator 'nosuch'; installed: "),
        (["generate", "procedurl", "--out", "OUT"], "(did you mean 'procedural'?)"),
        (["generate", "procedural", "--out", "OUT", "--param", "touching_fraction=1.5"],
         "generator 'procedural': parameter 'touching_fraction' must be a number in [0, 1], got 1.5"),
        (["generate", "procedural", "--out", "OUT", "--param", "touching_fractoin=0.3"],
         "unknown parameter 'touching_fractoin' (did you mean 'touching_fraction'?); "
         "see `segbench generate procedural --list-params`"),
        (["generate", "procedural", "--out", "OUT", "--param", "shape"],
         "--param 'shape' is not KEY=VALUE"),
        (["generate", "procedural", "--out", "OUT", "--param", "shape=[1,"],
         "--param shape: value '[1,' is not valid YAML"),
        (["generate", "procedural", "--out", "OUT", "--param", "n_images=4"],
         "give the number of images with --n, not --param n_images"),
        (["generate", "procedural", "--out", "OUT", "--param", "radius=5", "radius=6"],
         "parameter 'radius' is given twice"),
        (["generate", "procedural", "--param", "radius=5"], "--out DIR is required (or use --list-params)"),
    ],
)
def test_bad_input_gives_one_line_and_writes_nothing(tmp_path, capsys, argv, message):
    out = tmp_path / "out"
    code = main([str(out) if a == "OUT" else a for a in argv])
    err = capsys.readouterr().err
    assert code == 2
    assert err.startswith("segbench generate: ") and err.count("\n") == 1
    assert message in err
    assert not out.exists()


def test_unknown_generator_lists_the_installed_ones(tmp_path, capsys):
    main(["generate", "nosuch", "--out", str(tmp_path / "x")])
    installed = capsys.readouterr().err.split("installed: ")[1].strip().split(", ")
    assert "procedural" in installed


def test_refuses_a_non_empty_folder_unless_overwrite(tmp_path, capsys):
    generate(tmp_path, "--n", "1", "--param", *SMALL)
    code, folder = generate(tmp_path, "--n", "2", "--param", *SMALL)
    assert code == 2
    assert f"{folder} is not empty; choose another --out or pass --overwrite" in capsys.readouterr().err
    assert open_dataset(folder)[0].names == ["img0000"]
    code, _ = generate(tmp_path, "--n", "2", "--overwrite", "--param", *SMALL)
    assert code == 0
    assert open_dataset(folder)[0].names == ["img0000", "img0001"]


def test_list_params_shows_every_parameter_with_default_and_doc(capsys):
    assert main(["generate", "procedural", "--list-params"]) == 0
    out = capsys.readouterr().out
    for name in Procedural.constructor_params():
        assert f"\n  {name} = " in out
    assert "  shape = [256, 256]    (list of int)" in out
    assert '  placement = "random"    (str)' in out
    assert "  touching_fraction = 0.1    (float)\n      Fraction of objects that touch at least one other" in out


def test_help_teaches_with_examples(capsys):
    with pytest.raises(SystemExit):
        main(["generate", "--help"])
    out = capsys.readouterr().out
    assert "--list-params" in out and "examples:" in out
    assert "segbench generate procedural --n 20 --out data/nuclei" in out
    assert "--param n_objects=[60,80] touching_fraction=0.5" in out


def test_progress_bar_on_a_terminal(tmp_path, monkeypatch):
    class Terminal(io.StringIO):
        def isatty(self):
            return True

    terminal = Terminal()
    monkeypatch.setattr(sys, "stderr", terminal)
    code, folder = generate(tmp_path, "--n", "2", "--param", *SMALL)
    assert code == 0 and len(open_dataset(folder)[0]) == 2
    assert "generating with procedural" in terminal.getvalue()


# A third-party generator, registered the way an installed plugin would be.


class Stripes(segbench.Generator):
    """Vertical stripes, one object each, from a "checkpoint" folder holding width.txt."""

    name = "stripes"
    renamed_params = {"model": "checkpoint"}

    def __init__(self, checkpoint: str, shape=(16, 16), fail_at=None):
        path = Path(checkpoint) / "width.txt"
        if not path.is_file():
            raise InputError(path, "is missing", "train the model first")
        self.width = int(path.read_text())
        self.shape = tuple(shape)
        self.fail_at = fail_at

    def generate(self, n, seed):
        rng = np.random.default_rng(seed)
        for i in range(n):
            if i == self.fail_at:
                raise InputError("weights.pt", "is truncated", "download it again")
            labels = np.zeros(self.shape, np.uint16)
            for k, x in enumerate(range(0, self.shape[1] - self.width, 2 * self.width), start=1):
                labels[:, x : x + self.width] = k
            image = (labels > 0) * 100 + rng.integers(0, 10, self.shape)
            yield segbench.Sample(f"s{i}", image.astype(np.uint16), labels)


class StripesPlugin:
    @segbench.hookimpl
    def segbench_register_generators(self):
        return [Stripes]


@pytest.fixture
def with_stripes(monkeypatch):
    real = segbench.plugins.load_registry
    monkeypatch.setattr(
        segbench.plugins,
        "load_registry",
        lambda extra=(): real(extra=[*extra, (StripesPlugin(), "stripes-dist", "1.2")]),
    )


def test_plugin_generators_work_through_the_same_command(tmp_path, with_stripes):
    checkpoint = tmp_path / "model"
    checkpoint.mkdir()
    (checkpoint / "width.txt").write_text("3")
    out = tmp_path / "stripes"
    argv = ["generate", "stripes", "--n", "2", "--out", str(out), "--seed", "4",
            "--param", f"checkpoint={checkpoint}", "shape=[8,20]"]
    assert main(argv) == 0
    dataset, problems = open_dataset(out)
    assert problems == [] and dataset.names == ["s0", "s1"]
    assert dataset[0].labels.max() == 3 and dataset[0].image.shape == (8, 20)
    meta = read_dataset_meta(out)
    assert meta["distribution"] == "stripes-dist" and meta["generator_version"] == "1.2"
    assert meta["params"] == {"checkpoint": str(checkpoint), "shape": [8, 20], "fail_at": None}
    assert meta["spacing"] is None


def test_plugin_errors_are_one_line(tmp_path, capsys, with_stripes):
    missing = tmp_path / "nowhere"
    code = main(["generate", "stripes", "--out", str(tmp_path / "x"), "--param", f"checkpoint={missing}"])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1
    assert f"generator 'stripes': {missing / 'width.txt'}: is missing; train the model first" in err


def test_a_renamed_parameter_says_its_new_name(tmp_path, capsys, with_stripes):
    code = main(["generate", "stripes", "--out", str(tmp_path / "x"), "--param", "model=m"])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1
    assert "parameter 'model' was renamed to checkpoint; write checkpoint=m" in err


def test_plugin_failing_while_generating_gives_one_line(tmp_path, capsys, with_stripes):
    checkpoint = tmp_path / "model"
    checkpoint.mkdir()
    (checkpoint / "width.txt").write_text("2")
    out = tmp_path / "x"
    argv = ["generate", "stripes", "--n", "3", "--out", str(out),
            "--param", f"checkpoint={checkpoint}", "fail_at=1"]
    assert main(argv) == 1
    err = capsys.readouterr().err
    assert err == "segbench generate: weights.pt: is truncated; download it again\n"
    assert not (out / "dataset.json").exists()  # an incomplete dataset is not marked complete


def test_list_params_of_a_plugin_generator(capsys, with_stripes):
    assert main(["generate", "stripes", "--list-params"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("stripes: Vertical stripes")
    assert "  checkpoint = required" in out and "  shape = [16, 16]" in out
