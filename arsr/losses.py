"""Losses of the study: pixel losses, SoSR's flow-weighted MSE, feature and GAN losses, ToSR's
warp loss, and the task losses of recognition-driven SR (``rdsr``, beyond the paper). Pure
functions of tensors (a frozen network is passed in where one is needed).

Shapes: images ``(b, c, h, w)`` in [0, 1]; flow ``(b, 2, h, w)`` in pixels, channel 0 = x, 1 = y.

Task losses (rdsr): a frozen recogniser (a TSN stream of ``arsr.recognition``, passed in: this
layer does not import it) scores SR and HR input, and :func:`distillation_loss` (softened KL x T^2)
plus optionally an MSE between its pooled features pulls the SR scores onto the HR ones.
:func:`spatial_task_loss` feeds frames to the RGB stream; :func:`temporal_task_loss` feeds the
flow stream flow computed from consecutive frames, *differentiably* (:func:`differentiable_flow`).

Differentiable flow: the study's own TV-L1 (:func:`arsr.ops.tvl1.tvl1_flow`) unrolled for
autograd, with fewer iterations (:data:`DIFF_FLOW`: 3 pyramid levels, 2 warps, 1 outer x 10 inner
iterations, no median filter). Chosen over a cheaper flow (Horn-Schunck, a learned network)
because the flow stream was trained on TV-L1 fields, so this stays closest to its input. Measured
on 48x48 grey pairs of a smooth texture moving by (1, 2) px, 8 pairs, one CPU thread on the
loaded 2-core machine: forward ~20-28 ms + backward ~12-19 ms per pair, end-point error 0.056 px
from the full OpenCV-default TV-L1 (5 levels, 5 warps, 10 x 30 iterations, median 5x5), which
takes ~410 ms forward + ~610 ms backward per pair; with 2 outer iterations and the 5x5 median
EPE 0.037 px at ~80 + ~190 ms. The only change autograd needed in tvl1.py: hypot's 0/0
derivative on locally constant flow (NaN gradients once the median filter makes plateaus) is 0.
Both the SR and the HR side go through the same flow, so the task term is exactly zero at SR = HR.

TSN reads flow as 8-bit images (``arsr.flow.quantize``: ``round(255 (f + bound) / (2 bound))``);
the differentiable path uses the *unquantised but scaled* value ``clamp((f + bound) / (2 bound),
0, 1)`` (the quantised image / 255 without the rounding; saturating like it), no straight-through
rounding: rounding only adds +-0.5/255 noise to a teacher input both sides share.
"""
from __future__ import annotations

from typing import Any, Mapping

import torch
import torch.nn as nn
import torch.nn.functional as F

from .ops.tvl1 import tvl1_flow
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


def colour_loss(sr: torch.Tensor, hr: torch.Tensor) -> torch.Tensor:
    """L1 between the per-channel means of each SR and HR image: a global colour shift, which the
    pixel losses barely see once the per-pixel error is larger than the shift (an L1 or MSE grows by
    a second-order amount) and a feature network may not see at all. The blur-based colour loss of
    Ignatov et al. (DPED, ICCV 2017) taken to the whole image; it leaves texture free."""
    # mean over (b, c) of |mean_hw sr - mean_hw hr|
    return (sr.mean(dim=(-2, -1)) - hr.mean(dim=(-2, -1))).abs().mean()


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


# -------------------------------------------------------------------------------------------
# Recognition-driven SR (rdsr): task losses through frozen recognisers

#: Unrolled TV-L1 settings of :func:`differentiable_flow` (keywords of ``tvl1_flow``; the rest keep
#: OpenCV's defaults). See the module docstring for the measured cost and error.
DIFF_FLOW: dict[str, Any] = {"nscales": 3, "warps": 2, "outer_iterations": 1, "inner_iterations": 10,
                             "median_filtering": 1}
# BT.601 luma, as cv2.COLOR_RGB2GRAY (the study's flow is computed on grey frames)
_LUMA = (0.299, 0.587, 0.114)


def distillation_loss(student_logits: torch.Tensor, teacher_logits: torch.Tensor,
                      temperature: float = 1.0) -> torch.Tensor:
    """Knowledge distillation (Hinton et al. 2015): KL of the softened class distributions.

    student_logits, teacher_logits: ``(b, k)``. Returns a 0-dim tensor, zero when they are equal.
    """
    # T^2 · mean_b sum_k p_k (log p_k - log q_k), p = softmax(teacher / T), q = softmax(student / T)
    if student_logits.shape != teacher_logits.shape or student_logits.dim() != 2:
        raise ValueError(f"distillation_loss: logits must both be (b, k), got {tuple(student_logits.shape)} "
                         f"and {tuple(teacher_logits.shape)}")
    if temperature <= 0:
        raise ValueError(f"distillation_loss: temperature must be positive, got {temperature}")
    log_q = F.log_softmax(student_logits.float() / temperature, dim=1)
    log_p = F.log_softmax(teacher_logits.float() / temperature, dim=1)
    return F.kl_div(log_q, log_p, reduction="batchmean", log_target=True) * temperature ** 2


def rgb_to_grey255(x: torch.Tensor) -> torch.Tensor:
    """``(n, 3, h, w)`` RGB in [0, 1] -> ``(n, 1, h, w)`` BT.601 grey on 0..255 (TV-L1's input)."""
    # 255 (0.299 R + 0.587 G + 0.114 B)
    w = x.new_tensor(_LUMA).view(1, 3, 1, 1) * 255.0
    return (x * w).sum(dim=1, keepdim=True)


def differentiable_flow(prev: torch.Tensor, next: torch.Tensor,
                        options: Mapping[str, Any] | None = None) -> torch.Tensor:
    """Flow ``prev -> next`` that gradients pass through: unrolled TV-L1 (:data:`DIFF_FLOW`).

    prev, next: ``(n, 3, h, w)`` RGB in [0, 1]; ``options`` override :data:`DIFF_FLOW`.
    Returns ``(n, 2, h, w)`` float32 pixels, channel 0 = x.
    """
    kwargs = {**DIFF_FLOW, **dict(options or {})}
    return tvl1_flow(rgb_to_grey255(prev.float()), rgb_to_grey255(next.float()), **kwargs)


def flow_to_tsn(flow: torch.Tensor, bound: float = 20.0) -> torch.Tensor:
    """Flow in pixels -> TSN's flow input in [0, 1], continuous: ``arsr.flow.quantize / 255``
    without the rounding. flow: any shape; same shape out."""
    # clamp((f + bound) / (2 bound), 0, 1)
    return ((flow + bound) / (2.0 * bound)).clamp(0.0, 1.0)


def _check_frozen(teacher: nn.Module, name: str) -> None:
    if teacher.training:
        raise ValueError(f"{name}: the teacher recogniser is in training mode (dropout, BatchNorm "
                         "updates); call .eval() on it")
    if any(p.requires_grad for p in teacher.parameters()):
        raise ValueError(f"{name}: the teacher recogniser has trainable parameters; freeze it "
                         "(requires_grad_(False) after .eval()) so the task loss trains only the SR network")


def recognizer_outputs(teacher: nn.Module, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Pooled features ``(b, f)`` and class scores ``(b, k)`` of a TSN stream (``base_model``
    then ``new_fc``, averaged over segments as its consensus does) for ``x (b, s, C, h, w)`` in
    [0, 1] (normalised here with ``teacher.normalize``)."""
    b, s = x.shape[:2]
    feats = teacher.base_model(teacher.normalize(x).reshape(b * s, *x.shape[2:]))
    scores = teacher.new_fc(feats)
    return feats.view(b, s, -1).mean(1), scores.view(b, s, -1).mean(1)


def _teacher_distillation(teacher: nn.Module, sr_input: torch.Tensor, hr_input: torch.Tensor,
                          temperature: float, feature_weight: float) -> torch.Tensor:
    with torch.no_grad():
        hr_feats, hr_scores = recognizer_outputs(teacher, hr_input)
    sr_feats, sr_scores = recognizer_outputs(teacher, sr_input)
    loss = distillation_loss(sr_scores, hr_scores, temperature)
    if feature_weight:
        loss = loss + feature_weight * mse(sr_feats.float(), hr_feats.float())
    return loss


def spatial_task_loss(teacher: nn.Module, sr: torch.Tensor, hr: torch.Tensor, temperature: float = 1.0,
                      feature_weight: float = 0.0) -> torch.Tensor:
    """rdsr's spatial term: a frozen RGB TSN stream scores each SR and HR frame alone.

    teacher: frozen (eval mode, no trainable parameters) TSN, modality rgb. sr, hr: ``(n, 3, H,
    W)`` in [0, 1], fed at their own size (the TSN's global pooling takes any size).
    """
    # T^2 KL(s(hr)/T || s(sr)/T) + feature_weight · mean (f(sr) - f(hr))^2, s scores, f pooled features
    _check_frozen(teacher, "spatial_task_loss")
    if sr.shape != hr.shape or sr.dim() != 4 or sr.shape[1] != 3:
        raise ValueError(f"spatial_task_loss: sr {tuple(sr.shape)} and hr {tuple(hr.shape)} must both "
                         "be (n, 3, H, W)")
    return _teacher_distillation(teacher, sr[:, None], hr[:, None], temperature, feature_weight)


def flow_stack(frames: torch.Tensor, bound: float = 20.0,
               flow_options: Mapping[str, Any] | None = None) -> torch.Tensor:
    """TSN flow-stream input from a clip: ``frames (b, L + 1, 3, H, W)`` in [0, 1] -> ``(b, 1,
    2L, H, W)`` in [0, 1], channels ``[x0, y0, x1, y1, ...]`` (field i = frames i -> i+1, as
    ``arsr.recognition.sampling.stack_flow``), through :func:`differentiable_flow` and
    :func:`flow_to_tsn`."""
    b, k = frames.shape[:2]
    prev = frames[:, :-1].reshape(b * (k - 1), *frames.shape[2:])
    nxt = frames[:, 1:].reshape(b * (k - 1), *frames.shape[2:])
    flow = differentiable_flow(prev, nxt, flow_options)  # (b (L), 2, H, W)
    return flow_to_tsn(flow, bound).view(b, 1, 2 * (k - 1), *flow.shape[-2:])


def temporal_task_loss(teacher: nn.Module, sr_clip: torch.Tensor, hr_clip: torch.Tensor,
                       bound: float = 20.0, temperature: float = 1.0, feature_weight: float = 0.0,
                       flow_options: Mapping[str, Any] | None = None) -> torch.Tensor:
    """rdsr's temporal term: a frozen flow TSN stream scores the flow of consecutive SR frames
    and of the HR frames, both from :func:`differentiable_flow` (the HR side without gradient),
    so the term is zero when SR = HR and its gradient reaches the SR frames through the flow.

    teacher: frozen TSN, modality flow, ``new_length`` = L. sr_clip, hr_clip: ``(b, L + 1, 3, H,
    W)`` in [0, 1]. bound: the teacher's flow bound (recognizer.json ``flow_bound``).
    """
    # T^2 KL(s(F(hr))/T || s(F(sr))/T) + feature_weight · mse of pooled features, F = flow_stack
    _check_frozen(teacher, "temporal_task_loss")
    if sr_clip.shape != hr_clip.shape or sr_clip.dim() != 5 or sr_clip.shape[2] != 3:
        raise ValueError(f"temporal_task_loss: sr_clip {tuple(sr_clip.shape)} and hr_clip "
                         f"{tuple(hr_clip.shape)} must both be (b, L + 1, 3, H, W)")
    need = getattr(teacher, "new_length", sr_clip.shape[1] - 1) + 1
    if sr_clip.shape[1] != need:
        raise ValueError(f"temporal_task_loss: the flow stream stacks {need - 1} fields, so a clip "
                         f"needs {need} frames; got {sr_clip.shape[1]}")
    with torch.no_grad():
        hr_stack = flow_stack(hr_clip, bound, flow_options)
    sr_stack = flow_stack(sr_clip, bound, flow_options)
    return _teacher_distillation(teacher, sr_stack, hr_stack, temperature, feature_weight)
