"""What the metrics accept (:data:`CRITERIA`, :data:`DEFAULT_THRESHOLDS`), and
the checks run at the door of every public metrics function.

Each failure raises :class:`MetricInputError` with one line that names the
argument, says what is wrong with it and how to fix it.
"""

from __future__ import annotations

import math
from numbers import Real
from typing import Iterable

import numpy as np

from ..errors import SegbenchError

#: Overlap criteria understood by the matching functions: intersection over
#: union, over the true object, over the predicted object.
CRITERIA = ("iou", "iot", "iop")
#: Thresholds scored when none are given (a suite's ``metrics: iou_thresholds``,
#: ``segbench evaluate --iou``): a detection, a good outline, a tight outline.
DEFAULT_THRESHOLDS = (0.5, 0.75, 0.9)


class MetricInputError(SegbenchError, ValueError):
    """A bad argument to a metrics function; ``str(err)`` is one line."""


def check_label_image(image, name: str) -> np.ndarray:
    """Return ``image`` as an ndarray after checking that it is a label image.

    Parameters
    ----------
    image : array_like
        Integer array of any shape with at least one axis, 0 = background.
    name : str
        The argument's name, used in the error message.

    Raises
    ------
    MetricInputError
        When ``image`` is boolean, not of an integer dtype, or a scalar.

    Notes
    -----
    Negative values are checked by :func:`check_non_negative`, which
    :func:`~segbench.metrics.overlap_table` runs on the distinct runs of
    values it extracts anyway, saving a pass over the pixels.
    """
    array = np.asarray(image)
    if array.dtype == np.bool_:
        raise MetricInputError(
            f"{name}: is a boolean mask, not a label image; give each object its own "
            f"integer id (0 = background), e.g. skimage.measure.label({name})"
        )
    if not np.issubdtype(array.dtype, np.integer):
        raise MetricInputError(
            f"{name}: dtype {array.dtype} is not an integer dtype; pass an integer label "
            f"image (0 = background), e.g. {name}.astype(np.int32) if its values are whole"
        )
    if array.ndim == 0:
        raise MetricInputError(
            f"{name}: is a scalar, not a label image; pass a (Y, X) or (Z, Y, X) array"
        )
    return array


def check_non_negative(values: np.ndarray, name: str) -> None:
    """Raise :class:`MetricInputError` if the integer array ``values`` has a value < 0.

    Parameters
    ----------
    values : ndarray of int
        The label image ``name``, or any array holding each of its values.
    name : str
        The argument's name, used in the error message.
    """
    if values.size and np.issubdtype(values.dtype, np.signedinteger):
        low = int(values.min())
        if low < 0:
            raise MetricInputError(
                f"{name}: has negative values (minimum {low}); label images use 0 for "
                f"background and positive ids for objects"
            )


def check_label_pair(gt, pred) -> tuple[np.ndarray, np.ndarray]:
    """Check a ground-truth and a predicted label image of one shape.

    Parameters
    ----------
    gt, pred : array_like
        Integer label images, 0 = background, of one shape.

    Returns
    -------
    gt, pred : ndarray
        The inputs as arrays (no copy when they already are); their values
        are not checked here (see :func:`check_non_negative`).
    """
    gt = check_label_image(gt, "gt")
    pred = check_label_image(pred, "pred")
    if gt.shape != pred.shape:
        raise MetricInputError(
            f"pred: shape {pred.shape} differs from gt's shape {gt.shape}; pass a "
            f"prediction of the same shape as its ground truth"
        )
    return gt, pred


def check_criterion(criterion) -> str:
    """Return ``criterion`` if it is one of :data:`CRITERIA`."""
    if criterion not in CRITERIA:
        raise MetricInputError(
            f"criterion: {criterion!r} is not a known criterion; use one of "
            f"{', '.join(repr(c) for c in CRITERIA)}"
        )
    return criterion


def check_thresholds(thresholds) -> tuple[float, ...]:
    """Return ``thresholds`` as a tuple of floats in ``(0, 1]``, order kept.

    Parameters
    ----------
    thresholds : float or iterable of float
        One threshold or several, each with ``0 < t <= 1``, no repeats.

    Notes
    -----
    ``t = 0`` is refused: under the dense definition every pair, even one
    without any overlap, would count as a match.
    """
    values: Iterable = (
        (thresholds,) if isinstance(thresholds, (Real, np.number)) else thresholds
    )
    try:
        values = tuple(values)
    except TypeError:
        raise MetricInputError(
            f"thresholds: {thresholds!r} is neither a number nor a sequence of numbers; "
            f"pass e.g. (0.5, 0.75)"
        ) from None
    if not values:
        raise MetricInputError("thresholds: is empty; pass at least one, e.g. (0.5,)")
    checked: list[float] = []
    for value in values:
        if isinstance(value, (bool, np.bool_)) or not isinstance(value, (Real, np.number)):
            raise MetricInputError(
                f"thresholds: {value!r} is not a number; pass numbers in (0, 1]"
            )
        value = float(value)
        if not (math.isfinite(value) and 0 < value <= 1):
            raise MetricInputError(
                f"thresholds: {value!r} is outside (0, 1]; a match needs a score >= t, "
                f"so pass 0 < t <= 1"
            )
        if value in checked:
            raise MetricInputError(
                f"thresholds: {value!r} is given twice; pass each threshold once"
            )
        checked.append(value)
    return tuple(checked)
