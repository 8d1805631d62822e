"""arsr.interrupt: Ctrl-C and SIGTERM become a request that a loop answers at a safe point; the
pool of a stage's jobs (arsr.workers.run_jobs) stops in order; the trainers' and the evaluation's
use of it are tested beside their resume tests (test_train_sr, test_recognition_train,
test_evaluate), the stage runner's in test_notebook."""
from __future__ import annotations

import os
import pickle
import signal
import threading
import time
from pathlib import Path

import pytest

import arsr.interrupt as interrupt
from arsr.interrupt import Interrupted, sigterm_as_interrupt, stop_requests


def _signal_self(signum: int) -> None:
    """Deliver ``signum`` to this process and let its Python handler run."""
    signal.raise_signal(signum)
    time.sleep(0.01)


@pytest.mark.parametrize("signum, code", [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_a_signal_is_a_request_answered_at_the_safe_point(signum, code):
    before = signal.getsignal(signum)
    done = []
    with pytest.raises(Interrupted) as info:
        with stop_requests() as stop:
            for it in range(1, 6):
                if it == 2:
                    _signal_self(signum)  # lands mid-iteration: the iteration still finishes
                done.append(it)
                stop.stop_here(f"stopped at iteration {it}")
    assert done == [1, 2] and stop.signum == signum
    assert str(info.value) == "stopped at iteration 2" and info.value.exit_code == code
    assert isinstance(info.value, KeyboardInterrupt)  # `except Exception` lets it through
    assert signal.getsignal(signum) is before  # the handler is the caller's again


def test_the_same_signal_twice_is_one_request_a_later_one_stops_at_once(monkeypatch):
    with pytest.raises(Interrupted):
        with stop_requests() as stop:
            _signal_self(signal.SIGINT)
            _signal_self(signal.SIGINT)  # a terminal's and a forwarded copy: no error here
            stop.stop_here("answered")
    monkeypatch.setattr(interrupt, "REPEAT_S", 0.0)
    with pytest.raises(KeyboardInterrupt) as info:
        with stop_requests() as stop:
            _signal_self(signal.SIGINT)
            time.sleep(0.02)
            _signal_self(signal.SIGINT)  # the user insists: raised where it lands
            pytest.fail("the second signal did not stop the block")
    assert not isinstance(info.value, Interrupted)


def test_a_request_the_block_never_answers_is_not_lost():
    with pytest.raises(Interrupted, match="stopped") as info:
        with stop_requests():
            _signal_self(signal.SIGTERM)
    assert info.value.exit_code == 143
    with stop_requests() as stop:  # no signal: nothing raised
        pass
    assert not stop


def test_sigterm_raises_as_ctrl_c_does_and_runs_finally_blocks():
    cleaned = []
    with pytest.raises(Interrupted) as info:
        with sigterm_as_interrupt():
            try:
                _signal_self(signal.SIGTERM)
                pytest.fail("SIGTERM did not raise")
            finally:
                cleaned.append(True)
    assert cleaned == [True] and info.value.exit_code == 143


def test_interrupted_crosses_a_process_boundary():
    err = pickle.loads(pickle.dumps(Interrupted("stopped at iteration 3 of 9 (last.pt written)", signal.SIGTERM)))
    assert str(err) == "stopped at iteration 3 of 9 (last.pt written)" and err.exit_code == 143


def test_outside_the_main_thread_nothing_is_installed():
    seen = []

    def body():
        with stop_requests() as stop:
            seen.append(bool(stop))
        with sigterm_as_interrupt():
            seen.append(True)

    before = signal.getsignal(signal.SIGINT)
    thread = threading.Thread(target=body)
    thread.start()
    thread.join()
    assert seen == [False, True] and signal.getsignal(signal.SIGINT) is before


# ---------------------------------------------------------------------------------------------
# A stage's pool of jobs (arsr.workers.run_jobs)


def _stoppable_job(folder: str, label: str, *, progress: bool) -> str:
    """A pool job that counts iterations (0.05 s each) until a stop request, then writes its
    count ("checkpoint") and raises Interrupted."""
    Path(folder, f"{label}.running").touch()
    with stop_requests() as stop:
        for it in range(1, 100_000):
            time.sleep(0.05)
            if stop:
                Path(folder, f"{label}.txt").write_text(str(it))
                stop.stop_here(f"stopped at iteration {it}")
    return label


def test_ctrl_c_stops_a_pool_in_order(tmp_path):
    from arsr.workers import Job, run_jobs

    def interrupt_once_both_run():
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and not all((tmp_path / f"{x}.running").exists() for x in "ab"):
            time.sleep(0.05)
        os.kill(os.getpid(), signal.SIGINT)  # the stage process only, as the stage runner sends it

    jobs = [Job(x, _stoppable_job, (str(tmp_path), x)) for x in "abc"]
    timer = threading.Thread(target=interrupt_once_both_run, daemon=True)
    t0 = time.perf_counter()
    timer.start()
    with pytest.raises(Interrupted) as info:
        run_jobs(jobs, 2, desc="toy jobs", progress=False)
    timer.join()
    a, b = ((tmp_path / f"{x}.txt").read_text() for x in "ab")  # each wrote its checkpoint
    assert str(info.value) == f"toy jobs: a stopped at iteration {a}; b stopped at iteration {b}"
    assert info.value.exit_code == 130
    assert not (tmp_path / "c.running").exists()  # a queued job does not start once stopping
    assert time.perf_counter() - t0 < 100


def test_in_one_process_the_job_is_named():
    from arsr.workers import Job, run_jobs

    def job(*, progress):
        with stop_requests() as stop:
            _signal_self(signal.SIGINT)
            stop.stop_here("stopped at iteration 1 of 4 (last.pt written)")

    with pytest.raises(Interrupted, match=r"^toy jobs: only stopped at iteration 1 of 4 \(last\.pt written\)$"):
        run_jobs([Job("only", job)], 1, desc="toy jobs")
