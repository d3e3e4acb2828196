"""Executors: run picklable jobs in-process, in a process pool, or on Dask.

All three expose :meth:`Executor.submit` and :meth:`Executor.wait`, which
returns ``(job, result, error)`` for jobs as they finish (in completion order),
and :meth:`Executor.stream`, which keeps :attr:`Executor.slots` jobs in flight
and no more, each chosen by the caller when a slot frees (a training unlocks
its predictions: :mod:`segbench.run.schedule`), yielding outcomes as they
finish so each result is stored the moment it exists.

- ``local``: in this process, one job at a time (simplest to debug).
- ``processes``: a pool of N worker processes (``spawn``, so no library state
  is inherited from the parent).
- ``dask``: a ``dask.distributed`` cluster: a LocalCluster of N single-threaded
  worker processes by default, or an existing scheduler given by ``address``.
  Workers must see the suite's output folder (a shared filesystem) because
  training caches live there.
"""

from __future__ import annotations

import multiprocessing
import os
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from typing import Any, Callable, Iterator

from ..errors import SegbenchError

__all__ = ["Executor", "LocalExecutor", "ProcessExecutor", "DaskExecutor", "make_executor"]

Outcome = tuple[Any, Any, BaseException | None]


class Executor:
    """Base class; use as a context manager."""

    kind = ""

    def __init__(self, workers: int = 1):
        self.workers = workers

    def __enter__(self) -> "Executor":
        return self

    def __exit__(self, exc_type, *exc) -> None:
        self.close(abandon=exc_type is not None)

    def close(self, abandon: bool = False) -> None:
        """Release the workers; with ``abandon`` (the run is stopping on an
        error or Ctrl-C) running jobs are not waited for."""

    @property
    def slots(self) -> int:
        """Jobs that run at the same time."""
        return self.workers

    @property
    def in_flight(self) -> int:
        """Jobs submitted and not yet returned by :meth:`wait`."""
        raise NotImplementedError

    def submit(self, fn: Callable[[Any], Any], job: Any) -> None:
        """Start ``fn(job)`` (or queue it until a worker is free)."""
        raise NotImplementedError

    def wait(self, timeout: float | None = None) -> list[Outcome]:
        """Outcomes of the jobs that finished; blocks until at least one has,
        or until ``timeout`` seconds passed (then possibly an empty list)."""
        raise NotImplementedError

    def stream(
        self, fn: Callable[[Any], Any], next_job: Callable[[int], Any], timeout: Callable[[], float | None]
    ) -> Iterator[list[Outcome]]:
        """Keep :attr:`slots` jobs in flight, each the next ``next_job(slots)``
        gives (None: none can start now), running ``fn(job)``; after each wait
        (at most ``timeout()`` seconds) yield the outcomes that finished (maybe
        none). Ends when nothing is in flight and ``next_job`` has nothing."""
        while True:
            while self.in_flight < self.slots:
                job = next_job(self.slots)
                if job is None:
                    break
                self.submit(fn, job)
            if not self.in_flight:
                return
            yield self.wait(timeout=timeout())


class LocalExecutor(Executor):
    """Runs each job inside :meth:`wait`, in this process, one at a time."""

    kind = "local"

    def __init__(self, workers: int = 1):
        super().__init__(1)
        self._queue: list[tuple[Callable, Any]] = []

    @property
    def in_flight(self) -> int:
        return len(self._queue)

    def submit(self, fn, job) -> None:
        self._queue.append((fn, job))

    def wait(self, timeout=None):
        if not self._queue:
            return []
        fn, job = self._queue.pop(0)
        try:
            return [(job, fn(job), None)]
        except Exception as exc:  # noqa: BLE001 - reported per job
            return [(job, None, exc)]


#: thread-pool variables of numpy's BLAS, OpenMP (torch), MKL and TensorFlow
THREAD_VARIABLES = (
    "OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS",
    "TF_NUM_INTRAOP_THREADS", "TF_NUM_INTEROP_THREADS",
)


def worker_thread_env(workers: int) -> dict[str, str]:
    """Thread-count variables that share the machine's cores among ``workers``
    processes (so N workers with N threads each do not oversubscribe the CPU);
    variables the user already set are kept."""
    threads = str(max(1, (os.cpu_count() or 1) // max(1, workers)))
    return {name: os.environ.get(name, threads) for name in THREAD_VARIABLES}


def _init_worker(env: dict[str, str]) -> None:
    """Set the thread-count variables, and end this worker when its parent
    dies (kill -9 included), so no worker outlives the run."""
    os.environ.update(env)
    exit_with_parent()


def exit_with_parent() -> None:
    """Linux: ask the kernel to SIGKILL this process when its parent dies
    (``PR_SET_PDEATHSIG``); elsewhere a daemon thread polls the parent's pid."""
    parent = os.getppid()
    try:
        import ctypes
        import signal

        libc = ctypes.CDLL(None, use_errno=True)
        if libc.prctl(1, signal.SIGKILL, 0, 0, 0) == 0:  # 1 = PR_SET_PDEATHSIG
            if os.getppid() != parent:  # the parent died before the request took effect
                os._exit(1)
            return
    except (OSError, AttributeError):
        pass
    import threading
    import time

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(1.0)
        os._exit(1)

    threading.Thread(target=watch, daemon=True, name="segbench-exit-with-parent").start()


class ProcessExecutor(Executor):
    """A pool of ``workers`` processes."""

    kind = "processes"

    def __init__(self, workers: int = 2):
        super().__init__(workers)
        self._pool = ProcessPoolExecutor(
            workers,
            mp_context=multiprocessing.get_context("spawn"),
            initializer=_init_worker,
            initargs=(worker_thread_env(workers),),
        )
        self._futures: dict = {}

    def close(self, abandon: bool = False) -> None:
        if abandon:  # the workers end with this process (exit_with_parent)
            for process in list(getattr(self._pool, "_processes", {}).values()):
                process.terminate()
        self._pool.shutdown(wait=not abandon, cancel_futures=True)

    @property
    def in_flight(self) -> int:
        return len(self._futures)

    def submit(self, fn, job) -> None:
        self._futures[self._pool.submit(fn, job)] = job

    def wait(self, timeout=None):
        done, _ = wait(self._futures, timeout=timeout, return_when=FIRST_COMPLETED)
        outcomes = []
        for future in done:
            job = self._futures.pop(future)
            exc = future.exception()
            outcomes.append((job, None if exc else future.result(), exc))
        return outcomes


class DaskExecutor(Executor):
    """Jobs as ``dask.distributed`` futures, collected as they complete."""

    kind = "dask"

    def __init__(self, workers: int = 2, address: str | None = None, tls: dict[str, str] | None = None):
        super().__init__(workers)
        try:
            from dask.distributed import Client, LocalCluster
        except ImportError:
            raise SegbenchError(
                "executor.kind: dask needs dask.distributed; install it with "
                "`pip install 'segbench[dask]'` or use kind: processes"
            ) from None
        self._cluster = None
        if address:
            security = None
            if tls:
                from distributed.security import Security

                security = Security(
                    tls_ca_file=tls["ca_file"], tls_client_cert=tls["cert"], tls_client_key=tls["key"],
                    require_encryption=True,
                )
            try:
                self._client = Client(address, timeout="10s", security=security)
            except OSError as exc:
                raise SegbenchError(
                    f"executor.address: cannot reach the Dask scheduler at {address} ({exc}); "
                    "start it with `dask scheduler` or fix the address"
                ) from None
        else:
            self._cluster = LocalCluster(
                n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None,
                env=worker_thread_env(workers),
            )
            self._client = Client(self._cluster)
        self._futures: dict = {}

    def close(self, abandon: bool = False) -> None:
        self._client.close()
        if self._cluster is not None:
            self._cluster.close()

    @property
    def slots(self) -> int:
        """The cluster's worker threads (``workers`` for the local cluster)."""
        if self._cluster is not None:
            return self.workers
        return max(1, sum(self._client.nthreads().values()))

    @property
    def in_flight(self) -> int:
        return len(self._futures)

    def submit(self, fn, job) -> None:
        self._futures[self._client.submit(fn, job, pure=False)] = job

    def wait(self, timeout=None):
        from dask.distributed import wait as dask_wait

        try:
            done, _ = dask_wait(list(self._futures), timeout=timeout, return_when="FIRST_COMPLETED")
        except TimeoutError:
            return []
        outcomes = []
        for future in done:
            job = self._futures.pop(future)
            try:
                outcomes.append((job, future.result(), None))
            except Exception as exc:  # noqa: BLE001
                outcomes.append((job, None, exc))
        return outcomes


def make_executor(kind: str, workers: int = 1, address: str | None = None, tls=None) -> Executor:
    """The executor a suite asks for (a Dask ``address`` is checked by
    :func:`check_address` before a run writes anything)."""
    if kind == "local":
        return LocalExecutor(1)
    if kind == "processes":
        return ProcessExecutor(workers)
    if kind == "dask":
        return DaskExecutor(workers, address, tls)
    raise SegbenchError(f"executor.kind: unknown executor {kind!r}; use local, processes or dask")


def check_address(address: str | None, confirmed: bool) -> None:
    """Refuse a scheduler on another machine that the user did not confirm."""
    if address and not confirmed and not is_local_address(address):
        raise SegbenchError(
            f"executor.address: {address} is not on this machine, and a suite file alone may not "
            "send work to another machine's scheduler (whoever runs it runs code in this process); "
            f"if you trust it, confirm with --address {address}"
        )


def is_local_address(address: str) -> bool:
    """True when a scheduler address (``tcp://host:port``, ``host:port``) names
    this machine: a loopback address, ``localhost`` or this host's name."""
    import ipaddress
    import socket
    from urllib.parse import urlsplit

    host = urlsplit(address if "://" in address else f"tcp://{address}").hostname or ""
    if host in ("localhost", socket.gethostname()):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
