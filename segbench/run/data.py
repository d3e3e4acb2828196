"""Turn a suite's dataset entries into files on disk with a train/test split.

Generated datasets are written once under ``<output>/data/<name>/`` (a folder
any segbench command can read) and reused while the generator, its version, its
params and the seed are unchanged. Folder datasets are read in place, and a
few of their masks are checked to be label images (one warning per dataset).
Every sample gets a content hash (image and mask bytes) that keys the result cache.
"""

from __future__ import annotations

import json
import logging
import random
import warnings
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator

from ..api import Dataset, Sample
from ..errors import InputError, SegbenchError
from ..plugins import Registry
from ..suite import DatasetSpec, derive_seed, stable_hash
from ..io import atomic_write_text
from .store import safe_rmtree

__all__ = ["SampleRef", "split_dataset", "PreparedDataset", "prepare_dataset", "dataset_folder", "read_train_folder"]

COMPLETE_MARKER = ".segbench-complete"
#: masks of a folder dataset checked to be label images, spread evenly over its images
MASKS_CHECKED = 5


@dataclass(frozen=True)
class SampleRef:
    """Where one sample lives on disk (see :class:`segbench.io.FilePair`)."""

    name: str
    image_path: str
    #: a label image file, or a folder of one binary mask per object
    mask_path: str | None
    #: read the image as grey when its colour channels are equal
    grey: bool = False

    def load(self, spacing: tuple[float, ...] | None = None) -> Sample:
        """Read the sample (InputError naming the file when it is bad)."""
        from ..io import read_sample

        return read_sample(self.image_path, self.mask_path, self.name, spacing, self.grey)


def split_dataset(name: str, refs, spacing: tuple[float, ...] | None) -> Dataset:
    """A :class:`segbench.Dataset` that reads the samples of ``refs`` lazily."""
    return Dataset(name, names=[r.name for r in refs], loaders=[lambda r=r: r.load(spacing) for r in refs],
                   spacing=spacing)


@dataclass(frozen=True)
class PreparedDataset:
    """A dataset ready to run: sample references split into train and test."""

    name: str
    train: tuple[SampleRef, ...]
    test: tuple[SampleRef, ...]
    spacing: tuple[float, ...] | None
    #: sample name -> content hash of its files
    hashes: dict[str, str]
    #: problems met while reading (unpaired files, ...); the rest still runs
    problems: tuple[str, ...] = ()
    #: spatial dimensions of its images (2 or 3; 0 when no image could be read)
    ndim: int = 0
    #: content hash of the train split (what a training learns from)
    train_hash: str = ""

    @classmethod
    def of(cls, name, train, test, spacing, hashes, problems, ndim) -> PreparedDataset:
        """The dataset, with :attr:`train_hash` computed from ``hashes``."""
        return cls(name, tuple(train), tuple(test), spacing, hashes, tuple(problems), ndim,
                   stable_hash([hashes[r.name] for r in train]))


def prepare_dataset(
    spec: DatasetSpec,
    suite_seed: int,
    output: Path,
    registry: Registry,
    progress: Callable[[int, int], None] | None = None,
    fitted: tuple[Path, dict] | None = None,
) -> PreparedDataset:
    """Generate (or find) the dataset's files and split them.

    Parameters
    ----------
    progress : callable(done, total), optional
        Called as generated samples are written.
    fitted : (workdir, record), optional
        For a spec with ``fit_on``: what the generator's fit left
        (:func:`segbench.run.training.train`); the generator loads it first.

    Raises
    ------
    SegbenchError
        One line naming the suite key or file when the dataset cannot be used.
    """
    if spec.source == "path":
        folder = Path(spec.target)
        if not folder.is_dir():
            raise SegbenchError(
                f"datasets.{spec.name}.path: folder {folder} does not exist; fix the path "
                "(relative paths are relative to the current directory)"
            )
        refs, problems, hashes = _read_folder(spec, folder)
        problems += _mask_doubts(folder, refs)
    else:
        try:
            refs, problems, hashes = _materialised(spec, suite_seed, output, registry, progress, fitted)
        except OSError as exc:  # a read-only data/ folder, a full disk
            where = f"{exc.filename}: " if exc.filename else ""
            raise SegbenchError(
                f"datasets.{spec.name}: cannot write its files under {dataset_folder(spec, output)} "
                f"({where}{exc.strerror or exc}); make that folder writable or free space, then run again"
            ) from None
    spacing, ndim = _geometry(refs)
    train, test = _split(spec, refs, suite_seed)
    return PreparedDataset.of(spec.name, train, test, spacing, hashes, problems, ndim)


def read_train_folder(folder: Path) -> PreparedDataset:
    """A dataset folder whose every image is a train image (``segbench generate
    --fit DIR``); SegbenchError when it holds no image/mask pair."""
    spec = DatasetSpec(folder.name, "path", str(folder), {}, None)
    if not folder.is_dir():
        raise SegbenchError(f"{folder}: no such folder; give a dataset folder (images/ and masks/)")
    refs, problems, hashes = _read_folder(spec, folder, "learn from")
    spacing, ndim = _geometry(refs)
    return PreparedDataset.of(spec.name, refs, (), spacing, hashes, problems, ndim)


def dataset_folder(spec: DatasetSpec, output: Path) -> Path:
    """Where a dataset's files are: its own folder, or ``output/data/NAME``
    for generated and registered datasets."""
    return Path(spec.target) if spec.source == "path" else output / "data" / spec.name


def _read_folder(
    spec: DatasetSpec, folder: Path, what: str = "evaluate"
) -> tuple[list[SampleRef], list[str], dict[str, str]]:
    """Sample references, problems met, and each sample's content hash; a
    folder with nothing to ``what`` is a SegbenchError naming the dataset."""
    from ..io import content_hash

    # a folder's params are find_pairs options; a generated copy's are the generator's
    refs, problems = _sample_refs(folder, spec.params if spec.source == "path" else {})
    if not refs:
        detail = "; ".join(problems) or "no image/mask pairs found"
        raise SegbenchError(f"datasets.{spec.name}: nothing to {what} in {folder} ({detail})")
    hashes = {r.name: content_hash([p for p in (r.image_path, r.mask_path) if p]) for r in refs}
    return refs, problems, hashes


def _mask_doubts(folder: Path, refs: list[SampleRef]) -> list[str]:
    """One line when some of :data:`MASKS_CHECKED` masks of a folder dataset are
    not label images (intensity images, binary masks); masks given as a folder
    of one file per object, and files that cannot be read (a cell reports
    them), are not checked."""
    from ..io import MaskCheck, read_labels

    files = [ref.mask_path for ref in refs if ref.mask_path and Path(ref.mask_path).is_file()]
    if not files:
        return []
    picked = sorted({round(i * (len(files) - 1) / (MASKS_CHECKED - 1)) for i in range(MASKS_CHECKED)})
    check = MaskCheck(str(folder))
    for path in (files[i] for i in picked):
        try:
            check.add(path, read_labels(path))
        except InputError:
            continue
    warning = check.warning()
    return [warning] if warning else []


def _materialised(spec, suite_seed, output, registry, progress, fitted=None):
    """A generated or registered dataset written under ``output/data``, checked
    against the hashes recorded when it was written; a copy whose files were
    removed, added or changed since is written again (with a warning)."""
    make = (
        (lambda: _generated_folder(spec, suite_seed, output, registry, progress, fitted))
        if spec.source == "generator"
        else (lambda: _registered_folder(spec, registry.get("dataset", spec.target), output))
    )
    with generator_warnings() as said:
        folder = make()
    refs, problems, hashes = _read_folder(spec, folder)
    marker = read_marker(folder) or {}
    recorded = marker.get("hashes")
    if recorded is not None and recorded == hashes and not problems:
        return refs, [*_said_when_written(marker), *problems], hashes
    if recorded is not None:
        changed = sorted(set(recorded) ^ set(hashes) | {n for n in hashes if recorded.get(n) != hashes[n]})
        atomic_write_text(folder / COMPLETE_MARKER, json.dumps({"key": "changed"}))  # invalidate
        with generator_warnings() as said:
            folder = make()
        refs, problems, hashes = _read_folder(spec, folder)
        problems = [
            f"{len(changed)} of its generated images were missing or changed since they were written "
            f"(e.g. {changed[0] if changed else '-'}); it was written again", *problems,
        ]
    record_hashes(folder, hashes, said)
    return refs, [*said, *problems], hashes


def _said_when_written(marker: dict) -> list[str]:
    """What the generator warned while it wrote the dataset (kept in its marker)."""
    said = marker.get("warnings", [])
    return [str(w) for w in said] if isinstance(said, list) else []


class _Collect(logging.Handler):
    def __init__(self, messages: list[str]):
        super().__init__(logging.WARNING)
        self.messages = messages

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


@contextmanager
def generator_warnings() -> Iterator[list[str]]:
    """Collect what a generator warns while it writes a dataset: ``warnings.warn``
    with a :class:`UserWarning` (the GAN's "fell short of min_objects") and
    records of segbench's logger (the procedural "placed 2 of 5 nuclei"). Under
    ``segbench run`` the live display would swallow them; collected, they
    become the dataset's warnings in the run summary and ``run.json``, and are
    kept in the dataset's marker so a rerun repeats them. Other warnings
    (numpy's RuntimeWarning and the like) are dropped."""
    messages: list[str] = []
    handler = _Collect(messages)
    logger = logging.getLogger("segbench")
    logger.addHandler(handler)
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            yield messages
    finally:
        logger.removeHandler(handler)
    messages.extend(str(w.message) for w in caught if issubclass(w.category, UserWarning))


def _geometry(refs: list[SampleRef]) -> tuple[tuple[float, ...] | None, int]:
    """The voxel size (None when the file does not say) and the spatial
    dimensions (2 or 3) of the first readable sample; ``(None, 0)`` when none
    can be read (an unreadable file is left for its own cell to report)."""
    from ..io import read_spacing

    for ref in refs:
        try:
            sample = ref.load()
            spacing = read_spacing(ref.image_path)
        except InputError:
            continue
        return spacing, (sample.labels if sample.labels is not None else sample.image).ndim
    return None, 0


def _split(spec: DatasetSpec, refs: list[SampleRef], seed: int) -> tuple[tuple, tuple]:
    """Generated datasets split in generation order (each image is already random);
    folders are shuffled with a seed derived from the suite seed first."""
    if spec.split is None:
        return (), tuple(refs)
    n_train, n_test = spec.split["train"], spec.split["test"]
    if n_train + n_test > len(refs):
        raise SegbenchError(
            f"datasets.{spec.name}.split: train + test = {n_train + n_test} but the dataset has "
            f"{len(refs)} images; lower the split"
        )
    ordered = list(refs)
    if spec.source != "generator":
        random.Random(derive_seed(seed, "split", spec.name)).shuffle(ordered)
    return tuple(ordered[:n_train]), tuple(ordered[n_train : n_train + n_test])


def _sample_refs(folder: Path, options: dict) -> tuple[list[SampleRef], list[str]]:
    """``options``: a path dataset's ``params`` (keywords of ``find_pairs``)."""
    from ..io import find_pairs

    pairs, problems = find_pairs(folder, **options)
    refs = [SampleRef(p.name, str(p.image), str(p.mask) if p.mask else None, p.grey) for p in pairs]
    return refs, [str(p) for p in problems]


def _generated_folder(spec, suite_seed, output, registry, progress, fitted=None) -> Path:
    info = registry.get("generator", spec.target)
    n = spec.n_images
    params = {k: v for k, v in spec.params.items() if k != "n_images"}
    seed = derive_seed(suite_seed, "dataset", spec.name)
    meta = {
        "generator": spec.target,
        "distribution": info.distribution,
        "version": info.version,
        "params": params,
        "n_images": n,
        "seed": seed,
    }
    if fitted is not None:  # generated from what the generator learnt: refit, regenerate
        meta["fitted"] = {"workdir": fitted[0].name, "files_sha256": fitted[1].get("files_sha256")}

    def samples():  # built only when the folder is not already there (a GAN loads weights)
        try:
            generator = info.cls(**params)
            if fitted is not None:
                generator.load(fitted[0])
        except (TypeError, ValueError, SegbenchError) as exc:
            raise SegbenchError(f"datasets.{spec.name}.params: generator {spec.target!r} rejected them: {exc}") from None
        return _counted(generator.generate(n, seed), n, progress)

    return _materialise(dataset_folder(spec, output), meta, samples, output)


def _registered_folder(spec: DatasetSpec, info, output: Path) -> Path:
    """A registered dataset source: written to disk once, like a generator's
    output, and again when its plugin's distribution or version changes (a
    new segbench may ship another ``dsb2018-sample``)."""
    meta = {"dataset": spec.target, "params": spec.params, "distribution": info.distribution, "version": info.version}

    def samples():
        try:
            return iter(info.cls().load(**spec.params))
        except (TypeError, ValueError, InputError, SegbenchError) as exc:
            raise SegbenchError(f"datasets.{spec.name}: dataset {spec.target!r} could not be loaded: {exc}") from None

    return _materialise(dataset_folder(spec, output), meta, samples, output)


def _materialise(folder: Path, meta: dict, samples: Callable[[], Iterator], output: Path) -> Path:
    """Write ``samples()`` to ``folder`` unless a complete copy with the same
    ``meta`` is there. Written beside it, then renamed: a killed run never
    leaves a half-written dataset that looks complete. Only folders that carry
    segbench's own marker are ever replaced."""
    key = stable_hash(meta)
    marker = read_marker(folder)
    if marker is not None and marker.get("key") == key:
        return folder
    if marker is None and folder.exists() and (not folder.is_dir() or any(folder.iterdir())):
        raise SegbenchError(
            f"{folder} exists and was not written by segbench (it has no {COMPLETE_MARKER}); "
            "move it away or choose another output folder"
        )
    from ..io import write_dataset

    tmp = folder.with_name(f".{folder.name}.partial")
    if tmp.exists():
        safe_rmtree(tmp, output)  # a killed run's half-written copy (inside the output folder)
    tmp.mkdir(parents=True)
    write_dataset(tmp, samples(), meta=meta)
    (tmp / COMPLETE_MARKER).write_text(json.dumps({"key": key}))
    if folder.exists():
        safe_rmtree(folder, output)
    tmp.rename(folder)
    return folder


def read_marker(folder: Path) -> dict | None:
    """The marker segbench leaves in a dataset folder it wrote (None: not ours)."""
    try:
        text = (folder / COMPLETE_MARKER).read_text()
    except OSError:
        return None
    try:
        data = json.loads(text)
    except ValueError:
        return {"key": text.strip()}  # the marker's first form: the bare key
    return data if isinstance(data, dict) else None


def record_hashes(folder: Path, hashes: dict[str, str], said: list[str] | None = None) -> None:
    """Store the content hashes of a freshly written dataset in its marker,
    with what its generator warned while writing it (``said``; kept as it was
    when the dataset was found already written)."""
    marker = read_marker(folder) or {}
    if said:
        marker["warnings"] = list(said)
    atomic_write_text(folder / COMPLETE_MARKER, json.dumps({**marker, "hashes": hashes}, sort_keys=True))


def _counted(samples: Iterator, total: int | None, progress) -> Iterator:
    for i, sample in enumerate(samples, 1):
        yield sample
        if progress is not None:
            progress(i, total or i)
