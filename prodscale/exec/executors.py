"""Where tasks run: inline (``-j 1``), a local pool of worker processes, or a Dask cluster.

All three offer ``submit(fn, *args) -> future`` and ``wait_any(futures) -> done futures``; the
builder schedules against this interface only, so the same rules give the same bytes on any of
them. Futures expose ``result()`` (raising the task's exception).
"""

from __future__ import annotations

import concurrent.futures as cf
import multiprocessing
import os
from typing import Any, Protocol
from collections.abc import Callable, Iterable

from prodscale.errors import UsageError


# workers beyond this many per usable core only add processes, memory and contention: -j is capped there
MAX_WORKERS_PER_CORE = 4


def usable_cores() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not Linux
        return max(1, os.cpu_count() or 1)


class Executor(Protocol):
    """What the builder needs of an executor (local processes, Dask, or this process)."""

    name: str
    workers: int  # how many tasks run at once: the builder keeps about three per worker in flight

    @property
    def inline(self) -> bool:
        """True while a task runs in this process (it is then handed the builder's own worker)."""

    def submit(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any: ...

    def wait_any(self, futures: Iterable[Any]) -> set[Any]: ...

    def shutdown(self, cancel: bool = False) -> None: ...


class InlineExecutor:
    """Runs each task at submit time in this process (``-j 1``, dry runs, ``why``)."""

    name = "inline"
    workers = 1
    inline = True

    def submit(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> cf.Future[Any]:
        fut: cf.Future[Any] = cf.Future()
        try:
            fut.set_result(fn(*args, **kwargs))
        except BaseException as exc:
            if isinstance(exc, KeyboardInterrupt):
                raise
            fut.set_exception(exc)
        return fut

    def wait_any(self, futures: Iterable[Any]) -> set[Any]:
        return {f for f in futures if f.done()}

    def shutdown(self, cancel: bool = False) -> None:
        return None


def _worker_init() -> None:
    """Runs in each forked worker: never hold the project lock, die with the parent, leave Ctrl-C to it."""
    import gc
    import signal

    from prodscale.storage.lock import release_inherited
    release_inherited()
    # what the worker inherited from the build process (its state, rule data, modules) lives as
    # long as the worker: out of the collector's sight, so collections only walk the task's own
    gc.freeze()
    gc.enable()  # forked from a build that paused collection: a worker runs for a whole build
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    # a background job turns SIGTERM into an exception in its own main thread; a worker inherits that
    # handler with the fork, and `jobs cancel` signals the whole group: a worker just ends, without a word
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    try:  # Linux: a worker whose build was killed exits instead of lingering as an orphan
        import ctypes
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
        if os.getppid() == 1:
            os._exit(1)
    except (OSError, AttributeError):  # pragma: no cover - not Linux
        pass


class LocalPoolExecutor:
    """A pool of worker processes on this machine."""

    name = "local"
    inline = False

    def __init__(self, workers: int) -> None:
        self.workers = workers
        # fork keeps start-up cheap (no re-import); workers open their own cache connection
        ctx = multiprocessing.get_context("fork")
        self._pool = cf.ProcessPoolExecutor(max_workers=workers, mp_context=ctx, initializer=_worker_init)

    def submit(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> cf.Future[Any]:
        return self._pool.submit(fn, *args, **kwargs)

    def wait_any(self, futures: Iterable[Any]) -> set[Any]:
        done, _ = cf.wait(list(futures), return_when=cf.FIRST_COMPLETED)
        return set(done)

    def shutdown(self, cancel: bool = False) -> None:
        if cancel:
            for proc in list(getattr(self._pool, "_processes", {}).values()):
                if proc.is_alive():
                    proc.terminate()
        self._pool.shutdown(wait=True, cancel_futures=cancel)


class DaskExecutor:
    """Tasks on a Dask distributed cluster (``--executor dask --scheduler tcp://HOST:PORT``).

    Workers must see the project folder at the same path (a shared file system), as the cache and
    the content store live there."""

    name = "dask"
    inline = False

    def __init__(self, address: str | None, jobs: int | None = None) -> None:
        try:
            from distributed import Client, LocalCluster
        except ImportError:
            raise UsageError("the dask executor needs the 'distributed' package",
                             hint="pip install 'prodscale[dask]'") from None
        # distributed's constructors and close() are not annotated: they are called through Any
        new_cluster: Callable[..., Any] = LocalCluster
        new_client: Callable[..., Any] = Client
        self._cluster: Any = None
        if not address:
            # no --scheduler: a LocalCluster on this machine, as the help says (one process a worker)
            self._cluster = new_cluster(n_workers=jobs or usable_cores(), threads_per_worker=1, processes=True,
                                        dashboard_address=None, host="127.0.0.1")
            self._client = new_client(self._cluster, set_as_default=False)
        else:
            self._client = new_client(address, set_as_default=False)
        self.workers = max(1, len(self._client.scheduler_info().get("workers", {})))

    def submit(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        # pure=False: the same arguments may legitimately be run again (e.g. after a crash)
        return self._client.submit(fn, *args, pure=False, **kwargs)

    def wait_any(self, futures: Iterable[Any]) -> set[Any]:
        import time
        futures = list(futures)
        delay = 0.001
        while True:  # the client's futures report done() without a default client
            done = {f for f in futures if f.done()}
            if done or not futures:
                return done
            time.sleep(delay)
            delay = min(delay * 2, 0.05)

    def shutdown(self, cancel: bool = False) -> None:
        self._client.close()
        if self._cluster is not None:
            self._cluster.close()


class AutoExecutor:
    """Tasks wait until the build shows its size: a small one runs them in this process, a larger
    one starts a local pool and sends them there.

    A one-scene edit is a handful of tasks of one story: forking workers would cost more than the
    work. Tasks are queued, not run, at submit; if more than ``inline_tasks`` are queued before
    anyone waits for a result, the pool starts and takes them all, otherwise the first wait runs
    the queue here. Which process ran a task never shows in the outputs."""

    name = "local"

    def __init__(self, workers: int, inline_tasks: int = 5) -> None:
        self.workers = workers
        self._pool: LocalPoolExecutor | None = None
        self._limit = inline_tasks
        self._queued: list[tuple[cf.Future[Any], Callable[..., Any], tuple[Any, ...], dict[str, Any]]] = []
        self._decided_inline = False

    @property
    def inline(self) -> bool:
        """True while a task may still run in this process (callers then pass their own worker)."""
        return self._pool is None

    def submit(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> cf.Future[Any]:
        if self._pool is not None:
            kwargs.pop("worker", None)  # pool workers open their own cache
            return self._pool.submit(fn, *args, **kwargs)
        fut: cf.Future[Any] = cf.Future()
        self._queued.append((fut, fn, args, kwargs))
        if not self._decided_inline and len(self._queued) > self._limit:
            self._start_pool()
        return fut

    def _start_pool(self) -> None:
        self._pool = LocalPoolExecutor(self.workers)
        queued, self._queued = self._queued, []
        for fut, fn, args, kwargs in queued:
            kwargs.pop("worker", None)
            _chain(self._pool.submit(fn, *args, **kwargs), fut)

    def _run_queued(self) -> None:
        self._decided_inline = True  # once results were needed here, stay here: no fork mid-way
        queued, self._queued = self._queued, []
        runner = InlineExecutor()
        for fut, fn, args, kwargs in queued:
            _chain(runner.submit(fn, *args, **kwargs), fut)

    def wait_any(self, futures: Iterable[Any]) -> set[Any]:
        futures = list(futures)
        if self._pool is None and self._queued:
            self._run_queued()
        done = {f for f in futures if f.done()}
        if done or self._pool is None:
            return done
        return self._pool.wait_any(futures)

    def shutdown(self, cancel: bool = False) -> None:
        for fut, *_ in self._queued:
            fut.cancel()
        self._queued = []
        if self._pool is not None:
            self._pool.shutdown(cancel)


def _chain(source: cf.Future[Any], target: cf.Future[Any]) -> None:
    """Complete ``target`` with ``source``'s outcome (now, or when it completes)."""
    def copy(f: cf.Future[Any]) -> None:
        if target.done():
            return
        if f.cancelled():
            target.cancel()
            return
        exc = f.exception()
        if exc is not None:
            target.set_exception(exc)
        else:
            target.set_result(f.result())
    source.add_done_callback(copy)


def make_executor(name: str, jobs: int | None, scheduler: str | None) -> Executor:
    if name == "dask":
        return DaskExecutor(scheduler, jobs)
    if name != "local":
        raise UsageError(f"unknown executor '{name}'", hint="use local or dask")
    n = jobs if jobs is not None else usable_cores()
    if n < 1:
        raise UsageError("-j needs a number of workers of at least 1")
    n = min(n, MAX_WORKERS_PER_CORE * usable_cores())   # -j 400 on 2 cores forked 403 processes
    return InlineExecutor() if n == 1 else AutoExecutor(n)
