"""VDSR: Kim, Lee, Lee, "Accurate Image Super-Resolution Using Very Deep Convolutional Networks", CVPR 2016."""
from __future__ import annotations

import math

import torch
from torch import nn

from arsr.ops.color import rgb_to_ycbcr, ycbcr_to_rgb
from arsr.ops.imresize import imresize

from .arch_util import make_layer


class ConvReLU(nn.Module):
    """3x3 conv then ReLU (pytorch-vdsr's ``Conv_ReLU_Block``; key ``conv``).
    ``x: (b, c, h, w)`` -> ``(b, c, h, w)``."""

    def __init__(self, num_feat: int = 64, bias: bool = True):
        super().__init__()
        self.conv = nn.Conv2d(num_feat, num_feat, 3, 1, 1, bias=bias)
        self.relu = nn.ReLU(inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.relu(self.conv(x))


class VDSR(nn.Module):
    """VDSR: ``num_conv`` 3x3 convs (ReLU between) predicting the residual of the MATLAB-bicubic
    upscaled input; the model upscales its LR input itself.

    Keeps twtygqyy/pytorch-vdsr's key names (``input.weight``, ``residual_layer.{i}.conv.weight``
    for i < num_conv - 2, ``output.weight``, plus ``.bias`` when ``bias``), so that release's
    ``model_epoch_50.pth`` (re-saved as a state dict; ``bias=False``) loads unchanged.

    ``in_ch=3`` runs on RGB. ``in_ch=1`` is the published setting: the network sees the Y channel
    of MATLAB's YCbCr (BT.601, Y in [16, 235]/255) of the bicubic-upscaled image, while Cb and Cr
    stay bicubic; the result is converted back to RGB.

    ``x: (b, 3, h, w)`` RGB in [0, 1] (or ``(b, 1, h, w)`` Y when ``in_ch=1``)
    -> same channels at ``(scale·h, scale·w)``, unclipped.
    """

    def __init__(self, in_ch: int = 3, num_feat: int = 64, num_conv: int = 20, bias: bool = True,
                 scale: int = 4):
        super().__init__()
        if num_conv < 2:
            raise ValueError(f"VDSR: num_conv must be at least 2 (input and output), got {num_conv}")
        self.in_ch = in_ch
        self.scale = scale
        self.input = nn.Conv2d(in_ch, num_feat, 3, 1, 1, bias=bias)
        self.residual_layer = make_layer(ConvReLU, num_conv - 2, num_feat=num_feat, bias=bias)
        self.output = nn.Conv2d(num_feat, in_ch, 3, 1, 1, bias=bias)
        self.relu = nn.ReLU(inplace=True)
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                # pytorch-vdsr's init: N(0, 2 / (k·k·out_channels)), i.e. He init on fan-out
                n = m.kernel_size[0] * m.kernel_size[1] * m.out_channels
                nn.init.normal_(m.weight, 0.0, math.sqrt(2.0 / n))
                if m.bias is not None:
                    nn.init.zeros_(m.bias)

    def refine(self, x_up: torch.Tensor) -> torch.Tensor:
        """The network proper on an already upscaled input:
        ``x_up: (b, in_ch, H, W)`` -> ``x_up + residual``, ``(b, in_ch, H, W)``."""
        out = self.relu(self.input(x_up))
        out = self.output(self.residual_layer(out))
        return out + x_up

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``x: (b, c, h, w)`` LR -> ``(b, c, scale·h, scale·w)``; ``c`` is ``in_ch``, or 3
        (RGB, refined on Y) when ``in_ch=1``."""
        up = imresize(x, self.scale)
        if x.shape[1] == self.in_ch:
            return self.refine(up)
        if self.in_ch == 1 and x.shape[1] == 3:
            ycbcr = rgb_to_ycbcr(up)
            y = self.refine(ycbcr[:, :1])
            return ycbcr_to_rgb(torch.cat((y, ycbcr[:, 1:]), dim=1))
        raise ValueError(f"VDSR(in_ch={self.in_ch}) takes {self.in_ch}-channel input"
                         f"{' or RGB' if self.in_ch == 1 else ''}, got {x.shape[1]} channels")
