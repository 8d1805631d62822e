"""``workers``, one meaning everywhere: how many processes do a stage's parallel work.

* ``0``: one per CPU core (``os.cpu_count()``);
* ``1``: this process, no pool (no start-up cost: the right choice for small jobs);
* ``n > 1``: a pool of ``n`` spawned processes, each kept to one thread (:func:`single_threaded`),
  so that ``n`` processes use ``n`` cores.

The synthetic generator, ``prepare``, the evaluation's flow/quality jobs and the recognisers' data
loaders (``workers`` loading processes: 1 = batches made in the training process) all read it so.
"""
from __future__ import annotations

import os
import sys
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context

__all__ = ["worker_count", "loader_workers", "single_threaded", "process_pool"]


def worker_count(workers: int | None) -> int:
    """Processes for ``workers`` (0 or None: one per core); at least 1."""
    if workers is not None and (isinstance(workers, bool) or not isinstance(workers, int) or workers < 0):
        raise ValueError(f"workers = {workers!r}: 0 (one per core), 1 (this process) or more")
    return int(workers) if workers else (os.cpu_count() or 1)


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
