"""Recognition accuracy of super-resolved video: the study's yardstick (Zhang, Liu, Xiong, ICCV 2019).

``evaluate(method, recognizers, test_set, name=..., cache_dir=...)`` streams the test split video
by video, following TSN's test protocol:

1. sampling: ``num_frames`` (25) snippet starts spread uniformly over the video
   (``sampling.uniform_offsets``), per stream: RGB frames for the spatial stream, 5 consecutive flow
   fields (6 frames) for the temporal stream, aligned starts for ST-ResNet;
2. SR: the method is asked once per video for exactly the union of the frames those snippets
   need (plus the ``num_frames`` uniformly spread frames on which PSNR/SSIM are measured), never
   whole videos; ``hr`` and bicubic are methods like the others;
3. flow on the SR frames with ``flow_method`` (``arsr.flow``), quantised with the recognizer's
   bound (20) to TSN's 8-bit images, in a process pool of ``workers`` that works on one video
   while the next is super-resolved;
4. scoring: each snippet under ``crops`` ("center" = 1 crop, "ten" = TSN's 10 crops); class
   scores (pre-softmax) averaged over snippets and crops; TSN fusion = weighted mean of the
   streams' scores, RGB:flow = 1:1.5; ST-ResNet: its own fused output, and its two streams;
5. per-video scores (never frames) are cached under ``cache_dir/<name>/``, one file per video and
   recognizer, written atomically: a killed evaluation resumes where it stopped, and a later call
   with the same settings reuses them. ``fuse_cached`` fuses the spatial scores of one method with
   the temporal scores of another (the paper's SoSR+ToSR row) from the caches alone.

PSNR/SSIM (Y channel, BT.601; ``shave`` border pixels, 8 in the paper's table after VSR-DUF's
script) are the means over videos of the per-video means over the measured frames; inf for ``hr``.
The colour shift is the mean over videos of |mean SR - HR| per RGB channel over a video's measured
frames (``colour_shift_over_videos``: opposite shifts of two videos do not cancel).
Accuracies are in percent.

The recognizers at test time (``TwoStreamTSN``, ``STResNetRecognizer``, ``load_recognizers``) are
defined in ``arsr.recognition.inference`` and importable from here too.

Typical use (the recognizers trained once on HR, every method through the same call)::

    recs = load_recognizers(tsn_rgb="data/models/tsn_rgb", tsn_flow="data/models/tsn_flow",
                            st_resnet="data/models/st_resnet")
    rows = [evaluate(m, recs, "data/interim", cache_dir="data/interim/eval", shave=8).table
            for m in (hr_method(), bicubic_method(4), method_from_arch("rrdbnet", w, name="SoSR"))]
    rows.append(fuse_cached("data/interim/eval", spatial="SoSR", temporal="ToSR").table)
    table = pd.concat(rows)

Cache layout::

    cache_dir/<name>/quality/settings.json, <video key>.json     psnr/ssim per video
    cache_dir/<name>/scores/<recognizer>/settings.json           method, sampling, weights fingerprint
    cache_dir/<name>/scores/<recognizer>/<video key>.npz         label, stream scores (classes,)

Every cache's settings hold the test set's dataset fingerprint (``dataset``,
``arsr.data.store.PreparedDataset.fingerprint``): scores and qualities of other data are never
reused, whatever the method. A cache folder whose settings differ from the call's is stale and
rebuilt (one warning line names the settings that differ).
"""
from __future__ import annotations

import contextlib
import functools
import hashlib
import json
import logging
import math
import os
import shutil
import signal
import time
from concurrent.futures import Future
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np
import pandas as pd
import torch
from tqdm import tqdm

from .data.store import PreparedDataset
from .evaluate_columns import PER_CLASS_COLUMNS, PREDICTION_COLUMNS, TABLE_COLUMNS
from .flow import compute_flow, quantize
from .interrupt import Interrupted, sigterm_as_interrupt
from .io import atomic_path, disk_full, is_disk_full, tree_bytes, write_json
from .mapping import changes
from .metrics import frame_quality
from .paths import resolve, shown_path
from .recognition.inference import STREAMS, SnippetPlan, STResNetRecognizer, TwoStreamTSN, load_recognizers
from .recognition.sampling import needed_frames, uniform_offsets
from .recognition.tsn import fuse_scores
from .shards import Shard, is_split, progress_label, rank_ordered
from .sr_methods import SRMethod
from .workers import process_pool, progress_bar, worker_count

log = logging.getLogger(__name__)

__all__ = ["SnippetPlan", "TwoStreamTSN", "STResNetRecognizer", "EvaluationResult", "evaluate",
           "fuse_cached", "load_recognizers", "TIMING_PARTS", "STREAMS", "TABLE_COLUMNS", "PER_CLASS_COLUMNS",
           "PREDICTION_COLUMNS"]

FORMAT_VERSION = 1
#: The parts of ``evaluate(timings=...)``, in the order a video goes through them.
TIMING_PARTS = ("frames", "flow", "quality", "pool", "recognise", "write")


# ---------------------------------------------------------------------------------------------
# Worker-side jobs (module level: they run in spawned processes)


def _flow_job(method: str, options: dict, bound: float,
              items: list[tuple[int, np.ndarray, np.ndarray]]) -> list[tuple[int, np.ndarray]]:
    """Quantised flow ``(H, W, 2)`` uint8 of each (field, previous frame, next frame)."""
    return [(k, quantize(compute_flow(a, b, method, **options), bound)) for k, a, b in items]


def _quality_job(shave: int, items: list[tuple[int, np.ndarray, np.ndarray]]) -> list[tuple]:
    """PSNR and SSIM (Y) and the per-channel colour shift of each (frame, SR, HR)."""
    out = []
    for k, sr, hr in items:
        psnr, ssim, shift = frame_quality(sr, hr, shave)
        out.append((k, psnr, ssim, shift.tolist()))
    return out


class _Clock:
    """``with clock(part):`` adds the block's wall seconds to ``timings[part]`` (nothing when None)."""

    def __init__(self, timings: dict[str, float] | None):
        self.timings = timings

    @contextlib.contextmanager
    def __call__(self, part: str):
        if self.timings is None:
            yield
            return
        start = time.perf_counter()
        try:
            yield
        finally:
            self.timings[part] = self.timings.get(part, 0.0) + time.perf_counter() - start


class _Runner:
    """Runs jobs in a process pool (``workers`` > 1) or in this process, with the same interface."""

    def __init__(self, workers: int | None):
        self.pool = process_pool(workers)
        self.workers = worker_count(workers)

    def submit(self, fn, *args) -> Future:
        if self.pool is not None:
            return self.pool.submit(fn, *args)
        f: Future = Future()
        f.set_result(fn(*args))  # the in-process run does the work at submission
        return f

    def split(self, items: list) -> list[list]:
        n = min(self.workers, len(items)) or 1
        return [items[i::n] for i in range(n) if items[i::n]]

    def close(self, cancel: bool = False) -> None:
        if self.pool is not None:
            self.pool.shutdown(wait=True, cancel_futures=cancel)


# ---------------------------------------------------------------------------------------------
# Cache


def _settings_hash(settings: dict) -> str:
    return hashlib.sha256(json.dumps(settings, sort_keys=True, default=str).encode()).hexdigest()[:16]


class _Folder:
    """One cache folder with a settings file; stale contents are removed on open."""

    def __init__(self, path: Path | None, settings: dict):
        self.path = path
        self.settings = settings
        if path is None:
            return
        found = _read_json(path / "settings.json")
        wanted = json.loads(json.dumps(settings, default=str))
        if found is not None and found.get("settings") != wanted:
            differ = changes(found.get("settings") or {}, wanted)
            log.warning("cache %s was made with other settings (%s): rebuilding it", path, "; ".join(differ))
            shutil.rmtree(path)
        if not (path / "settings.json").is_file():
            write_json(path / "settings.json", {"format": FORMAT_VERSION, "settings": settings})

    def file(self, key: str, suffix: str) -> Path | None:
        return None if self.path is None else self.path / f"{key}{suffix}"


def _read_json(path: Path) -> dict | None:
    try:
        return json.loads(path.read_text())
    except (FileNotFoundError, json.JSONDecodeError):
        return None


def _save_scores(path: Path, video_id: str, label: int, scores: Mapping[str, np.ndarray]) -> None:
    """One video's stream scores ``(num_classes,)`` float32, its label and id, atomically."""
    with atomic_path(path, suffix=".npz") as tmp, open(tmp, "wb") as f:
        np.savez(f, video_id=np.str_(video_id), label=np.int64(label),
                 **{s: np.asarray(v, np.float32) for s, v in scores.items()})


def _load_scores(path: Path | None) -> tuple[int, dict[str, np.ndarray], str] | None:
    """``(label, stream -> scores, video_id)`` or None when absent or unreadable."""
    if path is None or not path.is_file():
        return None
    try:
        with np.load(path, allow_pickle=False) as z:
            meta = ("label", "video_id")
            return int(z["label"]), {k: z[k] for k in z.files if k not in meta}, str(z["video_id"])
    except (OSError, ValueError, KeyError, EOFError):  # a damaged file: recompute
        return None


# ---------------------------------------------------------------------------------------------
# Results


@dataclass
class EvaluationResult:
    """``table``: one row per (method, recognizer, stream): top1, top5 (%), n_videos, psnr, ssim
    (``TABLE_COLUMNS``). ``per_class``: accuracy per class (``PER_CLASS_COLUMNS``).
    ``predictions``: one row per video (``PREDICTION_COLUMNS``) for confusion matrices.
    ``scores``: (recognizer, stream) -> ``(n_videos, num_classes)`` float32 in ``video_ids`` order.
    ``channel_shift_abs``: the colour check, ``(3,)`` grey levels per RGB channel: each video's
    |mean SR - HR| over its measured frames, averaged over the videos. ``channel_shift``: the signed
    mean over videos, for information (a video shifted up and one shifted down cancel). Both None
    without PSNR (``colour_shift_over_videos``).
"""

    table: pd.DataFrame
    per_class: pd.DataFrame
    predictions: pd.DataFrame
    scores: dict[tuple[str, str], np.ndarray] = field(default_factory=dict)
    video_ids: list[str] = field(default_factory=list)
    labels: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    channel_shift_abs: np.ndarray | None = None  # (3,) mean over videos of |mean SR - HR| per channel
    channel_shift: np.ndarray | None = None  # (3,) signed mean over videos of mean SR - HR per channel


def _topk(scores: np.ndarray, labels: np.ndarray, k: int) -> np.ndarray:
    k = min(k, scores.shape[1])
    top = np.argsort(-scores, axis=1, kind="stable")[:, :k]
    return (top == labels[:, None]).any(axis=1)


def _result(method: str, video_ids: list[str], labels: np.ndarray, scores: dict[tuple[str, str], np.ndarray],
            class_names: Sequence[str], quality: tuple[float, float] = (math.nan, math.nan)) -> EvaluationResult:
    rows, per_class, preds = [], [], []
    for (rec, stream), s in scores.items():
        hit1, hit5 = _topk(s, labels, 1), _topk(s, labels, 5)
        rows.append({"method": method, "recognizer": rec, "stream": stream,
                     "top1": 100.0 * hit1.mean() if len(labels) else math.nan,
                     "top5": 100.0 * hit5.mean() if len(labels) else math.nan,
                     "n_videos": len(labels), "psnr": quality[0], "ssim": quality[1]})
        pred = s.argmax(1) if len(labels) else np.zeros(0, np.int64)
        for c, name in enumerate(class_names):
            mask = labels == c
            per_class.append({"method": method, "recognizer": rec, "stream": stream, "label": c,
                              "class_name": name, "n_videos": int(mask.sum()),
                              "top1": 100.0 * hit1[mask].mean() if mask.any() else math.nan})
        preds.append(pd.DataFrame({"method": method, "recognizer": rec, "stream": stream,
                                   "video_id": video_ids, "label": labels, "prediction": pred}))
    predictions = pd.concat(preds, ignore_index=True)[PREDICTION_COLUMNS] if preds else pd.DataFrame(
        columns=PREDICTION_COLUMNS)
    return EvaluationResult(pd.DataFrame(rows, columns=TABLE_COLUMNS),
                            pd.DataFrame(per_class, columns=PER_CLASS_COLUMNS), predictions,
                            scores, list(video_ids), labels)


# ---------------------------------------------------------------------------------------------
# The evaluation


@dataclass
class _Pending:
    """A video whose flow/quality jobs are running."""

    row: pd.Series
    frames: dict[int, np.ndarray]
    plans: dict[str, SnippetPlan]
    todo: list[str]
    flow_jobs: list[Future]
    quality_jobs: list[Future]


def _rows(test_set: PreparedDataset, split: str, videos: Sequence[str] | None) -> pd.DataFrame:
    rows = test_set.split(split)
    if videos is not None:
        missing = sorted(set(videos) - set(rows["video_id"]))
        if missing:
            raise KeyError(f"videos {missing[:5]} are not in split {split!r} of {test_set.root / 'index.csv'}")
        rows = rows[rows["video_id"].isin(set(videos))].reset_index(drop=True)
    if rows.empty:
        raise ValueError(f"split {split!r} of {test_set.root / 'index.csv'} has no videos to evaluate")
    return rows


def _renamed(**old_to_new: str):
    """Refuse a function's old keyword names with a message naming the new one (the API spells
    "recognizer", as params.yaml does)."""
    def wrap(fn):
        @functools.wraps(fn)
        def call(*args, **kwargs):
            for old, new in old_to_new.items():
                if old in kwargs:
                    raise TypeError(f"{fn.__name__}(): the keyword {old!r} is now {new!r}")
            return fn(*args, **kwargs)
        return call
    return wrap


@_renamed(recognisers="recognizers")
def evaluate(method: SRMethod, recognizers: Mapping[str, Any], test_set: PreparedDataset | str | os.PathLike, *,
             name: str | None = None, cache_dir: str | os.PathLike | None = None,
             temporal_method: SRMethod | None = None, flow_method: str = "dis",
             flow_options: Mapping[str, Any] | None = None, num_frames: int = 25, crops: str = "center",
             workers: int | None = None, psnr: bool = True, shave: int = 4, split: str = "test",
             videos: Sequence[str] | None = None, progress: bool = True,
             shard: Shard | None = None, timings: dict[str, float] | None = None) -> EvaluationResult | None:
    """Recognition accuracy (and PSNR/SSIM) of ``method``'s SR video; see the module notes.

    method: an ``arsr.sr_methods`` method (``hr_method()``, ``bicubic_method(4)``, ...).
    recognizers: name -> ``TwoStreamTSN`` / ``STResNetRecognizer`` (``load_recognizers``).
    test_set: a prepared store (or its folder); ``split`` (default "test"), ``videos`` a subset of ids.
    name: the method's row label and cache folder (default ``method.name``).
    cache_dir: root of the per-video score cache; None keeps nothing on disk.
    temporal_method: frames for the temporal stream from another method (ST-ResNet's SoSR+ToSR
        run); PSNR/SSIM stay those of ``method``.
    flow_method, flow_options: ``arsr.flow.compute_flow`` on the SR frames.
    num_frames: snippets per video (25); crops: "center" or "ten".
    workers: processes for flow and PSNR/SSIM (:mod:`arsr.workers`: 0 or None = one per core, 1 = this
        process).
    psnr: measure PSNR/SSIM (Y, ``shave`` border pixels) on the ``num_frames`` spread frames.
    shard: this process's :class:`arsr.shards.Shard` (under torchrun, or of an in-stage pool): it
        evaluates only its slice of the videos (``rows[rank::world]``) into the cache (required),
        the cache folders opened first by rank 0 (torchrun) or by the stage process's set-up pass
        (``role="setup"``: it opens them and evaluates no video); the result covers that slice
        (None for a rank without videos). The whole result is a later call without ``shard``,
        which finds every video cached.
    timings: a dict to which this process's wall seconds per part are added (:data:`TIMING_PARTS`):
        reading + SR (``frames``), flow and PSNR/SSIM (``flow``, ``quality``: the work with ``workers``
        1, the hand-over with a pool), waiting for the pool, scoring (``recognise``), cache writes.
    Returns an ``EvaluationResult`` (``.table`` is the tidy table).
    """
    if not isinstance(test_set, PreparedDataset):
        test_set = PreparedDataset(test_set)
    if crops not in ("center", "ten"):
        raise ValueError(f"crops = {crops!r}: use 'center' (1 crop) or 'ten' (TSN's 10 crops)")
    if not recognizers:
        raise ValueError("evaluate needs at least one recognizer (see arsr.evaluate.load_recognizers)")
    name = name or method.name
    if "/" in name or name in ("", ".", ".."):
        raise ValueError(f"name {name!r} cannot be a cache folder name: choose another")
    rows = _rows(test_set, split, videos)
    if is_split(shard):
        if cache_dir is None:
            raise ValueError("evaluate(shard=...) writes its slice to the cache for the merge: give cache_dir")
        rows = shard.take(rows)
    flow_options = dict(flow_options or {})
    root = resolve(cache_dir) / name if cache_dir is not None else None
    with rank_ordered(shard):  # a stale folder is removed once (rank 0, or the set-up pass) before the others write
        # the data's fingerprint: hr and bicubic are the same methods on any data, their results are not
        # (only a cache needs it: an uncached call reads any store)
        base = {"format": FORMAT_VERSION, "method": method.fingerprint(), "num_frames": num_frames,
                "dataset": test_set.fingerprint if root is not None else None}
        score_dirs = {
            rec_name: _Folder(root / "scores" / rec_name if root else None, {
                **base, "temporal_method": temporal_method.fingerprint() if temporal_method else None,
                "flow_method": flow_method, "flow_options": flow_options, "crops": crops,
                # the cache's key keeps its first spelling: renaming it would make every cache stale
                "recogniser": rec.fingerprint(), "kind": rec.kind, "coupled": rec.coupled,
                "streams": list(rec.streams), "class_names": test_set.class_names})
            for rec_name, rec in recognizers.items()}
        quality_dir = _Folder(root / "quality" if root else None,
                              {**base, "shave": shave, "fields": "psnr,ssim,channel_shift"}) if psnr else None

    if rows.empty:  # a rank with no videos (more ranks than videos)
        return None
    memory_scores: dict[str, dict[str, tuple[int, dict]]] = {r: {} for r in recognizers}
    memory_quality: dict[str, dict] = {}
    runner = _Runner(workers)
    clock = _Clock(timings)
    bar = progress_bar(tqdm, total=len(rows), unit="video", desc=f"evaluate {name}{progress_label(shard)}",
                       disable=not progress, mininterval=1.0)
    finished = 0  # videos done, found cached or scored (a disabled bar counts nothing)

    def advance() -> None:
        nonlocal finished
        finished += 1
        bar.update(1)

    def finish(p: _Pending) -> None:
        key = p.row["key"]
        with clock("pool"):  # in-process jobs are done: their results are there
            fields = {k: q for job in p.flow_jobs for k, q in job.result()}
        for rec_name in p.todo:
            with clock("recognise"):
                scores = recognizers[rec_name].score(p.frames, fields, p.plans[rec_name], crops)
            memory_scores[rec_name][key] = (int(p.row["label"]), scores, p.row["video_id"])
            path = score_dirs[rec_name].file(key, ".npz")
            if path is not None:
                with clock("write"):
                    _save_scores(path, p.row["video_id"], int(p.row["label"]), scores)
        if p.quality_jobs:
            with clock("pool"):  # after the scoring, which the pool's quality jobs overlap
                per_frame = sorted(x for job in p.quality_jobs for x in job.result())
            q = {"frames": [x[0] for x in per_frame], "psnr_frames": [x[1] for x in per_frame],
                 "ssim_frames": [x[2] for x in per_frame],
                 "psnr": float(np.mean([x[1] for x in per_frame])),
                 "ssim": float(np.mean([x[2] for x in per_frame])),
                 "channel_shift": np.mean([x[3] for x in per_frame], axis=0).tolist()}
            memory_quality[key] = q
            path = quality_dir.file(key, ".json")
            if path is not None:
                with clock("write"):
                    write_json(path, q)
        advance()

    pending: _Pending | None = None
    with sigterm_as_interrupt():
        try:
            for _, row in rows.iterrows():
                key = row["key"]
                todo = [r for r in recognizers if _load_scores(score_dirs[r].file(key, ".npz")) is None]
                need_quality = quality_dir is not None and (
                    quality_dir.path is None or _read_json(quality_dir.file(key, ".json")) is None)
                if not todo and not need_quality:
                    advance()
                    continue
                video = test_set.video(row)
                n_frames = int(row["n_frames"])
                plans = {r: recognizers[r].plan(n_frames, num_frames) for r in todo}
                spatial_idx = needed_frames(rgb_frames=_union(p.rgb for p in plans.values()))
                fields_idx = _union(p.flow for p in plans.values())
                quality_idx = uniform_offsets(n_frames, num_frames) if need_quality else np.zeros(0, int)
                flow_frames = needed_frames(flow_fields=fields_idx)
                # one request per method and video: exactly the frames the snippets and PSNR need
                with clock("frames"):
                    if temporal_method is None:
                        frames = _request(method, video, np.concatenate([spatial_idx, flow_frames, quality_idx]))
                        temporal_frames = frames
                    else:
                        frames = _request(method, video, np.concatenate([spatial_idx, quality_idx]))
                        temporal_frames = _request(temporal_method, video, flow_frames)
                flow_items = [(int(k), temporal_frames[int(k)], temporal_frames[int(k) + 1]) for k in fields_idx]
                with clock("flow"):
                    flow_jobs = [runner.submit(_flow_job, flow_method, flow_options, _bound(recognizers, plans),
                                               part) for part in runner.split(flow_items)]
                quality_jobs = []
                if need_quality:
                    with clock("quality"):
                        hr = np.asarray(video.hr[np.unique(quality_idx)])
                        items = [(int(k), frames[int(k)], hr[j]) for j, k in enumerate(np.unique(quality_idx))]
                        quality_jobs = [runner.submit(_quality_job, shave, part) for part in runner.split(items)]
                current = _Pending(row, frames, plans, todo, flow_jobs, quality_jobs)
                if pending is not None:  # the pool worked on it while this video was super-resolved
                    previous, pending = pending, None
                    finish(previous)
                pending = current
            if pending is not None:
                previous, pending = pending, None
                finish(previous)
        except OSError as err:
            if not is_disk_full(err) or root is None:
                raise
            cached = len(list((root / "quality").glob("*.json"))) if quality_dir is not None else \
                len(list(next(iter(score_dirs.values())).path.glob("*.npz")))
            raise disk_full(root, len(rows) - finished, tree_bytes(root) / cached if cached else None) from err
        except KeyboardInterrupt as err:  # Ctrl-C, or SIGTERM: keep the video the pool has worked on
            if pending is not None:
                previous, pending = pending, None
                finish(previous)
            kept = f"; {shown_path(root)} keeps them" if root is not None else ""
            raise Interrupted(f"evaluate {name}{progress_label(shard)}: stopped after {finished} of {len(rows)} "
                              f"videos{kept}", getattr(err, "signum", signal.SIGINT)) from None
        finally:
            if pending is not None:  # an error while super-resolving the next video: keep this one
                try:
                    finish(pending)
                except Exception:  # pragma: no cover - the original error matters more
                    log.exception("could not finish video %s after an error", pending.row["video_id"])
            bar.close()
            runner.close()

    return _collect(name, rows, recognizers, score_dirs, memory_scores, quality_dir, memory_quality,
                    test_set.class_names)


def _request(method: SRMethod, video, indices: np.ndarray) -> dict[int, np.ndarray]:
    """``method``'s frames at the unique ``indices``: frame number -> ``(H, W, 3)`` uint8."""
    idx = np.unique(np.asarray(indices, np.int64))
    if idx.size == 0:
        return {}
    out = method.frames(video, idx)
    if len(out) != idx.size:
        raise ValueError(f"method {method.name!r} returned {len(out)} frames for {idx.size} requested "
                         f"of video {video.video_id}: frames(video, indices) must return one per index")
    return dict(zip(idx.tolist(), out))


def _union(parts) -> np.ndarray:
    """Sorted unique entries of the arrays in ``parts`` (None skipped): ``(k,)`` int64."""
    arrays = [np.asarray(p, np.int64).ravel() for p in parts if p is not None]
    return np.unique(np.concatenate(arrays)) if arrays else np.zeros(0, np.int64)


def _bound(recognizers: Mapping[str, Any], plans: Mapping[str, SnippetPlan]) -> float:
    """The flow quantisation bound shared by the recognizers that read flow."""
    bounds = {recognizers[r].flow_bound for r, p in plans.items() if p.flow is not None}
    if len(bounds) > 1:
        raise ValueError(f"recognizers {sorted(plans)} were trained with different flow bounds {sorted(bounds)}: "
                         "evaluate them in separate calls")
    return bounds.pop()


def _collect(name, rows, recognizers, score_dirs, memory_scores, quality_dir, memory_quality,
             class_names) -> EvaluationResult:
    keys, video_ids = rows["key"].tolist(), rows["video_id"].tolist()
    labels = rows["label"].to_numpy(np.int64)
    scores: dict[tuple[str, str], np.ndarray] = {}
    for rec_name, rec in recognizers.items():
        per_video = [memory_scores[rec_name].get(k) or _load_scores(score_dirs[rec_name].file(k, ".npz"))
                     for k in keys]
        if any(v is None for v in per_video):
            missing = [vid for vid, v in zip(video_ids, per_video) if v is None]
            raise RuntimeError(f"scores of {len(missing)} videos (e.g. {missing[0]}) for {rec_name} are "
                               "missing after the run: the cache folder changed under it; run again")
        for stream in rec.streams:
            scores[(rec_name, stream)] = np.stack([v[1][stream] for v in per_video])
    quality = (math.nan, math.nan)
    shifts = None
    if quality_dir is not None:
        q = [memory_quality.get(k) or _read_json(quality_dir.file(k, ".json")) for k in keys]
        if all(x is not None for x in q):
            quality = (float(np.mean([x["psnr"] for x in q])), float(np.mean([x["ssim"] for x in q])))
            if all("channel_shift" in x for x in q):
                shifts = colour_shift_over_videos(np.array([x["channel_shift"] for x in q], np.float64))
    result = _result(name, video_ids, labels, scores, class_names, quality)
    if shifts is not None:
        result.channel_shift, result.channel_shift_abs = shifts
    return result


def colour_shift_over_videos(per_video: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-video colour shifts ``(n_videos, 3)`` (mean SR - HR of each RGB channel over a video's
    measured frames, grey levels) -> (signed mean over videos ``(3,)``, mean of |shift| ``(3,)``).
    The second is the colour check: a video shifted by +2 and one by -2 give 0 and 2."""
    # abs_c = mean_v |shift_vc|  (the signed mean_v shift_vc lets opposite shifts cancel)
    return per_video.mean(axis=0), np.abs(per_video).mean(axis=0)


@_renamed(recogniser="recognizer")
def fuse_cached(cache_dir: str | os.PathLike, *, spatial: str, temporal: str, recognizer: str = "tsn",
                weights: Sequence[float] = (1.0, 1.5), name: str | None = None) -> EvaluationResult:
    """Fuse the cached spatial-stream scores of method ``spatial`` with the cached temporal-stream
    scores of method ``temporal`` (both complete evaluations with the same recognizer weights):
    the paper's SoSR+ToSR row. Returns an ``EvaluationResult`` with one "fusion" row named
    ``name`` (default ``"<spatial>+<temporal>"``). Only for recognizers with independent streams
    (TSN); ST-ResNet's streams are coupled: run ``evaluate(sosr, ..., temporal_method=tosr)``."""
    root = resolve(cache_dir)
    loaded = {}
    for role, method in (("spatial", spatial), ("temporal", temporal)):
        folder = root / method / "scores" / recognizer
        meta = _read_json(folder / "settings.json")
        if meta is None:
            raise FileNotFoundError(f"{folder / 'settings.json'} not found: run evaluate(..., name={method!r}, "
                                    f"cache_dir={str(cache_dir)!r}) with recognizer {recognizer!r} first")
        files = {p.stem: p for p in folder.glob("*.npz") if not p.name.startswith(".")}
        loaded[role] = (meta["settings"], files)
    (s_set, s_files), (t_set, t_files) = loaded["spatial"], loaded["temporal"]
    if s_set["coupled"]:
        raise ValueError(f"recognizer {recognizer!r} ({s_set['kind']}) has coupled streams: fusing caches of "
                         "two methods is not its protocol; run evaluate(spatial_method, ..., "
                         "temporal_method=...) instead")
    for k in ("recogniser", "num_frames", "crops", "class_names", "dataset"):  # "recogniser": the cache's key
        if s_set.get(k) != t_set.get(k):
            fix = ("evaluate both on the same prepared data" if k == "dataset"
                   else "evaluate both with the same recognizer and sampling settings")
            raise ValueError(f"caches {spatial!r} and {temporal!r} differ in {k} ({s_set.get(k)!r} vs "
                             f"{t_set.get(k)!r}): {fix}")
    if set(s_files) != set(t_files):
        only = sorted(set(s_files) ^ set(t_files))
        raise ValueError(f"caches {spatial!r} ({len(s_files)} videos) and {temporal!r} ({len(t_files)}) cover "
                         f"different videos (e.g. {only[0]}): finish both evaluations first")
    labels, fused, video_ids = [], [], []
    for k in sorted(s_files):
        a, b = _load_scores(s_files[k]), _load_scores(t_files[k])
        if a is None or b is None:
            raise ValueError(f"cached scores of video {k} are unreadable in {spatial!r} or {temporal!r}: "
                             "run evaluate again for that method to recompute them")
        (ls, ss, vid), (lt, ts, _) = a, b
        if ls != lt:
            raise ValueError(f"video {vid}: label {ls} in {spatial!r} but {lt} in {temporal!r}: the caches are "
                             "from different datasets")
        labels.append(ls)
        video_ids.append(vid)
        fused.append(fuse_scores(torch.from_numpy(ss["spatial"]), torch.from_numpy(ts["temporal"]),
                                 weights).numpy())
    name = name or f"{spatial}+{temporal}"
    scores = {(recognizer, "fusion"): np.stack(fused) if fused else np.zeros((0, len(s_set["class_names"])))}
    return _result(name, video_ids, np.asarray(labels, np.int64), scores, s_set["class_names"])
