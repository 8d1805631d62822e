"""A synthetic labelled action dataset, deterministic for a seed: the study's embedded default.

Each clip shows one round "actor" (a soft-edged disk covering about 12% of the frame) over a
textured, slowly panning background, with lighting drift and sensor noise. The actor's coarse
look (size, mean colour, outline) is random per group of clips and says nothing about the
class. A class is defined by

* a fine texture inside the disk (stripes, plaid, hexagonal dots, rings or speckle, with a
  period of 6-8.5 HR pixels at a class-specific orientation): the spatial cue. x4 bicubic
  downsampling keeps only about 3-15% of a 6-pixel period's contrast and about half of an
  8.5-pixel one, so single LR frames lose much of it;
* a motion pattern: the whole actor slides right/left/up/down (a coarse cue that survives LR),
  or, inside a fixed outline, its texture spins, streams radially (zoom), shakes or scrolls
  (fine cues that flow computed on LR frames largely misses, and for periods under 8 HR pixels
  sees aliased, even reversed).

Clips are grouped as in UCF101 (clips of a group share background, actor colour and size;
train/test split by group) and written losslessly in the UCF101 layout::

    root/<Class>/v_<Class>_g<gg>_c<cc>.avi
    root/ucfTrainTestlist/{classInd.txt, trainlist01.txt, testlist01.txt}
    root/unlabelled/clip_<nnnn>.avi      random motion/texture mixes, for SR training
    root/synthetic.json                  config, seed and counts (tells if a dataset matches)
"""
from __future__ import annotations

import contextlib
import json
import logging
import math
import os
import shutil
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import asdict, dataclass, field, fields
from multiprocessing import get_context
from pathlib import Path

import numpy as np
from tqdm import tqdm

from ..io import write_json, write_text
from .video import write_video

log = logging.getLogger(__name__)

GENERATOR_VERSION = 1
MANIFEST_NAME = "synthetic.json"
UNLABELLED_DIR = "unlabelled"
SPLITS_DIR = "ucfTrainTestlist"

_MOTIONS = ("translate", "spin", "zoom", "shake", "scroll")
_TEXTURES = ("stripes", "plaid", "hex", "rings", "speckle")
_SPECKLE_WAVES = 12
_BACKGROUND_WAVES = 24


@dataclass(frozen=True)
class ActionClass:
    """One synthetic action: a motion pattern and a fine texture.

    ``direction`` (degrees, image axes: x right, y down) is where a translate/shake/scroll goes;
    for spin it is +1 clockwise / -1 anticlockwise, for zoom +1 outward / -1 inward.
    ``orientation`` is the texture's wave-vector angle in degrees (None: random per clip).
    """

    name: str
    motion: str
    direction: float
    texture: str
    period: float
    orientation: float | None


ACTION_CLASSES = (
    ActionClass("SlideRight", "translate", 0, "stripes", 6.0, 0),
    ActionClass("SlideLeft", "translate", 180, "stripes", 8.5, 0),
    ActionClass("SlideUp", "translate", -90, "stripes", 6.0, 90),
    ActionClass("SlideDown", "translate", 90, "stripes", 8.5, 90),
    ActionClass("SpinClockwise", "spin", +1, "plaid", 6.0, None),
    ActionClass("SpinAnticlockwise", "spin", -1, "hex", 6.0, None),
    ActionClass("ZoomIn", "zoom", +1, "rings", 6.0, None),
    ActionClass("ZoomOut", "zoom", -1, "rings", 8.0, None),
    ActionClass("ShakeSideways", "shake", 0, "speckle", 6.0, None),
    ActionClass("ShakeUpDown", "shake", 90, "speckle", 8.0, None),
    ActionClass("ScrollDiagonal", "scroll", 45, "stripes", 6.5, 45),
    ActionClass("ScrollAntidiagonal", "scroll", 135, "stripes", 6.5, 135),
)
CLASS_NAMES = tuple(c.name for c in ACTION_CLASSES)


@dataclass(frozen=True)
class SyntheticConfig:
    """Everything a synthetic dataset depends on (all sizes in HR pixels, speeds per frame)."""

    n_classes: int = 12            # the first n of CLASS_NAMES (1..12)
    clips_per_class: int = 40
    clips_per_group: int = 4       # clips sharing background and actor; capped at clips_per_class // 2
    test_fraction: float = 0.3     # share of groups (the first ones, as in UCF101) held out for test
    n_unlabelled: int = 40         # clips in root/unlabelled (mixed motions/textures) for SR training
    frames_min: int = 24
    frames_max: int = 32
    width: int = 128
    height: int = 96
    seed: int = 0
    fps: float = 25.0
    actor_radius: float = 0.23     # mean actor radius, fraction of the height (+-10% per group)
    texture_amplitude: float = 40.0  # peak grey levels of the actor's texture (x U(0.7, 1) per clip)
    texture_scale: float = 1.0     # multiplies every texture period (larger: coarser, survives LR)
    speed_scale: float = 1.0       # multiplies every motion speed (about 0.7-1.2 px/frame at 1)
    camera_speed: float = 0.3      # largest global pan, px/frame
    background_amplitude: float = 22.0  # RMS grey levels of the background texture
    lighting_drift: float = 0.1    # largest relative brightness change over a clip
    noise_std: float = 2.0         # grey levels of Gaussian sensor noise (x U(0.6, 1) per clip)

    def __post_init__(self):
        problems = []
        if not 1 <= self.n_classes <= len(ACTION_CLASSES):
            problems.append(f"n_classes = {self.n_classes} (1..{len(ACTION_CLASSES)})")
        if self.clips_per_class < 2:
            problems.append(f"clips_per_class = {self.clips_per_class} (at least 2: one train, "
                            "one test)")
        if self.clips_per_group < 1:
            problems.append(f"clips_per_group = {self.clips_per_group} (at least 1)")
        if not 0 < self.test_fraction < 1:
            problems.append(f"test_fraction = {self.test_fraction} (between 0 and 1)")
        if self.n_unlabelled < 0:
            problems.append(f"n_unlabelled = {self.n_unlabelled} (0 or more)")
        if not 2 <= self.frames_min <= self.frames_max:
            problems.append(f"frames_min/frames_max = {self.frames_min}/{self.frames_max} "
                            "(2 <= frames_min <= frames_max)")
        for name in ("width", "height"):
            v = getattr(self, name)
            if v % 4 or v < 32:
                problems.append(f"{name} = {v} (a multiple of 4, at least 32, so x4 LR is exact)")
        if not 0.05 <= self.actor_radius <= 0.4:
            problems.append(f"actor_radius = {self.actor_radius} (0.05..0.4 of the height)")
        for name in ("fps", "texture_scale", "speed_scale"):
            if not getattr(self, name) > 0:
                problems.append(f"{name} = {getattr(self, name)} (positive)")
        for name in ("texture_amplitude", "camera_speed", "background_amplitude",
                     "lighting_drift", "noise_std"):
            if not getattr(self, name) >= 0:
                problems.append(f"{name} = {getattr(self, name)} (0 or more)")
        if self.lighting_drift >= 0.5:
            problems.append(f"lighting_drift = {self.lighting_drift} (below 0.5)")
        if problems:
            raise ValueError("SyntheticConfig: " + "; ".join(problems))

    @classmethod
    def from_dict(cls, values: dict | None) -> "SyntheticConfig":
        """Build from a mapping (e.g. the ``data.synthetic`` group of params.yaml); keys not
        given keep their defaults, unknown keys are an error naming them."""
        values = dict(values or {})
        known = {f.name: f for f in fields(cls)}
        unknown = sorted(set(values) - set(known))
        if unknown:
            raise ValueError(f"unknown synthetic dataset setting(s) {unknown}; valid keys: "
                             f"{', '.join(known)}")
        typed = {}
        for key, value in values.items():
            kind = type(getattr(cls, key))
            if isinstance(value, bool) or not isinstance(value, (int, float)) or \
                    (kind is int and not float(value).is_integer()):
                raise ValueError(f"synthetic dataset setting {key} = {value!r}: expected "
                                 f"{'an integer' if kind is int else 'a number'}")
            typed[key] = kind(value)
        return cls(**typed)

    def to_dict(self) -> dict:
        return asdict(self)

    @property
    def class_names(self) -> list[str]:
        return list(CLASS_NAMES[: self.n_classes])

    @property
    def group_size(self) -> int:
        """Clips per group actually used: at most half the clips, so there are >= 2 groups."""
        return max(1, min(self.clips_per_group, self.clips_per_class // 2))

    @property
    def n_groups(self) -> int:
        return math.ceil(self.clips_per_class / self.group_size)

    @property
    def n_test_groups(self) -> int:
        return min(self.n_groups - 1, max(1, round(self.test_fraction * self.n_groups)))


# --------------------------------------------------------------------------------------------
# Layout

@dataclass(frozen=True)
class ClipEntry:
    """Where one labelled clip goes: ``rel_path`` = ``<Class>/v_<Class>_g<gg>_c<cc>.avi``."""

    rel_path: str
    class_idx: int
    clip_idx: int
    group: int  # 1-based, as in the file name
    split: str  # "train" | "test"


def clip_entry(class_idx: int, clip_idx: int, cfg: SyntheticConfig) -> ClipEntry:
    name = CLASS_NAMES[class_idx]
    group, member = divmod(clip_idx, cfg.group_size)
    split = "test" if group < cfg.n_test_groups else "train"
    rel = f"{name}/v_{name}_g{group + 1:02d}_c{member + 1:02d}.avi"
    return ClipEntry(rel, class_idx, clip_idx, group + 1, split)


def layout(cfg: SyntheticConfig) -> list[ClipEntry]:
    """Every labelled clip of the dataset, class by class."""
    return [clip_entry(k, i, cfg) for k in range(cfg.n_classes) for i in range(cfg.clips_per_class)]


def unlabelled_name(index: int) -> str:
    return f"{UNLABELLED_DIR}/clip_{index:04d}.avi"


# --------------------------------------------------------------------------------------------
# What one clip looks like: every random choice, drawn before rendering

@dataclass
class _Plan:
    n_frames: int
    radius: float
    centre: np.ndarray            # (T, 2) actor outline centre per frame (x, y), image px
    tex_offset: np.ndarray        # (T, 2) texture shift inside the outline (shake/scroll)
    tex_angle: np.ndarray         # (T,) texture rotation, radians (spin; + is clockwise)
    ring_shift: np.ndarray        # (T,) radial shift of ring textures, px (zoom; + outward)
    texture: str
    waves: np.ndarray             # (n, 3): angle (rad), period (px), phase of each plane wave
    actor_rgb: np.ndarray         # (3,) mean colour
    tint: np.ndarray              # (3,) per-channel gain of the texture
    tex_amp: float
    camera: np.ndarray            # (T, 2) camera offset: background sampled at x + camera
    bg_base: np.ndarray           # (3,)
    bg_freq: np.ndarray           # (K, 2) cycles/px (fx, fy)
    bg_phase: np.ndarray          # (K,)
    bg_amp: np.ndarray            # (K, 3) amplitude per channel
    gain: np.ndarray              # (T,) lighting gain
    gradient: np.ndarray          # (2,) lighting gradient across the frame (x, y)
    noise_std: float
    rng: np.random.Generator = field(repr=False)


def _rng(*key: int) -> np.random.Generator:
    return np.random.default_rng(np.random.SeedSequence([int(k) for k in key]))


def _unit(deg_or_rad: float, degrees: bool = True) -> np.ndarray:
    a = math.radians(deg_or_rad) if degrees else deg_or_rad
    return np.array([math.cos(a), math.sin(a)])


def _look(rng: np.random.Generator, cfg: SyntheticConfig) -> dict:
    """What a group of clips shares: background, actor colour and size."""
    k = _BACKGROUND_WAVES
    freq = np.exp(rng.uniform(math.log(1 / 64), math.log(1 / 3.5), k))
    angle = rng.uniform(0, 2 * math.pi, k)
    amp = freq ** -0.75
    amp *= cfg.background_amplitude * math.sqrt(2) / math.sqrt((amp ** 2).sum())
    colour = np.clip(1 + 0.35 * rng.standard_normal((k, 3)), 0.2, 1.8)
    hue = rng.uniform(0, 1)
    # keep the texture (up to 1.25 x 40 grey levels) and the background waves from clipping
    actor_rgb = np.clip(_hsv_to_rgb(hue, rng.uniform(0.15, 0.5), rng.uniform(90, 160)), 60, 195)
    bg_hue = (hue + rng.uniform(0.25, 0.75)) % 1.0  # background colour unlike the actor's
    bg_base = np.clip(_hsv_to_rgb(bg_hue, rng.uniform(0.1, 0.4), rng.uniform(85, 160)), 50, 200)
    return dict(
        radius=cfg.actor_radius * cfg.height * rng.uniform(0.9, 1.1),
        actor_rgb=actor_rgb, bg_base=bg_base,
        bg_freq=np.stack([freq * np.cos(angle), freq * np.sin(angle)], 1),
        bg_phase=rng.uniform(0, 2 * math.pi, k), bg_amp=amp[:, None] * colour,
    )


def _hsv_to_rgb(h: float, s: float, v: float) -> np.ndarray:
    """Colour of hue h in [0, 1), saturation s and mean level v (grey levels)."""
    shade = np.array([math.cos(2 * math.pi * (h - o)) for o in (0, 1 / 3, 2 / 3)])
    return np.clip(v * (1 + s * shade), 0, 255)


def _waves(texture: str, period: float, orientation: float | None,
           rng: np.random.Generator) -> np.ndarray:
    """Plane waves (angle, period, phase) whose sum is the texture ("rings": one radial wave)."""
    base = rng.uniform(0, 2 * math.pi) if orientation is None else \
        math.radians(orientation + rng.uniform(-8, 8))
    if texture in ("stripes", "rings"):
        angles = [base]
    elif texture == "plaid":
        angles = [base, base + math.pi / 2]
    elif texture == "hex":
        angles = [base, base + math.pi / 3, base + 2 * math.pi / 3]
    elif texture == "speckle":
        angles = list(rng.uniform(0, 2 * math.pi, _SPECKLE_WAVES))
    else:
        raise ValueError(f"unknown texture {texture!r}; choose one of {', '.join(_TEXTURES)}")
    n = len(angles)
    periods = period * (rng.uniform(0.93, 1.07, n) if texture == "speckle" else np.ones(n))
    return np.stack([np.array(angles), periods, rng.uniform(0, 2 * math.pi, n)], 1)


def _plan(look: dict, motion: str, direction: float, texture: str, period: float,
          orientation: float | None, cfg: SyntheticConfig, rng: np.random.Generator) -> _Plan:
    t_count = int(rng.integers(cfg.frames_min, cfg.frames_max + 1))
    t = np.arange(t_count, dtype=np.float64)
    radius = look["radius"]
    s = cfg.speed_scale
    zeros2 = np.zeros((t_count, 2))
    tex_offset, tex_angle, ring_shift = zeros2.copy(), np.zeros(t_count), np.zeros(t_count)
    velocity = _unit(rng.uniform(0, 360)) * rng.uniform(0, 0.2) * s  # slow drift, any class
    if motion == "translate":
        velocity = velocity + _unit(direction + rng.uniform(-10, 10)) * rng.uniform(0.7, 1.2) * s
    elif motion == "spin":
        tex_angle = np.sign(direction) * rng.uniform(0.7, 1.2) * s / radius * t
    elif motion == "zoom":
        ring_shift = np.sign(direction) * rng.uniform(0.7, 1.2) * s * t
    elif motion == "shake":
        amplitude, cycle = rng.uniform(1.0, 1.6) * s, rng.uniform(7, 10)
        wobble = amplitude * np.sin(2 * math.pi * t / cycle + rng.uniform(0, 2 * math.pi))
        tex_offset = wobble[:, None] * _unit(direction + rng.uniform(-8, 8))
    elif motion == "scroll":
        tex_offset = (rng.uniform(0.7, 1.2) * s * t)[:, None] * _unit(direction + rng.uniform(-8, 8))
    else:
        raise ValueError(f"unknown motion {motion!r}; choose one of {', '.join(_MOTIONS)}")
    cam_velocity = _unit(rng.uniform(0, 360)) * rng.uniform(0, cfg.camera_speed)
    camera = t[:, None] * cam_velocity
    path = t[:, None] * (velocity - cam_velocity)  # the actor moves in the world, seen panned
    centre = np.empty((t_count, 2))
    for axis, size in ((0, cfg.width), (1, cfg.height)):
        margin = 0.75 * radius  # the actor may leave the frame by a quarter of its radius
        lo, hi = margin - path[:, axis].min(), size - margin - path[:, axis].max()
        start = rng.uniform(lo, hi) if lo < hi else (lo + hi) / 2
        centre[:, axis] = start + path[:, axis]
    waves = _waves(texture, period * cfg.texture_scale, orientation, rng)
    drift_cycle = rng.uniform(1.5, 3.0) * t_count
    gain = 1 + cfg.lighting_drift * rng.uniform(0.5, 1.0) * \
        np.sin(2 * math.pi * t / drift_cycle + rng.uniform(0, 2 * math.pi))
    return _Plan(
        n_frames=t_count, radius=radius, centre=centre, tex_offset=tex_offset,
        tex_angle=tex_angle, ring_shift=ring_shift, texture=texture, waves=waves,
        actor_rgb=look["actor_rgb"], tint=1 + 0.25 * rng.uniform(-1, 1, 3),
        tex_amp=cfg.texture_amplitude * rng.uniform(0.7, 1.0), camera=camera,
        bg_base=look["bg_base"], bg_freq=look["bg_freq"], bg_phase=look["bg_phase"],
        bg_amp=look["bg_amp"], gain=gain,
        gradient=_unit(rng.uniform(0, 360)) * cfg.lighting_drift * rng.uniform(0, 1),
        noise_std=cfg.noise_std * rng.uniform(0.6, 1.0), rng=rng,
    )


# --------------------------------------------------------------------------------------------
# Rendering

def _background(plan: _Plan, cfg: SyntheticConfig) -> np.ndarray:
    """(T, H, W, 3) float32: the base colour plus plane waves, panned by the camera offset.

    cos(2pi(fx (x + ox) + fy (y + oy)) + phi) = Re[e^{i 2pi fx x} e^{i 2pi fy y} e^{i psi_t}], so
    all frames come from one complex matrix product instead of K cosines per pixel.
    """
    x = np.arange(cfg.width)
    y = np.arange(cfg.height)
    ex = np.exp(2j * np.pi * plan.bg_freq[:, 0:1] * x).astype(np.complex64)       # (K, W)
    ey = np.exp(2j * np.pi * plan.bg_freq[:, 1:2] * y).astype(np.complex64)       # (K, H)
    psi = 2 * np.pi * plan.camera @ plan.bg_freq.T + plan.bg_phase                # (T, K)
    coef = (np.exp(1j * psi)[:, :, None] * plan.bg_amp[None]).astype(np.complex64)  # (T, K, 3)
    left = coef.transpose(0, 2, 1)[:, :, None, :] * ey.T[None, None]             # (T, 3, H, K)
    waves = (left @ ex).real                                                       # (T, 3, H, W)
    return waves.transpose(0, 2, 3, 1) + plan.bg_base.astype(np.float32)


def _texture(plan: _Plan, qx: np.ndarray, qy: np.ndarray, ring_shift: np.ndarray) -> np.ndarray:
    """Texture values (RMS about 0.7, range about [-1, 1]) at texture coordinates (qx, qy)."""
    if plan.texture == "rings":
        _, period, phase = plan.waves[0]
        r = np.sqrt(qx * qx + qy * qy)
        return np.cos(2 * np.pi * (r - ring_shift) / period + phase)
    out = np.zeros_like(qx)
    for angle, period, phase in plan.waves:
        out += np.cos((2 * np.pi / period) * (qx * math.cos(angle) + qy * math.sin(angle)) + phase)
    return out / math.sqrt(len(plan.waves))


def _render(plan: _Plan, cfg: SyntheticConfig, with_mask: bool = False):
    t_count, h, w = plan.n_frames, cfg.height, cfg.width
    frames = _background(plan, cfg)
    mask = np.zeros((t_count, h, w), np.float32) if with_mask else None

    # The actor, on a (T, S, S) window around it in each frame
    size = 2 * int(math.ceil(plan.radius)) + 4
    origin = np.floor(plan.centre).astype(int) - size // 2                        # (T, 2)
    grid = np.arange(size, dtype=np.float64)
    dx = origin[:, 0, None, None] + grid[None, None, :] - plan.centre[:, 0, None, None]
    dy = origin[:, 1, None, None] + grid[None, :, None] - plan.centre[:, 1, None, None]
    alpha = np.clip(plan.radius + 0.5 - np.sqrt(dx * dx + dy * dy), 0, 1)        # soft edge
    ox = dx - plan.tex_offset[:, 0, None, None]
    oy = dy - plan.tex_offset[:, 1, None, None]
    cos_a = np.cos(plan.tex_angle)[:, None, None]
    sin_a = np.sin(plan.tex_angle)[:, None, None]
    tex = _texture(plan, cos_a * ox + sin_a * oy, -sin_a * ox + cos_a * oy,
                   plan.ring_shift[:, None, None])
    actor = plan.actor_rgb + (plan.tex_amp * tex)[..., None] * plan.tint          # (T, S, S, 3)
    alpha = alpha.astype(np.float32)
    actor = actor.astype(np.float32)
    for i in range(t_count):
        x0, y0 = origin[i]
        fx0, fy0, fx1, fy1 = max(x0, 0), max(y0, 0), min(x0 + size, w), min(y0 + size, h)
        if fx0 >= fx1 or fy0 >= fy1:
            continue
        a = alpha[i, fy0 - y0:fy1 - y0, fx0 - x0:fx1 - x0, None]
        region = frames[i, fy0:fy1, fx0:fx1]
        region += a * (actor[i, fy0 - y0:fy1 - y0, fx0 - x0:fx1 - x0] - region)
        if with_mask:
            mask[i, fy0:fy1, fx0:fx1] = a[..., 0]

    # Lighting (a brightness drift over time and a gradient across the frame), then noise
    ramp_x = (np.arange(w, dtype=np.float32) - w / 2) / w
    ramp_y = (np.arange(h, dtype=np.float32) - h / 2) / h
    light = 1 + plan.gradient[0] * ramp_x[None, :] + plan.gradient[1] * ramp_y[:, None]
    frames *= (plan.gain.astype(np.float32)[:, None, None] * light[None])[..., None]
    # sensor noise after demosaicing and denoising is mostly luminance: one draw for all channels
    frames += plan.rng.standard_normal((t_count, h, w, 1), dtype=np.float32) * \
        np.float32(plan.noise_std)
    out = np.clip(np.rint(frames), 0, 255).astype(np.uint8)
    return (out, mask) if with_mask else out


def render_clip(class_idx: int, clip_idx: int, cfg: SyntheticConfig = SyntheticConfig(),
                return_mask: bool = False):
    """Render labelled clip ``clip_idx`` of class ``class_idx``: (T, H, W, 3) uint8 RGB.

    Pure and deterministic: the group's look comes from (seed, class, group), the clip's
    motion, texture phases, lighting and noise from (seed, class, clip), so any clip renders
    alone. With ``return_mask`` also returns the actor's coverage, (T, H, W) float32 in [0, 1].
    """
    if not 0 <= class_idx < cfg.n_classes:
        raise ValueError(f"class_idx = {class_idx}: this config has classes 0..{cfg.n_classes - 1}")
    if not 0 <= clip_idx < cfg.clips_per_class:
        raise ValueError(f"clip_idx = {clip_idx}: this config has clips 0..{cfg.clips_per_class - 1}")
    spec = ACTION_CLASSES[class_idx]
    group = clip_idx // cfg.group_size
    look = _look(_rng(cfg.seed, 0, class_idx, group), cfg)
    plan = _plan(look, spec.motion, spec.direction, spec.texture, spec.period, spec.orientation,
                 cfg, _rng(cfg.seed, 1, class_idx, clip_idx))
    return _render(plan, cfg, return_mask)


def render_unlabelled(index: int, cfg: SyntheticConfig = SyntheticConfig(),
                      return_mask: bool = False):
    """Render unlabelled clip ``index``: (T, H, W, 3) uint8 RGB, a random mix of the classes'
    motion patterns (any direction) and textures (period 5-10 px times texture_scale, any
    orientation), for training super-resolution without labels."""
    if index < 0:
        raise ValueError(f"index = {index}: unlabelled clips are numbered from 0")
    rng = _rng(cfg.seed, 2, index)
    look = _look(rng, cfg)
    motion = _MOTIONS[int(rng.integers(len(_MOTIONS)))]
    texture = _TEXTURES[int(rng.integers(len(_TEXTURES)))]
    direction = rng.uniform(0, 360) if motion in ("translate", "shake", "scroll") else \
        float(rng.choice([-1, 1]))
    period = math.exp(rng.uniform(math.log(5.0), math.log(10.0)))
    plan = _plan(look, motion, direction, texture, period, None, cfg, rng)
    return _render(plan, cfg, return_mask)


# --------------------------------------------------------------------------------------------
# Writing a dataset

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


def _init_worker() -> None:
    import cv2

    cv2.setNumThreads(1)  # one process per core


def generate(root: str | os.PathLike, cfg: SyntheticConfig = SyntheticConfig(),
             workers: int | None = None, progress: bool = True, overwrite: bool = False) -> dict:
    """Write the dataset of ``cfg`` under ``root`` (layout in the module docstring).

    Resumable: when ``root/synthetic.json`` records the same config and generator version,
    clips already on disk are kept (each was written atomically) and only missing ones are
    rendered. A root holding a different synthetic dataset, or other files, is an error unless
    ``overwrite`` (which deletes the old dataset's class folders, unlabelled/, split lists and
    manifest first). ``workers``: process count (None: all cores; 0 or 1: in this process).

    Returns a summary: root, class_names, n_train, n_test, n_unlabelled, written, reused,
    seconds.
    """
    started = time.perf_counter()
    root = Path(root)
    found = read_manifest(root)
    if found is not None and not _same(found, cfg):
        if not overwrite:
            old = found.get("config", {})
            diff = sorted(k for k in set(old) | set(cfg.to_dict()) if old.get(k) != cfg.to_dict().get(k))
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
    if workers is None:
        workers = os.cpu_count() or 1
    bar = tqdm(total=len(todo), desc="synthetic clips", unit="clip", disable=not progress,
               mininterval=1.0)
    try:
        if workers <= 1 or len(todo) <= 1:
            for job in todo:
                _write_job(job)
                bar.update(1)
        else:
            with _single_threaded_children(), \
                    ProcessPoolExecutor(min(workers, len(todo)), mp_context=get_context("spawn"),
                                        initializer=_init_worker) as pool:
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


@contextlib.contextmanager
def _single_threaded_children():
    """Spawned workers read these at start-up: one BLAS/OpenMP thread each, one worker per core."""
    names = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")
    saved = {n: os.environ.get(n) for n in names}
    os.environ.update({n: "1" for n in names})
    try:
        yield
    finally:
        for n, v in saved.items():
            if v is None:
                os.environ.pop(n, None)
            else:
                os.environ[n] = v


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
