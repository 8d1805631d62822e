"""The SR trainer's config: its keys and defaults (:data:`DEFAULTS`), :func:`resolve_config` that
fills and checks them, and what a config decides without training (:func:`model_signature`,
:func:`lr_at`). No torch: ``arsr.study.schema`` checks every method's phases with it, and
:mod:`arsr.train.sr_trainer`, which trains them (see its docstring for the loss terms), re-exports it.
"""
from __future__ import annotations

import copy
import json
from bisect import bisect_right
from pathlib import Path
from typing import Any, Mapping

from ..methods import BASE_MODELS as _BASE_MODELS, METHODS as _REGISTRY
from ..params import ParamError, check_keys

__all__ = ["ConfigError", "DEFAULTS", "PIXEL_TYPES", "GAN_TYPES", "FEATURE_NETWORKS", "RANDOM_VGG",
           "TRAINABLE_ARCHS", "WARP_NORMS", "LOSS_TERMS", "resolve_config", "model_signature", "lr_at",
           "read_config_file"]

PIXEL_TYPES = ("mse", "l1", "charbonnier", "huber", "wmse", "none")
GAN_TYPES = ("none", "vanilla", "ragan")
FEATURE_NETWORKS = ("vgg19",)
#: Sentinel for ``feature.vgg_weights``: random VGG19 weights (tiny profile / CI only; warns).
RANDOM_VGG = "random"

DEFAULTS: dict[str, Any] = {
    "arch": None,                 # a key of arsr.archs.ARCHS (required)
    "arch_kwargs": {},            # constructor keywords of the architecture (free-form)
    "scale": 4,                   # HR/LR ratio of the prepared data; passed to the architecture
    "seed": 0,                    # model initialisation and batch sampling
    "iterations": 1000,           # total generator updates of the phase (0: copy init_from)
    "data": {
        "root": "data/interim",   # the prepared store (when no dataset is passed in)
        "splits": ["unlabelled"],  # splits whose videos give patches
        "hr_patch": 128,          # HR patch side in pixels (LR = hr_patch / scale)
        "batch_size": 16,         # global batch (divided among torchrun processes)
        "augment": True,          # random flips and transposition
        "motion_top_k": 0,        # keep the k highest-motion of motion_candidates per frame; 0 off
        "motion_candidates": 100,
        "fixed_batch": False,     # every iteration reuses batch 1 (overfitting checks)
        "prefetch": 2,            # batches built ahead in background threads
        "clip": 0,                # frames per sample as a clip t..t+clip-1 (rdsr); 0 = one frame,
                                  # or the temporal teacher's new_length + 1 when task.temporal_weight > 0
    },
    "optimizer": {"lr": 1e-4, "betas": [0.9, 0.99], "weight_decay": 0.0},
    "scheduler": {"milestones": [], "gamma": 0.5},
    "pixel": {"type": "l1", "weight": 1.0,
              "normalize": False, "floor": 0.0,   # wmse: weights normalised / floored
              "delta": 0.01,                      # huber
              "eps": 1e-3},                       # charbonnier
    "colour": {"weight": 0.0},    # L1 of per-channel image means (arsr.losses.colour_loss), off
    "feature": {"weight": 0.0, "network": "vgg19", "layer": "conv5_4", "before_relu": True,
                "vgg_weights": None},  # torchvision vgg19 .pth, or "random" (tests only)
    "gan": {"type": "none", "weight": 0.0, "d_lr": 1e-4, "d_betas": [0.9, 0.99],
            "disc": {"num_feat": 64}},  # VGGStyleDiscriminator keywords (input_size = hr_patch)
    "warp": {"weight": 0.0, "alpha": 1.0, "beta": 0.8, "gamma": 0.1, "norm": "l2",
             "delta": 0.01, "gap": 1},
    "task": {                     # rdsr: distillation from frozen recognisers (arsr.losses task losses)
        "spatial_weight": 0.0,    # RGB TSN stream on each SR / HR frame
        "temporal_weight": 0.0,   # flow TSN stream on the differentiable flow of SR / HR clips
        "spatial_teacher": None,  # recogniser folder (recognizer.json + model.pt) of a TSN rgb stream
        "temporal_teacher": None,  # ... of a TSN flow stream
        "temperature": 1.0,       # distillation temperature T (KL x T^2)
        "feature_weight": 0.0,    # + this x MSE between the teacher's pooled features
        "flow": {"nscales": 3, "warps": 2, "outer_iterations": 1, "inner_iterations": 10,
                 "median_filtering": 1},  # unrolled TV-L1 (arsr.losses.DIFF_FLOW)
    },
    "grad_clip": None,            # max gradient norm (G and D), None = off
    "init_from": None,            # weight file of a previous phase (strict key/shape check)
    "log_every": 100,             # log.csv rows: iteration 1, every log_every, the last
    "checkpoint_every": 1000,     # last.pt every so many iterations (and at the end / stop)
    "amp": True,                  # bf16 autocast when running on CUDA
}

#: Sub-mappings whose keys belong to someone else (the architecture's constructor).
_FREE = ("arch_kwargs", "gan.disc")
#: The architectures the trainer trains: those the method registry's recipes name (``arsr.methods``,
#: torch-free, so that checking a config needs no torch; each is a key of ``arsr.archs.ARCHS``,
#: tests/test_train_sr.py checks).
TRAINABLE_ARCHS = tuple(dict.fromkeys(phase.config["arch"] for m in (*_REGISTRY, *_BASE_MODELS) for phase in m.recipe))
#: ``warp.norm`` values: the norms of ``arsr.losses.warp_loss`` (``arsr.losses.NORMS``).
WARP_NORMS = ("l2", "huber")


#: A training config key or value the trainer cannot use: the study's one error type for bad
#: settings (``arsr.params_file.ParamError``, a ValueError), under the name the trainer has used.
ConfigError = ParamError


def _merge(defaults: Mapping, given: Mapping, prefix: str) -> dict:
    if not isinstance(given, Mapping):
        raise ConfigError(f"config: {prefix or 'the config'} must be a mapping, got {given!r}")
    check_keys(given, sorted(defaults), "config", prefix=prefix)
    out = {}
    for key, default in defaults.items():
        full = f"{prefix}.{key}" if prefix else key
        value = given.get(key, default)
        if isinstance(default, dict) and full not in _FREE:
            out[key] = _merge(default, value if key in given else {}, full)
        elif isinstance(default, dict):
            if not isinstance(value, Mapping):
                raise ConfigError(f"config: {full} must be a mapping of keywords, got {value!r}")
            out[key] = copy.deepcopy(dict(value))
        else:
            out[key] = copy.deepcopy(value)
    return out


def _need(ok: bool, key: str, value: Any, allowed: str) -> None:
    if not ok:
        raise ConfigError(f"config: {key} = {value!r} is not allowed; expected {allowed}")


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _is_num(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def resolve_config(config: Mapping) -> dict:
    """``config`` with every default filled in, checked: unknown keys and bad values raise
    :class:`ConfigError` naming the key and what is allowed."""
    cfg = _merge(DEFAULTS, config, "")
    arch = cfg["arch"]
    _need(arch in TRAINABLE_ARCHS, "arch", arch, "one of " + ", ".join(TRAINABLE_ARCHS))
    if "scale" in cfg["arch_kwargs"] and cfg["arch_kwargs"]["scale"] != cfg["scale"]:
        raise ConfigError(f"config: arch_kwargs.scale = {cfg['arch_kwargs']['scale']} disagrees "
                          f"with scale = {cfg['scale']}; set scale only")
    for key in ("scale", "iterations", "seed"):
        _need(_is_int(cfg[key]) and cfg[key] >= (1 if key == "scale" else 0), key, cfg[key],
              "a non-negative integer" if key != "scale" else "a positive integer")
    for key in ("log_every", "checkpoint_every"):
        _need(_is_int(cfg[key]) and cfg[key] >= 1, key, cfg[key], "an integer >= 1")
    d = cfg["data"]
    _need(isinstance(d["splits"], list) and d["splits"] and all(isinstance(s, str) for s in d["splits"]),
          "data.splits", d["splits"], "a non-empty list of split names (train, test, unlabelled)")
    _need(_is_int(d["hr_patch"]) and d["hr_patch"] > 0 and d["hr_patch"] % cfg["scale"] == 0,
          "data.hr_patch", d["hr_patch"], f"a positive multiple of scale = {cfg['scale']}")
    for key in ("batch_size", "motion_candidates"):
        _need(_is_int(d[key]) and d[key] >= 1, f"data.{key}", d[key], "an integer >= 1")
    for key in ("motion_top_k", "prefetch", "clip"):
        _need(_is_int(d[key]) and d[key] >= 0, f"data.{key}", d[key], "an integer >= 0")
    opt = cfg["optimizer"]
    _need(_is_num(opt["lr"]) and opt["lr"] > 0, "optimizer.lr", opt["lr"], "a positive number")
    for key, betas in (("optimizer.betas", opt["betas"]), ("gan.d_betas", cfg["gan"]["d_betas"])):
        _need(isinstance(betas, (list, tuple)) and len(betas) == 2 and all(_is_num(b) for b in betas),
              key, betas, "two numbers [beta1, beta2]")
    ms = cfg["scheduler"]["milestones"]
    _need(isinstance(ms, list) and all(_is_int(m) and m > 0 for m in ms) and ms == sorted(ms),
          "scheduler.milestones", ms, "an ascending list of positive iterations")
    pix = cfg["pixel"]
    _need(pix["type"] in PIXEL_TYPES, "pixel.type", pix["type"], "one of " + ", ".join(PIXEL_TYPES))
    feat = cfg["feature"]
    _need(feat["network"] in FEATURE_NETWORKS, "feature.network", feat["network"],
          "one of " + ", ".join(FEATURE_NETWORKS) + " (or pass feature_extractor= to train_sr)")
    gan = cfg["gan"]
    _need(gan["type"] in GAN_TYPES, "gan.type", gan["type"], "one of " + ", ".join(GAN_TYPES))
    if gan["type"] == "none" and gan["weight"]:
        raise ConfigError(f"config: gan.weight = {gan['weight']} but gan.type = 'none'; "
                          "set gan.type to vanilla or ragan, or the weight to 0")
    warp = cfg["warp"]
    _need(warp["norm"] in WARP_NORMS, "warp.norm", warp["norm"], "one of " + ", ".join(WARP_NORMS))
    _need(_is_int(warp["gap"]) and warp["gap"] >= 1, "warp.gap", warp["gap"], "an integer >= 1")
    task = cfg["task"]
    for key, value in (("pixel.weight", pix["weight"]), ("colour.weight", cfg["colour"]["weight"]),
                       ("feature.weight", feat["weight"]),
                       ("gan.weight", gan["weight"]), ("warp.weight", warp["weight"]),
                       ("task.spatial_weight", task["spatial_weight"]),
                       ("task.temporal_weight", task["temporal_weight"]),
                       ("task.feature_weight", task["feature_weight"])):
        _need(_is_num(value) and value >= 0, key, value, "a number >= 0")
    _check_task(cfg)
    _need(cfg["grad_clip"] is None or (_is_num(cfg["grad_clip"]) and cfg["grad_clip"] > 0),
          "grad_clip", cfg["grad_clip"], "null or a positive number")
    if not any(_terms(cfg).values()):
        raise ConfigError("config: every loss term is off; set pixel.type/pixel.weight, "
                          "colour.weight, feature.weight, gan.type/gan.weight, warp.weight or "
                          "task.spatial_weight/task.temporal_weight")
    return cfg


#: The generator's loss terms (keys of ``_terms``), in the order of log.csv's columns.
LOSS_TERMS = ("pixel", "colour", "warp", "feature", "gan", "spatial", "temporal")


def _check_task(cfg: Mapping) -> None:
    """rdsr's keys: a clip batch cannot carry the warp loss's pairs or per-frame WMSE flows."""
    task, d = cfg["task"], cfg["data"]
    _need(_is_num(task["temperature"]) and task["temperature"] > 0, "task.temperature",
          task["temperature"], "a positive number")
    for key in ("spatial_teacher", "temporal_teacher"):
        _need(task[key] is None or isinstance(task[key], str), f"task.{key}", task[key],
              "null or the folder of a trained recogniser (recognizer.json + model.pt)")
    fl = task["flow"]
    for key in ("nscales", "warps", "outer_iterations", "inner_iterations"):
        _need(_is_int(fl[key]) and fl[key] >= 1, f"task.flow.{key}", fl[key], "an integer >= 1")
    _need(_is_int(fl["median_filtering"]) and (fl["median_filtering"] <= 1 or fl["median_filtering"] % 2),
          "task.flow.median_filtering", fl["median_filtering"], "an odd integer, or 1 for none")
    _need(d["clip"] != 1, "data.clip", d["clip"], "0 (one frame) or at least 2 frames")
    clips = d["clip"] > 0 or task["temporal_weight"] > 0
    if clips and cfg["warp"]["weight"] > 0:
        raise ConfigError("config: warp.weight > 0 needs frame pairs, task.temporal_weight > 0 / "
                          "data.clip clips of frames; use one of the two")
    if clips and cfg["pixel"]["type"] == "wmse":
        raise ConfigError("config: pixel.type = 'wmse' weighs frame t by its flow, but clips "
                          "(task.temporal_weight > 0 or data.clip) train on every clip frame; "
                          "choose another pixel.type")


def _terms(cfg: Mapping) -> dict[str, bool]:
    """Which generator loss terms are on."""
    return {
        "pixel": cfg["pixel"]["type"] != "none" and cfg["pixel"]["weight"] > 0,
        "colour": cfg["colour"]["weight"] > 0,
        "warp": cfg["warp"]["weight"] > 0,
        "feature": cfg["feature"]["weight"] > 0,
        "gan": cfg["gan"]["type"] != "none" and cfg["gan"]["weight"] > 0,
        "spatial": cfg["task"]["spatial_weight"] > 0,
        "temporal": cfg["task"]["temporal_weight"] > 0,
    }


def model_signature(cfg: Mapping) -> dict:
    """The config values that decide the shapes of the saved networks: a checkpoint resumes only
    under a config with the same signature."""
    disc = None
    if _terms(cfg)["gan"]:
        disc = {"input_size": cfg["data"]["hr_patch"], **cfg["gan"]["disc"]}
    return {"arch": cfg["arch"], "arch_kwargs": cfg["arch_kwargs"], "scale": cfg["scale"],
            "discriminator": disc}


def lr_at(base_lr: float, milestones: list[int], gamma: float, done: int) -> float:
    """Multi-step learning rate after ``done`` iterations (as ``MultiStepLR`` stepped per
    iteration): ``base_lr * gamma ** (number of milestones <= done)``."""
    return base_lr * gamma ** bisect_right(milestones, done)


def read_config_file(path: str | Path) -> dict:
    """A phase config from a YAML or JSON file."""
    import yaml
    path = Path(path)
    try:
        text = path.read_text()
    except FileNotFoundError:
        raise FileNotFoundError(f"config file {path} not found") from None
    try:
        cfg = json.loads(text) if path.suffix == ".json" else yaml.safe_load(text)
    except (json.JSONDecodeError, yaml.YAMLError) as err:
        kind = "JSON" if path.suffix == ".json" else "YAML"
        raise ConfigError(f"{path} is not valid {kind}: {err}") from None
    if not isinstance(cfg, dict):
        raise ConfigError(f"{path} must hold a mapping of config keys")
    return cfg
