"""The prepare stage: a dataset of videos -> HR frames, x1/s LR frames and HR optical flow,
written in the compact store format of :mod:`arsr.data.store`.

Parallel over videos (a process pool), one atomic folder per video, resumable: a restarted run
keeps every finished video whose settings fingerprint matches and redoes only the rest. The store's
dataset fingerprint (:mod:`arsr.data.fingerprint`) is written last, into ``dataset.json``, and
removed first when prepare starts again, so a store whose prepare did not finish has none.

The store holds only what the data are: the run's own counters (videos prepared now or reused,
seconds) are returned to the caller, which keeps them outside the store (the stage's
``reports/metrics/prepare.json``), so a resumed prepare of the same data leaves a store byte for
byte equal to a straight one and DVC finds the stages downstream up to date. Every bad video of a
run (listed but missing, unreadable) can be listed in one file (``bad_videos``): the error or the
log names a few and points at it.
"""
from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
from concurrent.futures import as_completed
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np
import pandas as pd
from tqdm import tqdm

from ..io import disk_full, is_disk_full, tree_bytes, write_text
from ..paths import resolve
from ..shards import Shard, is_split, progress_label, rank_ordered
from ..workers import process_pool
from .fingerprint import with_hr_digest, write_fingerprint
from .store import (DATASET_FILE, INDEX_COLUMNS, STORE_FORMAT, check_dense_labels, read_meta, verify_folder, video_key,
                    write_video_folder)

log = logging.getLogger(__name__)

FORMAT_VERSION = STORE_FORMAT  # a folder of another store format is never reused


@dataclass(frozen=True)
class PrepareSettings:
    """What a prepared video depends on; its fingerprint decides whether a folder is reusable."""

    scale: int = 4
    flow_method: str = "dis"
    hr_size: tuple[int, int] | None = None  # (width, height); None = source size cropped to /scale
    max_frames: int | None = None
    hr_frames: str = "stored"  # "stored" (a pack) | "source" (decoded from the source video on demand)
    frame_codec: str = "png"   # how stored frames are encoded: "png" (compact) | "raw" (fastest to read)
    flow_device: str = "cpu"   # where tvl1_torch runs; not part of the fingerprint (same flow)

    @classmethod
    def from_params(cls, prepare: dict) -> "PrepareSettings":
        from ..flow import resolve_flow_device

        hr = prepare.get("hr_size")
        return cls(scale=prepare["scale"], flow_method=prepare["flow_method"],
                   hr_size=tuple(hr) if hr else None, max_frames=prepare.get("max_frames"),
                   hr_frames=prepare.get("hr_frames", "stored"), frame_codec=prepare.get("frame_codec", "png"),
                   flow_device=resolve_flow_device(prepare.get("flow_device", "cpu")))

    def fingerprint(self) -> str:
        fields = {k: v for k, v in asdict(self).items() if k != "flow_device"}
        blob = json.dumps({**fields, "format": FORMAT_VERSION}, sort_keys=True)
        return hashlib.sha256(blob.encode()).hexdigest()[:16]

    def flow_options(self) -> dict:
        """``compute_flows`` options: the device for ``tvl1_torch``, none for the others."""
        from ..flow import flow_options

        return flow_options(self.flow_method, self.flow_device)


# --------------------------------------------------------------------------------------------
# Listing the chosen dataset

def list_dataset(data: dict, *, workers: int = 0, progress: bool = True, bad_videos: str | Path | None = None):
    """The videos that the ``data`` params group names, generating the synthetic set if needed;
    ``data.validation_groups`` training groups moved to the split "val" (:mod:`arsr.data.validation`).

    Returns ``(records, skipped)``: a :class:`~arsr.data.datasets.VideoList` of
    :class:`~arsr.data.datasets.VideoRecord` (labelled train/test videos, then unlabelled
    SR-training videos; ``records.dropped_classes``: the classes without a video left out under
    ``data.on_empty_class: drop``) and the names of the listed-but-absent files dropped under
    ``on_bad_video: skip`` (as the split lists name them; SR-training ones under ``unlabelled/``).
    ``bad_videos``: a file that lists every absent video of the listing (:func:`write_bad_videos`;
    removed when there is none), also when their absence stops the run.
    """
    from .datasets import DatasetError, VideoList
    from .validation import hold_out_validation

    try:
        labelled, unlabelled = _list(data, workers, progress)
    except DatasetError as err:
        if bad_videos is None or not err.files:
            raise
        write_bad_videos(bad_videos, missing=err.files, unreadable={})
        raise DatasetError(f"{err} (all {len(err.files)} listed in {bad_videos})", err.files) from None
    skipped = [*getattr(labelled, "skipped_files", []),
               *(f"unlabelled/{name}" for name in getattr(unlabelled, "skipped_files", []))]
    if bad_videos is not None:
        write_bad_videos(bad_videos, missing=skipped, unreadable={})  # a new run: the old list goes
    dropped = getattr(labelled, "dropped_classes", [])
    class_names = getattr(labelled, "class_names", [])
    unlabelled = [replace(r, video_id=f"unlabelled/{r.video_id}") for r in unlabelled]
    labelled = hold_out_validation(labelled, data.get("validation_groups", 0))
    return VideoList(list(labelled) + list(unlabelled), class_names, skipped, dropped), skipped


def _list(data: dict, workers: int, progress: bool):
    """The labelled and the unlabelled videos of the ``data`` group, as the readers list them."""
    from .datasets import list_folder, list_hmdb51, list_ucf101

    dataset, root = data["dataset"], resolve(data["root"])
    on_missing = "skip" if data["on_bad_video"] == "skip" else "error"
    on_empty = data.get("on_empty_class", "error")
    splits_dir = resolve(data["splits_dir"]) if data.get("splits_dir") else None
    sr_root = resolve(data["sr_root"]) if data.get("sr_root") else None
    if dataset == "synthetic":
        from .synthetic import SyntheticConfig
        from .synthetic_files import generate

        # another generator setting replaces the generated set in place (it is remade from its settings)
        generate(root, SyntheticConfig.from_dict(data["synthetic"]), workers=workers, progress=progress,
                 regenerate=True)
        labelled = list_ucf101(root, split=1, on_missing=on_missing, on_empty_class=on_empty)
        sr_root = sr_root or root / "unlabelled"
    elif dataset == "ucf101":
        labelled = list_ucf101(root, split=data["split"], splits_dir=splits_dir, on_missing=on_missing,
                               on_empty_class=on_empty)
    elif dataset == "hmdb51":
        labelled = list_hmdb51(root, split=data["split"], splits_dir=splits_dir, on_missing=on_missing,
                               on_empty_class=on_empty)
    elif dataset == "folder":
        labelled, sr_root = [], root
    else:
        raise ValueError(f"data.dataset = {dataset!r}: choose synthetic, ucf101, hmdb51 or folder")
    unlabelled = list_folder(sr_root, on_missing=on_missing) if sr_root else []
    return labelled, unlabelled


def write_bad_videos(path: str | Path, *, missing=None, unreadable: dict | None = None) -> None:
    """List a run's bad videos in ``path`` (tab-separated ``problem``, ``video``, ``detail``: one
    line per video, ``missing`` ones as the lists name them, ``unreadable`` ones by video id with
    the reader's error), atomically; ``None`` keeps that kind's lines of the file as they are, so
    the listing and prepare fill one file. A file left with no video is removed."""
    path = resolve(path)
    kept = []
    if path.is_file():
        kept = [line for line in path.read_text().splitlines()[1:]
                if (line.startswith("missing\t") and missing is None)
                or (line.startswith("unreadable\t") and unreadable is None)]
    lines = [*(f"missing\t{name}\tlisted but not on disk" for name in (missing or ())),
             *(f"unreadable\t{key}\t{' '.join(str(err).split())}" for key, err in sorted((unreadable or {}).items())),
             *kept]
    if not lines:
        path.unlink(missing_ok=True)
        return
    write_text(path, "problem\tvideo\tdetail\n" + "\n".join(sorted(lines)) + "\n")


# --------------------------------------------------------------------------------------------
# One video

def working_size(frames: np.ndarray, settings: PrepareSettings) -> np.ndarray:
    """Bring (T, H, W, 3) uint8 frames to the HR working size: resize to ``hr_size`` (bicubic,
    antialiased) if given, else centre-crop to a multiple of ``scale``."""
    box = working_crop(frames.shape[1], frames.shape[2], settings)
    if box is None:
        out_w, out_h = settings.hr_size
        return np.ascontiguousarray(_per_frame_resize(frames, size=(out_h, out_w)))
    top, left, ch, cw = box
    return np.ascontiguousarray(frames[:, top:top + ch, left:left + cw])


def working_crop(h: int, w: int, settings: PrepareSettings) -> tuple[int, int, int, int] | None:
    """(top, left, height, width) of the working frames inside an h x w source frame, or None
    when ``hr_size`` resizes (the working frames are then no crop of the source)."""
    if settings.hr_size is not None:
        out_w, out_h = settings.hr_size
        return (0, 0, h, w) if (out_h, out_w) == (h, w) else None
    s = settings.scale
    ch, cw = h - h % s, w - w % s
    if ch < 2 * s or cw < 2 * s:
        raise ValueError(f"frames of {w}x{h} are too small for x{s} super-resolution")
    return (h - ch) // 2, (w - cw) // 2, ch, cw


def _per_frame_resize(frames: np.ndarray, **kw) -> np.ndarray:
    """imresize every frame of (T, H, W, C) at once: stack frames on the channel axis."""
    from ..ops import imresize

    t, h, w, c = frames.shape
    stacked = frames.transpose(1, 2, 0, 3).reshape(h, w, t * c)
    out = imresize(stacked, **kw)
    return out.reshape(out.shape[0], out.shape[1], t, c).transpose(2, 0, 1, 3)


def prepare_video(source: Path, folder: Path, settings: PrepareSettings) -> dict:
    """Read ``source``, write the video's store folder (:mod:`arsr.data.store`) atomically.

    HR is stored (``settings.hr_frames == "stored"``), or decoded from ``source`` at read time
    when ``"source"`` and the working frames are a crop of it (else stored). Returns the meta dict
    (the video's index columns are filled in by the caller).
    """
    from ..flow import compute_flows
    from .video import VideoReadError, read_video

    frames = read_video(source, max_frames=settings.max_frames)
    if frames.shape[0] < 2:
        raise VideoReadError(
            f"{source}: only {frames.shape[0]} frame(s) decoded; optical flow needs at least 2. "
            "Re-encode or remove the file, or set data.on_bad_video: skip"
        )
    crop = working_crop(frames.shape[1], frames.shape[2], settings)
    hr = working_size(frames, settings)
    lr = _per_frame_resize(hr, scale=1.0 / settings.scale)
    flow = compute_flows(hr, settings.flow_method, **settings.flow_options())
    meta = {"fingerprint": settings.fingerprint(), "settings": asdict(settings),
            "source": source_stamp(source),
            "flow_mean_magnitude": float(np.linalg.norm(flow.astype(np.float32), axis=-1).mean())}
    return write_video_folder(folder, hr=hr, lr=lr, flow=flow, meta=meta,
                              source=source if crop is not None and settings.hr_frames == "source" else None,
                              crop=crop, codec=settings.frame_codec)


def _worker(job):
    source, folder, settings = job
    from .video import VideoReadError

    try:
        return prepare_video(source, folder, settings), None
    except VideoReadError as err:
        return None, str(err)


# --------------------------------------------------------------------------------------------
# The whole dataset

def source_stamp(path: str | Path) -> list[int]:
    """Size and modification time (ns) of a source video: a prepared folder made from another
    file under the same name (e.g. a regenerated synthetic dataset) is never reused."""
    st = os.stat(path)
    return [int(st.st_size), int(st.st_mtime_ns)]


def prepare_dataset(records, out_dir: str | Path, settings: PrepareSettings, *, workers: int = 0,
                    on_bad_video: str = "error", progress: bool = True, shard: Shard | None = None,
                    bad_videos: str | Path | None = None):
    """Prepare every record into ``out_dir``; return ``(index, stats)``.

    ``workers``: processes (:mod:`arsr.workers`: 0 = one per core, 1 = this process). ``stats``
    counts videos ``prepared`` now, ``reused`` from an earlier run, ``skipped`` as unreadable (only
    with ``on_bad_video="skip"``; with ``"error"`` the run stops once every video was tried,
    the good ones safely on disk, with an error that names the first unreadable one and counts
    them all). ``bad_videos``: the file (:func:`write_bad_videos`) whose unreadable lines this run
    replaces with its own, also when they stop it. ``stats`` is the run's own account: it is not
    written into ``out_dir``, whose content depends on the data alone.

    ``shard`` (a rank of a torchrun launch, :mod:`arsr.study.sharded`): prepare only this rank's
    slice of ``records`` (``records[rank::world]``; rank 0 first removes a killed run's leftovers
    and stale folders) and return ``(None, stats)`` of the slice, writing no index; the index is
    a later call without ``shard``, which finds every video prepared and reuses it.

    The dataset fingerprint (``dataset.json``, :mod:`arsr.data.fingerprint`) is removed at the start
    and written after the index. A kept video prepared before fingerprints existed (no
    ``hr_digest`` in its meta.json) gets its digest from its stored frames, not prepared again.
    """
    out_dir = resolve(out_dir)
    videos_dir = out_dir / "videos"
    keys = [video_key(r.video_id) for r in records]
    if len(set(keys)) != len(keys):
        dup = sorted({k for k in keys if keys.count(k) > 1})[:5]
        raise ValueError(f"video ids collide after making folder names: {dup}")
    sharded = is_split(shard)
    with rank_ordered(shard):
        if not sharded or shard.is_main:
            # the store changes from here on: until the new fingerprint is written it has none
            (out_dir / DATASET_FILE).unlink(missing_ok=True)
            videos_dir.mkdir(parents=True, exist_ok=True)
            for leftover in videos_dir.glob(".*.tmp"):  # folders of a killed run
                shutil.rmtree(leftover, ignore_errors=True)
            (out_dir / LEGACY_STATS).unlink(missing_ok=True)  # run counters no longer live in the store
            for stale in set(p.name for p in videos_dir.iterdir() if p.is_dir()) - set(keys):
                shutil.rmtree(videos_dir / stale)
    mine = list(zip(records, keys))
    if sharded:
        mine = shard.take(mine)

    fingerprint = settings.fingerprint()
    metas: dict[str, dict] = {}
    todo = []
    for record, key in mine:
        meta = read_meta(videos_dir / key)
        if meta and meta.get("fingerprint") == fingerprint and \
                meta.get("source") == source_stamp(record.path):
            problem = verify_folder(videos_dir / key, meta)
            if problem is None:
                metas[key] = with_hr_digest(videos_dir / key, meta)
                continue
            log.warning("redoing %s: %s", record.video_id, problem)
        todo.append((record, key))
    reused = len(metas)
    errors: dict[str, str] = {}
    bar = tqdm(total=len(todo), desc=f"prepare videos{progress_label(shard)}", unit="video", disable=not progress,
               mininterval=1.0)
    jobs = [(r.path, videos_dir / key, settings) for r, key in todo]
    try:
        pool = process_pool(workers, len(jobs))
        if pool is None:
            results = ((key, _worker(job)) for (_, key), job in zip(todo, jobs))
            _collect(results, metas, errors, on_bad_video, bar)
        else:
            with pool:
                futures = {pool.submit(_worker, job): key for (_, key), job in zip(todo, jobs)}
                try:
                    _collect(((futures[f], f.result()) for f in as_completed(futures)),
                             metas, errors, on_bad_video, bar)
                except BaseException:
                    for f in futures:
                        f.cancel()
                    raise
    except OSError as err:
        if not is_disk_full(err):
            raise
        done = [videos_dir / k for k in list(metas)[-20:]]  # the latest finished folders (this run's first)
        per_video = sum(tree_bytes(f) for f in done) / len(done) if done else None
        raise disk_full(videos_dir, len(mine) - len(metas) - len(errors), per_video) from err
    finally:
        bar.close()
    if bad_videos is not None:
        ids = {key: record.video_id for record, key in mine}
        write_bad_videos(bad_videos, unreadable={ids[key]: err for key, err in errors.items()})
    if errors and on_bad_video != "skip":
        raise _bad_video(errors, bad_videos)
    if sharded:
        return None, {"videos": len(mine), "prepared": len(todo) - len(errors), "reused": reused,
                      "skipped_unreadable": len(errors), "unreadable": errors, "fingerprint": fingerprint}

    rows = []
    for record, key in zip(records, keys):
        if key not in metas:
            continue
        m = metas[key]
        rows.append({"video_id": record.video_id, "key": key, "class_name": record.class_name,
                     "label": record.label, "split": record.split, "n_frames": m["n_frames"],
                     "height": m["height"], "width": m["width"], "lr_height": m["lr_height"],
                     "lr_width": m["lr_width"], "source": str(record.path)})
    index = pd.DataFrame(rows, columns=INDEX_COLUMNS)
    if index.empty:
        raise ValueError(f"no video could be prepared ({len(errors)} unreadable): nothing to write")
    classes = (pd.DataFrame([(r.label, r.class_name) for r in records if r.label >= 0],
                            columns=["label", "class_name"]).drop_duplicates().sort_values("label"))
    check_dense_labels(classes, out_dir / "classes.csv")
    write_text(out_dir / "index.csv", index.to_csv(index=False))
    write_text(out_dir / "classes.csv", classes.to_csv(index=False))
    write_fingerprint(out_dir, fingerprint)
    stats = {"videos": len(index), "prepared": len(todo) - len(errors), "reused": reused,
             "skipped_unreadable": len(errors), "unreadable": errors,
             "fingerprint": fingerprint}
    return index, stats


#: Where prepare once kept its run counters, inside the store; removed when found.
LEGACY_STATS = "prepare_stats.json"


def _collect(results, metas, errors, on_bad_video, bar) -> None:
    for key, (meta, error) in results:
        if error is not None:
            log.warning("%s unreadable video: %s", "skipping" if on_bad_video == "skip" else "found", error)
            errors[key] = error
        else:
            metas[key] = meta
        bar.update(1)


def _bad_video(errors: dict[str, str], listed: Path | None) -> Exception:
    """One error for the run's unreadable videos: the first named, all counted (and listed in
    ``listed``), the params key that skips them."""
    from .video import VideoReadError

    first = errors[sorted(errors)[0]]
    more = (f" (and {len(errors) - 1} more unreadable video{'s' if len(errors) > 2 else ''}"
            + (f", all listed in {listed}" if listed else f": {', '.join(sorted(errors)[1:6])}"
               + (", ..." if len(errors) > 6 else "")) + ")") if len(errors) > 1 else ""
    return VideoReadError(f"{first}{more}  (set data.on_bad_video: skip in params.yaml to count and "
                          "skip such files instead)")
