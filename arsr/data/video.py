"""Reading and writing video files with OpenCV: (T, H, W, 3) uint8 RGB arrays in and out.

Written clips use a lossless codec (FFV1 in AVI/MKV where this OpenCV build has it) so that the
fine texture super-resolution is about survives the round trip.
"""
from __future__ import annotations

import logging
import os
import tempfile
from pathlib import Path

import cv2
import numpy as np

log = logging.getLogger(__name__)

# Lossless first; MJPG at quality 100 (near-lossless) as the last resort.
LOSSLESS_FOURCCS = ("FFV1", "HFYU", "png ")
FALLBACK_FOURCC = "MJPG"
_CONTAINERS = (".avi", ".mkv")
# A decoded clip may fall this short of the frame count in its header before it counts as
# truncated (headers of some real-world clips are off by a frame or two).
_TRUNCATION_TOLERANCE = (2, 0.05)

_working_fourcc: dict[str, str] = {}  # container extension -> first codec that opened


class VideoReadError(RuntimeError):
    """A video file is missing, cannot be opened or decodes to no (or too few) frames."""


def _open(path: Path) -> cv2.VideoCapture:
    if not path.exists():
        raise VideoReadError(f"{path}: no such file; check the path (or the dataset root it was "
                             "listed under) and that the dataset is fully extracted")
    if not path.is_file():
        raise VideoReadError(f"{path}: not a file; point at a video file, not a folder")
    if path.stat().st_size == 0:
        raise VideoReadError(f"{path}: the file is empty (0 bytes); re-download or re-extract it, "
                             "or remove it from the dataset")
    cap = cv2.VideoCapture(str(path), cv2.CAP_FFMPEG)
    if not cap.isOpened():
        cap.release()
        raise VideoReadError(f"{path}: OpenCV/FFmpeg cannot open it (corrupt, truncated or an "
                             "unsupported codec); re-download or re-encode it, e.g. "
                             f"`ffmpeg -i {path.name} -c:v ffv1 fixed.avi`, or remove it")
    return cap


def probe_video(path: str | os.PathLike) -> dict:
    """Header facts without decoding: ``{"n_frames", "height", "width", "fps"}``.

    ``n_frames`` is the container's count (what :func:`read_video` decodes may differ by a frame
    on some real-world files); when the header has none, frames are counted by grabbing them.
    """
    path = Path(path)
    cap = _open(path)
    try:
        n = int(cap.get(cv2.CAP_PROP_FRAME_COUNT))
        info = {"n_frames": n, "height": int(cap.get(cv2.CAP_PROP_FRAME_HEIGHT)),
                "width": int(cap.get(cv2.CAP_PROP_FRAME_WIDTH)),
                "fps": float(cap.get(cv2.CAP_PROP_FPS))}
        if n <= 0:
            count = 0
            while cap.grab():
                count += 1
            info["n_frames"] = count
    finally:
        cap.release()
    if info["n_frames"] <= 0 or info["width"] <= 0 or info["height"] <= 0:
        raise VideoReadError(f"{path}: the file holds no video frames; re-encode or remove it")
    return info


def read_video(path: str | os.PathLike, max_frames: int | None = None,
               strict: bool = True) -> np.ndarray:
    """Decode a video into a (T, H, W, 3) uint8 RGB array (T <= ``max_frames`` if given).

    With ``strict`` a clip that decodes to clearly fewer frames than its header announces
    (a truncated or damaged file: more than 2 frames and 5% short) raises
    :class:`VideoReadError` instead of returning the part that decoded.
    """
    path = Path(path)
    if max_frames is not None and max_frames < 1:
        raise ValueError(f"max_frames = {max_frames}: give a positive number or None")
    cap = _open(path)
    frames: list[np.ndarray] = []
    try:
        announced = int(cap.get(cv2.CAP_PROP_FRAME_COUNT))
        while max_frames is None or len(frames) < max_frames:
            ok, bgr = cap.read()
            if not ok:
                break
            if bgr.ndim == 2:
                bgr = cv2.cvtColor(bgr, cv2.COLOR_GRAY2BGR)
            frames.append(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB))
    finally:
        cap.release()
    if not frames:
        raise VideoReadError(f"{path}: no frame could be decoded (corrupt or truncated file); "
                             "re-download or re-encode it, or remove it from the dataset")
    wanted = announced if max_frames is None else min(announced, max_frames)
    slack = max(_TRUNCATION_TOLERANCE[0], int(_TRUNCATION_TOLERANCE[1] * wanted))
    if strict and announced > 0 and len(frames) < wanted - slack:
        raise VideoReadError(
            f"{path}: decoded only {len(frames)} of the {announced} frames its header announces "
            "(truncated or damaged file); re-download or re-encode it, or read it with "
            "strict=False to keep the frames that decode"
        )
    shapes = {f.shape for f in frames}
    if len(shapes) > 1:
        raise VideoReadError(f"{path}: frame size changes inside the clip ({sorted(shapes)}); "
                             "re-encode it at one size")
    return np.stack(frames)


def write_video(path: str | os.PathLike, frames: np.ndarray, fps: float = 25.0,
                fourcc: str | None = None) -> str:
    """Write (T, H, W, 3) uint8 RGB ``frames`` to ``path`` (.avi or .mkv) atomically.

    The codec is the first of FFV1, HFYU, PNG (all lossless) that this OpenCV build can encode,
    else MJPG at quality 100; ``fourcc`` forces one. The clip is written under a temporary name
    with the same extension (OpenCV picks the container from it) and renamed onto ``path``.
    Returns the fourcc used.
    """
    path = Path(path)
    frames = np.asarray(frames)
    if frames.ndim != 4 or frames.shape[-1] != 3 or frames.shape[0] < 1:
        raise ValueError(f"{path}: frames must be (T, H, W, 3) with T >= 1, got {frames.shape}")
    if frames.dtype != np.uint8:
        raise ValueError(f"{path}: frames must be uint8, got {frames.dtype}; clip and round first")
    ext = path.suffix.lower()
    if fourcc is None and ext not in _CONTAINERS:
        raise ValueError(f"{path}: write .avi or .mkv (lossless codecs need one of those "
                         "containers), or pass fourcc= for another container")
    if not np.isfinite(fps) or fps <= 0:
        raise ValueError(f"{path}: fps = {fps}; give a positive frame rate")
    t, h, w, _ = frames.shape
    candidates = [fourcc] if fourcc else [
        c for c in dict.fromkeys([_working_fourcc.get(ext), *LOSSLESS_FOURCCS, FALLBACK_FOURCC])
        if c]
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.stem}.", suffix=ext, dir=path.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        for code in candidates:
            writer = _open_writer(tmp, code, fps, (w, h))
            if writer is None:
                continue
            try:
                for frame in frames:
                    writer.write(np.ascontiguousarray(frame[..., ::-1]))
            finally:
                writer.release()
            if tmp.stat().st_size == 0:
                continue
            if fourcc is None:
                _working_fourcc[ext] = code
            os.replace(tmp, path)
            return code
        raise RuntimeError(
            f"{path}: no video codec could be opened for writing (tried {', '.join(candidates)}) "
            "with this OpenCV build; install an opencv-python wheel with FFmpeg support"
        )
    finally:
        if tmp.exists():
            tmp.unlink()


def _open_writer(path: Path, fourcc: str, fps: float, size: tuple[int, int]):
    """An opened cv2.VideoWriter, or None when this build cannot encode ``fourcc``."""
    code = cv2.VideoWriter_fourcc(*fourcc)
    if fourcc == FALLBACK_FOURCC:
        # OpenCV's own MJPEG writer honours the quality setting; FFmpeg's ignores it.
        writer = cv2.VideoWriter(str(path), cv2.CAP_OPENCV_MJPEG, code, fps, size,
                                 [cv2.VIDEOWRITER_PROP_QUALITY, 100])
    else:
        writer = cv2.VideoWriter(str(path), cv2.CAP_FFMPEG, code, fps, size)
    if writer.isOpened():
        return writer
    writer.release()
    log.debug("codec %r unavailable for %s", fourcc, path.suffix)
    return None
