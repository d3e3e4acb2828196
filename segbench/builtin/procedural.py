"""The ``procedural`` generator: fluorescent nuclei with exact label masks.

In the spirit of SIMCEP and CytoPacq, an image is built in the order light
takes through a widefield microscope:

1. **Layout** (:mod:`.synth.layout`): star-convex nuclei (spline-perturbed
   ellipses, or ellipsoids in 3D) with log-normally distributed sizes, placed at
   random or in clusters, a requested fraction of them touching another
   (the same in every image, or drawn per image); an image's sizes may share
   a per-image scale (magnification), and its blur may follow it. This
   is the label image, and it is final: each pixel's label is the object whose
   region contains the pixel's centre *before* any blur. A touching pair shares
   one boundary; the pixels the two would share belong to the earlier one.
2. **Signal**: every object gets a log-normal brightness, a radial profile
   (dimmer towards its edge), and a multiplicative fractal-noise texture;
   optional fluorescent spots (Gaussian point clouds) are added inside objects.
   The signal is positive on exactly the labelled pixels; an image's signal
   and background may share a per-image exposure.
3. **Optics**: a smooth background, uneven illumination, and a Gaussian PSF
   (anisotropic in 3D).
4. **Camera**: Poisson shot noise, Gaussian read noise, gain and offset,
   quantised to uint16.

Every random choice of image ``i`` comes from ``numpy.random.SeedSequence((seed,
i))``, split into independent streams for layout, appearance, spots, noise
and the per-image scale and exposure, so image ``i`` is the same whatever
``n`` is, and changing, say, the noise parameters leaves the label images
unchanged.

:meth:`Procedural.fit` estimates the parameters from a lab's annotated 2D
images (:mod:`.synth.estimate`) and calibrates them by simulation
(:mod:`.synth.calibrate`); :meth:`Procedural.load` reads them back.
"""

from __future__ import annotations

import functools
import inspect
import json
import logging
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator, Sequence

import numpy as np

from .. import kit
from ..api import Dataset, Generator, Sample
from ..errors import SegbenchError
from .synth.calibrate import calibrate
from .synth.estimate import EstimateError, estimate
from .synth.fields import fractal_noise, illumination, value_noise
from .synth.layout import Placement, PlacedObject, place_objects
from .synth.optics import blur, expose
from .synth.shapes import N_ANGLES, random_shape
from .synth.spots import draw_spots, render_spots

#: smallest radius an object is drawn with, pixels
_MIN_RADIUS = 2.0
#: most pixels (voxels) of one image, as for a suite's generated datasets
_MAX_PIXELS = 2**27
#: most photo-electrons per pixel a brightness, background or read noise may be:
#: far beyond a camera pixel's full well (about 1e5), saturating the 16-bit image at
#: any gain allowed, and far below what float32 pixels and the Poisson noise hold
_MAX_ELECTRONS = 1e9
#: camera gain range, ADU per photo-electron (below, even ``_MAX_ELECTRONS`` cannot
#: fill the 16-bit range; the fit's calibration keeps its gain in [1e-3, 1e6])
_GAIN = (1e-4, 1e6)
#: most spline control points: a 2D outline is drawn at N_ANGLES angles
_MAX_CONTROL_POINTS = N_ANGLES
#: most clusters (beyond a few thousand, clustered placement is random placement)
_MAX_CLUSTERS = 65536
#: z_step / pixel_size range (3D)
_ANISOTROPY = (0.01, 100.0)
#: pixel_size and z_step range, micrometres (what TIFF resolution tags record)
_MICROMETRES = (1e-4, 1e4)
#: most relative spread of brightness, texture and background (the fit calibrates within it)
_MAX_SPREAD = 10.0
#: a dataset whose images hold fewer than this share of the objects asked for is warned about
_SHORTFALL = 0.9
#: what :meth:`Procedural.fit` leaves in its workdir
FIT_FILE = "procedural-fit.json"
#: the parameters :meth:`Procedural.fit` estimates (besides ``n_objects``, from the density)
FITTED = (
    "radius", "radius_std", "aspect_ratio", "irregularity", "placement", "n_clusters",
    "cluster_spread", "touching_fraction", "touching_overlap", "min_gap", "intensity",
    "intensity_cv", "edge_darkening", "texture_strength", "background", "background_variation",
    "illumination_falloff", "psf_sigma", "gain", "read_noise", "offset",
    "scale_variation", "scale_density_exponent", "exposure_variation", "touching_variation",
    "psf_scale_exponent", "texture_variation",
)


def _remember_given(init):
    """Record the arguments a constructor was called with in ``self._given`` (they
    win over fitted values in :meth:`Procedural.load`) and, defaults included,
    in ``self._params``."""
    signature = inspect.signature(init)

    @functools.wraps(init)
    def wrapper(self, *args, **kwargs):
        bound = signature.bind(self, *args, **kwargs)
        init(self, *args, **kwargs)
        self._given = {k: v for k, v in bound.arguments.items() if k != "self"}
        bound.apply_defaults()
        self._params = {k: v for k, v in bound.arguments.items() if k != "self"}

    return wrapper


@dataclass(frozen=True)
class Rendering:
    """One generated image with the intermediate stages behind it.

    Attributes
    ----------
    sample : Sample
        What :meth:`Procedural.generate` yields: uint16 image, label image
        (uint16, or uint32 beyond 65535 objects), spacing in micrometres.
    signal : ndarray of float32
        Expected photo-electrons per pixel from the objects and spots, before
        background, illumination and blur; ``signal > 0`` exactly where
        ``sample.labels > 0``.
    expected : ndarray of float32
        Expected photo-electrons per pixel reaching the camera (after
        background, illumination and PSF), before noise.
    spots : ndarray of float, shape (k, ndim)
        Spot centres, pixel coordinates.
    spot_labels : ndarray of int, shape (k,)
        The label (in ``sample.labels``) of the object each spot lies in.
    n_requested : int
        Objects this image asked for (its draw from ``n_objects``, after its
        scale factor); ``sample.labels`` holds fewer when the image was too full.
    """

    sample: Sample
    signal: np.ndarray
    expected: np.ndarray
    spots: np.ndarray
    spot_labels: np.ndarray
    n_requested: int = 0


def _room(radius: float, shape: tuple[int, ...]) -> int:
    """The most objects of ``radius`` an image of ``shape`` is asked to hold:
    their total area (volume) at most eight times the image's."""
    unit = math.pi * radius**2 if len(shape) == 2 else 4 / 3 * math.pi * radius**3
    return int(8 * math.prod(shape) / unit)


def _check_room(n_objects: int, radius: float, shape: tuple[int, ...]) -> None:
    """Refuse more objects than could ever be placed (placement would search
    for room that does not exist): their total area (volume) may be at most
    eight times the image's."""
    room = _room(radius, shape)
    if n_objects > room:
        raise kit.ParameterError(
            f"n_objects: {n_objects} objects of radius {radius:g} px cannot fit in a {list(shape)} image "
            f"(at most about {room}); lower n_objects or radius, or enlarge shape"
        )


def _length(name: str, value: float, side: int, where: str, fix: str) -> float:
    """A length at most the image's larger lateral side ``side`` (or the
    parameter's default, which every image accepts)."""
    bound = max(side, _default(name))
    return kit.at_most(name, value, bound, f"px is wider than the {where}", fix)


def _default(name: str):
    """The default of the constructor parameter ``name``."""
    return inspect.signature(Procedural.__init__).parameters[name].default


def _electrons(name: str, value: float, unit: str = "e-/px") -> float:
    """Photo-electrons per pixel, at most :data:`_MAX_ELECTRONS`."""
    return kit.at_most(name, value, _MAX_ELECTRONS,
                          f"{unit} is far more than a camera pixel counts (a full well holds about 1e5 e-)", f"lower {name}")


def _spread(name: str, value: float, what: str) -> float:
    """A relative spread, at most :data:`_MAX_SPREAD`."""
    return kit.at_most(name, value, _MAX_SPREAD, f"is a {what} spread the 16-bit image cannot show",
                          f"lower {name}")


def _micrometres(name: str, value) -> float:
    """A pixel size or z step, micrometres, in :data:`_MICROMETRES`."""
    value = kit.number(name, value, low=0, low_open=True)
    low, high = _MICROMETRES
    kit.at_least(name, value, low, "µm is smaller than TIFF resolution tags record", f"give {name} in micrometres")
    return kit.at_most(name, value, high, "µm is larger than TIFF resolution tags record",
                          f"give {name} in micrometres")


class Procedural(Generator):
    """Fluorescent nuclei (2D or 3D) with exact label masks, SIMCEP-style.

    Lengths are in lateral pixels unless said otherwise; intensities in
    expected photo-electrons per pixel. A parameter given as ``[low, high]``
    is drawn uniformly per image (counts) or per object (aspect ratio).

    Parameters
    ----------
    shape : list of int, default [256, 256]
        Image shape, ``[Y, X]`` or ``[Z, Y, X]``, pixels.
    pixel_size : float, default 0.5
        Lateral pixel size, micrometres (reported in ``Sample.spacing``).
    z_step : float, default 2.0
        Distance between z slices, micrometres (3D only). Objects keep their
        physical shape: their z extent in slices is scaled by
        ``pixel_size / z_step``.
    n_objects : int or [int, int], default 30
        Objects per image (fewer when the image is too full to place them all).
    radius : float, default 10.0
        Mean equivalent radius of an object, pixels (its area, or volume, before
        the perturbation equals that of a disk, or ball, of this radius).
    radius_std : float, default 1.5
        Standard deviation of the radius, pixels (log-normal; radii below 2 px
        are raised to 2 px).
    aspect_ratio : float or [float, float], default [1.0, 1.5]
        Major over minor axis of the underlying ellipse, >= 1, per object.
    irregularity : float, default 0.06
        Standard deviation of the relative radial perturbation (0 = ellipses).
    n_control_points : int, default 8
        Control points of the periodic spline perturbing the outline (in 3D:
        control directions spread over the sphere).
    placement : str, default "random"
        ``"random"``: uniform centres; ``"clustered"``: centres normally
        distributed around ``n_clusters`` uniform cluster centres.
    n_clusters : int, default 3
        Number of clusters (``placement="clustered"``).
    cluster_spread : float, default 30.0
        Standard deviation of object centres around their cluster centre,
        pixels (``placement="clustered"``).
    touching_fraction : float, default 0.1
        Fraction of objects that touch at least one other, in [0, 1].
    touching_overlap : float, default 0.15
        How far touching objects press into each other, fraction of the smaller
        boundary distance along the line joining them (at least 1 px), in
        [0, 0.9]. Larger values give longer shared boundaries.
    min_gap : float, default 2.0
        Smallest distance between objects that do not touch, pixels, >= 0; at
        least one background pixel (voxel) always separates them.
    intensity : float, default 300.0
        Mean object brightness at its centre, photo-electrons per pixel.
    intensity_cv : float, default 0.25
        Coefficient of variation of object brightness (log-normal).
    edge_darkening : float, default 0.3
        Relative brightness loss from an object's centre to its edge
        (quadratic profile), in [0, 0.9].
    texture_strength : float, default 0.15
        Standard deviation of the log-brightness texture inside objects
        (multiplicative fractal noise; 0 = flat).
    texture_scale : float, default 8.0
        Correlation length of the texture's coarsest octave, pixels, >= 1.
    texture_octaves : int, default 3
        Octaves of the fractal texture, each at half the scale and amplitude.
    background : float, default 20.0
        Mean background, photo-electrons per pixel.
    background_variation : float, default 0.2
        Relative standard deviation of the smooth background (correlation
        length: half the image width), >= 0.
    illumination_falloff : float, default 0.0
        Uneven illumination: relative intensity loss at the pixel farthest from
        a random bright spot in the middle of the field, in [0, 0.95].
    psf_sigma : float, default 1.0
        Lateral standard deviation of the Gaussian PSF, pixels.
    psf_sigma_z : float, default 1.0
        Axial standard deviation of the Gaussian PSF, z slices (3D only).
    gain : float, default 1.0
        Camera gain, digital numbers (ADU) per photo-electron, > 0.
    read_noise : float, default 2.0
        Standard deviation of the camera read noise, electrons.
    offset : float, default 100.0
        Camera baseline, ADU.
    spots_per_object : float, default 0.0
        Mean number of fluorescent spots per object (Poisson; 0 = no spots).
    spot_covariance : float or matrix, default 16.0
        Covariance of the Gaussian point cloud spot positions are drawn from,
        centred on the object, pixels squared: a variance (round cloud) or an
        ndim x ndim symmetric positive definite matrix (stretched cloud, axes
        in image order). Positions outside the object are dropped, from four
        times as many draws as spots wanted, so a small object may get fewer.
    spot_intensity : float, default 200.0
        Peak brightness a spot adds, photo-electrons per pixel.
    spot_sigma : float, default 0.8
        Standard deviation of a spot's Gaussian profile, pixels (before PSF).
    scale_variation : float, default 0.0
        Standard deviation of the natural log of a per-image scale factor
        (log-normal, median 1), >= 0: each image's radii (and ``radius_std``)
        are multiplied by it and its object count divided by it to the power
        ``scale_density_exponent``, so that images differ in magnification as
        a lab's fields of view do, while objects within one image keep
        similar sizes.
    scale_density_exponent : float, default 2.0
        How an image's object count follows its scale factor ``s``: divided
        by ``s ** scale_density_exponent``, in [0, 2] (2: the same share of
        the image covered at every scale; 0: counts independent of scale).
    exposure_variation : float, default 0.0
        Standard deviation of the natural log of a per-image exposure factor
        (log-normal, median 1), >= 0, multiplying the image's object and
        background photo-electrons (dim and bright images, each with
        consistent objects).
    touching_variation : float, default 0.0
        Standard deviation between images of their touching fraction, in
        [0, 0.5]: each image draws its fraction from a beta distribution of
        mean ``touching_fraction`` and this standard deviation (capped just
        below the largest a beta of that mean has), so that some fields are
        crowded with touching nuclei and others have none.
    psf_scale_exponent : float, default 0.0
        How the lateral PSF follows an image's scale factor ``s`` (see
        ``scale_variation``), in [0, 2]: the image's ``psf_sigma`` is
        multiplied by ``s ** psf_scale_exponent`` (1: the blur grows with the
        magnification as the nuclei do; 0: the same blur in every image).
    texture_variation : float, default 0.0
        Standard deviation of the natural log of a per-image texture factor
        (log-normal, median 1), in [0, 2], multiplying the image's
        ``texture_strength`` (smooth and grainy fields).

    Examples
    --------
    >>> gen = Procedural(shape=[64, 64], n_objects=5, radius=6.0)
    >>> sample = next(gen.generate(1, seed=0))
    >>> sample.name, sample.image.dtype.name, sample.labels.shape, sample.spacing
    ('img0000', 'uint16', (64, 64), (0.5, 0.5))
    """

    name = "procedural"
    #: :meth:`generate` warns (logger ``segbench.builtin.procedural``) when a
    #: dataset's images hold under 90 % of the objects asked for
    _report_shortfall = True
    description = (
        "Fluorescent nuclei (2D/3D) with exact masks: shapes, touching, texture, PSF, camera noise"
    )

    @_remember_given
    def __init__(
        self,
        shape: Sequence[int] = (256, 256),
        pixel_size: float = 0.5,
        z_step: float = 2.0,
        n_objects: int | Sequence[int] = 30,
        radius: float = 10.0,
        radius_std: float = 1.5,
        aspect_ratio: float | Sequence[float] = (1.0, 1.5),
        irregularity: float = 0.06,
        n_control_points: int = 8,
        placement: str = "random",
        n_clusters: int = 3,
        cluster_spread: float = 30.0,
        touching_fraction: float = 0.1,
        touching_overlap: float = 0.15,
        min_gap: float = 2.0,
        intensity: float = 300.0,
        intensity_cv: float = 0.25,
        edge_darkening: float = 0.3,
        texture_strength: float = 0.15,
        texture_scale: float = 8.0,
        texture_octaves: int = 3,
        background: float = 20.0,
        background_variation: float = 0.2,
        illumination_falloff: float = 0.0,
        psf_sigma: float = 1.0,
        psf_sigma_z: float = 1.0,
        gain: float = 1.0,
        read_noise: float = 2.0,
        offset: float = 100.0,
        spots_per_object: float = 0.0,
        spot_covariance: float | Sequence[Sequence[float]] = 16.0,
        spot_intensity: float = 200.0,
        spot_sigma: float = 0.8,
        scale_variation: float = 0.0,
        scale_density_exponent: float = 2.0,
        exposure_variation: float = 0.0,
        touching_variation: float = 0.0,
        psf_scale_exponent: float = 0.0,
        texture_variation: float = 0.0,
    ):
        self.shape = kit.spatial_shape("shape", shape)
        ndim = len(self.shape)
        pixels = math.prod(self.shape)
        if pixels > _MAX_PIXELS:
            raise kit.ParameterError(f"shape: {list(self.shape)} is {pixels:,} pixels per image, more than the "
                                     f"{_MAX_PIXELS:,} procedural generates; make the images smaller")
        #: the image's larger lateral side, pixels: what lengths are bounded by
        side = max(self.shape[-2:])
        where = f"{list(self.shape)} image"
        self.pixel_size = _micrometres("pixel_size", pixel_size)
        self.z_step = _micrometres("z_step", z_step)
        anisotropy = self.z_step / self.pixel_size
        if ndim == 3 and not _ANISOTROPY[0] <= anisotropy <= _ANISOTROPY[1]:
            raise kit.ParameterError(
                f"z_step: {self.z_step:g} µm is {anisotropy:g} times pixel_size {self.pixel_size:g} µm "
                f"(z_step / pixel_size must be in [{_ANISOTROPY[0]:g}, {_ANISOTROPY[1]:g}]); "
                "bring z_step and pixel_size closer"
            )
        self.n_objects = kit.integer_range("n_objects", n_objects, low=0)
        self.radius = kit.number("radius", radius, low=_MIN_RADIUS)
        _length("radius", self.radius, side, where, "lower radius or enlarge shape")
        _check_room(self.n_objects[1], self.radius, self.shape)
        self.radius_std = kit.number("radius_std", radius_std, low=0)
        _length("radius_std", self.radius_std, side, where, "lower radius_std")
        self.aspect_ratio = kit.number_range("aspect_ratio", aspect_ratio, low=1)
        kit.at_most(
            "aspect_ratio", self.aspect_ratio[1], 4 * self.radius**2,
            f"makes objects of radius {self.radius:g} px "
            f"{2 * self.radius / math.sqrt(self.aspect_ratio[1]):.2g} px across (2 * radius / "
            "sqrt(aspect_ratio)), under one pixel",
            "lower aspect_ratio or raise radius",
        )
        self.irregularity = kit.number("irregularity", irregularity, low=0, high=0.5)
        self.n_control_points = kit.integer("n_control_points", n_control_points, low=3)
        kit.at_most("n_control_points", self.n_control_points, _MAX_CONTROL_POINTS,
                       f"is more than the {N_ANGLES} angles a 2D outline is drawn at",
                       "lower n_control_points")
        self.placement = Placement(
            kit.choice("placement", placement, ("random", "clustered")),
            kit.at_most("n_clusters", kit.integer("n_clusters", n_clusters, low=1),
                           max(min(pixels, _MAX_CLUSTERS), _default("n_clusters")),
                           f"is more clusters than the {where} has pixels" if pixels < _MAX_CLUSTERS
                           else "is more clusters than make a difference (beyond a few thousand, "
                           "clustered placement is random placement)", "lower n_clusters"),
            _length("cluster_spread", kit.number("cluster_spread", cluster_spread, low=0), side, where,
                    "lower cluster_spread (or use placement: random)"),
        )
        self.touching_fraction = kit.number("touching_fraction", touching_fraction, 0, 1)
        self.touching_overlap = kit.number("touching_overlap", touching_overlap, 0, 0.9)
        self.min_gap = kit.number("min_gap", min_gap, low=0)
        _length("min_gap", self.min_gap, side, where, "lower min_gap")
        self.intensity = _electrons("intensity", kit.number("intensity", intensity, low=0, low_open=True))
        self.intensity_cv = kit.number("intensity_cv", intensity_cv, low=0)
        _spread("intensity_cv", self.intensity_cv, "brightness")
        self.edge_darkening = kit.number("edge_darkening", edge_darkening, 0, 0.9)
        self.texture_strength = kit.number("texture_strength", texture_strength, low=0)
        _spread("texture_strength", self.texture_strength, "log-brightness")
        self.texture_scale = kit.number("texture_scale", texture_scale, low=1)
        self.texture_octaves = kit.integer("texture_octaves", texture_octaves, low=1, high=8)
        self.background = _electrons("background", kit.number("background", background, low=0))
        self.background_variation = kit.number(
            "background_variation", background_variation, low=0
        )
        _spread("background_variation", self.background_variation, "background")
        self.illumination_falloff = kit.number(
            "illumination_falloff", illumination_falloff, 0, 0.95
        )
        self.psf_sigma = kit.number("psf_sigma", psf_sigma, low=0)
        _length("psf_sigma", self.psf_sigma, side, where, "lower psf_sigma")
        self.psf_sigma_z = kit.number("psf_sigma_z", psf_sigma_z, low=0)
        if ndim == 3:
            kit.at_most("psf_sigma_z", self.psf_sigma_z, self.shape[0],
                           f"z slices is deeper than the {where}", "lower psf_sigma_z")
        self.gain = kit.number("gain", gain, low=0, low_open=True)
        kit.at_least("gain", self.gain, _GAIN[0], "ADU/e- cannot fill the image's 65535 ADU even with "
                        f"{_MAX_ELECTRONS:g} e-/px, the brightest light allowed", "raise gain")
        kit.at_most("gain", self.gain, _GAIN[1], "ADU/e- makes one photo-electron many times the "
                       "image's 65535 ADU", "lower gain")
        self.read_noise = _electrons("read_noise", kit.number("read_noise", read_noise, low=0), "e- rms")
        self.offset = kit.number("offset", offset, low=0, high=65535)
        self.spots_per_object = kit.number("spots_per_object", spots_per_object, low=0)
        area = math.pi * self.radius**2 if ndim == 2 else 4 / 3 * math.pi * self.radius**3
        kit.at_most("spots_per_object", self.spots_per_object, round(area),
                       f"spots are more than an object of radius {self.radius:g} px has pixels",
                       "lower spots_per_object")
        self.spot_covariance = kit.covariance("spot_covariance", spot_covariance, ndim)
        kit.at_most("spot_covariance", float(np.linalg.eigvalsh(self.spot_covariance).max()),
                       max(side**2, _default("spot_covariance")),
                       f"px² (its largest variance) spreads spots wider than the {where}, its side squared",
                       "lower spot_covariance")
        self.spot_intensity = _electrons(
            "spot_intensity", kit.number("spot_intensity", spot_intensity, low=0))
        self.spot_sigma = kit.number("spot_sigma", spot_sigma, low=0)
        _length("spot_sigma", self.spot_sigma, side, where, "lower spot_sigma")
        self.scale_variation = kit.number("scale_variation", scale_variation, low=0, high=2)
        self.scale_density_exponent = kit.number("scale_density_exponent", scale_density_exponent, 0, 2)
        self.exposure_variation = kit.number("exposure_variation", exposure_variation, low=0, high=3)
        self.touching_variation = kit.number("touching_variation", touching_variation, 0, 0.5)
        self.psf_scale_exponent = kit.number("psf_scale_exponent", psf_scale_exponent, 0, 2)
        self.texture_variation = kit.number("texture_variation", texture_variation, 0, 2)
        #: lateral pixels per pixel along each axis
        self.axis_scale = np.array([anisotropy, 1.0, 1.0][-ndim:])

    def fit(self, dataset: Dataset, workdir: Path, *, seed: int = 0,
            progress: Callable[[int, int, float | None], None] | None = None,
            rounds: int = 6, n_simulated: int = 24) -> None:
        """Estimate the parameters from annotated 2D images and keep them in ``workdir``.

        Every parameter in :data:`FITTED` and the number of objects per pixel
        are estimated from the images and their masks, then calibrated by
        simulation (see ``docs/procedural.md``, "Fitting to a lab's images",
        and :mod:`.synth.estimate`); the result is written to
        ``workdir / FIT_FILE`` and loaded (:meth:`load`). The parameters
        behind the difficulty features of :mod:`segbench.difficulty`:

        - ``touching_fraction``, ``touching_variation``: mean and standard
          deviation over images of the share of an image's objects that share
          a pixel edge with another (the ``touching`` feature), calibrated.
        - ``psf_sigma``: from the median over images of the share of an edge's
          contrast between the first pixel layers inside and outside;
          ``psf_scale_exponent``: the slope of each image's log PSF (from its
          own share) against its log scale factor; both calibrated.
        - ``texture_strength``: median over objects of the spread around
          their radial profile less the camera noise, over their brightness;
          ``texture_variation``: the spread between images of its log
          (one-way random effects); both calibrated.
        - ``intensity_cv``: mean over images of the coefficient of variation
          of their objects' brightness (the ``brightness_spread`` feature's
          quantity), calibrated; ``exposure_variation`` carries the spread
          between images.
        - ``background_variation``: median over images of the standard
          deviation of the windowed far-background mean (the
          ``background_nonuniformity`` feature's smoothed background) over its
          level, calibrated.

        Parameters
        ----------
        dataset : Dataset
            2D images with masks (any sizes); the more objects, the better.
        workdir : Path
            Folder for ``procedural-fit.json`` (created if missing).
        seed : int
            Seed of the calibration's simulated images.
        progress : callable, optional
            ``progress(round, rounds, mismatch)`` after each calibration round.
        rounds : int
            Calibration rounds, >= 1 (each one simulation of ``n_simulated`` images).
        n_simulated : int
            Images simulated per round, >= 1, at this generator's ``shape``.
        """
        if len(self.shape) != 2:
            raise SegbenchError(f"procedural: fit needs a 2D generator (shape [Y, X]), got shape {list(self.shape)}")
        rounds = kit.integer("rounds", rounds, low=1)
        n_simulated = kit.integer("n_simulated", n_simulated, low=1)
        name = getattr(dataset, "name", "dataset")
        try:
            target = estimate(dataset)
        except EstimateError as err:
            raise SegbenchError(f"procedural: cannot fit on {name!r}: {err}") from None

        def simulate(fitted: dict, layout_only: bool) -> list[Sample]:
            generator = Procedural(**{**_generator_params(fitted, self.shape), **self._given})
            if not layout_only:
                generator._report_shortfall = False  # a round's parameters may overfill the image
                return list(generator.generate(n_simulated, seed))
            return [Sample(f"layout{i}", np.zeros(self.shape), generator.layout(seed, i))
                    for i in range(n_simulated)]

        fitted, mismatch = calibrate(target, simulate, rounds, progress)
        record = {
            "params": {k: v for k, v in _generator_params(fitted, self.shape).items() if k != "n_objects"},
            "objects_per_px": _density_range(fitted),
            "fitted_on": {"dataset": name, "n_images": len(dataset)},
            "calibration": {"rounds": rounds, "n_simulated": n_simulated, "seed": seed,
                            "shape": list(self.shape), "mismatch": mismatch},
            "estimates": target,
        }
        workdir = Path(workdir)
        workdir.mkdir(parents=True, exist_ok=True)
        (workdir / FIT_FILE).write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
        self.load(workdir)

    def load(self, workdir: Path) -> None:
        """Use the parameters :meth:`fit` left in ``workdir``.

        Fitted values replace the constructor's, except those given to the
        constructor explicitly (a suite's ``params``, ``--param``), which win;
        ``n_objects`` follows the fitted objects per pixel over this
        generator's ``shape`` unless given.
        """
        record = read_fit(workdir)
        low, high = (round(d * math.prod(self.shape)) for d in record["objects_per_px"])
        given = self._given
        self.__init__(**{**record["params"], "n_objects": [low, max(low, high)], **given})
        self._given = given

    def params(self) -> dict:
        """The constructor parameters in effect (after :meth:`load`, the fitted
        ones), JSON-compatible (tuples as lists)."""
        return {k: _plain(v) for k, v in self._params.items()}

    @property
    def spacing(self) -> tuple[float, ...]:
        """Pixel (voxel) size per axis, micrometres."""
        return ((self.z_step,) if len(self.shape) == 3 else ()) + (self.pixel_size,) * 2

    def generate(self, n: int, seed: int) -> Iterator[Sample]:
        """Yield ``n`` samples named ``img0000``, ``img0001``, ...

        Parameters
        ----------
        n : int
            Number of images, >= 0.
        seed : int
            Non-negative seed; the same seed gives bit-identical samples, and
            image ``i`` does not depend on ``n``.
        """
        n = kit.integer("n", n, low=0)
        seed = kit.integer("seed", seed, low=0)
        requested = placed = 0
        for index in range(n):
            rendering = self.render(seed, index)
            requested += rendering.n_requested
            placed += int(np.count_nonzero(np.bincount(rendering.sample.labels.ravel())[1:]))
            yield rendering.sample
        if placed < _SHORTFALL * requested and self._report_shortfall:
            # segbench's warnings go to its logger (the command line prints them as `warning: ...`)
            logging.getLogger(__name__).warning(self._shortfall(placed / n, requested / n))

    def _shortfall(self, placed: float, requested: float) -> str:
        """One line: how many objects an image holds against how many it asked
        for, the likely cause and what to do."""
        minor = 2 * self.radius / math.sqrt(self.aspect_ratio[1])
        if self.min_gap > self.radius:
            why, fix = f"min_gap {self.min_gap:g} px leaves no room", "lower min_gap or n_objects"
        elif self.placement.kind == "clustered":
            why = (f"{self.placement.n_clusters} clusters of spread {self.placement.cluster_spread:g} px "
                   f"are too crowded for objects of radius {self.radius:g} px")
            fix = "raise cluster_spread or n_clusters, or lower n_objects"
        elif minor < 2:
            why = f"aspect_ratio up to {self.aspect_ratio[1]:g} makes objects {minor:.2g} px thin, too thin to draw"
            fix = "lower aspect_ratio or raise radius"
        else:
            why = (f"the {list(self.shape)} image is too full for objects of radius {self.radius:g} px "
                   f"{self.min_gap:g} px apart")
            fix = "lower n_objects, radius or min_gap, or enlarge shape"
        return (f"procedural: placed {placed:.3g} of {requested:.3g} nuclei per image on average: {why}; {fix}")

    def render(self, seed: int, index: int) -> Rendering:
        """Image ``index`` (>= 0) of the series ``seed`` (>= 0), with its
        intermediate stages; ``generate(n, seed)`` yields ``render(seed, i).sample``
        for ``i < n``."""
        layout_rng, look_rng, spot_rng, camera_rng, image_rng, variation_rng = _streams(seed, index)
        scale, exposure = self._image_factors(image_rng)
        touching, texture = self._image_variations(variation_rng)

        labels, objects, requested = self._layout(layout_rng, scale, touching)
        signal = self._objects_signal(look_rng, objects, texture)
        spots, spot_labels = draw_spots(
            spot_rng, objects, labels, self.spots_per_object, self.spot_covariance, self.axis_scale
        )
        if len(spots):
            signal += render_spots(
                spots, labels, self.spot_intensity, self.spot_sigma, self.axis_scale
            )
        signal *= exposure
        expected = self._optics(look_rng, signal, exposure, scale)
        image = expose(camera_rng, expected, self.gain, self.read_noise, self.offset)

        new_ids = np.concatenate([[0], layout_rng.permutation(len(objects)) + 1])
        dtype = np.uint16 if len(objects) <= np.iinfo(np.uint16).max else np.uint32
        labels = new_ids.astype(dtype)[labels]
        sample = Sample(f"img{index:04d}", image, labels, self.spacing)
        return Rendering(sample, signal, expected, spots, new_ids[spot_labels], requested)

    def layout(self, seed: int, index: int) -> np.ndarray:
        """The label image of ``render(seed, index)``, without rendering the
        pixels (what layout-only calibration needs)."""
        layout_rng, *_, image_rng, variation_rng = _streams(seed, index)
        scale = self._image_factors(image_rng)[0]
        return self._layout(layout_rng, scale, self._image_variations(variation_rng)[0])[0]

    def _image_factors(self, rng: np.random.Generator) -> tuple[float, float]:
        """This image's scale and exposure factors (1 when they do not vary)."""
        draws = rng.standard_normal(2)
        return (float(np.exp(self.scale_variation * draws[0])),
                float(np.exp(self.exposure_variation * draws[1])))

    def _image_variations(self, rng: np.random.Generator) -> tuple[float, float]:
        """This image's touching fraction and texture strength (``touching_fraction``
        and ``texture_strength`` when they do not vary between images)."""
        touching = self.touching_fraction
        if self.touching_variation > 0 and 0 < touching < 1:
            variance = min(self.touching_variation**2, 0.99 * touching * (1 - touching))
            concentration = touching * (1 - touching) / variance - 1
            touching = float(rng.beta(touching * concentration, (1 - touching) * concentration))
        texture = self.texture_strength * float(np.exp(self.texture_variation * rng.standard_normal()))
        return touching, texture

    def _layout(self, rng: np.random.Generator, scale: float,
                touching: float) -> tuple[np.ndarray, list[PlacedObject], int]:
        """Label image, objects and the number of objects asked for; ``scale``
        multiplies the radii and divides the object count by its
        ``scale_density_exponent`` power; ``touching`` is the image's touching
        fraction."""
        count = int(rng.integers(self.n_objects[0], self.n_objects[1] + 1))
        if scale != 1.0:
            count = int(round(count / scale**self.scale_density_exponent))
        radius, spread = self.radius * scale, self.radius_std * scale
        # a small scale asks for many small objects: never more than _check_room allows
        drawn = min(count, _room(max(radius, _MIN_RADIUS), self.shape))
        radii = np.maximum(_lognormal(rng, radius, spread, drawn), _MIN_RADIUS)
        ratios = rng.uniform(*self.aspect_ratio, size=drawn)
        shapes = [
            random_shape(rng, len(self.shape), r, a, self.irregularity, self.n_control_points)
            for r, a in zip(radii, ratios)
        ]
        labels, objects = place_objects(
            rng,
            shapes,
            self.shape,
            self.axis_scale,
            self.placement,
            touching,
            self.touching_overlap,
            self.min_gap,
        )
        return labels, objects, count

    def _objects_signal(self, rng, objects: list[PlacedObject], texture_strength: float) -> np.ndarray:
        signal = np.zeros(self.shape, dtype=np.float32)
        spread = self.intensity * self.intensity_cv
        brightness = _lognormal(rng, self.intensity, spread, len(objects))
        for obj, level in zip(objects, brightness):
            mask, depth = obj.raster.mask, obj.raster.depth[obj.raster.mask]
            signal[obj.raster.box][mask] = level * (1 - self.edge_darkening * depth**2)
        if texture_strength > 0 and objects:
            cell = self.texture_scale / self.axis_scale
            texture = fractal_noise(rng, self.shape, cell, self.texture_octaves)
            s = texture_strength
            signal *= np.exp(s * texture - s * s / 2)
        return signal

    def _optics(self, rng, signal: np.ndarray, exposure: float = 1.0, scale: float = 1.0) -> np.ndarray:
        """Expected photo-electrons at the camera: ``signal`` (already
        exposed) on the background times ``exposure``, illuminated and blurred
        (lateral PSF times ``scale ** psf_scale_exponent``)."""
        field = self.background * exposure * np.ones(self.shape, dtype=np.float32)
        if self.background_variation > 0 and self.background > 0:
            cell = max(self.shape[-2:]) / 2 / self.axis_scale
            field *= 1 + self.background_variation * value_noise(rng, self.shape, cell)
            np.maximum(field, 0, out=field)
        light = signal + field
        if self.illumination_falloff > 0:
            light *= illumination(rng, self.shape, self.illumination_falloff)
        # an image's scale (psf_scale_exponent) never widens the blur beyond the image's side
        lateral = min(self.psf_sigma * scale**self.psf_scale_exponent, max(self.shape[-2:]))
        sigma = (self.psf_sigma_z,) * (len(self.shape) == 3) + (lateral,) * 2
        return blur(light, sigma)


def _streams(seed: int, index: int) -> list[np.random.Generator]:
    """The independent random streams of image ``index`` of series ``seed``:
    layout, appearance, spots, camera noise, per-image scale and exposure, and
    per-image touching and texture variation (the sixth child: adding it left
    the first five, and so every earlier image, as they were)."""
    seed = kit.integer("seed", seed, low=0)
    index = kit.integer("index", index, low=0)
    return [np.random.default_rng(s) for s in np.random.SeedSequence((seed, index)).spawn(6)]


def _plain(value):
    if isinstance(value, (tuple, list, np.ndarray)):
        return [_plain(v) for v in value]
    return value.item() if isinstance(value, np.generic) else value


def read_fit(workdir: Path) -> dict:
    """The record :meth:`Procedural.fit` wrote in ``workdir``; :class:`SegbenchError` if none."""
    path = Path(workdir) / FIT_FILE
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise SegbenchError(f"{workdir}: no fitted procedural parameters ({FIT_FILE}); "
                            "fit first (segbench generate procedural --fit DATASET ...)") from None
    except ValueError as err:
        raise SegbenchError(f"{path}: not valid JSON ({err}); fit again") from None
    if not isinstance(record, dict) or not {"params", "objects_per_px"} <= record.keys():
        raise SegbenchError(f"{path}: not a procedural fit (no 'params' and 'objects_per_px'); fit again")
    return record


def _uniform(q25: float, q75: float, low: float) -> list[float]:
    """``[a, b]``, not below ``low``, of the uniform distribution with these quartiles."""
    a = max(1.5 * q25 - 0.5 * q75, low)
    return [a, max(a, 1.5 * q75 - 0.5 * q25)]


def _density_range(fitted: dict) -> list[float]:
    """Objects per pixel, ``[low, high]``: uniform with the fitted quartiles."""
    return _uniform(fitted["density_q25"], fitted["density_q75"], 0.0)


def _generator_params(fitted: dict, shape: tuple[int, int]) -> dict:
    """Constructor parameters from calibrated estimates, for images of ``shape``."""
    params = {k: fitted[k] for k in FITTED if k in fitted}
    side = max(shape)
    for key in ("radius", "radius_std", "min_gap", "psf_sigma"):  # calibration's bounds ignore the image's
        if key in params:
            params[key] = min(params[key], side)
    lo, hi = (round(d * math.prod(shape)) for d in _density_range(fitted))
    params.update(aspect_ratio=_uniform(fitted["aspect_q25"], fitted["aspect_q75"], 1.0),
                  n_objects=[lo, max(lo, hi)])
    if params["placement"] == "clustered":
        params["cluster_spread"] = fitted["cluster_spread_fraction"] * max(shape)
    else:
        del params["n_clusters"]
    return params


def _lognormal(rng: np.random.Generator, mean: float, std: float, size: int) -> np.ndarray:
    """Log-normal draws with the given mean and standard deviation."""
    if std == 0:
        return np.full(size, mean)
    variance = np.log1p((std / mean) ** 2)
    return rng.lognormal(np.log(mean) - variance / 2, np.sqrt(variance), size)
