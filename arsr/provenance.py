"""What made a result: code version, params, machine. Stamped into every metrics file."""
from __future__ import annotations

import datetime as _dt
import os
import platform
import subprocess
from pathlib import Path

from .params_file import params_hash
from .paths import repo_root


def git_commit(root: Path | None = None) -> str:
    """The commit of the study's code, with ``+dirty`` when tracked files differ from it."""
    root = root or repo_root()
    try:
        sha = subprocess.run(["git", "rev-parse", "HEAD"], cwd=root, capture_output=True,
                             text=True, check=True, timeout=10).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"],
                               cwd=root, capture_output=True, text=True, timeout=10).stdout.strip()
        return sha + ("+dirty" if dirty else "")
    except (OSError, subprocess.SubprocessError):
        return "unknown (not a git checkout)"


def device_description() -> str:
    import torch

    if torch.cuda.is_available():
        n = torch.cuda.device_count()
        return f"{n} x {torch.cuda.get_device_name(0)}"
    return f"cpu ({os.cpu_count()} cores, {torch.get_num_threads()} torch threads)"


#: Packages besides torch whose version can change a computed number (array maths; OpenCV's DIS / TV-L1
#: flow feeds the WMSE and warp losses and the temporal stream): recorded by every stage.
NUMERIC_PACKAGES = {"numpy": "numpy", "opencv": "cv2"}


def package_versions() -> dict[str, str]:
    """``{"numpy": ..., "opencv": ...}`` of :data:`NUMERIC_PACKAGES` ("not installed" where missing)."""
    import importlib

    out = {}
    for name, module in NUMERIC_PACKAGES.items():
        try:
            out[name] = str(importlib.import_module(module).__version__)
        except ImportError:
            out[name] = "not installed"
    return out


def provenance(params: dict, dataset_fingerprint: str | None = None) -> dict:
    """A dict for metrics files: git commit, params hash, dataset fingerprint, device, versions
    (python, torch, numpy, opencv: a new environment can change computed numbers), time.

    ``dataset_fingerprint``: that of the prepared store the stage read
    (``arsr.data.store.PreparedDataset.fingerprint``); the params hash covers it, so two runs of
    the same params on different data have different hashes. Every stage notebook passes it."""
    import torch

    hashed = params if dataset_fingerprint is None else {**params, "dataset_fingerprint": dataset_fingerprint}
    return {
        "git_commit": git_commit(),
        "params_hash": params_hash(hashed),
        "dataset_fingerprint": dataset_fingerprint,
        "device": device_description(),
        "python": platform.python_version(),
        "torch": torch.__version__,
        **package_versions(),
        "time_utc": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
    }
