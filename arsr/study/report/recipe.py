"""Where this run departs from the paper's recipe: SR training lengths, learning rates, loss terms,
patches and model sizes against the published recipes, the evaluation's settings against the
paper's protocol, and TSN's fusion rule."""
from __future__ import annotations

import json
import os
from typing import Mapping, Sequence

from ...paths import resolve
from .. import layout, paper
from .names import _label


#: The paper's evaluation protocol (NOTES.md: TSN tests 25 snippets x 10 crops; PSNR/SSIM on Y
#: with an 8-pixel border crop; TV-L1 flow), against which the study's settings are reported.
PAPER_PROTOCOL = {"num_frames": 25, "crops": "ten", "shave": 8, "flow_method": "tvl1"}
_CROPS = {"ten": "10 crops", "center": "the centre crop"}


def evaluation_settings(eval_dir: str | os.PathLike, methods: Sequence[str]) -> dict[str, list]:
    """The settings the evaluations ran with, from their caches' ``settings.json``
    (``data/eval/<item>/<run>/scores/<recognizer>/settings.json``: num_frames, crops,
    flow_method; ``.../quality/settings.json``: shave): key -> sorted distinct values over the
    methods' runs (more than one value = the methods were not evaluated alike). {} if none."""
    found: dict[str, set] = {}
    for method in methods:
        folder = resolve(eval_dir) / layout.eval_item(method)
        for path in sorted(folder.glob("*/scores/*/settings.json")) + sorted(folder.glob("*/quality/settings.json")):
            try:
                settings = json.loads(path.read_text()).get("settings") or {}
            except (json.JSONDecodeError, AttributeError):
                continue
            for key in ("num_frames", "crops", "flow_method", "shave"):
                if key in settings:
                    found.setdefault(key, set()).add(settings[key])
    return {k: sorted(v, key=str) for k, v in found.items()}


def _sr_train_metrics(metrics: Mapping[str, Mapping]) -> dict[str, Mapping]:
    return {stage.split("@", 1)[1]: m for stage, m in metrics.items()
            if stage.startswith(("train_sr@", "finetune_sr@"))}


def _arch_defaults(arch: str) -> dict:
    import inspect

    from ...archs import ARCHS

    if arch not in ARCHS:
        return {}
    return {k: p.default for k, p in inspect.signature(ARCHS[arch]).parameters.items()
            if p.default is not inspect.Parameter.empty}


def _count_range(values: Sequence[int]) -> str:
    lo, hi = min(values), max(values)
    return f"{lo:,}" if lo == hi else f"{lo:,} to {hi:,}"


def recipe_deviations(sr: Mapping, metrics: Mapping[str, Mapping], *, evaluation: Mapping[str, Sequence] | None = None,
                      dataset: str | None = None, flow_method: str | None = None, test_videos: int | None = None,
                      split_videos: int | None = None) -> list[str]:
    """Where this run departs from the paper's recipe, one sentence each, computed from files:
    the SR training metrics (``reports/metrics/train_sr/<m>.json``: phases and their iterations,
    arch, arch_kwargs, parameters, feature_network) against the published recipes
    (``arsr.train.presets.PRESETS``, the architectures' default sizes); learning rates and patches
    from the ``sr`` params group (when it holds ``common``); the evaluation's settings
    (:func:`evaluation_settings`) against ``PAPER_PROTOCOL``; the dataset and how many of its test
    videos were scored."""
    from ...train.presets import PRESETS, method_phases

    lines = []
    if dataset is not None and dataset not in paper.DATASETS:
        lines.append(f"Data: the {dataset} dataset, not UCF101 or HMDB51, so only the ordering of the methods "
                     "can be compared with the paper.")
    if test_videos is not None and split_videos is not None and test_videos < split_videos:
        lines.append(f"Test videos: {test_videos} of the split's {split_videos} (evaluate.max_videos).")
    trained = _sr_train_metrics(metrics)
    methods = [m for m in trained if m in PRESETS]
    length, lrs, weights, sizes, residual, patches = [], [], [], [], [], set()
    published_patch = {(p.config["data"]["hr_patch"], p.config["data"]["batch_size"])
                       for m in methods for p in method_phases(m)}
    for method in methods:
        m = trained[method]
        published = {p.name: p.config for p in method_phases(method)}
        label = _label(method)
        for phase in m.get("phases") or []:
            if phase.get("iterations") and phase["name"] in published:
                length.append((label, phase["name"], int(phase["iterations"]),
                               int(published[phase["name"]]["iterations"])))
        study = None
        if "common" in sr:
            try:
                from ..sr import _loss_summary, method_overrides

                study = {p.name: p.config for p in method_phases(method, method_overrides(sr, method, 0))}
            except Exception:  # noqa: BLE001 - a params group this code cannot resolve: say less, not fail
                study = None
        if study is not None:
            for name, cfg in study.items():
                ran = any(p.get("name") == name and p.get("iterations") for p in m.get("phases") or [])
                if ran and name in published and cfg["optimizer"]["lr"] != published[name]["optimizer"]["lr"]:
                    where = label if len(study) == 1 else f"{label} ({name} phase)"
                    lrs.append(f"{where} {cfg['optimizer']['lr']:g} ({published[name]['optimizer']['lr']:g})")
                if ran and name in published:
                    ours, theirs = _loss_summary(cfg), _loss_summary(published[name])
                    changed = [f"{term} {ours.get(term, 'off')} ({theirs.get(term, 'off')})"
                               for term in dict.fromkeys([*theirs, *ours]) if ours.get(term) != theirs.get(term)]
                    if changed:
                        where = label if len(study) == 1 else f"{label} ({name} phase)"
                        weights.append(f"{where}: {', '.join(changed)}")
                if ran:
                    patches.add((cfg["data"]["hr_patch"], cfg["data"]["batch_size"]))
        arch, kwargs = m.get("arch"), dict(m.get("arch_kwargs") or {})
        if arch:
            first = next(iter(published.values()))
            default = {**_arch_defaults(arch), **first.get("arch_kwargs", {})}
            changed = [f"{k} {v} ({'auto' if default[k] is None else default[k]})" for k, v in kwargs.items()
                       if k in default and default[k] != v and k != "global_residual"]
            if changed or m.get("parameters"):
                size = f"{label}: " + (", ".join(changed) if changed else "published sizes")
                if m.get("parameters"):
                    size += f", {int(m['parameters']):,} parameters"
                sizes.append(size)
            if kwargs.get("global_residual") and not default.get("global_residual", False):
                residual.append(label)
    if length:
        if len({it for _, _, it, _ in length}) == 1:
            lines.append(f"SR training: {length[0][2]:,} iterations per phase for every method (published recipes: "
                         f"{_count_range([p for *_, p in length])} per phase).")
        else:
            lines.append("SR training iterations per phase (published in brackets): "
                         + "; ".join(f"{lab} ({ph} phase) {it:,} ({pub:,})" for lab, ph, it, pub in length) + ".")
    if lrs:
        lines.append("Learning rates that differ from the published recipes (published in brackets): "
                     + "; ".join(lrs) + ".")
    if weights:
        lines.append("Loss terms that differ from the published recipes (published in brackets): "
                     + "; ".join(weights) + ".")
    if patches and patches != published_patch:
        got = ", ".join(f"{p} px, batch {b}" for p, b in sorted(patches))
        pub = ", ".join(f"{p} px, batch {b}" for p, b in sorted(published_patch))
        lines.append(f"SR training patches (HR): {got} (published: {pub}).")
    if sizes:
        lines.append("Model sizes, changed arguments with the published value in brackets: " + "; ".join(sizes) + ".")
    if residual:
        lines.append(f"global_residual on for {', '.join(residual)}: a bicubic skip connection the published "
                     "architecture does not have, its last conv zero-initialised"
                     + (" (SPMC: its motion estimator's flow convs too, so training starts from zero motion)"
                        if any(str(r).lower().startswith("spmc") for r in residual) else "") + ".")
    features = sorted({str(m["feature_network"]) for m in trained.values() if m.get("feature_network")})
    if features and not all(f.startswith("vgg19") for f in features):
        lines.append(f"Feature loss measured by {'; '.join(features)} (the paper: ImageNet VGG19, conv5_4).")
    evaluation = dict(evaluation or {})
    if flow_method is not None:
        evaluation.setdefault("flow_method", [flow_method])
    parts = []
    for key, template in (("num_frames", "{} snippets per video (paper {})"), ("crops", "{} (paper {})"),
                          ("shave", "PSNR/SSIM border shave {} px (paper {})"),
                          ("flow_method", "optical flow {} (paper {})")):
        values = list(evaluation.get(key) or [])
        if values and (len(values) > 1 or values[0] != PAPER_PROTOCOL[key]):
            show = (lambda v: _CROPS.get(v, v)) if key == "crops" else (lambda v: v)
            shown = " / ".join(str(show(v)) for v in values) + (" (differs between methods)" if len(values) > 1 else "")
            paper_value = "TV-L1" if key == "flow_method" else show(PAPER_PROTOCOL[key])
            parts.append(template.format(shown, paper_value))
    if parts:
        lines.append("Evaluation: " + "; ".join(parts) + ".")
    fusion = fusion_rule(metrics.get(layout.RECOGNIZERS_STAGE) or {})
    if fusion is not None:
        lines.append(fusion)
    return lines


def fusion_rule(recognizers: Mapping) -> str | None:
    """The sentence saying how TSN fused its streams when it was not the paper's fixed 1:1.5: the
    weight chosen per recognizer seed on the validation split (``recognizers.json``'s ``fusion``,
    :mod:`arsr.study.fusion`), None for the paper's."""
    fusion = recognizers.get("fusion")
    if not fusion:
        return None
    chosen = ", ".join(f"seed {seed}: 1:{entry['weights'][1]:g}" for seed, entry in sorted(fusion.items()))
    n = next(iter(fusion.values()))["val_videos"]
    return (f"TSN fusion: RGB:flow = 1:w with w chosen per recognizer seed on the HR videos of the validation "
            f"split ({n} videos the recognizers never trained on; never on the test split): {chosen} (the paper: "
            "1:1.5, tuned on UCF101). The LR-trained TSN choose theirs the same way on the validation videos' "
            "bicubic frames.")
