"""Training checkpoints (``last.pt``): one versioned format and one error for both trainers.

A checkpoint is a ``torch.save``d mapping with ``format`` (:data:`FORMAT_VERSION`), the trainer's
state (weights, optimisers, iteration, ...) and ``config``, the settings that made it. It is
written atomically (a killed run leaves the previous checkpoint whole) and read with
``weights_only=True``. A file that cannot be resumed, whatever the reason (truncated, foreign,
another format, other settings), raises :class:`CheckpointError` naming the file and the fix.
The SR trainer (``arsr.train.sr_trainer``) and the recogniser trainer
(``arsr.recognition.train``) both use it.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping

import torch

from .io import atomic_path

__all__ = ["FORMAT_VERSION", "CheckpointError", "save_checkpoint", "load_checkpoint", "check_settings"]

#: The layout of the mapping in ``last.pt``; bumped when a trainer changes what it stores.
FORMAT_VERSION = 1


class CheckpointError(ValueError):
    """A training checkpoint that cannot be resumed (the message names the file and the fix)."""


def save_checkpoint(path: str | Path, state: Mapping[str, Any]) -> None:
    """Write ``state`` (with ``format`` set) to ``path`` atomically."""
    with atomic_path(Path(path), suffix=".pt") as tmp:
        torch.save({**state, "format": FORMAT_VERSION}, tmp)


def load_checkpoint(path: str | Path, required: tuple[str, ...] = ("iteration", "config")) -> dict:
    """Read a checkpoint written by :func:`save_checkpoint` (on the CPU)."""
    path = Path(path)
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # a truncated or foreign file: say which and what to do
        raise CheckpointError(f"{path} cannot be read as a training checkpoint ({err}): delete it to "
                              "start the run afresh") from None
    if not isinstance(state, dict) or any(k not in state for k in required):
        raise CheckpointError(f"{path} is not a training checkpoint written by arsr: delete it or choose "
                              "another output folder")
    if state.get("format") != FORMAT_VERSION:
        raise CheckpointError(f"{path} has checkpoint format {state.get('format')}, this arsr writes "
                              f"{FORMAT_VERSION}: delete it to start the run afresh")
    return state


def check_settings(path: str | Path, saved: Mapping[str, Any], current: Mapping[str, Any],
                   what: str = "settings") -> None:
    """Refuse to resume ``path`` when the ``saved`` settings differ from the ``current`` ones,
    naming each differing key with both values."""
    keys = sorted(set(saved) | set(current), key=str)
    diffs = [f"{k}: checkpoint {saved.get(k)!r} vs now {current.get(k)!r}" for k in keys
             if saved.get(k) != current.get(k)]
    if diffs:
        raise CheckpointError(
            f"{path} was written by a run with other {what} ({'; '.join(diffs)}): it cannot be resumed "
            "under these. Use another output folder, restore those settings, or delete the checkpoint "
            "to train afresh")
