"""Where cellpose 3 and cellpose 4 (Cellpose-SAM) differ, in one place.

The plugin is tested against cellpose 3.1.1.x (a CPnet of 6.6 M parameters
that trains from scratch on a CPU). Cellpose 4 replaced the network with a
300 M parameter SAM encoder and changed the API; these functions give the
keyword arguments each major version expects, so the rest of the plugin
branches on the version only in ``weights.py`` (how a built-in model is named,
and that cellpose 4 cannot train from scratch):

============================  =================================  ==============================
                              cellpose 3                         cellpose 4
============================  =================================  ==============================
``CellposeModel(...)``        ``nchan=2``, ``diam_mean``,        ``use_bfloat16`` (default True);
                              ``mkldnn``, ``model_type``         no ``nchan``/``diam_mean``
``eval(...)``,                ``channels=[seg, nuc]``,           no ``channels`` (first three
``convert_image(...)``        ``rescale = diam_mean/diameter``   channels), ``diameter`` only
default ``niter``             ``200 / rescale``                  ``int(200 / (30 / diameter))``
``dynamics.compute_masks``    ``interp=True``                    no ``interp``
training from scratch         yes                                no (fine-tuning only)
============================  =================================  ==============================
"""

from __future__ import annotations

from importlib.metadata import version
from typing import Any, Sequence

from segbench.kit import ParameterError

#: The diameter (pixels) cellpose 4 rescales objects to; fixed in its eval.
CP4_DIAMETER = 30.0


def cellpose_version() -> str:
    """The installed cellpose version string (e.g. ``"3.1.1.3"``)."""
    return version("cellpose")


def major_version(text: str | None = None) -> int:
    """Major version of ``text`` (default: the installed cellpose).

    Examples
    --------
    >>> major_version("3.1.1.3"), major_version("4.0.5")
    (3, 4)
    """
    text = cellpose_version() if text is None else text
    return int(text.split(".")[0])


def model_kwargs(
    major: int, *, diam_mean: float | None = None, use_bfloat16: bool | None = None
) -> dict[str, Any]:
    """Keyword arguments of ``cellpose.models.CellposeModel`` besides weights and device.

    Parameters
    ----------
    major : int
        Cellpose major version.
    diam_mean : float, optional
        Object diameter (pixels) the network is trained at; cellpose 3 only
        (cellpose 4 fixes it at 30).
    use_bfloat16 : bool, optional
        Cellpose 4 only: run the network in bfloat16 (its default) or float32.

    Cellpose 3 gets ``mkldnn=False``: its MKL-DNN path converts the network on
    every forward pass (slower on CPU in our measurements) and cannot train.

    Examples
    --------
    >>> model_kwargs(3, diam_mean=12.5)
    {'nchan': 2, 'mkldnn': False, 'diam_mean': 12.5}
    >>> model_kwargs(4, use_bfloat16=False)
    {'use_bfloat16': False}
    """
    if major >= 4:
        return {} if use_bfloat16 is None else {"use_bfloat16": use_bfloat16}
    if use_bfloat16 is not None:
        raise ParameterError(
            "use_bfloat16 is a cellpose 4 option; the installed cellpose 3 runs in float32, "
            "remove use_bfloat16"
        )
    kwargs: dict[str, Any] = {"nchan": 2, "mkldnn": False}
    if diam_mean is not None:
        kwargs["diam_mean"] = diam_mean
    return kwargs


def eval_kwargs(
    major: int, *, channels: Sequence[int] | None, scaling: float, diameter: float | None
) -> dict[str, Any]:
    """Keyword arguments of ``CellposeModel.eval`` that depend on the version.

    Parameters
    ----------
    major : int
        Cellpose major version.
    channels : pair of int or None
        Cellpose 3's ``[channel to segment, nuclear channel]`` (0 = grayscale,
        1..3 = R, G, B); None means ``[0, 0]``. Cellpose 4 has no channels.
    scaling : float
        The factor images are resized by before the network (see :func:`scaling`).
    diameter : float or None
        Object diameter in pixels, as the user gave it.

    Examples
    --------
    >>> eval_kwargs(3, channels=None, scaling=2.0, diameter=15.0)
    {'channels': [0, 0], 'rescale': 2.0, 'diameter': None}
    >>> eval_kwargs(4, channels=None, scaling=2.0, diameter=15.0)
    {'diameter': 15.0}
    """
    if major >= 4:
        if channels is not None:
            raise ParameterError(
                "channels is not used by cellpose 4 (it takes the first three channels of "
                "each image); remove channels"
            )
        return {"diameter": diameter}
    return {
        "channels": [0, 0] if channels is None else [int(c) for c in channels],
        "rescale": scaling,
        "diameter": None,
    }


def convert_kwargs(major: int, channels: Sequence[int] | None) -> dict[str, Any]:
    """Version-specific keyword arguments of ``transforms.convert_image`` (as eval calls it).

    Examples
    --------
    >>> convert_kwargs(3, None), convert_kwargs(4, None)
    ({'channels': [0, 0], 'nchan': 2}, {})
    """
    if major >= 4:
        return {}
    return {"channels": [0, 0] if channels is None else [int(c) for c in channels], "nchan": 2}


def scaling(major: int, model: Any, diameter: float | None) -> float:
    """Factor by which cellpose resizes an image before the network.

    Cellpose 3: ``diam_mean / diameter``, or ``diam_mean / diam_labels`` (the
    model's own training diameter) when no diameter is given. Cellpose 4:
    ``30 / diameter``, or 1.
    """
    if major >= 4:
        return CP4_DIAMETER / diameter if diameter else 1.0
    # The same expression (and dtypes) as CellposeModel.eval, so results match it exactly.
    return float(model.diam_mean / (diameter if diameter else model.diam_labels))


def default_niter(major: int, scale: float) -> float:
    """Cellpose's number of dynamics steps for an image resized by ``scale``.

    Examples
    --------
    >>> default_niter(3, 0.5), default_niter(4, 0.3)
    (400.0, 666)
    """
    if major >= 4:
        return int(200 / scale)
    return 200 / scale


def dynamics_kwargs(major: int) -> dict[str, Any]:
    """Version-specific keyword arguments of ``dynamics.resize_and_compute_masks``."""
    return {} if major >= 4 else {"interp": True}
