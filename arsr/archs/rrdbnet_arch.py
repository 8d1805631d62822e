"""RRDBNet: Wang et al., "ESRGAN: Enhanced Super-Resolution Generative Adversarial Networks", ECCVW 2018 (SoSR's generator)."""  # noqa: E501 (the one-line citation)
from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from .arch_util import bicubic_upscale, default_init_weights, make_layer, zero_init_


class ResidualDenseBlock(nn.Module):
    """Five densely connected 3x3 convs (growth ``num_grow_ch``, LeakyReLU 0.2), output scaled by
    0.2 and added to the input. ``x: (b, num_feat, h, w)`` -> ``(b, num_feat, h, w)``."""

    def __init__(self, num_feat: int = 64, num_grow_ch: int = 32):
        super().__init__()
        self.conv1 = nn.Conv2d(num_feat, num_grow_ch, 3, 1, 1)
        self.conv2 = nn.Conv2d(num_feat + num_grow_ch, num_grow_ch, 3, 1, 1)
        self.conv3 = nn.Conv2d(num_feat + 2 * num_grow_ch, num_grow_ch, 3, 1, 1)
        self.conv4 = nn.Conv2d(num_feat + 3 * num_grow_ch, num_grow_ch, 3, 1, 1)
        self.conv5 = nn.Conv2d(num_feat + 4 * num_grow_ch, num_feat, 3, 1, 1)
        self.lrelu = nn.LeakyReLU(negative_slope=0.2, inplace=True)
        default_init_weights([self.conv1, self.conv2, self.conv3, self.conv4, self.conv5], 0.1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x1 = self.lrelu(self.conv1(x))
        x2 = self.lrelu(self.conv2(torch.cat((x, x1), 1)))
        x3 = self.lrelu(self.conv3(torch.cat((x, x1, x2), 1)))
        x4 = self.lrelu(self.conv4(torch.cat((x, x1, x2, x3), 1)))
        x5 = self.conv5(torch.cat((x, x1, x2, x3, x4), 1))
        return x + 0.2 * x5


class RRDB(nn.Module):
    """Residual-in-residual dense block: three ResidualDenseBlocks, output scaled by 0.2 and added
    to the input. ``x: (b, num_feat, h, w)`` -> ``(b, num_feat, h, w)``."""

    def __init__(self, num_feat: int = 64, num_grow_ch: int = 32):
        super().__init__()
        self.rdb1 = ResidualDenseBlock(num_feat, num_grow_ch)
        self.rdb2 = ResidualDenseBlock(num_feat, num_grow_ch)
        self.rdb3 = ResidualDenseBlock(num_feat, num_grow_ch)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + 0.2 * self.rdb3(self.rdb2(self.rdb1(x)))


class RRDBNet(nn.Module):
    """ESRGAN's generator (SoSR uses it unchanged): ``num_block`` RRDBs in a long skip, then two
    x2 nearest-neighbour upsample + conv stages.

    Keeps BasicSR's ``RRDBNet`` key names (``conv_first``, ``body.{i}.rdb{1,2,3}.conv{1..5}``,
    ``conv_body``, ``conv_up1``, ``conv_up2``, ``conv_hr``, ``conv_last``) so ESRGAN/BasicSR
    checkpoints load. As in BasicSR, ``scale`` 2 and 1 first pixel-unshuffle the input by 2 and 4
    (``conv_first`` then takes 4·/16·``num_in_ch`` channels).

    ``global_residual`` (not in ESRGAN; off by default): output = MATLAB-bicubic x``scale`` of the
    input + the network's output, with ``conv_last`` zero-initialised, so an untrained model
    returns the bicubic baseline. Same state-dict keys either way.

    ``x: (b, num_in_ch, h, w)`` RGB in [0, 1] -> ``(b, num_out_ch, scale·h, scale·w)``.
    """

    def __init__(self, num_in_ch: int = 3, num_out_ch: int = 3, scale: int = 4, num_feat: int = 64,
                 num_block: int = 23, num_grow_ch: int = 32, global_residual: bool = False):
        super().__init__()
        if scale not in (1, 2, 4):
            raise ValueError(f"RRDBNet: scale {scale} is not supported; use 1, 2 or 4")
        if global_residual and num_in_ch != num_out_ch:
            raise ValueError(f"RRDBNet: global_residual adds the bicubic-upscaled input to the output, "
                             f"so num_in_ch ({num_in_ch}) must equal num_out_ch ({num_out_ch})")
        self.scale = scale
        self.global_residual = global_residual
        self.unshuffle = {4: 1, 2: 2, 1: 4}[scale]
        self.conv_first = nn.Conv2d(num_in_ch * self.unshuffle ** 2, num_feat, 3, 1, 1)
        self.body = make_layer(RRDB, num_block, num_feat=num_feat, num_grow_ch=num_grow_ch)
        self.conv_body = nn.Conv2d(num_feat, num_feat, 3, 1, 1)
        self.conv_up1 = nn.Conv2d(num_feat, num_feat, 3, 1, 1)
        self.conv_up2 = nn.Conv2d(num_feat, num_feat, 3, 1, 1)
        self.conv_hr = nn.Conv2d(num_feat, num_feat, 3, 1, 1)
        self.conv_last = nn.Conv2d(num_feat, num_out_ch, 3, 1, 1)
        self.lrelu = nn.LeakyReLU(negative_slope=0.2, inplace=True)
        if global_residual:
            zero_init_(self.conv_last)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``x: (b, num_in_ch, h, w)`` -> ``(b, num_out_ch, scale·h, scale·w)``; for ``scale`` 1
        and 2, ``h`` and ``w`` must be multiples of 4 and 2."""
        base = bicubic_upscale(x, self.scale) if self.global_residual else None
        if self.unshuffle > 1:
            x = F.pixel_unshuffle(x, self.unshuffle)
        feat = self.conv_first(x)
        feat = feat + self.conv_body(self.body(feat))
        feat = self.lrelu(self.conv_up1(F.interpolate(feat, scale_factor=2, mode="nearest")))
        feat = self.lrelu(self.conv_up2(F.interpolate(feat, scale_factor=2, mode="nearest")))
        out = self.conv_last(self.lrelu(self.conv_hr(feat)))
        return out if base is None else out + base
