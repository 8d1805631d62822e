"""Deterministic training patches for super-resolution, drawn from a prepared dataset.

A batch is a pure function of ``(seed, iteration, rank)``: the sampler seeds a fresh numpy
generator from those three numbers for every batch, so a run resumed at iteration ``k`` draws
exactly the batches an uninterrupted run draws, and each rank of a multi-GPU run draws its own.

One sample is a centre frame ``t`` of a video and an LR-aligned position: the HR patch
``hr_patch`` px square at ``(scale*y, scale*x)`` and the LR patch ``hr_patch/scale`` px at
``(y, x)``. It carries

* ``lr``   the window of ``num_frames`` LR frames around ``t`` (indices clamped to the clip, so
  the end frames repeat), or frame ``t`` alone for image models;
* ``hr``   HR frame ``t``;
* ``flow`` HR flow ``t -> t+1`` (the WMSE weights of SoSR, paper Eq. 1);

and, when a frame ``gap`` is set (ToSR's warp loss, paper Eq. 3), the same for frame
``t + gap`` (``lr_next``, ``hr_next``) plus ``flow_pair``, the HR flow ``t -> t+gap`` composed
from the stored consecutive flows. With a ``clip`` of ``k`` frames (recognition-driven SR's
temporal task term, :func:`arsr.losses.temporal_task_loss`) it also carries ``lr_clip`` (the LR
window of each of frames ``t .. t+k-1``) and ``hr_clip`` (those HR frames). With
``motion_top_k`` the position is one of the ``k`` highest-motion of ``motion_candidates`` random
positions in the frame (the paper keeps the top crops per frame by motion). Flips and
transposition (the 8 rotations/reflections) apply to every array of a sample alike and turn the
flow vectors with the image.
"""
from __future__ import annotations

from collections import deque
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import lru_cache
from typing import Iterator, Mapping, Sequence

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F

from ..data.store import PreparedDataset, PreparedVideo

__all__ = ["PatchSpec", "PatchSampler", "augment", "compose_flows", "batch_rng"]

IMAGE_KEYS = ("lr", "hr", "lr_next", "hr_next", "lr_clip", "hr_clip")
FLOW_KEYS = ("flow", "flow_pair")


def batch_rng(seed: int, iteration: int, rank: int = 0) -> np.random.Generator:
    """The generator that draws batch ``iteration`` of ``rank``: independent of any other."""
    return np.random.Generator(np.random.PCG64(np.random.SeedSequence([seed, iteration, rank])))


@dataclass(frozen=True)
class PatchSpec:
    """Where one sample comes from: video row ``video`` of the sampler, centre frame ``t``,
    top-left corner ``(y, x)`` in LR pixels, and the augmentation applied."""

    video: int
    t: int
    y: int
    x: int
    hflip: bool = False
    vflip: bool = False
    transpose: bool = False


def augment(sample: Mapping[str, np.ndarray], hflip: bool, vflip: bool,
            transpose: bool) -> dict[str, np.ndarray]:
    """Flip / transpose every array of a sample alike, turning flow vectors with the image.

    Arrays are channel-last with the spatial axes just before the channels: images
    ``(..., h, w, c)``, flows ``(..., h, w, 2)`` (keys in ``FLOW_KEYS``, channel 0 = x).
    Horizontal flip mirrors x and negates u; vertical flip mirrors y and negates v; transpose
    swaps the axes and swaps u with v. Together they give the 8 rotations/reflections
    (rot90 = transpose then hflip). Returns views (not contiguous).
    """
    out = {}
    for key, a in sample.items():
        is_flow = key in FLOW_KEYS
        if hflip:
            a = a[..., :, ::-1, :]
            if is_flow:
                a = a * np.array([-1, 1], dtype=a.dtype)
        if vflip:
            a = a[..., ::-1, :, :]
            if is_flow:
                a = a * np.array([1, -1], dtype=a.dtype)
        if transpose:
            a = np.swapaxes(a, -3, -2)
            if is_flow:
                a = a[..., ::-1]
        out[key] = a
    return out


def _bilinear(field: torch.Tensor, px: torch.Tensor, py: torch.Tensor) -> torch.Tensor:
    """Sample ``field (1, c, H, W)`` at absolute pixel positions ``px, py (h, w)`` -> ``(c, h, w)``.

    Pixel centres at integer coordinates; outside the frame the edge value repeats (as
    :func:`arsr.ops.warp` with ``padding_mode="border"``).
    """
    _, _, big_h, big_w = field.shape
    grid = torch.stack((px * (2.0 / max(big_w - 1, 1)) - 1.0,
                        py * (2.0 / max(big_h - 1, 1)) - 1.0), dim=-1)[None]
    return F.grid_sample(field, grid, mode="bilinear", padding_mode="border",
                         align_corners=True)[0]


def compose_flows(flows: np.ndarray, y0: int = 0, x0: int = 0, h: int | None = None,
                  w: int | None = None) -> np.ndarray:
    """The flow ``0 -> n`` over a crop, chained from consecutive flows ``k -> k+1``.

    ``F_{0->k+1}(p) = F_{0->k}(p) + F_{k->k+1}(p + F_{0->k}(p))`` with bilinear sampling of the
    stored flow (edge values repeat outside the frame), so vectors that leave the crop still
    read the whole frame.

    flows: ``(n, H, W, 2)`` (the store's layout, any float dtype), pixels, channel 0 = x.
    Returns ``(h, w, 2)`` float32 for the crop at ``(y0, x0)`` (default: the whole frame).
    """
    n, big_h, big_w, _ = flows.shape
    h = big_h - y0 if h is None else h
    w = big_w - x0 if w is None else w
    acc = torch.from_numpy(np.asarray(flows[0, y0:y0 + h, x0:x0 + w], dtype=np.float32))
    acc = acc.permute(2, 0, 1).contiguous()  # (2, h, w)
    if n == 1:
        return acc.permute(1, 2, 0).numpy()
    ys = torch.arange(y0, y0 + h, dtype=torch.float32)[:, None].expand(h, w)
    xs = torch.arange(x0, x0 + w, dtype=torch.float32)[None, :].expand(h, w)
    for k in range(1, n):
        field = torch.from_numpy(np.asarray(flows[k], dtype=np.float32)).permute(2, 0, 1)[None]
        acc = acc + _bilinear(field, xs + acc[0], ys + acc[1])
    return acc.permute(1, 2, 0).numpy()


class PatchSampler:
    """Draws aligned LR/HR/flow patches from the videos of some splits of a prepared dataset.

    Args:
        dataset: the prepared store (:class:`arsr.data.store.PreparedDataset`).
        splits: which splits' videos to draw from (e.g. ``["unlabelled"]``).
        hr_patch: HR patch side in pixels (a multiple of ``scale``).
        scale: HR/LR size ratio of the store.
        batch_size: samples per batch (per rank).
        num_frames: LR frames per sample (1 = image model; odd for video models).
        gap: frame distance of the second sample for the warp loss; ``None`` = no second sample.
        clip: frames ``t .. t+clip-1`` per sample as ``lr_clip``/``hr_clip``; ``None`` = none.
        augment: random flips and transposition.
        motion_top_k: keep only the ``k`` highest-motion (mean HR flow magnitude of frame t -> t+1)
            of ``motion_candidates`` random positions per frame, and pick one of them; 0 = off.
        seed, rank: with the iteration, they seed each batch's generator.
        video_cache: how many videos keep their memory maps open at once (each holds file
            descriptors, so a large dataset cannot keep all open).

    A frame ``t`` is eligible when its flow ``t -> t + max(1, gap)`` exists; (video, frame)
    pairs are drawn uniformly, so a long video counts in proportion to its length.
    """

    def __init__(self, dataset: PreparedDataset, *, splits: Sequence[str] = ("unlabelled",),
                 hr_patch: int = 128, scale: int = 4, batch_size: int = 16, num_frames: int = 1,
                 gap: int | None = None, clip: int | None = None, augment: bool = True, motion_top_k: int = 0,
                 motion_candidates: int = 100, seed: int = 0, rank: int = 0,
                 video_cache: int = 64):
        if hr_patch % scale:
            raise ValueError(f"data.hr_patch = {hr_patch} must be a multiple of scale = {scale}")
        if num_frames < 1 or num_frames % 2 == 0:
            raise ValueError(f"num_frames = {num_frames}: a window needs an odd number of frames")
        if gap is not None and gap < 1:
            raise ValueError(f"warp.gap = {gap} must be at least 1")
        if clip is not None and clip < 2:
            raise ValueError(f"data.clip = {clip}: a clip needs at least 2 frames")
        if motion_top_k and motion_top_k > motion_candidates:
            raise ValueError(f"data.motion_top_k = {motion_top_k} exceeds data.motion_candidates "
                             f"= {motion_candidates}; raise the candidates or lower k")
        if batch_size < 1:
            raise ValueError(f"data.batch_size = {batch_size} must be at least 1")
        self.dataset = dataset
        self.splits = list(splits)
        self.hr_patch = hr_patch
        self.lr_patch = hr_patch // scale
        self.scale = scale
        self.batch_size = batch_size
        self.num_frames = num_frames
        self.gap = gap
        self.clip = clip
        self.augment = augment
        self.motion_top_k = motion_top_k
        self.motion_candidates = motion_candidates
        self.seed = seed
        self.rank = rank

        rows = [dataset.split(s) for s in self.splits]
        rows = [r for r in rows if len(r)]
        if not rows:
            raise ValueError(f"no videos in split(s) {self.splits} of {dataset.root / 'index.csv'}; "
                             "set data.splits to splits that the prepared data has "
                             f"(it has: {sorted(set(dataset.index['split']))})")
        self.rows = pd.concat(rows, ignore_index=True)
        need = max(1, gap or 1, (clip or 1) - 1)
        counts = []
        for _, row in self.rows.iterrows():
            self._check_video(row)
            counts.append(max(0, int(row["n_frames"]) - need))
        self.frame_counts = np.asarray(counts, dtype=np.int64)
        self.cumulative = np.cumsum(self.frame_counts)
        if self.cumulative[-1] == 0:
            raise ValueError(f"no video in split(s) {self.splits} has more than {need} frames "
                             f"(needed for the flow t -> t+{need})")
        self._video = lru_cache(maxsize=video_cache)(self._open_video)

    # -- setup ---------------------------------------------------------------------------------
    def _check_video(self, row) -> None:
        h, w, lh, lw = (int(row[k]) for k in ("height", "width", "lr_height", "lr_width"))
        where = f"video {row['video_id']!r} ({self.dataset.root / 'videos' / row['key']})"
        if lh * self.scale != h or lw * self.scale != w:
            raise ValueError(f"{where}: HR {w}x{h} is not scale = {self.scale} times LR {lw}x{lh}; "
                             "set scale to the prepared data's (prepare.scale)")
        if lh < self.lr_patch or lw < self.lr_patch:
            raise ValueError(f"{where}: HR {w}x{h} is smaller than data.hr_patch = {self.hr_patch}; "
                             "lower data.hr_patch or prepare larger frames")

    def _open_video(self, i: int) -> PreparedVideo:
        return self.dataset.video(self.rows.iloc[i])

    def __len__(self) -> int:
        """Eligible (video, frame) pairs."""
        return int(self.cumulative[-1])

    # -- drawing -------------------------------------------------------------------------------
    def specs(self, iteration: int) -> list[PatchSpec]:
        """Where the samples of batch ``iteration`` come from (deterministic)."""
        rng = batch_rng(self.seed, iteration, self.rank)
        out = []
        for _ in range(self.batch_size):
            r = int(rng.integers(0, self.cumulative[-1]))
            v = int(np.searchsorted(self.cumulative, r, side="right"))
            t = r - (int(self.cumulative[v - 1]) if v else 0)
            lh, lw = int(self.rows.at[v, "lr_height"]), int(self.rows.at[v, "lr_width"])
            if self.motion_top_k:
                y, x = self._top_motion_position(rng, v, t, lh, lw)
            else:
                y = int(rng.integers(0, lh - self.lr_patch + 1))
                x = int(rng.integers(0, lw - self.lr_patch + 1))
            flips = (bool(rng.random() < 0.5), bool(rng.random() < 0.5),
                     bool(rng.random() < 0.5)) if self.augment else (False, False, False)
            out.append(PatchSpec(v, t, y, x, *flips))
        return out

    def _top_motion_position(self, rng: np.random.Generator, v: int, t: int, lh: int,
                             lw: int) -> tuple[int, int]:
        ys = rng.integers(0, lh - self.lr_patch + 1, size=self.motion_candidates)
        xs = rng.integers(0, lw - self.lr_patch + 1, size=self.motion_candidates)
        flow = np.asarray(self._video(v).flow[t], dtype=np.float32)
        magnitude = np.hypot(flow[..., 0], flow[..., 1]).astype(np.float64)
        integral = np.zeros((magnitude.shape[0] + 1, magnitude.shape[1] + 1))
        integral[1:, 1:] = magnitude.cumsum(0).cumsum(1)
        y0, x0, p = ys * self.scale, xs * self.scale, self.hr_patch
        motion = (integral[y0 + p, x0 + p] - integral[y0, x0 + p]
                  - integral[y0 + p, x0] + integral[y0, x0])
        best = np.argsort(-motion, kind="stable")[:self.motion_top_k]
        pick = best[int(rng.integers(0, len(best)))]
        return int(ys[pick]), int(xs[pick])

    # -- reading -------------------------------------------------------------------------------
    def _window(self, video: PreparedVideo, t: int, y: int, x: int) -> np.ndarray:
        radius = self.num_frames // 2
        idx = np.clip(np.arange(t - radius, t + radius + 1), 0, video.n_frames - 1)
        p = self.lr_patch
        return np.asarray(video.lr[idx, y:y + p, x:x + p])  # (num_frames, p, p, 3)

    def load(self, spec: PatchSpec) -> dict[str, np.ndarray]:
        """Arrays of one sample, channel-last, augmented: ``lr (t, h, w, 3)`` uint8,
        ``hr (H, W, 3)`` uint8, ``flow (H, W, 2)`` float32, and with a gap ``lr_next``,
        ``hr_next``, ``flow_pair``."""
        video = self._video(spec.video)
        s, p = self.scale, self.hr_patch
        y, x = spec.y * s, spec.x * s
        sample = {
            "lr": self._window(video, spec.t, spec.y, spec.x),
            "hr": np.asarray(video.hr[spec.t, y:y + p, x:x + p]),
            "flow": np.asarray(video.flow[spec.t, y:y + p, x:x + p], dtype=np.float32),
        }
        if self.gap is not None:
            t2 = spec.t + self.gap
            sample["lr_next"] = self._window(video, t2, spec.y, spec.x)
            sample["hr_next"] = np.asarray(video.hr[t2, y:y + p, x:x + p])
            if self.gap == 1:
                sample["flow_pair"] = sample["flow"]
            else:
                sample["flow_pair"] = compose_flows(video.flow[spec.t:t2], y, x, p, p)
        if self.clip is not None:
            frames = range(spec.t, spec.t + self.clip)
            windows = np.stack([self._window(video, t, spec.y, spec.x) for t in frames])
            # (clip, h, w, 3) for image models, (clip, num_frames, h, w, 3) for video models
            sample["lr_clip"] = windows[:, 0] if self.num_frames == 1 else windows
            sample["hr_clip"] = np.asarray(video.hr[spec.t:spec.t + self.clip, y:y + p, x:x + p])
        self._check_shapes(sample, video)
        return augment(sample, spec.hflip, spec.vflip, spec.transpose)

    def _check_shapes(self, sample: dict[str, np.ndarray], video: PreparedVideo) -> None:
        p, lp = self.hr_patch, self.lr_patch
        if sample["hr"].shape[:2] != (p, p) or sample["lr"].shape[1:3] != (lp, lp) \
                or sample["flow"].shape[:2] != (p, p):
            raise ValueError(f"{video.folder}: HR {video.hr.shape}, LR {video.lr.shape} "
                             f"or flow {video.flow.shape} disagree with index.csv; "
                             "re-run the prepare stage for this video")

    def collate(self, samples: Sequence[Mapping[str, np.ndarray]]) -> dict[str, torch.Tensor]:
        """Stack samples into float tensors: images in [0, 1], ``lr (b, c, h, w)`` for one frame
        or ``(b, t, c, h, w)`` for a window, ``hr (b, c, H, W)``, flows ``(b, 2, H, W)``; a clip
        of k frames: ``lr_clip (b, k, [t,] c, h, w)``, ``hr_clip (b, k, c, H, W)``."""
        out = {}
        for key in samples[0]:
            a = np.stack([smp[key] for smp in samples])  # contiguous copy
            tensor = torch.from_numpy(a)
            if key in FLOW_KEYS:
                tensor = tensor.float()
            else:
                tensor = tensor.float().div_(255.0)
            # channel-last -> channel-first: (b, [t,] h, w, c) -> (b, [t,] c, h, w)
            tensor = tensor.movedim(-1, -3)
            if key in ("lr", "lr_next") and self.num_frames == 1:
                tensor = tensor[:, 0]
            out[key] = tensor.contiguous()
        return out

    def batch(self, iteration: int) -> dict[str, torch.Tensor]:
        """Batch ``iteration`` (the same every time it is asked for)."""
        return self.collate([self.load(spec) for spec in self.specs(iteration)])

    def iterate(self, iterations: Sequence[int], prefetch: int = 0,
                pin_memory: bool = False) -> Iterator[tuple[int, dict[str, torch.Tensor]]]:
        """``(iteration, batch)`` for each of ``iterations`` in order; ``prefetch`` > 0 builds
        that many batches ahead in background threads (the batches stay the same)."""
        def make(it):
            b = self.batch(it)
            return {k: v.pin_memory() for k, v in b.items()} if pin_memory else b

        if prefetch <= 0:
            for it in iterations:
                yield it, make(it)
            return
        pending: deque = deque()
        todo = iter(iterations)
        with ThreadPoolExecutor(max_workers=prefetch, thread_name_prefix="patches") as pool:
            for it in todo:
                pending.append((it, pool.submit(make, it)))
                if len(pending) > prefetch:
                    break
            while pending:
                it, future = pending.popleft()
                nxt = next(todo, None)
                if nxt is not None:
                    pending.append((nxt, pool.submit(make, nxt)))
                yield it, future.result()
