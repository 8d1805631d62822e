"""Reading and writing video files with OpenCV: (T, H, W, 3) uint8 RGB arrays in and out.

Written clips use a lossless codec (FFV1 in AVI/MKV where this OpenCV build has it) so that the
fine texture super-resolution is about survives the round trip. A written clip is decoded again
before it takes its name: OpenCV's writer drops a frame it cannot write (a full disk) with no more
than a warning, so the frames are counted, and a short file is removed and named in a
:class:`VideoWriteError` with the free space left. OpenCV's own warnings are silenced where these
functions report the error themselves.
"""
from __future__ import annotations

import contextlib
import logging
import os
import shutil
import tempfile
from pathlib import Path
from typing import Iterator

import cv2
import numpy as np

from ..io import human_bytes

log = logging.getLogger(__name__)

# Lossless first; MJPG at quality 100 (near-lossless) as the last resort.
LOSSLESS_FOURCCS = ("FFV1", "HFYU", "png ")
FALLBACK_FOURCC = "MJPG"
_CONTAINERS = (".avi", ".mkv")
# A decoded clip may fall this short of the frame count in its header before it counts as
# truncated (headers of some real-world clips are off by a frame or two).
_TRUNCATION_TOLERANCE = (2, 0.05)

_working_fourcc: dict[str, str] = {}  # container extension -> first codec that opened
_UMASK = os.umask(0)
os.umask(_UMASK)


class VideoReadError(RuntimeError):
    """A video file is missing, cannot be opened or decodes to no (or too few) frames."""


class VideoWriteError(RuntimeError):
    """No codec of this OpenCV build writes the requested container, or the file written holds fewer
    frames than were given (a full disk, a failing encoder)."""


@contextlib.contextmanager
def quiet_opencv() -> Iterator[None]:
    """OpenCV's log at errors only inside the block: its ``[ WARN...]`` lines repeat what the caller
    reports itself (a file that does not open, a frame that could not be written)."""
    log_api = getattr(getattr(cv2, "utils", None), "logging", None)
    if log_api is None or not hasattr(log_api, "setLogLevel"):  # pragma: no cover - very old builds
        yield
        return
    before = log_api.getLogLevel()
    log_api.setLogLevel(min(before, log_api.LOG_LEVEL_ERROR))
    try:
        yield
    finally:
        log_api.setLogLevel(before)


def count_frames(path: str | os.PathLike) -> int:
    """The frames a video file really holds, counted by decoding it (0 for a file that does not
    open): a header's count can promise frames that were never written."""
    with quiet_opencv():
        cap = cv2.VideoCapture(str(path), cv2.CAP_FFMPEG)
        try:
            count = 0
            while cap.isOpened() and cap.grab():
                count += 1
            return count
        finally:
            cap.release()


def short_write(path: Path, written: int, given: int) -> VideoWriteError:
    """The error for a video file that holds ``written`` of the ``given`` frames: its path and the
    free space of its folder."""
    probe = path.parent
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    free = shutil.disk_usage(probe).free
    return VideoWriteError(
        f"{path}: only {written} of the {given} frames could be written ({human_bytes(free)} free on "
        f"{probe}): free space there or write to a larger disk; no partial file was kept")


def _open(path: Path) -> cv2.VideoCapture:
    if not path.exists():
        raise VideoReadError(f"{path}: no such file; check the path (or the dataset root it was "
                             "listed under) and that the dataset is fully extracted")
    if not path.is_file():
        raise VideoReadError(f"{path}: not a file; point at a video file, not a folder")
    if path.stat().st_size == 0:
        raise VideoReadError(f"{path}: the file is empty (0 bytes); re-download or re-extract it, "
                             "or remove it from the dataset")
    with quiet_opencv():  # a file that does not open is reported below, once
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


def _decode(cap: cv2.VideoCapture, max_frames: int | None = None) -> Iterator[np.ndarray]:
    """The frames of an opened capture as (H, W, 3) uint8 RGB, at most ``max_frames``."""
    count = 0
    while max_frames is None or count < max_frames:
        ok, bgr = cap.read()
        if not ok:
            return
        if bgr.ndim == 2:
            bgr = cv2.cvtColor(bgr, cv2.COLOR_GRAY2BGR)
        count += 1
        yield cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)


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
    try:
        announced = int(cap.get(cv2.CAP_PROP_FRAME_COUNT))
        frames = list(_decode(cap, max_frames))
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
                with quiet_opencv():  # a frame that fails is counted below and reported
                    for frame in frames:
                        writer.write(np.ascontiguousarray(frame[..., ::-1]))
            finally:
                writer.release()
            if tmp.stat().st_size == 0:
                continue
            written = count_frames(tmp)
            if written != t:
                raise short_write(path, written, t)
            if fourcc is None:
                _working_fourcc[ext] = code
            os.replace(tmp, path)
            return code
        raise VideoWriteError(
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


# ---------------------------------------------------------------------------------------------
# Streaming: one frame at a time, for clips too long to hold in memory

#: Lossy codecs tried, in order, when no lossless one encodes into the container: MJPG at quality
#: 100 (OpenCV's own writer) in AVI, else FFmpeg's MPEG-4 part 2 and VP9 (WebM holds only VP8/9).
_LOSSY_FOURCCS = {".avi": (FALLBACK_FOURCC,)}
_LOSSY_OTHER = ("mp4v", "VP90")


class VideoReader:
    """The frames of a video one at a time, as (H, W, 3) uint8 RGB (what :func:`read_video` would
    stack), without holding the clip in memory::

        with VideoReader("clip.avi") as video:
            video.fps, video.height, video.width, video.announced   # from the header
            for frame in video:
                ...

    ``announced`` is the header's frame count (0 when it has none; real files may be off by a
    frame or two), ``decoded`` the number of frames yielded so far. The file is decoded once: a
    second loop yields nothing. A frame whose size differs from the first raises
    :class:`VideoReadError`; a missing, empty or unreadable file raises it on opening.
    """

    def __init__(self, path: str | os.PathLike, max_frames: int | None = None):
        self.path = Path(path)
        if max_frames is not None and max_frames < 1:
            raise ValueError(f"max_frames = {max_frames}: give a positive number or None")
        self.max_frames = max_frames
        self._cap = _open(self.path)
        self.announced = max(0, int(self._cap.get(cv2.CAP_PROP_FRAME_COUNT)))
        self.fps = float(self._cap.get(cv2.CAP_PROP_FPS))
        self.height = int(self._cap.get(cv2.CAP_PROP_FRAME_HEIGHT))
        self.width = int(self._cap.get(cv2.CAP_PROP_FRAME_WIDTH))
        self.decoded = 0

    def __iter__(self) -> Iterator[np.ndarray]:
        first = None
        for frame in _decode(self._cap, None if self.max_frames is None else self.max_frames - self.decoded):
            if first is None:
                first = frame.shape
            elif frame.shape != first:
                raise VideoReadError(f"{self.path}: frame size changes inside the clip (frame {self.decoded} "
                                     f"is {frame.shape}, the first {first}); re-encode it at one size")
            self.decoded += 1
            yield frame

    def close(self) -> None:
        self._cap.release()

    def __enter__(self) -> "VideoReader":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


class VideoWriter:
    """Write (H, W, 3) uint8 RGB frames one at a time to ``path``, atomically::

        with VideoWriter("out.mkv", fps=25.0) as out:
            for frame in frames:
                out.write(frame)
        out.fourcc, out.lossless

    The codec is chosen when the first frame gives the size, as :func:`write_video` chooses it:
    the first of FFV1, HFYU, PNG (lossless) that this OpenCV build encodes into ``path``'s
    container, else a lossy one (MJPG at quality 100 in .avi; MPEG-4 part 2 or VP9 elsewhere);
    ``fourcc`` forces one. Frames go to a temporary file beside ``path`` with the same extension
    (OpenCV picks the container from it), renamed onto ``path`` when the ``with`` block ends
    without error; an error, or :meth:`discard`, removes it, so a failure leaves no half file.
    Nothing is created before the first frame.
    """

    def __init__(self, path: str | os.PathLike, fps: float = 25.0, fourcc: str | None = None):
        self.path = Path(path)
        if not np.isfinite(fps) or fps <= 0:
            raise ValueError(f"{self.path}: fps = {fps}; give a positive frame rate")
        self.fps = float(fps)
        self.forced = fourcc
        self.fourcc: str | None = None
        self.size: tuple[int, int] | None = None  # (width, height)
        self.written = 0
        self._writer = None
        self._tmp: Path | None = None

    @property
    def lossless(self) -> bool:
        return self.fourcc in LOSSLESS_FOURCCS

    def candidates(self) -> list[str]:
        """The codecs tried, in order."""
        if self.forced:
            return [self.forced]
        ext = self.path.suffix.lower()
        lossy = _LOSSY_FOURCCS.get(ext, _LOSSY_OTHER)
        return [c for c in dict.fromkeys([_working_fourcc.get(ext), *LOSSLESS_FOURCCS, *lossy]) if c]

    def _start(self, width: int, height: int) -> None:
        ext = self.path.suffix
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tried = self.candidates()
        for code in tried:
            if not _encodes(self.path.parent, ext, code, self.fps, (width, height)):
                continue
            fd, name = tempfile.mkstemp(prefix=f".{self.path.name}.", suffix=f".tmp{ext}", dir=self.path.parent)
            os.close(fd)
            self._tmp = Path(name)
            self._writer = _open_writer(self._tmp, code, self.fps, (width, height))
            if self._writer is None:  # pragma: no cover - the probe just opened it
                self._tmp.unlink()
                continue
            self.fourcc, self.size = code, (width, height)
            if self.forced is None and code in LOSSLESS_FOURCCS:
                _working_fourcc[ext.lower()] = code
            return
        raise VideoWriteError(
            f"{self.path}: no video codec could write a {width}x{height} {ext or '(no extension)'} file "
            f"with this OpenCV build (tried {', '.join(tried)}); write .mkv or .avi (lossless FFV1)")

    def write(self, frame: np.ndarray) -> None:
        """Append one (H, W, 3) uint8 RGB frame (every frame the size of the first)."""
        frame = np.asarray(frame)
        if frame.ndim != 3 or frame.shape[-1] != 3 or frame.dtype != np.uint8:
            raise ValueError(f"{self.path}: a frame must be (H, W, 3) uint8, got {frame.shape} {frame.dtype}")
        h, w = frame.shape[:2]
        if self._writer is None:
            if self.written:
                raise ValueError(f"{self.path}: the writer is closed")
            self._start(w, h)
        elif (w, h) != self.size:
            raise ValueError(f"{self.path}: frame {self.written} is {w}x{h}, the first was "
                             f"{self.size[0]}x{self.size[1]}; every frame must have one size")
        with quiet_opencv():  # a frame that fails is found by close(), which counts them
            self._writer.write(np.ascontiguousarray(frame[..., ::-1]))
        self.written += 1

    def close(self) -> None:
        """Finish the file, count its frames again and rename it onto ``path``; an error (and no
        file) if no frame was written or the file holds fewer frames than were written."""
        if self._writer is None:
            if self.written:
                return  # already closed
            raise ValueError(f"{self.path}: no frame was written, so no video was made")
        with quiet_opencv():
            self._writer.release()
        self._writer = None
        try:
            if self._tmp.stat().st_size == 0:
                raise short_write(self.path, 0, self.written)
            found = count_frames(self._tmp)
            if found != self.written:
                raise short_write(self.path, found, self.written)
            os.chmod(self._tmp, 0o666 & ~_UMASK)  # mkstemp makes 0600
            os.replace(self._tmp, self.path)
        finally:
            self.discard()

    def discard(self) -> None:
        """Stop and remove the temporary file (``path`` is left as it was)."""
        if self._writer is not None:
            self._writer.release()
            self._writer = None
        if self._tmp is not None and self._tmp.exists():
            self._tmp.unlink()

    def __enter__(self) -> "VideoWriter":
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            self.close()
        else:
            self.discard()


def _encodes(folder: Path, ext: str, fourcc: str, fps: float, size: tuple[int, int]) -> bool:
    """Whether this build writes a non-empty ``ext`` file of ``size`` frames with ``fourcc``
    (one black frame into a scratch file in ``folder``, removed after)."""
    fd, name = tempfile.mkstemp(prefix=".probe.", suffix=f".tmp{ext}", dir=folder)
    os.close(fd)
    scratch = Path(name)
    try:
        writer = _open_writer(scratch, fourcc, fps, size)
        if writer is None:
            return False
        writer.write(np.zeros((size[1], size[0], 3), np.uint8))
        writer.release()
        return scratch.stat().st_size > 0
    finally:
        scratch.unlink(missing_ok=True)
