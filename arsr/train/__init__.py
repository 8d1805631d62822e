"""Training of the SR networks: patch sampling (:mod:`.patches`), one trainer for every method
(:mod:`.sr_trainer`), the paper's method recipes (:mod:`.presets`).

Names are imported lazily so ``python -m arsr.train.sr_trainer`` / ``-m arsr.train.presets``
run their module once (no runpy double-import warning).
"""
from __future__ import annotations

import importlib

_EXPORTS = {
    "PatchSampler": "patches", "PatchSpec": "patches", "augment": "patches",
    "compose_flows": "patches",
    "DEFAULTS": "sr_trainer", "TrainResult": "sr_trainer", "load_generator": "sr_trainer",
    "resolve_config": "sr_trainer", "train_sr": "sr_trainer",
    "METHODS": "presets", "PRESETS": "presets", "method_phases": "presets",
    "train_method": "presets",
}
__all__ = list(_EXPORTS)


def __getattr__(name: str):
    if name in _EXPORTS:
        return getattr(importlib.import_module(f".{_EXPORTS[name]}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
