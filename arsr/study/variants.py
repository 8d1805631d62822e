"""The paper's ablation grids (poster Tables 3 and 4), and rdsr's beyond the paper: what each variant
of stages ``ablate_sosr`` / ``ablate_tosr`` / ``ablate_rdsr`` trains, and which are rows of the main
study. Plain data, no torch: ``arsr.study.schema`` checks ``ablation.<kind>`` against it;
:mod:`arsr.study.ablations` trains and scores the variants (and re-exports these names).

A variant is a preset of ``arsr.train.presets`` with the study's sizes (``sr.common`` merged with
``sr.<sizes>``) and loss overrides, and for the ``*_warp`` VDSR row one extra fine-tuning phase
with ToSR's warp loss (mirroring ToSR, which fine-tunes a trained DUF-16 with it):

======================= ============ ====== ============================================
sosr variant            structure    pixel  feature / adversarial (RaGAN 0.005)
======================= ============ ====== ============================================
vdsr_mse                VDSR         MSE    - / -        (= the VDSR baseline)
vdsr_wmse               VDSR         WMSE   - / -
vdsr_wmse_feat          VDSR         WMSE   yes / -
esrgan_wmse_feat        ESRGAN       WMSE   yes / -      (RRDBNet PSNR phase, then this)
esrgan_mse_feat_adv     ESRGAN       MSE    yes / yes
esrgan_wmse_feat_adv    ESRGAN       WMSE   yes / yes    (= SoSR)
======================= ============ ====== ============================================

======================= ============ ==========================================================
tosr variant            structure    warp loss
======================= ============ ==========================================================
vdsr                    VDSR         -        (= the VDSR baseline)
vdsr_warp               VDSR         yes: VDSR, then a phase with ToSR's loss (Eq. 3)
duf16                   VSR-DUF-16   -        (= the DUF-16 baseline)
duf16_warp              VSR-DUF-16   yes      (= ToSR: DUF-16, then the warp phase)
======================= ============ ==========================================================

The ESRGAN-structure SoSR variants change only SoSR's second phase (same data: top-10 motion
crops), so each differs from SoSR in one loss term; the VDSR variants keep VDSR's data (random
crops) and change only the loss. The feature loss is measured by ``sr.feature_network``.

Beyond the paper, rdsr's ablation (``arsr.train.presets.RDSR_ABLATION``), scored by TSN's
**fusion** (rdsr's frames feed both streams), each variant RRDBNet from the study's trained
``rrdb_psnr`` and a task phase on the same clips of 6 frames with L1:

======================= ============ ==========================================================
rdsr variant            structure    task terms (distillation from the feature_seed TSN streams)
======================= ============ ==========================================================
pixel                   ESRGAN       -         (L1 only)
spatial                 ESRGAN       spatial (TSN rgb)
temporal                ESRGAN       spatial + temporal (TSN flow on differentiable flow) (= rdsr)
======================= ============ ==========================================================
"""
from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Mapping

from ..mapping import merged

__all__ = ["Variant", "VARIANTS", "ALIASES", "alias_of", "KINDS", "STREAM", "LABEL_COLUMNS", "variant_name"]

KINDS = ("sosr", "tosr", "rdsr")
#: The TSN stream that scores each kind of ablation (rdsr: its frames feed both streams).
STREAM = {"sosr": "spatial", "tosr": "temporal", "rdsr": "fusion"}
LABEL_COLUMNS = ["structure", "pixel", "feature", "adversarial", "warp", "spatial_task", "temporal_task"]


@dataclass(frozen=True)
class Variant:
    """One ablation row: ``preset`` (a method of ``arsr.train.presets``) sized by ``sr.<sizes>``,
    with ``overrides`` merged into every phase (``phases: {name: ...}`` for one phase), and, when
    ``finetune`` is given, one more phase named ``finetune_name`` that starts from the preset's
    last model with ``finetune`` merged into that model's config. ``label``: the table's columns
    (``LABEL_COLUMNS``)."""

    preset: str
    sizes: str
    label: Mapping
    overrides: Mapping = field(default_factory=dict)
    finetune: Mapping | None = None
    finetune_name: str = "warp"
    base: str | None = None  # a trained model of the study copied in as the preset's first phase


def _label(structure: str, pixel: str, feature: bool = False, adversarial: bool = False,
           warp: bool = False, spatial_task: bool = False, temporal_task: bool = False) -> dict:
    return {"structure": structure, "pixel": pixel, "feature": feature, "adversarial": adversarial,
            "warp": warp, "spatial_task": spatial_task, "temporal_task": temporal_task}


def _rdsr_ablation(variant: str) -> dict:
    """rdsr's task-phase overrides of one ablation row (``arsr.train.presets.RDSR_ABLATION``)."""
    from ..train.presets import RDSR_ABLATION

    return copy.deepcopy(RDSR_ABLATION[variant])


_WMSE = {"pixel": {"type": "wmse", "weight": 1.0, "normalize": False, "floor": 0.0}}
_FEATURE = {"feature": {"weight": 1.0}}


def _tosr_warp_phase() -> dict:
    """ToSR's loss and data of its warp phase (paper Eq. 3; top-10 motion crops), for VDSR."""
    from ..train.presets import PRESETS

    cfg = {p.name: p.config for p in PRESETS["tosr"]}["tosr"]
    return {"pixel": {"type": "none", "weight": 0.0}, "warp": copy.deepcopy(cfg["warp"]),
            "data": {"motion_top_k": cfg["data"]["motion_top_k"],
                     "motion_candidates": cfg["data"]["motion_candidates"]}}


VARIANTS: dict[str, dict[str, Variant]] = {
    "sosr": {
        "vdsr_mse": Variant("vdsr", "vdsr", _label("VDSR", "MSE")),
        "vdsr_wmse": Variant("vdsr", "vdsr", _label("VDSR", "WMSE"), overrides=_WMSE),
        "vdsr_wmse_feat": Variant("vdsr", "vdsr", _label("VDSR", "WMSE", feature=True),
                                  overrides=merged(_WMSE, _FEATURE)),
        "esrgan_wmse_feat": Variant("sosr", "sosr", _label("ESRGAN", "WMSE", feature=True),
                                    overrides={"phases": {"sosr": {"gan": {"type": "none", "weight": 0.0}}}},
                                    base="rrdb_psnr"),
        "esrgan_mse_feat_adv": Variant("sosr", "sosr", _label("ESRGAN", "MSE", feature=True, adversarial=True),
                                       overrides={"phases": {"sosr": {"pixel": {"type": "mse"}}}},  # SoSR's weight
                                       base="rrdb_psnr"),
        "esrgan_wmse_feat_adv": Variant("sosr", "sosr", _label("ESRGAN", "WMSE", feature=True, adversarial=True)),
    },
    "tosr": {
        "vdsr": Variant("vdsr", "vdsr", _label("VDSR", "MSE")),
        "vdsr_warp": Variant("vdsr", "vdsr", _label("VDSR", "MSE", warp=True), finetune=_tosr_warp_phase,
                             base="vdsr"),
        "duf16": Variant("duf16", "duf16", _label("VSR-DUF-16", "Huber")),
        "duf16_warp": Variant("tosr", "tosr", _label("VSR-DUF-16", "MSE", warp=True)),
    },
    "rdsr": {
        "pixel": Variant("rdsr", "rdsr", _label("ESRGAN", "L1"), overrides=_rdsr_ablation("pixel"), base="rrdb_psnr"),
        "spatial": Variant("rdsr", "rdsr", _label("ESRGAN", "L1", spatial_task=True),
                           overrides=_rdsr_ablation("spatial"), base="rrdb_psnr"),
        "temporal": Variant("rdsr", "rdsr", _label("ESRGAN", "L1", spatial_task=True, temporal_task=True)),
    },
}


#: Variants identical to a main method of the study (same preset, sizes, losses and seeds): they
#: are not trained again; their rows are read from that method's evaluation (``data/eval/<method>``).
ALIASES: dict[str, dict[str, str]] = {
    "sosr": {"vdsr_mse": "vdsr", "esrgan_wmse_feat_adv": "sosr"},
    "tosr": {"vdsr": "vdsr", "duf16": "duf16", "duf16_warp": "tosr"},
    "rdsr": {"temporal": "rdsr"},
}


def alias_of(kind: str, variant: str) -> str | None:
    """The main method a variant is identical to (its model and evaluation are reused), or None."""
    _variant(kind, variant)
    return ALIASES[kind].get(variant)


def _variant(kind: str, variant: str) -> Variant:
    if kind not in VARIANTS:
        raise ValueError(f"ablation kind {kind!r}: use one of {', '.join(KINDS)}")
    if variant not in VARIANTS[kind]:
        raise ValueError(f"ablation.{kind}: unknown variant {variant!r}; choose from {', '.join(VARIANTS[kind])}")
    return VARIANTS[kind][variant]


def variant_name(kind: str, variant: str) -> str:
    """The folder and row name of a variant: ``<kind>_<variant>``."""
    _variant(kind, variant)
    return f"{kind}_{variant}"
