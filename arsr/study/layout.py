"""The study's file layout, written once: the names of the files the stages write and the report
reads, their columns, and the dvc stages that write them (the stage names of ``dvc.yaml``).

Paths of results are relative to the stages' ``reports_dir`` (``reports/`` in ``dvc.yaml``), paths
of caches and sample frames relative to ``eval_dir`` (``data/eval``)::

    eval/<item>.csv                      TABLE_COLUMNS               eval_csv(method)
    eval/<item>_per_class.csv            PER_CLASS_COLUMNS           eval_per_class_csv(method)
    eval/<item>_per_video.csv            PER_VIDEO_COLUMNS           eval_per_video_csv(method)
    ablation/<kind>_<v>.csv              ABLATION_COLUMNS            ablation_csv(kind, variant)  kind: sosr|tosr|rdsr
    ablation/<kind>_<v>_per_video.csv    ABLATION_PER_VIDEO_COLUMNS  ablation_per_video_csv(kind, variant)
    plots/recognizers.csv                RECOGNIZER_PLOT_COLUMNS     RECOGNIZERS_PLOT
    plots/recognizers_lr.csv             RECOGNIZER_PLOT_COLUMNS     LR_RECOGNIZERS_PLOT
    plots/train_sr/<m>.csv               SR_PLOT_COLUMNS             sr_plot_csv(method)
    plots/psnr_vs_accuracy.csv           PSNR_ACCURACY_COLUMNS       PSNR_ACCURACY_PLOT
    metrics/prepare.json, metrics/recognizers.json, metrics/train_sr/<m>.json, metrics/eval/<item>.json,
    metrics/ablation/<kind>_<v>.json, metrics/study.json   (one per stage run: seconds, provenance)
    metrics/headline/<item>.json         arsr.study.headline         HEADLINE_METRICS (`dvc metrics show`)
    figures/prepare/, figures/study/
    bad_videos.txt                       problem, video, detail  BAD_VIDEOS (prepare: every bad video of its run)
    <eval_dir>/<item>/samples.npz        video_ids (n,), frames (n,), sr (n, 2, H, W, 3) uint8

``<item>`` is the method with ``+`` replaced by ``_`` (``sosr+tosr`` -> ``sosr_tosr``); ``seed`` is
the SR seed. The columns of the evaluation files are ``arsr.evaluate``'s result tables
(:mod:`arsr.evaluate_columns`) with the seed beside the method. Imports neither torch nor pandas.
"""
from __future__ import annotations

from typing import Mapping, Sequence

from ..evaluate_columns import PREDICTION_COLUMNS
from ..evaluate_columns import TABLE_COLUMNS as _RESULT_COLUMNS
from ..methods import COMBINED, REFERENCE
from ..train.config import LOSS_TERMS
from .variants import LABEL_COLUMNS, variant_name

__all__ = [
    "TABLE_COLUMNS",
    "PER_CLASS_COLUMNS",
    "PER_VIDEO_COLUMNS",
    "ABLATION_COLUMNS",
    "ABLATION_PER_VIDEO_COLUMNS",
    "RECOGNIZER_PLOT_COLUMNS",
    "SR_LOG_TERMS",
    "SR_PLOT_COLUMNS",
    "PSNR_ACCURACY_COLUMNS",
    "recognizer_key",
    "eval_item",
    "eval_csv",
    "eval_per_class_csv",
    "eval_per_video_csv",
    "eval_metrics_json",
    "ablation_csv",
    "ablation_per_video_csv",
    "ablation_metrics_json",
    "ablation_cache",
    "sr_metrics_json",
    "sr_plot_csv",
    "samples_npz",
    "REFERENCE_CACHE",
    "PREPARE_METRICS",
    "BAD_VIDEOS",
    "RECOGNIZERS_METRICS",
    "RECOGNIZERS_PLOT",
    "PSNR_ACCURACY_PLOT",
    "STUDY_METRICS",
    "PREPARE_FIGURES",
    "STUDY_FIGURES",
    "PREPARE_STAGE",
    "RECOGNIZERS_STAGE",
    "REPORT_STAGE",
    "eval_stage",
    "sr_stage",
    "ablation_stage",
    "LR_BASELINES",
    "LR_BASELINE_LABELS",
    "LR_RECOGNIZER_NAMES",
    "LR_RECOGNIZERS_STAGE",
    "LR_RECOGNIZERS_METRICS",
    "LR_RECOGNIZERS_PLOT",
    "lr_baseline_stage",
    "AA_CONTROL",
    "AA_TRAIN_STAGE",
    "AA_EVAL_STAGE",
    "COLOUR_SHIFT_KEY",
]


def _with_seed(columns: Sequence[str]) -> list[str]:
    """A result table's columns with ``seed`` (the SR seed) after ``method`` and
    ``recognizer_seed`` after ``recognizer``."""
    out = []
    for c in columns:
        out.append(c)
        if c == "method":
            out.append("seed")
        elif c == "recognizer":
            out.append("recognizer_seed")
    return out


# ---------------------------------------------------------------------------------------------
# Columns

#: ``eval/<item>.csv``: one row per SR seed, recognizer, recognizer seed and stream.
TABLE_COLUMNS = _with_seed(_RESULT_COLUMNS)
#: ``eval/<item>_per_class.csv``: top-1 (%) per class, SR seed, recognizer, its seed and stream.
PER_CLASS_COLUMNS = ["method", "seed", "recognizer", "recognizer_seed", "stream", "class_name", "accuracy"]
#: ``eval/<item>_per_video.csv``: one row per video, SR seed, recognizer, recognizer seed, stream
#: (``correct``: top-1 hit, 0/1), what the report's bootstrap intervals resample.
PER_VIDEO_COLUMNS = [*_with_seed(PREDICTION_COLUMNS), "correct"]
#: ``ablation/<kind>_<variant>.csv``: one row per SR seed and recognizer seed on the kind's TSN stream.
ABLATION_COLUMNS = ["kind", "variant", *LABEL_COLUMNS, "seed", "recognizer_seed", "stream", "top1", "top5", "psnr",
                    "ssim"]
#: ``ablation/<kind>_<variant>_per_video.csv``: the per-video rows of the kind's TSN stream, the
#: variant in place of the method and recognizer.
ABLATION_PER_VIDEO_COLUMNS = ["kind", "variant", *(c for c in PER_VIDEO_COLUMNS if c not in ("method", "recognizer"))]
#: ``plots/recognizers.csv``: the recognizers' training curves (``lr``: the learning rate, so that the
#: report's trend check finds the last constant-rate stretch of a step schedule; ``val_loss`` and
#: ``val_accuracy``: the held-out scores on the rows ``val_every`` validated, empty elsewhere).
RECOGNIZER_PLOT_COLUMNS = ["model", "seed", "iteration", "loss", "accuracy", "lr", "val_loss", "val_accuracy"]
#: Loss columns of an SR phase's log.csv (weighted generator terms, rdsr's task terms among them, and
#: the discriminator's loss).
SR_LOG_TERMS = (*LOSS_TERMS, "d_loss")
#: ``plots/train_sr/<method>.csv``: the SR training curves.
SR_PLOT_COLUMNS = ["method", "seed", "phase", "iteration", "step", "loss", *SR_LOG_TERMS]
#: ``plots/psnr_vs_accuracy.csv``: seed means per method, recognizer and stream.
PSNR_ACCURACY_COLUMNS = ["method", "recognizer", "stream", "psnr", "top1"]


# ---------------------------------------------------------------------------------------------
# Files under reports_dir

PREPARE_METRICS = "metrics/prepare.json"
#: prepare: every bad video of its run (listed but missing, unreadable), one per line
#: (``arsr.data.prepare.write_bad_videos``); absent when there is none.
BAD_VIDEOS = "bad_videos.txt"
#: ``train_recognizers_lr``: the derived LR store and the LR baselines' training (seconds, device).
LR_RECOGNIZERS_METRICS = "metrics/recognizers_lr.json"
PREPARE_FIGURES = "figures/prepare"
RECOGNIZERS_METRICS = "metrics/recognizers.json"
RECOGNIZERS_PLOT = "plots/recognizers.csv"
#: ``train_recognizers_lr``: the LR baselines' training curves (``RECOGNIZER_PLOT_COLUMNS``, model
#: ``<baseline>/<tsn_rgb|tsn_flow>``).
LR_RECOGNIZERS_PLOT = "plots/recognizers_lr.csv"
PSNR_ACCURACY_PLOT = "plots/psnr_vs_accuracy.csv"
STUDY_METRICS = "metrics/study.json"
#: What ``dvc metrics show`` reads, beside ``STUDY_METRICS``: ``<item>.json`` per method (:mod:`arsr.study.headline`).
HEADLINE_METRICS = "metrics/headline"
STUDY_FIGURES = "figures/study"
#: ``metrics/eval/<item>.json`` ``colour_shift``'s headline, which the report shows: the largest over
#: R, G, B of the mean over test videos of |a video's mean SR - HR| (grey levels), worst SR seed.
COLOUR_SHIFT_KEY = "max_mean_abs_per_video"


def eval_item(method: str) -> str:
    """The file-name form of a method (``sosr+tosr`` -> ``sosr_tosr``): names the evaluation's
    outputs and its cache folder ``<eval_dir>/<item>``."""
    return method.replace("+", "_")


def eval_csv(method: str) -> str:
    return f"eval/{eval_item(method)}.csv"


def eval_per_class_csv(method: str) -> str:
    return f"eval/{eval_item(method)}_per_class.csv"


def eval_per_video_csv(method: str) -> str:
    return f"eval/{eval_item(method)}_per_video.csv"


def eval_metrics_json(method: str) -> str:
    return f"metrics/eval/{eval_item(method)}.json"


def ablation_csv(kind: str, variant: str) -> str:
    return f"ablation/{variant_name(kind, variant)}.csv"


def ablation_per_video_csv(kind: str, variant: str) -> str:
    return f"ablation/{variant_name(kind, variant)}_per_video.csv"


def ablation_metrics_json(kind: str, variant: str) -> str:
    return f"metrics/ablation/{variant_name(kind, variant)}.json"


def sr_metrics_json(method: str) -> str:
    return f"metrics/train_sr/{method}.json"


def sr_plot_csv(method: str) -> str:
    return f"plots/train_sr/{method}.csv"


# ---------------------------------------------------------------------------------------------
# Under eval_dir


def recognizer_key(recognizer: str, seed: int) -> str:
    """The name under which recognizer ``recognizer`` (``tsn``, ``st_resnet``) of seed ``seed``
    scores in one evaluation (its cache folder ``scores/<key>``): ``tsn_r0``."""
    return f"{recognizer}_r{int(seed)}"


#: The cache run of a reference method (hr, bicubic: no SR seed, evaluated once) under
#: ``<eval_dir>/<item>/``; an SR method's runs are ``seed<k>``.
REFERENCE_CACHE = "reference"


def samples_npz(method: str) -> str:
    """The sample frames of an evaluated method, under ``eval_dir``."""
    return f"{eval_item(method)}/samples.npz"


def ablation_cache(kind: str, variant: str) -> str:
    """The score cache folder of an ablation variant, under ``eval_dir``."""
    return f"ablation_{variant_name(kind, variant)}"


# ---------------------------------------------------------------------------------------------
# Stages (dvc.yaml)

PREPARE_STAGE = "prepare"
RECOGNIZERS_STAGE = "train_recognizers"
REPORT_STAGE = "report"

# Beyond the paper: the TSN streams retrained from scratch on bicubic-upscaled LR training video
# (flow from those frames), and the HR-trained TSN fine-tuned on it; both scored on the bicubic
# frames of the LR test video, as the ``bicubic`` row is. Rows of the accuracy table beside the methods.
LR_BASELINES = ("tsn_retrained_lr", "tsn_finetuned_lr")
LR_BASELINE_LABELS = {"tsn_retrained_lr": "TSN retrained on LR", "tsn_finetuned_lr": "TSN fine-tuned on LR"}
#: The recognizers each LR baseline trains (TSN only: ST-ResNet is not retrained).
LR_RECOGNIZER_NAMES = ("tsn_rgb", "tsn_flow")
LR_RECOGNIZERS_STAGE = "train_recognizers_lr"


# The A/A control: ``aa_control.method`` trained again with the SR seeds ``aa_control.seeds`` and
# scored as its row is; its files are eval_csv(AA_CONTROL) etc., its models under AA_MODELS.
AA_CONTROL = "aa_control"
AA_TRAIN_STAGE = "train_aa_control"
AA_EVAL_STAGE = "evaluate_aa_control"


def lr_baseline_stage(baseline: str) -> str:
    """The dvc stage that evaluates an LR baseline."""
    return f"evaluate_lr_baseline@{baseline}"


def eval_stage(method: str) -> str:
    """The dvc stage that evaluates ``method`` (or an LR baseline)."""
    if method in LR_BASELINES:
        return lr_baseline_stage(method)
    if method == AA_CONTROL:
        return AA_EVAL_STAGE
    if method in REFERENCE:
        return f"evaluate_reference@{method}"
    if method == COMBINED:
        return "evaluate_combined"
    return f"evaluate@{method}"


def sr_stage(method: str, sr: Mapping | None = None) -> str:
    """The dvc stage that trains ``method``: ``finetune_sr@<m>`` for a method of ``sr.finetune``
    (its first phase is another trained model), else ``train_sr@<m>``."""
    return f"finetune_sr@{method}" if method in ((sr or {}).get("finetune") or {}) else f"train_sr@{method}"


def ablation_stage(kind: str, variant: str) -> str:
    """The dvc stage that trains and scores an ablation variant."""
    return f"ablate_{kind}@{variant}"
