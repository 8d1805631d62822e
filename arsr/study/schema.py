"""The study's params.yaml schema: one entry per group, and the checks between groups.

A stage validates the groups it declares in ``dvc.yaml`` (``arsr.notebook``); ``make study``
validates every group first (``python -m arsr.study.check``). Errors name the key, the value and
what is allowed. Torch-free: the cross-checks read the trainers' schemas
(``arsr.recognition.config``, ``arsr.train.config`` and ``.presets``, ``arsr.study.variants``), not
the trainers. The validators it is written with are in :mod:`arsr.params`.
"""
from __future__ import annotations

from typing import Any

from ..mapping import merged
from ..methods import SR_BASE_MODELS, SR_METHODS, SR_TRAINABLE  # noqa: F401 (the registry's, re-exported)
from ..params import (ParamError, _fail, check_keys, choice, free_dict, integer, list_of, number, optional, path,
                      string)
from ..paths import resolve
from ..recognition.config import RECOGNIZER_TYPES

# --------------------------------------------------------------------------------------------
# The schema: one entry per params.yaml group. Nested dicts are sub-groups.

DATASETS = ("synthetic", "ucf101", "hmdb51", "folder")
FLOW_METHODS = ("tvl1", "tvl1_torch", "dis", "farneback")

RECOGNIZERS = RECOGNIZER_TYPES


def _sr_finetune(value, key):
    """sr.finetune: {method: the trained model its first phase is taken from}."""
    if not isinstance(value, dict):
        _fail(key, value, "a mapping of method: base model")
    for method, base in value.items():
        choice(*SR_METHODS)(method, f"{key} key")
        choice(*SR_TRAINABLE)(base, f"{key}.{method}")
    return dict(value)


def _processes(value, key):
    """processes: how many processes a stage's independent jobs run in (arsr.workers)."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        _fail(key, value, "an integer: 0 (one process per core), 1 (the stage's own process) or n (a pool of n "
                          "single-threaded processes)")
    return value


def _recognition_seeds(value, key):
    """Distinct seeds (recognition.seeds: each trains the recognisers that score every method;
    aa_control.seeds: the SR seeds of the A/A control's twin)."""
    seeds = list_of(integer(0), min_length=1)(value, key)
    if len(set(seeds)) != len(seeds):
        _fail(key, value, "distinct seeds")
    return seeds


def _recognition_group(value, key):
    """recognition: its keys, with the one-seed key of older params files named."""
    if isinstance(value, dict) and "seed" in value:
        raise ParamError(f"params: {key}.seed = {value['seed']!r} is now {key}.seeds, a list: every seed's "
                         f"recognisers score every method (e.g. {key}.seeds: [0, 1, 2])")
    return _check_group(RECOGNITION, value, key)


def _sr_group(value, key):
    """sr: the fixed settings, plus one overrides mapping per method (checked in cross-checks)."""
    if not isinstance(value, dict):
        _fail(key, value, "a mapping")
    fixed = {"methods": list_of(choice(*SR_METHODS), min_length=1),
             "train": list_of(choice(*SR_TRAINABLE), min_length=1),
             "finetune": _sr_finetune,
             "feature_network": choice("recognizer", "vgg19"),
             "vgg_weights": optional(path()), "common": free_dict()}
    check_keys(value, [*fixed, *SR_TRAINABLE], "params", prefix=key,
               allowed_as=f"allowed keys of {key} (the last ones: one mapping per method)")
    out = {}
    for name, rule in fixed.items():
        if name not in value:
            raise ParamError(f"params: missing key {key}.{name} (see params.yaml for the defaults)")
        out[name] = rule(value[name], f"{key}.{name}")
    for method in SR_TRAINABLE:
        if method in value:
            out[method] = free_dict()(value[method] or {}, f"{key}.{method}")
    return out


#: The keys of a recogniser recipe that ``recognition_lr.retrained`` may override: its schedule and
#: its weight decay (from scratch on LR frames a stream may need longer, or more regularisation).
_RETRAINED_VALUES = {"epochs": integer(1), "lr_steps": list_of(integer(1)), "weight_decay": number(0)}
LR_SCHEDULE_KEYS = tuple(_RETRAINED_VALUES)


def _lr_schedules(value, key):
    """recognition_lr.retrained: {tsn_rgb | tsn_flow: {epochs, lr_steps, weight_decay}}, where the TSN
    retrained on LR departs from the HR recipe (checked against the recipe in the cross-checks)."""
    if value is None:
        return {}
    if not isinstance(value, dict):
        _fail(key, value, "a mapping of stream (tsn_rgb, tsn_flow) to {epochs, lr_steps, weight_decay}")
    check_keys(value, ("tsn_rgb", "tsn_flow"), "params", prefix=key)
    out = {}
    for stream, schedule in value.items():
        where = f"{key}.{stream}"
        if not isinstance(schedule, dict):
            _fail(where, schedule, "a mapping with epochs, lr_steps and/or weight_decay")
        check_keys(schedule, LR_SCHEDULE_KEYS, "params", prefix=where)
        out[stream] = {k: _RETRAINED_VALUES[k](v, f"{where}.{k}") for k, v in schedule.items()}
    return out


RECOGNITION: dict[str, Any] = {
    "device": choice("auto", "cpu", "cuda"),
    "seeds": _recognition_seeds,
    "st_resnet_seeds": integer(1),
    "feature_seed": integer(0),
    "feature_streams": list_of(choice("rgb", "flow"), min_length=1),
    "fusion": choice("validation", "paper"),
    "tsn_rgb": free_dict(),
    "tsn_flow": free_dict(),
    "st_resnet": free_dict(),
}

SCHEMA: dict[str, Any] = {
    "processes": _processes,
    "seeds": list_of(integer(0), min_length=1),
    "recognition": _recognition_group,
    "aa_control": {
        "method": choice(*SR_TRAINABLE),
        "seeds": _recognition_seeds,
    },
    "recognition_lr": {
        "finetune_epochs": integer(1),
        "finetune_lr": number(0.0, open_min=True),
        "retrained": _lr_schedules,
        "retry": {  # arsr.study.retries: a run that learned nothing held-out is trained again with another seed
            "below_x_chance": number(0.0),
            "times": integer(0),
        },
        "workers": integer(0),
    },
    "sr": _sr_group,
    "evaluate": {
        "recognizers": list_of(choice(*RECOGNIZERS), min_length=1),
        "num_frames": integer(1),
        "crops": choice("center", "ten"),
        "shave": integer(0),
        "workers": integer(0),
        "max_videos": optional(integer(1)),
    },
    "ablation": {
        "sosr": list_of(string()),
        "tosr": list_of(string()),
        "rdsr": list_of(string()),
    },
    "report": {
        "paper_reference": choice("auto", "on", "off"),
        "sample_videos": integer(1, 12),
    },
    "data": {
        "dataset": choice(*DATASETS),
        "root": path(),
        "split": integer(1, 3),
        "splits_dir": optional(path(must_exist=True)),
        "sr_root": optional(path(must_exist=True)),
        "on_bad_video": choice("error", "skip"),
        "on_empty_class": choice("error", "drop"),
        "validation_groups": integer(0),
        "synthetic": free_dict(),
    },
    "prepare": {
        "workers": integer(0),
        "flow_method": choice(*FLOW_METHODS),
        "scale": choice(2, 3, 4),
        "hr_size": optional(list_of(integer(8), length=2)),
        "max_frames": optional(integer(2)),
        "hr_frames": choice("stored", "source"),
        "frame_codec": choice("png", "raw"),
        "flow_device": choice("auto", "cpu", "cuda"),
    },
}


def _check_group(schema: Any, values: Any, prefix: str) -> Any:
    if callable(schema):
        return schema(values, prefix)
    if not isinstance(values, dict):
        raise ParamError(f"params: {prefix} must be a mapping of keys to values, got {values!r}")
    check_keys(values, sorted(schema), "params", prefix=prefix)
    missing = sorted(set(schema) - set(values))
    if missing:
        raise ParamError(
            f"params: missing key(s) {', '.join(prefix + '.' + k for k in missing)} "
            "(see params.yaml in the repository for the defaults)"
        )
    out = {}
    for key, rule in schema.items():
        full = f"{prefix}.{key}"
        out[key] = _check_group(rule, values[key], full) if isinstance(rule, dict) \
            else rule(values[key], full)
    return out


def _cross_checks(params: dict) -> None:
    data = params.get("data")
    if data is not None:
        if data["dataset"] != "synthetic" and not resolve(data["root"]).exists():
            raise ParamError(
                f"params: data.root = {data['root']!r}: {resolve(data['root'])} does not exist; "
                f"point data.root at the {data['dataset']} folder (see README, 'paper profile') "
                "or set data.dataset: synthetic"
            )
        if data["dataset"] == "synthetic":
            from ..data.synthetic import SyntheticConfig  # the dataclass owns its own keys
            try:
                SyntheticConfig.from_dict(data["synthetic"])
            except (TypeError, ValueError) as err:
                raise ParamError(f"params: data.synthetic: {err}") from None
    rec = params.get("recognition")
    if rec is not None:
        from ..recognition.config import TrainConfig  # no torch: the schema, not the trainer
        for name in ("tsn_rgb", "tsn_flow", "st_resnet"):
            try:
                TrainConfig.from_dict(rec[name], key=f"recognition.{name}")
            except (TypeError, ValueError) as err:
                raise ParamError(f"params: {err}") from None
    rec_lr = params.get("recognition_lr")
    if rec is not None and rec_lr is not None:  # TrainConfig: imported by the recognition block above
        for name, schedule in rec_lr["retrained"].items():
            key = f"recognition_lr.retrained.{name}"
            try:
                cfg = TrainConfig.from_dict({**rec[name], **schedule}, key=key).resolved()
            except (TypeError, ValueError) as err:
                raise ParamError(f"params: {err} (recognition.{name} with {key}'s schedule)") from None
            steps = list(cfg.lr_steps)
            if steps != sorted(set(steps)) or any(s < 1 for s in steps):
                raise ParamError(f"params: {key}.lr_steps = {steps}: increasing epochs (positive integers) at "
                                 "which the learning rate falls")
            if steps and steps[-1] >= cfg.epochs:
                raise ParamError(f"params: {key}.lr_steps = {steps} has a step at or after the last epoch "
                                 f"({cfg.epochs}, recognition.{name} with {key}'s schedule): it would never "
                                 "take effect")
    if rec is not None and rec["st_resnet_seeds"] > len(rec["seeds"]):
        raise ParamError(f"params: recognition.st_resnet_seeds = {rec['st_resnet_seeds']} is more than the "
                         f"{len(rec['seeds'])} seed(s) of recognition.seeds: ST-ResNet trains with the first ones")
    if rec is not None and rec["feature_seed"] in rec["seeds"]:
        raise ParamError(
            f"params: recognition.feature_seed = {rec['feature_seed']} is one of recognition.seeds "
            f"{rec['seeds']}: the network of the SR feature loss must not be a recognizer that scores "
            "the methods; choose another seed")
    sr = params.get("sr")
    aa = params.get("aa_control")
    if aa is not None and sr is not None and (aa["method"] not in sr["train"] or aa["method"] not in sr["methods"]):
        raise ParamError(f"params: aa_control.method = {aa['method']!r} must be in sr.train (trained from scratch: "
                         "its twin needs no base model) and in sr.methods (its row is the other side of the "
                         f"control); sr.train = {sr['train']}, sr.methods = {sr['methods']}")
    if aa is not None and params.get("seeds") is not None and set(aa["seeds"]) & set(params["seeds"]):
        raise ParamError(f"params: aa_control.seeds = {aa['seeds']} shares SR seeds with seeds = {params['seeds']}: "
                         "the twin must be trained with other seeds than the row it is compared with")
    if rec is not None and sr is not None:
        streams = set(rec["feature_streams"])
        need = {"flow", "rgb"} if "rdsr" in sr["methods"] else set()
        if sr["feature_network"] == "recognizer":
            need.add("rgb")
        if need - streams:
            raise ParamError(
                f"params: recognition.feature_streams = {rec['feature_streams']} lacks "
                f"{sorted(need - streams)}: the SR feature loss (sr.feature_network: recognizer) needs rgb, "
                "rdsr's teachers (rdsr in sr.methods) rgb and flow; add them")
    if sr is not None:
        _check_sr_plan(sr)
        from ..train.config import ConfigError
        from ..train.presets import BASES, method_phases  # the recipes, no torch
        for method in SR_TRAINABLE:
            overrides = merged(sr["common"], sr.get(method) or {})
            if method in BASES and "arch_kwargs" in (sr.get(method) or {}):
                raise ParamError(
                    f"params: sr.{method}.arch_kwargs: {method} starts from the trained "
                    f"{BASES[method][0]} model, so it has that model's sizes; set them in "
                    f"sr.{BASES[method][0]}.arch_kwargs and remove sr.{method}.arch_kwargs")
            if method in BASES:
                overrides = merged(overrides, {"arch_kwargs": (sr.get(BASES[method][0]) or {}).get("arch_kwargs", {})})
            try:
                method_phases(method, overrides)
            except (ConfigError, TypeError, ValueError) as err:
                raise ParamError(f"params: sr.common / sr.{method}: {err}") from None
        if sr["feature_network"] == "vgg19" and not (sr["vgg_weights"] and resolve(sr["vgg_weights"]).is_file()):
            raise ParamError(
                f"params: sr.feature_network = 'vgg19' needs torchvision's ImageNet VGG19 weights at "
                f"sr.vgg_weights = {sr['vgg_weights']!r} (not found; nothing is downloaded): put the "
                "file there, or set sr.feature_network: recognizer")
    abl = params.get("ablation")
    if abl is not None:
        from .variants import ALIASES, KINDS, VARIANTS  # the grid, not its training
        for kind in KINDS:
            bad = [v for v in abl[kind] if v not in VARIANTS[kind]]
            if bad:
                raise ParamError(f"params: ablation.{kind} has unknown variant(s) {bad}; "
                                 f"choose from {', '.join(v for v in VARIANTS[kind] if v not in ALIASES[kind])}")
            reused = [v for v in abl[kind] if v in ALIASES[kind]]
            if reused:
                raise ParamError(
                    f"params: ablation.{kind} lists {reused}: "
                    + ", ".join(f"{v} is the {ALIASES[kind][v]} row" for v in reused)
                    + " of the study (same model), read from its evaluation and never retrained; "
                    "remove it from the list (the ablation table shows it anyway)")
    prep = params.get("prepare")
    if prep is not None and prep["hr_size"] is not None:
        w, h = prep["hr_size"]
        if w % prep["scale"] or h % prep["scale"]:
            raise ParamError(
                f"params: prepare.hr_size = {prep['hr_size']!r} must be divisible by "
                f"prepare.scale = {prep['scale']}"
            )


def _check_sr_plan(sr: dict) -> None:
    """sr.methods (evaluated), sr.train (from scratch) and sr.finetune (from a trained model)
    must agree: every evaluated method is trained exactly once, every base is trained."""
    from ..train.presets import BASES

    train, finetune = sr["train"], sr["finetune"]
    both = sorted(set(train) & set(finetune))
    if both:
        raise ParamError(f"params: {both} in both sr.train and sr.finetune; each is trained once")
    for method, base in finetune.items():
        if method not in BASES:
            raise ParamError(f"params: sr.finetune.{method}: {method} has no base model in the paper's "
                             f"recipe; list it in sr.train (methods with a base: {', '.join(BASES)})")
        if base != BASES[method][0]:
            raise ParamError(f"params: sr.finetune.{method} = {base!r}: the paper's {method} starts from "
                             f"{BASES[method][0]!r}")
        if base not in train:
            raise ParamError(f"params: sr.finetune.{method} = {base!r} but {base} is not in sr.train; add it")
    wrong = sorted(m for m in train if m in BASES)
    if wrong:
        raise ParamError(f"params: sr.train lists {wrong}, which start from a trained model; move them "
                         f"to sr.finetune ({', '.join(f'{m}: {BASES[m][0]}' for m in wrong)})")
    missing = [m for m in sr["methods"] if m not in train and m not in finetune]
    if missing:
        raise ParamError(f"params: sr.methods lists {missing}, trained neither in sr.train nor in "
                         "sr.finetune; add them to one")


def validate(params: dict, groups: list[str] | tuple[str, ...]) -> dict:
    """Check the named groups of ``params`` against the schema; return them normalised."""
    out = {}
    for group in groups:
        if group not in SCHEMA:
            raise ParamError(f"params: no schema for group {group!r}; known: {', '.join(SCHEMA)}")
        if group not in params:
            raise ParamError(f"params: group {group!r} is missing from params.yaml")
        out[group] = _check_group(SCHEMA[group], params[group], group)
    _cross_checks(out)
    return out
