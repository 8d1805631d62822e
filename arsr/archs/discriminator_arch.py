"""VGG-style discriminator: Wang et al., "ESRGAN: Enhanced Super-Resolution Generative Adversarial Networks", ECCVW 2018 (after SRGAN's, Ledig et al., CVPR 2017)."""  # noqa: E501 (the one-line citation)
from __future__ import annotations

import torch
from torch import nn


class VGGStyleDiscriminator(nn.Module):
    """BasicSR's ``VGGStyleDiscriminator``: pairs of (3x3 conv, 4x4 stride-2 conv) with BatchNorm
    and LeakyReLU 0.2, widths num_feat·(1, 2, 4, 8, 8), then Linear(·, 100) - LeakyReLU -
    Linear(100, 1) giving one raw (pre-sigmoid) score per image.

    Keeps BasicSR's key names (``conv0_0``, ``conv0_1``, ``bn0_1``, ..., ``conv4_1``, ``bn4_1``,
    ``linear1``, ``linear2``; ``conv5_*``/``bn5_*`` for inputs of 256 px and more) so BasicSR
    discriminator checkpoints load. BasicSR allows 128 and 256 px only; here the first linear
    layer is sized for any ``input_size`` (each stride-2 stage floors the size by 2), so
    ``input_size=96`` gives SRGAN's 96 px patches a 3x3x512 final map.

    ``x: (b, num_in_ch, input_size, input_size)`` -> ``(b, 1)``.
    """

    def __init__(self, num_in_ch: int = 3, num_feat: int = 64, input_size: int = 128):
        super().__init__()
        self.input_size = input_size
        num_stages = 6 if input_size >= 256 else 5
        final_size = input_size
        for _ in range(num_stages):
            final_size //= 2
        if final_size < 1:
            raise ValueError(f"VGGStyleDiscriminator: input_size {input_size} is too small "
                             f"for {num_stages} stride-2 stages; use at least {2 ** num_stages}")

        self.conv0_0 = nn.Conv2d(num_in_ch, num_feat, 3, 1, 1, bias=True)
        self.conv0_1 = nn.Conv2d(num_feat, num_feat, 4, 2, 1, bias=False)
        self.bn0_1 = nn.BatchNorm2d(num_feat, affine=True)
        widths = [num_feat, num_feat * 2, num_feat * 4, num_feat * 8, num_feat * 8, num_feat * 8]
        for i in range(1, num_stages):
            c_in, c_out = widths[i - 1], widths[i]
            setattr(self, f"conv{i}_0", nn.Conv2d(c_in, c_out, 3, 1, 1, bias=False))
            setattr(self, f"bn{i}_0", nn.BatchNorm2d(c_out, affine=True))
            setattr(self, f"conv{i}_1", nn.Conv2d(c_out, c_out, 4, 2, 1, bias=False))
            setattr(self, f"bn{i}_1", nn.BatchNorm2d(c_out, affine=True))
        self.num_stages = num_stages
        self.linear1 = nn.Linear(widths[num_stages - 1] * final_size * final_size, 100)
        self.linear2 = nn.Linear(100, 1)
        self.lrelu = nn.LeakyReLU(negative_slope=0.2, inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``x: (b, num_in_ch, input_size, input_size)`` -> ``(b, 1)`` logits."""
        if tuple(x.shape[-2:]) != (self.input_size, self.input_size):
            raise ValueError(f"VGGStyleDiscriminator expects {self.input_size}x{self.input_size} "
                             f"inputs (input_size), got {tuple(x.shape[-2:])}")
        feat = self.lrelu(self.conv0_0(x))
        feat = self.lrelu(self.bn0_1(self.conv0_1(feat)))
        for i in range(1, self.num_stages):
            feat = self.lrelu(getattr(self, f"bn{i}_0")(getattr(self, f"conv{i}_0")(feat)))
            feat = self.lrelu(getattr(self, f"bn{i}_1")(getattr(self, f"conv{i}_1")(feat)))
        feat = self.lrelu(self.linear1(feat.flatten(1)))
        return self.linear2(feat)
