"""Two-stream action recognisers for the study: TSN (Wang et al., ECCV 2016) and ST-ResNet (Feichtenhofer et al., NIPS 2016)."""
from __future__ import annotations

from typing import Any, Mapping

from torch import nn

from .bninception import BNInception
from .resnet import RESNETS, ResNet, load_imagenet, resnet18, resnet34, resnet50
from .st_resnet import STResNet, STResNetOutput
from .tsn import BACKBONES, TSN, fuse_scores, normalize

RECOGNIZERS: dict[str, type[nn.Module]] = {"tsn": TSN, "st_resnet": STResNet}


def build_recognizer(cfg: Mapping[str, Any]) -> nn.Module:
    """``cfg = {"type": "tsn" | "st_resnet", **constructor keywords}`` -> the model."""
    cfg = dict(cfg)
    kind = cfg.pop("type", None)
    if kind not in RECOGNIZERS:
        raise ValueError(f"recogniser type {kind!r} unknown: set `type` to one of {sorted(RECOGNIZERS)}")
    return RECOGNIZERS[kind](**cfg)


__all__ = [
    "BACKBONES", "BNInception", "RECOGNIZERS", "RESNETS", "ResNet", "STResNet", "STResNetOutput", "TSN",
    "build_recognizer", "fuse_scores", "load_imagenet", "normalize",
    "resnet18", "resnet34", "resnet50",
]
