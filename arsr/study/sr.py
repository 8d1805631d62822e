"""Stage ``train_sr``: one SR method of the paper (``arsr.train.presets``) trained per seed into
``models_dir/seed<k>``, with the study's sizes (``sr.common`` merged with ``sr.<method>``), and
the feature loss measured by the network ``sr.feature_network`` names:

* ``recognizer``: :class:`RecognizerFeatures`, the frozen backbone of the seed's TSN spatial
  stream up to a mid-level layer (ResNet ``layer3``, BN-Inception ``inception_4d``: stride 16,
  the depth of VGG19 conv5_4 that ESRGAN uses), fed with the TSN's own input normalisation. The
  SR network is then pushed to keep what the recognizer looks at (inferred; the paper uses VGG19).
* ``vgg19``: torchvision's ImageNet VGG19 (``sr.vgg_weights``) at each preset's layer (conv5_4).

rdsr's task terms (beyond the paper) distil two frozen TSN streams: its teachers are the TSN rgb
and flow streams of ``recognition.feature_seed`` in the feature network's folder
(``feature_dir/seed<k>/tsn_rgb``, ``.../tsn_flow``, :func:`with_teachers`), never the recognizers
of ``recognition.seed`` that score the methods.

    runs = train_sr_seeds("sosr", sr, seeds, "data/interim", "data/models/sr/sosr",
                          recognizers_dir="data/models/recognizers")
    method = load_sr_method("data/models/sr", "sosr", seed=0)    # for arsr.evaluate
"""
from __future__ import annotations

import copy
import json
import math
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Mapping, Sequence

import pandas as pd
import torch
from torch import nn

from ..mapping import merged
from ..paths import resolve
from .layout import SR_LOG_TERMS, SR_PLOT_COLUMNS, sr_stage
from .persist import file_digest, reuse_or_reset
from .recognizers import recognizer_dir

__all__ = [
    "FEATURE_LAYERS",
    "TEACHER_STREAMS",
    "RecognizerFeatures",
    "SRRuns",
    "recognizer_features",
    "method_overrides",
    "base_model_path",
    "uses_feature_loss",
    "feature_network_label",
    "uses_task_loss",
    "teacher_dirs",
    "with_teachers",
    "train_sr_seeds",
    "train_seed",
    "sr_log",
    "load_sr_method",
    "plot_sr_curves",
]

#: Mid-level layer of each TSN backbone family used for the recognizer feature loss.
FEATURE_LAYERS = {"resnet": "layer3", "bninception": "inception_4d"}
#: rdsr's task terms and the TSN stream each distils (``task.<term>_teacher``).
TEACHER_STREAMS = {"spatial": "tsn_rgb", "temporal": "tsn_flow"}


# ---------------------------------------------------------------------------------------------
# The recognizer as feature network


class RecognizerFeatures(nn.Module):
    """Frozen mid-level features of a TSN spatial stream, for the SR feature loss.

    tsn: a trained RGB ``arsr.recognition.TSN`` (copied; the original is left alone).
    layer: the last block applied; default ``FEATURE_LAYERS`` of the backbone family (ResNet
        ``layer1``..``layer4``; BN-Inception ``inception_3a``..``inception_5b``).

    ``x: (b, 3, H, W)`` RGB in [0, 1] -> ``(b, C, H/16, W/16)`` for the default layers (ResNet
    layer3: C = 4·width), after the TSN's own input normalisation (``TSN.normalize``). Every
    parameter has ``requires_grad=False`` and the module stays in eval mode (BatchNorm uses the
    recognizer's running statistics), but gradients flow to ``x``.
    """

    def __init__(self, tsn: nn.Module, layer: str | None = None):
        super().__init__()
        if getattr(tsn, "modality", None) != "rgb":
            raise ValueError(f"RecognizerFeatures needs a TSN spatial (rgb) stream, got "
                             f"{type(tsn).__name__} with modality {getattr(tsn, 'modality', None)!r}")
        self.backbone = tsn.backbone
        self.family = "bninception" if tsn.backbone == "bninception" else "resnet"
        self.layer = layer or FEATURE_LAYERS[self.family]
        base = copy.deepcopy(tsn.base_model)
        if self.family == "resnet":
            names = ["layer1", "layer2", "layer3", "layer4"]
            if self.layer not in names:
                raise ValueError(f"RecognizerFeatures: layer {self.layer!r} is not one of {names}")
            self.stages = names[:names.index(self.layer) + 1]
            for unused in names[len(self.stages):] + ["fc"]:
                delattr(base, unused)
        else:
            from ..recognition.bninception import INCEPTION_SPECS
            names = [f"inception_{s.name}" for s in INCEPTION_SPECS]
            if self.layer not in names:
                raise ValueError(f"RecognizerFeatures: layer {self.layer!r} is not one of {names}")
            self.stages = INCEPTION_SPECS[:names.index(self.layer) + 1]
        self.base = base
        for p in self.parameters():
            p.requires_grad_(False)
        self.train(False)

    def train(self, mode: bool = True) -> "RecognizerFeatures":
        """Stays in eval mode: the recognizer is a fixed measuring instrument."""
        return super().train(False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``x: (b, 3, H, W)`` RGB in [0, 1] -> feature maps of ``layer``."""
        from ..recognition.tsn import normalize

        x = normalize(x, "rgb", self.backbone)
        base = self.base
        if self.family == "resnet":
            x = base.stem(x)
            for name in self.stages:
                x = getattr(base, name)(x)
            return x
        x = base.pool1_3x3_s2(base._unit("conv1_7x7_s2", x))
        x = base.pool2_3x3_s2(base._unit("conv2_3x3", base._unit("conv2_3x3_reduce", x)))
        for spec in self.stages:
            x = base._inception_forward(spec, x)
        return x


def recognizer_features(recognizers_dir: str | Path, seed: int, layer: str | None = None,
                        device: str | torch.device | None = None) -> RecognizerFeatures:
    """:class:`RecognizerFeatures` of the TSN spatial stream in ``recognizers_dir/seed<k>/tsn_rgb``
    (the study passes the feature network's folder and ``recognition.feature_seed``: a TSN that
    does not score the methods)."""
    from ..recognition.inference import load_recognizer

    folder = recognizer_dir(recognizers_dir, seed, "tsn_rgb")
    if not (folder / "model.pt").is_file():
        raise FileNotFoundError(
            f"{folder / 'model.pt'} not found: sr.feature_network = 'recognizer' needs the spatial TSN "
            f"of seed {seed}; run `dvc repro train_recognizers` first (or set sr.feature_network: vgg19)")
    return RecognizerFeatures(load_recognizer(folder, device or "cpu").model, layer)


# ---------------------------------------------------------------------------------------------
# Configs


def method_overrides(sr: Mapping, method: str, seed: int, extra: Mapping | None = None,
                     base_model: str | Path | None = None) -> dict:
    """The trainer overrides of ``method`` for ``seed``: ``sr.common`` merged with ``sr.<method>``
    (then ``extra``), ``seed`` set, and for ``feature_network: vgg19`` the VGG19 file. A method
    with a base model (``arsr.train.presets.BASES``) has the base's sizes (``sr.<base>.arch_kwargs``);
    with ``base_model`` (the base's trained weight file) its first phase is a copy of it."""
    from ..train.presets import BASES, base_overrides

    out = merged(merged(sr["common"], sr.get(method) or {}), extra or {})
    if method in BASES:
        out = merged(out, {"arch_kwargs": (sr.get(BASES[method][0]) or {}).get("arch_kwargs", {})})
        if base_model is not None:
            out = merged(out, base_overrides(method, base_model))
    out["seed"] = int(seed)
    if sr.get("feature_network") == "vgg19":
        out = merged(out, {"feature": {"vgg_weights": sr["vgg_weights"]}})
    return out


def base_model_path(sr_models_dir: str | Path, method: str, seed: int) -> Path | None:
    """The trained model ``method``'s first phase is copied from (``BASES``), or None:
    ``sr_models_dir/<base>/seed<k>/<base's last phase>/model.pt``."""
    from ..train.presets import BASES, PRESETS

    if method not in BASES:
        return None
    base = BASES[method][0]
    return resolve(sr_models_dir) / base / f"seed{seed}" / PRESETS[base][-1].name / "model.pt"


def _require_base(path: Path, method: str) -> Path:
    if not path.is_file():
        raise FileNotFoundError(
            f"{path} not found: {method} starts from that trained model; run `dvc repro "
            f"{sr_stage(path.parent.parent.parent.name)}` first")
    return path


def uses_feature_loss(phases) -> bool:
    """Whether any of the resolved ``phases`` (``method_phases`` output) has a feature loss."""
    return any(p.config["feature"]["weight"] > 0 for p in phases)


def feature_network_label(sr: Mapping, phases, extractor: nn.Module | None = None) -> str | None:
    """What measures the feature loss of ``phases`` under ``sr.feature_network`` (None: no
    feature loss); ``extractor``: the :class:`RecognizerFeatures` in use, if built."""
    if not uses_feature_loss(phases):
        return None
    if sr["feature_network"] == "vgg19":
        layers = sorted({(p.config["feature"]["layer"], p.config["feature"]["before_relu"])
                         for p in phases if p.config["feature"]["weight"] > 0})
        where = ", ".join(f"{layer} {'before' if before else 'after'} ReLU" for layer, before in layers)
        return f"vgg19 (ImageNet, {sr['vgg_weights']}; {where})"
    if isinstance(extractor, RecognizerFeatures):
        return (f"recognizer: the seed's TSN spatial stream ({extractor.backbone} up to "
                f"{extractor.layer}), frozen")
    return "recognizer: the seed's TSN spatial stream, frozen"


def uses_task_loss(phases) -> dict[str, bool]:
    """Which task terms (rdsr's spatial / temporal distillation) any of the resolved ``phases`` has on."""
    return {term: any(p.config["task"][f"{term}_weight"] > 0 for p in phases) for term in TEACHER_STREAMS}


def teacher_dirs(recognizers_dir: str | Path, seed: int) -> dict[str, str]:
    """The teacher folder of each task term: ``recognizers_dir/seed<k>/<tsn_rgb|tsn_flow>``, kept
    relative when ``recognizers_dir`` is (the configs record it; ``arsr.paths.resolve`` reads it
    from the repository root), so a moved checkout resumes its training."""
    return {term: str(Path(recognizers_dir) / f"seed{int(seed)}" / name) for term, name in TEACHER_STREAMS.items()}


def with_teachers(phases, recognizers_dir: str | Path | None, feature_seed: int | None) -> list:
    """``phases`` with ``task.<term>_teacher`` set to :func:`teacher_dirs` for each task term that
    is on and has no teacher yet (one given in ``sr.<method>`` stays). The study passes the feature
    network's folder and ``recognition.feature_seed``: TSN streams trained apart from the
    recognizers that score the methods."""
    from ..train.presets import Phase

    on = uses_task_loss(phases)
    if not any(on.values()):
        return list(phases)
    if any(p.config["task"][f"{t}_teacher"] is None for p in phases for t in on
           if p.config["task"][f"{t}_weight"] > 0) and (recognizers_dir is None or feature_seed is None):
        raise ValueError("train_sr_seeds: the task terms (rdsr) need recognizers_dir and feature_seed (their "
                         "teachers' folder and seed: the feature network's, recognition.feature_seed)")
    out = []
    for p in phases:
        cfg = copy.deepcopy(p.config)
        for term in on:
            if cfg["task"][f"{term}_weight"] > 0 and cfg["task"][f"{term}_teacher"] is None:
                cfg["task"][f"{term}_teacher"] = teacher_dirs(recognizers_dir, feature_seed)[term]
        out.append(Phase(p.name, cfg))
    return out


def _teacher_sources(phases) -> dict[str, str]:
    """term -> digest of its teacher's weights: a retrained teacher makes a different loss."""
    out = {}
    for p in phases:
        for term in TEACHER_STREAMS:
            folder = p.config["task"][f"{term}_teacher"]
            if p.config["task"][f"{term}_weight"] > 0 and folder is not None and term not in out:
                weights = resolve(folder) / "model.pt"
                if not weights.is_file():
                    raise FileNotFoundError(
                        f"{weights} not found: rdsr's {term} task term distils the TSN {TEACHER_STREAMS[term]} "
                        f"stream there (recognition.feature_seed); run `dvc repro train_recognizers` first")
                out[term] = file_digest(weights)
    return out


# ---------------------------------------------------------------------------------------------
# Training


@dataclass
class SRRuns:
    """What :func:`train_sr_seeds` did: ``metrics`` (for ``reports/metrics/train_sr/<method>.json``,
    without provenance) and ``log`` (tidy, ``SR_PLOT_COLUMNS`` plus lr and seconds)."""

    metrics: dict
    log: pd.DataFrame


def train_sr_seeds(method: str, sr: Mapping, seeds: Sequence[int], interim_dir: str | Path,
                   models_dir: str | Path, *, recognizers_dir: str | Path | None = None,
                   feature_seed: int | None = None, sr_models_dir: str | Path | None = None,
                   phases_for: Callable[[int, Path], list] | None = None, label: str | None = None,
                   progress: bool = True, device=None, processes: int | None = 1) -> SRRuns:
    """Train ``method`` for each seed into ``models_dir/seed<k>`` (resuming / skipping what is done;
    a folder made with other settings or from other data, the store's dataset fingerprint, is
    emptied and trained again: :func:`arsr.study.persist.reuse_or_reset`).

    sr: the validated ``sr`` params group. ``phases_for(seed, out_dir)`` gives the resolved phases
    (default: the preset's, ``arsr.train.presets.method_phases(method, method_overrides(...))``,
    a method of ``BASES`` starting from ``sr_models_dir/<base>/seed<k>``, default
    ``models_dir``'s parent); ``label`` names the run in ``method.json`` and the log (default
    ``method``). When a phase has a feature loss and ``feature_network: recognizer``, the
    feature network is the spatial TSN ``recognizers_dir/seed<feature_seed>/tsn_rgb`` (the study
    passes a TSN trained with ``recognition.feature_seed``, not the one that scores the methods);
    task terms (rdsr) without a teacher distil ``recognizers_dir/seed<feature_seed>/<tsn_rgb|tsn_flow>``
    (:func:`with_teachers`). ``processes`` (params.yaml's): the seeds are independent jobs (each
    seeds itself; a seed's phases run in order), so more than one process trains them side by side
    in single-threaded processes (:func:`arsr.workers.run_jobs`), with the weights one
    single-threaded process gives; 1 trains them one after the other here.
    """
    from ..archs import count_parameters
    from ..data.store import PreparedDataset
    from ..train.presets import method_phases
    from ..workers import Job, run_jobs

    label = label or method
    models_dir = resolve(models_dir)
    sr_models_dir = resolve(sr_models_dir) if sr_models_dir is not None else models_dir.parent
    if phases_for is None:
        def phases_for(seed, out):
            base = base_model_path(sr_models_dir, method, seed)
            return method_phases(method, method_overrides(sr, method, seed, base_model=base), out)
    dataset = PreparedDataset(interim_dir)
    t0 = time.perf_counter()
    feature_net, first_phases, extractor, feature_source = None, None, None, None
    jobs = []
    for seed in seeds:
        out = models_dir / f"seed{seed}"
        phases = with_teachers(phases_for(int(seed), out), recognizers_dir, feature_seed)
        first_phases = first_phases or phases
        if uses_feature_loss(phases) and sr["feature_network"] == "recognizer" and extractor is None:
            if recognizers_dir is None or feature_seed is None:
                raise ValueError("train_sr_seeds: sr.feature_network = 'recognizer' needs recognizers_dir "
                                 "and feature_seed (the feature network's TSN)")
            extractor = recognizer_features(recognizers_dir, feature_seed)
            # features of a retrained recognizer make a different loss
            feature_source = file_digest(recognizer_dir(recognizers_dir, feature_seed, "tsn_rgb") / "model.pt")
        use = extractor if uses_feature_loss(phases) and sr["feature_network"] == "recognizer" else None
        feature_net = feature_network_label(sr, phases, use)
        if use is not None:
            feature_net += f" (seed {feature_seed}, trained apart from the scoring recognizer)"
        starts = sorted({str(p.config["init_from"]) for p in phases
                         if p.config["init_from"] and p.config["iterations"] == 0})
        for path in starts:
            _require_base(resolve(path), label)
        settings = {"method": label, "phases": [[p.name, p.config] for p in phases],
                    "feature_network": feature_net,
                    "feature_source": feature_source if use is not None else None,
                    "bases": [file_digest(resolve(p)) for p in starts],
                    "dataset": dataset.fingerprint}  # a model of other data is trained again
        teachers = _teacher_sources(phases)
        if teachers:  # only where there are: the other methods' trained models stay valid
            settings["teacher_sources"] = teachers
        reuse_or_reset(out, settings)
        features = (str(recognizers_dir), int(feature_seed)) if use is not None else None
        jobs.append(Job(f"{label} seed {seed}", train_seed, (phases, out),
                        {"method": label, "interim_dir": dataset.root, "features": features, "device": device}))
    done = run_jobs(jobs, processes, desc=f"train {label}", progress=progress)
    seconds = {str(seed): s for seed, s in zip(seeds, done)}
    log = sr_log(models_dir, label, seeds)
    model = load_sr_method(models_dir.parent, models_dir.name, seeds[0], device="cpu").model
    final = {}
    for phase in [p.name for p in first_phases]:
        part = log[log["phase"] == phase]
        if part.empty:
            continue
        last = part.sort_values("iteration").groupby("seed").tail(1)
        final[phase] = {c: float(last[c].mean()) for c in ["loss", *SR_LOG_TERMS] if last[c].notna().any()}
    train_seconds = {s: float(log.loc[log["seed"] == int(s)].groupby("phase")["seconds"].max().sum())
                     for s in seconds}
    metrics = {
        "method": label,
        "preset": method,
        "arch": first_phases[-1].config["arch"],
        "arch_kwargs": first_phases[-1].config["arch_kwargs"],
        "parameters": int(count_parameters(model)),
        "phases": [{"name": p.name, "iterations": p.config["iterations"],
                    "losses": _loss_summary(p.config)} for p in first_phases],
        "final_losses": final,
        "feature_network": feature_net,
        # rdsr: the TSN streams its task terms distil (trained with recognition.feature_seed)
        "task_teachers": {t: p.config["task"][f"{t}_teacher"] for t in TEACHER_STREAMS for p in first_phases[-1:]
                          if p.config["task"][f"{t}_weight"] > 0} or None,
        "seeds": [int(s) for s in seeds],
        "train_seconds_per_seed": train_seconds,
        "seconds_per_seed": seconds,
        "seconds": time.perf_counter() - t0,
    }
    return SRRuns(metrics, log)


def train_seed(phases, out_dir: str | Path, *, method: str, interim_dir: str | Path,
               features: tuple[str, int] | None = None, device=None, progress: bool = True) -> float:
    """One seed's phases trained in order into ``out_dir`` (resumed; finished ones skipped): a job of
    :func:`arsr.workers.run_jobs`. ``features``: (folder, seed) of the TSN whose
    :class:`RecognizerFeatures` measure the feature loss, or None. Returns the wall seconds."""
    from ..train.phases import train_phases

    t = time.perf_counter()
    extractor = recognizer_features(*features) if features is not None else None
    train_phases(phases, out_dir, method=method, feature_extractor=extractor, dataset=interim_dir,
                 progress=progress, device=device)
    return time.perf_counter() - t


def _loss_summary(cfg: Mapping) -> dict:
    """The generator loss terms of a resolved phase config that are on (``arsr.train.config._terms``,
    the trainer's own test), with their weights."""
    from ..train.config import _terms

    on, task, out = _terms(cfg), cfg["task"], {}
    if on["pixel"]:
        out["pixel"] = f"{cfg['pixel']['weight']:g}·{cfg['pixel']['type']}"
    if on["colour"]:
        out["colour"] = f"{cfg['colour']['weight']:g}·L1 channel means"
    if on["warp"]:
        w = cfg["warp"]
        out["warp"] = f"{w['weight']:g}·warp(a={w['alpha']:g}, b={w['beta']:g}, g={w['gamma']:g}, {w['norm']})"
    if on["feature"]:
        out["feature"] = f"{cfg['feature']['weight']:g}·L1 features"
    if on["gan"]:
        out["gan"] = f"{cfg['gan']['weight']:g}·{cfg['gan']['type']}"
    for term, teacher in TEACHER_STREAMS.items():
        if on[term]:
            out[term] = f"{task[f'{term}_weight']:g}·KL({teacher.replace('tsn_', 'TSN ')}, T={task['temperature']:g})"
    return out


def sr_log(models_dir: str | Path, method: str, seeds: Sequence[int]) -> pd.DataFrame:
    """The phases' ``log.csv`` files of ``models_dir/seed<k>`` as one table: ``SR_PLOT_COLUMNS``
    (``loss`` = the total generator loss; ``step`` counts iterations over the phases in order)
    plus lr and seconds. Phases without a log (``iterations: 0``) are skipped."""
    parts = []
    for seed in seeds:
        folder = resolve(models_dir) / f"seed{seed}"
        spec = _read_method(folder)
        offset = 0
        for phase in spec["phases"]:
            path = folder / phase["name"] / "log.csv"
            if path.is_file():
                log = pd.read_csv(path)
                log = log.rename(columns={"total": "loss"})
                log.insert(0, "step", log["iteration"] + offset)
                log.insert(0, "phase", phase["name"])
                log.insert(0, "seed", int(seed))
                log.insert(0, "method", method)
                parts.append(log)
            offset += int(phase["config"]["iterations"])
    table = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=SR_PLOT_COLUMNS)
    for col in SR_PLOT_COLUMNS:
        if col not in table:
            table[col] = math.nan
    extra = [c for c in ("lr", "seconds") if c in table]
    return table[SR_PLOT_COLUMNS + extra]


def _read_method(folder: Path) -> dict:
    path = folder / "method.json"
    if not path.is_file():
        raise FileNotFoundError(f"{path} not found: train the SR model first "
                                "(`dvc repro train_sr@<method>`, or arsr.study.sr.train_sr_seeds)")
    return json.loads(path.read_text())


# ---------------------------------------------------------------------------------------------
# Loading for the evaluation


def load_sr_method(models_dir: str | Path, method: str, seed: int, *, name: str | None = None,
                   device: str | torch.device | None = None):
    """The trained SR model of ``models_dir/<method>/seed<k>`` (its last phase, as recorded in
    ``method.json``) wrapped as an ``arsr.sr_methods`` method (``VideoMethod`` for window models,
    ``ImageMethod`` otherwise) named ``name`` (default ``method``)."""
    from ..sr_methods import default_device, method_from_model
    from ..train.networks import load_generator

    folder = resolve(models_dir) / method / f"seed{seed}"
    spec = _read_method(folder)
    last = spec["phases"][-1]
    weights = folder / last["name"] / "model.pt"
    if not weights.is_file():
        raise FileNotFoundError(f"{weights} not found: the training of {method} (seed {seed}) has not "
                                f"finished; run `dvc repro {sr_stage(method)}` (or the ablation stage)")
    dev = default_device(device)
    model = load_generator(weights, last["config"], device=dev)
    return method_from_model(model, name or method, device=dev)


# ---------------------------------------------------------------------------------------------
# Figures


def plot_sr_curves(log: pd.DataFrame, title: str = ""):
    """Total generator loss against the step (phases in order; dotted lines at phase starts),
    and each weighted loss term, per seed."""
    import matplotlib.pyplot as plt

    fig, (ax_total, ax_terms) = plt.subplots(1, 2, figsize=(11, 3.6))
    many = log["seed"].nunique() > 1
    for seed, part in log.groupby("seed"):
        for phase, p in part.groupby("phase", sort=False):
            ax_total.plot(p["step"], p["loss"], label=f"{phase}" + (f" (seed {seed})" if many else ""))
        for term in SR_LOG_TERMS:
            if part[term].notna().any():
                ax_terms.plot(part["step"], part[term], label=term + (f" (seed {seed})" if many else ""),
                              ls="--" if term == "d_loss" else "-")
    starts = log.groupby("phase", sort=False)["step"].min().iloc[1:]
    for ax in (ax_total, ax_terms):
        for s in starts:
            ax.axvline(s, color="k", ls=":", lw=0.8)
        ax.set(xlabel="step (iterations over all phases)", yscale="log")
        ax.legend(fontsize=8)
    ax_total.set(ylabel="total generator loss", title=f"{title} training loss".strip())
    ax_terms.set(ylabel="weighted term", title="loss terms (d_loss: discriminator)")
    fig.tight_layout()
    return fig
