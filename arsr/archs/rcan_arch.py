"""RCAN: Zhang et al., "Image Super-Resolution Using Very Deep Residual Channel Attention Networks", ECCV 2018."""
from __future__ import annotations

import torch
from torch import nn

from .arch_util import Upsample, bicubic_upscale, make_layer, zero_init_


class ChannelAttention(nn.Module):
    """Squeeze-and-excitation gate: global average pool, 1x1 conv down by ``squeeze_factor``,
    ReLU, 1x1 conv up, sigmoid, multiply. ``x: (b, c, h, w)`` -> ``(b, c, h, w)``."""

    def __init__(self, num_feat: int = 64, squeeze_factor: int = 16):
        super().__init__()
        self.attention = nn.Sequential(
            nn.AdaptiveAvgPool2d(1),
            nn.Conv2d(num_feat, num_feat // squeeze_factor, 1),
            nn.ReLU(inplace=True),
            nn.Conv2d(num_feat // squeeze_factor, num_feat, 1),
            nn.Sigmoid(),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.attention(x)


class RCAB(nn.Module):
    """Residual channel attention block: x + res_scale · CA(conv(ReLU(conv(x)))).
    ``x: (b, c, h, w)`` -> ``(b, c, h, w)``."""

    def __init__(self, num_feat: int = 64, squeeze_factor: int = 16, res_scale: float = 1.0):
        super().__init__()
        self.res_scale = res_scale
        self.rcab = nn.Sequential(
            nn.Conv2d(num_feat, num_feat, 3, 1, 1),
            nn.ReLU(inplace=True),
            nn.Conv2d(num_feat, num_feat, 3, 1, 1),
            ChannelAttention(num_feat, squeeze_factor),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.rcab(x) * self.res_scale


class ResidualGroup(nn.Module):
    """``num_block`` RCABs and a 3x3 conv inside a short skip connection.
    ``x: (b, c, h, w)`` -> ``(b, c, h, w)``."""

    def __init__(self, num_feat: int = 64, num_block: int = 20, squeeze_factor: int = 16,
                 res_scale: float = 1.0):
        super().__init__()
        self.residual_group = make_layer(RCAB, num_block, num_feat=num_feat,
                                         squeeze_factor=squeeze_factor, res_scale=res_scale)
        self.conv = nn.Conv2d(num_feat, num_feat, 3, 1, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.conv(self.residual_group(x))


class RCAN(nn.Module):
    """Residual channel attention network, x``scale`` single-image SR.

    Keeps BasicSR's ``RCAN`` key names (``conv_first``, ``body.{g}.residual_group.{b}.rcab.{0,2}``,
    ``body.{g}.residual_group.{b}.rcab.3.attention.{1,3}``, ``body.{g}.conv``, ``conv_after_body``,
    ``upsample.{0,2}``, ``conv_last``) so BasicSR RCAN checkpoints load; like BasicSR, the network
    works on ``(x - rgb_mean) · img_range`` and the mean is not part of the state dict.
    Defaults are the paper's: 10 groups of 20 RCABs, 64 features, reduction 16 (BasicSR's default
    ``num_block`` is 16; its released RCAN configs use 20).

    ``global_residual`` (not in the paper; off by default): output = MATLAB-bicubic x``scale`` of
    the input + the network's output / ``img_range`` (instead of + ``rgb_mean``), with
    ``conv_last`` zero-initialised, so an untrained model returns the bicubic baseline. Same
    state-dict keys either way.

    ``x: (b, num_in_ch, h, w)`` RGB in [0, 1] -> ``(b, num_out_ch, scale·h, scale·w)``.
    """

    def __init__(self, num_in_ch: int = 3, num_out_ch: int = 3, num_feat: int = 64,
                 num_group: int = 10, num_block: int = 20, squeeze_factor: int = 16,
                 scale: int = 4, res_scale: float = 1.0, img_range: float = 255.0,
                 rgb_mean: tuple[float, ...] = (0.4488, 0.4371, 0.4040),
                 global_residual: bool = False):
        super().__init__()
        if global_residual and num_in_ch != num_out_ch:
            raise ValueError(f"RCAN: global_residual adds the bicubic-upscaled input to the output, so "
                             f"num_in_ch ({num_in_ch}) must equal num_out_ch ({num_out_ch})")
        if len(rgb_mean) not in (1, num_in_ch) or len(rgb_mean) not in (1, num_out_ch):
            raise ValueError(f"RCAN: rgb_mean has {len(rgb_mean)} values; it is subtracted from the "
                             f"{num_in_ch} input and added to the {num_out_ch} output channels")
        self.scale = scale
        self.img_range = img_range
        self.global_residual = global_residual
        self.register_buffer("mean", torch.tensor(rgb_mean).view(1, -1, 1, 1), persistent=False)
        self.conv_first = nn.Conv2d(num_in_ch, num_feat, 3, 1, 1)
        self.body = make_layer(ResidualGroup, num_group, num_feat=num_feat, num_block=num_block,
                               squeeze_factor=squeeze_factor, res_scale=res_scale)
        self.conv_after_body = nn.Conv2d(num_feat, num_feat, 3, 1, 1)
        self.upsample = Upsample(scale, num_feat)
        self.conv_last = nn.Conv2d(num_feat, num_out_ch, 3, 1, 1)
        if global_residual:
            zero_init_(self.conv_last)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``x: (b, num_in_ch, h, w)`` -> ``(b, num_out_ch, scale·h, scale·w)``."""
        mean = self.mean.to(x.dtype)
        feat = self.conv_first((x - mean) * self.img_range)
        feat = feat + self.conv_after_body(self.body(feat))
        out = self.conv_last(self.upsample(feat)) / self.img_range
        return out + (bicubic_upscale(x, self.scale) if self.global_residual else mean)
