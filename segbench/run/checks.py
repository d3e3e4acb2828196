"""Checks of a run's results that no single cell can make.

A trained model that finds nothing (or almost nothing) on a dataset's test
images scores zero without failing, so its rows look like any other: this
module turns it into a warning that names the likely cause and what to try.
"""

from __future__ import annotations

import pandas as pd

from ..results import LIBRARY_LOG, LOGS_DIR, Col
from .training import Training

#: the rule, in one place: a trained model is silent on a dataset when even its
#: best post-processing variant predicts fewer objects than this fraction of
#: the true objects, summed over the dataset's test images
MIN_FOUND_FRACTION = 0.05


def silent_models(results: pd.DataFrame, trainings: dict[tuple[str, str], Training]) -> list[str]:
    """One warning per (test dataset, trained model) that breaks the rule of
    :data:`MIN_FOUND_FRACTION`; ``trainings`` are the plan's, keyed by
    ``(train dataset, config id)``."""
    if results is None or results.empty:
        return []
    trained = results[results[Col.TRAIN_DATASET].astype(str) != ""]
    per_image = trained.drop_duplicates([Col.DATASET, Col.VARIANT, Col.IMAGE])  # counts repeat per threshold
    model = [Col.DATASET, Col.TRAIN_DATASET, Col.CONFIG_ID]
    counts = per_image.groupby([*model, Col.VARIANT])[[Col.N_TRUE, Col.N_PRED, Col.IMAGE]].agg(
        {Col.N_TRUE: "sum", Col.N_PRED: "sum", Col.IMAGE: "count"}
    )
    best = counts.sort_values(Col.N_PRED).groupby(level=model).tail(1)  # the variant finding most
    warnings = []
    for (dataset, train_dataset, config_id, _), row in best.iterrows():
        n_true, n_pred = int(row[Col.N_TRUE]), int(row[Col.N_PRED])
        job = trainings.get((train_dataset, config_id))
        if job is not None and n_true > 0 and n_pred < MIN_FOUND_FRACTION * n_true:
            warnings.append(_silent_warning(dataset, job, n_true, n_pred, int(row[Col.IMAGE])))
    return warnings


def _silent_warning(dataset: str, job: Training, n_true: int, n_pred: int, n_images: int) -> str:
    """The warning's one line: what was seen, the likely cause, what to try."""
    settings = job.settings
    epochs = settings.get("epochs")
    trained = f"{len(job.train_refs)} train images of {job.dataset}"
    if isinstance(epochs, int):
        trained = f"{epochs} epochs on {trained}"
        cause = f"too few epochs for this few images ({epochs} x {len(job.train_refs)} image passes)"
        fix = f"train: {{epochs: {4 * epochs}}} (or more train images)"
    else:
        cause = "too short a training for this few images"
        fix = "a longer training (more epochs) or more train images"
    return (
        f"{dataset}: {job.label}, trained ({trained}), found {n_pred} objects for {n_true} "
        f"true ones on {n_images} test images (under {MIN_FOUND_FRACTION:.0%}): a model that "
        f"learned nothing; the likely cause is {cause}; try {fix}, "
        f"and see {LOGS_DIR}/{LIBRARY_LOG} for the library's own messages"
    )
