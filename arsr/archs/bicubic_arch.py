"""Bicubic upscaling, the baseline of every SR table (MATLAB ``imresize``; Keys, IEEE TASSP 1981)."""
from __future__ import annotations

import torch
from torch import nn

from arsr.ops.imresize import imresize


class Bicubic(nn.Module):
    """MATLAB-style bicubic upscaling by ``scale`` (cubic a = -0.5), no weights.

    Its state dict is empty, so it loads and saves like the learned models.
    ``x: (b, c, h, w)`` RGB in [0, 1] -> ``(b, c, scale·h, scale·w)``, unclipped (bicubic
    overshoots slightly outside [0, 1] at edges).
    """

    def __init__(self, scale: int = 4):
        super().__init__()
        self.scale = scale

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``x: (b, c, h, w)`` -> ``(b, c, scale·h, scale·w)``."""
        return imresize(x, self.scale)
