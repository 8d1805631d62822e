"""The prepared-data store under ``data/interim``: one folder per video, an index CSV.

Layout (store format 2, written by :mod:`arsr.data.prepare`)::

    data/interim/
      index.csv                  one row per video (columns: INDEX_COLUMNS)
      classes.csv                label, class_name
      dataset.json               the dataset fingerprint (:mod:`arsr.data.fingerprint`), written
                                 last by prepare, removed first when it starts again
      videos/<key>/meta.json     format, settings fingerprint, frame counts and sizes, the digest
                                 of the HR working frames (``hr_digest``), and how HR is kept:
                                 {"codec": "source", "source", "crop", "crc32"} or {"codec": "png"}
      videos/<key>/lr.pack       T lossless PNGs: MATLAB-bicubic x1/s of the HR working frames
      videos/<key>/flow.pack     T-1 16-bit PNGs: HR flow t -> t+1, x | y side by side, in steps
                                 of 1/64 px (+32768), each value kept in the 8-bit bin TSN's
                                 quantisation (bound 20) gives the computed flow
      videos/<key>/hr.pack       T lossless PNGs, only when HR is not a crop of the source
                                 (``prepare.hr_size`` resizes)

HR frames are not stored when they are a crop of the source video: they are decoded from it on
demand (seeking, then decoding forward) and checked against the CRC-32 of each working frame that
prepare computed, so they are bit-identical to what prepare saw or the read fails. LR is stored
(1/16 of HR, lossless), so it is bit-identical to ``imresize`` of the decoded HR frame without
the cost of resizing at every read. Flow keeps 1/64 px (float16's precision at 16-32 px), and
``arsr.flow.quantize(flow, 20)`` of the stored flow equals that of the flow prepare computed,
bit for bit: TSN's temporal stream reads what it would have read from float flow.

The ``.pack`` files and the frame codecs are :mod:`arsr.data.packs`'.

:class:`PreparedVideo` gives ``hr``, ``lr`` and ``flow`` as :class:`FrameStack` objects: they index
like the (T, ...) numpy arrays they stand for (``hr[t]``, ``lr[idx, y:y+p, x:x+p]``,
``flow[a:b]``, ``np.asarray(flow, np.float32)``) and decode only the frames asked for.
"""
from __future__ import annotations

import hashlib
import io
import json
import os
import re
import threading
from collections import OrderedDict
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Callable

import cv2
import numpy as np
import pandas as pd

from ..io import atomic_dir
from ..paths import repo_root, resolve
from .packs import (CODECS, FLOW_STEPS_PER_PIXEL, TSN_BOUND, Pack, StoreFormatError, decode_flow,
                    decode_rgb, encode_flow, encode_flow_raw, encode_rgb, frame_crc, frames_digest, raw_decoder,
                    raw_flow_decoder, write_pack)

STORE_FORMAT = 2
INDEX_COLUMNS = ["video_id", "key", "class_name", "label", "split", "n_frames",
                 "height", "width", "lr_height", "lr_width", "source"]
#: The validation split (:mod:`arsr.data.validation`): training videos the recognizers never train on.
VAL_SPLIT = "val"
SPLITS = ("train", VAL_SPLIT, "test", "unlabelled")
DATASET_FILE = "dataset.json"  # the dataset fingerprint, beside index.csv

SEEK_GAP = 8               # frames ahead worth decoding through rather than seeking to
OPEN_CAPTURES = 4          # source videos each process keeps open between reads


def _refuse(folder: Path, found) -> StoreFormatError:
    what = "no meta.json" if found is None else f"store format {found}"
    return StoreFormatError(
        f"{folder}: prepared with {what}; this arsr reads store format {STORE_FORMAT} "
        "(compact: PNG packs, HR decoded from the source video). Re-run `dvc repro prepare` "
        "(or delete data/interim and run the prepare notebook)")


# --------------------------------------------------------------------------------------------
# Array-like views

class FrameStack:
    """A (T, ...) array that decodes frames on demand; indexing returns numpy arrays.

    The first index picks frames (int, slice, int or bool array); the rest applies to the stack
    of decoded frames as numpy would apply it. ``read(indices)`` gets sorted unique indices and
    returns their frames stacked.
    """

    def __init__(self, n: int, frame_shape: tuple[int, ...], dtype, read: Callable[[np.ndarray], np.ndarray],
                 name: str):
        self.shape = (int(n), *map(int, frame_shape))
        self.dtype = np.dtype(dtype)
        self._read = read
        self.name = name

    ndim = property(lambda self: len(self.shape))
    size = property(lambda self: int(np.prod(self.shape)))
    nbytes = property(lambda self: self.size * self.dtype.itemsize)

    def __len__(self) -> int:
        return self.shape[0]

    def __repr__(self) -> str:
        return f"FrameStack({self.name}, shape={self.shape}, dtype={self.dtype})"

    def _frames(self, idx: np.ndarray) -> np.ndarray:
        n = self.shape[0]
        if idx.size and (idx.min() < -n or idx.max() >= n):
            raise IndexError(f"{self.name}: frame index out of range for {n} frames")
        idx = np.where(idx < 0, idx + n, idx)
        if idx.size == 0:
            return np.zeros((*idx.shape, *self.shape[1:]), self.dtype)
        uniq, inverse = np.unique(idx.ravel(), return_inverse=True)
        return self._read(uniq)[inverse.reshape(idx.shape)]

    def __getitem__(self, key):
        key = key if isinstance(key, tuple) else (key,)
        first, rest = (key[0], key[1:]) if key else (slice(None), ())
        if first is Ellipsis or first is None:
            return self._frames(np.arange(self.shape[0]))[key]
        if isinstance(first, (int, np.integer)):
            frame = self._frames(np.asarray([int(first)]))[0]
            return frame[rest] if rest else frame
        if isinstance(first, slice):
            idx = np.arange(self.shape[0])[first]
        else:
            idx = np.asarray(first)
            if idx.dtype == bool:
                if idx.shape != (self.shape[0],):
                    raise IndexError(f"{self.name}: boolean index of shape {idx.shape} for {self.shape[0]} frames")
                idx = np.flatnonzero(idx)
            elif not np.issubdtype(idx.dtype, np.integer):
                raise IndexError(f"{self.name}: frames are indexed by int, slice or int array, not {idx.dtype}")
        out = self._frames(idx)
        return out[(slice(None),) * idx.ndim + rest] if rest else out

    def __array__(self, dtype=None, copy=None):
        out = self._frames(np.arange(self.shape[0]))
        return out if dtype is None else out.astype(dtype, copy=False)


def _pack_reader(pack_path: Path, decode: Callable[[bytes], np.ndarray]):
    pack: list[Pack] = []

    def one(i: int) -> np.ndarray:
        try:
            frame = decode(pack[0].blob(i))
        except (ValueError, TypeError, cv2.error) as err:  # a blob that is not the frame it should be
            raise StoreFormatError(f"{pack_path}: frame {i} is corrupt ({type(err).__name__}: {err}); delete "
                                   f"{pack_path.parent} and re-run prepare, which redoes that video") from None
        return frame

    def read(indices: np.ndarray) -> np.ndarray:
        if not pack:
            pack.append(Pack(pack_path))
        return np.stack([one(int(i)) for i in indices])
    return read


# --------------------------------------------------------------------------------------------
# HR decoded from the source video

class _Captures:
    """Open ``cv2.VideoCapture`` objects of this process, least recently used first. A reader
    takes one out while it decodes, so threads never share a capture."""

    def __init__(self, size: int):
        self.size, self.lock, self.pid = size, threading.Lock(), os.getpid()
        self.idle: OrderedDict[str, list] = OrderedDict()  # path -> [capture, next frame]

    def take(self, path: str) -> list | None:
        with self.lock:
            if self.pid != os.getpid():  # a forked loader worker: never touch the parent's
                self.idle, self.pid = OrderedDict(), os.getpid()
            return self.idle.pop(path, None)

    def give(self, path: str, entry: list) -> None:
        with self.lock:
            old = self.idle.pop(path, None)
            self.idle[path] = entry
            while len(self.idle) > self.size:
                _, (cap, _) = self.idle.popitem(last=False)
                cap.release()
            if old is not None:
                old[0].release()


_CAPTURES = _Captures(OPEN_CAPTURES)


class SourceFrames:
    """HR working frames decoded from the source video, checked against prepare's CRC-32s."""

    def __init__(self, source: Path, crop: tuple[int, int, int, int], crcs: list[int], folder: Path):
        self.source, self.crop, self.crcs, self.folder = source, crop, crcs, folder

    def _open(self):
        cap = cv2.VideoCapture(str(self.source), cv2.CAP_FFMPEG)
        if not cap.isOpened():
            raise StoreFormatError(f"{self.folder}: its HR frames are decoded from {self.source}, "
                                   "which cannot be opened; restore the dataset under data/raw or "
                                   "re-run `dvc repro prepare`")
        return [cap, 0]

    def _decode(self, entry: list, i: int, seek: bool) -> np.ndarray | None:
        cap, pos = entry
        if seek and (i < pos or i - pos > SEEK_GAP):
            cap.set(cv2.CAP_PROP_POS_FRAMES, i)
            pos = i
        while pos < i and cap.grab():
            pos += 1
        ok, bgr = cap.read() if pos == i else (False, None)
        entry[1] = pos + 1 if ok else pos
        if not ok:
            return None
        if bgr.ndim == 2:
            bgr = cv2.cvtColor(bgr, cv2.COLOR_GRAY2BGR)
        top, left, h, w = self.crop
        frame = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)[top:top + h, left:left + w]
        return np.ascontiguousarray(frame)

    def __call__(self, indices: np.ndarray) -> np.ndarray:
        key = str(self.source)
        entry = _CAPTURES.take(key) or self._open()
        out = []
        try:
            for i in map(int, indices):
                frame = self._decode(entry, i, seek=True)
                if frame is None or frame_crc(frame) != self.crcs[i]:
                    # a seek that landed elsewhere: decode from the first frame instead
                    entry[0].release()
                    entry[:] = self._open()
                    frame = self._decode(entry, i, seek=False)
                    if frame is None or frame_crc(frame) != self.crcs[i]:
                        raise StoreFormatError(
                            f"{self.folder}: frame {i} of {self.source} decodes differently from when "
                            "it was prepared (another file, or another OpenCV/FFmpeg build); re-run "
                            "`dvc repro prepare`")
                out.append(frame)
        except BaseException:
            entry[0].release()
            raise
        _CAPTURES.give(key, entry)
        return np.stack(out)


# --------------------------------------------------------------------------------------------
# Writing a folder

def source_reference(path: Path) -> str:
    """How meta.json names a source video: relative to the study root when inside it."""
    path = Path(path).resolve()
    try:
        return str(path.relative_to(repo_root()))
    except (ValueError, FileNotFoundError):
        return str(path)


def write_video_folder(folder: Path, *, hr: np.ndarray, lr: np.ndarray, flow: np.ndarray,
                       source: Path | None = None, crop: tuple[int, int, int, int] | None = None,
                       meta: dict | None = None, codec: str = "png") -> dict:
    """Write one prepared video (store format 2) into ``folder`` atomically; return its meta.

    hr: (T, H, W, 3) uint8, lr: (T, h, w, 3) uint8, flow: (T-1, H, W, 2) pixels. With ``source``
    and ``crop`` (top, left, height, width) the HR frames are ``crop`` of the decoded source
    frames and are not stored (their CRC-32s are); without, they are stored. ``codec``: how the
    stored frames are encoded, "png" or "raw" (:data:`CODECS`). ``meta``: extra keys for meta.json.
    meta.json's ``hr_digest`` (:func:`frames_digest` of ``hr``) is computed here, while the frames
    are in memory: the dataset fingerprint (:mod:`arsr.data.fingerprint`) is made of it.
    """
    if codec not in CODECS:
        raise ValueError(f"{folder}: frame codec {codec!r}; use one of {', '.join(CODECS)}")
    hr, lr = np.asarray(hr), np.asarray(lr)
    t, h, w, _ = hr.shape
    if hr.dtype != np.uint8 or lr.dtype != np.uint8 or lr.shape[0] != t or flow.shape != (t - 1, h, w, 2):
        raise ValueError(f"{folder}: hr {hr.shape} {hr.dtype}, lr {lr.shape} {lr.dtype} and flow "
                         f"{flow.shape} must be (T, H, W, 3) uint8, (T, h, w, 3) uint8, (T-1, H, W, 2)")
    if source is not None:
        hr_meta = {"codec": "source", "source": source_reference(source), "crop": list(map(int, crop)),
                   "crc32": [frame_crc(f) for f in hr]}
    else:
        hr_meta = {"codec": codec}
    info = {**(meta or {}), "format": STORE_FORMAT, "n_frames": int(t), "height": int(h), "width": int(w),
            "lr_height": int(lr.shape[1]), "lr_width": int(lr.shape[2]), "hr": hr_meta,
            "hr_digest": frames_digest(hr),  # what the dataset fingerprint is made of
            "lr_codec": codec,
            "flow": {"codec": "png16" if codec == "png" else "raw16", "steps_per_pixel": FLOW_STEPS_PER_PIXEL,
                     "tsn_bound": TSN_BOUND}}
    rgb = encode_rgb if codec == "png" else (lambda f: np.ascontiguousarray(f, np.uint8).tobytes())
    flow_codec = encode_flow if codec == "png" else encode_flow_raw
    with atomic_dir(folder) as tmp:
        if source is None:
            write_pack(tmp / "hr.pack", (rgb(f) for f in hr))
        write_pack(tmp / "lr.pack", (rgb(f) for f in lr))
        write_pack(tmp / "flow.pack", (flow_codec(f) for f in flow))
        (tmp / "meta.json").write_text(json.dumps(info, indent=1))
    return info


def folder_files(meta: dict) -> tuple[str, ...]:
    """The files a complete folder of this meta holds."""
    return ("meta.json", "lr.pack", "flow.pack", *(("hr.pack",) if meta["hr"]["codec"] != "source" else ()))


# --------------------------------------------------------------------------------------------
# Reading

def verify_folder(folder: Path, meta: dict) -> str | None:
    """What is wrong with a prepared folder whose ``meta`` matched (None: nothing found): a missing
    file, or a pack whose trailer or offsets are damaged or whose frame count is not the meta's.
    Reads each pack's trailer and offsets only (prepare checks every reused folder so, cheaply); a
    damaged frame inside an intact pack is found when it is read (a :class:`StoreFormatError`
    naming the file)."""
    n = int(meta.get("n_frames", -1))
    expected = {"lr.pack": n, "flow.pack": n - 1, "hr.pack": n}
    for name in folder_files(meta):
        path = Path(folder) / name
        if not path.is_file():
            return f"{path} is missing"
        if name in expected:
            try:
                count = len(Pack(path))
            except (StoreFormatError, OSError) as err:
                return str(err)
            if count != expected[name]:
                return f"{path} holds {count} frames, its meta.json says {expected[name]}"
    return None


def video_key(video_id: str) -> str:
    """A file-system-safe folder name for a video id ("Class/v_x_g01_c01" -> "Class__v_x_g01_c01")."""
    key = re.sub(r"[^A-Za-z0-9._-]+", "__", video_id).strip("_")
    if not key:
        raise ValueError(f"video id {video_id!r} gives an empty folder name")
    return key


def read_meta(folder: Path) -> dict | None:
    try:
        return json.loads((folder / "meta.json").read_text())
    except (FileNotFoundError, json.JSONDecodeError):
        return None


def index_digest(root: Path, data: bytes | None = None) -> str:
    """sha256 (16 hex digits) of a store's ``index.csv`` bytes (``data``: those bytes, already
    read): ties ``dataset.json`` to the index it was computed from."""
    return hashlib.sha256((Path(root) / "index.csv").read_bytes() if data is None else data).hexdigest()[:16]


def read_fingerprint(root: Path, index_sha256: str | None = None) -> str:
    """The dataset fingerprint recorded in ``root/dataset.json`` for the index whose digest is
    ``index_sha256`` (default: ``index.csv`` as it is now); :class:`StoreFormatError` naming the file
    and the fix where it is absent (a store prepared before fingerprints existed, or a prepare
    that did not finish) or was computed from another ``index.csv``."""
    path = Path(root) / DATASET_FILE
    fix = ("re-run `dvc repro prepare` (it keeps the prepared videos and adds the fingerprint; for the "
           "derived LR store, `dvc repro train_recognizers_lr`)")
    try:
        record = json.loads(path.read_text())
    except FileNotFoundError:
        raise StoreFormatError(f"{path} not found: {root} was prepared before dataset fingerprints existed, "
                               f"or its prepare did not finish; {fix}") from None
    except json.JSONDecodeError as err:
        raise StoreFormatError(f"{path} is not JSON ({err}); {fix}") from None
    if record.get("index_sha256") != (index_sha256 or index_digest(root)):
        raise StoreFormatError(f"{path} was computed for another {Path(root) / 'index.csv'} (the index changed "
                               f"after prepare wrote it); {fix}")
    return str(record["fingerprint"])


def check_folder(folder: Path) -> dict:
    """meta.json of a store-format-2 folder; :class:`StoreFormatError` for any other."""
    meta = read_meta(folder)
    if meta is None or meta.get("format") != STORE_FORMAT:
        raise _refuse(folder, None if meta is None else meta.get("format", 1))
    return meta


@dataclass(frozen=True)
class PreparedVideo:
    """One prepared video: HR/LR frames and HR flow, decoded on demand (see the module notes)."""

    folder: Path
    video_id: str
    label: int
    split: str

    @cached_property
    def meta(self) -> dict:
        return check_folder(self.folder)

    @cached_property
    def hr(self) -> FrameStack:
        """(T, H, W, 3) uint8 RGB."""
        m, name = self.meta, f"{self.folder}/hr"
        shape = (m["height"], m["width"], 3)
        if m["hr"]["codec"] == "source":
            read = SourceFrames(resolve(m["hr"]["source"]), tuple(m["hr"]["crop"]), m["hr"]["crc32"], self.folder)
        else:
            decode = decode_rgb if m["hr"]["codec"] == "png" else raw_decoder(shape, np.uint8)
            read = _pack_reader(self.folder / "hr.pack", decode)
        return FrameStack(m["n_frames"], shape, np.uint8, read, name)

    @cached_property
    def lr(self) -> FrameStack:
        """(T, H/s, W/s, 3) uint8 RGB."""
        m = self.meta
        shape = (m["lr_height"], m["lr_width"], 3)
        decode = decode_rgb if m.get("lr_codec", "png") == "png" else raw_decoder(shape, np.uint8)
        return FrameStack(m["n_frames"], shape, np.uint8,
                          _pack_reader(self.folder / "lr.pack", decode), f"{self.folder}/lr")

    @cached_property
    def flow(self) -> FrameStack:
        """(T-1, H, W, 2) float32, flow from frame t to t+1 in pixels, channel 0 = x, 1 = y."""
        m = self.meta
        decode = decode_flow if m["flow"]["codec"] == "png16" else raw_flow_decoder((m["height"], m["width"]))
        return FrameStack(m["n_frames"] - 1, (m["height"], m["width"], 2), np.float32,
                          _pack_reader(self.folder / "flow.pack", decode), f"{self.folder}/flow")

    @property
    def n_frames(self) -> int:
        return int(self.meta["n_frames"])


def check_dense_labels(classes: pd.DataFrame, where: Path) -> None:
    """Labels 0..K-1, one class name each: a gap would make a K-way classifier meet label K."""
    labels = sorted(int(x) for x in classes["label"])
    if labels != list(range(len(labels))) or classes["class_name"].duplicated().any():
        gaps = sorted(set(range(max(labels, default=-1) + 1)) - set(labels))
        raise StoreFormatError(
            f"{where}: labels {labels[:12]}{' ...' if len(labels) > 12 else ''} are not 0..{len(labels) - 1} with "
            f"one class each (missing: {gaps[:12]}); re-run `dvc repro prepare`, which numbers the classes "
            "densely (data.on_empty_class: error or drop)")


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
        raw = index_file.read_bytes()
        self.index = pd.read_csv(io.BytesIO(raw), keep_default_na=False)
        self._index_sha256 = index_digest(self.root, raw)  # the fingerprint must be this index's
        missing = set(INDEX_COLUMNS) - set(self.index.columns)
        if missing:
            raise ValueError(f"{index_file} lacks columns {sorted(missing)}: re-run the prepare stage")
        self.classes = pd.read_csv(self.root / "classes.csv", keep_default_na=False)
        check_dense_labels(self.classes, self.root / "classes.csv")
        if len(self.index):
            check_folder(self.root / "videos" / self.index["key"].iloc[0])

    def __len__(self) -> int:
        return len(self.index)

    @cached_property
    def fingerprint(self) -> str:
        """The dataset fingerprint (:mod:`arsr.data.fingerprint`): equal for equal data, different
        when any video's HR frames, class, label, split or frame count, or the settings that
        prepared them, differ. Read from ``dataset.json``; a store without it (prepared before
        fingerprints existed) is refused with the fix, ``dvc repro prepare``
        (:func:`read_fingerprint`), never silently given one."""
        return read_fingerprint(self.root, self._index_sha256)

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
