"""BN-Inception (Ioffe & Szegedy, "Batch Normalization", ICML 2015), the backbone of TSN (Wang et al., ECCV 2016)."""
from __future__ import annotations

import os
from typing import NamedTuple

import torch
from torch import nn

from .resnet import DEFAULT_PARAMS_KEY, load_imagenet as _load_imagenet

# Layer names and order are those of TSN's BN-Inception (yjxiong/tsn-pytorch's tf_model_zoo, built from
# bn_inception.yaml) and of Cadene/pretrained-models.pytorch's bninception.py: `conv1_7x7_s2`,
# `conv1_7x7_s2_bn`, `inception_3a_1x1`, `inception_3a_1x1_bn`, ..., `inception_5b_pool_proj_bn`.
# The classifier is `fc` as in TSN (its `last_layer_name`); Cadene's file calls it `last_linear`,
# which load_imagenet renames. Convs carry biases (the model was converted from Caffe). BatchNorm uses
# PyTorch's default momentum 0.1: Cadene's `momentum=0.9` is a porting slip (Caffe's convention) that
# only matters when BN statistics are updated.


class InceptionSpec(NamedTuple):
    """Channels of one Inception module; 0 = branch absent. ``stride`` 2 = a reduction module
    (no 1x1 branch, max-pool branch without projection, the 3x3 branches stride 2)."""

    name: str
    c1x1: int
    c3x3_reduce: int
    c3x3: int
    double_reduce: int
    double: int
    pool: str  # "avg" | "max"
    pool_proj: int
    stride: int = 1


# Table 1 of the BN paper's Inception variant, as in bn_inception.yaml.
INCEPTION_SPECS = (
    InceptionSpec("3a", 64, 64, 64, 64, 96, "avg", 32),
    InceptionSpec("3b", 64, 64, 96, 64, 96, "avg", 64),
    InceptionSpec("3c", 0, 128, 160, 64, 96, "max", 0, stride=2),
    InceptionSpec("4a", 224, 64, 96, 96, 128, "avg", 128),
    InceptionSpec("4b", 192, 96, 128, 96, 128, "avg", 128),
    InceptionSpec("4c", 160, 128, 160, 128, 160, "avg", 128),
    InceptionSpec("4d", 96, 128, 192, 160, 192, "avg", 128),
    InceptionSpec("4e", 0, 128, 192, 192, 256, "max", 0, stride=2),
    InceptionSpec("5a", 352, 192, 320, 160, 224, "avg", 128),
    InceptionSpec("5b", 352, 192, 320, 192, 224, "max", 128),
)


class BNInception(nn.Module):
    """BN-Inception with TSN's flat state-dict keys; ImageNet files from TSN or Cadene load unchanged.

    Args:
        num_classes: outputs of ``fc``.
        in_channels: 3 for RGB, 2·L for L stacked flow fields (10 in TSN).
        width: 64 = the published network; every channel count is scaled by ``width / 64`` (a
            multiple of 4), e.g. ``width=16`` for the tiny profile.

    ``forward(x)``: ``x (n, in_channels, h, w) -> scores (n, num_classes)``, h and w multiples of 32
    (224 in the paper; other sizes can make the reduction modules' branches disagree by a pixel, as in
    the Caffe original). ``features(x)``: ``(n, num_features)``, ``num_features = 1024·width/64``.
    The pretrained model expects BGR input in [0, 255] minus the mean (104, 117, 128), std 1.
    """

    first_conv = "conv1_7x7_s2"  # used by load_imagenet for cross-modality initialisation

    def __init__(self, num_classes: int = 1000, in_channels: int = 3, width: int = 64):
        super().__init__()
        if width <= 0 or width % 4:
            raise ValueError(f"BNInception width must be a positive multiple of 4, got {width}")
        self.in_channels = in_channels
        self.width = width

        def ch(c: int) -> int:
            return c * width // 64

        self._conv_bn("conv1_7x7_s2", in_channels, ch(64), 7, stride=2, padding=3, relu="conv1_relu_7x7")
        self.pool1_3x3_s2 = nn.MaxPool2d(3, stride=2, ceil_mode=True)
        self._conv_bn("conv2_3x3_reduce", ch(64), ch(64), 1, relu="conv2_relu_3x3_reduce")
        self._conv_bn("conv2_3x3", ch(64), ch(192), 3, padding=1, relu="conv2_relu_3x3")
        self.pool2_3x3_s2 = nn.MaxPool2d(3, stride=2, ceil_mode=True)

        channels = ch(192)
        for spec in INCEPTION_SPECS:
            channels = self._inception(spec, channels, ch)
        self.global_pool = nn.AdaptiveAvgPool2d(1)  # TSN: AvgPool2d(7) on the 7x7 map of a 224 input
        self.num_features = channels
        self.fc = nn.Linear(channels, num_classes)

    def _conv_bn(self, name: str, cin: int, cout: int, k: int, stride: int = 1, padding: int = 0,
                 relu: str | None = None) -> None:
        self.add_module(name, nn.Conv2d(cin, cout, k, stride=stride, padding=padding))
        self.add_module(f"{name}_bn", nn.BatchNorm2d(cout))
        # The ReLUs hold no parameters; registered under TSN's names so module listings match.
        self.add_module(relu or f"{name}_relu", nn.ReLU(inplace=True))

    def _inception(self, s: InceptionSpec, cin: int, ch) -> int:
        p = f"inception_{s.name}"
        cout = 0
        if s.c1x1:
            self._conv_bn(f"{p}_1x1", cin, ch(s.c1x1), 1, relu=f"{p}_relu_1x1")
            cout += ch(s.c1x1)
        self._conv_bn(f"{p}_3x3_reduce", cin, ch(s.c3x3_reduce), 1, relu=f"{p}_relu_3x3_reduce")
        self._conv_bn(f"{p}_3x3", ch(s.c3x3_reduce), ch(s.c3x3), 3, stride=s.stride, padding=1,
                      relu=f"{p}_relu_3x3")
        self._conv_bn(f"{p}_double_3x3_reduce", cin, ch(s.double_reduce), 1,
                      relu=f"{p}_relu_double_3x3_reduce")
        self._conv_bn(f"{p}_double_3x3_1", ch(s.double_reduce), ch(s.double), 3, padding=1,
                      relu=f"{p}_relu_double_3x3_1")
        self._conv_bn(f"{p}_double_3x3_2", ch(s.double), ch(s.double), 3, stride=s.stride, padding=1,
                      relu=f"{p}_relu_double_3x3_2")
        cout += ch(s.c3x3) + ch(s.double)
        if s.pool == "avg":
            pool = nn.AvgPool2d(3, stride=1, padding=1, ceil_mode=True, count_include_pad=True)
        elif s.stride == 2:
            pool = nn.MaxPool2d(3, stride=2, ceil_mode=True)
        else:
            pool = nn.MaxPool2d(3, stride=1, padding=1, ceil_mode=True)
        self.add_module(f"{p}_pool", pool)
        if s.pool_proj:
            self._conv_bn(f"{p}_pool_proj", cin, ch(s.pool_proj), 1, relu=f"{p}_relu_pool_proj")
            cout += ch(s.pool_proj)
        else:
            cout += cin
        return cout

    def _unit(self, name: str, x: torch.Tensor) -> torch.Tensor:
        """conv -> BN -> ReLU of the layer called ``name``."""
        return torch.relu(getattr(self, f"{name}_bn")(getattr(self, name)(x)))

    def _inception_forward(self, s: InceptionSpec, x: torch.Tensor) -> torch.Tensor:
        p = f"inception_{s.name}"
        branches = []
        if s.c1x1:
            branches.append(self._unit(f"{p}_1x1", x))
        branches.append(self._unit(f"{p}_3x3", self._unit(f"{p}_3x3_reduce", x)))
        d = self._unit(f"{p}_double_3x3_reduce", x)
        branches.append(self._unit(f"{p}_double_3x3_2", self._unit(f"{p}_double_3x3_1", d)))
        pooled = getattr(self, f"{p}_pool")(x)
        branches.append(self._unit(f"{p}_pool_proj", pooled) if s.pool_proj else pooled)
        sizes = {tuple(b.shape[-2:]) for b in branches}
        if len(sizes) > 1:
            raise ValueError(
                f"BNInception {p}: branch outputs of sizes {sorted(sizes)} cannot be concatenated; "
                "use input sides that are multiples of 32 (e.g. 224, 96, 64)"
            )
        return torch.cat(branches, 1)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """``x (n, in_channels, h, w) -> (n, num_features)``, globally average-pooled."""
        x = self.pool1_3x3_s2(self._unit("conv1_7x7_s2", x))
        x = self._unit("conv2_3x3", self._unit("conv2_3x3_reduce", x))
        x = self.pool2_3x3_s2(x)
        for spec in INCEPTION_SPECS:
            x = self._inception_forward(spec, x)
        return torch.flatten(self.global_pool(x), 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(self.features(x))


def bninception(**kwargs) -> BNInception:
    """BN-Inception; 11,295,240 parameters at the defaults (1000 classes; 10,270,240 without ``fc``)."""
    return BNInception(**kwargs)


def load_imagenet(model: BNInception, path: str | os.PathLike, *,
                  params_key: str = DEFAULT_PARAMS_KEY) -> dict[str, list[str]]:
    """Load TSN's (``fc.*``) or Cadene's (``last_linear.*``) BN-Inception ImageNet file into ``model``,
    dropping the classifier when ``num_classes`` differs and cross-modality initialising the first
    conv for flow input (see ``resnet.load_imagenet``)."""
    return _load_imagenet(model, path, params_key=params_key, rename={"last_linear.": "fc."})
