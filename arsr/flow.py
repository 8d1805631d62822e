"""Dense optical flow between video frames (OpenCV), its 8-bit storage and its visualisation.

Convention, shared with :func:`arsr.ops.warp`: ``flow = compute_flow(prev, next)`` satisfies
``prev(p) ~ next(p + flow(p))``, channel 0 = x (horizontal), 1 = y (vertical), in pixels, so
``warp(next, flow)`` reproduces ``prev``.

Methods:

* ``"tvl1"``: Dual TV-L1 (Zach et al. 2007) with OpenCV's default parameters, the flow TSN's
  ``dense_flow`` tool extracted (on grey frames) and the paper's choice for the temporal stream and
  the ToSR loss. Accurate but slow on CPU (about a second per 320x240 frame pair).
* ``"tvl1_torch"``: the same algorithm, defaults and options in PyTorch
  (:func:`arsr.ops.tvl1.tvl1_flow`), batched over frame pairs and run on any device (option
  ``device``, default ``"cpu"``); within a few hundredths of a pixel of ``"tvl1"``.
* ``"dis"``: Dense Inverse Search (Kroeger et al. 2016), preset ``"medium"`` by default; fast.
* ``"farneback"``: polynomial expansion (Farneback 2003) with the standard parameters of OpenCV's
  tutorial; a coarse baseline.

The OpenCV objects are built once per process and thread and reused; they cannot be pickled, so
worker processes each build their own (nothing OpenCV-made crosses a process boundary).
"""
from __future__ import annotations

import os
import threading
from typing import Any

import cv2
import numpy as np

from .params import check_keys

__all__ = [
    "METHODS",
    "compute_flow",
    "compute_flows",
    "quantize",
    "dequantize",
    "flow_magnitude",
    "flow_to_rgb",
]

METHODS = ("tvl1", "tvl1_torch", "dis", "farneback")
#: Frame pairs per ``tvl1_torch`` batch in :func:`compute_flows` (peak ~40 MB per 320x240 pair).
TVL1_TORCH_BATCH = 32

# snake_case option -> setter of cv2.optflow.DualTVL1OpticalFlow
_TVL1_SETTERS = {
    "tau": "setTau",
    "lambda_": "setLambda",
    "theta": "setTheta",
    "nscales": "setScalesNumber",
    "warps": "setWarpingsNumber",
    "epsilon": "setEpsilon",
    "inner_iterations": "setInnerIterations",
    "outer_iterations": "setOuterIterations",
    "scale_step": "setScaleStep",
    "gamma": "setGamma",
    "median_filtering": "setMedianFiltering",
}
# snake_case option -> setter of cv2.DISOpticalFlow (applied after the preset)
_DIS_SETTERS = {
    "finest_scale": "setFinestScale",
    "patch_size": "setPatchSize",
    "patch_stride": "setPatchStride",
    "gradient_descent_iterations": "setGradientDescentIterations",
    "variational_refinement_iterations": "setVariationalRefinementIterations",
    "variational_refinement_alpha": "setVariationalRefinementAlpha",
    "variational_refinement_delta": "setVariationalRefinementDelta",
    "variational_refinement_gamma": "setVariationalRefinementGamma",
    "use_mean_normalization": "setUseMeanNormalization",
    "use_spatial_propagation": "setUseSpatialPropagation",
}
_DIS_PRESETS = {
    "ultrafast": cv2.DISOpticalFlow_PRESET_ULTRAFAST,
    "fast": cv2.DISOpticalFlow_PRESET_FAST,
    "medium": cv2.DISOpticalFlow_PRESET_MEDIUM,
}
# cv2.calcOpticalFlowFarneback arguments, OpenCV tutorial values
_FARNEBACK_DEFAULTS = {
    "pyr_scale": 0.5,
    "levels": 3,
    "winsize": 15,
    "iterations": 3,
    "poly_n": 5,
    "poly_sigma": 1.2,
    "flags": 0,
}

_TVL1_TORCH_OPTIONS = (*_TVL1_SETTERS, "device")

_local = threading.local()


def _check_options(method: str, options: dict, allowed) -> None:
    check_keys(options, sorted(allowed), f"compute_flow(method={method!r})", what="option")


def _estimator(method: str, options: dict[str, Any]):
    """The OpenCV flow object for ``method`` and ``options``, cached per process and thread."""
    cache = getattr(_local, "cache", None)
    if cache is None or getattr(_local, "pid", None) != os.getpid():
        cache = _local.cache = {}
        _local.pid = os.getpid()
    key = (method, tuple(sorted(options.items())))
    entry = cache.get(key)
    if entry is not None:
        obj, finest = entry
        if method == "dis":
            # like TV-L1's scales below, DIS lowers its stored finest scale for good after one
            # small image (medium: 1 -> 0 after a 32x32 pair), which changed every later flow of
            # this cached object by up to 0.4 px: restore it before every call
            obj.setFinestScale(finest)
        return obj
    if method == "tvl1":
        obj = cv2.optflow.DualTVL1OpticalFlow_create()
        for name, value in options.items():
            getattr(obj, _TVL1_SETTERS[name])(value)
    elif method == "dis":
        opts = dict(options)
        preset = opts.pop("preset", "medium")
        if isinstance(preset, str):
            if preset.lower() not in _DIS_PRESETS:
                raise ValueError(
                    f"compute_flow: DIS preset {preset!r} unknown; use one of {sorted(_DIS_PRESETS)}"
                )
            preset = _DIS_PRESETS[preset.lower()]
        obj = cv2.DISOpticalFlow_create(int(preset))
        for name, value in opts.items():
            getattr(obj, _DIS_SETTERS[name])(value)
    else:  # pragma: no cover - guarded by compute_flow
        raise AssertionError(method)
    cache[key] = (obj, obj.getFinestScale() if method == "dis" else None)
    return obj


def _to_gray(frame: np.ndarray, name: str) -> np.ndarray:
    if not isinstance(frame, np.ndarray):
        raise TypeError(f"compute_flow: `{name}` must be a numpy array, got {type(frame).__name__}")
    if frame.dtype != np.uint8:
        raise TypeError(
            f"compute_flow: `{name}` must be uint8 (0-255), got {frame.dtype}; "
            "convert float [0, 1] frames with np.clip(np.rint(x * 255), 0, 255).astype(np.uint8)"
        )
    if frame.ndim == 3 and frame.shape[2] == 3:
        return cv2.cvtColor(np.ascontiguousarray(frame), cv2.COLOR_RGB2GRAY)
    if frame.ndim == 2:
        return np.ascontiguousarray(frame)
    raise ValueError(f"compute_flow: `{name}` must be RGB (h, w, 3) or grey (h, w), got shape {frame.shape}")


def compute_flow(prev: np.ndarray, next: np.ndarray, method: str = "dis",
                 **options: Any) -> np.ndarray:
    """Dense optical flow from ``prev`` to ``next``: ``prev(p) ~ next(p + flow(p))``.

    Parameters
    ----------
    prev, next : np.ndarray
        uint8 frames, RGB ``(h, w, 3)`` or grey ``(h, w)``, the same shape. RGB is converted to
        grey (BT.601 luma, as TSN's ``dense_flow`` did) before the flow is computed.
    method : {"tvl1", "tvl1_torch", "dis", "farneback"}
    **options
        ``tvl1``: tau, lambda_, theta, nscales, warps, epsilon, inner_iterations,
        outer_iterations, scale_step, gamma, median_filtering (OpenCV defaults otherwise).
        ``tvl1_torch``: the same, and device (a torch device, default "cpu").
        ``dis``: preset ("ultrafast", "fast", "medium"; default "medium"), finest_scale,
        patch_size, patch_stride, gradient_descent_iterations, variational_refinement_*,
        use_mean_normalization, use_spatial_propagation.
        ``farneback``: pyr_scale, levels, winsize, iterations, poly_n, poly_sigma, flags.

    Returns
    -------
    np.ndarray ``(h, w, 2)`` float32, pixels; channel 0 = x, 1 = y.
    """
    if method not in METHODS:
        raise ValueError(f"compute_flow: unknown method {method!r}; use one of {METHODS}")
    a = _to_gray(prev, "prev")
    b = _to_gray(next, "next")
    if a.shape != b.shape:
        raise ValueError(
            f"compute_flow: `prev` {prev.shape} and `next` {next.shape} differ in size; "
            "flow needs two frames of the same size"
        )
    if method == "tvl1_torch":
        return _tvl1_torch(a[None], b[None], options)[0]
    if method == "farneback":
        _check_options(method, options, _FARNEBACK_DEFAULTS)
        p = {**_FARNEBACK_DEFAULTS, **options}
        flow = cv2.calcOpticalFlowFarneback(
            a, b, None, p["pyr_scale"], int(p["levels"]), int(p["winsize"]),
            int(p["iterations"]), int(p["poly_n"]), p["poly_sigma"], int(p["flags"]),
        )
    else:
        allowed = _TVL1_SETTERS if method == "tvl1" else {**_DIS_SETTERS, "preset": None}
        _check_options(method, options, allowed)
        estimator = _estimator(method, options)
        if method == "tvl1":
            # OpenCV's TV-L1 lowers its stored number of scales for good after one small image
            # (a 24x24 pair turns 5 into 2): set it before every call, or one small frame would
            # change every later flow of this cached object
            estimator.setScalesNumber(int(options.get("nscales", 5)))
        flow = estimator.calc(a, b, None)
    return np.asarray(flow, dtype=np.float32)


FLOW_DEVICES = ("auto", "cpu", "cuda")


def resolve_flow_device(device: str) -> str:
    """``prepare.flow_device`` -> a torch device name: "auto" is "cuda" when a GPU is visible,
    else "cpu". Only ``tvl1_torch`` reads it (the OpenCV methods run on the CPU)."""
    if device not in FLOW_DEVICES:
        raise ValueError(f"flow device {device!r}: use one of {', '.join(FLOW_DEVICES)}")
    if device != "auto":
        return device
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


def flow_options(method: str, device: str = "cpu") -> dict[str, Any]:
    """The :func:`compute_flow` options a study stage passes: ``{"device": ...}`` for
    ``tvl1_torch`` (``device`` resolved by :func:`resolve_flow_device`), none for the others."""
    return {"device": resolve_flow_device(device)} if method == "tvl1_torch" else {}


def _tvl1_torch(prev: np.ndarray, next: np.ndarray, options: dict[str, Any]) -> np.ndarray:
    """:func:`arsr.ops.tvl1.tvl1_flow` on grey uint8 ``(n, h, w)`` batches -> ``(n, h, w, 2)`` float32."""
    _check_options("tvl1_torch", options, _TVL1_TORCH_OPTIONS)
    import torch

    from .ops.tvl1 import tvl1_flow

    opts = dict(options)
    device = torch.device(opts.pop("device", "cpu"))
    to_tensor = lambda a: torch.from_numpy(np.ascontiguousarray(a)).to(device, torch.float32)  # noqa: E731
    with torch.no_grad():
        flow = tvl1_flow(to_tensor(prev), to_tensor(next), **opts)
    return flow.permute(0, 2, 3, 1).contiguous().cpu().numpy()


def compute_flows(frames: np.ndarray, method: str = "dis", **options: Any) -> np.ndarray:
    """Flows between consecutive frames of a clip.

    Parameters
    ----------
    frames : np.ndarray ``(t, h, w, 3)`` or ``(t, h, w)`` uint8, t >= 2.
    method, **options : as :func:`compute_flow`.

    Returns
    -------
    np.ndarray ``(t - 1, h, w, 2)`` float32; entry i is ``compute_flow(frames[i], frames[i + 1])``.
    ``"tvl1_torch"`` runs the pairs in batches of ``TVL1_TORCH_BATCH`` (about 40 MB per 320x240
    pair at the peak), so a long video does not need its whole length in memory at once.
    """
    frames = np.asarray(frames)
    if frames.ndim not in (3, 4) or frames.shape[0] < 2:
        raise ValueError(
            f"compute_flows: `frames` must be a clip (t, h, w, 3) or (t, h, w) with t >= 2, "
            f"got shape {frames.shape}"
        )
    if method == "tvl1_torch":
        grey = np.stack([_to_gray(frame, f"frames[{i}]") for i, frame in enumerate(frames)])
        prev, nxt = grey[:-1], grey[1:]
        return np.concatenate([_tvl1_torch(prev[i:i + TVL1_TORCH_BATCH], nxt[i:i + TVL1_TORCH_BATCH], options)
                               for i in range(0, len(prev), TVL1_TORCH_BATCH)])
    h, w = frames.shape[1:3]
    out = np.empty((frames.shape[0] - 1, h, w, 2), dtype=np.float32)
    for i in range(frames.shape[0] - 1):
        out[i] = compute_flow(frames[i], frames[i + 1], method, **options)
    return out


def quantize(flow: np.ndarray, bound: float = 20.0) -> np.ndarray:
    """Flow in pixels to uint8 as TSN's ``dense_flow`` stores it (one JPEG per component).

    Parameters
    ----------
    flow : np.ndarray, any shape (e.g. ``(h, w, 2)``), pixels.
    bound : float
        Values beyond +-bound saturate.

    Returns
    -------
    np.ndarray uint8, same shape.
    """
    if bound <= 0:
        raise ValueError(f"quantize: `bound` must be positive, got {bound}")
    f = np.asarray(flow, dtype=np.float64)
    # q = round(255 (f + bound) / (2 bound)), clipped to [0, 255]
    return np.clip(np.rint(255.0 * (f + bound) / (2.0 * bound)), 0, 255).astype(np.uint8)


def dequantize(q: np.ndarray, bound: float = 20.0) -> np.ndarray:
    """Inverse of :func:`quantize`: uint8 back to pixels, float32, error <= bound / 255.

    Parameters
    ----------
    q : np.ndarray uint8, any shape.
    bound : float, the bound used to quantize.
    """
    q = np.asarray(q)
    if q.dtype != np.uint8:
        raise TypeError(f"dequantize: `q` must be uint8 (from quantize), got {q.dtype}")
    # f = q 2 bound / 255 - bound
    return (q.astype(np.float32) * np.float32(2.0 * bound / 255.0) - np.float32(bound)).astype(np.float32)


def _check_flow(flow: np.ndarray, name: str) -> np.ndarray:
    flow = np.asarray(flow)
    if flow.ndim < 1 or flow.shape[-1] != 2:
        raise ValueError(f"{name}: `flow` must be (..., h, w, 2) with channel 0 = x, got {flow.shape}")
    return flow


def flow_magnitude(flow: np.ndarray) -> np.ndarray:
    """Euclidean length of the flow vectors.

    Parameters
    ----------
    flow : np.ndarray ``(..., h, w, 2)``.

    Returns
    -------
    np.ndarray ``(..., h, w)`` float32.
    """
    flow = _check_flow(flow, "flow_magnitude").astype(np.float32, copy=False)
    # |F| = sqrt(u^2 + v^2)
    return np.sqrt(flow[..., 0] ** 2 + flow[..., 1] ** 2)


def flow_to_rgb(flow: np.ndarray, max_mag: float | None = None) -> np.ndarray:
    """Colour-code a flow field: hue = direction, brightness = magnitude (for figures).

    Parameters
    ----------
    flow : np.ndarray ``(h, w, 2)``.
    max_mag : float, optional
        Magnitude shown at full brightness; defaults to the field's maximum (per image).

    Returns
    -------
    np.ndarray ``(h, w, 3)`` uint8 RGB; black where there is no motion.
    """
    flow = _check_flow(flow, "flow_to_rgb")
    if flow.ndim != 3:
        raise ValueError(f"flow_to_rgb: `flow` must be one field (h, w, 2), got {flow.shape}")
    flow = flow.astype(np.float32, copy=False)
    mag, ang = cv2.cartToPolar(np.ascontiguousarray(flow[..., 0]),
                               np.ascontiguousarray(flow[..., 1]), angleInDegrees=True)
    if max_mag is None:
        max_mag = float(mag.max())
    scale = 255.0 / max_mag if max_mag > 0 else 0.0
    hsv = np.empty(flow.shape[:2] + (3,), dtype=np.uint8)
    hsv[..., 0] = np.rint(ang / 2.0).astype(np.int32) % 180  # OpenCV hue is 0..179
    hsv[..., 1] = 255
    hsv[..., 2] = np.clip(np.rint(mag * scale), 0, 255).astype(np.uint8)
    return cv2.cvtColor(hsv, cv2.COLOR_HSV2RGB)
