"""Building blocks shared by the SR networks (after BasicSR's arch_util; Wang et al., ESRGAN, ECCVW 2018)."""
from __future__ import annotations

import math
import os
import pickle
from pathlib import Path
from typing import Callable, Iterable, Mapping

import torch
from torch import nn
from torch.nn import init
from torch.nn.modules.batchnorm import _BatchNorm

from arsr.ops.imresize import imresize

# Wrappers under which training frameworks store a state dict (BasicSR: params / params_ema).
_STATE_DICT_WRAPPERS = ("params_ema", "params", "state_dict", "model")


@torch.no_grad()
def default_init_weights(modules: nn.Module | Iterable[nn.Module], scale: float = 1.0,
                         bias_fill: float = 0.0, **kwargs) -> None:
    """Kaiming-normal init of every Conv2d/Linear inside ``modules``, weights scaled by ``scale``.

    BasicSR's initialisation: residual branches use ``scale=0.1`` so a deep stack starts close to
    the identity. BatchNorm gets weight 1, bias ``bias_fill``. ``kwargs`` go to ``kaiming_normal_``.
    """
    if isinstance(modules, nn.Module):
        modules = [modules]
    for module in modules:
        for m in module.modules():
            if isinstance(m, (nn.Conv2d, nn.Linear)):
                init.kaiming_normal_(m.weight, **kwargs)
                m.weight.mul_(scale)
                if m.bias is not None:
                    m.bias.fill_(bias_fill)
            elif isinstance(m, _BatchNorm):
                init.constant_(m.weight, 1)
                if m.bias is not None:
                    m.bias.fill_(bias_fill)


@torch.no_grad()
def zero_init_(*layers: nn.Module) -> None:
    """Set the weight and bias of each layer to zero: the last conv of a network with a global
    residual, so that it starts at its skip (ReZero/Fixup style). It gets a gradient from the first
    step; the layers before it get theirs from the second step on."""
    for layer in layers:
        init.zeros_(layer.weight)
        if layer.bias is not None:
            init.zeros_(layer.bias)


def bicubic_upscale(x: torch.Tensor, scale: int) -> torch.Tensor:
    """The study's bicubic baseline as a network skip: MATLAB ``imresize`` by ``scale`` through
    ``arsr.ops.imresize``'s differentiable torch path.

    Computed in float32 even under autocast (bf16 would round the skip by up to 2^-9), so a
    network with a zeroed last conv returns the baseline before its uint8 rounding.
    ``x: (..., c, h, w)`` -> ``(..., c, scale·h, scale·w)``, float32 for half/bf16 input.
    """
    if x.dtype in (torch.float16, torch.bfloat16):
        x = x.float()
    with torch.autocast(x.device.type, enabled=False):
        return imresize(x, scale)


def make_layer(block: Callable[..., nn.Module], num_blocks: int, **kwargs) -> nn.Sequential:
    """``num_blocks`` fresh ``block(**kwargs)`` in an ``nn.Sequential`` (keys ``0.``, ``1.``, ...)."""
    return nn.Sequential(*(block(**kwargs) for _ in range(num_blocks)))


class ResidualBlockNoBN(nn.Module):
    """conv-ReLU-conv with an identity skip and no BatchNorm (EDSR/MSRResNet block; BasicSR keys).

    Keys: ``conv1.weight``, ``conv1.bias``, ``conv2.weight``, ``conv2.bias``.
    ``x: (b, num_feat, h, w)`` -> ``(b, num_feat, h, w)``.
    """

    def __init__(self, num_feat: int = 64, res_scale: float = 1.0, pytorch_init: bool = False):
        super().__init__()
        self.res_scale = res_scale
        self.conv1 = nn.Conv2d(num_feat, num_feat, 3, 1, 1)
        self.conv2 = nn.Conv2d(num_feat, num_feat, 3, 1, 1)
        self.relu = nn.ReLU(inplace=True)
        if not pytorch_init:
            default_init_weights([self.conv1, self.conv2], 0.1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.conv2(self.relu(self.conv1(x))) * self.res_scale


class Upsample(nn.Sequential):
    """Sub-pixel upsampling: (conv 3x3 to 4·C, PixelShuffle(2)) per factor 2, or one x3 stage.

    BasicSR's ``Upsample``: keys ``0.weight``, ``0.bias``, ``2.weight``, ... (the conv layers).
    ``x: (b, num_feat, h, w)`` -> ``(b, num_feat, scale·h, scale·w)``.
    """

    def __init__(self, scale: int, num_feat: int):
        layers: list[nn.Module] = []
        if scale >= 1 and scale & (scale - 1) == 0:
            for _ in range(int(math.log2(scale))):
                layers += [nn.Conv2d(num_feat, 4 * num_feat, 3, 1, 1), nn.PixelShuffle(2)]
        elif scale == 3:
            layers += [nn.Conv2d(num_feat, 9 * num_feat, 3, 1, 1), nn.PixelShuffle(3)]
        else:
            raise ValueError(f"Upsample: scale {scale} is not supported; use a power of 2 or 3")
        super().__init__(*layers)


def count_parameters(module: nn.Module, trainable_only: bool = False) -> int:
    """Number of scalar parameters of ``module`` (optionally only those with requires_grad)."""
    return sum(p.numel() for p in module.parameters() if p.requires_grad or not trainable_only)


def read_state_dict(path: str | os.PathLike, param_key: str | None = None) -> dict[str, torch.Tensor]:
    """The tensors stored in a weight file, loaded with ``weights_only=True`` on the CPU.

    Accepts a plain state dict or one wrapped in a dict under ``param_key`` (default: the first of
    ``params_ema``, ``params``, ``state_dict``, ``model`` present, as BasicSR and others save them);
    strips a ``module.`` prefix left by ``DataParallel``.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"weight file not found: {path}")
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as err:
        raise ValueError(
            f"{path} holds pickled Python objects (e.g. a whole model), not just tensors, so it "
            "does not load with weights_only=True; re-save it once, where it was made, with "
            "torch.save(model.state_dict(), path)") from err
    if not isinstance(obj, Mapping):
        raise ValueError(f"{path}: expected a state dict (a mapping of names to tensors), "
                         f"found {type(obj).__name__}")
    if param_key is not None:
        if param_key not in obj:
            raise KeyError(f"{path}: no entry {param_key!r}; top-level keys: {sorted(obj)[:10]}")
        obj = obj[param_key]
    elif not all(isinstance(v, torch.Tensor) for v in obj.values()):
        for key in _STATE_DICT_WRAPPERS:
            if isinstance(obj.get(key), Mapping):
                obj = obj[key]
                break
    state = {}
    for k, v in obj.items():
        if not isinstance(v, torch.Tensor):
            raise ValueError(f"{path}: entry {k!r} is a {type(v).__name__}, not a tensor; "
                             "pass param_key= to pick the state dict inside the file")
        state[k[len("module."):] if k.startswith("module.") else k] = v
    return state


def load_weights(module: nn.Module, path: str | os.PathLike, *, param_key: str | None = None,
                 ignore: Callable[[str], bool] | None = None) -> nn.Module:
    """Load a weight file into ``module``, strictly: every key present, none extra, same shapes.

    ``ignore(key)`` True drops a stored key before the comparison (e.g. a classifier the module
    does not have). On any mismatch raises ``ValueError`` naming the file and the keys at fault.
    Returns ``module``.
    """
    state = read_state_dict(path, param_key)
    if ignore is not None:
        state = {k: v for k, v in state.items() if not ignore(k)}
    expected = module.state_dict()
    missing = [k for k in expected if k not in state]
    unexpected = [k for k in state if k not in expected]
    wrong_shape = [f"{k}: file {tuple(state[k].shape)} vs model {tuple(v.shape)}"
                   for k, v in expected.items() if k in state and state[k].shape != v.shape]
    if missing or unexpected or wrong_shape:
        lines = [f"{path} does not fit {type(module).__name__} "
                 f"({len(state)} tensors in the file, {len(expected)} in the model):"]
        for title, keys in (("missing from the file", missing), ("not in the model", unexpected),
                            ("shape differs", wrong_shape)):
            if keys:
                shown = ", ".join(keys[:8]) + (f", ... ({len(keys)} in all)" if len(keys) > 8 else "")
                lines.append(f"  {title}: {shown}")
        lines.append("  check that the file was saved for this architecture and these constructor "
                     "arguments (widths, depths, scale, channels)")
        raise ValueError("\n".join(lines))
    module.load_state_dict(state, strict=True)
    return module
