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


# ---------------------------------------------------------------------------------------------
# run_jobs: a stage's independent jobs (the study's use: tests/test_processes.py)


def _job(seconds: float, value: int, *, progress: bool) -> tuple:
    """A job that takes ``seconds``, reports its progress through ``progress_bar`` and says how
    many threads it had."""
    import time

    import tqdm

    from arsr.workers import progress_bar

    bar = progress_bar(tqdm.tqdm, total=2, desc="steps", disable=not progress)
    time.sleep(seconds)
    bar.update(2)
    bar.close()
    return value, _threads_in_pool(), os.getpid()


def _failing_job(*, progress: bool):
    raise KeyError("no such thing")


def test_run_jobs_returns_results_in_job_order_from_single_threaded_processes(capfd):
    from arsr.workers import Job, run_jobs

    jobs = [Job("slow", _job, (3.0, 0)), Job("quick a", _job, (0.0, 1)), Job("quick b", _job, (0.0, 2))]
    out = run_jobs(jobs, 2, desc="toy jobs")
    assert [v for v, _, _ in out] == [0, 1, 2]  # "slow" finished last
    assert {threads for _, threads, _ in out} == {(1, 1)}
    assert len({pid for _, _, pid in out}) == 2 and os.getpid() not in {pid for _, _, pid in out}
    err = capfd.readouterr().err
    assert "toy jobs (2 processes)" in err and "3/3" in err
    assert "slow: steps 0/2" in err  # the running job's own bar, on the stage's one line


def test_run_jobs_in_one_process_runs_here_with_the_jobs_own_bars(capfd):
    from arsr.workers import Job, run_jobs

    out = run_jobs([Job("a", _job, (0.0, 5)), Job("b", _job, (0.0, 6))], 1, desc="toy jobs")
    assert [v for v, _, _ in out] == [5, 6] and {pid for _, _, pid in out} == {os.getpid()}
    assert "steps" in capfd.readouterr().err and run_jobs([], 0, desc="none") == []
    with pytest.raises(KeyError, match="no such thing") as info:
        run_jobs([Job("a", _job, (0.0, 5)), Job("broken one", _failing_job)], 1, desc="toy jobs")
    assert info.value.__notes__ == ["toy jobs: job broken one failed"]


def test_a_failing_job_names_itself_and_stops_the_others():
    import time

    from arsr.workers import Job, JobError, run_jobs

    t0 = time.perf_counter()
    with pytest.raises(JobError, match=r"toy jobs: job broken one failed: KeyError: 'no such thing'") as info:
        run_jobs([Job("long", _job, (120.0, 0)), Job("broken one", _failing_job)], 2, desc="toy jobs",
                 progress=False)
    assert isinstance(info.value.__cause__, KeyError)
    assert time.perf_counter() - t0 < 60  # the long job was stopped, not waited for


def test_per_process_shares_the_cores(monkeypatch):
    from arsr.workers import per_process

    monkeypatch.setattr(os, "cpu_count", lambda: 4)
    assert [per_process(w, 2) for w in (0, 1, 3)] == [2, 1, 2]
    assert [per_process(w, 1) for w in (0, 1)] == [4, 1] and per_process(0, 0) == 1 and per_process(2, 8) == 1


def test_a_lone_job_runs_here_on_one_thread_as_a_pool_process_would():
    import cv2
    import torch

    from arsr.workers import Job, run_jobs

    before = torch.get_num_threads(), cv2.getNumThreads()
    torch.set_num_threads(2)
    cv2.setNumThreads(2)
    try:
        ((value, threads, pid),) = run_jobs([Job("only", _job, (0.0, 7))], 2, desc="toy jobs", progress=False)
        assert (value, threads, pid) == (7, (1, 1), os.getpid())  # no pool start-up, the pool's one thread
        assert (torch.get_num_threads(), cv2.getNumThreads()) == (2, 2)  # given back
        ((_, threads, _),) = run_jobs([Job("only", _job, (0.0, 7))], 1, desc="toy jobs", progress=False)
        assert threads == (2, 2)  # processes: 1, the stage's process as it is
    finally:
        torch.set_num_threads(before[0])
        cv2.setNumThreads(before[1])
