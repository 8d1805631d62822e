"""The training recipes of the study's SR methods, as data: each is a tuple of phases (phase configs
of :mod:`arsr.train.config`, a later phase starting from the previous phase's ``model.pt``), which
the method registry (:mod:`arsr.methods`, one row per method) attaches to its rows and
:mod:`arsr.train.presets` resolves. No torch (``arsr.study.schema`` checks them).

====== ============ ========================================= ===================================
method phases       loss (weights)                            schedule (Adam lr, iterations,
                                                              milestones x gamma)
====== ============ ========================================= ===================================
vdsr   sr           MSE                                       1e-4, 300k, [200k] x0.5  (inferred)
rcan   sr           L1                                        1e-4, 300k, [200k] x0.5  (BasicSR)
srgan  psnr         MSE (SRResNet)                            1e-4, 1M                 (SRGAN)
       gan          VGG54 feature 1 + vanilla GAN 1e-3        1e-4, 200k, [100k] x0.1  (SRGAN)
esrgan psnr         L1 (RRDBNet)                              2e-4, 1M, [200k..800k] x0.5
       gan          L1 0.01 + feature 1 + RaGAN 0.005         1e-4, 400k, [50k,100k,200k,300k] x0.5
sosr   psnr         L1 (as esrgan psnr)                       as esrgan psnr
       sosr         WMSE 1 + feature 1 + RaGAN 0.005 (Eq. 2)  as esrgan gan; top-10 motion crops
spmc   sr           MSE (SPMC, 3 frames)                      1e-4, 300k, [200k] x0.5  (inferred)
duf16  sr           Huber d=0.01 (DUF-16L)                    1e-3, 300k, [100k,200k] x0.1
duf52  sr           Huber d=0.01 (DUF-52L)                    1e-3, 300k, [100k,200k] x0.1
tosr   duf          Huber (as duf16)                          as duf16
       tosr         warp loss 1 (Eq. 3: a=1, b=0.8, g=0.1,    1e-3, 200k, [100k] x0.1; top-10
                    L2, gap 1)                                motion crops
rrdb_psnr psnr      L1 (RRDBNet; esrgan's psnr phase alone)    as esrgan psnr
====== ============ ========================================= ===================================

Beyond the paper (a registry row with ``paper=False``: not a row of the paper's Table 2, so in
``presets.BEYOND_PAPER``, not ``presets.PRESETS``):

====== ============ ========================================= ===================================
rdsr   psnr         L1 (as esrgan psnr; the shared rrdb_psnr) as esrgan psnr
       task         L1 1 + spatial distillation 0.1 +         1e-4, 150k, [75k] x0.5; batch 4
                    temporal distillation 0.1 (T = 1)         clips of 6 frames; top-10 motion
====== ============ ========================================= ===================================

rdsr (recognition-driven SR) is an image architecture (ESRGAN/SoSR's RRDBNet, from the same PSNR
model), so one network serves both streams: its frames feed the RGB stream and their flow the flow
stream. Its task phase distils two frozen recognisers (``task.spatial_teacher``: a TSN RGB stream,
``task.temporal_teacher``: a TSN flow stream; folders of ``arsr.recognition``, trained with other
seeds than the recognisers that score the methods, set by the study) into the SR network: KL of
their class scores on SR vs HR input (arsr.losses.spatial_task_loss, temporal_task_loss; the
temporal one through unrolled TV-L1 flow of consecutive SR frames). No GAN, no VGG: the
recognisers are the feature networks. Its samples are clips of 6 consecutive frames (flow
stream's 5 fields + 1), every clip frame a training frame, so a batch of 4 clips is 24 frames
(SoSR: 16); weights and length are untuned starting values. ``RDSR_ABLATION`` holds the
ablation's overrides (pixel only / + spatial / + temporal, all on the same clips).

Bases (the registry's ``base``): ESRGAN and SoSR take their PSNR phase from one trained
``rrdb_psnr`` model and ToSR its first phase from a trained ``duf16``, as the papers do;
``presets.base_overrides`` wires that.

Common: HR patches 128 px (LR 32), batch 16, flips/rotations, ESRGAN's Adam betas (0.9, 0.99)
for RRDBNet methods, (0.9, 0.999) elsewhere (the papers' / TF defaults). VGG19 features at
conv5_4 before ReLU (ESRGAN) or after it (SRGAN's VGG54), L1 (BasicSR; SRGAN used MSE on
rescaled features). Iteration counts where the papers give epochs or nothing are marked
inferred. SRGAN/RCAN originally cropped 96/192 px; one patch size keeps the study's methods on
one footing. The discriminator is BasicSR's VGG-style one sized for the patch.
"""
from __future__ import annotations

from typing import Any, NamedTuple

from ..mapping import merged

__all__ = ["Phase", "cfg", "VGG19_WEIGHTS", "VDSR", "RCAN", "SRGAN", "ESRGAN", "SOSR", "SPMC", "DUF16", "DUF52",
           "TOSR", "RRDB_PSNR", "RDSR", "RDSR_CLIP", "RDSR_ABLATION"]

#: Where the study keeps torchvision's ImageNet VGG19 (vgg19-dcbb9e9d.pth) for feature losses.
VGG19_WEIGHTS = "data/models/vgg19-dcbb9e9d.pth"

_PAPER_DATA = {"hr_patch": 128, "batch_size": 16, "augment": True}
_ADAM = [0.9, 0.999]
_ESRGAN_ADAM = [0.9, 0.99]


class Phase(NamedTuple):
    name: str
    config: dict


def cfg(**kwargs: Any) -> dict:
    """One phase's config: the paper's data settings, logging and checkpoints, then ``kwargs``."""
    base = {"data": dict(_PAPER_DATA), "log_every": 100, "checkpoint_every": 5000}
    return merged(base, kwargs)


_ESRGAN_PSNR = cfg(
    arch="rrdbnet", iterations=1_000_000, pixel={"type": "l1", "weight": 1.0},
    optimizer={"lr": 2e-4, "betas": _ESRGAN_ADAM},
    scheduler={"milestones": [200_000, 400_000, 600_000, 800_000], "gamma": 0.5})

_ESRGAN_GAN = cfg(
    arch="rrdbnet", iterations=400_000, pixel={"type": "l1", "weight": 0.01},
    feature={"weight": 1.0, "network": "vgg19", "layer": "conv5_4", "before_relu": True,
             "vgg_weights": VGG19_WEIGHTS},
    gan={"type": "ragan", "weight": 0.005, "d_lr": 1e-4, "d_betas": _ESRGAN_ADAM, "disc": {"num_feat": 64}},
    optimizer={"lr": 1e-4, "betas": _ESRGAN_ADAM},
    scheduler={"milestones": [50_000, 100_000, 200_000, 300_000], "gamma": 0.5})

# SoSR (paper Eq. 2): 1·WMSE + 1·feature + 0.005·RaGAN on top-10 motion crops per frame.
_SOSR = merged(_ESRGAN_GAN, {"pixel": {"type": "wmse", "weight": 1.0, "normalize": False, "floor": 0.0},
                             "data": {"motion_top_k": 10, "motion_candidates": 100}})

_SRRESNET = cfg(
    arch="srresnet", iterations=1_000_000, pixel={"type": "mse", "weight": 1.0},
    optimizer={"lr": 1e-4, "betas": _ADAM}, scheduler={"milestones": [], "gamma": 0.1})

_SRGAN = cfg(
    arch="srresnet", iterations=200_000, pixel={"type": "none", "weight": 0.0},
    feature={"weight": 1.0, "network": "vgg19", "layer": "conv5_4", "before_relu": False,
             "vgg_weights": VGG19_WEIGHTS},
    gan={"type": "vanilla", "weight": 1e-3, "d_lr": 1e-4, "d_betas": _ADAM, "disc": {"num_feat": 64}},
    optimizer={"lr": 1e-4, "betas": _ADAM}, scheduler={"milestones": [100_000], "gamma": 0.1})


def _duf(num_layer: int) -> dict:
    # VSR-DUF code: Huber (delta 0.01), Adam 1e-3 divided by 10 every 10 epochs (iterations inferred)
    return cfg(arch="duf", arch_kwargs={"num_layer": num_layer}, iterations=300_000,
                pixel={"type": "huber", "weight": 1.0, "delta": 0.01},
                optimizer={"lr": 1e-3, "betas": _ADAM},
                scheduler={"milestones": [100_000, 200_000], "gamma": 0.1})


# ToSR (paper Eq. 3), from DUF-16L: warp loss only (its alpha terms are the pixel terms).
_TOSR = merged(_duf(16), {
    "iterations": 200_000, "pixel": {"type": "none", "weight": 0.0},
    "warp": {"weight": 1.0, "alpha": 1.0, "beta": 0.8, "gamma": 0.1, "norm": "l2", "gap": 1},
    "scheduler": {"milestones": [100_000], "gamma": 0.1},
    "data": {"motion_top_k": 10, "motion_candidates": 100}})

# Recognition-driven SR (beyond the paper): RRDBNet from the shared PSNR model, L1 + task terms.
RDSR_CLIP = 6  # the flow stream's new_length (5, TSN) + 1 frames
_RDSR_TASK = cfg(
    arch="rrdbnet", iterations=150_000, pixel={"type": "l1", "weight": 1.0},
    task={"spatial_weight": 0.1, "temporal_weight": 0.1, "temperature": 1.0, "feature_weight": 0.0},
    optimizer={"lr": 1e-4, "betas": _ESRGAN_ADAM},
    scheduler={"milestones": [75_000], "gamma": 0.5},
    data={"batch_size": 4, "motion_top_k": 10, "motion_candidates": 100})

#: rdsr's ablation: overrides of its task phase (pixel only / + spatial / + temporal = rdsr), each
#: on clips of the same length so that every variant sees the same frames per iteration.
RDSR_ABLATION: dict[str, dict] = {
    "pixel": {"phases": {"task": {"task": {"spatial_weight": 0.0, "temporal_weight": 0.0},
                                  "data": {"clip": RDSR_CLIP}}}},
    "spatial": {"phases": {"task": {"task": {"temporal_weight": 0.0}, "data": {"clip": RDSR_CLIP}}}},
    "temporal": {},
}


# The recipes, one per trainable model, as the registry's rows use them.
VDSR = (Phase("sr", cfg(arch="vdsr", iterations=300_000, pixel={"type": "mse", "weight": 1.0},
                        optimizer={"lr": 1e-4, "betas": _ADAM}, scheduler={"milestones": [200_000], "gamma": 0.5})),)
RCAN = (Phase("sr", cfg(arch="rcan", iterations=300_000, pixel={"type": "l1", "weight": 1.0},
                        optimizer={"lr": 1e-4, "betas": _ADAM}, scheduler={"milestones": [200_000], "gamma": 0.5})),)
SRGAN = (Phase("psnr", _SRRESNET), Phase("gan", _SRGAN))
ESRGAN = (Phase("psnr", _ESRGAN_PSNR), Phase("gan", _ESRGAN_GAN))
SOSR = (Phase("psnr", _ESRGAN_PSNR), Phase("sosr", _SOSR))
SPMC = (Phase("sr", cfg(arch="spmc", iterations=300_000, pixel={"type": "mse", "weight": 1.0},
                        optimizer={"lr": 1e-4, "betas": _ADAM}, scheduler={"milestones": [200_000], "gamma": 0.5})),)
DUF16 = (Phase("sr", _duf(16)),)
DUF52 = (Phase("sr", _duf(52)),)
TOSR = (Phase("duf", _duf(16)), Phase("tosr", _TOSR))
#: ESRGAN's PSNR-oriented RRDBNet alone: the one model ESRGAN, SoSR and RDSR start from
RRDB_PSNR = (Phase("psnr", _ESRGAN_PSNR),)
RDSR = (Phase("psnr", _ESRGAN_PSNR), Phase("task", _RDSR_TASK))
