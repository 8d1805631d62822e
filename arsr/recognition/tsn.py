"""Temporal Segment Networks (Wang et al., "Temporal Segment Networks", ECCV 2016), as in yjxiong/tsn-pytorch."""
from __future__ import annotations

import os
from typing import Callable, Sequence

import torch
from torch import nn

from . import resnet as _resnet
from .bninception import bninception as _bninception, load_imagenet as _load_bninception

# Backbones: name -> (constructor, ImageNet loader). Constructors take num_classes, in_channels, width.
BACKBONES: dict[str, tuple[Callable[..., nn.Module], Callable[..., dict]]] = {
    "resnet18": (_resnet.resnet18, _resnet.load_imagenet),
    "resnet34": (_resnet.resnet34, _resnet.load_imagenet),
    "resnet50": (_resnet.resnet50, _resnet.load_imagenet),
    "bninception": (_bninception, _load_bninception),
}

MODALITIES = ("rgb", "flow")

# Input statistics per (backbone family, modality), in the units the ImageNet weights expect.
# torchvision ResNets: RGB in [0, 1], ImageNet mean/std; flow: TSN's [0.5] and mean of the RGB stds.
# Caffe BN-Inception: BGR in [0, 255] minus (104, 117, 128), std 1; flow: minus 128, std 1.
_IMAGENET_MEAN = (0.485, 0.456, 0.406)
_IMAGENET_STD = (0.229, 0.224, 0.225)
INPUT_STATS = {
    ("resnet", "rgb"): dict(mean=_IMAGENET_MEAN, std=_IMAGENET_STD, range=1.0, space="RGB"),
    ("resnet", "flow"): dict(mean=(0.5,), std=(sum(_IMAGENET_STD) / 3,), range=1.0, space="flow"),
    ("bninception", "rgb"): dict(mean=(104.0, 117.0, 128.0), std=(1.0,), range=255.0, space="BGR"),
    ("bninception", "flow"): dict(mean=(128.0,), std=(1.0,), range=255.0, space="flow"),
}


def _family(backbone: str) -> str:
    return "bninception" if backbone == "bninception" else "resnet"


def normalize(x: torch.Tensor, modality: str, backbone: str) -> torch.Tensor:
    """Map network input in [0, 1] to what the ImageNet-initialised backbone expects.

    x: ``(..., C·L, h, w)``, the last three axes one sample of L stacked frames:
    - rgb: C = 3, channels ``[r0, g0, b0, r1, g1, b1, ...]``, values in [0, 1];
    - flow: C = 2, channels ``[x0, y0, x1, y1, ...]`` (TSN's stacking order: the horizontal then the
      vertical component of each of L consecutive flow fields), values ``q / 255`` where q is TSN's
      8-bit flow image (flow clipped to ±bound and mapped linearly to 0..255, so 0 motion ≈ 0.5).

    ResNets: ``(x - mean) / std`` with ImageNet statistics for rgb and mean 0.5 (TSN's choice),
    std 0.226 for flow. BN-Inception: rgb reordered to BGR and ``255·x - (104, 117, 128)``; flow
    ``255·x - 128`` (TSN's 128/255 centre). Returns a tensor of x's shape.
    """
    stats = INPUT_STATS[(_family(backbone), _check_modality(modality))]
    c = 3 if modality == "rgb" else 2
    if x.shape[-3] % c:
        raise ValueError(f"{modality} input needs a multiple of {c} channels, got shape {tuple(x.shape)}")
    frames = x.reshape(*x.shape[:-3], x.shape[-3] // c, c, *x.shape[-2:])
    if stats["space"] == "BGR":
        frames = frames.flip(-3)
    mean = frames.new_tensor(stats["mean"]).view(-1, 1, 1)
    std = frames.new_tensor(stats["std"]).view(-1, 1, 1)
    return ((frames * stats["range"] - mean) / std).reshape(x.shape)


def fuse_scores(rgb_scores: torch.Tensor, flow_scores: torch.Tensor,
                weights: Sequence[float] = (1.0, 1.5)) -> torch.Tensor:
    """Two-stream late fusion: weighted mean of the raw class scores (no softmax), RGB:flow = 1:1.5.

    ``(w_rgb·rgb + w_flow·flow) / (w_rgb + w_flow)``; scores ``(n, num_classes)`` -> ``(n, num_classes)``.
    TSN's eval_scores.py sums ``w·scores`` of the video-level (crop- and frame-averaged, pre-softmax)
    scores; dividing by the weight sum only rescales, so the predicted class is the same, and the
    fused scores stay on the scale of a single stream's.
    """
    w_rgb, w_flow = weights
    if w_rgb + w_flow == 0:
        raise ValueError(f"fusion weights {tuple(weights)} sum to zero")
    return (w_rgb * rgb_scores + w_flow * flow_scores) / (w_rgb + w_flow)


def _check_modality(modality: str) -> str:
    m = modality.lower()
    if m not in MODALITIES:
        raise ValueError(f"unknown modality {modality!r}: use one of {MODALITIES}")
    return m


class TSN(nn.Module):
    """A TSN stream: a 2D backbone applied to each segment's snippet, dropout, a new classifier,
    and a segmental consensus over the segments.

    Args:
        num_classes: action classes.
        modality: "rgb" (spatial stream, one frame per snippet) or "flow" (temporal stream,
            ``new_length`` stacked x/y flow fields per snippet).
        backbone: a key of ``BACKBONES`` ("bninception" as in TSN and the paper, or a ResNet).
        num_segments: segments per video in training (3 in TSN). ``forward`` accepts any number,
            so the same model scores 25 test snippets at once.
        new_length: frames per snippet; None = 1 for rgb, 5 for flow (10 input channels).
        dropout: before the new classifier; None = 0.8 for rgb, 0.7 for flow (TSN's values).
        consensus: "avg" (TSN) or "max" over the segments' class scores.
        partial_bn: freeze the statistics and affine parameters of every BatchNorm but the first
            whenever the model is in training mode (TSN's partial BN).
        width: backbone width (64 = the published networks; smaller for the tiny profile).
        pretrained: path of an ImageNet state dict for the backbone (torchvision's for ResNets,
            TSN's or Cadene's for BN-Inception) or None for random initialisation. For flow the first
            conv is cross-modality initialised (the RGB kernel's channel mean, replicated).
        params_key: the params.yaml key that holds ``pretrained``, named in error messages.

    State-dict keys are TSN's: ``base_model.*`` (the backbone; its ``fc`` is replaced by the
    dropout) and ``new_fc.*``, so a tsn-pytorch checkpoint loads once its ``module.`` prefix is removed.

    ``forward(x)``: ``x (b, s, C·new_length, h, w)`` normalised as ``normalize`` does ->
    ``scores (b, num_classes)``, the consensus of the s segments' pre-softmax scores.
    """

    def __init__(self, num_classes: int, modality: str = "rgb", backbone: str = "bninception",
                 num_segments: int = 3, new_length: int | None = None, dropout: float | None = None,
                 consensus: str = "avg", partial_bn: bool = True, width: int = 64,
                 pretrained: str | os.PathLike | None = None,
                 params_key: str = _resnet.DEFAULT_PARAMS_KEY):
        super().__init__()
        self.modality = _check_modality(modality)
        if backbone not in BACKBONES:
            raise ValueError(f"unknown TSN backbone {backbone!r}: use one of {sorted(BACKBONES)}")
        if consensus not in ("avg", "max"):
            raise ValueError(f"unknown consensus {consensus!r}: use 'avg' or 'max'")
        self.backbone = backbone
        self.num_segments = num_segments
        self.new_length = new_length or (1 if self.modality == "rgb" else 5)
        self.dropout = (0.8 if self.modality == "rgb" else 0.7) if dropout is None else dropout
        self.consensus = consensus
        self.partial_bn = partial_bn
        self.sample_channels = (3 if self.modality == "rgb" else 2) * self.new_length

        build, load = BACKBONES[backbone]
        self.base_model = build(in_channels=self.sample_channels, width=width)
        if pretrained is not None:
            load(self.base_model, pretrained, params_key=params_key)
        feature_dim = self.base_model.fc.in_features
        self.base_model.fc = nn.Dropout(p=self.dropout)
        self.new_fc = nn.Linear(feature_dim, num_classes)
        nn.init.normal_(self.new_fc.weight, 0.0, 0.001)
        nn.init.zeros_(self.new_fc.bias)

        stats = INPUT_STATS[(_family(backbone), self.modality)]
        self.input_mean = list(stats["mean"])
        self.input_std = list(stats["std"])
        self.input_range = stats["range"]
        self.input_space = stats["space"]
        self.input_size = 224
        self.scale_size = 256
        self.train()  # applies partial BN's requires_grad settings from the start

    def normalize(self, x: torch.Tensor) -> torch.Tensor:
        """``normalize(x, self.modality, self.backbone)``: [0, 1] input -> network input, same shape."""
        return normalize(x, self.modality, self.backbone)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() != 5 or x.shape[2] != self.sample_channels:
            raise ValueError(
                f"TSN {self.modality} input must be (b, segments, {self.sample_channels}, h, w), "
                f"got {tuple(x.shape)}"
            )
        b, s = x.shape[:2]
        base_out = self.base_model(x.reshape(b * s, *x.shape[2:]))  # (b·s, F), dropout applied
        scores = self.new_fc(base_out).view(b, s, -1)
        return scores.mean(1) if self.consensus == "avg" else scores.amax(1)

    def batchnorms(self) -> list[nn.BatchNorm2d]:
        """The backbone's BatchNorm layers in registration (= forward) order."""
        return [m for m in self.base_model.modules() if isinstance(m, nn.BatchNorm2d)]

    def train(self, mode: bool = True) -> "TSN":
        """As ``nn.Module.train``; with partial BN every BatchNorm after the first stays in eval
        mode (running statistics frozen) and its weight and bias get ``requires_grad=False``."""
        super().train(mode)
        for i, bn in enumerate(self.batchnorms()):
            frozen = self.partial_bn and i > 0
            if frozen:
                bn.eval()
            bn.weight.requires_grad_(not frozen)
            bn.bias.requires_grad_(not frozen)
        return self

    def optim_policies(self) -> list[dict]:
        """TSN's parameter groups (``get_optim_policies``) with their ``lr_mult``/``decay_mult``:
        the first conv's weight (x5 learning rate for flow) and bias (x2, or x10 for flow; no decay),
        other weights, other biases (x2, no decay), and the trainable BatchNorm parameters (no decay).
        """
        first_w, first_b, weights, biases, bn = [], [], [], [], []
        convs = 0
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                convs += 1
                (first_w if convs == 1 else weights).append(m.weight)
                if m.bias is not None:
                    (first_b if convs == 1 else biases).append(m.bias)
            elif isinstance(m, nn.Linear):
                weights.append(m.weight)
                biases.append(m.bias)
            elif isinstance(m, nn.BatchNorm2d):
                bn.extend(p for p in (m.weight, m.bias) if p.requires_grad)
        flow = self.modality == "flow"
        return [
            {"params": first_w, "lr_mult": 5 if flow else 1, "decay_mult": 1, "name": "first_conv_weight"},
            {"params": first_b, "lr_mult": 10 if flow else 2, "decay_mult": 0, "name": "first_conv_bias"},
            {"params": weights, "lr_mult": 1, "decay_mult": 1, "name": "normal_weight"},
            {"params": biases, "lr_mult": 2, "decay_mult": 0, "name": "normal_bias"},
            {"params": bn, "lr_mult": 1, "decay_mult": 0, "name": "BN scale/shift"},
        ]
