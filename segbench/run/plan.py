"""Planning: a suite expanded into cells, with their cache keys.

Every dataset is prepared first (a generator with ``fit_on`` is fitted here,
in this process, through :mod:`segbench.run.training`); then each (dataset,
segmenter config) is asked once whether the segmenter can run it
(:meth:`segbench.Segmenter.skip`), its training is planned (one per train
split and config, shared by every dataset it is tested on), and each test
image becomes a cell whose key hashes everything its numbers depend on: the
image and mask bytes, the segmenter, its version, constructor params, the
training's key, the post-processing grid, thresholds, criterion, seed and
segbench's version. A cell whose key is already stored is marked cached.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.markup import escape

from .. import __version__
from ..errors import SegbenchError, printable
from ..plugins import Registry
from ..suite import SegmenterConfig, Suite, stable_hash
from ..suite.model import AUTO_SAVE_MAX_IMAGES
from .data import PreparedDataset, dataset_folder, prepare_dataset
from .jobs import PredictJob
from .progress import bars
from .store import ResultStore
from .training import Training, generator_seed, plan_training, segmenter_seed, train, trained_record

__all__ = ["Cell", "Failure", "Plan", "plan_suite", "scoring_thresholds"]


@dataclass(frozen=True)
class Failure:
    """One failed cell (``where`` = ``dataset/image``) or training or dataset."""

    where: str
    message: str

    def __str__(self) -> str:
        return f"{self.where}: {self.message}" if self.where else self.message


@dataclass
class Cell:
    """One prediction of the matrix and whether its result is already stored."""

    job: PredictJob
    cached: bool


@dataclass
class Plan:
    """The expanded matrix of a suite."""

    suite: Suite
    cells: list[Cell] = field(default_factory=list)
    #: (train dataset, config id) -> the training its cells use
    trainings: dict[tuple[str, str], Training] = field(default_factory=dict)
    datasets: dict[str, PreparedDataset] = field(default_factory=dict)
    #: datasets not generated yet (dry run): name -> expected test images
    pending_datasets: dict[str, int | None] = field(default_factory=dict)
    failures: list[Failure] = field(default_factory=list)
    #: one line each: things noticed and repaired (damaged cells, changed
    #: datasets), and (config, dataset) pairs a segmenter declared it cannot run
    warnings: list[str] = field(default_factory=list)
    #: the stored cells found sound while planning, (dataset, key) -> their rows: read once per run
    sound: dict[tuple[str, str], Any] = field(default_factory=dict)

    def expected_work(self) -> tuple[int, int, int]:
        """``(predictions, cached, trainings)`` this plan will run, counting the
        datasets of a dry run that are not generated yet."""
        configs = self.suite.configs
        predictions = len(self.cells) + sum((n or 0) * len(configs) for n in self.pending_datasets.values())
        trainings = {k for k, job in self.trainings.items() if trained_record(job) is None}
        for name in self.pending_datasets:
            for config in configs:
                if config.train is not None and config.train_on in (None, name):
                    trainings.add((name, config.config_id))
        return predictions, sum(c.cached for c in self.cells), len(trainings)

    @property
    def keys(self) -> list[tuple[str, str]]:
        return [(c.job.dataset, c.job.key) for c in self.cells]


def scoring_thresholds(suite: Suite) -> tuple[float, ...]:
    """The suite's IoU thresholds plus the DSB ones (0.50:0.05:0.95), sorted."""
    from ..metrics import DSB_THRESHOLDS

    return tuple(sorted({round(float(t), 6) for t in (*suite.metrics.iou_thresholds, *DSB_THRESHOLDS)}))


def plan_suite(
    suite: Suite, registry: Registry, *, generate: bool = True, console: Console | None = None
) -> Plan:
    """Expand the suite into cells, marking the ones already stored.

    Every dataset is prepared first (a segmenter may ``train_on`` another
    dataset than the one it is tested on). With ``generate=False`` (a dry run),
    generated datasets that do not exist yet are listed in
    ``plan.pending_datasets`` instead of being generated.
    """
    console = console or Console(stderr=True, soft_wrap=True, highlight=False)
    plan = Plan(suite)
    with bars(console) as progress:
        # datasets a generator is fitted on come first
        for spec in sorted(suite.datasets, key=lambda d: d.fit_on is not None):
            if not generate and spec.source != "path" and not dataset_folder(spec, suite.output).is_dir():
                plan.pending_datasets[spec.name] = spec.split["test"] if spec.split else spec.n_images
            else:
                _prepare(plan, spec, registry, progress)
    store = ResultStore(suite.output)
    thresholds = scoring_thresholds(suite)
    metric_classes = tuple(info.cls for info in registry.plugins["metric"].values())
    for ds in plan.datasets.values():
        _plan_dataset(plan, registry, ds, store, thresholds, metric_classes)
    for warning in plan.warnings:
        console.print(f"[yellow]warning:[/] {escape(printable(warning))}", highlight=False)
    return plan


def _prepare(plan: Plan, spec, registry: Registry, progress) -> None:
    """Prepare one dataset into ``plan.datasets`` (after fitting its generator
    when it has ``fit_on``); a failure is noted and the rest goes on."""
    suite = plan.suite
    task = progress.add_task(f"data {spec.name}", total=spec.n_images)
    try:
        fitted = _fit_generator(plan, spec, registry, progress) if spec.fit_on else None
        ds = prepare_dataset(
            spec, suite.seed, suite.output, registry,
            progress=lambda done, total: progress.update(task, completed=done, total=total), fitted=fitted,
        )
    except SegbenchError as exc:
        plan.failures.append(Failure("", str(exc)))
        return
    finally:
        written = next(t for t in progress.tasks if t.id == task).completed
        progress.update(task, visible=written > 0)
    plan.datasets[spec.name] = ds
    plan.warnings.extend(f"datasets.{spec.name}: {problem}" for problem in ds.problems)


def _fit_generator(plan: Plan, spec, registry: Registry, progress) -> tuple[Path, dict]:
    """Fit the spec's generator on its ``fit_on`` dataset's train split, once
    (cached like a segmenter's training); returns the workdir and the record."""
    where = f"datasets.{spec.name}.fit_on"
    train_ds = plan.datasets.get(spec.fit_on)
    if train_ds is None:
        raise SegbenchError(f"{where}: dataset {spec.fit_on!r} is not available (see above); skipped")
    info = registry.get("generator", spec.target)
    params = {k: v for k, v in spec.params.items() if k != "n_images"}
    seed = generator_seed(plan.suite.seed, spec.name, spec.target, params, spec.fit)
    training = plan_training("generator", info, spec.name, params, spec.fit, train_ds, plan.suite.output, seed, where)
    what = f"  fit {spec.target} on {spec.fit_on}"
    task = progress.add_task(what, total=None, visible=False)

    def report(epoch, total, loss=None):
        shown = f" loss {loss:.4g}" if loss is not None else ""
        progress.update(task, completed=epoch, total=total, visible=True, description=f"{what} {epoch}/{total}{shown}")

    try:
        _, record = train(training, report)
    except (TypeError, ValueError, SegbenchError) as exc:  # InputError is a SegbenchError
        raise SegbenchError(f"{where}: generator {spec.target!r} could not learn from "
                            f"{train_ds.name!r}: {' '.join(str(exc).split())}") from None
    finally:
        progress.remove_task(task)
    return Path(training.workdir), record


def _plan_dataset(plan: Plan, registry: Registry, ds: PreparedDataset, store, thresholds, metric_classes) -> None:
    """The cells of one test dataset: each config the segmenter can run, with
    its training planned; skipped (config, dataset) pairs become one warning each."""
    suite = plan.suite
    skipped: dict[tuple[str, str], int] = {}
    for config in suite.configs:
        info = registry.get("segmenter", config.name)
        reason = info.cls.skip(ds.ndim, config.params) if ds.ndim else None
        if reason:
            line = f"{config.label}: cannot run {ds.ndim}D dataset {ds.name!r}: {reason}"
            skipped[(line, config.label)] = skipped.get((line, config.label), 0) + len(ds.test)
            continue
        training = _training(plan, config, info, ds) if config.train is not None else None
        if config.train is not None and training is None:
            continue
        provenance = {
            "suite": suite.name,
            "seed": suite.seed,
            "segbench_version": __version__,
            "plugin_distribution": info.distribution,
            "plugin_version": info.version,
        }
        keep = str(suite.output) if _keeps_predictions(suite, ds) else None
        for ref in ds.test:
            key = _cell_key(suite, ds, ref.name, config, info, thresholds, training)
            job = PredictJob(ds.name, ref, key, config, info.cls, training, thresholds, suite.metrics.criterion,
                             ds.spacing, provenance, metric_classes, keep)
            table, damage = store.load(ds.name, key)
            if damage is not None:  # not trusted: computed again, and replaced when it is
                plan.warnings.append(f"{store.cell_path(ds.name, key)}: {damage}; computed again")
            if table is not None:
                plan.sound[(ds.name, key)] = table
            plan.cells.append(Cell(job, table is not None))
    plan.warnings.extend(f"{line}; skipped {n} cells" for (line, _), n in skipped.items())


def _training(plan: Plan, config: SegmenterConfig, info, test_ds: PreparedDataset) -> Training | None:
    """The training whose model ``config`` predicts ``test_ds`` with (shared by
    every dataset it is tested on); None, with a failure noted, when it cannot train."""
    train_name = config.train_on or test_ds.name
    key = (train_name, config.config_id)  # what the model is, not its label: two labels of one config share it
    if key in plan.trainings:
        return plan.trainings[key]
    where = f"segmenters.{config.label}"
    train_ds = plan.datasets.get(train_name)
    if train_ds is None:  # a train_on dataset that could not be prepared (reported above)
        plan.failures.append(Failure(
            f"{where}.train_on", f"dataset {train_name!r} is not available (see above); {config.label} skipped",
        ))
        return None
    try:
        seed = segmenter_seed(plan.suite.seed, train_ds.name, info.name, config.params, config.train)
        plan.trainings[key] = plan_training("segmenter", info, config.label, config.params, config.train, train_ds,
                                            plan.suite.output, seed, f"{where}.train")
    except SegbenchError as exc:
        plan.failures.append(Failure("", f"{exc} ({config.label} skipped on {test_ds.name})"))
        return None
    return plan.trainings[key]


def _keeps_predictions(suite: Suite, ds: PreparedDataset) -> bool:
    if suite.save_predictions == "auto":
        return len(ds.test) <= AUTO_SAVE_MAX_IMAGES
    return bool(suite.save_predictions)


def _cell_key(suite: Suite, ds: PreparedDataset, sample: str, config: SegmenterConfig, info, thresholds,
              training: Training | None) -> str:
    return stable_hash(
        {
            "image": ds.hashes[sample],
            "name": sample,  # two images with the same bytes are two cells, each with its own rows
            "segmenter": config.name,
            "label": config.label,  # rows carry it: two entries sharing a model keep their own cells
            "plugin": [info.distribution, info.version],
            "params": config.params,
            "postprocess": list(config.postprocess_grid),
            "model": training.key if training else None,  # train settings, train split, seed
            "thresholds": list(thresholds),
            "criterion": suite.metrics.criterion,
            "seed": suite.seed,
            "segbench": __version__,
        }
    )[:24]
