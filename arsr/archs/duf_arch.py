"""VSR-DUF: Jo, Oh, Kang, Kim, "Deep Video Super-Resolution Network Using Dynamic Upsampling Filters Without Explicit Motion Compensation", CVPR 2018."""  # noqa: E501 (the one-line citation)
from __future__ import annotations

import math
from typing import Optional

import torch
from torch import nn
from torch.nn import functional as F

from .arch_util import zero_init_

__all__ = ["DUF", "dynamic_upsampling", "bilinear_filter_taps", "sliding_window_sr", "duf_video"]

# num_layer -> (dense blocks before the temporal reduction, growth rate), as the official
# FR_16L / FR_28L / FR_52L (yhjo09/VSR-DUF nets.py) and BasicSR's DUF.
DUF_DEPTHS = {16: (3, 32), 28: (9, 16), 52: (21, 16)}
NUM_FRAMES = 7  # three temporal-reduction blocks each drop 2 frames: 7 -> 1
FILTER_SIZE = 5
# Softmax weight of a tap that bilinear interpolation does not use, relative to the used taps'
# total of 1, in the ``global_residual`` initialisation: small enough to start within
# 25 * 1e-4 of bilinear, large enough (log 1e-4 = -9.2) for the tap to be learnt.
FILTER_INIT_FLOOR = 1e-4


def _bn_eps_momentum(adapt_official_weights: bool) -> tuple[float, float]:
    # TF's BatchNorm in the official code: eps 1e-3, decay 0.999 (= torch momentum 1e-3).
    return (1e-3, 1e-3) if adapt_official_weights else (1e-5, 0.1)


def _dense_unit(in_ch: int, growth: int, temporal_pad: int, eps: float, momentum: float) -> nn.Sequential:
    """BN-ReLU-Conv1x1x1-BN-ReLU-Conv3x3x3; indices 0..5 as BasicSR so keys match."""
    return nn.Sequential(
        nn.BatchNorm3d(in_ch, eps=eps, momentum=momentum),
        nn.ReLU(inplace=True),
        nn.Conv3d(in_ch, in_ch, (1, 1, 1), stride=1, padding=0, bias=True),
        nn.BatchNorm3d(in_ch, eps=eps, momentum=momentum),
        nn.ReLU(inplace=True),
        nn.Conv3d(in_ch, growth, (3, 3, 3), stride=1, padding=(temporal_pad, 1, 1), bias=True),
    )


class DenseBlocks(nn.Module):
    """Dense 3D blocks that keep the number of frames (zero temporal padding).

    x: (b, num_feat, t, h, w) -> (b, num_feat + num_block * num_grow_ch, t, h, w)
    """

    def __init__(self, num_block: int, num_feat: int = 64, num_grow_ch: int = 16,
                 adapt_official_weights: bool = False):
        super().__init__()
        eps, momentum = _bn_eps_momentum(adapt_official_weights)
        self.dense_blocks = nn.ModuleList(
            _dense_unit(num_feat + i * num_grow_ch, num_grow_ch, 1, eps, momentum)
            for i in range(num_block))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for block in self.dense_blocks:
            x = torch.cat((x, block(x)), dim=1)
        return x


class DenseBlocksTemporalReduce(nn.Module):
    """Three dense 3D blocks without temporal padding: each drops the first and last frame.

    x: (b, num_feat, t, h, w) -> (b, num_feat + 3 * num_grow_ch, t - 6, h, w)
    """

    def __init__(self, num_feat: int = 64, num_grow_ch: int = 32, adapt_official_weights: bool = False):
        super().__init__()
        eps, momentum = _bn_eps_momentum(adapt_official_weights)
        for i in range(3):  # attribute names temporal_reduce1..3 as BasicSR
            setattr(self, f"temporal_reduce{i + 1}",
                    _dense_unit(num_feat + i * num_grow_ch, num_grow_ch, 0, eps, momentum))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for block in (self.temporal_reduce1, self.temporal_reduce2, self.temporal_reduce3):
            x = torch.cat((x[:, :, 1:-1], block(x)), dim=1)
        return x


def dynamic_upsampling(x: torch.Tensor, filters: torch.Tensor) -> torch.Tensor:
    """Apply per-pixel filters, one per sub-pixel position, to every channel of ``x``.

    x: (b, c, h, w); filters: (b, k*k, s*s, h, w), taps in row-major order over a k x k
    window centred on the pixel (zero padding at the border).
    Returns (b, c * s*s, h, w), channel c*s*s + i*s + j being sub-pixel (i, j) of channel c,
    i.e. the layout ``F.pixel_shuffle(out, s)`` expects.
    """
    b, c, h, w = x.shape
    taps, subpixels = filters.shape[1:3]
    k = int(round(taps ** 0.5))
    if k * k != taps or filters.shape[0] != b or filters.shape[3:] != (h, w):
        raise ValueError(f"filters must be (b, k*k, s*s, h, w) matching x {tuple(x.shape)}, "
                         f"got {tuple(filters.shape)}")
    patches = F.unfold(x, k, padding=k // 2).view(b, c, taps, h, w)
    out = torch.einsum("bckhw,bkshw->bcshw", patches, filters)
    return out.reshape(b, c * subpixels, h, w)


def bilinear_filter_taps(scale: int, filter_size: int = FILTER_SIZE) -> torch.Tensor:
    """Bilinear x``scale`` interpolation (``align_corners=False``) as dynamic upsampling filters.

    Sub-pixel (i, j) of LR pixel p sits at ``p + ((i + 0.5) / scale - 0.5, (j + 0.5) / scale - 0.5)``
    and takes the bilinear weights of the (at most) 2 x 2 LR pixels around it.
    Returns (filter_size², scale²) float64: tap t (row-major in the window), sub-pixel i·scale + j,
    the layout of ``dynamic_upsampling``'s filters; each column sums to one.
    """
    radius = filter_size // 2
    taps_1d = torch.zeros(scale, filter_size, dtype=torch.float64)  # (sub-pixel, offset + radius)
    for i in range(scale):
        pos = (i + 0.5) / scale - 0.5
        lo = math.floor(pos)
        if lo < -radius or lo + 1 > radius:
            raise ValueError(f"bilinear_filter_taps: a {filter_size}x{filter_size} window is too small")
        taps_1d[i, lo + radius] += 1.0 - (pos - lo)
        taps_1d[i, lo + 1 + radius] += pos - lo
    # (dy, dx, i, j) -> (tap, sub-pixel)
    taps = torch.einsum("iy,jx->yxij", taps_1d, taps_1d)
    return taps.reshape(filter_size ** 2, scale ** 2)


class DUF(nn.Module):
    """VSR-DUF: 3D-conv dense net -> per-pixel dynamic upsampling filters + residual.

    HR = pixel_shuffle(filters * centre frame) + pixel_shuffle(residual).
    Keeps BasicSR's ``DUF`` state-dict keys (``conv3d1``, ``dense_block1.dense_blocks.*``,
    ``dense_block2.temporal_reduce{1,2,3}.*``, ``bn3d2``, ``conv3d2``, ``conv3d_r{1,2}``,
    ``conv3d_f{1,2}``), so BasicSR's converted ``DUF_x4_{16,28,52}L_official`` checkpoints
    load unchanged (with ``adapt_official_weights=True`` for their BN eps/momentum).

    Args:
        scale: upscaling factor.
        num_layer: 16, 28 or 52 (the paper's variants); picks ``num_block`` and ``num_grow_ch``.
        adapt_official_weights: BN eps 1e-3 / momentum 1e-3 as the TF original.
        num_feat: channels of the first 3D conv (64 in the paper).
        num_block, num_grow_ch: override the dense depth / growth that ``num_layer`` selects
            (for tiny test profiles); ``None`` keeps the paper's.
        num_mid: channels after the dense blocks (256).
        num_filter_hidden: hidden channels of the filter branch (512).
        num_in_ch: input channels (3, RGB).
        global_residual: initialise the filters to bilinear x``scale`` taps (``conv3d_f2``: zero
            weight, bias log max(tap, FILTER_INIT_FLOOR)) and the residual to zero (``conv3d_r2``),
            so an untrained model returns bilinear x``scale`` of the centre frame (zero padding
            at the border) within 25·FILTER_INIT_FLOOR = 2.5e-3 for inputs in [0, 1]; softmax
            filters cannot hold bicubic's negative taps. Only the initialisation changes: forward
            pass and state-dict keys are the published ones (not in the paper; off by default).

    Input x: (b, 7, c, h, w) in [0, 1]; returns (b, c, scale*h, scale*w).
    """

    def __init__(self, scale: int = 4, num_layer: int = 16, adapt_official_weights: bool = False,
                 num_feat: int = 64, num_block: Optional[int] = None, num_grow_ch: Optional[int] = None,
                 num_mid: int = 256, num_filter_hidden: int = 512, num_in_ch: int = 3,
                 global_residual: bool = False):
        super().__init__()
        if num_layer not in DUF_DEPTHS:
            raise ValueError(f"DUF num_layer must be one of {sorted(DUF_DEPTHS)}, got {num_layer}")
        default_block, default_grow = DUF_DEPTHS[num_layer]
        num_block = default_block if num_block is None else num_block
        num_grow_ch = default_grow if num_grow_ch is None else num_grow_ch
        self.scale = scale
        self.num_layer = num_layer
        self.num_frames = NUM_FRAMES
        self.global_residual = global_residual
        eps, momentum = _bn_eps_momentum(adapt_official_weights)

        self.conv3d1 = nn.Conv3d(num_in_ch, num_feat, (1, 3, 3), stride=1, padding=(0, 1, 1), bias=True)
        self.dense_block1 = DenseBlocks(num_block, num_feat, num_grow_ch, adapt_official_weights)
        channels = num_feat + num_block * num_grow_ch
        self.dense_block2 = DenseBlocksTemporalReduce(channels, num_grow_ch, adapt_official_weights)
        channels += 3 * num_grow_ch
        self.bn3d2 = nn.BatchNorm3d(channels, eps=eps, momentum=momentum)
        self.conv3d2 = nn.Conv3d(channels, num_mid, (1, 3, 3), stride=1, padding=(0, 1, 1), bias=True)
        # residual branch
        self.conv3d_r1 = nn.Conv3d(num_mid, num_mid, 1, bias=True)
        self.conv3d_r2 = nn.Conv3d(num_mid, num_in_ch * scale ** 2, 1, bias=True)
        # filter branch
        self.conv3d_f1 = nn.Conv3d(num_mid, num_filter_hidden, 1, bias=True)
        self.conv3d_f2 = nn.Conv3d(num_filter_hidden, FILTER_SIZE ** 2 * scale ** 2, 1, bias=True)
        if global_residual:
            self._init_at_bilinear()

    @torch.no_grad()
    def _init_at_bilinear(self) -> None:
        """Filters = bilinear taps for every input (softmax of a constant logit), residual = 0."""
        zero_init_(self.conv3d_r2)
        taps = bilinear_filter_taps(self.scale, FILTER_SIZE)  # channel = tap * scale^2 + sub-pixel
        self.conv3d_f2.weight.zero_()
        self.conv3d_f2.bias.copy_(taps.clamp_min(FILTER_INIT_FLOOR).log().flatten())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x: (b, 7, c, h, w) -> HR centre frame (b, c, scale*h, scale*w)."""
        b, t, c, h, w = x.shape
        if t != self.num_frames:
            raise ValueError(f"DUF takes exactly {self.num_frames} frames (b, 7, c, h, w), "
                             f"got {tuple(x.shape)}; use sliding_window_sr for whole clips")
        x = x.transpose(1, 2)  # (b, c, t, h, w) for Conv3d
        centre = x[:, :, t // 2]

        feat = self.dense_block2(self.dense_block1(self.conv3d1(x)))
        feat = F.relu(self.bn3d2(feat))
        feat = F.relu(self.conv3d2(feat))  # (b, num_mid, 1, h, w)

        residual = self.conv3d_r2(F.relu(self.conv3d_r1(feat))).squeeze(2)
        filters = self.conv3d_f2(F.relu(self.conv3d_f1(feat)))
        # channel index = tap * scale^2 + sub-pixel, softmax over the 25 taps (official reshape)
        filters = F.softmax(filters.view(b, FILTER_SIZE ** 2, self.scale ** 2, h, w), dim=1)

        out = dynamic_upsampling(centre, filters) + residual
        return F.pixel_shuffle(out, self.scale)


def sliding_window_sr(model: nn.Module, lr: torch.Tensor, num_frames: int, pad: str = "zeros",
                      batch_size: int = 1) -> torch.Tensor:
    """Super-resolve every frame of a clip with a model that maps a window to its centre frame.

    The clip is padded with ``num_frames // 2`` frames at each end: ``"zeros"`` (black frames,
    as the VSR-DUF and TwoStreamSR test scripts), ``"replicate"`` (first/last frame repeated, as
    SPMC's test script) or ``"reflect"`` (mirrored about the end frames). Runs under
    ``torch.no_grad()``; the caller sets ``model.eval()``. The authors clip to [0, 1] when saving.

    lr: (t, c, h, w) or (b, t, c, h, w). Returns (t, c, s*h, s*w) or (b, t, c, s*h, s*w).
    ``batch_size`` windows (per clip) go through the model at once.
    """
    if lr.dim() not in (4, 5):
        raise ValueError(f"lr must be (t, c, h, w) or (b, t, c, h, w), got {tuple(lr.shape)}")
    single = lr.dim() == 4
    clip = lr.unsqueeze(0) if single else lr
    b, t = clip.shape[:2]
    radius = num_frames // 2
    if pad == "zeros":
        edge = clip.new_zeros((b, radius) + clip.shape[2:])
        padded = torch.cat((edge, clip, edge), dim=1)
    elif pad == "replicate":
        padded = torch.cat((clip[:, :1].expand(-1, radius, -1, -1, -1), clip,
                            clip[:, -1:].expand(-1, radius, -1, -1, -1)), dim=1)
    elif pad == "reflect":
        if t <= radius:
            raise ValueError(f"pad='reflect' needs more than {radius} frames, got {t}")
        padded = torch.cat((clip[:, 1:radius + 1].flip(1), clip, clip[:, -radius - 1:-1].flip(1)), dim=1)
    else:
        raise ValueError(f"pad must be 'zeros', 'replicate' or 'reflect', got {pad!r}")

    outs = []
    with torch.no_grad():
        for start in range(0, t, batch_size):
            idx = range(start, min(start + batch_size, t))
            windows = torch.stack([padded[:, i:i + num_frames] for i in idx], dim=1)  # (b, n, T, c, h, w)
            sr = model(windows.flatten(0, 1))
            outs.append(sr.view(b, len(idx), *sr.shape[1:]))
    out = torch.cat(outs, dim=1)
    return out[0] if single else out


def duf_video(model: DUF, lr_clip: torch.Tensor, pad: str = "zeros", batch_size: int = 1) -> torch.Tensor:
    """All SR frames of a clip from DUF: a 7-frame window, 3 zero frames at each end (authors' code).

    lr_clip: (t, c, h, w) or (b, t, c, h, w) -> (t, c, 4h, 4w) or (b, t, c, 4h, 4w).
    """
    return sliding_window_sr(model, lr_clip, model.num_frames, pad=pad, batch_size=batch_size)
