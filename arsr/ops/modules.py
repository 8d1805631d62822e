"""Helpers on ``nn.Module``s that both SR methods and recognisers use: where to run them and a
fingerprint of what they compute (it names evaluation caches)."""
from __future__ import annotations

import hashlib

import torch
from torch import nn

__all__ = ["default_device", "module_fingerprint"]


def default_device(device: str | torch.device | None = None) -> torch.device:
    """``device`` if given, else CUDA when available, else the CPU."""
    if device is not None:
        return torch.device(device)
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def module_fingerprint(module: nn.Module, **extra) -> str:
    """A short hash of a module's class, its plain (int/float/str/bool) attributes, ``extra``, and
    every tensor of its state dict: equal fingerprints mean the same outputs."""
    h = hashlib.sha256(type(module).__qualname__.encode())
    plain = {k: v for k, v in vars(module).items()
             if not k.startswith("_") and k != "training" and isinstance(v, (int, float, str, bool))}
    h.update(repr(sorted({**plain, **extra}.items())).encode())
    for key, value in module.state_dict().items():
        h.update(key.encode())
        h.update(str(tuple(value.shape)).encode())
        h.update(value.detach().cpu().contiguous().view(-1).view(torch.uint8).numpy().tobytes())
    return h.hexdigest()[:16]
