"""SRResNet: Ledig et al., "Photo-Realistic Single Image Super-Resolution Using a Generative Adversarial Network", CVPR 2017."""  # noqa: E501 (the one-line citation)
from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from .arch_util import ResidualBlockNoBN, bicubic_upscale, default_init_weights, make_layer, zero_init_


class MSRResNet(nn.Module):
    """SRGAN's generator as BasicSR's ``MSRResNet`` ("modified SRResNet": residual blocks without
    BatchNorm, LeakyReLU 0.1, a bilinear-upsampled copy of the input added to the output).

    Keeps BasicSR's key names (``conv_first``, ``body.{i}.conv{1,2}``, ``upconv1``, ``upconv2``
    (x4 only), ``conv_hr``, ``conv_last``) so BasicSR MSRResNet checkpoints load.
    ``scale`` is 2, 3 or 4.

    ``global_residual`` (off by default, BasicSR's model): add the MATLAB-bicubic upscaled input
    instead of the bilinear one and zero-initialise ``conv_last``, so an untrained model returns
    the bicubic baseline as the other networks' ``global_residual`` does. Same state-dict keys.

    ``x: (b, num_in_ch, h, w)`` RGB in [0, 1] -> ``(b, num_out_ch, scale·h, scale·w)``.
    """

    def __init__(self, num_in_ch: int = 3, num_out_ch: int = 3, num_feat: int = 64,
                 num_block: int = 16, scale: int = 4, global_residual: bool = False):
        super().__init__()
        if scale not in (2, 3, 4):
            raise ValueError(f"MSRResNet: scale {scale} is not supported; use 2, 3 or 4")
        if num_in_ch != num_out_ch:
            raise ValueError("MSRResNet adds the upsampled input to its output: "
                             f"num_in_ch ({num_in_ch}) must equal num_out_ch ({num_out_ch})")
        self.scale = scale
        self.global_residual = global_residual
        self.conv_first = nn.Conv2d(num_in_ch, num_feat, 3, 1, 1)
        self.body = make_layer(ResidualBlockNoBN, num_block, num_feat=num_feat)
        if scale == 4:
            self.upconv1 = nn.Conv2d(num_feat, num_feat * 4, 3, 1, 1)
            self.upconv2 = nn.Conv2d(num_feat, num_feat * 4, 3, 1, 1)
            self.pixel_shuffle = nn.PixelShuffle(2)
        else:
            self.upconv1 = nn.Conv2d(num_feat, num_feat * scale * scale, 3, 1, 1)
            self.pixel_shuffle = nn.PixelShuffle(scale)
        self.conv_hr = nn.Conv2d(num_feat, num_feat, 3, 1, 1)
        self.conv_last = nn.Conv2d(num_feat, num_out_ch, 3, 1, 1)
        self.lrelu = nn.LeakyReLU(negative_slope=0.1, inplace=True)

        default_init_weights([self.conv_first, self.upconv1, self.conv_hr, self.conv_last], 0.1)
        if scale == 4:
            default_init_weights(self.upconv2, 0.1)
        if global_residual:
            zero_init_(self.conv_last)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``x: (b, num_in_ch, h, w)`` -> ``(b, num_out_ch, scale·h, scale·w)``."""
        out = self.body(self.lrelu(self.conv_first(x)))
        out = self.lrelu(self.pixel_shuffle(self.upconv1(out)))
        if self.scale == 4:
            out = self.lrelu(self.pixel_shuffle(self.upconv2(out)))
        out = self.conv_last(self.lrelu(self.conv_hr(out)))
        if self.global_residual:
            base = bicubic_upscale(x, self.scale)
        else:
            base = F.interpolate(x, scale_factor=self.scale, mode="bilinear", align_corners=False)
        return out + base
