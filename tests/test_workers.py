"""``workers``: one meaning everywhere (0 = one per core, 1 = this process, n = n processes)."""
from __future__ import annotations

import os
import subprocess
import sys

import pytest

from arsr.workers import loader_workers, process_pool, worker_count


def test_worker_count_and_loader_workers(monkeypatch):
    monkeypatch.setattr(os, "cpu_count", lambda: 6)
    assert [worker_count(w) for w in (0, None, 1, 3)] == [6, 6, 1, 3]
    # DataLoader: 1 process = batches made in the training process (num_workers 0)
    assert [loader_workers(w) for w in (0, 1, 3)] == [6, 0, 3]
    for bad in (-1, 1.5, True, "2"):
        with pytest.raises(ValueError, match="one per core"):
            worker_count(bad)


def _threads_in_pool() -> tuple[int, int]:
    import cv2
    import torch

    return cv2.getNumThreads(), torch.get_num_threads()


def test_pool_is_none_for_one_process_and_single_threaded_otherwise():
    assert process_pool(1) is None
    assert process_pool(4, jobs=1) is None  # one job: no pool start-up for it
    pool = process_pool(2, jobs=5)
    try:
        assert pool._max_workers == 2
        # torch imported by the job after the initializer still gets one thread
        assert pool.submit(_threads_in_pool).result() == (1, 1)
    finally:
        pool.shutdown()


def test_workers_module_imports_no_torch():
    code = "import sys, arsr.workers; sys.exit('torch' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code]).returncode == 0
