"""The SR method the command line runs: the study's trained model of a method, or a weight file
with its sizes (from the trainer's ``config.json``, from ``params.yaml``'s ``sr.<method>``, else read
from the file's tensors by :mod:`arsr.archs.fit`), and the one error type of the command line.
"""
from __future__ import annotations

import json
import os
import sys
from pathlib import Path

from .methods import SR_TRAINABLE
from .params_file import ParamError, load_params
from .paths import repo_root

__all__ = ["CLIError", "SR_MODELS", "SCALE", "load_method", "study_root", "read_params", "one_line"]

#: Where the study keeps its trained SR models, relative to its root (``dvc.yaml``'s outs).
SR_MODELS = "data/models/sr"
SCALE = 4


class CLIError(Exception):
    """A bad input the user can fix: its message is one line naming the file and the fix."""


def study_root() -> Path | None:
    try:
        return repo_root()
    except FileNotFoundError:
        return None


def read_params(path: str | None) -> tuple[dict | None, str]:
    """params.yaml (``path``, else the study root's; None outside the study) and its name."""
    if path is None:
        root = study_root()
        if root is None:
            return None, "arsr.train.presets (no params.yaml: not inside the study)"
        path = root / "params.yaml"
    try:
        return load_params(path), str(path)
    except ParamError as err:
        raise CLIError(f"{err} (--params)") from None


def _train_stage(method: str) -> str:
    from .train.presets import BASES

    return f"{'finetune_sr' if method in BASES else 'train_sr'}@{method}"


def one_line(err: BaseException, path: Path) -> str:
    """The first line of a library error, naming ``path`` if it does not already."""
    line = str(err).strip().splitlines()[0].rstrip(":") if str(err).strip() else type(err).__name__
    return line if str(path) in line else f"{path}: {line}"


def load_method(method: str, weights: str | os.PathLike | None = None, *, seed: int = 0,
                params: str | None = None, device=None):
    """The ``arsr.sr_methods`` method ``method`` (``bicubic`` or one of ``arsr.methods.SR_TRAINABLE``)
    with ``weights`` (default: the study's trained model of ``seed``); :class:`CLIError` on any
    file that does not fit."""
    from .sr_methods import bicubic_method

    if method == "bicubic":
        if weights is not None:
            raise CLIError(f"{weights}: bicubic has no weights; leave out --weights")
        return bicubic_method(SCALE, device=device)
    if method not in SR_TRAINABLE:
        raise CLIError(f"--method {method}: unknown; choose bicubic or one of {', '.join(SR_TRAINABLE)}")
    if weights is None:
        return _study_method(method, seed, device)
    return _method_from_file(method, Path(weights), params, device)


def _study_method(method: str, seed: int, device):
    from .study.sr import load_sr_method

    fix = f"run the study's `dvc repro {_train_stage(method)}`, or pass --weights FILE"
    root = study_root()
    if root is None:
        raise CLIError(f"no trained {method}: not inside the arsr study (no dvc.yaml and params.yaml at or "
                       f"above {Path.cwd()}); run from the study's root, or pass --weights FILE")
    folder = root / SR_MODELS / method / f"seed{seed}"
    spec = folder / "method.json"
    if not spec.is_file():
        raise CLIError(f"{spec} not found: {method} (seed {seed}) is not trained; {fix}")
    try:
        last = json.loads(spec.read_text())["phases"][-1]["name"]
    except (ValueError, KeyError, IndexError, TypeError):
        raise CLIError(f"{spec} is damaged; {fix} again") from None
    model_file = folder / last / "model.pt"
    if not model_file.is_file():
        raise CLIError(f"{model_file} not found: the training of {method} (seed {seed}) has not finished; {fix}")
    try:
        return load_sr_method(root / SR_MODELS, method, seed, device=device)
    except (ValueError, KeyError, TypeError, RuntimeError, OSError) as err:
        raise CLIError(f"{one_line(err, model_file)}; {fix} again") from None


def _method_from_file(method: str, weights: Path, params_path: str | None, device):
    from .archs.fit import format_kwargs
    from .sr_methods import default_device, method_from_model
    from .train.config import ConfigError
    from .train.presets import method_phases
    from .train.networks import load_generator

    if not weights.is_file():
        raise CLIError(f"{weights}: no such weight file; check the path, or leave out --weights for the "
                       f"study's trained {method}")
    arch = method_phases(method)[-1].config["arch"]
    config_file = weights.parent / "config.json"
    if config_file.is_file():  # the trainer's phase folder: the sizes the weights were trained with
        try:
            config = json.loads(config_file.read_text())
        except ValueError:
            raise CLIError(f"{config_file} is not valid JSON; restore it or move the weights elsewhere") from None
        source = str(config_file)
        if config.get("arch") != arch:
            raise CLIError(f"{weights} was trained as {config.get('arch')!r} ({config_file}), but {method} is a "
                           f"{arch!r}; pass --method with the weights' method, or a {method} weight file")
    else:
        from .study.sr import method_overrides

        params, source = read_params(params_path)
        sr = (params or {}).get("sr") or {}
        try:
            overrides = method_overrides(sr, method, 0) if "common" in sr else {}
            config = method_phases(method, overrides)[-1].config
        except (ConfigError, ParamError, ValueError) as err:
            raise CLIError(f"{source}: sr.{method}: {err}; fix it or pass --params FILE") from None
        source = f"sr.{method} of {source}" if sr else source
    try:
        model = load_generator(weights, config, device="cpu")
    except (ValueError, KeyError, TypeError, RuntimeError, OSError, ConfigError) as err:
        what = method if method == arch else f"{method} ({arch})"
        fit = _fitting_model(weights, config)
        sizes_given = params_path is not None or config_file.is_file()
        if fit is None or sizes_given:
            fix = (f"its tensors fit sr.{method}.arch_kwargs {format_kwargs(fit[0])}: pass --params FILE with "
                   "those" if fit else f"pass a {method} weight file of those sizes, or --params FILE whose "
                   f"sr.{method}.arch_kwargs match it")
            raise CLIError(f"{one_line(err, weights)}: it is not a {what} with the sizes of {source}; "
                           f"{fix}") from None
        kwargs, model = fit
        print(f"arsr: {weights} does not fit the sizes of {source}; its tensors fit {what} with "
              f"arch_kwargs {format_kwargs(kwargs)}, used (--params FILE sets them instead)", file=sys.stderr)
    return method_from_model(model, method, device=default_device(device))


def _fitting_model(weights: Path, config: dict):
    """``(arch_kwargs that differ from config's, the model)`` when the weight file's tensors fix
    arguments (:func:`arsr.archs.fit.fitting_kwargs`) with which it loads; else None."""
    import inspect

    from .archs import ARCHS
    from .archs.arch_util import read_state_dict
    from .archs.fit import fitting_kwargs
    from .train.config import ConfigError
    from .train.networks import load_generator

    try:
        fitted = fitting_kwargs(config["arch"], read_state_dict(weights))
    except (ValueError, KeyError, TypeError, RuntimeError, OSError):
        return None
    if not fitted:
        return None
    defaults = {k: p.default for k, p in inspect.signature(ARCHS[config["arch"]]).parameters.items()
                if p.default is not inspect.Parameter.empty}
    current = {**defaults, **dict(config.get("arch_kwargs") or {})}
    changed = {k: v for k, v in fitted.items() if current.get(k) != v}
    try:
        model = load_generator(weights, {**config, "arch_kwargs": {**dict(config.get("arch_kwargs") or {}), **fitted}},
                               device="cpu")
    except (ValueError, KeyError, TypeError, RuntimeError, OSError, ConfigError):
        return None
    return changed, model
