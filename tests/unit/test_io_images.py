"""Reading and writing single image files: segbench.io.images."""

from __future__ import annotations

import imageio.v3 as iio
import numpy as np
import pytest
import tifffile
from PIL import Image

from segbench.errors import InputError
from segbench.io import read_image, read_labels, read_spacing, write_image, write_labels


def blobs(shape=(16, 20), dtype=np.uint16):
    """A small label image with three objects (ids 1, 2, 7)."""
    labels = np.zeros(shape, dtype)
    labels[..., 2:6, 3:9] = 1
    labels[..., 8:12, 10:15] = 2
    labels[..., 13:15, 1:4] = 7
    return labels


def assert_one_line_error(err: pytest.ExceptionInfo, path, *phrases):
    message = str(err.value)
    assert "\n" not in message
    assert message.startswith(f"{path}: ")
    assert err.value.path == str(path)
    assert err.value.fix, "every InputError says how to fix it"
    for phrase in phrases:
        assert phrase in message, message


# --------------------------------------------------------------------------- round trips


@pytest.mark.parametrize(
    "dtype, shape, spacing",
    [
        (np.uint16, (16, 20), (0.25, 0.5)),  # ImageJ TIFF
        (np.float32, (3, 16, 20), (2.0, 0.3, 0.3)),  # ImageJ hyperstack with Z spacing
        (np.float64, (16, 20), (0.1, 0.1)),  # plain TIFF with segbench metadata
        (np.int16, (4, 16, 20), (1.5, 0.2, 0.2)),
        (np.uint8, (16, 20), None),
    ],
)
def test_write_then_read_image_round_trips(tmp_path, dtype, shape, spacing):
    rng = np.random.default_rng(0)
    image = (rng.random(shape) * 1000).astype(dtype)
    path = tmp_path / "image.tif"
    write_image(path, image, spacing)
    back = read_image(path)
    assert back.dtype == dtype
    np.testing.assert_array_equal(back, image)
    assert read_spacing(path) == spacing


def test_channels_last_image_round_trips(tmp_path):
    image = np.arange(16 * 20 * 3, dtype=np.uint8).reshape(16, 20, 3)
    write_image(tmp_path / "rgb.tif", image, spacing=(0.5, 0.5))
    np.testing.assert_array_equal(read_image(tmp_path / "rgb.tif"), image)
    assert read_spacing(tmp_path / "rgb.tif") == (0.5, 0.5)


def test_write_image_axes_decides_between_stack_and_channels(tmp_path):
    stack = np.arange(2 * 4 * 3, dtype=np.uint16).reshape(2, 4, 3)
    write_image(tmp_path / "stack.tif", stack, axes="ZYX")
    with tifffile.TiffFile(tmp_path / "stack.tif") as tif:
        assert tif.series[0].axes == "ZYX"
    write_image(tmp_path / "channels.tif", stack)  # last axis <= 4: channels by default
    with tifffile.TiffFile(tmp_path / "channels.tif") as tif:
        assert tif.series[0].axes == "YXC"
    np.testing.assert_array_equal(read_image(tmp_path / "stack.tif"), stack)
    np.testing.assert_array_equal(read_image(tmp_path / "channels.tif"), stack)


@pytest.mark.parametrize("high, dtype", [(7, np.uint16), (65535, np.uint16), (65536, np.uint32)])
def test_write_labels_picks_uint16_or_uint32(tmp_path, high, dtype):
    labels = blobs(dtype=np.int64)
    labels[0, 0] = high
    write_labels(tmp_path / "labels.tif", labels, spacing=(0.5, 0.25))
    back = read_labels(tmp_path / "labels.tif")
    assert back.dtype == dtype
    np.testing.assert_array_equal(back, labels)
    assert read_spacing(tmp_path / "labels.tif") == (0.5, 0.25)


def test_3d_labels_round_trip_with_spacing(tmp_path):
    labels = blobs((5, 16, 20), np.int32)
    write_labels(tmp_path / "stack.tif", labels, spacing=(1.0, 0.2, 0.2))
    np.testing.assert_array_equal(read_labels(tmp_path / "stack.tif"), labels)
    assert read_spacing(tmp_path / "stack.tif") == (1.0, 0.2, 0.2)


def test_written_tiffs_are_compressed(tmp_path):
    write_labels(tmp_path / "labels.tif", np.zeros((256, 256), np.uint16))
    with tifffile.TiffFile(tmp_path / "labels.tif") as tif:
        assert tif.pages.first.compression == tifffile.COMPRESSION.ADOBE_DEFLATE
    assert (tmp_path / "labels.tif").stat().st_size < 256 * 256 * 2 / 10


# --------------------------------------------------------------------------- other writers' files


def test_reads_spacing_of_imagej_tiffs_as_fiji_writes_them(tmp_path):
    path = tmp_path / "fiji.tif"
    tifffile.imwrite(
        path,
        np.zeros((3, 8, 8), np.uint16),
        imagej=True,
        resolution=(1 / 0.125, 1 / 0.25),  # pixels per unit along x, y
        metadata={"axes": "ZYX", "spacing": 0.75, "unit": "micron"},
    )
    assert read_spacing(path) == (0.75, 0.25, 0.125)


def test_imagej_nanometres_are_converted_to_micrometres(tmp_path):
    path = tmp_path / "nm.tif"
    tifffile.imwrite(
        path, np.zeros((8, 8), np.uint8), imagej=True, resolution=(1 / 100, 1 / 100),
        metadata={"unit": "nm"},
    )
    assert read_spacing(path) == pytest.approx((0.1, 0.1))


@pytest.mark.parametrize(
    "kwargs",
    [
        {"imagej": True},  # uncalibrated ImageJ image: unit "pixel" or none
        {"imagej": True, "metadata": {"unit": "pixel"}},
        {},  # plain TIFF without a description
        {"resolution": (72, 72), "resolutionunit": "INCH"},  # a DPI, not a voxel size
    ],
)
def test_spacing_is_none_when_the_tiff_does_not_say(tmp_path, kwargs):
    path = tmp_path / "plain.tif"
    tifffile.imwrite(path, np.zeros((8, 8), np.uint16), **kwargs)
    assert read_spacing(path) is None


def test_png_has_no_spacing(tmp_path):
    iio.imwrite(tmp_path / "a.png", np.zeros((8, 8), np.uint8))
    assert read_spacing(tmp_path / "a.png") is None


def test_imagej_hyperstack_channels_are_moved_last(tmp_path):
    zcyx = np.arange(4 * 2 * 8 * 9, dtype=np.uint16).reshape(4, 2, 8, 9)
    tifffile.imwrite(tmp_path / "zcyx.tif", zcyx, imagej=True, metadata={"axes": "ZCYX"})
    np.testing.assert_array_equal(read_image(tmp_path / "zcyx.tif"), zcyx.transpose(0, 2, 3, 1))
    tifffile.imwrite(tmp_path / "cyx.tif", zcyx[0], imagej=True, metadata={"axes": "CYX"})
    np.testing.assert_array_equal(read_image(tmp_path / "cyx.tif"), zcyx[0].transpose(1, 2, 0))


def test_length_one_axes_are_dropped(tmp_path):
    labels = blobs()[np.newaxis]
    tifffile.imwrite(tmp_path / "one.tif", labels)
    assert read_labels(tmp_path / "one.tif").shape == labels.shape[1:]


def test_png_images_and_label_images(tmp_path):
    image = (np.arange(16 * 20).reshape(16, 20) * 100).astype(np.uint16)
    iio.imwrite(tmp_path / "image.png", image)
    back = read_image(tmp_path / "image.png")
    assert back.dtype == np.uint16
    np.testing.assert_array_equal(back, image)
    iio.imwrite(tmp_path / "labels.png", blobs(dtype=np.uint8))
    np.testing.assert_array_equal(read_labels(tmp_path / "labels.png"), blobs())


def test_palette_png_labels_are_palette_indices(tmp_path):
    indexed = Image.fromarray(blobs(dtype=np.uint8), mode="L").convert("P")
    indexed.putpalette([(i * 37) % 256 for i in range(768)])
    indexed.save(tmp_path / "palette.png")
    np.testing.assert_array_equal(read_labels(tmp_path / "palette.png"), blobs())
    assert read_image(tmp_path / "palette.png").shape == (16, 20, 3)  # as colours


def test_a_boolean_mask_is_one_object(tmp_path):
    Image.fromarray(blobs() > 0).save(tmp_path / "binary.png")
    labels = read_labels(tmp_path / "binary.png")
    assert labels.dtype == np.uint8
    np.testing.assert_array_equal(labels, (blobs() > 0).astype(np.uint8))


# --------------------------------------------------------------------------- bad files


def test_missing_file(tmp_path):
    with pytest.raises(InputError) as err:
        read_image(tmp_path / "nope.tif")
    assert_one_line_error(err, tmp_path / "nope.tif", "file not found", "check the path")


def test_unsupported_extension(tmp_path):
    (tmp_path / "a.jpg").write_bytes(b"\xff\xd8")
    with pytest.raises(InputError) as err:
        read_image(tmp_path / "a.jpg")
    assert_one_line_error(err, tmp_path / "a.jpg", "unsupported file type '.jpg'", "TIFF")


def test_empty_file(tmp_path):
    (tmp_path / "empty.tif").touch()
    with pytest.raises(InputError) as err:
        read_labels(tmp_path / "empty.tif")
    assert_one_line_error(err, tmp_path / "empty.tif", "empty (0 bytes)")


@pytest.mark.parametrize("suffix, kind", [(".tif", "TIFF"), (".png", "PNG")])
def test_unreadable_file(tmp_path, suffix, kind):
    path = tmp_path / f"garbage{suffix}"
    path.write_bytes(b"this is not an image at all")
    with pytest.raises(InputError) as err:
        read_image(path)
    assert_one_line_error(err, path, f"cannot be read as {kind}", "copy or export it again")


@pytest.mark.parametrize("compression", [None, "zlib"])
def test_truncated_tiff(tmp_path, compression):
    full = tmp_path / "full.tif"
    tifffile.imwrite(full, np.random.default_rng(0).integers(0, 9, (64, 64), np.uint16),
                     compression=compression)
    data = full.read_bytes()
    path = tmp_path / "truncated.tif"
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(InputError) as err:
        read_labels(path)
    assert_one_line_error(err, path, "cannot be read as TIFF", "truncated")


def test_truncated_png(tmp_path):
    noise = np.random.default_rng(0).integers(0, 255, (64, 64), np.uint8)
    iio.imwrite(tmp_path / "full.png", noise)
    data = (tmp_path / "full.png").read_bytes()
    (tmp_path / "cut.png").write_bytes(data[: len(data) // 2])
    with pytest.raises(InputError) as err:
        read_labels(tmp_path / "cut.png")
    assert_one_line_error(err, tmp_path / "cut.png", "cannot be read as PNG")


def test_float_label_image_is_rejected_with_a_fix(tmp_path):
    tifffile.imwrite(tmp_path / "float.tif", blobs().astype(np.float32))
    with pytest.raises(InputError) as err:
        read_labels(tmp_path / "float.tif")
    assert_one_line_error(err, tmp_path / "float.tif", "floating-point pixels (float32)",
                          "save it as an integer image (uint16")
    assert read_image(tmp_path / "float.tif").dtype == np.float32  # fine as an image


def test_negative_labels_are_rejected(tmp_path):
    labels = blobs(dtype=np.int16)
    labels[labels == 0] = -1
    tifffile.imwrite(tmp_path / "negative.tif", labels)
    with pytest.raises(InputError) as err:
        read_labels(tmp_path / "negative.tif")
    assert_one_line_error(err, tmp_path / "negative.tif", "negative values (minimum -1)",
                          "use 0 for background")


def test_rgb_tiff_mask_is_rejected(tmp_path):
    rgb = np.stack([blobs(dtype=np.uint8) * 30] * 3, axis=-1)
    tifffile.imwrite(tmp_path / "rgb.tif", rgb, photometric="rgb")
    with pytest.raises(InputError) as err:
        read_labels(tmp_path / "rgb.tif")
    assert_one_line_error(err, tmp_path / "rgb.tif", "3 colour channels (shape (16, 20, 3))",
                          "single-channel integer TIFF")


def test_rgba_png_mask_is_rejected(tmp_path):
    iio.imwrite(tmp_path / "rgba.png", np.zeros((16, 20, 4), np.uint8))
    with pytest.raises(InputError) as err:
        read_labels(tmp_path / "rgba.png")
    assert_one_line_error(err, tmp_path / "rgba.png", "4 colour channels")


def test_time_lapse_is_rejected(tmp_path):
    tifffile.imwrite(tmp_path / "movie.tif", np.zeros((5, 3, 8, 8), np.uint16), imagej=True,
                     metadata={"axes": "TZYX"})
    with pytest.raises(InputError) as err:
        read_image(tmp_path / "movie.tif")
    assert_one_line_error(err, tmp_path / "movie.tif", "time-lapse (5 time points)",
                          "one 2-D or 3-D image per file")


# --------------------------------------------------------------------------- writer arguments


@pytest.mark.parametrize(
    "labels, message",
    [
        (np.zeros((4, 4), np.float32), "labels must be an integer array, got float32"),
        (-np.ones((4, 4), np.int32), "labels must not be negative, got minimum -1"),
        (np.zeros((2, 2, 4, 4), np.uint16), "labels must be (Y, X) or (Z, Y, X)"),
    ],
)
def test_write_labels_validates_its_argument(tmp_path, labels, message):
    with pytest.raises(ValueError, match=r"^write_labels: ") as err:
        write_labels(tmp_path / "x.tif", labels)
    assert message in str(err.value)
    assert list(tmp_path.iterdir()) == []


def test_write_image_validates_spacing_and_path(tmp_path):
    expected = r"^write_image: spacing must be 3 positive numbers \(dz, dy, dx\)"
    with pytest.raises(ValueError, match=expected):
        write_image(tmp_path / "x.tif", np.zeros((3, 8, 8), np.float32), spacing=(1.0, 0.5))
    with pytest.raises(ValueError, match="spacing must be 2 positive numbers"):
        write_image(tmp_path / "x.tif", np.zeros((8, 8)), spacing=(0.0, 1.0))
    with pytest.raises(ValueError, match=r"^write_image: path must end in \.tif or \.tiff"):
        write_image(tmp_path / "x.png", np.zeros((8, 8)))
    with pytest.raises(ValueError, match="axes must be one of"):
        write_image(tmp_path / "x.tif", np.zeros((8, 8)), axes="ZYX")


def test_a_failed_write_leaves_the_previous_file_and_no_temporary(tmp_path, monkeypatch):
    path = tmp_path / "labels.tif"
    write_labels(path, blobs())
    real_imwrite = tifffile.imwrite

    def killed_halfway(file, data, **kwargs):
        real_imwrite(file, data, **kwargs)
        with open(file, "r+b") as stream:
            stream.truncate(100)
        raise KeyboardInterrupt

    monkeypatch.setattr(tifffile, "imwrite", killed_halfway)
    with pytest.raises(KeyboardInterrupt):
        write_labels(path, np.zeros((16, 20), np.uint16))
    assert [p.name for p in tmp_path.iterdir()] == ["labels.tif"]
    np.testing.assert_array_equal(read_labels(path), blobs())


def test_write_creates_missing_folders(tmp_path):
    write_labels(tmp_path / "a" / "b" / "labels.tif", blobs())
    np.testing.assert_array_equal(read_labels(tmp_path / "a" / "b" / "labels.tif"), blobs())
