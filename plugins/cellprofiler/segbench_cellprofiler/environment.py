"""Finding the Python of a CellProfiler environment.

CellProfiler 5 needs numpy 1.26 and scipy 1.10, so it lives in an environment
of its own (``scripts/install.sh`` builds ``.venv-cellprofiler/`` in the
segbench checkout). The interpreter comes only from the user's machine, never
from a suite file (suites are shared between labs) nor from the current
directory (a folder someone handed over). The first of these that exists is used:

1. the environment variable ``SEGBENCH_CELLPROFILER_PYTHON`` (a Python
   interpreter or an environment folder, whose ``bin/python`` is used);
2. ``.venv-cellprofiler/bin/python`` in the segbench checkout this plugin (or
   segbench itself) was installed from, found from the packages' own location.
"""

from __future__ import annotations

import os
from pathlib import Path

from segbench.errors import SegbenchError

__all__ = ["ENV_VAR", "HOW_TO_SET", "VENV_NAME", "find_python"]

ENV_VAR = "SEGBENCH_CELLPROFILER_PYTHON"
VENV_NAME = ".venv-cellprofiler"
#: How a user chooses the interpreter (the one place this is said).
HOW_TO_SET = (
    f"set the environment variable {ENV_VAR} to the Python of your CellProfiler environment, "
    f"or build {VENV_NAME}/ with `bash scripts/install.sh` in the segbench checkout"
)


def _interpreter(path: Path) -> Path:
    """``path`` itself, or ``path/bin/python`` when it is an environment folder."""
    return path / "bin" / "python" if path.is_dir() else path


def _checkouts() -> list[Path]:
    """Roots of the source checkouts this plugin and segbench run from (editable installs)."""
    import segbench

    here = Path(__file__).resolve()
    return list(dict.fromkeys([here.parents[3], Path(segbench.__file__).resolve().parents[1]]))


def find_python() -> str:
    """Path of the Python interpreter that runs CellProfiler.

    Returns
    -------
    str
        Absolute path of the interpreter (not resolved: a virtual environment's
        ``bin/python`` is a link that must stay one).

    Raises
    ------
    SegbenchError
        Nothing usable was found; the message lists where it looked.
    """
    from_env = os.environ.get(ENV_VAR)
    if from_env:
        python = _interpreter(Path(from_env).expanduser())
        if not python.is_file():
            raise SegbenchError(
                f"cellprofiler: {ENV_VAR}={from_env!r} is neither a Python interpreter nor an environment folder "
                f"with bin/python; fix or unset it"
            )
        return str(python.absolute())
    candidates = [root / VENV_NAME for root in _checkouts()]
    for folder in candidates:
        python = folder / "bin" / "python"
        if python.is_file():
            return str(python.absolute())
    looked = ", ".join(str(c) for c in candidates) or "no segbench checkout"
    raise SegbenchError(f"cellprofiler: no CellProfiler environment found (looked at {looked}); {HOW_TO_SET}")
