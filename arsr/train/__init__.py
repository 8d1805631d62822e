"""Training of the SR networks: patch sampling (:mod:`.patches`), the trainer's config
(:mod:`.config`, no torch), one trainer for every method (:mod:`.sr_trainer`), the paper's method
recipes (:mod:`.presets`, no torch) and their training phase after phase (:mod:`.phases`).

Names are imported lazily so ``python -m arsr.train.sr_trainer`` / ``-m arsr.train.phases``
run their module once (no runpy double-import warning), and so that the configs and recipes,
which ``arsr.study.schema`` checks, load without torch.
"""
from __future__ import annotations

import importlib

_EXPORTS = {
    "PatchSampler": "patches", "PatchSpec": "patches", "augment": "patches",
    "compose_flows": "patches",
    "DEFAULTS": "config", "resolve_config": "config",
    "TrainResult": "sr_trainer", "load_generator": "networks", "train_sr": "sr_trainer",
    "METHODS": "presets", "PRESETS": "presets", "method_phases": "presets",
    "train_method": "phases",
}
__all__ = list(_EXPORTS)


def __getattr__(name: str):
    if name in _EXPORTS:
        return getattr(importlib.import_module(f".{_EXPORTS[name]}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
