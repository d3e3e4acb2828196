"""Executors: run picklable jobs in-process, in a process pool, or on Dask.

All three expose one method, :meth:`Executor.run`, which yields
``(job, result, error)`` as jobs finish (in completion order), so the runner
can store each result the moment it exists.

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
from typing import Any, Callable, Iterable, Iterator

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

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        pass

    def run(self, fn: Callable[[Any], Any], jobs: Iterable[Any]) -> Iterator[Outcome]:
        raise NotImplementedError


class LocalExecutor(Executor):
    kind = "local"

    def run(self, fn, jobs):
        for job in jobs:
            try:
                yield job, fn(job), None
            except Exception as exc:  # noqa: BLE001 - reported per job
                yield job, None, exc


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


def _set_worker_env(env: dict[str, str]) -> None:
    os.environ.update(env)


class ProcessExecutor(Executor):
    """A pool of ``workers`` processes; at most ``2 * workers`` jobs in flight so
    results stream back (and are stored) while later jobs wait."""

    kind = "processes"

    def __init__(self, workers: int = 2):
        super().__init__(workers)
        self._pool = ProcessPoolExecutor(
            workers,
            mp_context=multiprocessing.get_context("spawn"),
            initializer=_set_worker_env,
            initargs=(worker_thread_env(workers),),
        )

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)

    def run(self, fn, jobs):
        pending: dict = {}
        job_iter = iter(jobs)
        exhausted = False
        while True:
            while not exhausted and len(pending) < 2 * self.workers:
                try:
                    job = next(job_iter)
                except StopIteration:
                    exhausted = True
                    break
                pending[self._pool.submit(fn, job)] = job
            if not pending:
                return
            done, _ = wait(pending, return_when=FIRST_COMPLETED)
            for future in done:
                job = pending.pop(future)
                exc = future.exception()
                yield job, (None if exc else future.result()), exc


class DaskExecutor(Executor):
    """Jobs as ``dask.distributed`` futures, collected as they complete."""

    kind = "dask"

    def __init__(self, workers: int = 2, address: str | None = None):
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
            try:
                self._client = Client(address, timeout="10s")
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

    def close(self) -> None:
        self._client.close()
        if self._cluster is not None:
            self._cluster.close()

    def run(self, fn, jobs):
        from dask.distributed import as_completed

        futures = {}
        for job in jobs:
            futures[self._client.submit(fn, job, pure=False)] = job
        for future in as_completed(futures):
            job = futures[future]
            try:
                yield job, future.result(), None
            except Exception as exc:  # noqa: BLE001
                yield job, None, exc


def make_executor(kind: str, workers: int = 1, address: str | None = None) -> Executor:
    if kind == "local":
        return LocalExecutor(1)
    if kind == "processes":
        return ProcessExecutor(workers)
    if kind == "dask":
        return DaskExecutor(workers, address)
    raise SegbenchError(f"executor.kind: unknown executor {kind!r}; use local, processes or dask")
