"""Real-size clips for the benchmarks: the UCF101 clip of the reference data and variants of it.

The reference clip (``ucf101_sample/v_Basketball_g01_c01.avi``, 320x240, 141 frames; see
``../shared/refdata/README.md``) is read where it lies, never copied into the repository. Clip k
is a variant of it: mirrored (k odd), time-reversed (k // 2 odd), starting later (k // 4), written
to a temporary folder with ``arsr.data.video.write_video``. Without the reference data the clips
are synthetic 320x240 ones (``arsr.data.synthetic``), and the description says so.
"""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from arsr.data.datasets import VideoRecord
from arsr.data.video import read_video, write_video

ROOT = Path(__file__).resolve().parents[1]
REFDATA = Path(os.environ.get("ARSR_REFDATA", ROOT.parent / "shared" / "refdata"))
SAMPLE = "ucf101_sample/v_Basketball_g01_c01.avi"
START_STEP = 7  # frames between the start points of clips 4k .. 4k+3 and 4k+4 ..


def reference_clip() -> Path | None:
    """The real UCF101 clip of the reference data, or None where the folder is absent."""
    path = REFDATA / SAMPLE
    return path if path.is_file() else None


def variant_name(k: int) -> str:
    parts = [p for p, on in (("mirrored", k % 2), ("reversed", (k // 2) % 2)) if on]
    if k // 4:
        parts.append(f"from frame {START_STEP * (k // 4)}")
    return " ".join(parts) or "original"


def _variant(frames: np.ndarray, k: int, length: int) -> np.ndarray:
    start = min(START_STEP * (k // 4), max(0, len(frames) - length))
    clip = frames[::-1] if (k // 2) % 2 else frames
    clip = clip[start:start + length]
    return np.ascontiguousarray(clip[:, :, ::-1] if k % 2 else clip)


def make_clips(n: int, frames: int, folder: Path, splits: tuple[str, ...] = ("test",),
               n_classes: int = 2) -> tuple[list[VideoRecord], str]:
    """``n`` labelled clips of ``frames`` frames (fewer if the source is shorter) in ``folder``;
    clip 0 is the reference file itself, longer: read it with ``max_frames=frames``.

    Clip k gets label ``k % n_classes`` (class ``class<label>``) and split ``splits[k % len(splits)]``.
    Returns the records and a one-line description of where the clips come from.
    """
    folder.mkdir(parents=True, exist_ok=True)
    source = reference_clip()
    records = []
    if source is not None:
        full = read_video(source)
        for k in range(n):
            if k == 0:
                path = source  # the reference file itself, read in place (max_frames cuts it)
            else:
                path = folder / f"clip{k:02d}.avi"
                write_video(path, _variant(full, k, frames), fps=29.97)
            records.append(_record(path, k, splits, n_classes))
        names = ", ".join(variant_name(k) for k in range(n))
        what = (f"the real UCF101 clip {source.name} (320x240, XviD; {len(full)} frames) and variants "
                f"written losslessly (FFV1): {names}")
        return records, what

    from arsr.data.synthetic import SyntheticConfig, render_clip

    cfg = SyntheticConfig(width=320, height=240, frames_min=frames, frames_max=frames,
                          n_classes=max(2, min(12, n_classes)), clips_per_class=max(2, n))
    for k in range(n):
        path = folder / f"clip{k:02d}.avi"
        write_video(path, render_clip(k % cfg.n_classes, k // cfg.n_classes, cfg), fps=cfg.fps)
        records.append(_record(path, k, splits, n_classes))
    what = (f"SYNTHETIC 320x240 clips (arsr.data.synthetic): the reference data was not found at "
            f"{REFDATA / SAMPLE} (set ARSR_REFDATA)")
    return records, what


def _record(path: Path, k: int, splits: tuple[str, ...], n_classes: int) -> VideoRecord:
    label = k % n_classes
    return VideoRecord(path, f"class{label}/clip{k:02d}", label, f"class{label}", splits[k % len(splits)])
