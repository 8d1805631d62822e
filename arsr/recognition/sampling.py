"""Snippet sampling, flow stacking and crops of two-stream recognisers, as TSN's data pipeline
(Wang et al., ECCV 2016; yjxiong/tsn-pytorch ``dataset.py``/``transforms.py``).

Vocabulary. A video has ``T`` frames and ``T - 1`` flow fields (field ``i`` = frame ``i`` -> ``i+1``).
A *snippet* is what one segment contributes: for RGB ``new_length`` consecutive frames (1 in TSN),
for flow ``new_length`` consecutive fields (5 in TSN) stacked as channels ``[x0, y0, x1, y1, ...]``.
Its *start* ranges over the *positions* ``0 .. P-1`` where ``P = T - new_length + 1`` (RGB) or
``P = T - new_length`` (flow: ``T - 1`` fields). Clips too short for one snippet repeat their last
frame/field, as TSN's loader (``if p < num_frames: p += 1``).

Geometry. TSN stores frames with the short side at 256 px (``scale_size``) and feeds
``input_size`` (224) squares. We never resize whole frames: a crop box is chosen in the coordinates
of that virtual rescaled frame, mapped back to the source pixels, cut out and resized once to
``input_size``. Flow images are resized like RGB images, without rescaling their values (as TSN).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping, Sequence

import cv2
import numpy as np

from ..flow import quantize
from .config import MULTISCALE_SCALES, default_scale_size  # the training config's defaults

__all__ = [
    "Box", "MULTISCALE_SCALES", "num_positions", "train_offsets", "uniform_offsets", "snippet_frames",
    "snippet_fields", "needed_frames", "stack_flow", "quantize_flow_stack", "flip_horizontal",
    "multiscale_crop", "inference_crops", "crop_resize", "default_scale_size",
]

MODALITIES = ("rgb", "flow")


def _check_modality(modality: str) -> str:
    if modality not in MODALITIES:
        raise ValueError(f"modality {modality!r} unknown: use 'rgb' or 'flow'")
    return modality


# ---------------------------------------------------------------------------------------------
# Where the snippets are


def num_positions(n_frames: int, modality: str, new_length: int) -> int:
    """Snippet starts available in a clip of ``n_frames`` frames (at least 1, see module notes)."""
    _check_modality(modality)
    if n_frames < 1 or (modality == "flow" and n_frames < 2):
        raise ValueError(f"a {modality} snippet needs at least {1 if modality == 'rgb' else 2} "
                         f"frames, the clip has {n_frames}")
    units = n_frames if modality == "rgb" else n_frames - 1
    return max(1, units - new_length + 1)


def train_offsets(n_positions: int, num_segments: int, rng: np.random.Generator) -> np.ndarray:
    """TSN's training sampling (``_sample_indices``): one random start in each of ``num_segments``
    equal segments of the positions; ``(num_segments,)`` int64, non-decreasing.

    When the clip has fewer positions than segments, sorted random starts (or zeros for a
    one-position clip), as TSN.
    """
    average = n_positions // num_segments
    if average > 0:
        return np.arange(num_segments) * average + rng.integers(0, average, size=num_segments)
    if n_positions > 1:
        return np.sort(rng.integers(0, n_positions, size=num_segments))
    return np.zeros(num_segments, dtype=np.int64)


def uniform_offsets(n_positions: int, num_segments: int) -> np.ndarray:
    """TSN's test sampling (``_get_test_indices``): the middle of each of ``num_segments`` equal
    segments, ``int(tick / 2 + tick * k)`` with ``tick = n_positions / num_segments``;
    ``(num_segments,)`` int64 (repeats when the clip is shorter than ``num_segments``)."""
    tick = n_positions / float(num_segments)
    return np.array([int(tick / 2.0 + tick * k) for k in range(num_segments)], dtype=np.int64)


def snippet_frames(starts: Sequence[int], new_length: int, n_frames: int) -> np.ndarray:
    """Frame indices of RGB snippets: ``(len(starts), new_length)``, clamped to the clip."""
    idx = np.asarray(starts, dtype=np.int64)[:, None] + np.arange(new_length)
    return np.minimum(idx, n_frames - 1)


def snippet_fields(starts: Sequence[int], new_length: int, n_frames: int) -> np.ndarray:
    """Flow-field indices of flow snippets: ``(len(starts), new_length)``, clamped to the
    ``n_frames - 1`` fields; field ``i`` needs frames ``i`` and ``i + 1``."""
    idx = np.asarray(starts, dtype=np.int64)[:, None] + np.arange(new_length)
    return np.minimum(idx, n_frames - 2)


def needed_frames(rgb_frames: np.ndarray | None = None, flow_fields: np.ndarray | None = None) -> np.ndarray:
    """The sorted union of frames that RGB snippets show and that flow snippets' fields are
    computed from (``i`` and ``i + 1`` per field): ``(k,)`` int64."""
    parts = [np.zeros(0, dtype=np.int64)]
    if rgb_frames is not None:
        parts.append(np.asarray(rgb_frames, dtype=np.int64).ravel())
    if flow_fields is not None:
        f = np.asarray(flow_fields, dtype=np.int64).ravel()
        parts += [f, f + 1]
    return np.unique(np.concatenate(parts))


# ---------------------------------------------------------------------------------------------
# Flow stacks


def stack_flow(fields: Mapping[int, np.ndarray] | np.ndarray, index: np.ndarray) -> np.ndarray:
    """Stack flow fields into TSN's channel order.

    fields: anything indexable by field number giving ``(H, W, 2)`` (channel 0 = x), e.g. a
        ``(T-1, H, W, 2)`` array or a dict of the computed fields; uint8 or float.
    index: ``(n, L)`` field numbers (``snippet_fields``).
    Returns ``(n, H, W, 2·L)`` with channels ``[x0, y0, x1, y1, ...]``, the dtype of the fields.
    """
    index = np.asarray(index)
    first = np.asarray(fields[int(index.flat[0])])
    out = np.empty((index.shape[0], *first.shape[:2], 2 * index.shape[1]), dtype=first.dtype)
    for s in range(index.shape[0]):
        for j in range(index.shape[1]):
            out[s, :, :, 2 * j:2 * j + 2] = fields[int(index[s, j])]
    return out


def quantize_flow_stack(stack: np.ndarray, bound: float = 20.0) -> np.ndarray:
    """Flow in pixels -> TSN's 8-bit flow images (``arsr.flow.quantize``), any shape, uint8."""
    return quantize(stack, bound)


def flip_horizontal(x: np.ndarray, modality: str) -> np.ndarray:
    """Mirror ``x (..., H, W, C)`` left-right. For flow (uint8, channels ``[x0, y0, ...]``) the
    horizontal components change sign, which on 8-bit flow is ``255 - q`` (TSN's
    ``GroupRandomHorizontalFlip(is_flow=True)`` inverts the x images). Returns a new array."""
    out = np.ascontiguousarray(x[..., ::-1, :])
    if _check_modality(modality) == "flow":
        if out.dtype != np.uint8:
            raise TypeError(f"flip_horizontal: flow must be 8-bit TSN flow images, got {out.dtype}")
        out[..., 0::2] = 255 - out[..., 0::2]
    return out


# ---------------------------------------------------------------------------------------------
# Crops


@dataclass(frozen=True)
class Box:
    """A crop in source pixels: top-left ``(x, y)``, size ``(w, h)``; floats (mapped from the
    rescaled frame)."""

    x: float
    y: float
    w: float
    h: float

    def pixels(self, height: int, width: int) -> tuple[int, int, int, int]:
        """Integer ``(x0, y0, x1, y1)`` inside a ``height x width`` frame, at least 1 px wide."""
        x0 = min(max(int(round(self.x)), 0), width - 1)
        y0 = min(max(int(round(self.y)), 0), height - 1)
        x1 = min(max(int(round(self.x + self.w)), x0 + 1), width)
        y1 = min(max(int(round(self.y + self.h)), y0 + 1), height)
        return x0, y0, x1, y1


def _rescaled(height: int, width: int, scale_size: int) -> tuple[float, int, int]:
    """Factor k (rescaled = k·source) and the rescaled frame's integer size (w, h), short side
    ``scale_size`` as TSN's GroupScale."""
    k = scale_size / min(height, width)
    return k, int(round(width * k)), int(round(height * k))


def _fix_offsets(more_fix_crop: bool, image_w: int, image_h: int, crop_w: int, crop_h: int):
    """TSN's ``fill_fix_offset``: 5 (corners, centre) or 13 (plus edge centres and quarters)
    top-left offsets, in the rescaled frame."""
    w_step, h_step = (image_w - crop_w) // 4, (image_h - crop_h) // 4
    ret = [(0, 0), (4 * w_step, 0), (0, 4 * h_step), (4 * w_step, 4 * h_step), (2 * w_step, 2 * h_step)]
    if more_fix_crop:
        ret += [(0, 2 * h_step), (4 * w_step, 2 * h_step), (2 * w_step, 4 * h_step), (2 * w_step, 0),
                (w_step, h_step), (3 * w_step, h_step), (w_step, 3 * h_step), (3 * w_step, 3 * h_step)]
    return ret


def multiscale_crop(rng: np.random.Generator, height: int, width: int, input_size: int,
                    scale_size: int, scales: Sequence[float] = MULTISCALE_SCALES,
                    max_distort: int = 1, more_fix_crop: bool = True) -> Box:
    """TSN's training crop (``GroupMultiScaleCrop`` with ``fix_crop``): crop side lengths from
    ``scales`` x the short side of the rescaled frame (snapped to ``input_size`` within 3 px),
    width and height scale indices at most ``max_distort`` apart, placed at one of the fixed
    corner/centre offsets. Returns the box in source pixels of a ``height x width`` frame; the
    caller resizes the crop to ``input_size`` squared."""
    k, image_w, image_h = _rescaled(height, width, scale_size)
    base = min(image_w, image_h)
    sizes = [int(base * s) for s in scales]
    snapped = [input_size if abs(s - input_size) < 3 else s for s in sizes]
    pairs = [(w, h) for i, h in enumerate(snapped) for j, w in enumerate(snapped) if abs(i - j) <= max_distort]
    crop_w, crop_h = pairs[int(rng.integers(len(pairs)))]
    crop_w, crop_h = min(crop_w, image_w), min(crop_h, image_h)
    offsets = _fix_offsets(more_fix_crop, image_w, image_h, crop_w, crop_h)
    ox, oy = offsets[int(rng.integers(len(offsets)))]
    return Box(ox / k, oy / k, crop_w / k, crop_h / k)


def inference_crops(height: int, width: int, input_size: int, scale_size: int,
               mode: str = "center") -> list[tuple[Box, bool]]:
    """TSN's test crops, as ``(box in source pixels, flip)`` pairs.

    ``"center"``: ``GroupScale(scale_size)`` + ``GroupCenterCrop(input_size)``, one crop.
    ``"ten"``: ``GroupOverSample``: the 4 corners and the centre, each also mirrored (10 crops).
    """
    k, image_w, image_h = _rescaled(height, width, scale_size)
    size_w, size_h = min(input_size, image_w), min(input_size, image_h)
    if mode == "center":
        ox, oy = int(round((image_w - size_w) / 2.0)), int(round((image_h - size_h) / 2.0))
        return [(Box(ox / k, oy / k, size_w / k, size_h / k), False)]
    if mode == "ten":
        boxes = [Box(ox / k, oy / k, size_w / k, size_h / k)
                 for ox, oy in _fix_offsets(False, image_w, image_h, size_w, size_h)]
        return [(b, False) for b in boxes] + [(b, True) for b in boxes]
    raise ValueError(f"test crop mode {mode!r} unknown: use 'center' (1 crop) or 'ten' (10 crops)")


def crop_resize(frames: np.ndarray, box: Box, size: int) -> np.ndarray:
    """Cut ``box`` out of ``frames (..., H, W, C)`` uint8 and resize it (bilinear) to
    ``(..., size, size, C)``. Any number of leading axes and channels."""
    frames = np.asarray(frames)
    h, w, c = frames.shape[-3:]
    x0, y0, x1, y1 = box.pixels(h, w)
    lead = frames.shape[:-3]
    flat = frames.reshape(-1, h, w, c)[:, y0:y1, x0:x1]
    out = np.empty((flat.shape[0], size, size, c), dtype=frames.dtype)
    for i, crop in enumerate(flat):
        for c0 in range(0, c, 512):  # OpenCV resizes at most 512 channels at once
            part = np.ascontiguousarray(crop[..., c0:c0 + 512])
            res = cv2.resize(part, (size, size), interpolation=cv2.INTER_LINEAR)
            out[i, ..., c0:c0 + 512] = res.reshape(size, size, -1)
    return out.reshape(*lead, size, size, c)
