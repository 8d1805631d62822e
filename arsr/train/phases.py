"""Training the paper's SR methods: the phases of a recipe (:mod:`arsr.train.presets`) run one
after the other with :func:`arsr.train.sr_trainer.train_sr`, a later phase starting from its
predecessor's ``model.pt``.

    python -m arsr.train.phases METHOD --out DIR      (or -m arsr.train.presets, as before)
    torchrun --nproc_per_node=N -m arsr.train.phases METHOD --out DIR
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Mapping

import torch.nn as nn

from ..interrupt import Interrupted
from ..io import write_json
from ..paths import resolve
from . import distributed
from .config import read_config_file
from .presets import METHODS, method_phases
from .sr_trainer import train_sr

__all__ = ["train_phases", "train_method", "main"]


def train_phases(phases, out_dir: str | Path, *, method: str,
                 feature_extractor: nn.Module | None = None, dataset=None, progress: bool = True,
                 device=None) -> Path:
    """Train resolved ``phases`` (``[Phase(name, config)]``, a later one initialised from its
    predecessor) into ``out_dir/<phase>/`` in order; finished phases are skipped and an
    interrupted one resumes. ``out_dir/method.json`` records ``method`` and the phase configs.
    Returns the final phase's ``model.pt``."""
    out_dir = resolve(out_dir)
    if distributed.setup(device).is_main:
        write_json(out_dir / "method.json",
                   {"method": method, "phases": [{"name": p.name, "config": p.config} for p in phases]})
    result = None
    for phase in phases:
        result = train_sr(phase.config, out_dir / phase.name, feature_extractor=feature_extractor,
                          dataset=dataset, progress=progress, device=device)
    return result.model_path


def train_method(method: str, out_dir: str | Path, overrides: Mapping | None = None, *,
                 feature_extractor: nn.Module | None = None, dataset=None, progress: bool = True,
                 device=None) -> Path:
    """Train every phase of ``method`` (its preset with ``overrides``) into ``out_dir/<phase>/``;
    see :func:`train_phases`. ``feature_extractor`` (a frozen module) replaces the VGG19 of the
    phases with a feature loss."""
    out_dir = resolve(out_dir)
    return train_phases(method_phases(method, overrides, out_dir), out_dir, method=method,
                        feature_extractor=feature_extractor, dataset=dataset, progress=progress,
                        device=device)


def main(argv: list[str] | None = None, prog: str = "python -m arsr.train.phases") -> int:
    module = prog.split()[-1]
    parser = argparse.ArgumentParser(
        prog=prog,
        description="Train an SR method of the paper, phase after phase (resumable). Several "
                    f"GPUs: torchrun --nproc_per_node=N -m {module} METHOD --out DIR")
    parser.add_argument("method", choices=METHODS)
    parser.add_argument("--out", required=True, help="output folder (one subfolder per phase)")
    parser.add_argument("--overrides", default=None, help="YAML/JSON of config overrides")
    parser.add_argument("--data", default=None, help="prepared data folder (default: data.root)")
    parser.add_argument("--no-progress", action="store_true")
    args = parser.parse_args(argv)
    overrides = read_config_file(args.overrides) if args.overrides else None
    try:
        path = train_method(args.method, args.out, overrides, dataset=args.data,
                            progress=not args.no_progress)
    except Interrupted as stopped:
        print(f"{stopped}; run the same command again to resume", file=sys.stderr)
        return stopped.exit_code
    finally:
        distributed.cleanup()
    if distributed.is_main_process():
        print(f"done: {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
