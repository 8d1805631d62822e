"""RGB <-> YCbCr as MATLAB's ``rgb2ycbcr`` / ``ycbcr2rgb`` (ITU-R BT.601, studio swing).

All values are on the [0, 1] scale: Y lies in [16/255, 235/255], Cb and Cr in [16/255, 240/255]
for RGB in [0, 1]. Super-resolution papers report PSNR/SSIM on this Y channel.

Layouts: torch tensors are channel-first ``(..., 3, h, w)``; numpy arrays are channel-last
``(h, w, 3)`` (any leading dims, ``(..., 3)``), as images are read from disk. Inputs must be float;
for uint8 images divide by 255 first.
"""
from __future__ import annotations

from typing import Union

import numpy as np
import torch

Array = Union[np.ndarray, torch.Tensor]

__all__ = ["rgb_to_ycbcr", "ycbcr_to_rgb", "rgb_to_y"]

# [Y, Cb, Cr] * 255 = OFFSET + MATRIX @ [R, G, B]   (R, G, B in [0, 1])
_MATRIX = np.array(
    [[65.481, 128.553, 24.966],
     [-37.797, -74.203, 112.0],
     [112.0, -93.786, -18.214]],
    dtype=np.float64,
)
_OFFSET = np.array([16.0, 128.0, 128.0], dtype=np.float64)
_INVERSE = np.linalg.inv(_MATRIX)


def _check(x: Array, name: str) -> None:
    if isinstance(x, torch.Tensor):
        if x.dim() < 3 or x.shape[-3] != 3:
            raise ValueError(
                f"{name}: torch input must be (..., 3, h, w) channel-first, got {tuple(x.shape)}"
            )
        if not x.is_floating_point():
            raise TypeError(f"{name}: torch input must be float in [0, 1], got {x.dtype}; "
                            "use x.float() / 255 for 8-bit images")
    elif isinstance(x, np.ndarray):
        if x.ndim < 1 or x.shape[-1] != 3:
            raise ValueError(
                f"{name}: numpy input must be (h, w, 3) channel-last, got shape {x.shape}"
            )
        if not np.issubdtype(x.dtype, np.floating):
            raise TypeError(f"{name}: numpy input must be float in [0, 1], got {x.dtype}; "
                            "use x.astype(np.float64) / 255 for uint8 images")
    else:
        raise TypeError(f"{name}: expected a numpy array or torch tensor, got {type(x).__name__}")


def _affine(x: Array, matrix: np.ndarray, offset: np.ndarray) -> Array:
    """``matrix @ pixel + offset`` along the channel axis (-3 for torch, -1 for numpy)."""
    if isinstance(x, torch.Tensor):
        m = torch.as_tensor(matrix, dtype=x.dtype, device=x.device)
        b = torch.as_tensor(offset, dtype=x.dtype, device=x.device)
        return torch.einsum("ij,...jhw->...ihw", m, x) + b[:, None, None]
    return (x @ matrix.T + offset).astype(x.dtype, copy=False)


def rgb_to_ycbcr(x: Array) -> Array:
    """RGB in [0, 1] to YCbCr in [0, 1] (MATLAB ``rgb2ycbcr`` on a double image).

    Parameters
    ----------
    x : torch.Tensor ``(..., 3, h, w)`` or np.ndarray ``(h, w, 3)``, float in [0, 1].

    Returns
    -------
    Same type, shape and dtype: channels (Y, Cb, Cr).
    """
    _check(x, "rgb_to_ycbcr")
    # Y = (16 + 65.481 R + 128.553 G + 24.966 B) / 255, Cb, Cr likewise around 128
    return _affine(x, _MATRIX / 255.0, _OFFSET / 255.0)


def ycbcr_to_rgb(x: Array) -> Array:
    """YCbCr in [0, 1] to RGB (MATLAB ``ycbcr2rgb``); the exact inverse of ``rgb_to_ycbcr``.

    Parameters
    ----------
    x : torch.Tensor ``(..., 3, h, w)`` or np.ndarray ``(h, w, 3)``, float, channels (Y, Cb, Cr).

    Returns
    -------
    Same type, shape and dtype, RGB; not clipped (out-of-gamut YCbCr leaves [0, 1]).
    """
    _check(x, "ycbcr_to_rgb")
    # RGB = M^-1 (255 YCbCr - offset)
    return _affine(x, _INVERSE * 255.0, -_INVERSE @ _OFFSET)


def rgb_to_y(x: Array) -> Array:
    """The luma channel Y of ``rgb_to_ycbcr``, in [16/255, 235/255].

    Parameters
    ----------
    x : torch.Tensor ``(..., 3, h, w)`` or np.ndarray ``(h, w, 3)``, float in [0, 1].

    Returns
    -------
    torch.Tensor ``(..., 1, h, w)`` (channel kept, ready as a 1-channel network input), or
    np.ndarray ``(h, w)`` (channel dropped).
    """
    _check(x, "rgb_to_y")
    # Y = (16 + 65.481 R + 128.553 G + 24.966 B) / 255
    row = _MATRIX[0] / 255.0
    if isinstance(x, torch.Tensor):
        w = torch.as_tensor(row, dtype=x.dtype, device=x.device)
        return torch.einsum("j,...jhw->...hw", w, x).unsqueeze(-3) + 16.0 / 255.0
    return (x @ row + 16.0 / 255.0).astype(x.dtype, copy=False)
