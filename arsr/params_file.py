"""params.yaml as a file: reading it, hashing a mapping of it, and the error its knobs raise.

A leaf: ``arsr.params`` (the validators and ``check_keys``) re-exports all three.
"""
from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import yaml

from .paths import repo_root


class ParamError(ValueError):
    """A value in params.yaml (or a notebook's parameters) that the study cannot use."""


def load_params(path: str | os.PathLike | None = None) -> dict:
    """Read params.yaml (default: the study root's), with a clear error if it is malformed."""
    path = Path(path) if path else repo_root() / "params.yaml"
    try:
        params = yaml.safe_load(path.read_text())
    except FileNotFoundError:
        raise ParamError(f"{path} not found: run from the arsr repository root") from None
    except yaml.YAMLError as err:
        raise ParamError(f"{path} is not valid YAML: {err}") from None
    if not isinstance(params, dict):
        raise ParamError(f"{path} must hold a mapping of groups (data:, prepare:, ...)")
    return params


def params_hash(params: dict) -> str:
    """A short, stable hash of a params mapping (for provenance and cache keys)."""
    blob = json.dumps(params, sort_keys=True, default=str).encode()
    return hashlib.sha256(blob).hexdigest()[:12]
