"""The dataset fingerprint of a prepared store: one hash of its content, so that nothing made from
other data (a trained model, a score cache, a metrics file) passes for this data's.

    write_fingerprint("data/interim", settings.fingerprint())   # prepare, after index.csv
    PreparedDataset("data/interim").fingerprint                  # every stage that reads the store

Definition: the first 16 hex digits of the sha256 of the JSON (sorted keys) of ::

    {"format": FINGERPRINT_FORMAT,
     "settings": the fingerprint of the settings that made the store (prepare's
                 ``PrepareSettings.fingerprint()``; the derived LR store's own, which holds its
                 source store's dataset fingerprint),
     "classes": [[label, class_name], ...]                          (classes.csv, in order),
     "videos": [[video_id, class_name, label, split, n_frames, hr_digest], ...]   (index order)}

where ``hr_digest`` is meta.json's digest of the video's HR working frames (shape and bytes,
:func:`arsr.data.store.frames_digest`), computed by ``write_video_folder`` while prepare holds the
frames. LR frames and flow are computed deterministically from HR and the settings, so they are
covered without being hashed again. Nothing specific to one clone or run enters: no path (index.csv's
``source`` column), modification time, counter (``prepare_stats.json``) or clock. Equal data
prepared into two folders, or by a resumed prepare, has one fingerprint; another video, label,
split or setting gives another.

``dataset.json`` also keeps the digest of the ``index.csv`` it was computed from, so a store whose
index changed afterwards is refused (``arsr.data.store.read_fingerprint``), never misnamed.
"""
from __future__ import annotations

import hashlib
import json
import logging
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np
import pandas as pd

from ..io import write_json
from .packs import frames_digest
from .store import DATASET_FILE, PreparedVideo, StoreFormatError, index_digest, read_meta

__all__ = ["FINGERPRINT_FORMAT", "VIDEO_FIELDS", "dataset_fingerprint", "write_fingerprint", "with_hr_digest"]

log = logging.getLogger(__name__)

FINGERPRINT_FORMAT = 1  # another definition must give other fingerprints
#: The index columns of a video that enter the fingerprint, then meta.json's ``hr_digest``.
VIDEO_FIELDS = ("video_id", "class_name", "label", "split", "n_frames")


def dataset_fingerprint(settings_fingerprint: str, classes: Iterable[Sequence], videos: Iterable[Sequence]) -> str:
    """The fingerprint (see the module notes) of ``classes`` ([label, class_name] rows) and
    ``videos`` ([*VIDEO_FIELDS, hr_digest] rows, in index order) prepared with settings whose
    fingerprint is ``settings_fingerprint``."""
    blob = {"format": FINGERPRINT_FORMAT, "settings": str(settings_fingerprint),
            "classes": [[int(label), str(name)] for label, name in classes],
            "videos": [[str(vid), str(cls), int(label), str(split), int(n), str(digest)]
                       for vid, cls, label, split, n, digest in videos]}
    return hashlib.sha256(json.dumps(blob, sort_keys=True).encode()).hexdigest()[:16]


def _video_rows(root: Path, index: pd.DataFrame) -> list[list]:
    rows = []
    for row in index.itertuples(index=False):
        meta_file = root / "videos" / row.key / "meta.json"
        digest = (read_meta(meta_file.parent) or {}).get("hr_digest")
        if digest is None:
            raise StoreFormatError(f"{meta_file} has no hr_digest (prepared before dataset fingerprints "
                                   "existed); re-run `dvc repro prepare`, which adds it")
        rows.append([*(getattr(row, f) for f in VIDEO_FIELDS), digest])
    return rows


def write_fingerprint(root: str | Path, settings_fingerprint: str) -> str:
    """Compute the fingerprint of the store at ``root`` (its ``index.csv``, ``classes.csv`` and
    the videos' ``hr_digest``) and write it, atomically, to ``root/dataset.json``; return it.
    The store's writer calls it last, after the index."""
    root = Path(root)
    index = pd.read_csv(root / "index.csv", keep_default_na=False)
    classes = pd.read_csv(root / "classes.csv", keep_default_na=False)
    fingerprint = dataset_fingerprint(settings_fingerprint, classes[["label", "class_name"]].itertuples(index=False),
                                      _video_rows(root, index))
    write_json(root / DATASET_FILE, {"fingerprint": fingerprint, "format": FINGERPRINT_FORMAT,
                                     "settings": str(settings_fingerprint), "videos": len(index),
                                     "index_sha256": index_digest(root)})
    return fingerprint


def with_hr_digest(folder: str | Path, meta: dict) -> dict:
    """``meta`` of a prepared folder with its ``hr_digest``: kept where it has one, else computed
    from the stored HR frames (decoded: bit-identical to those prepare held, lossless or checked
    against their CRC-32s) and written into meta.json atomically. Lets prepare add fingerprints to
    a store prepared before they existed without preparing its videos again."""
    if "hr_digest" in meta:
        return meta
    folder = Path(folder)
    hr = np.asarray(PreparedVideo(folder, folder.name, -1, "").hr)
    meta = {**meta, "hr_digest": frames_digest(hr)}
    write_json(folder / "meta.json", meta)
    return meta
