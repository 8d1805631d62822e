"""Two-stream action recognisers for the study: TSN (Wang et al., ECCV 2016) and ST-ResNet
(Feichtenhofer et al., NIPS 2016).

Names are imported lazily: ``arsr.recognition.config`` (the training settings that
``arsr.study.schema`` checks) loads without torch and the models. Code of the package imports from the
defining module (``from arsr.recognition.tsn import TSN``), so its import graph shows what it runs.
"""
from __future__ import annotations

import importlib

_EXPORTS = {
    "BNInception": "bninception",
    "RESNETS": "resnet", "ResNet": "resnet", "load_imagenet": "resnet",
    "resnet18": "resnet", "resnet34": "resnet", "resnet50": "resnet",
    "STResNet": "st_resnet", "STResNetOutput": "st_resnet",
    "BACKBONES": "tsn", "TSN": "tsn", "fuse_scores": "tsn", "normalize": "tsn",
    "RECOGNIZERS": "models", "build_recognizer": "models",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    if name in _EXPORTS:
        return getattr(importlib.import_module(f".{_EXPORTS[name]}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
