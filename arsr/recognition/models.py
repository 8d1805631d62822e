"""The study's recognisers by name: ``RECOGNIZERS`` and ``build_recognizer(cfg)``."""
from __future__ import annotations

from typing import Any, Mapping

from torch import nn

from .st_resnet import STResNet
from .tsn import TSN

__all__ = ["RECOGNIZERS", "build_recognizer"]

RECOGNIZERS: dict[str, type[nn.Module]] = {"tsn": TSN, "st_resnet": STResNet}


def build_recognizer(cfg: Mapping[str, Any]) -> nn.Module:
    """``cfg = {"type": "tsn" | "st_resnet", **constructor keywords}`` -> the model."""
    cfg = dict(cfg)
    kind = cfg.pop("type", None)
    if kind not in RECOGNIZERS:
        raise ValueError(f"recogniser type {kind!r} unknown: set `type` to one of {sorted(RECOGNIZERS)}")
    return RECOGNIZERS[kind](**cfg)
