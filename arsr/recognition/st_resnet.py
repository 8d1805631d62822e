"""ST-ResNet (Feichtenhofer, Pinz, Wildes, "Spatiotemporal Residual Networks for Video Action Recognition", NIPS 2016)."""  # noqa: E501 (the one-line citation)
from __future__ import annotations

import os
from typing import NamedTuple, Sequence

import torch
import torch.nn.functional as F
from torch import nn

from .resnet import DEFAULT_PARAMS_KEY, RESNETS, BasicBlock, Bottleneck, ResNet, load_imagenet as _load_imagenet
from .tsn import fuse_scores

# What follows the authors' MatConvNet code (feichtenhofer/st-resnet, STResNet_stage1.m / stage2.m):
# - two ResNets, appearance (RGB) and motion (stacked flow; the paper stacks L = 10 fields, 20
#   channels, TSN 5 fields, 10 channels: `flow_channels`), each initialised from its own model;
# - motion -> appearance connections at res2a..res5a (`fusionLayer`): the motion stream's output of
#   the first unit of each stage, after its ReLU, is added to the appearance stream's pre-ReLU output
#   of the same unit, and the sum feeds the residual branch of the next unit (res2b..res5b) while its
#   identity path keeps the plain appearance signal. Paper Eq.: x_{l+1}^a = f(x_l^a) + F(x_l^a + f(x_l^m)).
#   Parameter-free sums (`doSum = 1`, `doScale = 0`); gradients reach the motion stream (`backpropFuseFrom`);
# - temporal convolutions: the 1x1 convs of the residual branch (`b_branch2a`, `b_branch2c`) of those
#   receiving units, in both streams, become 3-tap convs over time (zero-padded). The released code
#   initialises them as averages (W/3 per tap); `temporal_init="identity"` (W at the centre tap, zeros
#   elsewhere, our default) makes the network start exactly as the 2D one applied frame by frame.
#   With BasicBlocks (ResNet-18/34, the tiny profile) the first 3x3 conv of the unit gets the taps;
# - stage 2 max-pools res5c's output over time (window 5, stride 2) before pool5 and the classifier,
#   and predictions are averaged over the remaining time steps.


class TemporalConv2d(nn.Module):
    """A 2D conv extended over time with a ``t_kernel``-tap, zero-padded temporal extent.

    Weight ``(out, in, t_kernel, kh, kw)``, no bias (as the ResNet convs it replaces); the 3D
    kernel is the parameter (and the state-dict entry) whatever runs it.
    ``forward(x, frames)``: ``x (b·frames, in, h, w) -> (b·frames, out, h', w')``, frames of a clip
    contiguous; computed by :func:`temporal_conv_3d` (``F.conv3d``), or, for one clip on CPU, by
    :func:`temporal_conv_2d`, the same convolution as one 2D one (see :func:`runs_as_2d`).
    """

    def __init__(self, conv: nn.Conv2d, t_kernel: int = 3, init: str = "identity"):
        super().__init__()
        if conv.bias is not None or conv.groups != 1:
            raise ValueError("TemporalConv2d extends bias-free, ungrouped convs only")
        if init not in ("identity", "average"):
            raise ValueError(f"unknown temporal init {init!r}: use 'identity' or 'average'")
        if t_kernel % 2 == 0:
            raise ValueError(f"t_kernel must be odd, got {t_kernel}")
        self.t_kernel = t_kernel
        self.init = init
        self.stride = (1, *conv.stride)
        self.padding = (t_kernel // 2, *conv.padding)
        self.weight = nn.Parameter(self.inflate_2d(conv.weight.detach()))

    def inflate_2d(self, weight: torch.Tensor) -> torch.Tensor:
        """A 2D kernel ``(out, in, kh, kw)`` -> ``(out, in, t_kernel, kh, kw)``: at the centre tap
        only ("identity") or divided equally among the taps ("average", the released code's)."""
        out = weight.new_zeros(weight.shape[0], weight.shape[1], self.t_kernel, *weight.shape[2:])
        if self.init == "identity":
            out[:, :, self.t_kernel // 2] = weight
        else:
            out[:] = (weight / self.t_kernel).unsqueeze(2)
        return out

    def forward(self, x: torch.Tensor, frames: int) -> torch.Tensor:
        conv = temporal_conv_2d if runs_as_2d(x, frames) else temporal_conv_3d
        return conv(x, self.weight, frames, self.stride[1:], self.padding[1:])


def runs_as_2d(x: torch.Tensor, frames: int) -> bool:
    """Whether ``TemporalConv2d`` computes ``x (b·frames, c, h, w)`` as one 2D convolution: for a
    single clip on CPU. There ``F.conv3d`` falls to PyTorch's slow reference kernel (``slow_conv3d``,
    half of ST-ResNet's evaluation forward) and the 2D form makes the whole forward ~1.5x faster;
    for two clips or more ``F.conv3d`` runs on oneDNN and is as fast or faster (training's 16
    clips: the 2D form would be ~0.85x). ``benchmarks/st_resnet_speed.py`` measures both."""
    return x.device.type == "cpu" and x.shape[0] == frames


def stack_taps(x: torch.Tensor, frames: int, t_kernel: int) -> torch.Tensor:
    """Each frame with its ``t_kernel`` temporal neighbours along channels, zeros beyond the clip.

    ``x (b·t, c, h, w) -> (b·t, t_kernel·c, h, w)``; channel block k of frame i holds frame
    i + k - t_kernel // 2 of the same clip (zeros where that is outside the clip).
    """
    bt, c, h, w = x.shape
    pad = t_kernel // 2
    clips = F.pad(x.view(bt // frames, frames, c, h, w), (0, 0, 0, 0, 0, 0, pad, pad))  # zero frames each end
    return torch.cat([clips[:, k:k + frames] for k in range(t_kernel)], dim=2).flatten(0, 1)


def temporal_conv_2d(x: torch.Tensor, weight: torch.Tensor, frames: int, stride: tuple[int, int],
                     padding: tuple[int, int]) -> torch.Tensor:
    """A 3D convolution (temporal stride 1, ``t_kernel // 2`` zero frames each side) as one 2D one
    over the frames stacked with their neighbours (:func:`stack_taps`), the 3D kernel's taps laid
    side by side along input channels; the values of :func:`temporal_conv_3d` up to float rounding
    (relative 1e-6 in float32), gradients included (they reach ``weight`` through the reshape).

    ``x (b·t, in, h, w)``, frames of a clip contiguous; ``weight (out, in, t_kernel, kh, kw)``;
    ``stride``, ``padding``: spatial. Returns ``(b·t, out, h', w')``.
    """
    out_c, in_c, t_kernel, kh, kw = weight.shape
    # y_i = sum_k W[:, :, k] * x_{i+k-p}  ==  [W_0 | W_1 | ...] * [x_{i-p}; x_{i-p+1}; ...]
    kernel = weight.transpose(1, 2).reshape(out_c, t_kernel * in_c, kh, kw)
    return F.conv2d(stack_taps(x, frames, t_kernel), kernel, stride=stride, padding=padding)


def temporal_conv_3d(x: torch.Tensor, weight: torch.Tensor, frames: int, stride: tuple[int, int],
                     padding: tuple[int, int]) -> torch.Tensor:
    """:func:`temporal_conv_2d`'s convolution (same arguments and shapes) with ``F.conv3d`` over
    the clips ``(b, in, t, h, w)``: what ``TemporalConv2d`` runs for two clips or more."""
    bt, c, h, w = x.shape
    clip = x.view(bt // frames, frames, c, h, w).transpose(1, 2)  # (b, c, t, h, w)
    y = F.conv3d(clip, weight, stride=(1, *stride), padding=(weight.shape[2] // 2, *padding))
    return y.transpose(1, 2).reshape(bt, y.shape[1], *y.shape[-2:])


def _add_temporal_convs(stream: ResNet, t_kernel: int, init: str) -> None:
    """Give the second unit of every stage temporal taps (see the module notes)."""
    for stage in (stream.layer1, stream.layer2, stream.layer3, stream.layer4):
        unit = stage[1]
        names = ("conv1", "conv3") if isinstance(unit, Bottleneck) else ("conv1",)
        for name in names:
            setattr(unit, name, TemporalConv2d(getattr(unit, name), t_kernel, init))


def _conv(conv: nn.Module, x: torch.Tensor, frames: int) -> torch.Tensor:
    return conv(x, frames) if isinstance(conv, TemporalConv2d) else conv(x)


def _residual(unit: BasicBlock | Bottleneck, x: torch.Tensor, frames: int) -> torch.Tensor:
    """The unit's residual function F(x) with temporal convs: ``(b·t, c, h, w) -> (b·t, c', h', w')``."""
    out = unit.relu(unit.bn1(_conv(unit.conv1, x, frames)))
    if isinstance(unit, Bottleneck):
        out = unit.relu(unit.bn2(_conv(unit.conv2, out, frames)))
        return unit.bn3(_conv(unit.conv3, out, frames))
    return unit.bn2(_conv(unit.conv2, out, frames))


class STResNetOutput(NamedTuple):
    """Class scores ``(b, num_classes)`` of each stream and their fusion."""

    appearance: torch.Tensor
    motion: torch.Tensor
    fused: torch.Tensor


class STResNet(nn.Module):
    """Two-stream ResNet with motion -> appearance residual connections and temporal convolutions.

    Args:
        num_classes: action classes.
        depth: 18, 34 or 50 (the paper's; 152 in its best result, not built here).
        width: stem / first-stage width of both streams (64 = the published ResNets).
        flow_channels: input channels of the motion stream (2 per stacked flow field; the paper
            uses 20, TSN-style stacks of 5 fields give 10).
        motion_links: add the motion -> appearance connections (False gives two independent streams).
        t_kernel, temporal_init: temporal extent of the inflated convs and their initialisation
            ("identity" or "average", see ``TemporalConv2d``).
        temporal_pool: "max" (the paper's stage 2), "avg", or None (no pooling) over time of the last
            feature maps; ``temporal_pool_size`` (clipped to the clip's length) and ``temporal_pool_stride``
            set its window, 5 and 2 in the paper. Scores are then averaged over the pooled time steps.
        dropout: before each stream's classifier (0 in the released training scripts).
        fusion_weights: appearance:motion weights of the fused score (weighted mean of raw scores).

    State-dict keys: ``appearance.*`` and ``motion.*``, each a torchvision ResNet's (the inflated convs
    keep their names, with 5-D weights), so ``load_imagenet`` fills both from one ImageNet file.

    ``forward(rgb, flow)``: ``rgb (b, t, 3, h, w)``, ``flow (b, t, flow_channels, h, w)`` (the flow
    stack starting at each RGB frame; both normalised as for a ResNet TSN) -> ``STResNetOutput``.
    """

    def __init__(self, num_classes: int, depth: int = 50, width: int = 64, flow_channels: int = 10,
                 motion_links: bool = True, t_kernel: int = 3, temporal_init: str = "identity",
                 temporal_pool: str | None = "max", temporal_pool_size: int = 5,
                 temporal_pool_stride: int = 2, dropout: float = 0.0,
                 fusion_weights: Sequence[float] = (1.0, 1.0)):
        super().__init__()
        name = f"resnet{depth}"
        if name not in RESNETS:
            raise ValueError(f"ST-ResNet depth must be one of 18, 34, 50, got {depth}")
        if temporal_pool not in ("max", "avg", None):
            raise ValueError(f"unknown temporal_pool {temporal_pool!r}: use 'max', 'avg' or None")
        self.appearance = RESNETS[name](num_classes=num_classes, in_channels=3, width=width)
        self.motion = RESNETS[name](num_classes=num_classes, in_channels=flow_channels, width=width)
        for stream in (self.appearance, self.motion):
            _add_temporal_convs(stream, t_kernel, temporal_init)
        self.flow_channels = flow_channels
        self.motion_links = motion_links
        self.temporal_pool = temporal_pool
        self.temporal_pool_size = temporal_pool_size
        self.temporal_pool_stride = temporal_pool_stride
        self.drop = nn.Dropout(dropout)
        self.fusion_weights = tuple(fusion_weights)

    def load_imagenet(self, path: str | os.PathLike, *, params_key: str = DEFAULT_PARAMS_KEY) -> None:
        """Initialise both streams from one torchvision ImageNet file: the classifiers are dropped
        when ``num_classes`` differs, the motion stream's first conv is cross-modality initialised,
        and the temporal convs are inflated from the 2D kernels."""
        for stream in (self.appearance, self.motion):
            _load_imagenet(stream, path, params_key=params_key)

    def _head(self, stream: ResNet, x: torch.Tensor, frames: int) -> torch.Tensor:
        """Last feature maps ``(b·t, c, h, w)`` -> scores ``(b, num_classes)``."""
        maps = x.view(-1, frames, *x.shape[1:])  # (b, t, c, h, w)
        if self.temporal_pool is not None:
            k = min(self.temporal_pool_size, frames)
            pool = F.max_pool3d if self.temporal_pool == "max" else F.avg_pool3d
            maps = pool(maps.transpose(1, 2), (k, 1, 1), (self.temporal_pool_stride, 1, 1)).transpose(1, 2)
        feats = maps.mean((-2, -1))  # (b, t', c): pool5
        return stream.fc(self.drop(feats)).mean(1)

    def forward(self, rgb: torch.Tensor, flow: torch.Tensor) -> STResNetOutput:
        if rgb.dim() != 5 or flow.dim() != 5 or rgb.shape[:2] != flow.shape[:2] \
                or rgb.shape[2] != 3 or flow.shape[2] != self.flow_channels:
            raise ValueError(
                f"ST-ResNet needs rgb (b, t, 3, h, w) and flow (b, t, {self.flow_channels}, h, w) "
                f"with equal b and t, got {tuple(rgb.shape)} and {tuple(flow.shape)}"
            )
        frames = rgb.shape[1]
        a = self.appearance.stem(rgb.flatten(0, 1))
        m = self.motion.stem(flow.flatten(0, 1))
        for stage_a, stage_m in zip(
            (self.appearance.layer1, self.appearance.layer2, self.appearance.layer3, self.appearance.layer4),
            (self.motion.layer1, self.motion.layer2, self.motion.layer3, self.motion.layer4),
        ):
            a_pre = a  # unit 0 sets it before unit 1 reads it
            for j, (unit_a, unit_m) in enumerate(zip(stage_a, stage_m)):
                # Into unit 1 of a stage: pre-ReLU appearance + post-ReLU motion of unit 0.
                branch_in = a_pre + m if (j == 1 and self.motion_links) else a
                a_pre = _residual(unit_a, branch_in, frames) + unit_a.shortcut(a)
                m_pre = _residual(unit_m, m, frames) + unit_m.shortcut(m)
                a, m = torch.relu(a_pre), torch.relu(m_pre)
        scores_a = self._head(self.appearance, a, frames)
        scores_m = self._head(self.motion, m, frames)
        return STResNetOutput(scores_a, scores_m, fuse_scores(scores_a, scores_m, self.fusion_weights))


def st_resnet50(num_classes: int, **kwargs) -> STResNet:
    """The paper's ST-ResNet-50."""
    return STResNet(num_classes, depth=50, **kwargs)
