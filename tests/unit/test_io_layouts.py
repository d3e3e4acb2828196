"""Dataset folder layouts and pairing by name: segbench.io.layouts."""

from __future__ import annotations

from pathlib import Path

import imageio.v3 as iio
import numpy as np
import pytest

from segbench.io import find_label_files, find_pairs, write_image, write_labels

IMAGE = np.arange(8 * 8, dtype=np.uint16).reshape(8, 8)
LABELS = (np.arange(8 * 8).reshape(8, 8) // 16).astype(np.uint16)


def make(folder: Path, *names: str) -> None:
    """Create small image files (label images where the name says mask)."""
    for name in names:
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if path.suffix == ".png":
            iio.imwrite(path, LABELS.astype(np.uint8))
        elif "mask" in name:
            write_labels(path, LABELS)
        else:
            write_image(path, IMAGE)


def as_tuples(pairs):
    return [(p.name, p.image.name, p.mask and p.mask.name) for p in pairs]


def messages(problems):
    return [str(p) for p in problems]


def test_segbench_layout(tmp_path):
    make(tmp_path, "images/b.tif", "masks/b.tif", "images/a.tif", "masks/a.tif")
    pairs, problems = find_pairs(tmp_path)
    assert problems == []
    assert as_tuples(pairs) == [("a", "a.tif", "a.tif"), ("b", "b.tif", "b.tif")]
    assert pairs[0].image == tmp_path / "images" / "a.tif"
    assert pairs[0].mask == tmp_path / "masks" / "a.tif"


def test_stardist_layout_with_mixed_extensions(tmp_path):
    make(tmp_path, "images/cell_01.tiff", "masks/cell_01.png", "images/cell_02.TIF",
         "masks/cell_02.tif")
    pairs, problems = find_pairs(tmp_path)
    assert problems == []
    assert as_tuples(pairs) == [
        ("cell_01", "cell_01.tiff", "cell_01.png"),
        ("cell_02", "cell_02.TIF", "cell_02.tif"),
    ]


def test_cellpose_layout_ignores_cellpose_byproducts(tmp_path):
    make(tmp_path, "img1.tif", "img1_masks.tif", "img2.png", "img2_masks.png",
         "img1_flows.tif", "img1_cp_masks.png", "img2_outlines.png")
    (tmp_path / "img1_seg.npy").write_bytes(b"not read")
    pairs, problems = find_pairs(tmp_path)
    assert problems == []
    assert as_tuples(pairs) == [
        ("img1", "img1.tif", "img1_masks.tif"),
        ("img2", "img2.png", "img2_masks.png"),
    ]


@pytest.mark.parametrize(
    "files, expected_path, expected_message",
    [
        (("images/a.tif", "images/b.tif", "masks/a.tif"), "images/b.tif",
         "image 'b' has no mask (expected masks/b.tif); add its mask, or remove the image"),
        (("images/a.tif", "masks/a.tif", "masks/c.tif"), "masks/c.tif",
         "mask 'c' has no image with the same name; add the image, or remove the mask"),
        (("a.tif", "a_masks.tif", "b.tif"), "b.tif",
         "image 'b' has no mask (expected b_masks.tif)"),
        (("a.tif", "a_masks.tif", "c_masks.tif"), "c_masks.tif", "mask 'c' has no image"),
    ],
)
def test_unpaired_files_are_named_and_the_rest_is_paired(tmp_path, files, expected_path,
                                                          expected_message):
    make(tmp_path, *files)
    pairs, problems = find_pairs(tmp_path)
    assert [p.name for p in pairs] == ["a"]
    assert len(problems) == 1
    assert problems[0].path == str(tmp_path / expected_path)
    assert expected_message in str(problems[0])


def test_two_files_with_one_name_are_reported_and_skipped(tmp_path):
    make(tmp_path, "images/a.tif", "images/a.png", "masks/a.tif", "images/b.tif", "masks/b.tif")
    pairs, problems = find_pairs(tmp_path)
    assert [p.name for p in pairs] == ["b"]
    assert messages(problems)[0] == (
        f"{tmp_path / 'images'}: 2 files are named 'a' (a.png, a.tif); "
        "keep one of them, or rename the others"
    )
    assert "mask 'a' has no image" in messages(problems)[1]


def test_images_without_any_masks_are_an_unlabelled_dataset(tmp_path):
    make(tmp_path / "nested", "images/a.tif", "images/b.tif")
    make(tmp_path / "flat", "a.tif", "b.png")
    for folder in (tmp_path / "nested", tmp_path / "flat"):
        pairs, problems = find_pairs(folder)
        assert problems == []
        assert [(p.name, p.mask) for p in pairs] == [("a", None), ("b", None)]


def test_hidden_and_unsupported_files_are_ignored(tmp_path):
    make(tmp_path, "images/a.tif", "masks/a.tif", "images/.hidden.tif")
    (tmp_path / "images" / ".a.tif.123.tmp").write_bytes(b"half a tiff")
    (tmp_path / "images" / "notes.txt").write_text("hello")
    pairs, problems = find_pairs(tmp_path)
    assert problems == [] and [p.name for p in pairs] == ["a"]


def test_empty_folder(tmp_path):
    pairs, problems = find_pairs(tmp_path)
    assert pairs == []
    assert messages(problems) == [
        f"{tmp_path}: no images found (.tif/.tiff/.png files); put images in images/NAME.tif "
        "and label images in masks/NAME.tif (or NAME.tif beside NAME_masks.tif); "
        "convert other formats to TIFF"
    ]


def test_folder_of_unsupported_files_says_what_it_found(tmp_path):
    for name in ("a.jpg", "b.jpg", "c.czi"):
        (tmp_path / name).write_bytes(b"x")
    _, problems = find_pairs(tmp_path)
    assert "no images found (.tif/.tiff/.png files); it holds 1 .czi, 2 .jpg files;" in str(
        problems[0]
    )


def test_missing_folder_file_instead_of_folder_and_masks_without_images(tmp_path):
    _, problems = find_pairs(tmp_path / "nope")
    assert messages(problems) == [f"{tmp_path / 'nope'}: folder not found; check the path"]
    make(tmp_path, "x.tif")
    _, problems = find_pairs(tmp_path / "x.tif")
    assert messages(problems)[0].startswith(f"{tmp_path / 'x.tif'}: is a file, not a folder; ")
    make(tmp_path / "only-masks", "masks/a.tif")
    _, problems = find_pairs(tmp_path / "only-masks")
    assert messages(problems) == [
        f"{tmp_path / 'only-masks'}: has a masks/ folder but no images/ folder; "
        "put the images in images/, named like their masks"
    ]


# --------------------------------------------------------------------------- label files


@pytest.mark.parametrize(
    "files, expected",
    [
        (("images/a.tif", "masks/a.tif", "masks/b.png"), {"a": "masks/a.tif", "b": "masks/b.png"}),
        (("a.tif", "a_masks.tif", "b.tif", "b_masks.png"),
         {"a": "a_masks.tif", "b": "b_masks.png"}),
        (("a.tif", "a_cp_masks.png", "a_masks.tif", "a_flows.tif"), {"a": "a_cp_masks.png"}),
        (("a.tif", "b.png"), {"a": "a.tif", "b": "b.png"}),
    ],
    ids=["dataset-folder", "cellpose-training", "cellpose-predictions", "plain"],
)
def test_find_label_files_in_every_layout(tmp_path, files, expected):
    make(tmp_path, *files)
    found, problems = find_label_files(tmp_path)
    assert problems == []
    assert found == {name: tmp_path / rel for name, rel in expected.items()}
    assert list(found) == sorted(found)


def test_find_label_files_in_an_empty_folder(tmp_path):
    found, problems = find_label_files(tmp_path)
    assert found == {}
    assert str(problems[0]).startswith(f"{tmp_path}: no label images found")
