"""``segbench evaluate`` on hand-made label images whose scores are known exactly."""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from pathlib import Path

import imageio.v3 as iio
import numpy as np
import pytest

import segbench
from segbench.cli import main
from segbench.io import write_dataset, write_labels


def squares() -> np.ndarray:
    """Three 4x4 objects (16 pixels each), ids 1, 2, 3."""
    labels = np.zeros((20, 20), np.uint16)
    labels[1:5, 1:5] = 1
    labels[8:12, 8:12] = 2
    labels[14:18, 2:6] = 3
    return labels


def shifted_with_extra() -> np.ndarray:
    """Object 1 moved right by one pixel (IoU 12/20 = 0.6, IoP = IoT = 12/16 = 0.75),
    plus a false positive."""
    labels = squares()
    labels[labels == 1] = 0
    labels[1:5, 2:6] = 1
    labels[16:18, 15:17] = 9
    return labels


@pytest.fixture
def folders(tmp_path):
    """GT dataset a, b, c; predictions: a exact, b missing object 3, c shifted + extra."""
    image = np.zeros((20, 20), np.uint16)
    gt = tmp_path / "gt"
    write_dataset(gt, [segbench.Sample(n, image, squares()) for n in "abc"])
    pred = tmp_path / "pred"
    write_labels(pred / "a.tif", squares())
    missing = squares()
    missing[missing == 3] = 0
    write_labels(pred / "b.tif", missing)
    write_labels(pred / "c.tif", shifted_with_extra())
    return gt, pred


def run(capsys, *args) -> tuple[int, str, str]:
    code = main(["evaluate", *map(str, args)])
    out, err = capsys.readouterr()
    return code, out, err


def by_threshold(rows):
    return {row["threshold"]: row for row in rows}


def test_pooled_and_per_image_scores_are_exact(folders, tmp_path, capsys):
    gt, pred = folders
    code, out, err = run(capsys, "--gt", gt, "--pred", pred, "--json", tmp_path / "s.json",
                         "--csv", tmp_path / "s.csv")
    assert code == 0
    assert err == ""
    report = json.loads((tmp_path / "s.json").read_text())
    assert report["criterion"] == "iou"
    pooled = by_threshold(report["pooled"])
    assert list(pooled) == [0.5, 0.75, 0.9]
    # at 0.5: a 3 tp; b 2 tp + 1 fn; c 3 tp (IoU 0.6 counts) + 1 fp
    assert {k: pooled[0.5][k] for k in ("tp", "fp", "fn", "n_true", "n_pred")} == {
        "tp": 8, "fp": 1, "fn": 1, "n_true": 9, "n_pred": 9}
    assert pooled[0.5]["precision"] == pytest.approx(8 / 9)
    assert pooled[0.5]["recall"] == pytest.approx(8 / 9)
    assert pooled[0.5]["f1"] == pytest.approx(8 / 9)
    assert pooled[0.5]["accuracy"] == pytest.approx(8 / 10)
    assert pooled[0.5]["mean_matched_iou"] == pytest.approx((7 + 0.6) / 8)
    # at 0.75 and 0.9 the shifted object no longer matches: one more fp and fn
    for t in (0.75, 0.9):
        assert (pooled[t]["tp"], pooled[t]["fp"], pooled[t]["fn"]) == (7, 2, 2)
        assert pooled[t]["accuracy"] == pytest.approx(7 / 11)
    for key in ("mean_matched_iou", "panoptic_quality"):
        assert key in pooled[0.5]

    images = {(r["image"], r["threshold"]): r for r in report["images"]}
    assert len(images) == 9
    assert (images["a", 0.9]["tp"], images["a", 0.9]["f1"]) == (3, 1.0)
    assert (images["b", 0.5]["tp"], images["b", 0.5]["fn"], images["b", 0.5]["fp"]) == (2, 1, 0)
    assert images["b", 0.5]["f1"] == pytest.approx(0.8)
    assert (images["c", 0.75]["tp"], images["c", 0.75]["fp"], images["c", 0.75]["fn"]) == (2, 2, 1)

    summary = report["summary"]
    assert summary["n_images"] == 3
    assert summary["seg"] == pytest.approx((7 + 0.6) / 9)  # b's object 3 scores 0
    assert set(summary) >= {"seg", "aji", "dsb_mean_accuracy", "n_images"}
    assert report["skipped"] == []

    with open(tmp_path / "s.csv", newline="") as stream:
        rows = list(csv.DictReader(stream))
    assert len(rows) == 9
    assert list(rows[0])[:2] == ["image", "threshold"]
    row = next(r for r in rows if r["image"] == "b" and r["threshold"] == "0.5")
    assert (row["tp"], row["fp"], row["fn"], float(row["f1"])) == ("2", "0", "1", 0.8)

    assert "3 images, counts pooled, criterion iou" in out
    assert "|       0.5 |  8 |  1 |  1 |     0.889 |  0.889 | 0.889 | 0.800 |" in out
    assert f"wrote {tmp_path / 's.json'}" in out
    assert "\x1b[" not in out  # no colour codes when not a terminal


def test_criterion_is_passed_through(folders, tmp_path, capsys):
    gt, pred = folders
    code, out, _ = run(capsys, "--gt", gt, "--pred", pred, "--criterion", "iop", "--iou", "0.75",
                       "--json", tmp_path / "s.json")
    assert code == 0
    report = json.loads((tmp_path / "s.json").read_text())
    assert report["criterion"] == "iop"
    (row,) = report["pooled"]
    # IoP of the shifted object is 12/16 = 0.75: it matches again
    assert (row["threshold"], row["criterion"], row["tp"], row["fp"], row["fn"]) == (
        0.75, "iop", 8, 1, 1)


def test_unreadable_and_unmatched_files_are_listed_and_skipped(folders, tmp_path, capsys):
    gt, pred = folders
    write_labels(gt / "masks" / "d.tif", squares())  # GT whose prediction is unreadable
    write_labels(gt / "masks" / "e.tif", squares())  # GT without a prediction
    (pred / "d.tif").write_bytes(b"not a tiff")
    write_labels(pred / "f.tif", squares())  # prediction without GT
    write_labels(pred / "g.tif", squares())  # shape mismatch
    write_labels(gt / "masks" / "g.tif", np.zeros((20, 21), np.uint16))
    code, out, err = run(capsys, "--gt", gt / "masks", "--pred", pred,
                         "--json", tmp_path / "s.json")
    assert code == 1  # d and g failed; the rest was scored
    lines = err.splitlines()
    assert lines[0] == "4 problem(s); these files were left out:"
    assert lines[1] == (
        f"  {gt / 'masks' / 'e.tif'}: ground truth 'e' has no prediction in {pred}; "
        "add the prediction, or ignore this line if it was left out on purpose"
    )
    assert lines[2] == (
        f"  {pred / 'f.tif'}: prediction 'f' has no ground truth in {gt / 'masks'}; "
        "name it like its ground-truth file"
    )
    assert lines[3].startswith(f"  {pred / 'd.tif'}: cannot be read as TIFF")
    assert lines[4].startswith(
        f"  {pred / 'g.tif'}: shape (20, 20) differs from the ground truth's (20, 21)"
    )
    assert "problem(s)" not in out
    report = json.loads((tmp_path / "s.json").read_text())
    assert report["summary"]["n_images"] == 3
    assert sorted({r["image"] for r in report["images"]}) == ["a", "b", "c"]
    assert len(report["skipped"]) == 4 and report["skipped"][0] == lines[1].strip()


def test_cellpose_prediction_names_pair_with_a_plain_gt_folder(tmp_path, capsys):
    (tmp_path / "gt").mkdir()
    iio.imwrite(tmp_path / "gt" / "x.png", squares().astype(np.uint8))
    write_labels(tmp_path / "out" / "x_cp_masks.tif", squares())
    iio.imwrite(tmp_path / "out" / "x.png", np.zeros((20, 20), np.uint8))  # the input image
    code, out, err = run(capsys, "--gt", tmp_path / "gt", "--pred", tmp_path / "out",
                         "--iou", "0.9")
    assert (code, err) == (0, "")
    assert "|       0.9 |  3 |  0 |  0 |     1.000 |  1.000 | 1.000 | 1.000 |" in out


def test_nothing_to_evaluate_exits_non_zero_with_a_message(folders, tmp_path, capsys):
    gt, _ = folders
    (tmp_path / "empty").mkdir()
    code, out, err = run(capsys, "--gt", gt, "--pred", tmp_path / "empty")
    assert code == 2 and out == ""
    assert f"{tmp_path / 'empty'}: no label images found" in err
    assert err.rstrip().endswith(
        f"nothing to evaluate: no readable ground truth in {gt} has a readable prediction "
        f"of the same name in {tmp_path / 'empty'}"
    )
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "a.tif").write_bytes(b"garbage")
    code, _, err = run(capsys, "--gt", gt, "--pred", tmp_path / "bad")
    assert code == 2
    assert f"{tmp_path / 'bad' / 'a.tif'}: cannot be read as TIFF" in err


def test_missing_folder_exits_2_saying_it_does_not_exist(folders, tmp_path, capsys):
    gt, pred = folders
    code, out, err = run(capsys, "--gt", gt, "--pred", tmp_path / "nowhere")
    assert (code, out) == (2, "")
    assert err == f"segbench evaluate: --pred {tmp_path / 'nowhere'}: folder does not exist\n"
    code, _, err = run(capsys, "--gt", tmp_path / "nowhere", "--pred", pred)
    assert code == 2 and "--gt" in err


def test_one_corrupt_prediction_among_good_ones_exits_1(folders, capsys):
    gt, pred = folders
    (pred / "c.tif").write_bytes(b"garbage")
    code, out, err = run(capsys, "--gt", gt, "--pred", pred)
    assert code == 1
    assert "2 images, counts pooled" in out
    assert f"{pred / 'c.tif'}: cannot be read as TIFF" in err


def test_names_on_one_side_only_are_listed_but_exit_0(folders, capsys):
    gt, pred = folders
    (pred / "c.tif").unlink()
    code, _, err = run(capsys, "--gt", gt, "--pred", pred)
    assert code == 0 and "ground truth 'c' has no prediction" in err


def test_intensity_image_given_as_ground_truth_is_warned_about(tmp_path, capsys):
    from segbench.builtin.procedural import Procedural

    (sample,) = Procedural(shape=[96, 96], n_objects=8).generate(1, seed=0)
    write_labels(tmp_path / "images" / "a.tif", sample.image)  # the intensity image, as "labels"
    write_labels(tmp_path / "pred" / "a.tif", sample.labels)
    code, _, err = run(capsys, "--gt", tmp_path / "images", "--pred", tmp_path / "pred")
    assert code == 0
    (line,) = [l for l in err.splitlines() if l.startswith("warning:")]
    assert line.startswith(f"warning: --gt {tmp_path / 'images'}: 1 of 1 masks checked are not label images "
                           f"(e.g. {tmp_path / 'images' / 'a.tif'}: looks like an intensity image, not a label image (")
    assert "give label images with one id per object" in line
    code, _, err = run(capsys, "--gt", tmp_path / "pred", "--pred", tmp_path / "pred")
    assert code == 0 and "warning" not in err  # a real label image is not flagged


@pytest.mark.parametrize("value, message", [("1.5", "1.5 is outside (0, 1]"),
                                            ("0", "0 is outside (0, 1]"),
                                            ("half", "'half' is not a number")])
def test_bad_thresholds_are_usage_errors(folders, capsys, value, message):
    gt, pred = folders
    with pytest.raises(SystemExit) as exit_:
        main(["evaluate", "--gt", str(gt), "--pred", str(pred), "--iou", value])
    assert exit_.value.code == 2
    assert message in capsys.readouterr().err


def test_help_describes_layouts_and_gives_examples(capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["evaluate", "--help"])
    assert exit_.value.code == 0
    text = capsys.readouterr().out
    for phrase in ("masks/NAME.tif", "NAME_masks.tif", "NAME_cp_masks.tif", "examples:",
                   "segbench evaluate --gt data/nuclei --pred predictions/", "--criterion"):
        assert phrase in text


def test_installed_console_script(folders, tmp_path):
    gt, pred = folders
    script = Path(sys.executable).parent / "segbench"
    assert script.exists(), f"segbench is not installed beside {sys.executable}"
    done = subprocess.run(
        [str(script), "evaluate", "--gt", str(gt), "--pred", str(pred), "--iou", "0.5",
         "--json", str(tmp_path / "s.json")],
        capture_output=True, text=True, timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""
    assert "|       0.5 |  8 |  1 |  1 |" in done.stdout
    report = json.loads((tmp_path / "s.json").read_text())
    assert (report["pooled"][0]["tp"], report["summary"]["n_images"]) == (8, 3)
