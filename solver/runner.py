"""One runner for the commands that run many cases (sweep, validate, fit): jobs on Dask.

`DaskRunner` connects to a running scheduler (its address, or a `distributed.Client` to
use and leave open) or starts a LocalCluster of worker processes, one thread each, and
closes what it started. `DaskRunner.run` submits `function(*arguments(job), **options)`
for each job, a few per worker at a time (the jobs may be a lazy iterator), and yields
(job, outcome) as they finish; an exception raised in a worker (or a worker that died)
comes back as `error_outcome(job, exc)`, so a caller turns it into a row with a status,
never a traceback. A Ctrl-C reaches the client only (the local workers ignore SIGINT),
which cancels the runs not finished.

`run_all` is the whole cycle for a list of jobs: outcomes in job order, with a progress
bar. `progress_bar` is the bar of sweep and validate (tqdm, on stderr, on a terminal only).
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import sys

from .errors import InputError, RunInterrupted, shorten
from .signals import signal_handlers

# The longest wait for a scheduler given by its address to answer (s).
CONNECT_TIMEOUT_S = 10


def progress_bar(total: int, unit: str, desc: str, enabled: bool = True, initial: int = 0):
    """A tqdm bar on stderr over `total` items, drawn on a terminal only (and not when
    `enabled` is false), so that captured or redirected stderr stays free of it."""
    from tqdm import tqdm

    show = enabled and sys.stderr.isatty()
    return tqdm(total=total, initial=initial, unit=unit, desc=desc, file=sys.stderr,
                disable=not show, dynamic_ncols=True, leave=True, miniters=0,
                mininterval=0.5)


def default_workers(n_jobs: int) -> int:
    """Worker processes of a local cluster: the CPU cores, at most one per job."""
    return max(1, min(os.cpu_count() or 1, n_jobs))


class DaskRunner:
    """A Dask client for a batch of runs; a context manager that closes what it started.

    scheduler: None (a local cluster of `workers` processes), an address such as
    "tcp://host:8786", or a `distributed.Client` (used as is, left open). A wrong address
    raises InputError("scheduler", ...) before anything runs.
    """

    def __init__(self, workers: int = 1, scheduler=None):
        self.client, self.cluster = _connect(scheduler, workers)
        self._own_client = self.client is not scheduler

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def close(self):
        with signals_deferred():      # a second Ctrl-C must not leave it half closed
            if self.client is not None and self._own_client:
                self.client.close()
            if self.cluster is not None:
                self.cluster.close()
            self.client = self.cluster = None

    @property
    def n_workers(self) -> int:
        return max(1, sum(self.client.nthreads().values()))

    def run(self, function, jobs, arguments, key, error_outcome, **options):
        """Yield (job, outcome) as the runs finish: outcome = function(*arguments(job),
        **options) on a worker, or error_outcome(job, exc) when it raised (RunInterrupted
        excepted: it stops the batch). key(job) names the task on the cluster (unique per
        batch). The runs not finished when the caller stops early are cancelled."""
        from distributed import as_completed

        jobs = iter(jobs)
        window = 2 * self.n_workers
        futures = {}

        def submit():
            job = next(jobs, None)
            if job is None:
                return None
            future = self.client.submit(function, *arguments(job), key=key(job), pure=False,
                                        **options)
            futures[future] = job
            return future

        try:
            first = [f for f in (submit() for _ in range(window)) if f is not None]
            running = as_completed(first)
            for future in running:
                job = futures.pop(future)
                try:
                    outcome = future.result()
                except RunInterrupted:
                    raise
                except Exception as exc:  # noqa: BLE001 - e.g. a worker that died
                    outcome = error_outcome(job, exc)
                following = submit()
                if following is not None:
                    running.add(following)
                yield job, outcome
        finally:
            if futures:                    # interrupted: the runs not finished are dropped
                try:
                    self.client.cancel(list(futures))
                except Exception:  # noqa: BLE001 - shutting down anyway
                    pass


def run_all(function, jobs: list, arguments, key, error_outcome, workers=None, scheduler=None,
            progress: bool = False, desc: str = "runs", describe=None, **options) -> list:
    """Outcomes of every job, in job order, run on a DaskRunner (see DaskRunner.run).

    workers: local worker processes (default: the CPU cores, at most one per job);
    scheduler: as for DaskRunner. progress: a bar on stderr (terminal only), its postfix
    `describe(job, outcome)` of the last run finished.
    """
    jobs = list(jobs)
    if not jobs:
        return []
    outcomes = [None] * len(jobs)
    with DaskRunner(workers or default_workers(len(jobs)), scheduler) as runner, \
            progress_bar(len(jobs), "run", desc, enabled=progress) as bar:
        for k, outcome in runner.run(function, range(len(jobs)),
                                     lambda k: arguments(jobs[k]), lambda k: key(jobs[k]),
                                     lambda k, exc: error_outcome(jobs[k], exc), **options):
            outcomes[k] = outcome
            if describe is not None:
                bar.set_postfix_str(describe(jobs[k], outcome), refresh=False)
            bar.update(1)
    return outcomes


def _check_is_scheduler(address) -> None:
    """A Dask scheduler answers at `address`, within CONNECT_TIMEOUT_S in all: a
    distributed.Client waits for ever on a server that accepts the connection but speaks
    another protocol (an HTTP server at that port, a dashboard's address). In a thread of
    its own, so that it also runs where an event loop is running (a notebook)."""
    import asyncio
    from concurrent.futures import ThreadPoolExecutor

    from distributed.comm import connect

    async def identity():
        comm = await connect(address, timeout=CONNECT_TIMEOUT_S)
        try:
            await comm.write({"op": "identity", "reply": True})
            return await comm.read()
        finally:
            comm.abort()

    def ask():
        try:
            return asyncio.run(asyncio.wait_for(identity(), CONNECT_TIMEOUT_S))
        except TimeoutError as exc:
            raise TimeoutError(str(exc) or f"no answer within {CONNECT_TIMEOUT_S} s") from None
        except (OSError, ValueError, TypeError):
            raise
        except Exception as exc:        # noqa: BLE001 - whatever the other end sent
            raise ValueError(f"no Dask scheduler answers there ({type(exc).__name__})") \
                from None

    with ThreadPoolExecutor(1) as pool:
        reply = pool.submit(ask).result()
    if not (isinstance(reply, dict) and reply.get("type") == "Scheduler"):
        raise ValueError(f"it answered as {shorten(repr(reply), 60)}, not as a Dask scheduler")


def _connect(scheduler, n_workers):
    """(client, local cluster or None): the given Client, one connected to the scheduler's
    address, or a new LocalCluster of `n_workers` processes with one thread each."""
    import dask
    from distributed import Client, LocalCluster

    if isinstance(scheduler, Client):
        return scheduler, None
    if scheduler is not None:
        try:
            _check_is_scheduler(scheduler)
            return Client(scheduler, timeout=f"{CONNECT_TIMEOUT_S}s"), None
        except (OSError, TimeoutError, ValueError, TypeError) as exc:
            raise InputError("scheduler", scheduler,
                             f"the address of a running Dask scheduler, such as "
                             f"tcp://host:8786 (could not connect: {exc})") from None
    # the workers ignore SIGINT (dask_setup below): a Ctrl-C, sent to the whole process
    # group, stops this process only, which cancels the runs and closes the cluster
    # no statistical profiler on the workers: it samples every thread's stack every 10 ms,
    # some 10 % of the CPU time of a run (measured), for a dashboard nobody opens here
    # no logs but critical ones: an error in a run comes back as its outcome, and a worker
    # whose heartbeat finds the scheduler closing (a sweep stopped by a signal) would
    # print a traceback
    cluster = None
    try:
        with signals_deferred(), _ctrl_c_ignored(), \
                dask.config.set({"distributed.worker.profile.enabled": False}):
            cluster = LocalCluster(n_workers=n_workers, threads_per_worker=1,
                                   processes=True, dashboard_address=":0",
                                   silence_logs=logging.CRITICAL, preload=[__name__])
            client = Client(cluster)
        return client, cluster
    except BaseException:
        if cluster is not None:
            with signals_deferred():
                cluster.close()
        raise


@contextlib.contextmanager
def signals_deferred():
    """SIGINT and SIGTERM received in the block take effect when it ends, through the
    handlers in place before it: for what a signal must not cut in half (a cluster
    stopped half started or half closed leaves processes behind, and distributed's exit
    hook fails on it with a traceback; a table half written)."""
    received = []
    try:
        with signal_handlers(dict.fromkeys((signal.SIGINT, signal.SIGTERM),
                                           lambda number, frame: received.append(number))):
            yield
    finally:
        if received:
            signal.raise_signal(received[0])       # to the handler restored


def _ctrl_c_ignored():
    """SIGINT ignored while the block runs, and by the processes it starts, which inherit
    that (no handler): the terminal sends Ctrl-C to the whole process group, and a worker
    process still importing (before dask_setup) printed a KeyboardInterrupt traceback.
    A Ctrl-C in the second or two of the start is lost (press it again); SIGTERM is not."""
    return signal_handlers({signal.SIGINT: signal.SIG_IGN})


def dask_setup(worker):
    """Worker preload of the local cluster: leave Ctrl-C to the client process."""
    try:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
    except ValueError:              # not the main thread of the worker process
        pass
