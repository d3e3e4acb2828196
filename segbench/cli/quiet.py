"""Keep what libraries print (TensorFlow's start-up lines, progress bars,
warnings) out of the user's terminal during a run: file descriptors 1 and 2
of this process, which worker processes inherit, go to a log file in the
output folder, while segbench's own console keeps writing to the terminal."""

from __future__ import annotations

import os
import sys
from contextlib import contextmanager
from pathlib import Path

from rich.console import Console

__all__ = ["library_output_to"]


@contextmanager
def library_output_to(log: Path, console: Console):
    """Send this process's (and its future workers') stdout and stderr file
    descriptors to ``log`` for the block; ``console`` keeps the terminal.

    When ``console`` does not write to file descriptor 2 (e.g. under a test's
    capture), it is left as it is. When ``log`` cannot be created, nothing is
    redirected (the run reports the folder's problem itself)."""
    try:
        log.parent.mkdir(parents=True, exist_ok=True)
        sink = open(log, "ab")
    except OSError:
        yield
        return
    terminal = None
    if _writes_to_fd(console, 2):
        terminal = os.fdopen(os.dup(2), "w", buffering=1, encoding=sys.stderr.encoding or "utf-8", errors="replace")
        previous_file, console.file = console.file, terminal
    saved = {fd: os.dup(fd) for fd in (1, 2)}
    sys.stdout.flush()
    sys.stderr.flush()
    for fd in (1, 2):
        os.dup2(sink.fileno(), fd)
    try:
        yield
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        for fd, copy in saved.items():
            os.dup2(copy, fd)
            os.close(copy)
        sink.close()
        if terminal is not None:
            console.file = previous_file
            terminal.close()


def _writes_to_fd(console: Console, fd: int) -> bool:
    try:
        return console.file.fileno() == fd
    except (AttributeError, OSError, ValueError):
        return False
