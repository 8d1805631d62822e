"""Differentiable backward warping of images by a dense optical flow."""
from __future__ import annotations

import torch
import torch.nn.functional as F

__all__ = ["warp", "flow_grid"]

_PADDING_MODES = ("border", "zeros", "reflection")


def flow_grid(flow: torch.Tensor) -> torch.Tensor:
    """Absolute sampling positions ``p + flow(p)`` in pixels.

    Parameters
    ----------
    flow : torch.Tensor ``(b, 2, h, w)``
        Displacement in pixels; channel 0 = x (horizontal, to the right), 1 = y (downwards).

    Returns
    -------
    torch.Tensor ``(b, 2, h, w)``: channel 0 = x + u, channel 1 = y + v.
    """
    _, _, h, w = flow.shape
    ys = torch.arange(h, dtype=flow.dtype, device=flow.device)
    xs = torch.arange(w, dtype=flow.dtype, device=flow.device)
    base = torch.stack(torch.meshgrid(xs, ys, indexing="xy"), dim=0)  # (2, h, w): x, y
    return flow + base.unsqueeze(0)


def warp(x: torch.Tensor, flow: torch.Tensor, padding_mode: str = "border",
         return_mask: bool = False):
    """Backward-warp ``x`` by ``flow``: ``out(p) = x(p + flow(p))``, bilinear.

    With the flow of ``compute_flow(prev, next)`` (which satisfies prev(p) ~ next(p + flow(p))),
    ``warp(next, flow)`` reproduces ``prev``. Pixel centres sit at integer coordinates
    (``grid_sample`` with ``align_corners=True``), so a zero flow returns ``x`` exactly and an
    integer flow shifts it exactly.

    Parameters
    ----------
    x : torch.Tensor ``(b, c, h, w)``, float.
    flow : torch.Tensor ``(b, 2, h, w)``
        Pixels; channel 0 = x (horizontal), 1 = y (vertical) - the convention of every flow in arsr.
    padding_mode : {"border", "zeros", "reflection"}
        Value taken where ``p + flow(p)`` leaves the image: ``"border"`` repeats the edge pixel
        (the default: no dark seams), ``"zeros"`` blends with zero outside, ``"reflection"``
        mirrors about the edge pixel centres.
    return_mask : bool
        Also return where the sample point lies inside the image.

    Returns
    -------
    torch.Tensor ``(b, c, h, w)``, and if ``return_mask`` a float mask ``(b, 1, h, w)``: 1 where
    ``0 <= x + u <= w - 1`` and ``0 <= y + v <= h - 1``, else 0 (not differentiable).
    """
    if x.dim() != 4:
        raise ValueError(f"warp: `x` must be (b, c, h, w), got shape {tuple(x.shape)}")
    if flow.dim() != 4 or flow.shape[1] != 2:
        raise ValueError(
            f"warp: `flow` must be (b, 2, h, w) with channel 0 = x and 1 = y, got {tuple(flow.shape)}; "
            "a numpy flow (h, w, 2) converts with torch.from_numpy(f).permute(2, 0, 1)[None]"
        )
    if flow.shape[0] != x.shape[0] or flow.shape[2:] != x.shape[2:]:
        raise ValueError(
            f"warp: `flow` {tuple(flow.shape)} must match `x` {tuple(x.shape)} in batch and size"
        )
    if padding_mode not in _PADDING_MODES:
        raise ValueError(f"warp: padding_mode must be one of {_PADDING_MODES}, got {padding_mode!r}")
    if not x.is_floating_point():
        raise TypeError(f"warp: `x` must be a float tensor, got {x.dtype}")
    _, _, h, w = x.shape
    # positions in float32 at least: bf16 would round them to ~1 px on a 128-px image
    work = torch.promote_types(x.dtype, torch.float32)
    pos = flow_grid(flow.to(work))
    # align_corners=True: -1 and +1 are the centres of the first and last pixels
    gx = pos[:, 0] * (2.0 / max(w - 1, 1)) - 1.0
    gy = pos[:, 1] * (2.0 / max(h - 1, 1)) - 1.0
    grid = torch.stack((gx, gy), dim=-1)  # (b, h, w, 2)
    out = F.grid_sample(x.to(work), grid, mode="bilinear", padding_mode=padding_mode,
                        align_corners=True).to(x.dtype)
    if not return_mask:
        return out
    with torch.no_grad():
        inside = ((pos[:, 0] >= 0) & (pos[:, 0] <= w - 1)
                  & (pos[:, 1] >= 0) & (pos[:, 1] <= h - 1))
    return out, inside.unsqueeze(1).to(x.dtype)
