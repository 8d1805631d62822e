"""A derived store of LR training video for the retrain-on-LR baseline: each video's "HR" frames
are the MATLAB-bicubic x``scale`` upscaling of its stored LR frames (exactly the frames of the
``bicubic`` evaluation row) and its flow is computed from those frames, not from the true HR.

    stats = derive_lr_store("data/interim", "data/interim_lr", scale=4, flow_method="dis")
    PreparedDataset("data/interim_lr").video(vid).hr   # (T, H, W, 3) bicubic x4 of the LR frames

Same store format (:mod:`arsr.data.store`) and index rows as the source store, for the chosen
splits only (``train`` by default: the baseline is trained on it and scored on the ``bicubic``
frames of the source store's test split). One atomic folder per video, resumable: a folder whose
fingerprint (the source video's settings fingerprint and HR digest, the scale, the flow method)
matches is kept. Each folder's ``meta.json`` records the seconds its derivation took
(``derive_seconds``, one process), so the baseline's cost is known after a resumed run too.

The derived store has its own dataset fingerprint (``dataset.json``, :mod:`arsr.data.fingerprint`):
its settings fingerprint (:func:`derived_settings_fingerprint`) holds the source store's dataset
fingerprint, so models trained on it are retrained when the source data changes.
"""
from __future__ import annotations

import hashlib
import json
import shutil
import time
from concurrent.futures import as_completed
from pathlib import Path
from typing import Sequence

import numpy as np
from tqdm import tqdm

from ..io import write_json, write_text
from ..paths import resolve
from ..workers import process_pool
from .fingerprint import write_fingerprint
from .store import DATASET_FILE, PreparedDataset, folder_files, read_meta, write_video_folder

__all__ = ["bicubic_upscale", "derive_lr_video", "derive_lr_store", "derived_settings_fingerprint",
           "DERIVED_FORMAT"]

DERIVED_FORMAT = 2  # a derived folder of another format is never reused (2: keyed by the source's HR digest)


def bicubic_upscale(lr: np.ndarray, scale: int) -> np.ndarray:
    """``(T, h, w, 3)`` uint8 -> ``(T, scale·h, scale·w, 3)`` uint8: MATLAB bicubic (torch
    ``arsr.ops.imresize`` on [0, 1] floats, clipped and rounded), as the ``bicubic`` SR method
    (``arsr.sr_methods.bicubic_method``) computes it."""
    import torch

    from ..ops.imresize import imresize

    x = torch.from_numpy(np.ascontiguousarray(lr)).movedim(-1, -3).float().div_(255.0)
    with torch.inference_mode():
        y = imresize(x.contiguous(memory_format=torch.channels_last), scale)
        return y.clamp_(0.0, 1.0).mul_(255.0).round_().to(torch.uint8).permute(0, 2, 3, 1).numpy()


def _fingerprint(source_meta: dict, scale: int, flow_method: str, codec: str) -> str:
    # the source's HR digest: another video under the same name is derived again
    blob = json.dumps({"source": source_meta.get("fingerprint"), "n_frames": source_meta.get("n_frames"),
                       "hr_digest": source_meta.get("hr_digest"),
                       "scale": scale, "flow_method": flow_method, "codec": codec, "format": DERIVED_FORMAT},
                      sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def derived_settings_fingerprint(source_fingerprint: str, *, scale: int, flow_method: str, codec: str,
                                 splits: Sequence[str]) -> str:
    """What the derived store depends on besides its frames: the source store's dataset
    fingerprint and the derivation's settings (the settings part of its dataset fingerprint)."""
    blob = json.dumps({"source_dataset": source_fingerprint, "scale": scale, "flow_method": flow_method,
                       "codec": codec, "splits": list(splits), "format": DERIVED_FORMAT}, sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def derive_lr_video(source_folder: Path, folder: Path, *, scale: int, flow_method: str,
                    flow_options: dict | None = None, codec: str = "raw", fingerprint: str = "") -> dict:
    """Write the derived folder of one prepared video: HR := bicubic x``scale`` of its LR frames,
    LR as stored, flow computed from the upscaled frames. Returns the folder's meta."""
    from ..flow import compute_flows
    from .store import PreparedVideo

    t0 = time.perf_counter()
    video = PreparedVideo(Path(source_folder), "", -1, "")
    lr = np.asarray(video.lr)
    up = bicubic_upscale(lr, scale)
    flow = compute_flows(up, flow_method, **(flow_options or {}))
    meta = {"fingerprint": fingerprint, "derived_from": str(source_folder), "scale": scale,
            "settings": {"flow_method": flow_method, "scale": scale, "hr": f"bicubic x{scale} of lr"},
            "flow_mean_magnitude": float(np.linalg.norm(flow.astype(np.float32), axis=-1).mean())}
    meta["derive_seconds"] = time.perf_counter() - t0  # wall seconds of this one process, before the write
    return write_video_folder(folder, hr=up, lr=lr, flow=flow, meta=meta, codec=codec)


def _job(args):
    return derive_lr_video(*args[:2], **args[2])


def derive_lr_store(interim_dir: str | Path, out_dir: str | Path, *, scale: int = 4, flow_method: str = "dis",
                    flow_options: dict | None = None, splits: Sequence[str] = ("train",), codec: str = "raw",
                    workers: int = 1, progress: bool = True) -> dict:
    """Derive ``out_dir`` from the prepared store ``interim_dir`` (see the module notes).

    Returns stats: videos, derived (now), reused, ``derive_seconds`` (seconds summed over the
    videos' derivations, each in one process; reused ones included) and ``wall_seconds`` of this call.
    Writes the derived store's ``dataset.json`` last (see the module notes)."""
    t0 = time.perf_counter()
    source = PreparedDataset(interim_dir)
    settings = derived_settings_fingerprint(source.fingerprint, scale=scale, flow_method=flow_method, codec=codec,
                                            splits=splits)  # refuses a source without a fingerprint first
    out_dir = resolve(out_dir)
    videos_dir = out_dir / "videos"
    (out_dir / DATASET_FILE).unlink(missing_ok=True)  # until the new one is written
    videos_dir.mkdir(parents=True, exist_ok=True)
    for leftover in videos_dir.glob(".*.tmp"):
        shutil.rmtree(leftover, ignore_errors=True)
    rows = source.index[source.index["split"].isin(list(splits))].reset_index(drop=True)
    if rows.empty:
        raise ValueError(f"{source.root / 'index.csv'} has no videos in split(s) {list(splits)}: nothing to derive")
    for stale in {p.name for p in videos_dir.iterdir() if p.is_dir()} - set(rows["key"]):
        shutil.rmtree(videos_dir / stale)
    metas, todo = {}, []
    for key in rows["key"]:
        src = source.root / "videos" / key
        fingerprint = _fingerprint(read_meta(src) or {}, scale, flow_method, codec)
        meta = read_meta(videos_dir / key)
        if meta and meta.get("fingerprint") == fingerprint and \
                all((videos_dir / key / f).is_file() for f in folder_files(meta)):
            metas[key] = meta
        else:
            todo.append((key, (src, videos_dir / key, {"scale": scale, "flow_method": flow_method,
                                                        "flow_options": flow_options, "codec": codec,
                                                        "fingerprint": fingerprint})))
    reused = len(metas)
    bar = tqdm(total=len(todo), desc="derive LR store", unit="video", disable=not progress, mininterval=1.0)
    try:
        pool = process_pool(workers, len(todo))
        if pool is None:
            for key, job in todo:
                metas[key] = _job(job)
                bar.update(1)
        else:
            with pool:
                futures = {pool.submit(_job, job): key for key, job in todo}
                for future in as_completed(futures):
                    metas[futures[future]] = future.result()
                    bar.update(1)
    finally:
        bar.close()
    index = rows.copy()
    for col in ("height", "width", "lr_height", "lr_width", "n_frames"):
        index[col] = [int(metas[k][col]) for k in index["key"]]
    write_text(out_dir / "index.csv", index.to_csv(index=False))
    write_text(out_dir / "classes.csv", source.classes.to_csv(index=False))
    write_fingerprint(out_dir, settings)
    stats = {"videos": len(index), "derived": len(todo), "reused": reused, "splits": list(splits),
             "scale": scale, "flow_method": flow_method,
             "derive_seconds": round(float(sum(m.get("derive_seconds", 0.0) for m in metas.values())), 3),
             "wall_seconds": round(time.perf_counter() - t0, 3)}
    write_json(out_dir / "derive_stats.json", stats)
    return stats
