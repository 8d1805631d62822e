"""The prepared-data store under ``data/interim``: one folder per video, an index CSV.

Layout (written by :mod:`arsr.data.prepare`)::

    data/interim/
      index.csv                    one row per video (columns: INDEX_COLUMNS)
      classes.csv                  label, class_name
      videos/<key>/hr.npy          (T, H, W, 3) uint8 RGB, the HR frames at the working size
      videos/<key>/lr.npy          (T, H/s, W/s, 3) uint8 RGB, MATLAB-bicubic x1/s of hr
      videos/<key>/flow.npy        (T-1, H, W, 2) float16, HR flow t -> t+1 in pixels (x, y)
      videos/<key>/meta.json       the settings fingerprint the folder was made with

``.npy`` files open memory-mapped, so patch sampling touches only the pages it reads.
"""
from __future__ import annotations

import json
import re
import threading
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import numpy as np
import pandas as pd

from ..paths import resolve

INDEX_COLUMNS = ["video_id", "key", "class_name", "label", "split", "n_frames",
                 "height", "width", "lr_height", "lr_width", "source"]
SPLITS = ("train", "test", "unlabelled")

# np.load parses the .npy header with ast.literal_eval, which is not thread-safe on CPython 3.11
# (gh-106905: "AST constructor recursion depth mismatch" under concurrent calls). The patch
# sampler opens videos from several loader threads, so every open goes through this lock.
_OPEN_LOCK = threading.Lock()


def open_array(path: Path) -> np.ndarray:
    """A memory-mapped ``.npy`` array, opened safely from any thread."""
    with _OPEN_LOCK:
        return np.load(path, mmap_mode="r")


def video_key(video_id: str) -> str:
    """A file-system-safe folder name for a video id ("Class/v_x_g01_c01" -> "Class__v_x_g01_c01")."""
    key = re.sub(r"[^A-Za-z0-9._-]+", "__", video_id).strip("_")
    if not key:
        raise ValueError(f"video id {video_id!r} gives an empty folder name")
    return key


@dataclass(frozen=True)
class PreparedVideo:
    """One prepared video: memory-mapped HR/LR frames and HR flow."""

    folder: Path
    video_id: str
    label: int
    split: str

    @cached_property
    def hr(self) -> np.ndarray:
        """(T, H, W, 3) uint8 RGB."""
        return open_array(self.folder / "hr.npy")

    @cached_property
    def lr(self) -> np.ndarray:
        """(T, H/s, W/s, 3) uint8 RGB."""
        return open_array(self.folder / "lr.npy")

    @cached_property
    def flow(self) -> np.ndarray:
        """(T-1, H, W, 2) float16, flow from frame t to t+1, channel 0 = x, 1 = y."""
        return open_array(self.folder / "flow.npy")

    @property
    def n_frames(self) -> int:
        return int(self.hr.shape[0])


class PreparedDataset:
    """Read access to a prepared dataset (``data/interim`` by default)."""

    def __init__(self, root: str | Path = "data/interim"):
        self.root = resolve(root)
        index_file = self.root / "index.csv"
        if not index_file.is_file():
            raise FileNotFoundError(
                f"{index_file} not found: the data is not prepared yet; run `dvc repro prepare` "
                "(or the notebook notebooks/10_prepare_data.ipynb)"
            )
        self.index = pd.read_csv(index_file, keep_default_na=False)
        missing = set(INDEX_COLUMNS) - set(self.index.columns)
        if missing:
            raise ValueError(f"{index_file} lacks columns {sorted(missing)}: re-run the prepare stage")
        self.classes = pd.read_csv(self.root / "classes.csv", keep_default_na=False)

    def __len__(self) -> int:
        return len(self.index)

    @property
    def class_names(self) -> list[str]:
        return list(self.classes.sort_values("label")["class_name"])

    def split(self, name: str) -> pd.DataFrame:
        """Rows of the index for one split (train | test | unlabelled)."""
        if name not in SPLITS:
            raise ValueError(f"unknown split {name!r}; choose one of {', '.join(SPLITS)}")
        return self.index[self.index["split"] == name].reset_index(drop=True)

    def video(self, video_id_or_row) -> PreparedVideo:
        row = video_id_or_row
        if isinstance(row, str):
            hits = self.index[self.index["video_id"] == row]
            if hits.empty:
                raise KeyError(f"video {row!r} is not in {self.root / 'index.csv'}")
            row = hits.iloc[0]
        return PreparedVideo(self.root / "videos" / row["key"], row["video_id"],
                             int(row["label"]), row["split"])

    def videos(self, split: str) -> list[PreparedVideo]:
        return [self.video(row) for _, row in self.split(split).iterrows()]


def read_meta(folder: Path) -> dict | None:
    try:
        return json.loads((folder / "meta.json").read_text())
    except (FileNotFoundError, json.JSONDecodeError):
        return None
