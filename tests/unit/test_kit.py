"""segbench.kit: the plugin kit's validators, device choice, weights hash,
train-split check, version and plugin glue, with their exact messages."""

from __future__ import annotations

import hashlib
import sys

import numpy as np
import pytest

import segbench
from segbench import kit
from segbench.errors import InputError, SegbenchError
from segbench.plugins import load_registry


def test_parameter_error_is_a_segbench_error_and_a_value_error():
    with pytest.raises(SegbenchError) as info:
        kit.number("sigma", -1, low=0)
    assert isinstance(info.value, ValueError)
    assert str(info.value) == "parameter 'sigma' must be a number in [0, inf), got -1.0"


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda: kit.number("t", 1.5, 0, 1), "parameter 't' must be a number in [0, 1], got 1.5"),
        (lambda: kit.number("t", 0, low=0, low_open=True), "parameter 't' must be a number in (0, inf), got 0.0"),
        (lambda: kit.number("t", float("nan")), "parameter 't' must be a number in [-inf, inf), got nan"),
        (lambda: kit.number("t", True), "parameter 't' must be a number in [-inf, inf), got True"),
        (lambda: kit.integer("n", 2.0, low=1), "parameter 'n' must be an integer in [1, inf), got 2.0"),
        (lambda: kit.integer("n", 9, 1, 8), "parameter 'n' must be an integer in [1, 8], got 9"),
        (lambda: kit.flag("f", 1), "parameter 'f' must be true or false, got 1"),
        (lambda: kit.choice("c", "x", ("a", "b")), "parameter 'c' must be one of 'a', 'b', got 'x'"),
        (lambda: kit.number_range("r", [2, 1]), "parameter 'r' must be a [low, high] pair with low <= high, got [2, 1]"),
        (lambda: kit.integer_range("r", [1, 2, 3]), "parameter 'r' must be an integer or a [low, high] pair, got [1, 2, 3]"),
        (lambda: kit.spatial_shape("shape", [4]), "parameter 'shape' must be a list of 2 (Y, X) or 3 (Z, Y, X) integers >= 1, got [4]"),
        (lambda: kit.covariance("cov", [[1, 2], [0, 1]], 2),
         "parameter 'cov' must be a variance > 0 or a symmetric positive definite 2x2 matrix, got [[1, 2], [0, 1]]"),
        (lambda: kit.at_most("gap", 100, 48, "px is wider than the image", "lower gap"),
         "gap: 100 px is wider than the image (at most 48); lower gap"),
        (lambda: kit.at_least("gain", 0.5, 1.0, "is too small", "raise gain"), "gain: 0.5 is too small (at least 1); raise gain"),
    ],
)
def test_validators_name_the_parameter_the_expected_and_the_given(call, message):
    with pytest.raises(kit.ParameterError) as info:
        call()
    assert str(info.value) == message


def test_validators_return_canonical_values():
    assert kit.number("x", 3) == 3.0 and isinstance(kit.number("x", 3), float)
    assert kit.integer("n", np.int64(4)) == 4 and type(kit.integer("n", np.int64(4))) is int
    assert kit.flag("f", np.bool_(True)) is True
    assert kit.number_range("r", 2) == (2.0, 2.0)
    assert kit.integer_range("r", [1, 3]) == (1, 3)
    assert kit.spatial_shape("s", [8, 16]) == (8, 16)
    assert np.array_equal(kit.covariance("c", 2.0, 2), 2 * np.eye(2))
    assert kit.at_most("x", 3, 3, "why", "fix") == 3


class _FakeCuda:
    def __init__(self, available: bool):
        self.available = available

    def is_available(self) -> bool:
        return self.available


class _FakeDevice(str):
    """A stand-in ``torch.device``: a string ``device(NAME)``; refuses what torch refuses."""

    def __new__(cls, name):
        if not isinstance(name, str) or name.split(":")[0] not in ("cpu", "cuda", "mps"):
            raise RuntimeError(f"Expected one of cpu, cuda, mps device type at start of device string: {name}")
        return super().__new__(cls, f"device({name})")


class _FakeTorch:
    """The part of torch that torch_device uses: ``cuda.is_available`` and ``device``."""

    device = _FakeDevice

    def __init__(self, cuda: bool):
        self.cuda = _FakeCuda(cuda)


@pytest.mark.parametrize("cuda, expected", [(True, "device(cuda)"), (False, "device(cpu)")])
@pytest.mark.parametrize("given", ["auto", None])
def test_torch_device_auto_is_cuda_when_present(monkeypatch, cuda, expected, given):
    monkeypatch.setitem(sys.modules, "torch", _FakeTorch(cuda))
    assert kit.torch_device(given) == expected


def test_torch_device_passes_a_device_string_and_refuses_others(monkeypatch):
    monkeypatch.setitem(sys.modules, "torch", _FakeTorch(cuda=False))
    assert kit.torch_device("cuda:1") == "device(cuda:1)"
    given = _FakeDevice("cpu")
    assert kit.torch_device(given) is given
    for bad in ("gpu0", 3):
        with pytest.raises(kit.ParameterError) as info:
            kit.torch_device(bad)
        assert str(info.value) == (
            f"parameter 'device' must be 'auto' or a torch device such as 'cpu', 'cuda' or 'cuda:1', got {bad!r}"
        )


def test_weights_sha256_is_segbenchs_content_hash(tmp_path):
    path = tmp_path / "weights.pt"
    path.write_bytes(b"abc")
    # SHA-256 of segbench's scheme tag, the file's name and size, then its bytes
    expected = "0bc53bd922379466f844537a1a92152b4b6a1ce67b4215aeac460ed4aceea506"
    assert expected == hashlib.sha256(b"segbench-content-v1\0weights.pt\x003\0abc").hexdigest()
    assert kit.weights_sha256(path) == expected
    folder = tmp_path / "model"
    folder.mkdir()
    (folder / "config.json").write_text("{}")
    before = kit.weights_sha256(folder)
    (folder / "config.json").write_text("{ }")
    assert kit.weights_sha256(folder) != before
    with pytest.raises(InputError, match="missing.pt: file not found"):
        kit.weights_sha256(tmp_path / "missing.pt")


def _dataset(*samples):
    return segbench.Dataset("nuclei", [segbench.Sample(*s) for s in samples])


def test_train_samples_returns_the_checked_samples():
    image = np.zeros((8, 8), np.uint16)
    labels = np.zeros((8, 8), np.int32)
    samples = kit.train_samples(_dataset(("a", image, labels), ("b", image, labels)), "unet", ndim=2)
    assert [s.name for s in samples] == ["a", "b"]


@pytest.mark.parametrize(
    "samples, kwargs, message",
    [
        ((), {}, "unet: the train split of 'nuclei' is empty; give the dataset a split with train images"),
        ((("a", np.zeros((8, 8)), np.zeros((8, 8), int)),), {"minimum": 2},
         "unet: the train split of 'nuclei' has 1 image(s); unet needs at least 2; give the dataset a split with train images"),
        ((("a", np.zeros((8, 8)), None),), {},
         "unet: the train split of 'nuclei': image 'a' has no labels; training needs ground truth for every train image"),
        ((("a", np.zeros((4, 8, 8)), np.zeros((4, 8, 8), int)),), {"ndim": 2},
         "unet: the train split of 'nuclei': image 'a' is 3D (labels (4, 8, 8)); unet trains on 2D images"),
        ((("a", np.zeros((8, 8)), np.zeros((8, 9), int)),), {},
         "unet: the train split of 'nuclei': image 'a' has shape (8, 8) but its labels (8, 9); "
         "give labels of the image's spatial shape"),
    ],
)
def test_train_samples_refuses_in_one_line(samples, kwargs, message):
    with pytest.raises(SegbenchError) as info:
        kit.train_samples(_dataset(*samples), "unet", **kwargs)
    assert str(info.value) == message


def test_train_samples_accepts_channels_last_images_with_spatial_labels():
    sample = ("rgb", np.zeros((8, 8, 3)), np.zeros((8, 8), int))
    assert len(kit.train_samples(_dataset(sample), "cellpose", ndim=2)) == 1


def test_plugin_version_reads_the_installed_distribution():
    assert kit.plugin_version("segbench") == segbench.__version__
    assert kit.plugin_version("no-such-distribution-of-segbench") == "0.0.0+unknown"


class _Seg(segbench.Segmenter):
    name = "kit-test-seg"

    def predict(self, image):
        return np.zeros(image.shape, np.int32)


class _Gen(segbench.Generator):
    name = "kit-test-gen"


def test_plugin_registers_each_class_with_its_hook_and_the_commands():
    added = []
    plugin = kit.plugin(_Seg, _Gen, commands=added.append)
    registry = load_registry(extra=[(plugin, "kit-test", "1.0")])
    assert registry.get("segmenter", "kit-test-seg").cls is _Seg
    assert registry.get("generator", "kit-test-gen").cls is _Gen
    assert registry.manager.parse_hookimpl_opts(plugin, "segbench_add_commands") is not None
    plugin.segbench_add_commands(subparsers="parsers")
    assert added == ["parsers"]
    assert not [p for p in registry.problems if p.source == "kit-test" or p.distribution == "kit-test"]


def test_plugin_refuses_a_class_of_no_kind():
    with pytest.raises(TypeError, match="is not a subclass of segbench.Segmenter, Generator, Metric or DatasetSource"):
        kit.plugin(dict)
