"""The paper's SR methods' training, resolved: the recipes of the method registry
(:mod:`arsr.methods`, whose rows carry them; defined in :mod:`arsr.train.recipes`) by name, with
a study's overrides merged in. No torch (``arsr.study.schema`` checks them); :mod:`arsr.train.phases`
trains them.

``PRESETS``: the recipes of the paper's Table 2 rows and of the base models; ``BEYOND_PAPER``:
those of the rows beyond the paper; ``RECIPES``: both. ``BASES``: method -> (base, its phase
that the base's final model replaces), from the registry's ``base``.

``method_phases(method, overrides)`` deep-merges ``overrides`` into every phase (e.g. a tiny
profile: ``{"iterations": 20, "arch_kwargs": {...}, "data": {"hr_patch": 32}}``); the key
``phases: {<phase>: {...}}`` overrides one phase only (e.g. ``{"phases": {"psnr": {"init_from":
"data/models/RRDB_PSNR_x4.pth", "iterations": 0}}}`` takes a published PSNR model as phase 1).
"""
from __future__ import annotations

import copy
import importlib
import sys
from pathlib import Path
from typing import Mapping

from ..mapping import merged
from ..methods import BASE_MODELS, METHODS as _REGISTRY
from ..params import check_keys
from .config import ConfigError, resolve_config
from .recipes import RDSR_ABLATION, VGG19_WEIGHTS, Phase

__all__ = ["PRESETS", "METHODS", "BEYOND_PAPER", "RECIPES", "RDSR_ABLATION", "BASES", "base_overrides",
           "Phase", "method_phases", "train_phases", "train_method",  # noqa: F822 (module __getattr__)
           "VGG19_WEIGHTS"]

#: The recipes of the paper's Table 2 rows, in its order, then of the base models.
PRESETS: dict[str, list[Phase]] = {
    **{m.name: list(m.recipe) for m in _REGISTRY if m.paper and m.recipe},
    **{m.name: list(m.recipe) for m in BASE_MODELS},
}
METHODS = tuple(PRESETS)
#: Methods beyond the paper: recipes like ``PRESETS``' but no row of its Table 2.
BEYOND_PAPER: dict[str, list[Phase]] = {m.name: list(m.recipe) for m in _REGISTRY if not m.paper and m.recipe}
#: Every recipe ``method_phases`` knows.
RECIPES: dict[str, list[Phase]] = {**PRESETS, **BEYOND_PAPER}
#: Methods whose first phase is another trained model, as in the papers (ESRGAN and SoSR start
#: from one PSNR-oriented RRDBNet; ToSR from a trained VSR-DUF-16): method -> (base, its phase
#: that the base's final model replaces). The study trains the base once and copies it in
#: (``iterations: 0`` with ``init_from``), see ``base_overrides``.
BASES: dict[str, tuple[str, str]] = {m.name: m.base for m in (*_REGISTRY, *BASE_MODELS) if m.base}


def base_overrides(method: str, base_model: str | Path, base: str | None = None,
                   phase: str | None = None) -> dict:
    """Overrides that make ``method``'s phase ``phase`` (default: per ``BASES``) a copy of the
    trained weight file ``base_model`` (no training in that phase)."""
    if phase is None:
        if method not in BASES:
            raise ValueError(f"{method!r} has no base model; methods with one: {', '.join(BASES)}")
        phase = BASES[method][1]
    return {"phases": {phase: {"init_from": str(base_model), "iterations": 0}}}


def method_phases(method: str, overrides: Mapping | None = None,
                  out_dir: str | Path | None = None) -> list[Phase]:
    """The resolved phase configs of ``method`` with ``overrides`` deep-merged into each.

    ``overrides["phases"][<phase>]`` applies to that phase alone (after the common part).
    With ``out_dir``, each later phase without its own ``init_from`` starts from
    ``out_dir/<previous phase>/model.pt``. Unknown methods, phases or config keys raise an
    error naming them and the allowed ones.
    """
    if method not in RECIPES:
        raise ValueError(f"unknown SR method {method!r}; choose one of {', '.join(RECIPES)}")
    overrides = copy.deepcopy(dict(overrides or {}))
    per_phase = overrides.pop("phases", None) or {}
    names = [p.name for p in RECIPES[method]]
    if not isinstance(per_phase, Mapping):
        raise ConfigError(f"overrides: phases must map phase names ({', '.join(names)}) to overrides")
    check_keys(per_phase, names, f"overrides of method {method!r}", what="phase", allowed_as="its phases")
    if "init_from" in overrides:
        raise ConfigError("overrides: init_from would apply to every phase; set it for one phase "
                          f"as phases.<name>.init_from (phases of {method}: {', '.join(names)})")
    phases = []
    for i, phase in enumerate(RECIPES[method]):
        cfg = merged(merged(phase.config, overrides), per_phase.get(phase.name) or {})
        if i > 0 and out_dir is not None and cfg.get("init_from") is None:
            cfg["init_from"] = str(Path(out_dir) / names[i - 1] / "model.pt")
        try:
            phases.append(Phase(phase.name, resolve_config(cfg)))
        except ConfigError as err:
            raise ConfigError(f"method {method!r}, phase {phase.name!r}: {err}") from None
    return phases


# Training the phases is arsr.train.phases' (torch); these names stay importable from here, loaded
# on use so that the recipes themselves (checked by arsr.study.schema) load without torch.
_TRAINING = ("train_phases", "train_method", "main")


def __getattr__(name: str):
    if name in _TRAINING:
        return getattr(importlib.import_module(".phases", __package__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


if __name__ == "__main__":  # python -m arsr.train.presets METHOD --out DIR, as before
    sys.exit(importlib.import_module("arsr.train.phases").main(prog="python -m arsr.train.presets"))
