"""Calibrating the ``procedural`` generator to annotated images by simulation.

The direct estimates of :mod:`.estimate` are biased (pixelation, PSF, noise,
objects cut by the border or pressed together). Calibration removes the bias
the way indirect inference does: it generates images with the current
parameters, estimates them back with the same estimators, and moves each
parameter by the difference between the estimate on the real images and the
estimate on the generated ones, with a secant step (the slope measured over the
previous round when it lies in [0.5, 2], else the prior slope 1), in log space
for scale parameters. The result is the mean of the parameters after each of
the last half of the ``rounds`` rounds (which damps the simulation noise of
single rounds); the estimators then read the generated images as they read the
real ones. The between-image spreads (:data:`DIRECT_KEYS`) are kept as
estimated and held fixed in every simulation.

The generator's placement is chosen once, before the first round: clustered
centres when the real objects' nearest neighbours are closer than random
placement gives (``nn_ratio``, the mean nearest-centroid distance times the
square root of the density, more than 10 % below), with the number of
clusters and their spread that bring it closest, from a small grid.
"""

from __future__ import annotations

import math
from typing import Callable, Sequence

import numpy as np

from ...api import Sample
from .estimate import estimate, initial

#: estimates calibrated in log space (scale parameters), with their bounds
LOG_KEYS = {
    "radius": (2.0, 1e4), "radius_std": (0.05, 1e4), "density_q25": (1e-7, 1.0),
    "density_q75": (1e-7, 1.0), "gain": (1e-3, 1e6),
    "background_variation": (1e-3, 10.0), "illumination_falloff": (1e-3, 0.95),
    "intensity": (1e-3, 1e7), "intensity_cv": (1e-3, 10.0), "texture_strength": (1e-3, 10.0),
    "psf_sigma": (0.05, 50.0),
}
#: estimates calibrated on a linear scale, with their bounds
LINEAR_KEYS = {
    "aspect_q25": (1.0, 5.0), "aspect_q75": (1.0, 5.0), "irregularity": (0.0, 0.5),
    "touching_fraction": (0.0, 1.0), "touching_overlap": (0.0, 0.9), "min_gap": (0.0, 20.0),
    "offset": (0.0, 65535.0), "noise_intercept": (-1e9, 1e9), "edge_darkening": (0.0, 0.9),
    "background": (0.0, 1e7), "touching_variation": (0.0, 0.5), "texture_variation": (0.0, 2.0),
    "psf_scale_exponent": (0.0, 2.0),
}
#: estimates taken as they are, not calibrated: the between-image spreads. Their
#: estimators cannot see what the border censors (at a large scale an image's
#: objects all touch the border and drop out), so a secant step on them runs away
#: (on 24 real images: scale_variation 0.55 estimated, 0.95 "calibrated", and the
#: radius doubled with it)
DIRECT_KEYS = ("scale_variation", "scale_density_exponent", "exposure_variation")
#: spreads of centres tried for clustered placement, as a fraction of the image's larger side
_SPREADS = (0.06, 0.12, 0.25)
_CLUSTERS = (1, 2, 4, 8)
#: measured secant slopes outside this range are distrusted (the prior slope 1 is used)
_SLOPES = (0.5, 2.0)

#: ``simulate(fitted, layout_only) -> samples``
Simulate = Callable[[dict, bool], Sequence[Sample]]


def _to_x(key: str, value: float) -> float:
    return math.log(max(value, LOG_KEYS[key][0])) if key in LOG_KEYS else value


def _from_x(key: str, x: float) -> float:
    if key in LOG_KEYS:
        low, high = LOG_KEYS[key]
        return min(max(math.exp(min(x, 700.0)), low), high)
    low, high = LINEAR_KEYS[key]
    return min(max(x, low), high)


def calibrate(target: dict[str, float], simulate: Simulate, rounds: int = 6,
              progress: Callable[[int, int, float | None], None] | None = None) -> tuple[dict, dict]:
    """Parameters whose simulated estimates match ``target``.

    Parameters
    ----------
    target : dict
        :func:`.estimate.estimate` of the real images.
    simulate : callable
        ``simulate(fitted, layout_only) -> samples``: images generated with the
        parameters ``fitted`` (the keys of ``target`` plus ``placement``,
        ``n_clusters`` and ``cluster_spread_fraction``), the same random seeds
        every call; with ``layout_only``, the label images suffice.
    rounds : int
        Calibration rounds (each one simulation), >= 1.
    progress : callable, optional
        ``progress(round, rounds, error)`` after each round; ``error`` is the
        mean relative mismatch of the scale estimates before that round's update.

    Returns
    -------
    fitted : dict
        Calibrated values of every key of ``target`` (``nn_ratio`` left out),
        the :data:`DIRECT_KEYS` as estimated, and the placement.
    mismatch : dict
        Per key, the simulated estimate of the last round minus the target
        (log ratio for scale keys).
    """
    keys = [k for k in target if k in LOG_KEYS or k in LINEAR_KEYS]
    direct = {k: target[k] for k in DIRECT_KEYS if k in target}
    guess = initial(target)
    x = {k: _to_x(k, guess[k]) for k in keys}
    goal = {k: _to_x(k, target[k]) for k in keys}
    history: dict[str, tuple[float, float]] = {}
    fixed = {**direct, **_choose_placement(target, {**direct, **_params(x)}, simulate)}
    mismatch: dict[str, float] = {}
    late: list[dict[str, float]] = []
    for r in range(rounds):
        simulated = estimate(simulate({**_params(x), **fixed}, False))
        got = {k: _to_x(k, simulated[k]) for k in keys}
        mismatch = {k: got[k] - goal[k] for k in keys}
        if progress is not None:
            progress(r + 1, rounds, float(np.mean([abs(mismatch[k]) for k in keys if k in LOG_KEYS])))
        # The background estimate includes offset / gain (see estimate.initial): its
        # secant works on the rest, and its step makes up for the offset's and gain's steps.
        share = _offset_share(x)
        got["background"] -= share
        for k in keys:
            x[k] = _to_x(k, _from_x(k, x[k] - mismatch[k] / _slope(history, k, x[k], got[k])))
        x["background"] = _to_x("background", _from_x("background", x["background"] - _offset_share(x) + share))
        if 2 * (r + 1) > rounds:
            late.append(dict(x))
    average = {k: float(np.mean([step[k] for step in late])) for k in keys}
    return {**_params(average), **fixed}, mismatch


def _slope(history: dict[str, tuple[float, float]], key: str, x: float, got: float) -> float:
    """The secant slope of ``key``'s estimate against its parameter since the last
    round (1 in the first round, or when outside :data:`_SLOPES`); records this round."""
    slope = 1.0
    if key in history:
        px, py = history[key]
        if abs(x - px) > 1e-9:
            measured = (got - py) / (x - px)
            slope = measured if _SLOPES[0] <= measured <= _SLOPES[1] else 1.0
    history[key] = (x, got)
    return slope


def _offset_share(x: dict[str, float]) -> float:
    """The camera offset over the gain: the part of the background estimate the
    offset makes, photo-electrons."""
    return _from_x("offset", x["offset"]) / _from_x("gain", x["gain"])


def _params(x: dict[str, float]) -> dict[str, float]:
    """Calibrated values from their transformed ones, with the read noise that
    the noise intercept, gain and offset imply."""
    fitted = {k: _from_x(k, v) for k, v in x.items()}
    gain = fitted["gain"]
    read_noise = math.sqrt(max(fitted["noise_intercept"] + gain * fitted["offset"], 0.0)) / gain
    return {**fitted, "read_noise": read_noise}


def _choose_placement(target: dict, fitted: dict, simulate: Simulate) -> dict:
    random = {"placement": "random", "n_clusters": 1, "cluster_spread_fraction": _SPREADS[0]}
    baseline = _nn_ratio(simulate({**fitted, **random}, True))
    if target["nn_ratio"] >= 0.9 * baseline:
        return random
    best, best_error = random, abs(baseline - target["nn_ratio"])
    for n in _CLUSTERS:
        for spread in _SPREADS:
            option = {"placement": "clustered", "n_clusters": n, "cluster_spread_fraction": spread}
            error = abs(_nn_ratio(simulate({**fitted, **option}, True)) - target["nn_ratio"])
            if error < best_error:
                best, best_error = option, error
    return best


def _nn_ratio(samples: Sequence[Sample]) -> float:
    from scipy.spatial import cKDTree
    from skimage.measure import regionprops

    ratios = []
    for s in samples:
        centroids = np.array([p.centroid for p in regionprops(np.asarray(s.labels))])
        if len(centroids) > 1:
            nn = cKDTree(centroids).query(centroids, k=2)[0][:, 1]
            ratios.extend(nn * math.sqrt(len(centroids) / s.labels.size))
    return float(np.mean(ratios)) if ratios else 0.5
