"""segbench's exceptions. Each renders as one line: where (file or suite key),
what is wrong, and how to fix it."""

from __future__ import annotations

import re
from pathlib import Path

#: control characters (C0, DEL, C1: ESC and CSI among them) and lone surrogates
#: (undecodable bytes of a file name), which a terminal must never receive raw
_UNPRINTABLE = re.compile(r"[\x00-\x1f\x7f-\x9f\ud800-\udfff]")


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


def printable(text: object) -> str:
    r"""``str(text)`` safe to print on a terminal, on one line.

    The one place user text (file names, labels, dataset names, messages that
    quote them) is cleaned before it is printed: every control character,
    escape sequences' ESC and CSI included, and every lone surrogate is shown
    as its Python escape, so a name cannot clear the screen, set the window
    title, move the cursor or break a one-line message, and stays recognisable.

    Examples
    --------
    >>> printable("img\x1b]0;owned\x07\x1b[2J.tif")
    'img\\x1b]0;owned\\x07\\x1b[2J.tif'
    >>> printable("two\nlines")
    'two\\nlines'
    """
    return _UNPRINTABLE.sub(lambda match: repr(match.group())[1:-1], str(text))


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
