"""What a prediction got right and wrong, drawn on the image.

:func:`classify` matches a prediction to its ground truth at one IoU threshold
(the optimal one-to-one assignment of :mod:`segbench.metrics`) and names each
object: true positive, false positive, miss (false negative), and the splits
and merges among the errors. :func:`overlay_figure` draws it.

Splits and merges are those of :mod:`segbench.metrics.errors`: a
ground-truth object is **split** when two or more predicted objects each lie
mostly (more than half of their pixels) inside it; a predicted object is a
**merge** when it covers most (more than half) of two or more ground-truth
objects.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..metrics import overlap_table
from ..metrics.assignment import optimal_matches
from ..metrics.errors import coverage

__all__ = ["Classified", "classify", "display_plane", "overlay_figure", "COLOURS"]

#: RGB in [0, 1]: matched prediction, false positive, missed object, ground-truth contour,
#: the dark halo just outside it (so it shows on bright nuclei too), split/merge marks
COLOURS = {
    "tp": (0.20, 0.80, 0.25),
    "fp": (0.95, 0.20, 0.20),
    "fn": (0.25, 0.55, 1.00),
    "gt": (1.00, 1.00, 1.00),
    "halo": (0.00, 0.00, 0.00),
    "mark": (1.00, 0.85, 0.10),
}
#: font sizes (points) of the overlay's title and its TP/FP/FN caption
TITLE_SIZE, CAPTION_SIZE = 8, 8


@dataclass
class Classified:
    """Object ids of one (ground truth, prediction) pair, by outcome.

    Attributes
    ----------
    tp_pred, fp_pred : ndarray of int
        Predicted ids matched / not matched at the threshold.
    tp_true, fn_true : ndarray of int
        Ground-truth ids matched / missed.
    split_true : ndarray of int
        Ground-truth ids split into two or more predictions.
    merge_pred : ndarray of int
        Predicted ids that merge two or more ground-truth objects.
    """

    tp_pred: np.ndarray
    fp_pred: np.ndarray
    tp_true: np.ndarray
    fn_true: np.ndarray
    split_true: np.ndarray
    merge_pred: np.ndarray


def classify(gt: np.ndarray, pred: np.ndarray, threshold: float = 0.5) -> Classified:
    """Classify the objects of ``pred`` against ``gt`` at an IoU ``threshold``.

    Parameters
    ----------
    gt, pred : ndarray of int, same shape
        Label images, 0 = background.
    threshold : float
        A pair is a true positive when the assignment pairs it and its IoU is
        at least this.

    Examples
    --------
    >>> gt = np.zeros((6, 12), int); gt[1:5, 1:9] = 1
    >>> pred = np.zeros_like(gt); pred[1:5, 1:5] = 1; pred[1:5, 5:9] = 2
    >>> c = classify(gt, pred)
    >>> c.fn_true.tolist(), c.split_true.tolist(), c.fp_pred.tolist()
    ([1], [1], [1, 2])
    """
    table = overlap_table(gt, pred)
    scores = table.scores("iou")
    matched = optimal_matches(table.pair_true, table.pair_pred, scores, table.n_true, table.n_pred, threshold)
    true_hit = np.zeros(table.n_true, bool)
    pred_hit = np.zeros(table.n_pred, bool)
    true_hit[table.pair_true[matched]] = True
    pred_hit[table.pair_pred[matched]] = True
    cover = coverage(table)
    return Classified(
        tp_pred=table.pred_ids[pred_hit],
        fp_pred=table.pred_ids[~pred_hit],
        tp_true=table.true_ids[true_hit],
        fn_true=table.true_ids[~true_hit],
        split_true=table.true_ids[cover.split],
        merge_pred=table.pred_ids[cover.merge],
    )


def display_plane(*arrays: np.ndarray) -> tuple[list[np.ndarray], int | None]:
    """The 2-D planes to draw: the arrays themselves when 2-D, else the z slice
    where the first array (the ground truth) has the most foreground.

    Returns the planes and the slice index (None for 2-D input)."""
    if arrays[0].ndim == 2:
        return list(arrays), None
    z = int(np.argmax((arrays[0] > 0).reshape(arrays[0].shape[0], -1).sum(1)))
    return [a[z] for a in arrays], z


def _grey(image: np.ndarray) -> np.ndarray:
    """The image as float in [0, 1] (1st-99.8th percentile stretch); colour
    images are averaged over their last axis."""
    image = np.asarray(image, float)
    if image.ndim == 3:
        image = image.mean(-1)
    lo, hi = np.percentile(image, (1, 99.8)) if image.size else (0, 1)
    return np.clip((image - lo) / (hi - lo + 1e-20), 0, 1)


def overlay_figure(image, gt, pred=None, threshold: float = 0.5, title: str = "", size: float = 3.2):
    """A matplotlib figure of ``image`` with the ground-truth contours (white,
    with a dark halo just outside so they show on bright nuclei) and, when ``pred`` is given, the predicted contours coloured by outcome:
    matched green, false positive red, missed ground truth filled blue;
    splits and merges marked with an ``S`` / ``M``.

    Parameters
    ----------
    image : ndarray, (Y, X) or (Y, X, C)
        The image as read (any dtype); the 2-D plane to draw.
    gt, pred : ndarray of int, (Y, X)
        Label images of the same plane; ``pred`` None draws the ground truth only.
    threshold : float
        IoU at which a pair counts as matched.
    title : str
        Drawn above the image.
    size : float
        Figure width and height, inches.

    Returns
    -------
    (figure, counts) : (matplotlib.figure.Figure, str)
        The figure and its caption line (``TP 6  FP 2  FN 2  splits 1  merges 1``).
    """
    import matplotlib.pyplot as plt
    from skimage.segmentation import find_boundaries

    grey = _grey(image)
    rgb = np.repeat(grey[..., None], 3, axis=-1)

    def paint(mask: np.ndarray, colour, alpha: float = 1.0) -> None:
        rgb[mask] = (1 - alpha) * rgb[mask] + alpha * np.asarray(colour)

    marks = []
    paint(find_boundaries(gt, mode="outer") & (gt == 0), COLOURS["halo"], 0.7)
    if pred is not None:
        c = classify(gt, pred, threshold)
        paint(np.isin(gt, c.fn_true), COLOURS["fn"], 0.45)
        paint(find_boundaries(gt, mode="inner"), COLOURS["gt"], 0.6)
        paint(find_boundaries(np.where(np.isin(pred, c.tp_pred), pred, 0), mode="inner"), COLOURS["tp"])
        paint(find_boundaries(np.where(np.isin(pred, c.fp_pred), pred, 0), mode="inner"), COLOURS["fp"])
        marks = [("S", _centre(gt, i)) for i in c.split_true] + [("M", _centre(pred, i)) for i in c.merge_pred]
        counts = f"TP {len(c.tp_pred)}  FP {len(c.fp_pred)}  FN {len(c.fn_true)}"
        counts += f"  splits {len(c.split_true)}  merges {len(c.merge_pred)}"
    else:
        paint(find_boundaries(gt, mode="inner"), COLOURS["gt"], 0.9)
        counts = f"{len(np.unique(gt[gt > 0]))} objects (ground truth)"
    fig, ax = plt.subplots(figsize=(size, size + 0.35))
    ax.imshow(rgb, interpolation="nearest")
    for letter, (y, x) in marks:
        ax.text(x, y, letter, color=COLOURS["mark"], fontsize=8, fontweight="bold", ha="center", va="center")
    ax.set_axis_off()
    ax.set_title(title, fontsize=TITLE_SIZE)
    fig.text(0.5, 0.02, counts, ha="center", fontsize=CAPTION_SIZE)
    fig.subplots_adjust(left=0.01, right=0.99, top=0.93, bottom=0.06)
    return fig, counts


def _centre(labels: np.ndarray, label: int) -> tuple[float, float]:
    """The object's pixel nearest its centroid (on the object even when it is
    not convex, e.g. a prediction merging two nuclei)."""
    ys, xs = np.nonzero(labels == label)
    nearest = np.argmin((ys - ys.mean()) ** 2 + (xs - xs.mean()) ** 2)
    return float(ys[nearest]), float(xs[nearest])
