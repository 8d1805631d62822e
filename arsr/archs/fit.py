"""Which constructor arguments a weight file fits, read from its tensors' names and shapes.

    fitting_kwargs("vdsr", read_state_dict("vdsr_y.pt"))   # {"in_ch": 1, "num_feat": 64, "num_conv": 20, "bias": False}

Only what the tensors fix unambiguously is read (widths, depths, channels, whether convolutions have
a bias); what they cannot say (the scale of VDSR, which upscales before its network) is left to the
caller's settings. A caller merges the result into its ``arch_kwargs`` and still loads strictly, so
a wrong guess fails as loudly as a wrong setting.
"""
from __future__ import annotations

import re
from typing import Callable, Mapping

import torch

__all__ = ["fitting_kwargs", "format_kwargs"]


def fitting_kwargs(arch: str, state: Mapping[str, torch.Tensor]) -> dict | None:
    """The ``arch_kwargs`` of architecture ``arch`` that the state dict ``state`` fixes, or None
    when this architecture has no reader or the tensors do not look like one of it."""
    read = _READERS.get(arch)
    if read is None:
        return None
    try:
        return read(state)
    except (KeyError, IndexError, ValueError):
        return None


def format_kwargs(kwargs: Mapping) -> str:
    """``{in_ch: 1, bias: false}``: as a params file writes them."""
    def value(v):
        return str(v).lower() if isinstance(v, bool) else str(v)
    return "{" + ", ".join(f"{k}: {value(v)}" for k, v in kwargs.items()) + "}"


def _indices(state: Mapping, prefix: str) -> int:
    """How many consecutive blocks ``prefix.<i>.`` the state dict holds (0, 1, ... without gaps)."""
    found = {int(m.group(1)) for k in state if (m := re.match(re.escape(prefix) + r"\.(\d+)\.", k))}
    if found != set(range(len(found))):
        raise ValueError(f"{prefix}: blocks {sorted(found)} have gaps")
    return len(found)


def _vdsr(state: Mapping) -> dict:
    first, last = state["input.weight"], state["output.weight"]
    if first.shape[1] != last.shape[0] or first.shape[0] != last.shape[1]:
        raise ValueError("input and output convolutions disagree")
    return {"in_ch": int(first.shape[1]), "num_feat": int(first.shape[0]),
            "num_conv": _indices(state, "residual_layer") + 2, "bias": "input.bias" in state}


def _rrdbnet(state: Mapping) -> dict:
    return {"num_feat": int(state["conv_first.weight"].shape[0]), "num_block": _indices(state, "body"),
            "num_grow_ch": int(state["body.0.rdb1.conv1.weight"].shape[0]),
            "num_out_ch": int(state["conv_last.weight"].shape[0])}


def _msrresnet(state: Mapping) -> dict:
    return {"num_in_ch": int(state["conv_first.weight"].shape[1]), "num_feat": int(state["conv_first.weight"].shape[0]),
            "num_block": _indices(state, "body"), "num_out_ch": int(state["conv_last.weight"].shape[0])}


_READERS: dict[str, Callable[[Mapping], dict]] = {"vdsr": _vdsr, "rrdbnet": _rrdbnet, "srresnet": _msrresnet}
