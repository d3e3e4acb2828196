"""Suite parameters -> the settings written into a CellProfiler pipeline.

Each override is ``(module_num, setting_text, value)``: ``module_num`` is the
module's number in the pipeline (1-based, as CellProfiler numbers them, input
modules included), or None for "the IdentifyPrimaryObjects module that makes
the returned objects". The driver writes them in order.
"""

from __future__ import annotations

import re
from typing import Any, Mapping

from segbench.errors import SegbenchError

__all__ = ["COMMON", "common_overrides", "parse_settings"]

#: The common parameters and the IdentifyPrimaryObjects setting each one writes.
COMMON = {
    "threshold_method": "Thresholding method",
    "threshold_correction": "Threshold correction factor",
    "threshold_smoothing": "Threshold smoothing scale",
    "declump_method": "Method to distinguish clumped objects",
    "fill_holes": "Fill holes in identified objects?",
}
DIAMETER = "Typical diameter of objects, in pixel units (Min,Max)"
ADVANCED = "Use advanced settings?"
FILL_HOLES = {True: "After both thresholding and declumping", False: "Never"}

_KEY = re.compile(r"^\s*([A-Za-z][A-Za-z0-9_]*)\s*#\s*(\d+)\s*:\s*(\S.*?)\s*$")


def common_overrides(
    *,
    threshold_method: str | None,
    threshold_correction: float | None,
    threshold_smoothing: float | None,
    diameter_min: int | None,
    diameter_max: int | None,
    declump_method: str | None,
    fill_holes: bool | str | None,
) -> list[tuple[None, str, Any]]:
    """Overrides for the common parameters that are set (None leaves the pipeline's value).

    Threshold, declumping and hole filling are advanced settings of
    IdentifyPrimaryObjects, so setting any of them also sets
    'Use advanced settings?' to Yes (otherwise CellProfiler ignores them).
    A diameter bound given alone keeps the pipeline's other bound.
    """
    for name, value in (("threshold_correction", threshold_correction), ("threshold_smoothing", threshold_smoothing)):
        if value is not None and (isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0):
            raise SegbenchError(f"cellprofiler: {name} must be a number >= 0, got {value!r}")
    for name, value in (("diameter_min", diameter_min), ("diameter_max", diameter_max)):
        if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 0):
            raise SegbenchError(f"cellprofiler: {name} must be a whole number of pixels >= 0, got {value!r}")
    if diameter_min is not None and diameter_max is not None and diameter_min > diameter_max:
        raise SegbenchError(f"cellprofiler: diameter_min ({diameter_min}) is larger than diameter_max ({diameter_max})")
    if fill_holes is not None and not isinstance(fill_holes, (bool, str)):
        raise SegbenchError(f"cellprofiler: fill_holes must be true, false or CellProfiler's choice text, got {fill_holes!r}")
    values = {
        "threshold_method": threshold_method,
        "threshold_correction": threshold_correction,
        "threshold_smoothing": threshold_smoothing,
        "declump_method": declump_method,
        "fill_holes": FILL_HOLES.get(fill_holes, fill_holes) if isinstance(fill_holes, bool) else fill_holes,
    }
    overrides: list[tuple[None, str, Any]] = []
    if diameter_min is not None or diameter_max is not None:
        overrides.append((None, DIAMETER, [diameter_min, diameter_max]))
    advanced = [(None, COMMON[name], value) for name, value in values.items() if value is not None]
    if advanced:
        overrides.append((None, ADVANCED, True))
    return overrides + advanced


def parse_settings(settings: Mapping[str, Any] | None) -> list[tuple[int, str, Any, str]]:
    """``{"ModuleName #N: Setting text": value}`` -> ``[(N, text, value, ModuleName)]``, in order.

    Values are numbers, strings, booleans (Yes/No) or ``[low, high]`` for range
    settings.
    """
    if settings is None:
        return []
    if not isinstance(settings, Mapping):
        hint = " (a list of mappings is a sweep: write it as the value of `settings`)" if isinstance(settings, list) else ""
        raise SegbenchError(f"cellprofiler: settings must be a mapping 'ModuleName #N: Setting text' -> value{hint}, got {settings!r}")
    parsed = []
    for key, value in settings.items():
        match = _KEY.match(str(key))
        if not match:
            raise SegbenchError(
                f"cellprofiler: settings key {key!r} is not 'ModuleName #N: Setting text' "
                "(e.g. 'IdentifyPrimaryObjects #5: Threshold correction factor', N as CellProfiler numbers the module)"
            )
        ok_list = isinstance(value, list) and len(value) == 2 and all(isinstance(v, (int, float)) for v in value)
        if not (isinstance(value, (str, int, float, bool)) or ok_list):
            raise SegbenchError(
                f"cellprofiler: settings[{key!r}] must be a number, text, true/false or [low, high], got {value!r}"
            )
        name, number, text = match.groups()
        parsed.append((int(number), text, value, name))
    return parsed
