"""The prepared store's files, frame by frame: pack files and the frame codecs.

A ``.pack`` file is the frames' encoded bytes one after the other, then their ``n + 1`` byte
offsets (int64, little-endian), ``n`` (int64) and the 8-byte magic ``ARSRPK01``: frame ``i`` is
one ``pread`` of bytes ``offsets[i]:offsets[i+1]``, so random access by (video, frame) keeps
nothing in memory but the offsets. Frames are lossless PNGs (RGB; flow as 16-bit x | y in steps of
1/64 px, each value kept in the 8-bit bin TSN's quantisation gives the computed flow) or ``raw``
bytes (:data:`CODECS`). The store (:mod:`arsr.data.store`) lays them out per video.
"""
from __future__ import annotations

import hashlib
import json
import os
import struct
import zlib
from pathlib import Path
from typing import Callable

import cv2
import numpy as np

__all__ = ["StoreFormatError", "FLOW_STEPS_PER_PIXEL", "TSN_BOUND", "PNG_LEVEL", "PACK_MAGIC", "CODECS",
           "write_pack", "Pack", "encode_rgb", "decode_rgb", "raw_decoder", "flow_steps", "encode_flow",
           "decode_flow", "encode_flow_raw", "raw_flow_decoder", "frame_crc", "frames_digest"]

FLOW_STEPS_PER_PIXEL = 64  # flow kept in steps of 1/64 px, as int16: +-512 px
TSN_BOUND = 20.0           # the 8-bit quantisation bound TSN's flow reads; its bins are kept
PNG_LEVEL = 3              # zlib level: level 9 saves ~10% at 10x the encoding time
PACK_MAGIC = b"ARSRPK01"


class StoreFormatError(RuntimeError):
    """A prepared folder was written by another store format (or is incomplete)."""


# --------------------------------------------------------------------------------------------
# Pack files

def write_pack(path: Path, blobs) -> None:
    """Write encoded frames ``blobs`` (bytes-like) as one pack file, atomically."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    offsets = [0]
    try:
        with open(tmp, "wb") as f:  # a failed write (a full disk) raises OSError, at the latest on close
            for blob in blobs:
                f.write(blob)
                offsets.append(offsets[-1] + len(blob))
            f.write(np.asarray(offsets, "<i8").tobytes())
            f.write(struct.pack("<q", len(offsets) - 1) + PACK_MAGIC)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


class Pack:
    """Read access to a pack file: ``len(pack)``, ``pack.blob(i)`` (bytes)."""

    def __init__(self, path: Path):
        self.path = Path(path)
        with open(self.path, "rb") as f:
            f.seek(0, os.SEEK_END)
            size = f.tell()
            if size < 16:
                raise StoreFormatError(f"{self.path}: not a pack file ({size} bytes); re-run prepare")
            f.seek(size - 16)
            tail = f.read(16)
            n = struct.unpack("<q", tail[:8])[0]
            if tail[8:] != PACK_MAGIC or not 0 <= n <= size // 8:
                raise StoreFormatError(f"{self.path}: not a pack file (bad trailer); re-run prepare")
            f.seek(size - 16 - 8 * (n + 1))
            self.offsets = np.frombuffer(f.read(8 * (n + 1)), "<i8")
        data_end = size - 16 - 8 * (n + 1)
        if self.offsets[0] != 0 or self.offsets[-1] != data_end or (np.diff(self.offsets) < 0).any():
            raise StoreFormatError(f"{self.path}: corrupt pack (its frame offsets do not match its "
                                   f"{size} bytes); delete {self.path.parent} and re-run prepare, which redoes "
                                   "that video")

    def __len__(self) -> int:
        return len(self.offsets) - 1

    def blob(self, i: int) -> bytes:
        start, stop = int(self.offsets[i]), int(self.offsets[i + 1])
        fd = os.open(self.path, os.O_RDONLY)  # not kept open: a loader may hold thousands of videos
        try:
            return os.pread(fd, stop - start, start)
        finally:
            os.close(fd)


# --------------------------------------------------------------------------------------------
# Codecs

def _encode_png(image: np.ndarray, what: str) -> bytes:
    """``image`` (as OpenCV lays it out) -> PNG bytes at ``PNG_LEVEL``; ``what`` names it in the error."""
    ok, buf = cv2.imencode(".png", image, [cv2.IMWRITE_PNG_COMPRESSION, PNG_LEVEL])
    if not ok:
        raise RuntimeError(f"OpenCV could not encode {what}")
    return buf.tobytes()


def _decode_png(blob: bytes) -> np.ndarray:
    """PNG bytes -> the image as stored (8 or 16 bit, BGR order for colour)."""
    image = cv2.imdecode(np.frombuffer(blob, np.uint8), cv2.IMREAD_UNCHANGED)
    if image is None:
        raise ValueError(f"{len(blob)} bytes that OpenCV cannot decode as a PNG")
    return image


def encode_rgb(frame: np.ndarray) -> bytes:
    """(H, W, 3) uint8 RGB -> lossless PNG bytes."""
    return _encode_png(np.ascontiguousarray(frame[..., ::-1]), "a PNG")


def decode_rgb(blob: bytes) -> np.ndarray:
    return np.ascontiguousarray(_decode_png(blob)[..., ::-1])


def raw_decoder(shape: tuple[int, ...], dtype) -> Callable[[bytes], np.ndarray]:
    """Decoder of the ``raw`` codec: the frame's bytes as they are (C order), ``shape``/``dtype``."""
    dtype = np.dtype(dtype)

    def decode(blob: bytes) -> np.ndarray:
        return np.frombuffer(bytearray(blob), dtype).reshape(shape)
    return decode


def flow_steps(flow: np.ndarray) -> np.ndarray:
    """Flow in pixels (..., 2) -> int16 steps of 1/64 px, each in the TSN 8-bit bin (bound 20)
    of the flow it comes from, so ``quantize(steps / 64, 20) == quantize(flow, 20)``."""
    from ..flow import quantize

    f = np.asarray(flow, np.float32)
    lo, hi = np.iinfo(np.int16).min, np.iinfo(np.int16).max
    steps = np.clip(np.rint(f * FLOW_STEPS_PER_PIXEL), lo, hi).astype(np.int32)
    want = quantize(f, TSN_BOUND).astype(np.int32)
    for _ in range(2):  # a bin is ~10 steps wide: one step back towards f lands inside it
        got = quantize(steps.astype(np.float32) / FLOW_STEPS_PER_PIXEL, TSN_BOUND).astype(np.int32)
        if np.array_equal(got, want):
            break
        steps -= np.sign(got - want)
    return steps.astype(np.int16)


def encode_flow(flow: np.ndarray) -> bytes:
    """(H, W, 2) flow in pixels -> 16-bit PNG of (H, 2W): x | y in steps of 1/64 px, + 32768."""
    u = (flow_steps(flow).astype(np.int32) + 32768).astype(np.uint16)
    return _encode_png(np.concatenate([u[..., 0], u[..., 1]], axis=1), "a 16-bit PNG")


def decode_flow(blob: bytes) -> np.ndarray:
    """Bytes of :func:`encode_flow` -> (H, W, 2) float32 pixels."""
    u = _decode_png(blob)
    w = u.shape[1] // 2
    steps = np.stack([u[:, :w], u[:, w:]], axis=-1).astype(np.float32) - 32768.0
    return steps / np.float32(FLOW_STEPS_PER_PIXEL)


def encode_flow_raw(flow: np.ndarray) -> bytes:
    """(H, W, 2) flow in pixels -> the ``raw`` codec: int16 steps of 1/64 px, (H, W, 2) C order."""
    return np.ascontiguousarray(flow_steps(flow), "<i2").tobytes()


def raw_flow_decoder(shape: tuple[int, int]) -> Callable[[bytes], np.ndarray]:
    """Decoder of :func:`encode_flow_raw` for (H, W) frames -> (H, W, 2) float32 pixels."""
    def decode(blob: bytes) -> np.ndarray:
        steps = np.frombuffer(blob, "<i2").reshape(*shape, 2)
        return steps.astype(np.float32) / np.float32(FLOW_STEPS_PER_PIXEL)
    return decode


#: frame codecs of the packs: "png" (lossless PNG, ~1/3 the bytes of raw on real frames) and
#: "raw" (the bytes as they are: decoding is a copy, for small frames read many times in training)
CODECS = ("png", "raw")


def frame_crc(frame: np.ndarray) -> int:
    return zlib.crc32(np.ascontiguousarray(frame).data)


def frames_digest(frames: np.ndarray) -> str:
    """sha256 (16 hex digits) of ``(T, H, W, C)`` uint8 frames: their shape, then their bytes."""
    frames = np.ascontiguousarray(np.asarray(frames), np.uint8)
    digest = hashlib.sha256(json.dumps(list(frames.shape)).encode())
    digest.update(frames.data)
    return digest.hexdigest()[:16]
