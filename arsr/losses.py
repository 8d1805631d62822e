"""Losses of the study: pixel losses, SoSR's flow-weighted MSE, feature and GAN losses, ToSR's
warp loss. Pure functions of tensors (a frozen network is passed in where one is needed).

Shapes: images ``(b, c, h, w)`` in [0, 1]; flow ``(b, 2, h, w)`` in pixels, channel 0 = x, 1 = y.
"""
from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

from .ops.warp import warp

NORMS = ("l2", "huber")


def mse(sr: torch.Tensor, hr: torch.Tensor) -> torch.Tensor:
    # mean over (b, c, h, w) of (sr - hr)^2
    return F.mse_loss(sr, hr)


def charbonnier(sr: torch.Tensor, hr: torch.Tensor, eps: float = 1e-3) -> torch.Tensor:
    # mean of sqrt((sr - hr)^2 + eps^2)
    return torch.sqrt((sr - hr) ** 2 + eps * eps).mean()


def huber(sr: torch.Tensor, hr: torch.Tensor, delta: float = 0.01) -> torch.Tensor:
    # mean of 0.5 d^2 where |d| <= delta, else delta (|d| - 0.5 delta); d = sr - hr
    return F.huber_loss(sr, hr, delta=delta)


def flow_weights(flow: torch.Tensor, normalize: bool = False, floor: float = 0.0) -> torch.Tensor:
    """Per-pixel WMSE weights ``(b, 1, h, w)``: ``sqrt(u^2 + v^2)`` of the HR flow.

    ``floor`` raises every weight to at least that value (so motionless pixels still count);
    ``normalize`` then divides each sample's weights by their mean (mean weight 1). Both off by
    default, as in the paper (a motionless patch gets zero pixel loss).
    """
    if flow.dim() != 4 or flow.shape[1] != 2:
        raise ValueError(f"flow must be (b, 2, h, w), got {tuple(flow.shape)}")
    w = torch.linalg.vector_norm(flow, dim=1, keepdim=True)
    if floor > 0:
        w = w.clamp_min(floor)
    if normalize:
        w = w / w.mean(dim=(1, 2, 3), keepdim=True).clamp_min(1e-8)
    return w


def wmse(sr: torch.Tensor, hr: torch.Tensor, flow: torch.Tensor, normalize: bool = False,
         floor: float = 0.0) -> torch.Tensor:
    """Flow-weighted MSE of SoSR (paper Eq. 1); a uniform flow of magnitude m gives m * mse."""
    # mean over (b, c, h, w) of sqrt(u^2 + v^2) * (sr - hr)^2
    if sr.shape != hr.shape or flow.shape[0] != sr.shape[0] or flow.shape[2:] != sr.shape[2:]:
        raise ValueError(f"wmse: sr {tuple(sr.shape)}, hr {tuple(hr.shape)} and flow "
                         f"{tuple(flow.shape)} must agree in batch and size")
    return (flow_weights(flow, normalize, floor) * (sr - hr) ** 2).mean()


def feature_loss(sr: torch.Tensor, hr: torch.Tensor, extractor: nn.Module) -> torch.Tensor:
    """L1 between the features of SR and HR under a frozen ``extractor`` (VGG19 conv5_4 before
    ReLU by default in the trainer, or any frozen module, e.g. a spatial-stream recogniser)."""
    # mean |f(sr) - f(hr)|
    with torch.no_grad():
        target = extractor(hr)
    return F.l1_loss(extractor(sr), target)


def gan_loss(pred: torch.Tensor, target_is_real: bool) -> torch.Tensor:
    """Vanilla GAN loss (SRGAN) on discriminator logits."""
    # BCE(sigmoid(pred), 1 if real else 0)
    target = torch.ones_like(pred) if target_is_real else torch.zeros_like(pred)
    return F.binary_cross_entropy_with_logits(pred, target)


def ragan_d_loss(real_pred: torch.Tensor, fake_pred: torch.Tensor) -> torch.Tensor:
    """Relativistic average GAN, discriminator side (ESRGAN); pass logits of HR and of
    (detached) SR images."""
    # (BCE(D(hr) - E[D(sr)], 1) + BCE(D(sr) - E[D(hr)], 0)) / 2
    return 0.5 * (gan_loss(real_pred - fake_pred.mean(), True)
                  + gan_loss(fake_pred - real_pred.mean(), False))


def ragan_g_loss(real_pred: torch.Tensor, fake_pred: torch.Tensor) -> torch.Tensor:
    """Relativistic average GAN, generator side (ESRGAN)."""
    # (BCE(D(hr) - E[D(sr)], 0) + BCE(D(sr) - E[D(hr)], 1)) / 2
    return 0.5 * (gan_loss(real_pred - fake_pred.mean(), False)
                  + gan_loss(fake_pred - real_pred.mean(), True))


def _distance(a: torch.Tensor, b: torch.Tensor, norm: str, delta: float) -> torch.Tensor:
    if norm == "l2":
        return mse(a, b)
    if norm == "huber":
        return huber(a, b, delta)
    raise ValueError(f"norm = {norm!r}: choose one of {', '.join(NORMS)}")


def warp_loss(sr_t: torch.Tensor, sr_next: torch.Tensor, hr_t: torch.Tensor,
              hr_next: torch.Tensor, flow: torch.Tensor, alpha: float = 1.0, beta: float = 0.8,
              gamma: float = 0.1, norm: str = "l2", delta: float = 0.01) -> torch.Tensor:
    """ToSR's loss (paper Eq. 3) for a pair of frames t and t' = t + gap.

    ``flow``: HR flow t -> t' (so ``warp(sr_next, flow)`` is SR frame t' brought to frame t).
    ``norm``: ``l2`` (the paper's squared norm, reduced like :func:`mse`) or ``huber``
    (the released code, delta 0.01).
    """
    # a·d(I_t, Î_t) + a·d(I_t', Î_t') + b·d(Î_t, W(Î_t')) + g·d(I_t, W(Î_t')), W = warp by flow t->t'
    warped = warp(sr_next, flow)
    return (alpha * _distance(sr_t, hr_t, norm, delta)
            + alpha * _distance(sr_next, hr_next, norm, delta)
            + beta * _distance(sr_t, warped, norm, delta)
            + gamma * _distance(hr_t, warped, norm, delta))


PIXEL_LOSSES = {"mse": mse, "l1": lambda sr, hr: F.l1_loss(sr, hr), "charbonnier": charbonnier,
                "huber": huber}
