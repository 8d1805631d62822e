"""Dual TV-L1 optical flow (Zach et al., DAGM 2007; Sánchez Pérez et al., IPOL 2013), batched in PyTorch.

The algorithm, defaults and boundary handling are those of OpenCV's
``cv::optflow::DualTVL1OpticalFlow`` (opencv_contrib ``modules/optflow/src/tvl1flow.cpp``):

* pyramid: each level is the previous one resized by ``scale_step`` with OpenCV's ``INTER_LINEAR``
  (no Gaussian pre-smoothing), sizes rounded to the nearest integer, levels under 16 pixels dropped;
* per warp: ``next`` and its centred gradient (one-sided halves at the border) sampled bicubically
  (a = -0.75) at ``p + u(p)``, zero outside the image (``remap(INTER_CUBIC)``, ``BORDER_CONSTANT``);
* thresholding step with ``lambda * theta``, primal update ``u = v + theta div p``, dual update
  with forward differences, a ``median_filtering`` x ``median_filtering`` median of the flow
  (replicated border) before each outer iteration, and the stop when the summed squared change of
  ``u`` falls under ``epsilon^2 * h * w``;
* the flow starts at zero on the coarsest level and is resized bilinearly to the next finer level
  and multiplied by ``1 / scale_step``.

Deliberate differences from OpenCV: the stop is tested per frame pair, so a batch gives the
pair-by-pair results; OpenCV lowers its *stored* ``nscales`` when an image is too small for it
and keeps the lower value for later calls, here every call starts from the ``nscales`` it is given;
there is no initial flow (OpenCV's ``useInitialFlow``); the median filter accepts any odd size
(OpenCV allows 3 and 5 on float images).
"""
from __future__ import annotations

import math
from functools import lru_cache

import torch
import torch.nn.functional as F

__all__ = ["tvl1_flow"]

_MIN_LEVEL_SIZE = 16  # OpenCV drops pyramid levels narrower or lower than this
_FLT_EPSILON = torch.finfo(torch.float32).eps


def _as_batch(x: torch.Tensor, name: str) -> torch.Tensor:
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"tvl1_flow: `{name}` must be a torch.Tensor, got {type(x).__name__}")
    if x.ndim == 3:
        x = x.unsqueeze(1)
    if x.ndim != 4 or x.shape[1] != 1:
        raise ValueError(
            f"tvl1_flow: `{name}` must be grey frames (n, h, w) or (n, 1, h, w), got {tuple(x.shape)}")
    if x.shape[-2] < 3 or x.shape[-1] < 3:
        raise ValueError(f"tvl1_flow: `{name}` frames must be at least 3x3 pixels, got {tuple(x.shape[-2:])}")
    return x.to(torch.float32)


# ----------------------------------------------------------------------------------------------
# Resampling


def _linear_taps(n_in: int, n_out: int, scale: float,
                 device) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Source indices and weight of OpenCV's INTER_LINEAR along one axis (``scale`` = source per
    destination pixel): ``x = (d + 0.5) scale - 0.5``, clamped to the first and last pixel."""
    pos = ((torch.arange(n_out, dtype=torch.float64) + 0.5) * scale - 0.5).to(torch.float32)
    left = torch.floor(pos)
    frac = pos - left
    left = left.to(torch.int64)
    outside = (left < 0) | (left >= n_in - 1)
    frac = torch.where(outside, torch.zeros_like(frac), frac)
    left = left.clamp(0, n_in - 1)
    right = (left + 1).clamp(max=n_in - 1)
    return left.to(device), right.to(device), frac.to(device)


def _resize_linear(x: torch.Tensor, size: tuple[int, int], scale: tuple[float, float]) -> torch.Tensor:
    """``cv2.resize(..., INTER_LINEAR)`` of ``x: (n, c, h, w)`` to ``size = (h', w')``.

    ``scale = (sy, sx)`` is the source step per destination pixel: ``1 / fy`` when OpenCV is given
    a factor, ``h / h'`` when it is given a size (the two differ once sizes are rounded).
    """
    h_in, w_in = x.shape[-2:]
    left, right, frac = _linear_taps(w_in, size[1], scale[1], x.device)
    x = x.index_select(-1, left) * (1 - frac) + x.index_select(-1, right) * frac
    top, bottom, frac = _linear_taps(h_in, size[0], scale[0], x.device)
    frac = frac[:, None]
    return x.index_select(-2, top) * (1 - frac) + x.index_select(-2, bottom) * frac


_CUBIC_A = -0.75  # OpenCV's bicubic kernel parameter (MATLAB uses -0.5)


def _cubic_weights(t: torch.Tensor) -> tuple[torch.Tensor, ...]:
    """Weights of the taps at -1, 0, 1, 2 for a fractional position ``t`` in [0, 1)."""
    a = _CUBIC_A
    w0 = ((a * (t + 1) - 5 * a) * (t + 1) + 8 * a) * (t + 1) - 4 * a
    w1 = ((a + 2) * t - (a + 3)) * t * t + 1
    w2 = ((a + 2) * (1 - t) - (a + 3)) * (1 - t) * (1 - t) + 1
    return w0, w1, w2, 1 - w0 - w1 - w2


def _warp_bicubic(x: torch.Tensor, flow: torch.Tensor) -> torch.Tensor:
    """``out(p) = x(p + flow(p))``, bicubic (a = -0.75), zero outside: ``cv2.remap(INTER_CUBIC)``.

    Written out with gathers rather than ``grid_sample``: its normalised coordinates move integer
    positions by ~1e-5 px, enough to pull identical frames off the zero flow at the border.

    x: (n, c, h, w); flow: (n, 2, h, w) in pixels, channel 0 = x.
    """
    n, c, h, w = x.shape
    # beyond these every tap is outside; the clamp keeps the integer conversion finite
    px = (flow[:, 0] + torch.arange(w, dtype=x.dtype, device=x.device)).clamp(-3, w + 1)
    py = (flow[:, 1] + torch.arange(h, dtype=x.dtype, device=x.device)[:, None]).clamp(-3, h + 1)
    left, top = torch.floor(px), torch.floor(py)
    weights_x, weights_y = _cubic_weights(px - left), _cubic_weights(py - top)
    left, top = left.to(torch.int64), top.to(torch.int64)
    flat = x.reshape(n, c, h * w)
    out = torch.zeros_like(x)
    for i, weight_y in enumerate(weights_y):
        row = top + (i - 1)
        row_inside = (row >= 0) & (row < h)
        row_offset = row.clamp(0, h - 1) * w
        for j, weight_x in enumerate(weights_x):
            col = left + (j - 1)
            inside = row_inside & (col >= 0) & (col < w)
            index = (row_offset + col.clamp(0, w - 1)).view(n, 1, h * w).expand(n, c, h * w)
            weight = torch.where(inside, weight_y * weight_x, 0.0).unsqueeze(1)
            out += flat.gather(2, index).view(n, c, h, w) * weight
    return out


# ----------------------------------------------------------------------------------------------
# Finite differences (OpenCV's boundary conventions)


def _centered_gradient(img: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Central differences, halved one-sided differences on the border. img: (n, c, h, w)."""
    pad = F.pad(img, (1, 1, 1, 1), mode="replicate")
    dx = 0.5 * (pad[..., 1:-1, 2:] - pad[..., 1:-1, :-2])
    dy = 0.5 * (pad[..., 2:, 1:-1] - pad[..., :-2, 1:-1])
    return dx, dy


def _forward_gradient(u: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Forward differences, zero on the last column (x) and last row (y). u: (n, c, h, w)."""
    dx = F.pad(u[..., :, 1:] - u[..., :, :-1], (0, 1))
    dy = F.pad(u[..., 1:, :] - u[..., :-1, :], (0, 0, 0, 1))
    return dx, dy


def _divergence(px: torch.Tensor, py: torch.Tensor) -> torch.Tensor:
    """Backward differences with zero before the first column and row (the adjoint of
    :func:`_forward_gradient`). px, py: (n, c, h, w)."""
    return (px - F.pad(px[..., :, :-1], (1, 0))) + (py - F.pad(py[..., :-1, :], (0, 0, 1, 0)))


def _hypot(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """``torch.hypot(x, y)``, with gradient 0 (not 0/0 = NaN) where ``x = y = 0``.

    A locally constant flow (a plateau left by the median filter, a textureless region) has a zero
    forward gradient; unrolled for backpropagation (``arsr.losses.differentiable_flow``) hypot's
    derivative ``x / hypot(x, y)`` would turn every gradient into NaN. Same values as
    ``torch.hypot``; without autograd it is ``torch.hypot`` itself.
    """
    if not (x.requires_grad or y.requires_grad):
        return torch.hypot(x, y)
    zero = (x == 0) & (y == 0)
    return torch.where(zero, 0.0, torch.hypot(torch.where(zero, 1.0, x), y))


# ----------------------------------------------------------------------------------------------
# Median filter


def _merge_exchange(n: int) -> list[tuple[int, int]]:
    """Comparators of Batcher's merge-exchange sorting network for n inputs (Knuth, TAOCP 5.2.2 M)."""
    pairs: list[tuple[int, int]] = []
    t = math.ceil(math.log2(n))
    p = 1 << (t - 1)
    while p > 0:
        q, r, d = 1 << (t - 1), 0, p
        while d > 0:
            pairs.extend((i, i + d) for i in range(n - d) if i & p == r)
            d, q, r = q - p, q // 2, p
        p //= 2
    return pairs


@lru_cache(maxsize=None)
def _median_network(n: int) -> tuple[tuple[int, int, bool, bool], ...]:
    """The comparators of the sorting network that the middle output depends on, each with
    whether its min and its max output are used later (the others are never computed)."""
    needed = {n // 2}
    kept = []
    for i, j in reversed(_merge_exchange(n)):
        use_min, use_max = i in needed, j in needed
        if use_min or use_max:
            kept.append((i, j, use_min, use_max))
            needed |= {i, j}
    return tuple(reversed(kept))


def _median_blur(u: torch.Tensor, size: int) -> torch.Tensor:
    """``size`` x ``size`` median with replicated border (``cv2.medianBlur``). u: (n, c, h, w).

    A pruned sorting network over shifted views: about 200 min/max passes for 5x5, several
    times faster than sorting unfolded windows on CPU.
    """
    r = size // 2
    h, w = u.shape[-2:]
    pad = F.pad(u, (r, r, r, r), mode="replicate")
    v = [pad[..., dy:dy + h, dx:dx + w] for dy in range(size) for dx in range(size)]
    for i, j, use_min, use_max in _median_network(size * size):
        a, b = v[i], v[j]
        if use_min:
            v[i] = torch.minimum(a, b)
        if use_max:
            v[j] = torch.maximum(a, b)
    return v[size * size // 2]


# ----------------------------------------------------------------------------------------------
# One pyramid level


def _select(active: torch.Tensor, new: torch.Tensor, old: torch.Tensor, n_active: int) -> torch.Tensor:
    """``new`` for the pairs still iterating, ``old`` for those that have stopped."""
    if n_active == active.numel():
        return new
    return torch.where(active.view(-1, *([1] * (new.ndim - 1))), new, old)


def _solve_level(i0: torch.Tensor, i1: torch.Tensor, u: torch.Tensor, *, tau: float, lambda_: float,
                 theta: float, warps: int, epsilon: float, inner_iterations: int,
                 outer_iterations: int, gamma: float, median_filtering: int) -> torch.Tensor:
    """Refine the flow ``u: (n, c, h, w)`` (c = 2, or 3 with ``gamma``: u, v and the illumination
    term) between ``i0, i1: (n, 1, h, w)`` on one pyramid level."""
    n, _, h, w = i0.shape
    use_gamma = u.shape[1] == 3
    stop_below = float(torch.tensor(epsilon * epsilon * h * w, dtype=torch.float32))
    l_t = lambda_ * theta
    taut = tau / theta

    i1x, i1y = _centered_gradient(i1)
    i1_and_grad = torch.cat((i1, i1x, i1y), dim=1)
    px = torch.zeros_like(u)
    py = torch.zeros_like(u)

    for _ in range(warps):
        i1w, i1wx, i1wy = _warp_bicubic(i1_and_grad, u[:, :2]).split(1, dim=1)
        grad_sq = i1wx * i1wx + i1wy * i1wy
        # rho(u) = rho_c + grad I1w . u (+ gamma u3): the linearised brightness residual
        rho_c = i1w - i1wx * u[:, :1] - i1wy * u[:, 1:2] - i0
        lt_grad = l_t * grad_sq
        step_dir = [i1wx, i1wy] + ([torch.full_like(i1wx, gamma)] if use_gamma else [])
        step_dir = torch.cat(step_dir, dim=1)
        inv_grad = 1.0 / grad_sq.clamp_min(_FLT_EPSILON)

        active = torch.ones(n, dtype=torch.bool, device=u.device)
        n_active = n
        for _ in range(outer_iterations):
            if median_filtering > 1:
                filtered = torch.cat((_median_blur(u[:, :2], median_filtering), u[:, 2:]), dim=1)
                u = _select(active, filtered, u, n_active)
            for _ in range(inner_iterations):
                rho = rho_c + i1wx * u[:, :1] + i1wy * u[:, 1:2]
                if use_gamma:
                    rho = rho + gamma * u[:, 2:]
                # thresholding: v = u + t grad I1w, t = l_t, -l_t or -rho / |grad I1w|^2
                t = torch.where(rho < -lt_grad, l_t,
                                torch.where(rho > lt_grad, -l_t,
                                            torch.where(grad_sq > _FLT_EPSILON, -rho * inv_grad, 0.0)))
                v = u + t * step_dir
                u_new = v + theta * _divergence(px, py)
                error = (u_new - u).square().sum(dim=(1, 2, 3))
                u = _select(active, u_new, u, n_active)
                ux, uy = _forward_gradient(u)
                # p = (p + taut grad u) / (1 + taut |grad u|), per flow component
                norm = 1.0 + taut * _hypot(ux, uy)
                px = _select(active, (px + taut * ux) / norm, px, n_active)
                py = _select(active, (py + taut * uy) / norm, py, n_active)
                active = active & (error > stop_below)
                n_active = int(active.sum())
                if n_active == 0:
                    break
            if n_active == 0:
                break
    return u


# ----------------------------------------------------------------------------------------------


def tvl1_flow(prev: torch.Tensor, next: torch.Tensor, *, tau: float = 0.25, lambda_: float = 0.15,
              theta: float = 0.3, nscales: int = 5, warps: int = 5, epsilon: float = 0.01,
              inner_iterations: int = 30, outer_iterations: int = 10, scale_step: float = 0.8,
              gamma: float = 0.0, median_filtering: int = 5) -> torch.Tensor:
    """Dual TV-L1 flow from ``prev`` to ``next`` for a batch of frame pairs: ``prev(p) ~ next(p + flow(p))``.

    Parameters
    ----------
    prev, next : torch.Tensor ``(n, h, w)`` or ``(n, 1, h, w)``
        Grey frames on the 0..255 scale (as OpenCV's 8-bit input), any device; computed in float32.
    tau, lambda_, theta, nscales, warps, epsilon, inner_iterations, outer_iterations, scale_step,
    gamma, median_filtering
        As ``cv2.optflow.DualTVL1OpticalFlow`` (same defaults): time step, data weight, coupling,
        pyramid levels, warps per level, stopping threshold, iteration counts, pyramid scale,
        illumination-change weight (0 = off) and median filter size (<= 1 = off, else odd).

    Returns
    -------
    torch.Tensor ``(n, 2, h, w)`` float32 on the input's device, pixels; channel 0 = x, 1 = y.
    """
    i0 = _as_batch(prev, "prev")
    i1 = _as_batch(next, "next")
    if i0.shape != i1.shape:
        raise ValueError(
            f"tvl1_flow: `prev` {tuple(prev.shape)} and `next` {tuple(next.shape)} differ in shape")
    if i0.device != i1.device:
        raise ValueError(f"tvl1_flow: `prev` is on {i0.device}, `next` on {i1.device}; "
                         "move both to one device")
    if nscales < 1 or warps < 1:
        raise ValueError(f"tvl1_flow: nscales ({nscales}) and warps ({warps}) must be >= 1")
    if not 0.0 < scale_step < 1.0:
        raise ValueError(f"tvl1_flow: scale_step must be in (0, 1), got {scale_step}")
    if median_filtering > 1 and median_filtering % 2 == 0:
        raise ValueError(
            f"tvl1_flow: median_filtering must be odd (or <= 1 for none), got {median_filtering}")

    pyramid = [(i0, i1)]
    for _ in range(1, nscales):
        h, w = pyramid[-1][0].shape[-2:]
        size = (round(h * scale_step), round(w * scale_step))
        if min(size) < _MIN_LEVEL_SIZE:
            break
        step = (1.0 / scale_step, 1.0 / scale_step)
        pyramid.append(tuple(_resize_linear(img, size, step) for img in pyramid[-1]))

    n, _, h, w = pyramid[-1][0].shape
    u = torch.zeros(n, 3 if gamma != 0 else 2, h, w, dtype=torch.float32, device=i0.device)
    options = dict(tau=tau, lambda_=lambda_, theta=theta, warps=warps, epsilon=epsilon,
                   inner_iterations=inner_iterations, outer_iterations=outer_iterations,
                   gamma=gamma, median_filtering=median_filtering)
    for level in range(len(pyramid) - 1, -1, -1):
        level_i0, level_i1 = pyramid[level]
        u = _solve_level(level_i0, level_i1, u, **options)
        if level == 0:
            break
        h_fine, w_fine = pyramid[level - 1][0].shape[-2:]
        u = _resize_linear(u, (h_fine, w_fine), (u.shape[-2] / h_fine, u.shape[-1] / w_fine))
        u[:, :2] *= 1.0 / scale_step  # the illumination term u3 is not a displacement
    return u[:, :2].contiguous()
