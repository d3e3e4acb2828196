"""Public benchmarks read as downloaded: BBBC038 / DSB 2018 and the Cell
Tracking Challenge (segbench.io.public_layouts), from fixtures built here."""

from __future__ import annotations

import textwrap
from pathlib import Path

import imageio.v3 as iio
import numpy as np
import pandas as pd
import pytest
import tifffile

from segbench.io import find_pairs, open_dataset, read_sample
from segbench.plugins import load_registry
from segbench.run.runner import run_suite
from segbench.suite import SuiteLoadError, load_suite

SHAPE = (24, 24)


def disc(cy: int, cx: int, r: int = 4) -> np.ndarray:
    """A boolean disc of radius ``r`` pixels centred at (cy, cx), shape SHAPE."""
    yy, xx = np.mgrid[: SHAPE[0], : SHAPE[1]]
    return (yy - cy) ** 2 + (xx - cx) ** 2 <= r * r


NUCLEI = [disc(6, 6), disc(16, 15), disc(6, 17, 3)]


def grey_fluorescence() -> np.ndarray:
    """Bright nuclei on a dark background, uint8 (Y, X)."""
    image = np.full(SHAPE, 10, np.uint8)
    for nucleus in NUCLEI:
        image[nucleus] = 200
    return image


def write_dsb_item(root: Path, item: str, rgba: np.ndarray, masks: list[np.ndarray] | None) -> None:
    """``root/item/images/item.png`` and, unless None, one binary PNG per mask."""
    (root / item / "images").mkdir(parents=True)
    iio.imwrite(root / item / "images" / f"{item}.png", rgba)
    if masks is not None:
        (root / item / "masks").mkdir()
        for i, mask in enumerate(masks):
            iio.imwrite(root / item / "masks" / f"m{i}.png", mask.astype(np.uint8) * 255)


def as_rgba(grey: np.ndarray) -> np.ndarray:
    return np.dstack([grey, grey, grey, np.full_like(grey, 255)])


@pytest.fixture
def dsb(tmp_path) -> Path:
    """stage1_train-like: a grey fluorescence image, an H&E-like colour image and
    a brightfield-like grey image (bright background), each with 3 nuclei."""
    root = tmp_path / "stage1_train"
    write_dsb_item(root, "fluo", as_rgba(grey_fluorescence()), NUCLEI)
    hne = np.zeros(SHAPE + (3,), np.uint8)
    hne[:] = (235, 200, 225)  # pink background
    for nucleus in NUCLEI:
        hne[nucleus] = (90, 40, 140)  # purple nuclei
    write_dsb_item(root, "hne", hne, NUCLEI)
    brightfield = 210 - grey_fluorescence()  # dark nuclei on a bright background
    write_dsb_item(root, "bright", as_rgba(brightfield), NUCLEI)
    (root / "stage1_train_labels.csv").write_text("ImageId,EncodedPixels\n")  # not read
    return root


def write_ctc(root: Path) -> None:
    """Two 2-D sequences; SEG truth for frames 0 and 2 of 01 and frame 0 of 02;
    TRA truth everywhere (to be ignored). Frame t of sequence s is the grey
    image times t + s (no two frames alike), its labels are ids times t + 1."""
    for sequence, frames, seg in (("01", 3, (0, 2)), ("02", 2, (0,))):
        brightness = int(sequence)
        (root / sequence).mkdir(parents=True)
        (root / f"{sequence}_GT" / "SEG").mkdir(parents=True)
        (root / f"{sequence}_GT" / "TRA").mkdir()
        for t in range(frames):
            tifffile.imwrite(root / sequence / f"t{t:03d}.tif", grey_fluorescence().astype(np.uint16) * (t + brightness))
            tifffile.imwrite(root / f"{sequence}_GT" / "TRA" / f"man_track{t:03d}.tif", np.ones(SHAPE, np.uint16))
        for t in seg:
            tifffile.imwrite(root / f"{sequence}_GT" / "SEG" / f"man_seg{t:03d}.tif", merged(NUCLEI) * (t + 1))


def merged(masks: list[np.ndarray]) -> np.ndarray:
    """The label image of non-overlapping masks, ids 1..n in list order."""
    labels = np.zeros(SHAPE, np.uint16)
    for i, mask in enumerate(masks, 1):
        labels[mask] = i
    return labels


def snapshot(folder: Path) -> dict:
    return {p: (p.stat().st_size, p.stat().st_mtime_ns) for p in folder.rglob("*")}


# --------------------------------------------------------------------------- DSB


def test_dsb_images_are_grey_and_masks_merge_in_file_order(dsb):
    pairs, problems = find_pairs(dsb)
    assert problems == []
    assert [(p.name, p.image.relative_to(dsb).as_posix(), p.mask.name, p.grey) for p in pairs] == [
        ("bright", "bright/images/bright.png", "masks", True),
        ("fluo", "fluo/images/fluo.png", "masks", True),
        ("hne", "hne/images/hne.png", "masks", True),
    ]
    dataset, problems = open_dataset(dsb)
    fluo, hne = dataset[1], dataset[2]
    assert fluo.image.dtype == np.uint8 and np.array_equal(fluo.image, grey_fluorescence())
    assert fluo.labels.dtype == np.uint16 and np.array_equal(fluo.labels, merged(NUCLEI))
    assert hne.image.shape == SHAPE + (3,)  # colour stays colour (and no alpha to drop)


def test_overlapping_masks_later_wins_with_one_warning(tmp_path):
    overlapping = [disc(10, 10, 5), disc(12, 12, 5)]
    write_dsb_item(tmp_path, "a", as_rgba(grey_fluorescence()), overlapping)
    pair = find_pairs(tmp_path)[0][0]
    with pytest.warns(UserWarning) as caught:
        sample = read_sample(pair.image, pair.mask, pair.name, grey=pair.grey)
    expected = np.zeros(SHAPE, np.uint16)
    expected[overlapping[0]] = 1
    expected[overlapping[1]] = 2
    assert np.array_equal(sample.labels, expected)
    n_shared = int(np.count_nonzero(overlapping[0] & overlapping[1]))
    assert [str(w.message) for w in caught] == [
        f"{pair.mask}: {n_shared} pixel(s) lie in more than one of its 2 masks; "
        "each was given to the later mask in file-name order"
    ]


def test_fluorescence_only_keeps_grey_dark_background_images(dsb):
    pairs, problems = find_pairs(dsb, fluorescence_only=True)
    assert problems == [] and [p.name for p in pairs] == ["fluo"]
    dataset, _ = open_dataset(dsb, fluorescence_only=True)
    assert dataset.names == ["fluo"]


def test_stage1_test_layout_is_unlabelled(tmp_path):
    write_dsb_item(tmp_path, "x", as_rgba(grey_fluorescence()), None)
    pairs, problems = find_pairs(tmp_path)
    assert problems == [] and [(p.name, p.mask) for p in pairs] == [("x", None)]
    sample = open_dataset(tmp_path)[0][0]
    assert sample.labels is None and sample.image.shape == SHAPE


def test_dsb_broken_input_gives_one_line_each(tmp_path):
    write_dsb_item(tmp_path, "good", as_rgba(grey_fluorescence()), NUCLEI)
    write_dsb_item(tmp_path, "empty", as_rgba(grey_fluorescence()), [])
    write_dsb_item(tmp_path, "nomask", as_rgba(grey_fluorescence()), None)
    write_dsb_item(tmp_path, "shape", as_rgba(grey_fluorescence()), NUCLEI)
    iio.imwrite(tmp_path / "shape" / "masks" / "m9.png", np.zeros((8, 8), np.uint8))
    write_dsb_item(tmp_path, "broken", as_rgba(grey_fluorescence()), NUCLEI)
    (tmp_path / "broken" / "masks" / "m1.png").write_bytes(b"\x89PNG truncated")
    pairs, problems = find_pairs(tmp_path)
    assert [str(p) for p in problems] == [
        f"{tmp_path / 'empty' / 'masks'}: the masks folder is empty (no .png/.tif files); "
        "add one binary PNG per nucleus, or remove the image's folder",
        f"{tmp_path / 'nomask' / 'images' / 'nomask.png'}: image 'nomask' has no mask "
        "(expected nomask/masks/*.png); add its masks, or remove the image's folder",
    ]
    dataset, _ = open_dataset(tmp_path)
    assert dataset.names == ["broken", "good", "shape"]
    errors = {}
    for i, name in enumerate(dataset.names):
        try:
            dataset[i]
        except Exception as err:  # noqa: BLE001 - the message is what is tested
            errors[name] = str(err)
    assert errors["broken"].startswith(f"{tmp_path / 'broken' / 'masks' / 'm1.png'}: cannot be read as PNG")
    assert errors["shape"] == (
        f"{tmp_path / 'shape' / 'masks' / 'm9.png'}: mask shape (8, 8) does not match the shape "
        f"{SHAPE} of image shape.png; check that the two files belong together; "
        "the mask must have the image's (Z,) Y, X shape"
    )
    assert "good" not in errors


def test_unreadable_image_is_reported_by_the_fluorescence_filter(dsb):
    (dsb / "hne" / "images" / "hne.png").write_bytes(b"not a png")
    pairs, problems = find_pairs(dsb, fluorescence_only=True)
    assert [p.name for p in pairs] == ["fluo"]
    assert len(problems) == 1 and str(problems[0]).startswith(f"{dsb / 'hne' / 'images' / 'hne.png'}: cannot be read")


def test_subfolders_of_other_datasets_are_not_taken_for_dsb(tmp_path):
    (tmp_path / "nuclei" / "images").mkdir(parents=True)
    tifffile.imwrite(tmp_path / "nuclei" / "images" / "a.tif", grey_fluorescence())
    tifffile.imwrite(tmp_path / "nuclei" / "images" / "b.tif", grey_fluorescence())
    pairs, problems = find_pairs(tmp_path)
    assert pairs == [] and "no images found" in str(problems[0])


# --------------------------------------------------------------------------- CTC


def test_ctc_pairs_only_frames_with_seg_truth(tmp_path):
    write_ctc(tmp_path)
    pairs, problems = find_pairs(tmp_path)
    assert problems == []
    assert [(p.name, p.image.relative_to(tmp_path).as_posix(), p.mask.relative_to(tmp_path).as_posix())
            for p in pairs] == [
        ("01_t000", "01/t000.tif", "01_GT/SEG/man_seg000.tif"),
        ("01_t002", "01/t002.tif", "01_GT/SEG/man_seg002.tif"),
        ("02_t000", "02/t000.tif", "02_GT/SEG/man_seg000.tif"),
    ]
    sample = open_dataset(tmp_path)[0][1]
    assert np.array_equal(sample.image, grey_fluorescence().astype(np.uint16) * 3)  # 01_t002
    assert np.array_equal(sample.labels, merged(NUCLEI) * 3)


def test_ctc_four_digit_frames_and_sequences_without_truth(tmp_path):
    (tmp_path / "01").mkdir()
    (tmp_path / "01_GT" / "SEG").mkdir(parents=True)
    tifffile.imwrite(tmp_path / "01" / "t0000.tif", grey_fluorescence())
    tifffile.imwrite(tmp_path / "01_GT" / "SEG" / "man_seg0000.tif", merged(NUCLEI))
    tifffile.imwrite(tmp_path / "01_GT" / "SEG" / "man_seg0005.tif", merged(NUCLEI))
    (tmp_path / "02").mkdir()
    tifffile.imwrite(tmp_path / "02" / "t0000.tif", grey_fluorescence())
    pairs, problems = find_pairs(tmp_path)
    assert [p.name for p in pairs] == ["01_t0000"]
    assert [str(p) for p in problems] == [
        f"{tmp_path / '01_GT' / 'SEG' / 'man_seg0005.tif'}: mask of frame 5 has no image in 01/; "
        "add the frame, or remove the mask",
        f"{tmp_path / '02'}: sequence 02 has no segmentation truth (02_GT/SEG/man_segTTT.tif); "
        "its frames are left out; add the SEG folder, or remove the sequence",
    ]


def test_ctc_without_any_truth_is_unlabelled(tmp_path):
    (tmp_path / "01").mkdir()
    tifffile.imwrite(tmp_path / "01" / "t000.tif", grey_fluorescence())
    pairs, problems = find_pairs(tmp_path)
    assert problems == [] and [(p.name, p.mask) for p in pairs] == [("01_t000", None)]


def test_ctc_3d_truth_per_slice_is_skipped_with_one_line(tmp_path):
    (tmp_path / "01").mkdir()
    (tmp_path / "01_GT" / "SEG").mkdir(parents=True)
    tifffile.imwrite(tmp_path / "01" / "t000.tif", np.zeros((3,) + SHAPE, np.uint16), photometric="minisblack")
    for z in (0, 2):
        tifffile.imwrite(tmp_path / "01_GT" / "SEG" / f"man_seg_000_{z:03d}.tif", merged(NUCLEI))
    pairs, problems = find_pairs(tmp_path)
    assert pairs == []
    assert [str(p) for p in problems] == [
        f"{tmp_path / '01_GT' / 'SEG'}: 2 masks are single slices of 3-D frames (man_seg_TTT_ZZZ.tif), "
        "not full label images; sequence 01 is skipped; segbench scores full 2-D or 3-D label images "
        "(man_segTTT.tif)"
    ]


# --------------------------------------------------------------------------- suites


def write_suite(tmp_path: Path, datasets: str) -> Path:
    path = tmp_path / "suite.yaml"
    path.write_text(textwrap.dedent(f"""\
        name: public
        output: {tmp_path / 'out'}
        datasets:
        """) + textwrap.indent(textwrap.dedent(datasets), "  ") + textwrap.dedent("""\
        segmenters:
          - name: otsu-watershed
        metrics: {iou_thresholds: [0.5], rank_by: f1@0.5}
        executor: {kind: local}
        """))
    return path


def test_suite_runs_and_scores_both_layouts_as_downloaded(tmp_path, dsb):
    ctc = tmp_path / "ctc"
    write_ctc(ctc)
    before = snapshot(tmp_path / "stage1_train"), snapshot(ctc)
    registry = load_registry()
    suite = load_suite(write_suite(tmp_path, f"""\
        - name: dsb
          path: {dsb}
          params: {{fluorescence_only: true}}
        - name: ctc
          path: {ctc}
        """), registry)
    summary = run_suite(suite, registry)
    assert summary.ok and summary.n_done == 4
    results = pd.read_parquet(tmp_path / "out" / "results.parquet")
    images = results.groupby("dataset")["image"].unique().map(sorted).to_dict()
    assert images == {"ctc": ["01_t000", "01_t002", "02_t000"], "dsb": ["fluo"]}
    assert (results["f1"] > 0.5).all()  # three well-separated bright discs
    assert (snapshot(tmp_path / "stage1_train"), snapshot(ctc)) == before  # nothing written there
    pytest.importorskip("matplotlib")
    from segbench.report.html import write_html_report

    page = write_html_report(tmp_path / "out", dataset_folders=[dsb, ctc]).read_text()
    assert "is a folder" not in page and "not found" not in page
    assert page.count("fluo (") >= 1 and page.count("01_t000 (") >= 1  # overlay titles: the DSB masks merged


def test_folder_options_are_validated_with_file_and_line(tmp_path, dsb):
    registry = load_registry()
    path = write_suite(tmp_path, f"""\
        - name: dsb
          path: {dsb}
          params: {{fluorescense_only: true}}
        - name: dsb2
          path: {dsb}
          params:
            fluorescence_only: 1
        """)
    with pytest.raises(SuiteLoadError) as info:
        load_suite(path, registry)
    assert [str(p) for p in info.value.problems] == [
        f"{path}:6: datasets[0].params.fluorescense_only: unknown option for a dataset folder "
        "(did you mean 'fluorescence_only'?); accepted: fluorescence_only",
        f"{path}:10: datasets[1].params.fluorescence_only: must be true or false, got 1",
        f"{path}: datasets: nothing left to run after the problems above",
    ]
