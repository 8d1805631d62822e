"""Super-resolution architectures of the study, built by name from one explicit dict.

Single-image models take LR ``(b, c, h, w)``; video models take ``(b, t, c, h, w)`` and return
the centre frame; all return ``(b, c, s*h, s*w)`` RGB in [0, 1].
"""
from __future__ import annotations

import torch.nn as nn

from .arch_util import count_parameters, load_weights
from .bicubic_arch import Bicubic
from .discriminator_arch import VGGStyleDiscriminator
from .duf_arch import DUF
from .rcan_arch import RCAN
from .rrdbnet_arch import RRDBNet
from .spmc_arch import SPMC
from .srresnet_arch import MSRResNet
from .vdsr_arch import VDSR
from .vgg_arch import VGGFeatureExtractor

ARCHS: dict[str, type[nn.Module]] = {
    "bicubic": Bicubic,
    "vdsr": VDSR,
    "rcan": RCAN,
    "srresnet": MSRResNet,
    "rrdbnet": RRDBNet,
    "spmc": SPMC,
    "duf": DUF,
    "vgg_discriminator": VGGStyleDiscriminator,
}

#: Architectures that read a window of LR frames ``(b, t, c, h, w)``.
VIDEO_ARCHS = ("spmc", "duf")


def build_arch(name: str, **kwargs) -> nn.Module:
    """Instantiate architecture ``name`` with keyword overrides of its published defaults."""
    try:
        cls = ARCHS[name]
    except KeyError:
        raise ValueError(f"unknown architecture {name!r}; choose one of {', '.join(ARCHS)}") from None
    try:
        return cls(**kwargs)
    except TypeError as err:
        raise TypeError(f"{name} ({cls.__name__}): {err}") from None


def is_video_arch(name: str) -> bool:
    return name in VIDEO_ARCHS


__all__ = ["ARCHS", "VIDEO_ARCHS", "build_arch", "is_video_arch", "count_parameters", "load_weights",
           "Bicubic", "VDSR", "RCAN", "MSRResNet", "RRDBNet", "SPMC", "DUF",
           "VGGStyleDiscriminator", "VGGFeatureExtractor"]
