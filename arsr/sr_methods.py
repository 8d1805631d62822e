"""Super-resolution "methods" for the evaluation: LR video frames in, SR frames out, only where asked.

A method answers ``method.frames(video, indices)``: the ``(n, H, W, 3)`` uint8 SR frames at the
given frame numbers of a prepared video (``arsr.data.store.PreparedVideo``). Learned and bicubic
methods read the video's LR frames and do the work in ``method.sr(lr, indices)``; the ``hr``
reference returns the HR frames themselves, so the upper bound goes through the evaluator's code
path unchanged. Models run under ``torch.inference_mode`` on CUDA when available, else on the CPU
threads, in float32; output is clipped to [0, 1] and rounded to 8 bits as the authors save frames.
Frames go through a model in batches of about ``PIXEL_BUDGET`` output pixels (``batch_size="auto"``;
measured on 2 CPU cores: VDSR 2x and RCAN 2.7x faster than 8 frames at a time on 96x128 output),
with the 2-D conv weights in channels-last memory order (a further 1.3-1.5x on the CPU).

    method = method_from_arch("rrdbnet", "data/models/sosr/model.pt", name="SoSR")
    method = method_from_arch("duf", "data/models/tosr/model.pt", name="ToSR", num_layer=16)
    bicubic_method(4), hr_method()
"""
from __future__ import annotations

import os
from typing import Sequence

import numpy as np
import torch
from torch import nn

from .archs import build_arch, is_video_arch, load_weights
from .ops.layout import channels_last_convs
from .ops.modules import default_device, module_fingerprint  # noqa: F401 (defined there; importable here too)

__all__ = ["SRMethod", "ImageMethod", "VideoMethod", "HRMethod", "bicubic_method", "hr_method",
           "method_from_arch", "method_from_model", "default_device", "module_fingerprint"]


#: output pixels per model call when ``batch_size="auto"``: 32 frames of 128x96, 5 of 320x240
PIXEL_BUDGET = 32 * 128 * 96


def auto_batch(batch_size: int | str | None, out_pixels: int) -> int:
    """Frames per model call: ``batch_size`` when an int, else as many frames of ``out_pixels``
    output pixels as fit ``PIXEL_BUDGET`` (at least 1)."""
    if batch_size is None or batch_size == "auto":
        return max(1, PIXEL_BUDGET // max(1, int(out_pixels)))
    return int(batch_size)


def _check_batch(batch_size, who: str) -> None:
    if not (batch_size is None or batch_size == "auto" or (isinstance(batch_size, int) and batch_size >= 1)):
        raise ValueError(f"{who}: batch_size must be 'auto' or an int >= 1, got {batch_size!r}")


def _check_lr(lr: np.ndarray, indices: Sequence[int], who: str) -> np.ndarray:
    if lr.ndim != 4 or lr.shape[-1] != 3 or lr.dtype != np.uint8:
        raise ValueError(f"{who}: LR clip must be (T, h, w, 3) uint8 RGB, got {lr.shape} {lr.dtype}")
    idx = np.asarray(indices, dtype=np.int64).reshape(-1)
    if idx.size and (idx.min() < 0 or idx.max() >= lr.shape[0]):
        raise IndexError(f"{who}: frame indices {idx.min()}..{idx.max()} outside a {lr.shape[0]}-frame clip")
    return idx


def _to_tensor(frames: np.ndarray, device: torch.device) -> torch.Tensor:
    """``(..., h, w, 3)`` uint8 -> ``(..., 3, h, w)`` float in [0, 1] on ``device``."""
    x = torch.from_numpy(np.ascontiguousarray(frames)).to(device)
    return x.movedim(-1, -3).float().div_(255.0)


def _to_uint8(x: torch.Tensor) -> np.ndarray:
    """``(n, 3, H, W)`` float in [0, 1] -> ``(n, H, W, 3)`` uint8, clipped and rounded."""
    return x.clamp_(0.0, 1.0).mul_(255.0).round_().to(torch.uint8).permute(0, 2, 3, 1).cpu().numpy()


class SRMethod:
    """Base class: ``frames(video, indices)`` -> ``(len(indices), H, W, 3)`` uint8.

    Subclasses implement ``sr(lr, indices)`` with ``lr (T, h, w, 3)`` uint8 (memory-mapped is
    fine: only the frames needed are read) or override ``frames``. ``name`` is the default cache
    name of the method in ``arsr.evaluate``; ``fingerprint()`` identifies its outputs (weights and
    settings), so cached evaluations of a changed model are not reused.
    """

    name = "method"

    def frames(self, video, indices: Sequence[int]) -> np.ndarray:
        """SR frames of a ``PreparedVideo`` at ``indices``: ``(n, H, W, 3)`` uint8."""
        return self.sr(video.lr, indices)

    def sr(self, lr: np.ndarray, indices: Sequence[int]) -> np.ndarray:
        raise NotImplementedError(f"{type(self).__name__} must implement sr(lr, indices)")

    def fingerprint(self) -> str:
        raise NotImplementedError(f"{type(self).__name__} must implement fingerprint()")

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r})"


class ImageMethod(SRMethod):
    """A single-image SR model applied to each requested frame alone.

    model: ``(b, 3, h, w)`` in [0, 1] -> ``(b, 3, s·h, s·w)``; set to eval mode and moved to
    ``device`` (CUDA if available). ``batch_size`` frames go through the model at once ("auto":
    about ``PIXEL_BUDGET`` output pixels; ``scale`` is the model's, for that count).
    """

    def __init__(self, model: nn.Module, batch_size: int | str = "auto", *, name: str | None = None,
                 device: str | torch.device | None = None, scale: int = 4):
        _check_batch(batch_size, "ImageMethod")
        self.device = default_device(device)
        self.name = name or type(model).__name__.lower()
        self._fingerprint = module_fingerprint(model, kind="image")
        self.model = channels_last_convs(model.to(self.device).eval())
        self.batch_size = batch_size
        self.scale = int(getattr(model, "scale", scale) or scale)

    def sr(self, lr: np.ndarray, indices: Sequence[int]) -> np.ndarray:
        """``lr (T, h, w, 3)`` uint8, ``indices`` (n,) -> ``(n, s·h, s·w, 3)`` uint8."""
        idx = _check_lr(lr, indices, f"{self.name}.sr")
        step = auto_batch(self.batch_size, lr.shape[1] * lr.shape[2] * self.scale ** 2)
        out = []
        with torch.inference_mode():
            for start in range(0, idx.size, step):
                x = _to_tensor(lr[idx[start:start + step]], self.device)
                out.append(_to_uint8(self.model(x.contiguous(memory_format=torch.channels_last))))
        return np.concatenate(out) if out else np.zeros((0, 0, 0, 3), np.uint8)

    def fingerprint(self) -> str:
        return self._fingerprint


class VideoMethod(SRMethod):
    """A video SR model (a window of ``num_frames`` LR frames -> its centre HR frame) applied to
    each requested frame with its own window, padded at the clip's ends as
    ``arsr.archs.duf_arch.sliding_window_sr``: ``pad="zeros"`` (black frames, VSR-DUF's and
    TwoStreamSR's test scripts), ``"replicate"`` or ``"reflect"``. Gives, for the requested frames,
    exactly what ``sliding_window_sr`` gives for the whole clip.

    model: ``(b, t, 3, h, w)`` -> ``(b, 3, s·h, s·w)``; ``num_frames`` defaults to ``model.num_frames``.
    """

    def __init__(self, model: nn.Module, num_frames: int | None = None, pad: str = "zeros",
                 batch_size: int | str = "auto", *, name: str | None = None,
                 device: str | torch.device | None = None, scale: int = 4):
        num_frames = num_frames or getattr(model, "num_frames", None)
        if not num_frames or num_frames < 1:
            raise ValueError(f"VideoMethod: {type(model).__name__} has no `num_frames`; pass num_frames=")
        if pad not in ("zeros", "replicate", "reflect"):
            raise ValueError(f"VideoMethod: pad must be 'zeros', 'replicate' or 'reflect', got {pad!r}")
        _check_batch(batch_size, "VideoMethod")
        self.device = default_device(device)
        self.num_frames = int(num_frames)
        self.pad = pad
        self.name = name or type(model).__name__.lower()
        self._fingerprint = module_fingerprint(model, kind="video", window=self.num_frames, pad=pad)
        self.model = channels_last_convs(model.to(self.device).eval())
        self.batch_size = batch_size
        self.scale = int(getattr(model, "scale", scale) or scale)

    def window(self, index: int, n_frames: int) -> np.ndarray:
        """LR frame numbers of the window centred on ``index``: ``(num_frames,)`` int64, -1 for a
        zero (black) padding frame."""
        r = self.num_frames // 2
        j = np.arange(index - r, index - r + self.num_frames)
        if self.pad == "replicate":
            return np.clip(j, 0, n_frames - 1)
        if self.pad == "reflect":
            if n_frames <= r:
                raise ValueError(f"{self.name}: pad='reflect' needs more than {r} frames, got {n_frames}")
            j = np.where(j < 0, -j, j)
            return np.where(j > n_frames - 1, 2 * (n_frames - 1) - j, j)
        return np.where((j < 0) | (j >= n_frames), -1, j)

    def sr(self, lr: np.ndarray, indices: Sequence[int]) -> np.ndarray:
        """``lr (T, h, w, 3)`` uint8, ``indices`` (n,) -> ``(n, s·h, s·w, 3)`` uint8."""
        idx = _check_lr(lr, indices, f"{self.name}.sr")
        windows = np.stack([self.window(int(i), lr.shape[0]) for i in idx]) if idx.size else np.zeros((0, 1), int)
        used = np.unique(windows[windows >= 0])
        frames = np.zeros((used.size + 1, *lr.shape[1:]), dtype=np.uint8)  # last row: black
        frames[:used.size] = lr[used]
        rows = np.where(windows >= 0, np.searchsorted(used, np.maximum(windows, 0)), used.size)
        clip = _to_tensor(frames, self.device)  # (k + 1, 3, h, w)
        step = auto_batch(self.batch_size, lr.shape[1] * lr.shape[2] * self.scale ** 2)
        out = []
        with torch.inference_mode():
            for start in range(0, idx.size, step):
                batch = torch.from_numpy(rows[start:start + step]).to(self.device)
                out.append(_to_uint8(self.model(clip[batch])))  # (b, t, 3, h, w) -> (b, 3, H, W)
        return np.concatenate(out) if out else np.zeros((0, 0, 0, 3), np.uint8)

    def fingerprint(self) -> str:
        return self._fingerprint


class HRMethod(SRMethod):
    """The upper bound: the HR frames themselves (the video's ``hr`` array)."""

    name = "hr"

    def frames(self, video, indices: Sequence[int]) -> np.ndarray:
        idx = np.asarray(indices, dtype=np.int64).reshape(-1)
        return np.ascontiguousarray(video.hr[idx])

    def sr(self, lr: np.ndarray, indices: Sequence[int]) -> np.ndarray:
        raise TypeError("the hr method returns HR frames and needs the video, not its LR clip: "
                        "call hr_method().frames(video, indices) (arsr.evaluate does)")

    def fingerprint(self) -> str:
        return "hr"


def hr_method() -> HRMethod:
    """The HR reference (upper bound of every table)."""
    return HRMethod()


def bicubic_method(scale: int = 4, batch_size: int | str = "auto", *,
                   device: str | torch.device | None = None) -> ImageMethod:
    """MATLAB-bicubic upscaling by ``scale`` (the lower baseline), named "bicubic"."""
    return ImageMethod(build_arch("bicubic", scale=scale), batch_size, name="bicubic", device=device,
                       scale=scale)


def method_from_model(model: nn.Module, name: str, *, batch_size: int | str = "auto", pad: str = "zeros",
                      device: str | torch.device | None = None) -> SRMethod:
    """Wrap a built model (e.g. ``arsr.train.load_generator(...)``): ``VideoMethod`` when it has
    ``num_frames`` (a window model), else ``ImageMethod``."""
    if getattr(model, "num_frames", None):
        return VideoMethod(model, pad=pad, batch_size=batch_size, name=name, device=device)
    return ImageMethod(model, batch_size, name=name, device=device)


def method_from_arch(arch: str, weights: str | os.PathLike | None = None, *, name: str | None = None,
                     batch_size: int | str = "auto", pad: str = "zeros", param_key: str | None = None,
                     device: str | torch.device | None = None, **arch_kwargs) -> SRMethod:
    """Build architecture ``arch`` (``arsr.archs.build_arch(arch, **arch_kwargs)``), load
    ``weights`` strictly (``arsr.archs.load_weights``; None keeps the initialisation, for tests)
    and wrap it: ``VideoMethod`` for video architectures (``pad`` as there), else ``ImageMethod``.
    ``name`` defaults to ``arch``."""
    model = build_arch(arch, **arch_kwargs)
    if weights is not None:
        load_weights(model, weights, param_key=param_key)
    if is_video_arch(arch):
        return VideoMethod(model, pad=pad, batch_size=batch_size, name=name or arch, device=device)
    return ImageMethod(model, batch_size, name=name or arch, device=device)
