"""A synthetic labelled action dataset, deterministic for a seed: the study's embedded default.

Each clip shows one round "actor" (a soft-edged disk covering about 12% of the frame) over a
textured, slowly panning background, with lighting drift and sensor noise.

*Looks carry no class.* The background, the actor's mean colour and its size are drawn per group
index (:func:`group_look`), and group g has the same look in every class: the test groups' looks
are unseen looks of every class, the training groups' looks appear in every class. (Generator
version 1 drew them per class and group, so a look told the class: a 1-NN on 8x6 colour
thumbnails scored 86% leave-one-out on train, 5% on test; now 7% and 10%, chance 8%.)

*Classes come in six twin pairs.* Twins share a motion kind and a coarse texture; they differ by
the motion's direction and by their texture's crests, sharp or soft:

* a texture is a sum of plane waves cos(psi) (stripes: 1, plaid: 2 at right angles, hex: 3 at
  60 degrees, speckle: 12 at random angles with periods +-5%, rings: one radial wave), each with
  its second harmonic d cos(2 psi): d = ``detail_ratio`` (0.6) for the sharp twin, a quarter of
  it for the soft one;
* the coarse waves (period 16-19 HR px) survive x4 bicubic (92-96% of a plane wave's contrast)
  and tell the pair; the second harmonic (period 8-9.5 HR px) tells the twins apart. Its
  period along each image axis is above the LR Nyquist period (8 HR px), so x4 LR keeps it
  unaliased, but MATLAB bicubic x1/4 then x4 (the study's LR and bicubic baseline) keeps only
  39-56% of it as a plane wave (42-48% measured in the clips): a recogniser trained on HR frames
  sees a bicubic sharp clip about as detailed as an HR soft one. A learned x4 SR can give it
  back: the closed-form linear one of :mod:`arsr.data.cues`, fitted on training clips, restores
  83-89% on test clips.

Measured inside the actor (:func:`arsr.data.cues.cue_table`, default config, 4 test clips per
class, 6 frames each; "kept": share of the HR detail-band signal, periods 6-12 px)::

    twins (sharp / soft)           texture        periods   sharp twin          soft twin
                                                  coarse /  HR    kept by       HR    kept by
                                                  detail          bic.  lin.SR        bic.  lin.SR
    SlideRight / SlideLeft         stripes 0 deg  19 / 9.5  12.1  0.45  0.85    4.5   0.57  0.97
    SlideUp / SlideDown            stripes 90 deg 19 / 9.5  12.6  0.47  0.83    4.6   0.57  0.93
    SpinClockwise / -Anticlockwise hex, any angle 18 / 9    12.6  0.48  0.89    4.6   0.61  0.96
    ZoomIn / ZoomOut               rings          18 / 9    11.9  0.48  0.86    5.6   0.65  0.97
    ShakeSideways / ShakeUpDown    speckle        18 / 9    11.9  0.47  0.89    5.1   0.60  0.96
    ScrollDiagonal / -Antidiagonal plaid 45 deg   16 / 8    12.1  0.42  0.86    4.2   0.54  0.90

(HR: RMS grey levels of the detail band. Bicubic keeps of a plane wave along an axis 0.45 at
period 9.5 and 0.39 at 9 (0.56 at 45 degrees); at 45 degrees 0.42 at period 8:
:func:`arsr.data.cues.bicubic_transfer`. Soft twins keep more because their weak band signal
includes the coarse waves' tails.)
Orientations are jittered by +-8 degrees per clip. Every texture maps onto its own class under a
horizontal flip (TSN's augmentation).

*Motion*: the whole actor slides right/left/up/down (a coarse cue that survives LR), or, inside
a fixed outline, its texture spins, streams radially (zoom), shakes or scrolls.

Clips are grouped as in UCF101 (train/test split by group) and written losslessly in the UCF101
layout (:func:`arsr.data.synthetic_files.generate`)::

    root/<Class>/v_<Class>_g<gg>_c<cc>.avi
    root/ucfTrainTestlist/{classInd.txt, trainlist01.txt, testlist01.txt}
    root/unlabelled/clip_<nnnn>.avi      any class's texture with any motion, for SR training
    root/synthetic.json                  config, seed and counts (tells if a dataset matches)
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field, fields

import numpy as np

from ..params import ParamError, check_keys

GENERATOR_VERSION = 2
MANIFEST_NAME = "synthetic.json"
UNLABELLED_DIR = "unlabelled"
SPLITS_DIR = "ucfTrainTestlist"

_MOTIONS = ("translate", "spin", "zoom", "shake", "scroll")
_TEXTURES = ("stripes", "plaid", "hex", "rings", "speckle")
_SPECKLE_WAVES = 12
_BACKGROUND_WAVES = 24


@dataclass(frozen=True)
class ActionClass:
    """One synthetic action: a motion pattern and a texture with sharp or soft crests.

    ``direction`` (degrees, image axes: x right, y down) is where a translate/shake/scroll goes;
    for spin it is +1 clockwise / -1 anticlockwise, for zoom +1 outward / -1 inward.
    ``period`` is the texture's coarse period (HR px), ``orientation`` its wave-vector angle in
    degrees (None: random per clip). ``detail`` scales the texture's second harmonic (period / 2,
    amplitude ``detail * SyntheticConfig.detail_ratio`` of the coarse wave's): 1 for sharp
    crests, 0.25 for soft ones. It is what tells twin classes apart, and what x4 bicubic
    attenuates.
    """

    name: str
    motion: str
    direction: float
    texture: str
    period: float
    orientation: float | None
    detail: float

    @property
    def detail_period(self) -> float:
        """Period (HR px) of the fine detail, present or not."""
        return self.period / 2


SHARP, SOFT = 1.0, 0.25
ACTION_CLASSES = (
    ActionClass("SlideRight", "translate", 0, "stripes", 19.0, 0, SHARP),
    ActionClass("SlideLeft", "translate", 180, "stripes", 19.0, 0, SOFT),
    ActionClass("SlideUp", "translate", -90, "stripes", 19.0, 90, SHARP),
    ActionClass("SlideDown", "translate", 90, "stripes", 19.0, 90, SOFT),
    ActionClass("SpinClockwise", "spin", +1, "hex", 18.0, None, SHARP),
    ActionClass("SpinAnticlockwise", "spin", -1, "hex", 18.0, None, SOFT),
    ActionClass("ZoomIn", "zoom", +1, "rings", 18.0, None, SHARP),
    ActionClass("ZoomOut", "zoom", -1, "rings", 18.0, None, SOFT),
    ActionClass("ShakeSideways", "shake", 0, "speckle", 18.0, None, SHARP),
    ActionClass("ShakeUpDown", "shake", 90, "speckle", 18.0, None, SOFT),
    ActionClass("ScrollDiagonal", "scroll", 45, "plaid", 16.0, 45, SHARP),
    ActionClass("ScrollAntidiagonal", "scroll", 135, "plaid", 16.0, 45, SOFT),
)
CLASS_NAMES = tuple(c.name for c in ACTION_CLASSES)


@dataclass(frozen=True)
class SyntheticConfig:
    """Everything a synthetic dataset depends on (all sizes in HR pixels, speeds per frame)."""

    n_classes: int = 12            # the first n of CLASS_NAMES (1..12)
    clips_per_class: int = 40
    clips_per_group: int = 4       # clips per group (one look in every class); <= clips_per_class // 2
    test_fraction: float = 0.3     # share of groups (the first ones, as in UCF101) held out for test
    n_unlabelled: int = 40         # clips in root/unlabelled (mixed motions/textures) for SR training
    frames_min: int = 24
    frames_max: int = 32
    width: int = 128
    height: int = 96
    seed: int = 0
    fps: float = 25.0
    actor_radius: float = 0.23     # mean actor radius, fraction of the height (+-10% per group)
    texture_amplitude: float = 30.0  # grey levels of a coarse texture wave (x U(0.9, 1) per clip)
    detail_ratio: float = 0.6      # sharp crests' second harmonic / coarse wave, in amplitude
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
        for name in ("texture_amplitude", "detail_ratio", "camera_speed", "background_amplitude",
                     "lighting_drift", "noise_std"):
            if not getattr(self, name) >= 0:
                problems.append(f"{name} = {getattr(self, name)} (0 or more)")
        if self.lighting_drift >= 0.5:
            problems.append(f"lighting_drift = {self.lighting_drift} (below 0.5)")
        if problems:
            raise ParamError("SyntheticConfig: " + "; ".join(problems))

    @classmethod
    def from_dict(cls, values: dict | None) -> "SyntheticConfig":
        """Build from a mapping (e.g. the ``data.synthetic`` group of params.yaml); keys not
        given keep their defaults, unknown keys are an error naming them."""
        values = dict(values or {})
        known = {f.name: f for f in fields(cls)}
        check_keys(values, known, "SyntheticConfig")
        typed = {}
        for key, value in values.items():
            kind = type(getattr(cls, key))
            if isinstance(value, bool) or not isinstance(value, (int, float)) or \
                    (kind is int and not float(value).is_integer()):
                raise ParamError(f"synthetic dataset setting {key} = {value!r}: expected "
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
    detail: float                 # amplitude of each wave's second harmonic / the wave's
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


def group_look(group: int, cfg: SyntheticConfig) -> dict:
    """The look of group ``group`` (0-based), shared by that group's clips in *every* class:
    background (base colour and plane waves), actor colour and radius. It depends on the seed
    and the group only, so no look belongs to one class: the training groups' looks appear in
    every class, and the test groups' looks are unseen looks of every class."""
    return _look(_rng(cfg.seed, 0, group), cfg)


def _look(rng: np.random.Generator, cfg: SyntheticConfig) -> dict:
    """Background, actor colour and size, drawn from ``rng``."""
    k = _BACKGROUND_WAVES
    freq = np.exp(rng.uniform(math.log(1 / 64), math.log(1 / 3.5), k))
    angle = rng.uniform(0, 2 * math.pi, k)
    amp = freq ** -0.75
    amp *= cfg.background_amplitude * math.sqrt(2) / math.sqrt((amp ** 2).sum())
    colour = np.clip(1 + 0.35 * rng.standard_normal((k, 3)), 0.2, 1.8)
    hue = rng.uniform(0, 1)
    # keep the texture (crests up to about 1.6 x 1.15 x 30 grey levels) from clipping
    actor_rgb = np.clip(_hsv_to_rgb(hue, rng.uniform(0.15, 0.5), rng.uniform(90, 150)), 65, 175)
    bg_hue = (hue + rng.uniform(0.25, 0.75)) % 1.0  # background colour unlike the actor's
    bg_base = np.clip(_hsv_to_rgb(bg_hue, rng.uniform(0.1, 0.4), rng.uniform(80, 150)), 50, 180)
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
    periods = period * (rng.uniform(0.95, 1.05, n) if texture == "speckle" else np.ones(n))
    return np.stack([np.array(angles), periods, rng.uniform(0, 2 * math.pi, n)], 1)


def _plan(look: dict, motion: str, direction: float, texture: str, period: float,
          orientation: float | None, detail: float, cfg: SyntheticConfig,
          rng: np.random.Generator) -> _Plan:
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
        detail=cfg.detail_ratio * detail,
        actor_rgb=look["actor_rgb"], tint=1 + 0.15 * rng.uniform(-1, 1, 3),
        tex_amp=cfg.texture_amplitude * rng.uniform(0.9, 1.0), camera=camera,
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
    """Texture values at texture coordinates (qx, qy): each wave is cos(psi) + d cos(2 psi)
    (d = ``plan.detail``), the sum over waves divided by sqrt(n). Without detail the RMS is about
    0.7 and the range about [-1, 1]; the detail adds bright, narrow crests."""
    if plan.texture == "rings":
        _, period, phase = plan.waves[0]
        psi = [2 * np.pi * (np.sqrt(qx * qx + qy * qy) - ring_shift) / period + phase]
    else:
        psi = [(2 * np.pi / period) * (qx * math.cos(angle) + qy * math.sin(angle)) + phase
               for angle, period, phase in plan.waves]
    out = np.zeros_like(qx)
    for p in psi:
        c = np.cos(p)
        out += c
        if plan.detail:
            out += plan.detail * (2 * c * c - 1)  # cos(2 psi): the crests' second harmonic
    return out / math.sqrt(len(psi))


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

    Pure and deterministic: the group's look comes from (seed, group) (:func:`group_look`, the
    same in every class), the clip's motion, texture phases, lighting and noise from
    (seed, class, clip), so any clip renders alone. With ``return_mask`` also returns the actor's
    coverage, (T, H, W) float32 in [0, 1].
    """
    if not 0 <= class_idx < cfg.n_classes:
        raise ValueError(f"class_idx = {class_idx}: this config has classes 0..{cfg.n_classes - 1}")
    if not 0 <= clip_idx < cfg.clips_per_class:
        raise ValueError(f"clip_idx = {clip_idx}: this config has clips 0..{cfg.clips_per_class - 1}")
    spec = ACTION_CLASSES[class_idx]
    look = group_look(clip_idx // cfg.group_size, cfg)
    plan = _plan(look, spec.motion, spec.direction, spec.texture, spec.period, spec.orientation,
                 spec.detail, cfg, _rng(cfg.seed, 1, class_idx, clip_idx))
    return _render(plan, cfg, return_mask)


def render_unlabelled(index: int, cfg: SyntheticConfig = SyntheticConfig(),
                      return_mask: bool = False):
    """Render unlabelled clip ``index``: (T, H, W, 3) uint8 RGB, for training super-resolution
    without labels: the texture of one class (any of the 12, its period jittered by +-5%),
    moving with any class's motion (any direction), in a look of its own. The SR training set
    thus holds the labelled clips' textures, sharp and soft, in about equal shares."""
    if index < 0:
        raise ValueError(f"index = {index}: unlabelled clips are numbered from 0")
    rng = _rng(cfg.seed, 2, index)
    look = _look(rng, cfg)
    motion = _MOTIONS[int(rng.integers(len(_MOTIONS)))]
    direction = rng.uniform(0, 360) if motion in ("translate", "shake", "scroll") else \
        float(rng.choice([-1, 1]))
    spec = ACTION_CLASSES[int(rng.integers(len(ACTION_CLASSES)))]
    plan = _plan(look, motion, direction, spec.texture, spec.period * rng.uniform(0.95, 1.05),
                 spec.orientation, spec.detail, cfg, rng)
    return _render(plan, cfg, return_mask)
