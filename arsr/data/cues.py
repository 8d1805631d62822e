"""How much of the synthetic classes' spatial cue survives x4 bicubic, and how much a linear x4
super-resolution can restore.

The cue that tells a detailed class from its plain twin (:mod:`arsr.data.synthetic`) is texture
detail in the *detail band*, periods of about 6-13 HR pixels: above the LR Nyquist period (8 HR
px along an axis) but where MATLAB bicubic x1/4 then x4 (the study's LR and its bicubic baseline,
:func:`arsr.ops.imresize`) keeps only part of the contrast. This module measures, on the actor's
interior (``render_clip(..., return_mask=True)``):

* the detail-band contrast (RMS grey levels of the band-passed luma) of HR, bicubic and restored
  frames (:func:`band_contrast`), and the share of the HR band signal a reconstruction keeps
  (:func:`kept_share`: the regression slope of its band-passed luma on HR's, so amplified noise
  or artefacts do not count as recovered detail);
* a closed-form linear x4 SR (:func:`fit_linear_sr`): 16 polyphase filters on a k x k LR luma
  neighbourhood, fitted by least squares (normal equations) on training clips. What it recovers
  is a lower bound on what a learned SR can: the information is in the LR frames.

:func:`cue_table` does both per class on a few clips; :func:`cue_figure` draws it and
:func:`cue_metrics` turns it into JSON-ready metrics.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from ..ops import imresize

DETAIL_BAND = (6.0, 12.0)  # HR periods (px) of the detail band, at texture_scale 1
_TAPER = 1.15              # the band's edges fall off smoothly over this factor of period
_LUMA = np.array([0.299, 0.587, 0.114])  # ITU-R BT.601


def luma(frames: np.ndarray) -> np.ndarray:
    """BT.601 luma of RGB frames: ``(..., H, W, 3)`` -> ``(..., H, W)`` float64."""
    return np.asarray(frames, dtype=np.float64) @ _LUMA


def band_pass(images: np.ndarray, periods: tuple[float, float] = DETAIL_BAND) -> np.ndarray:
    """Keep the spatial periods between ``periods`` (HR px, any orientation) of each image.

    ``images``: ``(..., H, W)`` float. Returns the same shape, float64. A radial FFT filter, one
    inside the band and zero outside, with raised-cosine edges over a factor ``_TAPER`` of period
    (smooth, so an edge's ringing stays within a few pixels of it).
    """
    lo, hi = periods
    if not 0 < lo < hi:
        raise ValueError(f"band_pass: periods = {periods}: expected (shortest, longest) > 0")
    h, w = images.shape[-2:]
    f = np.hypot(*np.meshgrid(np.fft.fftfreq(h), np.fft.rfftfreq(w), indexing="ij"))
    with np.errstate(divide="ignore"):
        log_period = -np.log(f)  # log of the period; +inf at DC

    def rise(x):  # 0 below -1, 1 above +1, raised cosine between
        return 0.5 - 0.5 * np.cos(np.pi * np.clip((x + 1) / 2, 0, 1))

    half = math.log(_TAPER) / 2
    gain = rise((log_period - math.log(lo)) / half) * rise((math.log(hi) - log_period) / half)
    spectrum = np.fft.rfft2(np.asarray(images, dtype=np.float64)) * gain
    return np.fft.irfft2(spectrum, s=(h, w))


def interior(mask: np.ndarray, margin: int = 6) -> np.ndarray:
    """Pixels well inside the actor: ``(..., H, W)`` coverage in [0, 1] -> bool, at least
    ``margin`` px from its edge and from the frame's border (where band-passing rings)."""
    import cv2

    full = np.asarray(mask) > 0.999
    size = 2 * margin + 1
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (size, size))
    flat = full.reshape(-1, *full.shape[-2:]).astype(np.uint8)
    inner = np.stack([cv2.erode(m, kernel, borderType=cv2.BORDER_CONSTANT, borderValue=0)
                      for m in flat]).astype(bool)
    inner[:, :margin] = inner[:, -margin:] = False
    inner[:, :, :margin] = inner[:, :, -margin:] = False
    return inner.reshape(full.shape)


def band_contrast(images: np.ndarray, region: np.ndarray,
                  periods: tuple[float, float] = DETAIL_BAND) -> float:
    """RMS (grey levels) of the band-passed ``images`` ``(..., H, W)`` luma over ``region``
    (bool, same shape); NaN for an empty region."""
    if not region.any():
        return math.nan
    return float(np.sqrt(np.mean(band_pass(images, periods)[region] ** 2)))


def kept_share(reference: np.ndarray, other: np.ndarray, region: np.ndarray,
               periods: tuple[float, float] = DETAIL_BAND) -> float:
    """Share of the reference's band signal that ``other`` reproduces over ``region``.

    ``reference``, ``other``: ``(..., H, W)`` luma; ``region``: bool, same shape.
    share = <B(other), B(ref)> / <B(ref), B(ref)> (B: :func:`band_pass`): 1 for a perfect
    reconstruction, the amplitude transfer for a linear blur of a single band, and noise or
    artefacts uncorrelated with the reference do not raise it.
    """
    ref = band_pass(reference, periods)[region]
    out = band_pass(other, periods)[region]
    energy = np.dot(ref, ref)
    return float(np.dot(out, ref) / energy) if energy > 0 else math.nan


def bicubic_lr(frames: np.ndarray, scale: int = 4) -> np.ndarray:
    """The study's LR frames: MATLAB bicubic x1/scale per frame of uint8 ``(T, H, W, 3)``
    -> uint8 ``(T, H/scale, W/scale, 3)``."""
    return np.stack([imresize(f, 1 / scale) for f in frames])


def bicubic_up(lr: np.ndarray, scale: int = 4) -> np.ndarray:
    """The bicubic baseline: MATLAB bicubic xscale per frame of uint8 ``(T, h, w, 3)``
    -> uint8 ``(T, h*scale, w*scale, 3)``."""
    return np.stack([imresize(f, scale) for f in lr])


def bicubic_transfer(period: float, angle: float = 0.0, scale: int = 4,
                     size: tuple[int, int] = (96, 128)) -> float:
    """Amplitude a plane wave keeps through MATLAB bicubic x1/scale then xscale.

    ``period`` in HR px, ``angle`` of its wave vector in degrees (0: along x). Measured on a
    float image of ``size`` (h, w) away from the borders, averaged over four phases: about 0.02
    at period 6 (above the LR Nyquist rate: destroyed and aliased), 0.31 at 8, 0.45 at 9.5,
    0.89 at 16 along an axis; diagonal waves keep more at the same period.
    """
    h, w = size
    y, x = np.mgrid[0:h, 0:w].astype(np.float64)
    a = math.radians(angle)
    arg = 2 * np.pi / period * (x * math.cos(a) + y * math.sin(a))
    inner = (slice(3 * scale, h - 3 * scale), slice(3 * scale, w - 3 * scale))
    basis = np.stack([np.cos(arg[inner]).ravel(), np.sin(arg[inner]).ravel(),
                      np.ones(arg[inner].size)], 1)
    kept = []
    for phase in np.arange(4) * np.pi / 2:
        out = imresize(imresize(np.cos(arg + phase), 1 / scale), scale)
        coef = np.linalg.lstsq(basis, out[inner].ravel(), rcond=None)[0]
        kept.append(math.hypot(coef[0], coef[1]))
    return float(np.mean(kept))


# --------------------------------------------------------------------------------------------
# A closed-form linear x4 super-resolution

@dataclass(frozen=True)
class LinearSR:
    """Linear xscale SR of luma: HR block (i, j) = ``weights.T @ [LR k x k window at (i, j), 1]``.

    ``weights``: ``(k * k + 1, scale * scale)`` float64, one column per polyphase output (HR
    pixel ``(scale i + a, scale j + b)`` is column ``a * scale + b``).
    """

    weights: np.ndarray
    k: int
    scale: int = 4

    def __call__(self, lr_luma: np.ndarray) -> np.ndarray:
        """``(..., h, w)`` LR luma -> ``(..., scale h, scale w)`` float64 HR luma."""
        lead, (h, w) = lr_luma.shape[:-2], lr_luma.shape[-2:]
        s = self.scale
        blocks = _windows(lr_luma, self.k) @ self.weights                 # (..., h, w, s*s)
        blocks = blocks.reshape(*lead, h, w, s, s)
        return np.moveaxis(blocks, -2, -3).reshape(*lead, h * s, w * s)


def _windows(lr_luma: np.ndarray, k: int) -> np.ndarray:
    """``(..., h, w)`` -> ``(..., h, w, k*k + 1)``: each pixel's k x k neighbourhood (edge-padded)
    and a constant 1."""
    r = k // 2
    pad = [(0, 0)] * (lr_luma.ndim - 2) + [(r, r), (r, r)]
    padded = np.pad(np.asarray(lr_luma, dtype=np.float64), pad, mode="edge")
    win = sliding_window_view(padded, (k, k), axis=(-2, -1))
    win = win.reshape(*win.shape[:-2], k * k)
    return np.concatenate([win, np.ones((*win.shape[:-1], 1))], -1)


def _blocks(hr_luma: np.ndarray, scale: int) -> np.ndarray:
    """``(..., H, W)`` -> ``(..., H/scale, W/scale, scale*scale)``: the HR pixels each LR pixel
    covers (MATLAB's x1/scale centres LR pixel i on HR pixels scale*i .. scale*i + scale-1)."""
    lead, (h, w) = hr_luma.shape[:-2], hr_luma.shape[-2:]
    b = hr_luma.reshape(*lead, h // scale, scale, w // scale, scale)
    return np.moveaxis(b, -3, -2).reshape(*lead, h // scale, w // scale, scale * scale)


def fit_linear_sr(hr_frames: list[np.ndarray], k: int = 9, scale: int = 4,
                  ridge: float = 1e-7) -> LinearSR:
    """Least-squares linear xscale SR from HR clips.

    ``hr_frames``: uint8 RGB clips ``(T, H, W, 3)`` (H, W multiples of ``scale``). Each clip's
    LR is :func:`bicubic_lr` (uint8, as the study stores it); the filters map LR luma windows to
    HR luma blocks, solving the normal equations ``(A^T A + ridge * tr/n I) W = A^T B``.
    ``k`` odd: the LR neighbourhood's size.
    """
    if k < 1 or k % 2 == 0:
        raise ValueError(f"fit_linear_sr: k = {k}: expected an odd size >= 1")
    n = k * k + 1
    ata, atb = np.zeros((n, n)), np.zeros((n, scale * scale))
    for clip in hr_frames:
        a = _windows(luma(bicubic_lr(clip, scale)), k).reshape(-1, n)
        b = _blocks(luma(clip), scale).reshape(-1, scale * scale)
        ata += a.T @ a
        atb += a.T @ b
    if not ata.any():
        raise ValueError("fit_linear_sr: no training frames")
    ata += ridge * np.trace(ata) / n * np.eye(n)
    return LinearSR(np.linalg.solve(ata, atb), k, scale)


# --------------------------------------------------------------------------------------------
# Per class, on the synthetic dataset

def cue_table(cfg=None, clips_per_class: int = 2, frames_per_clip: int = 4, k: int = 9,
              margin: int = 6):
    """Per class: detail-band contrast of HR, bicubic and linear-SR frames, and the shares of
    HR's band signal bicubic keeps and the linear SR recovers.

    The linear SR is fitted on the first ``clips_per_class`` training clips of every class and
    measured on the first ``clips_per_class`` test clips (``frames_per_clip`` frames of each,
    spread over the clip), so it restores unseen looks. ``cfg``: a
    :class:`~arsr.data.synthetic.SyntheticConfig` (None: the default). The band is
    :data:`DETAIL_BAND` times ``cfg.texture_scale``.

    Returns a DataFrame indexed by class name with columns detail (bool), coarse_period,
    detail_period, contrast_hr, contrast_bicubic, contrast_linear_sr (RMS grey levels),
    kept_bicubic, kept_linear_sr (shares of HR's band signal).
    """
    import pandas as pd

    from .synthetic import ACTION_CLASSES, SyntheticConfig, layout, render_clip

    cfg = cfg or SyntheticConfig()
    band = tuple(p * cfg.texture_scale for p in DETAIL_BAND)
    entries = layout(cfg)

    def picks(split):
        out = {}
        for e in entries:
            if e.split == split and len(out.setdefault(e.class_idx, [])) < clips_per_class:
                out[e.class_idx].append(e.clip_idx)
        return out

    def frames_of(class_idx, clip_idx):
        frames, mask = render_clip(class_idx, clip_idx, cfg, return_mask=True)
        count = min(frames_per_clip, len(frames))
        keep = np.linspace(0, len(frames) - 1, count).round().astype(int)
        return frames[keep], mask[keep]

    train = [frames_of(c, i)[0] for c, clips in picks("train").items() for i in clips]
    sr = fit_linear_sr(train, k=k)
    rows = []
    for class_idx, clips in picks("test").items():
        hr, mask = map(np.concatenate, zip(*(frames_of(class_idx, i) for i in clips)))
        lr = bicubic_lr(hr)
        hr_y, bic_y, sr_y = luma(hr), luma(bicubic_up(lr)), sr(luma(lr))
        region = interior(mask, margin)
        spec = ACTION_CLASSES[class_idx]
        rows.append({
            "class": spec.name, "detail": spec.detail,
            "coarse_period": spec.period * cfg.texture_scale,
            "detail_period": spec.detail_period * cfg.texture_scale,
            "contrast_hr": band_contrast(hr_y, region, band),
            "contrast_bicubic": band_contrast(bic_y, region, band),
            "contrast_linear_sr": band_contrast(sr_y, region, band),
            "kept_bicubic": kept_share(hr_y, bic_y, region, band),
            "kept_linear_sr": kept_share(hr_y, sr_y, region, band),
        })
    return pd.DataFrame(rows).set_index("class")


def cue_metrics(table, digits: int = 4) -> dict:
    """:func:`cue_table`'s DataFrame as JSON-ready metrics: ``{class: {column: value}}``, floats
    rounded, NaN (no actor interior in a tiny frame) as None."""
    return {name: {col: (None if isinstance(v, float) and math.isnan(v) else
                         round(float(v), digits) if isinstance(v, (float, np.floating)) else v)
                   for col, v in row.items()}
            for name, row in table.to_dict(orient="index").items()}


def cue_figure(table):
    """Bars per class: HR, bicubic and linear-SR detail-band contrast (:func:`cue_table`'s
    DataFrame), soft classes hatched. Returns a matplotlib Figure."""
    import matplotlib.pyplot as plt

    columns = [("contrast_hr", "HR"), ("contrast_bicubic", "bicubic x4"),
               ("contrast_linear_sr", "linear x4 SR")]
    x = np.arange(len(table))
    width = 0.8 / len(columns)
    fig, ax = plt.subplots(figsize=(max(6.0, 0.7 * len(table)), 3.4))
    for i, (col, label) in enumerate(columns):
        bars = ax.bar(x + (i - 1) * width, table[col], width, label=label)
        for bar, detail in zip(bars, table["detail"]):
            if detail < 1:
                bar.set_hatch("//")
                bar.set_alpha(0.6)
    ax.set_xticks(x, table.index, rotation=45, ha="right")
    ax.set_ylabel("detail-band contrast (RMS grey levels)")
    ax.set_title("Fine detail inside the actor (hatched: soft twins)")
    ax.legend(frameon=False)
    fig.tight_layout()
    return fig
