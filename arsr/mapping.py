"""Nested mappings (settings groups, trainer configs): a deep merge that leaves its inputs alone."""
from __future__ import annotations

import copy


def merged(base: dict, overrides: dict) -> dict:
    """``base`` with ``overrides`` applied recursively (a copy; neither input is changed)."""
    out = copy.deepcopy(base)
    for key, value in overrides.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = merged(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out
