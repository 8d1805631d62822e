"""Writing the synthetic dataset (:mod:`arsr.data.synthetic`) to disk in the UCF101 layout: its
clips (rendered in a pool of processes, each written atomically, resumable), split lists and
manifest (``root/synthetic.json``: config, seed and counts, which tells whether a folder holds the
dataset of a config)."""
from __future__ import annotations

import json
import logging
import os
import shutil
import time
from concurrent.futures import as_completed
from pathlib import Path

from tqdm import tqdm

from ..io import write_json, write_text
from ..workers import process_pool
from .synthetic import (CLASS_NAMES, GENERATOR_VERSION, MANIFEST_NAME, SPLITS_DIR, UNLABELLED_DIR, SyntheticConfig,
                        layout, render_clip, render_unlabelled, unlabelled_name)
from .video import write_video

log = logging.getLogger(__name__)


def manifest(cfg: SyntheticConfig) -> dict:
    """What ``root/synthetic.json`` records about a dataset made with ``cfg``."""
    entries = layout(cfg)
    return {
        "generator": "arsr.data.synthetic", "version": GENERATOR_VERSION,
        "config": cfg.to_dict(), "class_names": cfg.class_names,
        "n_train": sum(e.split == "train" for e in entries),
        "n_test": sum(e.split == "test" for e in entries),
        "n_unlabelled": cfg.n_unlabelled,
    }


def read_manifest(root: str | os.PathLike) -> dict | None:
    """The manifest under ``root``, or None if there is none (or it is unreadable)."""
    try:
        return json.loads((Path(root) / MANIFEST_NAME).read_text())
    except (FileNotFoundError, json.JSONDecodeError):
        return None


def matches(root: str | os.PathLike, cfg: SyntheticConfig) -> bool:
    """Whether ``root`` holds a complete dataset generated with exactly ``cfg``."""
    found = read_manifest(root)
    return bool(found and found.get("complete") and _same(found, cfg))


def _same(found: dict, cfg: SyntheticConfig) -> bool:
    return found.get("version") == GENERATOR_VERSION and found.get("config") == cfg.to_dict()


def _write_job(job: tuple) -> str:
    kind, a, b, path, cfg_dict = job
    cfg = SyntheticConfig(**cfg_dict)
    frames = render_clip(a, b, cfg) if kind == "labelled" else render_unlabelled(a, cfg)
    write_video(path, frames, fps=cfg.fps)
    return path


def generate(root: str | os.PathLike, cfg: SyntheticConfig = SyntheticConfig(),
             workers: int | None = None, progress: bool = True, overwrite: bool = False,
             regenerate: bool = False) -> dict:
    """Write the dataset of ``cfg`` under ``root`` (the layout of :mod:`arsr.data.synthetic`'s docstring).

    Resumable: when ``root/synthetic.json`` records the same config and generator version,
    clips already on disk are kept (each was written atomically) and only missing ones are
    rendered. A root holding a different synthetic dataset, or other files, is an error unless
    ``overwrite`` (which deletes the old dataset's class folders, unlabelled/, split lists and
    manifest first); ``regenerate`` replaces a synthetic dataset of other settings (its manifest
    says it is one: nothing else is deleted) and logs it, the study's way to run another
    generator seed in place (``dvc exp run -S data.synthetic.seed=1``). ``workers``: processes, as everywhere
    (:mod:`arsr.workers`: 0 or None = one per core, 1 = this process).

    Returns a summary: root, class_names, n_train, n_test, n_unlabelled, written, reused,
    seconds.
    """
    started = time.perf_counter()
    root = Path(root)
    found = read_manifest(root)
    if found is not None and not _same(found, cfg):
        old = found.get("config", {})
        diff = sorted(k for k in set(old) | set(cfg.to_dict()) if old.get(k) != cfg.to_dict().get(k))
        if regenerate and not overwrite:
            log.warning("%s held a synthetic dataset of other settings (%s): generating this one in its place",
                        root, ", ".join(f"{k}: {old.get(k)!r} -> {cfg.to_dict().get(k)!r}" for k in diff)
                        or "generator version")
        elif not overwrite:
            raise ValueError(
                f"{root / MANIFEST_NAME}: this folder holds a synthetic dataset made with other "
                f"settings (differing: {', '.join(diff) or 'generator version'}); delete {root}, "
                "choose another root, or pass overwrite=True")
        _remove_dataset(root, found)
    elif found is None and root.is_dir() and any(not p.name.startswith(".") for p in root.iterdir()):
        if not overwrite:
            raise ValueError(f"{root} is not empty and has no {MANIFEST_NAME}: it is not a "
                             "synthetic dataset; choose an empty or new folder, or pass "
                             "overwrite=True to replace the synthetic layout's folders there")
        _remove_dataset(root, {"class_names": list(CLASS_NAMES)})
    root.mkdir(parents=True, exist_ok=True)
    info = manifest(cfg)
    write_json(root / MANIFEST_NAME, {**info, "complete": False})
    for leftover in root.glob("*/.*.avi"):  # temporary files of a killed run
        leftover.unlink()

    jobs = [("labelled", e.class_idx, e.clip_idx, str(root / e.rel_path)) for e in layout(cfg)]
    jobs += [("unlabelled", i, 0, str(root / unlabelled_name(i))) for i in range(cfg.n_unlabelled)]
    todo = [(*job, cfg.to_dict()) for job in jobs if not Path(job[3]).is_file()]
    bar = tqdm(total=len(todo), desc="synthetic clips", unit="clip", disable=not progress,
               mininterval=1.0)
    try:
        pool = process_pool(workers, len(todo))
        if pool is None:
            for job in todo:
                _write_job(job)
                bar.update(1)
        else:
            with pool:
                futures = [pool.submit(_write_job, job) for job in todo]
                try:
                    for future in as_completed(futures):
                        future.result()
                        bar.update(1)
                except BaseException:
                    for future in futures:
                        future.cancel()
                    raise
    finally:
        bar.close()

    _write_split_lists(root, cfg)
    seconds = time.perf_counter() - started
    write_json(root / MANIFEST_NAME, {**info, "complete": True})
    return {"root": str(root), "class_names": cfg.class_names, "n_train": info["n_train"],
            "n_test": info["n_test"], "n_unlabelled": cfg.n_unlabelled, "written": len(todo),
            "reused": len(jobs) - len(todo), "seconds": round(seconds, 2)}


def _write_split_lists(root: Path, cfg: SyntheticConfig) -> None:
    entries = layout(cfg)
    lists = root / SPLITS_DIR
    write_text(lists / "classInd.txt",
               "".join(f"{i + 1} {name}\n" for i, name in enumerate(cfg.class_names)))
    write_text(lists / "trainlist01.txt", "".join(
        f"{e.rel_path} {e.class_idx + 1}\n" for e in entries if e.split == "train"))
    write_text(lists / "testlist01.txt", "".join(
        f"{e.rel_path}\n" for e in entries if e.split == "test"))


def _remove_dataset(root: Path, found: dict) -> None:
    """Delete what a synthetic dataset consists of (and nothing else) under ``root``."""
    for name in [*found.get("class_names", []), UNLABELLED_DIR, SPLITS_DIR]:
        if name in (*CLASS_NAMES, UNLABELLED_DIR, SPLITS_DIR) and (root / name).is_dir():
            shutil.rmtree(root / name)
    (root / MANIFEST_NAME).unlink(missing_ok=True)
