"""VGG19 features for the perceptual loss: Simonyan & Zisserman, "Very Deep Convolutional Networks for Large-Scale Image Recognition", ICLR 2015."""  # noqa: E501 (the one-line citation)
from __future__ import annotations

import os
import warnings
from pathlib import Path

import torch
from torch import nn

from .arch_util import load_weights

# Layer names of torchvision's vgg19().features, index i = key prefix ``features.{i}``.
VGG19_LAYERS = (
    "conv1_1", "relu1_1", "conv1_2", "relu1_2", "pool1",
    "conv2_1", "relu2_1", "conv2_2", "relu2_2", "pool2",
    "conv3_1", "relu3_1", "conv3_2", "relu3_2", "conv3_3", "relu3_3", "conv3_4", "relu3_4", "pool3",
    "conv4_1", "relu4_1", "conv4_2", "relu4_2", "conv4_3", "relu4_3", "conv4_4", "relu4_4", "pool4",
    "conv5_1", "relu5_1", "conv5_2", "relu5_2", "conv5_3", "relu5_3", "conv5_4", "relu5_4", "pool5",
)
_VGG19_WIDTHS = {1: 64, 2: 128, 3: 256, 4: 512, 5: 512}

# torchvision's ImageNet statistics for inputs in [0, 1].
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)

VGG19_URL = "https://download.pytorch.org/models/vgg19-dcbb9e9d.pth"


def _last_index(layer: str, before_relu: bool) -> int:
    if layer not in VGG19_LAYERS:
        raise ValueError(f"unknown VGG19 layer {layer!r}; choose one of {', '.join(VGG19_LAYERS)}")
    idx = VGG19_LAYERS.index(layer)
    if layer.startswith("conv") and not before_relu:
        idx += 1
    return idx


def vgg19_features(layer: str = "conv5_4", before_relu: bool = True) -> nn.Sequential:
    """torchvision's ``vgg19().features`` truncated after ``layer`` (randomly initialised).

    Indices and so key names (``{i}.weight``, ``{i}.bias``) match torchvision's: conv5_4 is
    index 34. For a ``conv`` layer, ``before_relu=False`` also keeps the ReLU after it. Layers
    after the requested one are not built, so they cost neither memory nor time.
    ``x: (b, 3, h, w)`` -> features of ``layer``.
    """
    last = _last_index(layer, before_relu)
    layers: list[nn.Module] = []
    in_ch = 3
    for name in VGG19_LAYERS[: last + 1]:
        if name.startswith("conv"):
            out_ch = _VGG19_WIDTHS[int(name[4])]
            conv = nn.Conv2d(in_ch, out_ch, kernel_size=3, padding=1)
            # torchvision's VGG initialisation
            nn.init.kaiming_normal_(conv.weight, mode="fan_out", nonlinearity="relu")
            nn.init.zeros_(conv.bias)
            layers.append(conv)
            in_ch = out_ch
        elif name.startswith("relu"):
            layers.append(nn.ReLU(inplace=True))
        else:
            layers.append(nn.MaxPool2d(kernel_size=2, stride=2))
    return nn.Sequential(*layers)


class VGGFeatureExtractor(nn.Module):
    """Frozen VGG19 features (default conv5_4 before ReLU, ESRGAN's perceptual-loss layer).

    Keeps torchvision's key names (``features.{i}.weight``, ``features.{i}.bias``), so a locally
    stored torchvision ``vgg19-dcbb9e9d.pth`` loads unchanged; its ``classifier.*`` and any
    ``features.*`` beyond ``layer`` are ignored. Inputs are RGB in [0, 1], normalised with the
    ImageNet mean/std when ``use_input_norm``. Parameters never require grad and the network
    stays in eval mode whatever ``.train()`` is called with. ``weights_path=None`` builds random
    weights (for tests and the tiny profile), warns, and sets ``pretrained = False``.

    ``x: (b, 3, h, w)`` -> ``(b, 512, h/16, w/16)`` for conv5_4.
    """

    def __init__(self, layer: str = "conv5_4", weights_path: str | os.PathLike | None = None,
                 use_input_norm: bool = True, before_relu: bool = True):
        super().__init__()
        self.layer = layer
        self.before_relu = before_relu
        self.use_input_norm = use_input_norm
        self.features = vgg19_features(layer, before_relu)
        self.register_buffer("mean", torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(IMAGENET_STD).view(1, 3, 1, 1), persistent=False)

        if weights_path is None:
            self.pretrained = False
            warnings.warn("VGGFeatureExtractor: no weights_path given, using RANDOM VGG19 weights; "
                          "a perceptual loss on them is not ESRGAN's. Download torchvision's "
                          f"{VGG19_URL} and pass its path as weights_path.", stacklevel=2)
        else:
            path = Path(weights_path)
            if not path.is_file():
                raise FileNotFoundError(
                    f"VGG19 weights not found at {path}. Download torchvision's ImageNet VGG19 "
                    f"({VGG19_URL}, e.g. `curl -L -o {path} {VGG19_URL}`) and store it there, "
                    "or point weights_path to an existing vgg19-*.pth")
            n_kept = len(self.features)
            load_weights(self, path, ignore=lambda k: k.startswith("classifier.") or (
                k.startswith("features.") and int(k.split(".")[1]) >= n_kept))
            self.pretrained = True

        for p in self.parameters():
            p.requires_grad_(False)
        self.train(False)

    def train(self, mode: bool = True) -> "VGGFeatureExtractor":
        """Stays in eval mode: the extractor is a fixed measuring instrument."""
        return super().train(False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``x: (b, 3, h, w)`` RGB in [0, 1] -> features of ``layer``."""
        if self.use_input_norm:
            x = (x - self.mean) / self.std
        return self.features(x)
