"""Image-quality metrics as super-resolution papers report them: PSNR and SSIM on the BT.601 Y
channel of 8-bit RGB frames, with a border shaved off (MATLAB evaluation scripts of RCAN/EDSR,
VSR-DUF's per-frame video average).

Y is computed in float64 from [0, 1] RGB and not rounded (``rgb2ycbcr(im2double(img))``), on the
0-255 scale. SSIM is Wang et al.'s ``ssim_index``: 11x11 Gaussian window (sigma 1.5), K1 = 0.01,
K2 = 0.03, L = 255, 'valid' filtering, no downsampling.
"""
from __future__ import annotations

import math

import cv2
import numpy as np

__all__ = ["y_channel", "psnr", "ssim", "psnr_y", "ssim_y", "channel_shift", "frame_quality", "video_psnr_y",
           "video_ssim_y"]

_Y_WEIGHTS = np.array([65.481, 128.553, 24.966], dtype=np.float64)


def _check_pair(sr: np.ndarray, hr: np.ndarray, name: str, ndim: int) -> None:
    for label, a in (("sr", sr), ("hr", hr)):
        if not isinstance(a, np.ndarray):
            raise TypeError(f"{name}: `{label}` must be a numpy array, got {type(a).__name__}")
        if a.dtype != np.uint8:
            raise TypeError(f"{name}: `{label}` must be uint8 RGB, got {a.dtype}; round and clip "
                            "float output first (np.clip(np.rint(x * 255), 0, 255).astype(np.uint8))")
        if a.ndim != ndim or a.shape[-1] != 3:
            layout = "(h, w, 3)" if ndim == 3 else "(t, h, w, 3)"
            raise ValueError(f"{name}: `{label}` must be RGB {layout}, got shape {a.shape}")
    if sr.shape != hr.shape:
        raise ValueError(
            f"{name}: `sr` {sr.shape} and `hr` {hr.shape} differ in shape; crop the ground truth "
            "to a multiple of the scale (as the LR was made) before comparing"
        )


def y_channel(img: np.ndarray) -> np.ndarray:
    """BT.601 luma of uint8 RGB on the 0-255 scale, float64, not rounded.

    Parameters
    ----------
    img : np.ndarray ``(..., 3)`` uint8 RGB.

    Returns
    -------
    np.ndarray ``(...)`` float64 in [16, 235].
    """
    # Y = 16 + 65.481 R + 128.553 G + 24.966 B,  R, G, B in [0, 1]
    return 16.0 + (img.astype(np.float64) / 255.0) @ _Y_WEIGHTS


def _shave(a: np.ndarray, shave: int) -> np.ndarray:
    if shave < 0:
        raise ValueError(f"shave must be >= 0, got {shave}")
    if shave == 0:
        return a
    if 2 * shave >= min(a.shape[-2:]):
        raise ValueError(f"shave={shave} leaves nothing of a {a.shape[-2:]} image")
    return a[..., shave:-shave, shave:-shave]


def _check_planes(y1: np.ndarray, y2: np.ndarray, name: str) -> None:
    for label, a in (("y1", y1), ("y2", y2)):
        if not isinstance(a, np.ndarray) or a.ndim != 2:
            raise ValueError(f"{name}: `{label}` must be one channel (h, w) on the 0-255 scale, got "
                             f"{getattr(a, 'shape', type(a).__name__)}; for RGB frames use {name}_y")
    if y1.shape != y2.shape:
        raise ValueError(f"{name}: `y1` {y1.shape} and `y2` {y2.shape} differ in shape")


def psnr(y1: np.ndarray, y2: np.ndarray) -> float:
    """PSNR in dB of two single-channel images on the 0-255 scale (no shaving, no rounding).

    Parameters
    ----------
    y1, y2 : np.ndarray ``(h, w)``, any real dtype (e.g. a Y channel).

    Returns
    -------
    float, ``inf`` for identical images.
    """
    _check_planes(y1, y2, "psnr")
    return _psnr(y1.astype(np.float64), y2.astype(np.float64))


def _psnr(y1: np.ndarray, y2: np.ndarray) -> float:
    mse = float(np.mean((y1 - y2) ** 2))
    # PSNR = 10 log10(255^2 / MSE)
    return math.inf if mse == 0 else 10.0 * math.log10(255.0 ** 2 / mse)


def psnr_y(sr: np.ndarray, hr: np.ndarray, shave: int = 4) -> float:
    """PSNR in dB between the Y channels of two uint8 RGB images.

    Parameters
    ----------
    sr, hr : np.ndarray ``(h, w, 3)`` uint8 RGB.
    shave : int
        Pixels dropped at each border (the scale factor, by convention).

    Returns
    -------
    float, ``inf`` for identical images.
    """
    _check_pair(sr, hr, "psnr_y", 3)
    return _psnr(_shave(y_channel(sr), shave), _shave(y_channel(hr), shave))


def channel_shift(sr: np.ndarray, hr: np.ndarray, shave: int = 4) -> np.ndarray:
    """Mean signed error per RGB channel (grey levels): does an SR method shift the colours?

    sr, hr: ``(h, w, 3)`` uint8 RGB; ``shave`` border pixels dropped. Returns ``(3,)`` float64.
    """
    _check_pair(sr, hr, "channel_shift", 3)
    return _channel_shift(sr, hr, shave)


def _channel_shift(sr: np.ndarray, hr: np.ndarray, shave: int) -> np.ndarray:
    # shift_c = mean_p (SR_c(p) - HR_c(p)) = (sum_p SR_c(p) - sum_p HR_c(p)) / n
    # In integers, exactly: every partial sum of the float64 mean of the differences is an integer
    # below 2^53, so that mean (the formula's float64 evaluation) is this value bit for bit.
    sums_sr, n = _channel_sums(sr, shave)
    sums_hr, _ = _channel_sums(hr, shave)
    return (sums_sr - sums_hr) / n


def _channel_sums(img: np.ndarray, shave: int) -> tuple[np.ndarray, int]:
    """Sum of each channel of ``img (h, w, 3)`` uint8 inside the shave: ``(3,)`` int64 and the pixel count."""
    planes = _shave(img.transpose(2, 0, 1), shave)  # (3, h', w') view, any memory layout
    return np.array([p.sum(dtype=np.int64) for p in planes]), planes.shape[1] * planes.shape[2]


def _gaussian_window(size: int = 11, sigma: float = 1.5) -> np.ndarray:
    g = np.exp(-((np.arange(size) - (size - 1) / 2.0) ** 2) / (2.0 * sigma ** 2))
    w = np.outer(g, g)
    return w / w.sum()


_WINDOW = _gaussian_window()


def _filter_valid(a: np.ndarray) -> np.ndarray:
    """Correlation with the 11x11 window, 'valid' part only (MATLAB ``filter2(w, a, 'valid')``)."""
    r = _WINDOW.shape[0] // 2
    full = cv2.filter2D(a, cv2.CV_64F, _WINDOW, borderType=cv2.BORDER_REFLECT)
    return full[r:-r, r:-r]


def ssim(y1: np.ndarray, y2: np.ndarray) -> float:
    """SSIM of two single-channel images on the 0-255 scale (L = 255, no shaving).

    Parameters
    ----------
    y1, y2 : np.ndarray ``(h, w)``, at least 11x11.

    Returns
    -------
    float, mean of the SSIM map over the 'valid' window positions.
    """
    _check_planes(y1, y2, "ssim")
    return _ssim(y1.astype(np.float64), y2.astype(np.float64))


def _ssim(y1: np.ndarray, y2: np.ndarray) -> float:
    c1, c2 = (0.01 * 255.0) ** 2, (0.03 * 255.0) ** 2
    if min(y1.shape) < _WINDOW.shape[0]:
        raise ValueError(f"ssim: image {y1.shape} is smaller than the 11x11 window after shaving")
    mu1, mu2 = _filter_valid(y1), _filter_valid(y2)
    s11 = _filter_valid(y1 * y1) - mu1 * mu1
    s22 = _filter_valid(y2 * y2) - mu2 * mu2
    s12 = _filter_valid(y1 * y2) - mu1 * mu2
    # SSIM = mean((2 mu1 mu2 + C1)(2 s12 + C2) / ((mu1^2 + mu2^2 + C1)(s11 + s22 + C2)))
    num = (2.0 * mu1 * mu2 + c1) * (2.0 * s12 + c2)
    den = (mu1 * mu1 + mu2 * mu2 + c1) * (s11 + s22 + c2)
    return float(np.mean(num / den))


def ssim_y(sr: np.ndarray, hr: np.ndarray, shave: int = 4) -> float:
    """SSIM between the Y channels of two uint8 RGB images (MATLAB ``ssim_index`` settings).

    Parameters
    ----------
    sr, hr : np.ndarray ``(h, w, 3)`` uint8 RGB.
    shave : int
        Pixels dropped at each border before filtering.

    Returns
    -------
    float in [-1, 1], 1 for identical images.
    """
    _check_pair(sr, hr, "ssim_y", 3)
    return _ssim(_shave(y_channel(sr), shave), _shave(y_channel(hr), shave))


def frame_quality(sr: np.ndarray, hr: np.ndarray, shave: int = 4) -> tuple[float, float, np.ndarray]:
    """PSNR, SSIM and colour shift of one frame, each image converted to Y once: bit for bit the
    values of :func:`psnr_y`, :func:`ssim_y` and :func:`channel_shift` (the evaluator's per-frame call).

    Parameters
    ----------
    sr, hr : np.ndarray ``(h, w, 3)`` uint8 RGB.
    shave : int
        Pixels dropped at each border.

    Returns
    -------
    (psnr dB, ``inf`` for identical images; ssim; shift ``(3,)`` float64, mean SR - HR per RGB channel).
    """
    _check_pair(sr, hr, "frame_quality", 3)
    y_sr, y_hr = _shave(y_channel(sr), shave), _shave(y_channel(hr), shave)
    return _psnr(y_sr, y_hr), _ssim(y_sr, y_hr), _channel_shift(sr, hr, shave)


def _video_mean(metric, sr_frames, hr_frames, shave, temporal_border, name) -> float:
    _check_pair(sr_frames, hr_frames, name, 4)
    t = sr_frames.shape[0]
    if temporal_border < 0 or 2 * temporal_border >= t:
        raise ValueError(
            f"{name}: temporal_border={temporal_border} leaves no frame of a {t}-frame clip"
        )
    frames = range(temporal_border, t - temporal_border)
    return float(np.mean([metric(sr_frames[i], hr_frames[i], shave) for i in frames]))


def video_psnr_y(sr_frames: np.ndarray, hr_frames: np.ndarray, shave: int = 4,
                 temporal_border: int = 0) -> float:
    """Mean over frames of :func:`psnr_y` (VSR-DUF's per-frame average).

    Parameters
    ----------
    sr_frames, hr_frames : np.ndarray ``(t, h, w, 3)`` uint8 RGB.
    shave : int, spatial border.
    temporal_border : int
        Frames skipped at each end of the clip.

    Returns
    -------
    float, dB (``inf`` if any counted frame is identical).
    """
    return _video_mean(psnr_y, sr_frames, hr_frames, shave, temporal_border, "video_psnr_y")


def video_ssim_y(sr_frames: np.ndarray, hr_frames: np.ndarray, shave: int = 4,
                 temporal_border: int = 0) -> float:
    """Mean over frames of :func:`ssim_y`.

    Parameters
    ----------
    sr_frames, hr_frames : np.ndarray ``(t, h, w, 3)`` uint8 RGB.
    shave : int, spatial border.
    temporal_border : int
        Frames skipped at each end of the clip.
    """
    return _video_mean(ssim_y, sr_frames, hr_frames, shave, temporal_border, "video_ssim_y")
