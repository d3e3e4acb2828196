"""segbench's exceptions. Each renders as one line: where (file or suite key),
what is wrong, and how to fix it."""

from __future__ import annotations

from pathlib import Path


class SegbenchError(Exception):
    """Base class; ``str(err)`` is the one-line message shown to the user."""


class InputError(SegbenchError):
    """A bad input file or folder.

    Parameters
    ----------
    path : str or Path
        The offending file or folder.
    problem : str
        What is wrong with it.
    fix : str, optional
        What would fix it.
    """

    def __init__(self, path: str | Path, problem: str, fix: str = ""):
        self.path = str(path)
        self.problem = problem
        self.fix = fix
        super().__init__(f"{self.path}: {problem}" + (f"; {fix}" if fix else ""))


def did_you_mean(word: str, choices, cutoff: float = 0.6) -> str:
    """`` (did you mean 'x'?)`` for the closest of ``choices``, or ``""``.

    The one place segbench suggests names (suite keys, plugin names, params).

    Examples
    --------
    >>> did_you_mean("cellpse", ["cellpose", "stardist"])
    " (did you mean 'cellpose'?)"
    """
    import difflib

    close = difflib.get_close_matches(str(word), sorted(map(str, choices)), n=1, cutoff=cutoff)
    return f" (did you mean {close[0]!r}?)" if close else ""
