"""Dataset folders (segbench.io.datasets) and content hashes (segbench.io.hashing)."""

from __future__ import annotations

import os
import pickle
import shutil

import numpy as np
import pytest
import tifffile

import segbench
from segbench.errors import InputError
from segbench.io import (
    content_hash,
    open_dataset,
    read_dataset,
    read_dataset_meta,
    read_labels,
    read_sample,
    write_dataset,
    write_image,
    write_labels,
)


def sample(name: str, seed: int = 0, shape=(12, 16), spacing=None, labelled=True):
    rng = np.random.default_rng(seed)
    image = rng.integers(0, 4000, shape, dtype=np.uint16)
    labels = None
    if labelled:
        labels = np.zeros(shape[:2] if len(shape) == 3 and shape[-1] <= 4 else shape, np.int32)
        labels[..., 2:6, 3:7] = seed + 1
        labels[..., 7:10, 9:14] = 40 + seed
    return segbench.Sample(name, image, labels, spacing)


def assert_same_sample(got: segbench.Sample, want: segbench.Sample):
    assert got.name == want.name
    np.testing.assert_array_equal(got.image, want.image)
    if want.labels is None:
        assert got.labels is None
    else:
        np.testing.assert_array_equal(got.labels, want.labels)
    assert got.spacing == want.spacing


# --------------------------------------------------------------------------- round trips


def test_write_dataset_then_open_dataset_round_trips(tmp_path):
    samples = [sample("b", 1, spacing=(0.5, 0.5)), sample("a", 2, spacing=(0.5, 0.5))]
    meta = {"generator": "procedural", "params": {"shape": (12, 16)}, "seed": np.int64(3),
            "spacing": [0.5, 0.5]}
    folder = write_dataset(tmp_path / "nuclei", samples, meta)
    assert folder == tmp_path / "nuclei"
    assert sorted(p.name for p in (folder / "images").iterdir()) == ["a.tif", "b.tif"]
    assert sorted(p.name for p in (folder / "masks").iterdir()) == ["a.tif", "b.tif"]
    assert read_dataset_meta(folder) == {
        "generator": "procedural", "params": {"shape": [12, 16]}, "seed": 3,
        "spacing": [0.5, 0.5], "n_images": 2,
    }
    dataset, problems = open_dataset(folder)
    assert problems == []
    assert isinstance(dataset, segbench.Dataset)
    assert (dataset.name, dataset.names, dataset.spacing) == ("nuclei", ["a", "b"], (0.5, 0.5))
    assert_same_sample(dataset[0], samples[1])
    assert_same_sample(dataset[1], samples[0])
    assert read_labels(folder / "masks" / "a.tif").dtype == np.uint16


def test_unlabelled_3d_and_channel_samples_round_trip(tmp_path):
    unlabelled = [sample("x", labelled=False), sample("y", 1, labelled=False)]
    dataset, problems = open_dataset(write_dataset(tmp_path / "u", unlabelled), name="mine")
    assert problems == [] and dataset.name == "mine"
    for got, want in zip(dataset, unlabelled):
        assert_same_sample(got, want)
    stacks = [sample("s", 0, shape=(3, 12, 16), spacing=(2.0, 0.5, 0.5))]
    assert_same_sample(read_dataset(write_dataset(tmp_path / "z", stacks))[0][0], stacks[0])
    rgb = [sample("c", 0, shape=(12, 16, 3), spacing=(0.5, 0.5))]
    assert_same_sample(read_dataset(write_dataset(tmp_path / "c", rgb))[0][0], rgb[0])


def test_samples_take_the_dataset_spacing_when_files_have_none(tmp_path):
    write_dataset(tmp_path, [sample("a")], {"spacing": [0.3, 0.3]})
    dataset, problems = open_dataset(tmp_path)
    assert problems == [] and dataset[0].spacing == (0.3, 0.3)


def test_open_dataset_reads_no_pixels_until_a_sample_is_loaded(tmp_path):
    write_dataset(tmp_path, [sample("a"), sample("b", 1)])
    (tmp_path / "masks" / "a.tif").write_bytes(b"corrupted after writing")
    dataset, problems = open_dataset(tmp_path)
    assert problems == [] and len(dataset) == 2
    assert_same_sample(dataset[1], sample("b", 1))
    with pytest.raises(InputError) as err:
        dataset[0]
    assert str(err.value).startswith(f"{tmp_path / 'masks' / 'a.tif'}: cannot be read as TIFF")


def test_an_opened_dataset_pickles_for_worker_processes(tmp_path):
    write_dataset(tmp_path, [sample("a")])
    dataset, _ = open_dataset(tmp_path)
    copy = pickle.loads(pickle.dumps(dataset))
    assert copy.names == ["a"]
    assert_same_sample(copy[0], sample("a"))


# --------------------------------------------------------------------------- bad inputs


def test_read_dataset_skips_bad_pairs_and_reads_the_rest(tmp_path):
    samples = [sample(n, i) for i, n in enumerate("abcdefg")]
    write_dataset(tmp_path, samples)
    masks, images = tmp_path / "masks", tmp_path / "images"
    data = (masks / "a.tif").read_bytes()
    (masks / "a.tif").write_bytes(data[: len(data) // 2])  # truncated
    write_labels(masks / "b.tif", np.zeros((12, 15), np.uint16))  # shape mismatch
    tifffile.imwrite(masks / "c.tif", np.zeros((12, 16), np.float32))  # float labels
    tifffile.imwrite(masks / "d.tif", -np.ones((12, 16), np.int32))  # negative labels
    tifffile.imwrite(masks / "e.tif", np.zeros((12, 16, 3), np.uint8), photometric="rgb")
    os.remove(masks / "f.tif")  # image without a mask
    write_image(images / "h.tif", np.zeros((12, 16), np.uint16))  # ... and another

    got, problems = read_dataset(tmp_path)

    assert [s.name for s in got] == ["g"]
    assert_same_sample(got[0], samples[6])
    lines = [str(p) for p in problems]
    assert all("\n" not in line for line in lines)
    assert lines[0].startswith(f"{images / 'f.tif'}: image 'f' has no mask (expected masks/f.tif)")
    assert lines[1].startswith(f"{images / 'h.tif'}: image 'h' has no mask")
    assert lines[2] == f"{tmp_path / 'dataset.json'}: lists 7 images but 6 image/mask pairs " \
        "were found; the dataset was written incompletely or changed since; write it again"
    assert lines[3].startswith(f"{masks / 'a.tif'}: cannot be read as TIFF")
    assert lines[4] == (
        f"{masks / 'b.tif'}: mask shape (12, 15) does not match the shape (12, 16) of image b.tif;"
        " check that the two files belong together; the mask must have the image's (Z,) Y, X shape"
    )
    assert lines[5].startswith(f"{masks / 'c.tif'}: label image has floating-point pixels")
    assert lines[6].startswith(f"{masks / 'd.tif'}: label image has negative values (minimum -1)")
    assert lines[7].startswith(f"{masks / 'e.tif'}: has 3 colour channels")
    assert len(lines) == 8


def test_empty_and_missing_dataset_folders(tmp_path):
    dataset, problems = open_dataset(tmp_path)
    assert len(dataset) == 0
    assert [p.path for p in problems] == [str(tmp_path)]
    assert "no images found" in str(problems[0])
    samples, problems = read_dataset(tmp_path / "missing")
    assert samples == [] and str(problems[0]).endswith("folder not found; check the path")


@pytest.mark.parametrize(
    "text, message",
    [
        ("{not json", "is not valid JSON (Expecting property name enclosed in double quotes"),
        ("[1, 2]", "is not a JSON object; fix it, or delete it"),
        ('{"spacing": [0.5, -1]}',
         "'spacing' must be a list of 2 or 3 positive numbers, got [0.5, -1]"),
    ],
)
def test_broken_dataset_json_is_reported_and_the_images_still_read(tmp_path, text, message):
    write_dataset(tmp_path, [sample("a")])
    (tmp_path / "dataset.json").write_text(text)
    samples, problems = read_dataset(tmp_path)
    assert [s.name for s in samples] == ["a"]
    assert len(problems) == 1
    assert str(problems[0]).startswith(f"{tmp_path / 'dataset.json'}: ")
    assert message in str(problems[0])


def test_read_sample_without_a_mask_and_with_a_name(tmp_path):
    write_image(tmp_path / "x.tif", np.ones((4, 4), np.float32), spacing=(0.2, 0.2))
    got = read_sample(tmp_path / "x.tif", name="renamed")
    assert (got.name, got.labels, got.spacing) == ("renamed", None, (0.2, 0.2))


# --------------------------------------------------------------------------- writer arguments


def test_write_dataset_refuses_a_non_empty_folder_unless_told(tmp_path):
    write_dataset(tmp_path, [sample("old1"), sample("old2")])
    (tmp_path / "README.md").write_text("mine")
    with pytest.raises(FileExistsError, match="is not empty; pass overwrite=True"):
        write_dataset(tmp_path, [sample("new")])
    write_dataset(tmp_path, [sample("new")], overwrite=True)
    dataset, problems = open_dataset(tmp_path)
    assert problems == [] and dataset.names == ["new"]
    assert (tmp_path / "README.md").read_text() == "mine"


@pytest.mark.parametrize(
    "samples, message",
    [
        ([sample("a"), sample("a", 1)], "two samples are named 'a'"),
        ([sample("../up")], "sample name '../up' is not usable as a file name"),
        ([sample(".hidden")], "is not usable as a file name"),
        ([sample("a"), sample("b", labelled=False)],
         "sample 'b' is unlabelled but the samples before it are not"),
        ([segbench.Sample("a", np.zeros((4, 4)), np.zeros((4, 5), int))],
         "sample 'a' has labels of shape (4, 5) for an image of shape (4, 4)"),
    ],
)
def test_write_dataset_validates_samples(tmp_path, samples, message):
    with pytest.raises(ValueError) as err:
        write_dataset(tmp_path / "d", samples)
    assert str(err.value).startswith("write_dataset: ") and message in str(err.value)
    assert not (tmp_path / "d" / "dataset.json").exists()


def test_write_dataset_rejects_meta_that_is_not_json_before_writing(tmp_path):
    with pytest.raises(TypeError, match="meta value .* \\(object\\) is not JSON-serialisable"):
        write_dataset(tmp_path / "d", [sample("a")], {"bad": object()})
    assert not (tmp_path / "d").exists()


def test_dataset_json_is_written_last(tmp_path):
    def samples():
        yield sample("a")
        raise RuntimeError("generator crashed")

    with pytest.raises(RuntimeError):
        write_dataset(tmp_path, samples())
    assert (tmp_path / "images" / "a.tif").exists()
    assert not (tmp_path / "dataset.json").exists()


# --------------------------------------------------------------------------- content hash


def test_content_hash_follows_names_and_bytes_only(tmp_path):
    folder = write_dataset(tmp_path / "d", [sample("a"), sample("b", 1)])
    first = content_hash(folder)
    assert len(first) == 64 and int(first, 16) >= 0
    os.utime(folder / "images" / "a.tif", (0, 0))
    (folder / "images" / ".a.tif.99.tmp").write_bytes(b"a writer at work")
    assert content_hash(folder) == first
    shutil.copytree(folder, tmp_path / "moved")
    assert content_hash(tmp_path / "moved") == first

    write_labels(folder / "masks" / "b.tif", sample("b", 2).labels)
    changed = content_hash(folder)
    assert changed != first
    os.rename(folder / "masks" / "b.tif", folder / "masks" / "c.tif")
    assert content_hash(folder) not in (first, changed)


def test_content_hash_of_files(tmp_path):
    (tmp_path / "x.tif").write_bytes(b"12")
    (tmp_path / "y.tif").write_bytes(b"1")
    (tmp_path / "z.tif").write_bytes(b"2")
    one = content_hash(tmp_path / "x.tif")
    assert one == content_hash([tmp_path / "x.tif"])
    # names and sizes are hashed with the bytes: no two splits of one byte string collide
    assert content_hash([tmp_path / "y.tif", tmp_path / "z.tif"]) != content_hash(
        [tmp_path / "z.tif", tmp_path / "y.tif"]
    )
    with pytest.raises(InputError, match="nope.tif: file not found"):
        content_hash([tmp_path / "nope.tif"])
