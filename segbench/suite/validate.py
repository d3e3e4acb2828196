"""Validation of a suite file: every problem found before anything runs, each
as one line ``FILE:LINE: KEY: what is wrong; how to fix it``.

Problems confined to one dataset or segmenter entry (an unknown plugin, a
misspelt parameter) drop that entry and let the rest run; problems with the
suite as a whole (bad YAML, a missing ``name``) stop it.
"""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Any

from ..api import parameter_names
from ..errors import did_you_mean
from ..io import find_pairs
from ..metrics import CRITERIA, DSB_THRESHOLDS
from ..results import parse_metric_key
from ..plugins import PluginError, Registry
from .grid import grid
from .model import (
    MAX_IMAGES,
    MAX_SEED,
    MAX_SUITE_BYTES,
    MAX_VARIANTS,
    MAX_VOXELS,
    SAFE_NAME,
    THRESHOLD_DECIMALS,
    DATASET_KEYS,
    DATASET_SOURCES,
    EXECUTOR_KEYS,
    EXECUTOR_KINDS,
    GENERATOR_COMMON,
    METRICS_KEYS,
    RESERVED_TRAIN_SETTINGS,
    SEGMENTER_KEYS,
    TLS_KEYS,
    TOP_KEYS,
    DatasetSpec,
    ExecutorSpec,
    MetricsSpec,
    SegmenterConfig,
    SegmenterSpec,
    Suite,
    SuiteLoadError,
    SuiteProblem,
)
from .yamlfile import YamlProblem, read_yaml

__all__ = ["load_suite"]


def _key(path: tuple) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


class _Checker:
    """Collects problems with file/line/key context."""

    def __init__(self, file: str, lines: dict[tuple, int]):
        self.file = file
        self.lines = lines
        self.problems: list[SuiteProblem] = []

    def add(self, path: tuple, message: str, entry_only: bool = False) -> None:
        line = None
        for i in range(len(path), -1, -1):
            if path[:i] in self.lines:
                line = self.lines[path[:i]]
                break
        self.problems.append(SuiteProblem(self.file, line, _key(path), message, entry_only))

    def unknown_keys(self, data: dict, allowed: set[str], path: tuple, entry_only=False) -> None:
        for key in data:
            if key not in allowed:
                self.add(
                    path + (key,),
                    f"unknown key{did_you_mean(str(key), allowed)}; allowed: {', '.join(sorted(allowed))}",
                    entry_only,
                )

    def mapping(self, value: Any, path: tuple, entry_only=False) -> dict | None:
        if value is None:
            return {}
        if not isinstance(value, dict):
            self.add(path, f"must be a mapping (key: value), got {type(value).__name__}", entry_only)
            return None
        return value


# ---------------------------------------------------------------------------
# loading


def load_suite(path: str | Path, registry: Registry, output: str | Path | None = None) -> Suite:
    """Read and validate a suite file.

    Parameters
    ----------
    path : str or Path
        The YAML file.
    registry : segbench.plugins.Registry
        Installed plugins, used to check names and parameters.
    output : str or Path, optional
        Overrides the suite's ``output`` folder.

    Returns
    -------
    Suite
        With entry-level problems in ``suite.problems`` (those entries dropped).

    Raises
    ------
    SuiteLoadError
        When the suite as a whole is unusable; lists every problem found.
    """
    path = Path(path)
    file = str(path)
    try:
        with open(path, "rb") as stream:
            raw = stream.read(MAX_SUITE_BYTES + 1)
    except OSError as exc:
        raise SuiteLoadError([SuiteProblem(file, None, "", f"cannot read suite: {exc.strerror}")]) from None
    if len(raw) > MAX_SUITE_BYTES:
        raise SuiteLoadError([SuiteProblem(
            file, None, "", f"larger than {MAX_SUITE_BYTES >> 20} MiB; a suite is a small YAML text file: give its path"
        )])
    try:
        data, lines = read_yaml(raw)
    except YamlProblem as exc:
        raise SuiteLoadError([SuiteProblem(file, exc.line, "", exc.message)]) from None
    check = _Checker(file, lines)
    if not isinstance(data, dict):
        check.add((), "a suite must be a YAML mapping with keys name, datasets, segmenters, ...")
        raise SuiteLoadError(check.problems)

    check.unknown_keys(data, TOP_KEYS, ())
    name = data.get("name")
    if not isinstance(name, str) or not name:
        check.add(("name",), "required: a non-empty string naming the suite")
    else:
        _check_name(check, ("name",), name, "suite name")
    seed = data.get("seed", 0)
    if not _is_int(seed) or not 0 <= seed <= MAX_SEED:
        check.add(("seed",), f"must be a whole number from 0 to {MAX_SEED}, got {seed!r}")
        seed = 0
    metrics = _metrics(check, data.get("metrics"))
    skipped: list[str] = []
    executor = _executor(check, data.get("executor"), skipped)
    out = output if output is not None else data.get("output", f"results/{name}")
    out = _output(check, out, output is not None)
    description = _description(check, data.get("description"))

    datasets = _datasets(check, data.get("datasets"), registry, skipped)
    segmenters = _segmenters(check, data.get("segmenters"), registry, skipped, datasets)

    fatal = [p for p in check.problems if not p.entry_only]
    if fatal:
        raise SuiteLoadError(check.problems)
    suite = Suite(
        name=name,
        path=path,
        seed=seed,
        output=Path(out),
        datasets=datasets,
        segmenters=segmenters,
        metrics=metrics,
        executor=executor,
        description=description,
        save_predictions=_save_predictions(check, data.get("save_predictions", "auto")),
        problems=check.problems,
        skipped=skipped,
    )
    if not suite.datasets or not suite.segmenters:
        raise SuiteLoadError(
            check.problems
            + [
                SuiteProblem(
                    file,
                    None,
                    "datasets" if not suite.datasets else "segmenters",
                    "nothing left to run after the problems above",
                )
            ]
        )
    return suite


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _check_name(check: _Checker, path: tuple, name: str, what: str, entry_only: bool = False) -> bool:
    """Names become folder and file names: letters, digits, '.', '_' and '-',
    starting with a letter or digit, at most 64 characters (so never '..', '/')."""
    if SAFE_NAME.fullmatch(name):
        return True
    check.add(
        path,
        f"{what} {name!r} may hold only letters, digits, '.', '_' and '-', start with a letter or "
        "digit, and be at most 64 characters (it names folders); rename it",
        entry_only,
    )
    return False


def _output(check: _Checker, out: Any, from_command_line: bool) -> Path:
    """The output folder: an explicit, non-root folder path."""
    key = ("output",) if not from_command_line else ()
    where = "--output: " if from_command_line else ""  # a suite's key is named by the problem itself
    if not isinstance(out, (str, Path)) or not str(out).strip():
        check.add(key, f"{where}must name a folder for the results, e.g. results/NAME; got {out!r}")
        return Path("results")
    if str(out).startswith("~") and not (str(out) == "~" or str(out).startswith("~/")):
        check.add(key, f"{where}{out!r} names another user's home folder (~USER); write into your own "
                  "folders: ~/... or a plain path")
        return Path("results")
    path = Path(out).expanduser()
    if path.resolve() == Path(path.resolve().anchor):
        check.add(key, f"{where}{out!r} is the file system's root; name a folder for the results, e.g. results/NAME")
    elif path.exists() and not path.is_dir():
        check.add(key, f"{where}{out} is a file, not a folder; name a folder for the results")
    return path


def _description(check: _Checker, value: Any) -> str:
    """The suite's description: text (a number is taken as its text, nothing as "")."""
    if value is None:
        return ""
    if isinstance(value, (list, dict)):
        check.add(("description",), f"must be text, got {type(value).__name__} {value!r}; "
                  "write the description as one string (quote it if it holds ':' or braces)")
        return ""
    return str(value)


def _save_predictions(check: _Checker, value: Any) -> bool | str:
    if value not in (True, False, "auto"):
        check.add(("save_predictions",), f"must be true, false or auto, got {value!r}")
        return "auto"
    return value


def _metrics(check: _Checker, raw: Any) -> MetricsSpec:
    path = ("metrics",)
    data = check.mapping(raw, path)
    if data is None:
        return MetricsSpec()
    check.unknown_keys(data, METRICS_KEYS, path)
    default = MetricsSpec()
    thresholds = data.get("iou_thresholds", list(default.iou_thresholds))
    if isinstance(thresholds, (int, float)) and not isinstance(thresholds, bool):
        thresholds = [thresholds]
    if (
        not isinstance(thresholds, list)
        or not thresholds
        or not all(isinstance(t, (int, float)) and not isinstance(t, bool) and 0 < t <= 1 for t in thresholds)
    ):
        check.add(path + ("iou_thresholds",), f"must be a list of numbers in (0, 1], got {thresholds!r}")
        thresholds = list(default.iou_thresholds)
    rounded = [round(float(t), THRESHOLD_DECIMALS) for t in thresholds]
    repeated = sorted({t for t in rounded if rounded.count(t) > 1})
    if repeated:
        check.add(
            path + ("iou_thresholds",),
            f"{', '.join(map(str, repeated))} given more than once (thresholds are compared to "
            f"{THRESHOLD_DECIMALS} decimals); list each threshold once",
        )
        thresholds = sorted(set(rounded))
    criterion = data.get("criterion", default.criterion)
    if criterion not in CRITERIA:
        check.add(path + ("criterion",), f"must be one of {', '.join(CRITERIA)}, got {criterion!r}")
        criterion = default.criterion
    rank_by = data.get("rank_by", default.rank_by)
    try:
        parse_metric_key(str(rank_by), [*thresholds, *DSB_THRESHOLDS])  # every threshold that is scored
    except ValueError as exc:
        check.add(path + ("rank_by",), str(exc))
        rank_by = default.rank_by
    return MetricsSpec(tuple(float(t) for t in thresholds), criterion, str(rank_by))


def _executor(check: _Checker, raw: Any, notes: list[str]) -> ExecutorSpec:
    path = ("executor",)
    data = check.mapping(raw, path)
    if data is None:
        return ExecutorSpec()
    check.unknown_keys(data, EXECUTOR_KEYS, path)
    kind = data.get("kind", "local")
    if kind not in EXECUTOR_KINDS:
        check.add(path + ("kind",), f"must be one of {', '.join(EXECUTOR_KINDS)}{did_you_mean(str(kind), EXECUTOR_KINDS)}, got {kind!r}")
        kind = "local"
    workers = data.get("workers", 1 if kind == "local" else 2)
    if not isinstance(workers, int) or isinstance(workers, bool) or workers < 1:
        check.add(path + ("workers",), f"must be a positive integer, got {workers!r}")
        workers = 1
    cores = os.cpu_count() or 1
    if workers > cores:
        notes.append(
            f"executor.workers: {workers} workers asked, this machine has {cores} cores; using {cores} "
            f"(`segbench run --workers {workers}` runs that many)"
        )
        workers = cores
    address = data.get("address")
    if address is not None and (kind != "dask" or not isinstance(address, str)):
        check.add(path + ("address",), "only for kind: dask, as a scheduler address like tcp://host:8786")
        address = None
    tls = check.mapping(data.get("tls"), path + ("tls",)) if "tls" in data else None
    if tls:
        check.unknown_keys(tls, set(TLS_KEYS), path + ("tls",))
        missing = [k for k in TLS_KEYS if not isinstance(tls.get(k), str)]
        if missing:
            check.add(path + ("tls",), f"needs {', '.join(TLS_KEYS)} (file paths); missing {', '.join(missing)}")
            tls = None
    return ExecutorSpec(kind, workers, address, dict(tls) if tls else None)


def _entries(check: _Checker, raw: Any, key: str, what: str, allowed: set[str]):
    """Yield ``(path, entry, n_problems)`` for each mapping in the list under
    ``key``, ``n_problems`` counted before the entry was checked (an entry with
    any problem is dropped); report a missing list (fatal), non-mapping entries
    and unknown keys."""
    if not isinstance(raw, list) or not raw:
        check.add((key,), f"required: a list of {key} (each a mapping with {what})")
        return
    for i, entry in enumerate(raw):
        path = (key, i)
        if not isinstance(entry, dict):
            check.add(path, f"each entry must be a mapping with {what}", True)
            continue
        n_problems = len(check.problems)
        check.unknown_keys(entry, allowed, path, True)
        yield path, entry, n_problems


def _unknown_params(check: _Checker, path: tuple, given, accepted, what: str, noun: str = "parameter") -> None:
    """Report each name in ``given`` that ``accepted`` (None: anything) lacks."""
    if accepted is None:
        return
    for key in given:
        if key not in accepted:
            check.add(
                path + (key,),
                f"unknown {noun} for {what}{did_you_mean(key, accepted)}; accepted: {', '.join(sorted(accepted)) or 'none'}",
                True,
            )


def _datasets(check: _Checker, raw: Any, registry: Registry, skipped: list[str]) -> list[DatasetSpec]:
    specs: list[DatasetSpec] = []
    seen: set[str] = set()
    for path, entry, n_before in _entries(check, raw, "datasets", "name and one of generator, path, dataset", DATASET_KEYS):
        name = entry.get("name")
        if not isinstance(name, str) or not name:
            check.add(path + ("name",), "required: a non-empty string", True)
        elif not _check_name(check, path + ("name",), name, "dataset name", True):
            pass
        elif name in seen:
            check.add(path + ("name",), f"dataset name {name!r} is used twice; names must be unique", True)
        sources = [k for k in DATASET_SOURCES if k in entry]
        if entry.get("optional") and len(sources) == 1 and sources[0] != "path":
            kind = "generator" if sources[0] == "generator" else "dataset"
            if entry[sources[0]] not in registry.plugins[kind]:
                skipped.append(f"dataset {name!r}: {kind} {entry[sources[0]]!r} (optional) is not installed; skipped")
                continue
        if len(sources) != 1:
            check.add(path, f"give exactly one of {', '.join(DATASET_SOURCES)} (found {len(sources)})", True)
        params = check.mapping(entry.get("params"), path + ("params",), True)
        split = _split(check, entry.get("split"), path + ("split",))
        if len(sources) == 1 and params is not None:
            source = sources[0]
            target = entry[source]
            if not isinstance(target, str):
                check.add(path + (source,), f"must be a string, got {target!r}", True)
            elif source == "generator":
                _check_plugin_params(check, registry, "generator", target, params, path, extra=GENERATOR_COMMON)
                _check_counts(check, params, split, path)
            elif source == "dataset":
                _check_plugin_params(check, registry, "dataset", target, params, path)
            elif source == "path":
                _check_folder_options(check, params, path)
        reference = entry.get("reference", False)
        if not isinstance(reference, bool):
            check.add(path + ("reference",), f"must be true or false, got {reference!r}", True)
        fit = check.mapping(entry.get("fit"), path + ("fit",), True) if "fit" in entry else None
        if ("fit_on" in entry or "fit" in entry) and sources != ["generator"]:
            check.add(path + ("fit_on",), "only a generated dataset (generator:) can be fitted to another dataset", True)
        if len(check.problems) == n_before:
            seen.add(name)
            specs.append(DatasetSpec(
                name, sources[0], entry[sources[0]], dict(params or {}), split, reference,
                entry.get("fit_on"), dict(fit) if fit is not None else ({} if "fit_on" in entry else None),
            ))
    return _check_fit_on(check, specs, registry, raw)


def _check_fit_on(check: _Checker, specs: list[DatasetSpec], registry: Registry, raw: list) -> list[DatasetSpec]:
    """``fit_on`` names another dataset of the suite that has a train split and
    is not itself fitted; the generator must have ``fit``; ``fit`` settings must
    be ones its ``fit`` takes. Entries that fail are dropped."""
    by_name = {s.name: s for s in specs}
    kept = []
    for spec in specs:
        if spec.fit_on is None:
            kept.append(spec)
            continue
        index = next(i for i, e in enumerate(raw) if isinstance(e, dict) and e.get("name") == spec.name)
        path = ("datasets", index)
        target = by_name.get(spec.fit_on) if isinstance(spec.fit_on, str) else None
        cls = registry.get("generator", spec.target).cls
        n_before = len(check.problems)
        if target is None or target is spec:
            others = [n for n in by_name if n != spec.name]
            check.add(
                path + ("fit_on",),
                f"no other dataset named {spec.fit_on!r} in this suite{did_you_mean(str(spec.fit_on), others)}; "
                f"name one of: {', '.join(others) or 'none'}",
                True,
            )
        elif target.split is None or target.split["train"] == 0:
            check.add(
                path + ("fit_on",),
                f"dataset {spec.fit_on!r} has no train split to fit on (its test images must stay unseen); "
                "give it split: {train: N, test: M}",
                True,
            )
        elif target.fit_on is not None:
            check.add(path + ("fit_on",), f"dataset {spec.fit_on!r} is itself fitted; fit on annotated images", True)
        if not callable(getattr(cls, "fit", None)):
            check.add(path + ("fit_on",), f"generator {spec.target!r} cannot learn from images (it has no fit method)", True)
        elif not callable(getattr(cls, "load", None)):
            check.add(path + ("fit_on",), f"generator {spec.target!r} cannot be fitted by a suite: it has fit but no "
                      "load(workdir) to restore what it learnt; add load to the plugin, or remove fit_on:", True)
        else:
            for reserved in RESERVED_TRAIN_SETTINGS:
                if reserved in spec.fit:
                    check.add(path + ("fit", reserved), f"{reserved!r} is passed by segbench itself; remove it", True)
            _unknown_params(check, path + ("fit",), spec.fit, cls.train_params(),
                            f"generator {spec.target!r}", "fit setting")
        if len(check.problems) == n_before:
            kept.append(spec)
    return kept


def _split(check: _Checker, raw: Any, path: tuple) -> dict[str, int] | None:
    if raw is None:
        return None
    if not isinstance(raw, dict):
        check.add(path, "must be a mapping like {train: 16, test: 8}", True)
        return None
    check.unknown_keys(raw, {"train", "test"}, path, True)
    split = {}
    for key in ("train", "test"):
        value = raw.get(key, 0)
        if not isinstance(value, int) or isinstance(value, bool) or value < 0:
            check.add(path + (key,), f"must be a non-negative integer (a count of images), got {value!r}", True)
            return None
        split[key] = value
    if split["test"] == 0:
        check.add(path + ("test",), "must be at least 1: the test images are what gets scored", True)
        return None
    return split


def _check_counts(check: _Checker, params: dict, split: dict | None, path: tuple) -> None:
    """``n_images`` and ``shape``, understood by every generator, within bounds
    (checked before anything is generated)."""
    shape = params.get("shape")
    if shape is not None:
        if not isinstance(shape, list) or len(shape) not in (2, 3) or not all(_is_int(v) and v > 0 for v in shape):
            check.add(path + ("params", "shape"), f"must be [Y, X] or [Z, Y, X] positive integers, got {shape!r}", True)
        elif math.prod(shape) > MAX_VOXELS:
            check.add(
                path + ("params", "shape"),
                f"{shape} is {math.prod(shape):,} pixels per image, more than the {MAX_VOXELS:,} segbench "
                "generates; make the images smaller",
                True,
            )
    n = params.get("n_images")
    if n is None:
        if split is None:
            check.add(path + ("params",), "a generated dataset needs params.n_images or a split", True)
        return
    if not _is_int(n) or not 1 <= n <= MAX_IMAGES:
        check.add(path + ("params", "n_images"), f"must be a whole number from 1 to {MAX_IMAGES}, got {n!r}", True)
    elif split is not None and split["train"] + split["test"] > n:
        check.add(
            path + ("split",),
            f"train + test = {split['train'] + split['test']} exceeds n_images = {n}; lower the split or raise n_images",
            True,
        )


def _check_folder_options(check: _Checker, params: dict, path: tuple) -> None:
    """A folder dataset's params are the keyword options of ``find_pairs``, all true/false."""
    accepted = parameter_names(find_pairs, skip=1)
    _unknown_params(check, path + ("params",), params, accepted, "a dataset folder", "option")
    for key in sorted(set(params) & set(accepted)):
        if not isinstance(params[key], bool):
            check.add(path + ("params", key), f"must be true or false, got {params[key]!r}", True)


def _lookup(check: _Checker, registry: Registry, kind: str, name: str, path: tuple):
    try:
        return registry.get(kind, name).cls
    except PluginError as exc:
        check.add(path, str(exc), True)
        return None


def _check_plugin_params(check, registry, kind, name, params, path, extra=frozenset()) -> None:
    cls = _lookup(check, registry, kind, name, path + (kind,))
    if cls is None:
        return
    accepted = cls.constructor_params() if hasattr(cls, "constructor_params") else None
    allowed = None if accepted is None else set(accepted) | set(extra)
    renamed = _renamed_params(check, cls, params, path + ("params",))
    given = [k for k in params if k not in renamed]
    _unknown_params(check, path + ("params",), given, allowed, f"{kind} {name!r}")


def _renamed_params(check: _Checker, cls: type, params: dict, path: tuple) -> set[str]:
    """Report each name of ``params`` that ``cls.renamed_params`` lists as an
    old name, with the new name and the value to write; return those names."""
    renamed = getattr(cls, "renamed_params", {})
    found = [key for key in params if key in renamed]
    for key in found:
        new = renamed[key]
        check.add(path + (key,), f"renamed to {new}; write {new}: {params[key]!r}", True)
    return set(found)


def _segmenters(
    check: _Checker, raw: Any, registry: Registry, skipped: list[str], datasets: list[DatasetSpec]
) -> list[SegmenterSpec]:
    specs: list[SegmenterSpec] = []
    labels: set[str] = set()
    for path, entry, n_before in _entries(check, raw, "segmenters", "at least a name", SEGMENTER_KEYS):
        name = entry.get("name")
        if not isinstance(name, str) or not name:
            check.add(path + ("name",), "required: the registered name of a segmenter (see `segbench list`)", True)
            continue
        optional = entry.get("optional", False)
        if name not in registry.plugins["segmenter"] and ("segmenter", name) not in registry.conflicts and optional:
            skipped.append(f"segmenter {name!r} (optional) is not installed; skipped")
            continue
        cls = _lookup(check, registry, "segmenter", name, path + ("name",))
        label = entry.get("label", name)
        if not isinstance(label, str) or not label:
            check.add(path + ("label",), "must be a non-empty string", True)
        elif not _check_name(check, path + ("label",), label, "label", True):
            pass
        elif label in labels:
            check.add(path + ("label",), f"{label!r} is used twice; give each entry a unique label", True)
        params = check.mapping(entry.get("params"), path + ("params",), True)
        train_on = _train_on(check, entry.get("train_on"), path + ("train_on",), datasets)
        train = None
        if "train" in entry:
            train = check.mapping(entry["train"], path + ("train",), True)
        elif train_on is not None:
            train = {}  # train_on alone trains with the segmenter's default settings
        timeout = entry.get("timeout")
        if timeout is not None and (
            not isinstance(timeout, (int, float)) or isinstance(timeout, bool) or not 0 < timeout < math.inf
        ):
            check.add(path + ("timeout",), f"must be a positive, finite number of seconds per image, got {timeout!r}", True)
        if cls is not None and params is not None:
            _check_segmenter_params(check, cls, params, train, path)
            _check_sweeps(check, params, path + ("params",))
        if len(check.problems) > n_before or cls is None:
            continue
        labels.add(label)
        configs = _expand(label, name, params or {}, train, set(cls.postprocess_params()), timeout, train_on)
        specs.append(SegmenterSpec(name, label, dict(params or {}), train, timeout, configs, train_on))
    return specs


def _train_on(check: _Checker, value: Any, path: tuple, datasets: list[DatasetSpec]) -> str | None:
    """The dataset named by ``train_on`` (None when absent or invalid, reported)."""
    if value is None:
        return None
    by_name = {d.name: d for d in datasets}
    if not isinstance(value, str) or value not in by_name:
        check.add(
            path,
            f"no dataset named {value!r} in this suite{did_you_mean(str(value), by_name)}; "
            f"name one of: {', '.join(by_name) or 'none'}",
            True,
        )
        return None
    split = by_name[value].split
    if split is None or split["train"] == 0:
        check.add(
            path,
            f"dataset {value!r} has no train split to train on; give it split: {{train: N, test: M}} "
            "or name a dataset that has one",
            True,
        )
        return None
    return value


def _check_segmenter_params(check, cls, params, train, path) -> None:
    ctor = cls.constructor_params()
    allowed = None if ctor is None else set(ctor) | set(cls.postprocess_params())
    refused = {k: v for k, v in cls.refused_params.items() if k in params}
    for key, how in refused.items():
        check.add(
            path + ("params", key),
            f"{key!r} is not accepted from a suite file (a suite must not choose a program to run); {how}",
            True,
        )
    renamed = _renamed_params(check, cls, params, path + ("params",))
    given = [k for k in params if k not in refused and k not in renamed]
    _unknown_params(check, path + ("params",), given, allowed, f"segmenter {cls.name!r}")
    if train is None:
        return
    if not cls.can_fit():
        check.add(path + ("train",), f"segmenter {cls.name!r} cannot be trained (it has no fit method); remove train:", True)
        return
    if not cls.can_load():
        check.add(path + ("train",), f"segmenter {cls.name!r} cannot be trained by a suite: it has fit but no "
                  "load(workdir) to restore the model in each worker; add load to the plugin, or remove train:", True)
        return
    for reserved in RESERVED_TRAIN_SETTINGS:
        if reserved in train:
            check.add(path + ("train", reserved), f"{reserved!r} is passed by segbench itself; remove it", True)
    _unknown_params(check, path + ("train",), train, cls.train_params(), repr(cls.name), "training setting")


def _check_sweeps(check: _Checker, params: dict, path: tuple) -> None:
    """Each sweep (a list) has a value, and together they make at most
    :data:`MAX_VARIANTS` variants; counted before anything is expanded."""
    sizes = {key: len(value) for key, value in params.items() if isinstance(value, list)}
    for key in [k for k, n in sizes.items() if n == 0]:
        check.add(path + (key,), "an empty list is a sweep over no values (the entry would run nothing); "
                  "give at least one value", True)
    total = math.prod(sizes.values())
    if total > MAX_VARIANTS:
        check.add(
            path,
            f"the sweeps make {total:,} variants ({' x '.join(map(str, sizes.values()))}), more than the "
            f"{MAX_VARIANTS:,} segbench runs from one entry; sweep fewer values",
            True,
        )


def split_params(params: dict[str, Any], post_names) -> tuple[dict[str, Any], dict[str, Any]]:
    """``params`` split into constructor and ``postprocess`` parameters: a
    name in ``post_names`` (``postprocess``'s signature) is a post-processing
    parameter, even when the constructor takes it too (docs/plugins.md,
    Parameter routing)."""
    ctor = {k: v for k, v in params.items() if k not in post_names}
    post = {k: v for k, v in params.items() if k in post_names}
    return ctor, post


def _expand(label, name, params, train, post_names, timeout, train_on) -> tuple[SegmenterConfig, ...]:
    """One config per point of the constructor grid; post-processing params
    form each config's ``postprocess_grid``."""
    ctor, post = split_params(params, post_names)
    post_grid = tuple(grid(post))
    return tuple(
        SegmenterConfig(label, name, point, train, post_grid, float(timeout) if timeout else None, train_on)
        for point in grid(ctor)
    )
