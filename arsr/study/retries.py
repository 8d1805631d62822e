"""A recogniser run that learned nothing held-out is trained again with another seed, by a rule
declared before any test score is seen (``recognition_lr.retry``; beyond the paper).

From scratch on bicubic-upscaled LR frames, TSN's spatial stream either finds the classes or
memorises its training videos, depending on its seed: one of nine runs (dataset seeds 0-2 x
recogniser seeds 0-2) reached a training top-1 of 0.86 at a validation top-1 of 13.2% (chance 8.3%;
the other eight 60.4-84.7%), and its test score (14.6%) alone moved the baseline's mean by 18 points
between dataset seeds. Its retries: seed 1002 failed too (22.9%), seed 2002 reached 65.3% (test
73.6%). A run *failed* when its held-out top-1 (:func:`held_out_top1`: the mean of its last
``HELD_OUT_LAST`` validations, the recipes' plateau measure) is below ``retry.below_x_chance`` times
chance (1 / classes); it is then trained again with seed ``seed + RETRY_SEED_STEP * attempt``, at
most ``retry.times`` times, and the last attempt is kept whatever it scores. The rule reads the
validation split only, never the test split, and a retry can only raise the baseline the SR rows
are compared with. Each failed attempt is kept beside the model, in ``<folder>.failed/attempt<k>/``,
and listed in the stage's metrics (``retries``), which the report names.

    summary, log = train_with_retries(config, store, folder, settings, {"below": 0.25, "times": 2})
    summary["attempts"]   # [{"attempt": 0, "seed": 2, "val_top1": 0.15, "failed": True, "kept": False, ...},
                          #  {"attempt": 1, "seed": 1002, "val_top1": 0.69, "failed": False, "kept": True, ...}]
"""
from __future__ import annotations

import json
import logging
import shutil
from pathlib import Path
from typing import Mapping

import numpy as np
import pandas as pd

from .persist import MARKER, reuse_or_reset, settings_blob

log = logging.getLogger(__name__)

__all__ = ["HELD_OUT_LAST", "RETRY_SEED_STEP", "attempt_seed", "held_out_top1", "failed_dir", "train_with_retries"]

#: Validations averaged into a run's held-out top-1 (as the recipes' plateau comments in params.yaml).
HELD_OUT_LAST = 3
#: Attempt k of recogniser seed s trains with seed s + RETRY_SEED_STEP * k (no clash with recognition.seeds).
RETRY_SEED_STEP = 1000


def attempt_seed(seed: int, attempt: int) -> int:
    """The training seed of attempt ``attempt`` (0 = the run itself) of recogniser seed ``seed``."""
    return int(seed) + RETRY_SEED_STEP * int(attempt)


def held_out_top1(log_frame: pd.DataFrame, last: int = HELD_OUT_LAST) -> float | None:
    """The mean validation top-1 (a fraction) of a training log's last ``last`` validations; None for
    a log without any (no validation split, or ``val_every: 0``)."""
    if "val_accuracy" not in log_frame.columns:
        return None
    held = pd.to_numeric(log_frame["val_accuracy"], errors="coerce").dropna().to_numpy()
    return float(np.mean(held[-last:])) if len(held) else None


def failed_dir(folder: str | Path, attempt: int) -> Path:
    """Where failed attempt ``attempt`` of the run in ``folder`` is kept."""
    folder = Path(folder)
    return folder.with_name(folder.name + ".failed") / f"attempt{int(attempt)}"


def _recorded(folder: Path, record: Mapping) -> bool:
    try:
        return json.loads((folder / MARKER).read_text()) == settings_blob(record)
    except (FileNotFoundError, json.JSONDecodeError):
        return False


def _judged(attempt: int, seed: int, frame: pd.DataFrame, below: float) -> dict:
    """One attempt's record from its training log: held-out top-1, whether it is below the rule, seconds."""
    top1 = held_out_top1(frame)
    seconds = float(frame["seconds"].iloc[-1]) if len(frame) and "seconds" in frame.columns else float("nan")
    return {"attempt": attempt, "seed": seed, "val_top1": top1, "failed": top1 is not None and top1 < below,
            "kept": False, "seconds": seconds}


def train_with_retries(config: Mapping, interim_dir: str | Path, folder: str | Path, settings: Mapping,
                       retry: Mapping | None, *, device=None, init_weights: str | Path | None = None,
                       progress: bool = True) -> tuple[dict, pd.DataFrame]:
    """A job of :func:`arsr.workers.run_jobs`: train ``config`` into ``folder`` (``settings`` with the
    attempt's config as its ``config``, :func:`arsr.study.persist.reuse_or_reset`), and while its held-out
    top-1 is below ``retry["below"]`` and attempts remain (``retry["times"]``), move it to
    :func:`failed_dir` and train the next attempt's seed. Finished attempts are found again, not
    retrained (a failed one in its ``failed_dir`` when its settings match; the decision is taken again
    from its log, so a changed ``below`` re-judges it). ``retry`` None (or ``times`` 0) is one run.

    Returns :func:`arsr.study.recognizers.train_job`'s summary of the kept run, with ``attempts``
    (attempt, seed, val_top1, failed: below the rule, kept, seconds: one per attempt made, the kept run
    last: it may have failed too, when no attempt was left), ``seed`` (its
    training seed) and ``all_seconds`` (the training seconds of every attempt: the run's cost), and
    the kept run's log."""
    from ..recognition.train import _read_log  # the trainer's own reader of its log.csv
    from .recognizers import train_job

    folder = Path(folder)
    times = int((retry or {}).get("times", 0))
    below = float((retry or {}).get("below", 0.0))
    attempts: list[dict] = []
    for attempt in range(times + 1):
        cfg = {**config, "seed": attempt_seed(config["seed"], attempt)}
        record = {**settings, "config": cfg}  # the seed tells the attempts apart (attempt 0: as without the rule)
        last = attempt == times
        archive = failed_dir(folder, attempt)
        if _recorded(archive, record):  # judged before: judge it again under today's rule
            judged = _judged(attempt, cfg["seed"], _read_log(archive / "log.csv"), below)
            if not last and judged["failed"]:
                attempts.append(judged)
                continue
            if folder.exists():
                shutil.rmtree(folder)
            archive.rename(folder)  # it passes now (or is the last): it is the run
        reuse_or_reset(folder, record)
        summary, frame = train_job(cfg, interim_dir, folder, device=device, init_weights=init_weights,
                                   progress=progress)
        judged = _judged(attempt, cfg["seed"], frame, below)
        if last or not judged["failed"]:
            attempts.append({**judged, "kept": True})
            return {**summary, "seed": cfg["seed"], "attempts": attempts,
                    "all_seconds": float(sum(a["seconds"] for a in attempts))}, frame
        attempts.append(judged)
        log.warning("%s: held-out top-1 %.3f below %.3f (recognition_lr.retry): seed %d failed, kept in %s; "
                    "retry %d of at most %d with seed %d", folder, judged["val_top1"], below, cfg["seed"], archive,
                    attempt + 1, times, attempt_seed(config["seed"], attempt + 1))
        if archive.exists():
            shutil.rmtree(archive)
        archive.parent.mkdir(parents=True, exist_ok=True)
        folder.rename(archive)
    raise AssertionError("unreachable: the last attempt is always kept")
