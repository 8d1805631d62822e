"""``workers``, one meaning everywhere: how many processes do a stage's parallel work.

* ``0``: one per CPU core (``os.cpu_count()``);
* ``1``: this process, no pool (no start-up cost: the right choice for small jobs);
* ``n > 1``: a pool of ``n`` spawned processes, each kept to one thread (:func:`single_threaded`),
  so that ``n`` processes use ``n`` cores.

The synthetic generator, ``prepare``, the evaluation's flow/quality jobs and the recognisers' data
loaders (``workers`` loading processes: 1 = batches made in the training process) all read it so,
and so does params.yaml's top-level ``processes``: how many processes a stage runs its independent
jobs in (:func:`run_jobs`: recognisers per seed, SR seeds; :func:`arsr.shards.run_sharded`: the
evaluation's videos).
"""
from __future__ import annotations

import contextlib
import math
import os
import queue as queues
import signal
import sys
import threading
import time
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from dataclasses import dataclass, field
from multiprocessing import get_context
from typing import Any, Callable, Sequence

from .interrupt import REPEAT_S, Interrupted

__all__ = [
    "worker_count",
    "loader_workers",
    "per_process",
    "single_threaded",
    "one_thread",
    "process_pool",
    "Job",
    "JobError",
    "run_jobs",
    "progress_bar",
]


def worker_count(workers: int | None) -> int:
    """Processes for ``workers`` (0 or None: one per core); at least 1."""
    if workers is not None and (isinstance(workers, bool) or not isinstance(workers, int) or workers < 0):
        raise ValueError(f"workers = {workers!r}: 0 (one per core), 1 (this process) or more")
    return int(workers) if workers else (os.cpu_count() or 1)


def per_process(workers: int | None, processes: int | None) -> int:
    """``worker_count(workers)`` for each of ``processes`` processes sharing this machine's cores:
    at most cores // processes (at least 1), so that processes x workers <= cores."""
    share = (os.cpu_count() or 1) // worker_count(processes)
    return max(1, min(worker_count(workers), share))


def loader_workers(workers: int | None) -> int:
    """``torch.utils.data.DataLoader``'s ``num_workers`` for ``workers`` loading processes: 0
    (batches made in this process) for 1, else the process count."""
    n = worker_count(workers)
    return 0 if n == 1 else n


def single_threaded() -> None:
    """A pool process's initializer: one OpenCV thread and one torch thread (the pool is the
    parallelism). torch is not imported for it: a job that imports torch later reads
    ``OMP_NUM_THREADS``; one already imported is set directly."""
    import cv2

    cv2.setNumThreads(1)
    for name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[name] = "1"
    torch = sys.modules.get("torch")
    if torch is not None:
        torch.set_num_threads(1)


def process_pool(workers: int | None, jobs: int | None = None) -> ProcessPoolExecutor | None:
    """A spawned pool of ``worker_count(workers)`` single-threaded processes (at most ``jobs``),
    or None when the work should run in this process (1 process, or at most one job)."""
    n = worker_count(workers)
    if jobs is not None:
        n = min(n, jobs)
    if n <= 1:
        return None
    return ProcessPoolExecutor(n, mp_context=get_context("spawn"), initializer=single_threaded)


# ---------------------------------------------------------------------------------------------
# A stage's independent jobs side by side


@dataclass(frozen=True)
class Job:
    """One independent job of a stage: ``fn(*args, **kwargs, progress=...)``, named ``label`` in
    the progress line and in errors (``"tsn_rgb seed 1"``). In a pool, ``fn`` must be a
    module-level function and its arguments picklable (they go to a spawned process)."""

    label: str
    fn: Callable[..., Any]
    args: tuple = ()
    kwargs: dict = field(default_factory=dict)


class JobError(RuntimeError):
    """A job that :func:`run_jobs` ran in a pool process failed; the message names the job, and
    ``__cause__`` is its error (with the traceback from the pool process)."""


def run_jobs(jobs: Sequence[Job], processes: int | None, *, desc: str, progress: bool = True) -> list:
    """Run independent ``jobs`` and return their results in job order.

    ``processes`` (:func:`worker_count`): 1 runs them one after the other in this process, with
    its threads and each job's own progress bars, as a stage always did; more runs them in a pool
    of spawned single-threaded processes (:func:`single_threaded`; at most one per job), each job
    reporting its progress to one line here (``desc``: jobs done, and where each running one
    is). A lone job (more processes than jobs: one) runs in this process but on one thread too:
    threads sum in another order, and a job's result must not depend on how many others it has.
    A job that fails stops the others (their processes are terminated; what they wrote atomically
    stays, so a re-run resumes) and raises :class:`JobError` naming it; one process re-raises the
    job's own error, with a note naming the job. A pool process whose stage
    process dies stops too, so that a re-run never trains beside an orphan.

    Ctrl-C (``KeyboardInterrupt`` here) stops the jobs in order (:func:`_stop_jobs`): no job
    starts any more, each running one is interrupted (a trainer writes the checkpoint of its
    iteration), and :class:`arsr.interrupt.Interrupted` names where each job stopped."""
    n = min(worker_count(processes), len(jobs))
    if n <= 1:
        results = []
        with one_thread() if worker_count(processes) > 1 else contextlib.nullcontext():
            for job in jobs:
                try:
                    results.append(job.fn(*job.args, **job.kwargs, progress=progress))
                except Interrupted as stopped:
                    raise Interrupted(f"{desc}: {job.label} {stopped}", stopped.signum) from None
                except Exception as err:
                    err.add_note(f"{desc}: job {job.label} failed")
                    raise
        return results
    from tqdm import tqdm

    context = get_context("spawn")
    reports, stopping = context.Queue(), context.Event()
    pool = ProcessPoolExecutor(n, mp_context=context, initializer=_job_process,
                               initargs=(os.getpid(), reports, stopping))
    results: list = [None] * len(jobs)
    running: dict[str, str] = {}
    finished: set[str] = set()  # a job's last message may come after its result
    bar = tqdm(total=len(jobs), unit="job", desc=f"{desc} ({n} processes)", disable=not progress)
    index: dict = {}
    try:
        index = {pool.submit(_run_job, job.label, job.fn, job.args, job.kwargs, progress): i
                 for i, job in enumerate(jobs)}
        pending, shown, line = set(index), 0.0, ""
        while pending:
            done, pending = wait(pending, timeout=0.5, return_when=FIRST_COMPLETED)
            _drain(reports, running, finished)
            for future in sorted(done, key=index.get):
                job = jobs[index[future]]
                err = future.exception()
                if isinstance(err, KeyboardInterrupt):  # a job stopped on a signal: stop the others too
                    raise Interrupted("a job stopped", getattr(err, "signum", signal.SIGINT))
                if err is not None:
                    raise JobError(f"{desc}: job {job.label} failed: {type(err).__name__}: {err} (the other jobs "
                                   "were stopped; finished ones are kept and a re-run resumes)") from err
                results[index[future]] = future.result()
                running.pop(job.label, None)
                finished.add(job.label)
                bar.update(1)
            now = " | ".join(f"{k}: {v}" for k, v in running.items())
            if now != line and (done or time.monotonic() - shown >= 1.0):  # at most once a second, when it moved
                bar.set_postfix_str(now, refresh=True)
                shown, line = time.monotonic(), now
    except KeyboardInterrupt as err:
        bar.close()
        raise _stop_jobs(pool, stopping, index, jobs, desc, getattr(err, "signum", signal.SIGINT)) from None
    except BaseException:
        _terminate(pool)
        raise
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
        bar.close()
        reports.close()
    return results


@contextlib.contextmanager
def one_thread():
    """This process on one torch and one OpenCV thread for the block (what a pool process has)."""
    import cv2
    import torch

    before = torch.get_num_threads(), cv2.getNumThreads()
    torch.set_num_threads(1)
    cv2.setNumThreads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before[0])
        cv2.setNumThreads(before[1])


def _drain(reports, running: dict[str, str], finished: set[str]) -> None:
    """The pool processes' progress messages so far: job label -> where it is (finished jobs left out)."""
    while True:
        try:
            label, text = reports.get_nowait()
        except queues.Empty:
            return
        if label not in finished:
            running[label] = text


#: Seconds :func:`run_jobs` waits, after Ctrl-C, for its running jobs to write their checkpoints
#: before it terminates their processes.
STOP_WAIT_S = 120.0


def _stop_jobs(pool: ProcessPoolExecutor, stopping, index: dict, jobs: Sequence[Job], desc: str,
               signum: int) -> Interrupted:
    """Stop a pool in order after Ctrl-C in the stage process: ``stopping`` keeps queued jobs from
    starting, SIGINT reaches each pool process (a trainer finishes its iteration, writes its
    checkpoint and raises Interrupted; another job raises KeyboardInterrupt where it is, its
    ``finally`` blocks run), the jobs get :data:`STOP_WAIT_S` seconds to end, then what remains
    is terminated. Returns the :class:`Interrupted` naming where each job stopped."""
    stopping.set()
    for future in index:
        future.cancel()  # not yet handed to a process
    try:
        for process in list((getattr(pool, "_processes", None) or {}).values()):
            with contextlib.suppress(OSError):
                os.kill(process.pid, signal.SIGINT)
        wait([f for f in index if not f.done()], timeout=STOP_WAIT_S)
    finally:
        _terminate(pool)
    where = []
    for future in sorted(index, key=index.get):
        if future.done() and not future.cancelled() and isinstance(future.exception(), Interrupted) \
                and str(future.exception()) != NOT_STARTED:
            where.append(f"{jobs[index[future]].label} {future.exception()}")
    return Interrupted(f"{desc}: {'; '.join(where) if where else 'stopped'}", signum)


def _terminate(pool: ProcessPoolExecutor) -> None:
    """Stop the pool's processes now (each gets SIGTERM, which runs its ``finally`` blocks)."""
    stop = getattr(pool, "terminate_workers", None)  # Python >= 3.14
    if stop is not None:
        stop()
        return
    for process in list((getattr(pool, "_processes", None) or {}).values()):
        process.terminate()


class _JobState:
    """In a pool process of :func:`run_jobs`: where progress goes, which job runs, and whether the
    stage process is stopping the pool."""

    reports = None
    stopping = None
    label: str | None = None
    interrupted_at = -math.inf


#: The message of a job that a stopping pool did not start.
NOT_STARTED = "not started"


def _job_process(parent: int, reports, stopping) -> None:
    """A pool process's initializer: single-threaded, progress to ``reports``, SIGTERM raises
    SystemExit (``finally`` blocks remove temporary files), SIGINT interrupts the running job (an
    idle process ignores it), and exit when the stage process is gone."""
    single_threaded()
    _JobState.reports, _JobState.stopping = reports, stopping
    signal.signal(signal.SIGTERM, _exit_on_sigterm)
    signal.signal(signal.SIGINT, _interrupt_job)
    threading.Thread(target=_exit_with, args=(parent,), daemon=True).start()


def _exit_on_sigterm(signum, frame):
    raise SystemExit(128 + signum)


def _interrupt_job(signum, frame):
    # the same Ctrl-C may come twice (the terminal's to the process group, run_jobs' forwarded)
    if _JobState.label is not None and time.monotonic() - _JobState.interrupted_at > REPEAT_S:
        _JobState.interrupted_at = time.monotonic()
        raise KeyboardInterrupt


def _exit_with(parent: int) -> None:
    while os.getppid() == parent:
        time.sleep(1.0)
    os._exit(1)  # the stage process was killed: a re-run must not find this one still training


def _run_job(label: str, fn: Callable[..., Any], args: tuple, kwargs: dict, progress: bool):
    if _JobState.stopping is not None and _JobState.stopping.is_set():
        raise Interrupted(NOT_STARTED)
    _JobState.label = label
    try:
        return fn(*args, **kwargs, progress=progress)
    finally:
        _JobState.label = None


def progress_bar(make: Callable[..., Any], **kwargs):
    """``make(**kwargs)`` (a tqdm class and its arguments); inside a job that :func:`run_jobs`
    runs in a pool process, a stand-in that reports ``desc n/total`` to the stage process's line."""
    if _JobState.reports is None or _JobState.label is None:
        return make(**kwargs)
    return _ReportingBar(**kwargs)


class _ReportingBar:
    """The part of tqdm's interface the trainers and the evaluator use, reporting at most once a
    second (and when closed) to :func:`run_jobs`' line."""

    def __init__(self, total=None, initial: int = 0, desc: str = "", disable: bool = False, **_):
        self.n, self.total, self.desc, self.disable = initial, total, desc, disable
        self._sent = 0.0
        self._send(force=True)

    def _send(self, force: bool = False) -> None:
        now = time.monotonic()
        if self.disable or not (force or now - self._sent >= 1.0):
            return
        self._sent = now
        _JobState.reports.put((_JobState.label, f"{self.desc} {self.n}/{self.total}".strip()))

    def update(self, n: int = 1) -> None:
        self.n += n
        self._send()

    def set_postfix(self, *args, **kwargs) -> None:
        pass

    def close(self) -> None:
        self._send(force=True)
