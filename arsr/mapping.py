"""Nested mappings (settings groups, trainer configs): a deep merge that leaves its inputs alone, and
what differs between two of them (for the one-line log of a reset folder or cache)."""
from __future__ import annotations

import copy
from typing import Mapping


def merged(base: dict, overrides: dict) -> dict:
    """``base`` with ``overrides`` applied recursively (a copy; neither input is changed)."""
    out = copy.deepcopy(base)
    for key, value in overrides.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = merged(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def changes(old: Mapping, new: Mapping) -> list[str]:
    """What differs between two settings mappings, one phrase per top-level key in sorted order:
    ``"dataset: 3fa1... -> 9b20..."`` for short plain values (a missing key reads ``(none)``),
    ``"config"`` alone for nested or long ones. Empty when they are equal."""
    missing = object()
    out = []
    for key in sorted(set(old) | set(new), key=str):
        a, b = old.get(key, missing), new.get(key, missing)
        if a == b:
            continue
        if all(v is missing or _plain(v) for v in (a, b)):
            out.append(f"{key}: {'(none)' if a is missing else a} -> {'(none)' if b is missing else b}")
        else:
            out.append(str(key))
    return out


def _plain(value) -> bool:
    """A value short enough to print in a one-line log: a scalar of at most 40 characters."""
    return (value is None or isinstance(value, (str, int, float, bool))) and len(str(value)) <= 40
