"""Low-pass FIR filters of the alias-free generator (Karras et al. 2021, Sec. 3.2 and App. C).

Every filter is windowed with a Kaiser window, whose shape parameter follows from the
transition band width (Kaiser's formulas, as ``scipy.signal`` implements them). Config T
uses separable filters (one 1D filter applied along x and then along y); config R uses a
radially symmetric jinc-based 2D filter in the layers that are not critically sampled, so
the whole network becomes equivariant to rotations as well.
"""

from __future__ import annotations

import numpy as np
import scipy.signal
import scipy.special
import torch

__all__ = ["kaiser_lowpass", "jinc_lowpass", "design_lowpass_filter"]


def _check_band(numtaps: int, cutoff: float, width: float, fs: float) -> None:
    if numtaps < 2:
        raise ValueError(f"numtaps must be >= 2, got {numtaps}")
    if not 0 < cutoff < fs / 2:
        raise ValueError(f"cutoff must lie in (0, fs/2) = (0, {fs / 2:g}), got {cutoff:g}")
    if not width > 0:
        raise ValueError(f"width must be > 0, got {width:g}")


def kaiser_lowpass(numtaps: int, cutoff: float, width: float, fs: float) -> np.ndarray:
    """Separable (1D) Kaiser-windowed sinc low-pass filter.

    Parameters
    ----------
    numtaps : int
        Filter length (>= 2).
    cutoff : float
        Cutoff frequency ``f_c`` in cycles per unit length (same unit as ``fs``).
    width : float
        Width of the transition band (twice the paper's half-width ``f_h``).
    fs : float
        Sampling rate at which the filter runs.

    Returns
    -------
    ndarray
        ``(numtaps,)`` float64 taps with unit DC gain (they sum to 1).

    Examples
    --------
    >>> f = kaiser_lowpass(12, cutoff=4.0, width=4.0, fs=32.0)
    >>> f.shape, round(float(f.sum()), 6)
    ((12,), 1.0)
    """
    _check_band(numtaps, cutoff, width, fs)
    return scipy.signal.firwin(numtaps=numtaps, cutoff=cutoff, width=width, fs=fs)


def jinc_lowpass(numtaps: int, cutoff: float, width: float, fs: float) -> np.ndarray:
    """Radially symmetric low-pass filter: a jinc (the 2D analogue of sinc, the Fourier
    transform of a disc of radius ``cutoff``) times a separable Kaiser window.

    Parameters
    ----------
    numtaps, cutoff, width, fs
        As in :func:`kaiser_lowpass`.

    Returns
    -------
    ndarray
        ``(numtaps, numtaps)`` float64 taps summing to 1.

    Examples
    --------
    >>> f = jinc_lowpass(12, cutoff=4.0, width=4.0, fs=32.0)
    >>> f.shape, round(float(f.sum()), 6), bool(np.allclose(f, f.T))
    ((12, 12), 1.0, True)
    """
    _check_band(numtaps, cutoff, width, fs)
    t = (np.arange(numtaps) - (numtaps - 1) / 2) / fs
    r = np.hypot(t[:, None], t[None, :])
    with np.errstate(invalid="ignore", divide="ignore"):
        f = scipy.special.j1(2 * np.pi * cutoff * r) / (np.pi * r)
    f[r == 0] = cutoff  # J1(x) ~ x / 2 near 0, so the limit at r = 0 is f_c (odd numtaps only)
    attenuation = scipy.signal.kaiser_atten(numtaps, width / (fs / 2))
    window = np.kaiser(numtaps, scipy.signal.kaiser_beta(attenuation))
    f = f * np.outer(window, window)
    return f / f.sum()


def design_lowpass_filter(
    numtaps: int, cutoff: float, width: float, fs: float, radial: bool = False
) -> torch.Tensor | None:
    """The filter of one up- or downsampling step as a float32 tensor, or None when the
    step needs no filter (``numtaps == 1``: the identity).

    Parameters
    ----------
    numtaps, cutoff, width, fs
        As in :func:`kaiser_lowpass`; ``numtaps == 1`` means no filtering.
    radial : bool
        Radially symmetric 2D filter (:func:`jinc_lowpass`) instead of a separable one.

    Returns
    -------
    Tensor or None
        ``(numtaps,)`` (separable) or ``(numtaps, numtaps)`` (radial) float32.
    """
    if numtaps == 1:
        return None
    taps = jinc_lowpass(numtaps, cutoff, width, fs) if radial else kaiser_lowpass(numtaps, cutoff, width, fs)
    return torch.as_tensor(taps, dtype=torch.float32)
