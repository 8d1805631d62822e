"""ResNet-18/34/50 (He et al., "Deep Residual Learning for Image Recognition", CVPR 2016), torchvision layout."""
from __future__ import annotations

import os
from pathlib import Path
from typing import Callable, Mapping

import torch
from torch import nn

from ..paths import resolve

# Key names, block layout (stride on the 3x3 of a Bottleneck, "ResNet v1.5"), initialisation and
# parameter counts follow torchvision.models.resnet, so torchvision's ImageNet files load unchanged.

DEFAULT_PARAMS_KEY = "recognition.pretrained"


def conv3x3(in_planes: int, out_planes: int, stride: int = 1) -> nn.Conv2d:
    return nn.Conv2d(in_planes, out_planes, 3, stride=stride, padding=1, bias=False)


def conv1x1(in_planes: int, out_planes: int, stride: int = 1) -> nn.Conv2d:
    return nn.Conv2d(in_planes, out_planes, 1, stride=stride, bias=False)


class BasicBlock(nn.Module):
    """Two 3x3 convs plus identity: ``x (n, inplanes, h, w) -> (n, planes, h/stride, w/stride)``."""

    expansion = 1

    def __init__(self, inplanes: int, planes: int, stride: int = 1,
                 downsample: nn.Module | None = None):
        super().__init__()
        self.conv1 = conv3x3(inplanes, planes, stride)
        self.bn1 = nn.BatchNorm2d(planes)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = conv3x3(planes, planes)
        self.bn2 = nn.BatchNorm2d(planes)
        self.downsample = downsample
        self.stride = stride

    def residual(self, x: torch.Tensor) -> torch.Tensor:
        """The residual function F(x), before the addition: ``(n, inplanes, h, w) -> (n, planes, h', w')``."""
        out = self.relu(self.bn1(self.conv1(x)))
        return self.bn2(self.conv2(out))

    def shortcut(self, x: torch.Tensor) -> torch.Tensor:
        return x if self.downsample is None else self.downsample(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.relu(self.residual(x) + self.shortcut(x))


class Bottleneck(nn.Module):
    """1x1 reduce, 3x3 (carries the stride), 1x1 expand (x4), plus identity:
    ``x (n, inplanes, h, w) -> (n, 4·planes, h/stride, w/stride)``."""

    expansion = 4

    def __init__(self, inplanes: int, planes: int, stride: int = 1,
                 downsample: nn.Module | None = None):
        super().__init__()
        self.conv1 = conv1x1(inplanes, planes)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = conv3x3(planes, planes, stride)
        self.bn2 = nn.BatchNorm2d(planes)
        self.conv3 = conv1x1(planes, planes * self.expansion)
        self.bn3 = nn.BatchNorm2d(planes * self.expansion)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = downsample
        self.stride = stride

    def residual(self, x: torch.Tensor) -> torch.Tensor:
        """The residual function F(x), before the addition."""
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        return self.bn3(self.conv3(out))

    def shortcut(self, x: torch.Tensor) -> torch.Tensor:
        return x if self.downsample is None else self.downsample(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.relu(self.residual(x) + self.shortcut(x))


class ResNet(nn.Module):
    """ResNet with torchvision's state-dict keys (``conv1.weight``, ``bn1.*``,
    ``layer1.0.conv1.weight``, ``layer2.0.downsample.0.weight``, ..., ``fc.weight``).

    Args:
        block: ``BasicBlock`` or ``Bottleneck``.
        layers: blocks per stage, e.g. ``(2, 2, 2, 2)`` for ResNet-18.
        num_classes: outputs of ``fc``.
        in_channels: input channels: 3 for RGB, 2·L for L stacked flow fields (10 in TSN).
        width: channels of the stem and of the first stage (64 in the paper); stages use
            width·(1, 2, 4, 8), so ``width=16`` is a 16x cheaper network for the tiny profile.

    ``forward(x)``: ``x (n, in_channels, h, w) -> scores (n, num_classes)``;
    ``features(x)``: the pooled features ``(n, 8·width·expansion)`` before ``fc``.
    """

    first_conv = "conv1"  # used by load_imagenet for cross-modality initialisation

    def __init__(self, block: type[BasicBlock] | type[Bottleneck], layers: tuple[int, ...],
                 num_classes: int = 1000, in_channels: int = 3, width: int = 64):
        super().__init__()
        self.in_channels = in_channels
        self.width = width
        self.inplanes = width
        self.conv1 = nn.Conv2d(in_channels, width, 7, stride=2, padding=3, bias=False)
        self.bn1 = nn.BatchNorm2d(width)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(3, stride=2, padding=1)
        self.layer1 = self._make_layer(block, width, layers[0])
        self.layer2 = self._make_layer(block, width * 2, layers[1], stride=2)
        self.layer3 = self._make_layer(block, width * 4, layers[2], stride=2)
        self.layer4 = self._make_layer(block, width * 8, layers[3], stride=2)
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.num_features = width * 8 * block.expansion
        self.fc = nn.Linear(self.num_features, num_classes)

        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)

    def _make_layer(self, block, planes: int, blocks: int, stride: int = 1) -> nn.Sequential:
        downsample = None
        if stride != 1 or self.inplanes != planes * block.expansion:
            downsample = nn.Sequential(
                conv1x1(self.inplanes, planes * block.expansion, stride),
                nn.BatchNorm2d(planes * block.expansion),
            )
        units = [block(self.inplanes, planes, stride, downsample)]
        self.inplanes = planes * block.expansion
        units += [block(self.inplanes, planes) for _ in range(1, blocks)]
        return nn.Sequential(*units)

    def stem(self, x: torch.Tensor) -> torch.Tensor:
        """conv1, bn1, relu, maxpool: ``(n, in_channels, h, w) -> (n, width, h/4, w/4)``."""
        return self.maxpool(self.relu(self.bn1(self.conv1(x))))

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """``x (n, in_channels, h, w) -> (n, num_features)``, globally average-pooled."""
        x = self.stem(x)
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return torch.flatten(self.avgpool(x), 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(self.features(x))


def resnet18(**kwargs) -> ResNet:
    """ResNet-18; 11,689,512 parameters at the defaults (as torchvision)."""
    return ResNet(BasicBlock, (2, 2, 2, 2), **kwargs)


def resnet34(**kwargs) -> ResNet:
    """ResNet-34; 21,797,672 parameters at the defaults (as torchvision)."""
    return ResNet(BasicBlock, (3, 4, 6, 3), **kwargs)


def resnet50(**kwargs) -> ResNet:
    """ResNet-50; 25,557,032 parameters at the defaults (as torchvision)."""
    return ResNet(Bottleneck, (3, 4, 6, 3), **kwargs)


RESNETS: dict[str, Callable[..., ResNet]] = {
    "resnet18": resnet18, "resnet34": resnet34, "resnet50": resnet50,
}


# ---------------------------------------------------------------------------------------------
# Loading ImageNet weights


def read_state_dict(path: str | os.PathLike, params_key: str = DEFAULT_PARAMS_KEY) -> dict[str, torch.Tensor]:
    """Tensors of a local weight file (see :func:`arsr.archs.arch_util.read_state_dict`: plain or
    wrapped state dicts, ``weights_only=True``, ``module.`` prefix removed). A relative ``path`` is
    resolved from the study's root; a missing file names the params key that points at it."""
    from ..archs.arch_util import read_state_dict as read_weights

    path = resolve(path)
    if not path.is_file():
        raise FileNotFoundError(
            f"weight file {path} not found: download it (e.g. torchvision's ImageNet file for this "
            f"architecture) to that path, or set params key `{params_key}` to an existing file "
            "(null trains from scratch)"
        )
    return read_weights(path)


def cross_modality(weight: torch.Tensor, in_channels: int) -> torch.Tensor:
    """TSN's cross-modality initialisation of a first conv: average the RGB kernel over its input
    channels and replicate it ``in_channels`` times. ``(out, 3, kh, kw) -> (out, in_channels, kh, kw)``.

    As TSN's ``_construct_flow_model``, the mean is not rescaled by ``3 / in_channels``.
    """
    return weight.mean(dim=1, keepdim=True).expand(-1, in_channels, -1, -1).contiguous()


def load_imagenet(model: nn.Module, path: str | os.PathLike, *, params_key: str = DEFAULT_PARAMS_KEY,
                  rename: Mapping[str, str] | None = None, head: str = "fc") -> dict[str, list[str]]:
    """Load an ImageNet state dict from ``path`` into ``model`` (in place) and return a report
    ``{"dropped": [...], "adapted": [...]}``.

    - ``rename``: key-prefix substitutions applied to the file first (e.g. ``{"last_linear.": "fc."}``).
    - The classifier ``<head>.*`` is dropped when its shape differs (another ``num_classes``).
    - The first conv (``model.first_conv``) is cross-modality initialised (``cross_modality``) when the
      model's input has other than 3 channels.
    - A 4-D file kernel whose model target is 5-D goes through the target module's
      ``inflate_2d(weight)`` (temporal convs of ST-ResNet).
    - ``num_batches_tracked`` buffers absent from older files keep the model's value.

    Any other missing, unexpected or wrongly shaped key raises ``ValueError`` naming the file and keys.
    """
    path = resolve(path)
    source = read_state_dict(path, params_key)
    for old, new in (rename or {}).items():
        source = {(new + k[len(old):] if k.startswith(old) else k): v for k, v in source.items()}
    target = model.state_dict()
    first_conv = f"{getattr(model, 'first_conv', 'conv1')}.weight"
    state, dropped, adapted, bad_shape = {}, [], [], []
    for key, value in source.items():
        if key not in target:
            continue  # reported as unexpected below
        want = target[key].shape
        if value.shape == want:
            state[key] = value
        elif key.startswith(head + ".") and value.shape[1:] == want[1:]:
            dropped.append(key)
        elif key == first_conv and value.dim() == 4 and value.shape[1] == 3 \
                and value.shape[0] == want[0] and value.shape[2:] == want[2:]:
            state[key] = cross_modality(value, want[1]).to(target[key].dtype)
            adapted.append(key)
        elif value.dim() == 4 and len(want) == 5 and \
                hasattr(model.get_submodule(key.rsplit(".", 1)[0]), "inflate_2d"):
            state[key] = model.get_submodule(key.rsplit(".", 1)[0]).inflate_2d(value)
            if state[key].shape != want:
                bad_shape.append(f"{key}: file {tuple(value.shape)} -> inflated "
                                 f"{tuple(state[key].shape)}, model {tuple(want)}")
            adapted.append(key)
        else:
            bad_shape.append(f"{key}: file {tuple(value.shape)}, model {tuple(want)}")
    unexpected = sorted(set(source) - set(target))
    missing = sorted(k for k in set(target) - set(source) - set(dropped)
                     if not k.endswith("num_batches_tracked")
                     and not (k.startswith(head + ".") and any(d.startswith(head + ".") for d in dropped)))
    if bad_shape or unexpected or missing:
        raise ValueError(_mismatch_message(path, missing, unexpected, bad_shape, params_key))
    model.load_state_dict(state, strict=False)
    return {"dropped": sorted(dropped), "adapted": adapted}


def _mismatch_message(path: Path, missing: list[str], unexpected: list[str], bad_shape: list[str],
                      params_key: str, limit: int = 8) -> str:
    def few(keys: list[str]) -> str:
        more = f" ... (+{len(keys) - limit} more)" if len(keys) > limit else ""
        return ", ".join(keys[:limit]) + more

    parts = [f"weight file {path} does not fit the model"]
    if missing:
        parts.append(f"missing keys: {few(missing)}")
    if unexpected:
        parts.append(f"unexpected keys: {few(unexpected)}")
    if bad_shape:
        parts.append(f"wrong shapes: {few(bad_shape)}")
    parts.append(f"is it the file for this architecture and width? (params key `{params_key}`)")
    return "; ".join(parts)
