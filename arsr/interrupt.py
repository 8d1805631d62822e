"""Ctrl-C and SIGTERM: stop at a safe point, with what was done saved.

A training loop runs inside :func:`stop_requests`. While it does, SIGINT (Ctrl-C) and SIGTERM
only record a request, which the loop reads at the end of each iteration: it writes the
checkpoint of that iteration and raises :class:`Interrupted` (``request.stop_here(message)``),
whose message says where it stopped. A signal that raised ``KeyboardInterrupt`` wherever it landed
could stop an optimizer half-way through its step, and a checkpoint of that state would not resume
to the weights an uninterrupted run reaches.

A later signal, more than :data:`REPEAT_S` seconds after the first, raises ``KeyboardInterrupt``
at once, without a checkpoint (the user insists: a step that hangs); one sooner is the same request
delivered twice (a terminal's Ctrl-C reaches the whole process group, and
:func:`arsr.workers.run_jobs` forwards it to its pool). A request that the block never reads (it
ended first) raises :class:`Interrupted` when the block ends, so that no signal is lost.

:func:`sigterm_as_interrupt` makes SIGTERM raise as Ctrl-C does, for a block that is safe to stop
anywhere (the evaluation, whose per-video files are written atomically): its ``finally`` blocks run
and what it finished is kept. Only the main thread receives signals; elsewhere both are no-ops.

:class:`KernelStop` is the stage runner's part (:mod:`arsr.notebook`): papermill's kernel runs in a
session of its own, which a terminal's Ctrl-C does not reach, so the runner passes a signal on.
"""
from __future__ import annotations

import contextlib
import os
import signal
import threading
import time
from pathlib import Path
from typing import Iterator

from .paths import shown_path

__all__ = ["Interrupted", "StopRequest", "stop_requests", "stopped_at", "sigterm_as_interrupt", "REPEAT_S",
           "KernelStop", "NotStarted"]

#: Seconds within which a second signal counts as the first one delivered again.
REPEAT_S = 1.0

_SIGNALS = (signal.SIGINT, signal.SIGTERM)


class Interrupted(KeyboardInterrupt):
    """A run stopped on SIGINT or SIGTERM after saving what it had done; ``str()`` says where
    (``"stopped at iteration 120 of 1000 (data/models/.../last.pt written)"``); ``exit_code`` is
    the shell's for that signal (130, 143)."""

    def __init__(self, message: str = "stopped", signum: int = signal.SIGINT):
        super().__init__(message, int(signum))  # both in args: the error crosses process pools

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else "stopped"

    @property
    def signum(self) -> int:
        return int(self.args[1]) if len(self.args) > 1 else int(signal.SIGINT)

    @property
    def exit_code(self) -> int:
        return 128 + self.signum


def stopped_at(iteration: int, total: int, written: str | Path) -> str:
    """A training run's :class:`Interrupted` message: the iteration it stopped at and the file
    that holds it (``last.pt``, or ``model.pt`` when the last iteration was done)."""
    return f"stopped at iteration {iteration} of {total} ({shown_path(written)} written)"


class StopRequest:
    """Whether SIGINT or SIGTERM arrived while :func:`stop_requests` ran (true once one did)."""

    def __init__(self) -> None:
        self.signum: int | None = None
        self._at = 0.0
        self.answered = False

    def __bool__(self) -> bool:
        return self.signum is not None

    def stop_here(self, message: str) -> None:
        """Raise :class:`Interrupted` (``message``) if a stop was requested: call it where what
        was done is saved."""
        if self.signum is not None:
            self.answered = True
            raise Interrupted(message, self.signum)

    def _handle(self, signum, frame) -> None:
        now = time.monotonic()
        if self.signum is None:
            self.signum, self._at = signum, now
        elif now - self._at > REPEAT_S:
            self.answered = True
            raise KeyboardInterrupt


def _main_thread() -> bool:
    return threading.current_thread() is threading.main_thread()


@contextlib.contextmanager
def _handlers(handler) -> Iterator[None]:
    """``handler`` for SIGINT and SIGTERM during the block, the previous ones restored after."""
    previous = {s: signal.getsignal(s) for s in _SIGNALS}
    for s in _SIGNALS:
        signal.signal(s, handler)
    try:
        yield
    finally:
        for s, h in previous.items():
            signal.signal(s, h if h is not None else signal.SIG_DFL)


@contextlib.contextmanager
def stop_requests() -> Iterator[StopRequest]:
    """SIGINT and SIGTERM during the block set the yielded :class:`StopRequest` instead of
    raising; the block reads it at its safe points (``request.stop_here(...)``)."""
    request = StopRequest()
    if not _main_thread():
        yield request
        return
    with _handlers(request._handle):
        yield request
    if request and not request.answered:
        raise Interrupted("stopped", request.signum)


def _raise_interrupted(signum, frame):
    raise Interrupted("stopped", signum)


@contextlib.contextmanager
def sigterm_as_interrupt() -> Iterator[None]:
    """SIGTERM raises :class:`Interrupted` (a ``KeyboardInterrupt``) during the block, as Ctrl-C
    does, instead of ending the process without its ``finally`` blocks."""
    if not _main_thread():
        yield
        return
    previous = signal.getsignal(signal.SIGTERM)
    signal.signal(signal.SIGTERM, _raise_interrupted)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous if previous is not None else signal.SIG_DFL)


# ---------------------------------------------------------------------------------------------
# The stage runner (arsr.notebook): its kernel runs in a session of its own


class NotStarted(RuntimeError):
    """A cell that the runner did not start because it was asked to stop."""


class KernelStop:
    """Ctrl-C (SIGINT) and SIGTERM to the stage runner (:mod:`arsr.notebook`) while papermill runs
    the notebook.

    jupyter_client starts the kernel in a session of its own, so a terminal's Ctrl-C reaches the
    runner only. The first signal is passed on to the kernel as SIGINT, an interrupt: the running
    cell raises ``KeyboardInterrupt`` (a training loop first finishes its iteration and writes its
    checkpoint, :func:`stop_requests`), and no further cell starts. A second signal kills the
    kernel's process group (its pool processes too) at once."""

    def __init__(self) -> None:
        self.signum: int | None = None
        self.kernels: list = []  # the kernel managers papermill made

    @contextlib.contextmanager
    def handling(self):
        """The handlers in place for the block (the main thread only: elsewhere, none)."""
        if threading.current_thread() is not threading.main_thread():
            yield self
            return
        previous = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}
        for s in previous:
            signal.signal(s, self._handle)
        try:
            yield self
        finally:
            for s, h in previous.items():
                signal.signal(s, h if h is not None else signal.SIG_DFL)

    def _handle(self, signum, frame) -> None:
        first = self.signum is None
        if first:
            self.signum = signum
        for km in self.kernels:
            provisioner = getattr(km, "provisioner", None)
            pid = getattr(provisioner, "pid", None)
            if not pid:
                continue  # not started yet: before_cell stops it before its first cell
            with contextlib.suppress(OSError):
                if first:
                    os.kill(pid, signal.SIGINT)
                else:
                    os.killpg(getattr(provisioner, "pgid", None) or pid, signal.SIGKILL)

    def before_cell(self, **_) -> None:
        """papermill's hook before each cell: none starts once a stop was asked for (an Exception,
        not a KeyboardInterrupt, which asyncio would not pass through nbclient's clean-up)."""
        if self.signum is not None:
            raise NotStarted("stopped before its next cell")

    def interrupted(self, err: BaseException) -> Interrupted | None:
        """What ``err``, raised by papermill, means if the run was interrupted (a signal to the
        runner, or an interrupt in a cell): an :class:`Interrupted` saying where it stopped; None
        for any other failure."""
        ename, evalue = getattr(err, "ename", None), str(getattr(err, "evalue", "") or "")
        if ename not in ("Interrupted", "KeyboardInterrupt") and self.signum is None:
            return None
        if isinstance(err, (Interrupted, NotStarted)):
            message = str(err)
        elif ename == "Interrupted" and evalue:
            message = evalue  # the kernel's: where a trainer or an evaluation stopped
        elif ename in ("Interrupted", "KeyboardInterrupt"):
            message = "stopped"
        elif ename:
            message = f"stopped ({ename}: {evalue})"
        elif type(err).__name__ == "DeadKernelError":
            message = "stopped: the kernel and its processes were killed"
        else:
            message = f"stopped ({type(err).__name__}: {err})"
        return Interrupted(message, self.signum or signal.SIGINT)
