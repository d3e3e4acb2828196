"""The segbench side of the driver: one long-lived CellProfiler process per
worker process and CellProfiler environment.

:func:`driver_for` returns the running :class:`Driver` for a Python interpreter,
starting one when there is none (or the last one crashed, timed out or was
interrupted). Requests and replies are JSON lines (see ``driver.py``); images
and labels travel as files in the driver's own temporary folder. That folder
names the processes using it in :data:`OWNER_MARKER`; a process killed with
``kill -9`` cannot remove it, so every driver start removes the folders whose
processes have all ended (:func:`remove_stale_workdirs`), and only those.
"""

from __future__ import annotations

import atexit
import json
import os
import re
import select
import shutil
import signal
import stat
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

__all__ = ["Driver", "DriverFailure", "driver_for", "remove_stale_workdirs", "DRIVER_SCRIPT"]

#: The script run by CellProfiler's Python.
DRIVER_SCRIPT = Path(__file__).with_name("driver.py")

#: "Fatal Python error: ..." (faulthandler) or "SomeError: ..." (a traceback's last line)
_ERROR_LINE = re.compile(r"^(Fatal Python error|[A-Za-z_.]*(Error|Exception)):")

#: the name of a driver's temporary folder starts with this
WORKDIR_PREFIX = "segbench-cellprofiler-"
#: a file in that folder naming the processes that use it: {"pids": [owner, CellProfiler]}
OWNER_MARKER = ".segbench-cellprofiler-owner"

#: One driver per (worker process id, interpreter).
_DRIVERS: dict[tuple[int, str], "Driver"] = {}


class DriverFailure(Exception):
    """CellProfiler crashed or timed out; ``str()`` is one line."""

    def __init__(self, message: str, timed_out: bool = False):
        super().__init__(message)
        self.timed_out = timed_out


class Driver:
    """A CellProfiler process running ``driver.py``.

    Parameters
    ----------
    python : str
        The interpreter of a CellProfiler environment.
    start_timeout : float
        Seconds CellProfiler may take to start (import and register its readers).
    """

    def __init__(self, python: str, start_timeout: float):
        self.python = python
        remove_stale_workdirs()
        self.workdir = Path(tempfile.mkdtemp(prefix=WORKDIR_PREFIX))
        self._mark_owners(os.getpid())
        self.loaded: dict[str, dict[str, Any]] = {}
        self.module = None  # the module a run is in, from the driver's progress lines
        self._buffer = b""
        self._stderr_start = 0  # where stderr since the last reply begins
        self._stderr = open(self.workdir / "stderr.log", "wb")
        (self.workdir / "tmp").mkdir()
        env = {
            **os.environ,
            # every file CellProfiler, matplotlib and Python write stays in the
            # working folder, the only place the driver lets a pipeline write
            "MPLCONFIGDIR": str(self.workdir / "matplotlib"),
            "XDG_CONFIG_HOME": str(self.workdir / "config"),
            "XDG_DATA_HOME": str(self.workdir / "data"),
            "TMPDIR": str(self.workdir / "tmp"),
            "PYTHONDONTWRITEBYTECODE": "1",
            "PYTHONUNBUFFERED": "1",
        }
        env.pop("PYTHONPATH", None)  # the worker's packages (numpy 2) must not leak in
        try:
            self.process = subprocess.Popen(
                [python, str(DRIVER_SCRIPT)],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=self._stderr,
                cwd=self.workdir,
                env=env,
                start_new_session=True,  # a Ctrl-C in the terminal reaches segbench, which stops us
            )
        except OSError as exc:
            self.close()
            raise DriverFailure(f"could not run {python} ({exc.strerror})") from None
        self.owner = os.getpid()
        self._mark_owners(self.owner, self.process.pid)
        reply = self.request({"op": "hello"}, start_timeout, "starting")
        self.version = reply["version"]

    def _mark_owners(self, *pids: int) -> None:
        """Name the processes using the folder (see :func:`remove_stale_workdirs`)."""
        (self.workdir / OWNER_MARKER).write_text(json.dumps({"pids": list(pids)}))

    @property
    def alive(self) -> bool:
        return self.process.poll() is None and self.owner == os.getpid()

    def request(self, message: dict, timeout: float, doing: str) -> dict:
        """Send one request and wait for its reply (``{"ok": ...}``) at most
        ``timeout`` seconds. A reply with ``ok: false`` is returned as it is.

        Raises DriverFailure when the process dies or the time runs out; any
        other interruption (the runner's own per-image timeout, Ctrl-C) stops
        the process too, since it may still be busy, and is re-raised."""
        self.module = None
        try:
            self.process.stdin.write((json.dumps(message) + "\n").encode())
            self.process.stdin.flush()
            deadline = time.monotonic() + timeout
            while True:
                line = self._read_line(deadline, doing, timeout)
                reply = json.loads(line)
                if "module" in reply:
                    self.module = reply["module"]
                    continue
                self._stderr_start = os.path.getsize(self.workdir / "stderr.log")
                return reply
        except BrokenPipeError:
            raise self._crashed(doing) from None
        except BaseException:
            self.close()
            raise

    def _read_line(self, deadline: float, doing: str, timeout: float) -> bytes:
        fd = self.process.stdout.fileno()
        while b"\n" not in self._buffer:
            left = deadline - time.monotonic()
            if left <= 0:
                self.close()
                where = f" in module {self.module}" if self.module else ""
                raise DriverFailure(f"CellProfiler took longer than {timeout:g} s {doing}{where}; it was stopped", timed_out=True)
            ready, _, _ = select.select([fd], [], [], left)
            if ready:
                chunk = os.read(fd, 1 << 16)
                if not chunk:
                    raise self._crashed(doing)
                self._buffer += chunk
        line, self._buffer = self._buffer.split(b"\n", 1)
        return line

    def _crashed(self, doing: str) -> DriverFailure:
        code = self.process.wait()
        how = f"killed by signal {-code}" if code < 0 else f"exit code {code}"
        where = f" in module {self.module}" if self.module else ""
        last = self.stderr_tail()
        self.close()
        return DriverFailure(f"CellProfiler crashed ({how}) {doing}{where}" + (f": {last}" if last else ""))

    def stderr_tail(self) -> str:
        """The last line naming an error that CellProfiler wrote to stderr since
        its last reply (``Fatal Python error: Segmentation fault``), or ''."""
        try:
            with open(self.workdir / "stderr.log", "rb") as log:
                log.seek(self._stderr_start)
                lines = log.read().decode(errors="replace").splitlines()
        except OSError:
            return ""
        errors = [line.strip() for line in lines if _ERROR_LINE.match(line)]
        return errors[-1][:300] if errors else ""

    def close(self) -> None:
        """Stop the process (if running) and remove its temporary folder."""
        process = getattr(self, "process", None)
        if process is not None and process.poll() is None:
            try:
                os.killpg(process.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                process.kill()
            process.wait()
        if process is not None:
            for stream in (process.stdin, process.stdout):
                try:
                    stream.close()
                except OSError:
                    pass
        self._stderr.close()
        shutil.rmtree(self.workdir, ignore_errors=True)


def remove_stale_workdirs(root: str | Path | None = None) -> list[Path]:
    """Remove the drivers' temporary folders under ``root`` (default: the
    system's temporary folder) whose processes have all ended; returns them.

    Only a folder (not a link) of this user, named ``WORKDIR_PREFIX*``, whose
    :data:`OWNER_MARKER` names processes that all no longer run is removed."""
    stale = [f for f in Path(root or tempfile.gettempdir()).glob(WORKDIR_PREFIX + "*") if _abandoned(f)]
    for folder in stale:
        shutil.rmtree(folder, ignore_errors=True)
    return stale


def _abandoned(folder: Path) -> bool:
    """True when ``folder`` is a driver's folder of this user whose processes have all ended."""
    try:
        info = folder.lstat()
        marker = folder / OWNER_MARKER
        if not stat.S_ISDIR(info.st_mode) or info.st_uid != os.getuid() or not stat.S_ISREG(marker.lstat().st_mode):
            return False
        with open(marker, "rb") as stream:
            pids = json.loads(stream.read(200))["pids"]
    except (OSError, ValueError, KeyError, TypeError):
        return False
    valid = isinstance(pids, list) and pids and all(isinstance(p, int) and not isinstance(p, bool) and p > 0 for p in pids)
    return bool(valid) and not any(_running(pid) for pid in pids)


def _running(pid: int) -> bool:
    """Whether process ``pid`` exists (a reused id counts: the folder is then kept)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # it runs, as another user
        return True
    return True


def driver_for(python: str, start_timeout: float) -> Driver:
    """The running driver of this process for ``python``; a new one if there is none."""
    key = (os.getpid(), python)
    driver = _DRIVERS.get(key)
    if driver is None or not driver.alive:
        _DRIVERS.pop(key, None)
        driver = Driver(python, start_timeout)
        _DRIVERS[key] = driver
    return driver


@atexit.register
def _close_all() -> None:
    for (pid, _), driver in list(_DRIVERS.items()):
        if pid == os.getpid():
            driver.close()
