"""The study's report (``notebooks/60_report.ipynb`` -> ``reports/study.html``): loading every
stage's results, the paper's tables recomputed from them, the figures and the headline metrics.

Everything here is a plain function of files the earlier stages wrote (see ``dvc.yaml``); their
names, columns and the stages that write them are :mod:`arsr.study.layout`'s::

    reports/eval/<item>.csv            method, seed, recognizer, stream, top1, top5, n_videos, psnr, ssim
    reports/eval/<item>_per_video.csv  method, seed, recognizer, stream, video_id, label, prediction, correct
    reports/ablation/<kind>_<v>.csv    kind, variant, structure, pixel, feature, adversarial, warp,
                                       seed, stream, top1, top5, psnr, ssim
    reports/ablation/<kind>_<v>_per_video.csv
                                       kind, variant, seed, stream, video_id, label, prediction, correct
    reports/metrics/**.json            seconds, provenance (one file per stage run)
    reports/plots/recognizers.csv      model, seed, iteration, loss, accuracy
    reports/plots/train_sr/<m>.csv     method, seed, phase, iteration, step, loss, ...
    data/eval/<item>/samples.npz       video_ids (n,), frames (n,), sr (n, 2, H, W, 3) uint8

``<item>`` is ``hr``, ``bicubic``, each SR method, and ``sosr_tosr`` (the method ``sosr+tosr``);
``seed`` is the SR seed (hr and bicubic have none: their rows repeat for every seed). Ablation
variants identical to a main method (``arsr.study.ablations.ALIASES``) have no files of their
own: their rows are that method's TSN rows on the ablation's stream.
A missing file raises :class:`MissingInputError` naming the file and the stage that writes it.

The claims (:func:`claims_table`) are decided by paired bootstrap intervals over test videos
(:mod:`arsr.stats`) on the per-video files: "holds", "reversed" or "inconclusive".

Tables are the counterparts of the paper's (poster numbering in brackets): recognition accuracy
(Table 4 [Table2]), the SoSR and ToSR ablations (Tables 2, 3 [Table3, Table4]) and PSNR/SSIM
([Table5]). A cell holds the mean over seeds, "mean ± std" (sample std) when there are several;
"—" appears only where no number can exist (the paper's "/": SoSR+ToSR has no single-stream
accuracy) or where the paper did not report one, and each table says which in its notes
(``table.attrs["notes"]``). The paper's numbers (:mod:`arsr.study.paper`) appear only in column
groups labelled "paper (UCF101)" / "paper (HMDB51)".
"""
from __future__ import annotations

import html
import json
import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Mapping, Sequence

import numpy as np
import pandas as pd

from .. import stats
from ..io import write_json, write_text
from ..methods import COMBINED, REFERENCE  # the paper's SoSR+ToSR row; the rows without SR
from ..methods import FIDELITY_SR, IMAGE_SR, VIDEO_SR  # pixel-fidelity rows; what SoSR and ToSR are compared with
from ..methods import BEYOND_PAPER, LABELS, ORDER, PAPER_ORDER  # every row (the paper's and beyond), the paper's
from ..params_file import ParamError
from ..paths import resolve
from . import layout, paper
from .layout import (ABLATION_COLUMNS, ABLATION_PER_VIDEO_COLUMNS, LR_BASELINE_LABELS, LR_BASELINES, PER_VIDEO_COLUMNS,
                     PSNR_ACCURACY_COLUMNS, RECOGNIZER_PLOT_COLUMNS, TABLE_COLUMNS, ablation_stage, eval_stage,
                     sr_stage)
from .headline import write_headline
from .variants import ALIASES, KINDS, STREAM as ABLATION_STREAM, VARIANTS, alias_of

__all__ = [
    "MissingInputError", "ABLATION_STREAM", "COMBINED",
    "StudyResults", "load_study", "read_eval", "read_ablation", "read_metrics", "read_curves",
    "read_samples", "flow_method_of", "eval_methods",
    "seed_summary", "format_mean_std", "accuracy_table", "ablation_table", "quality_table", "colour_shifts",
    "table_html", "psnr_vs_accuracy", "spearman", "spearman_by_stream", "write_psnr_vs_accuracy",
    "psnr_accuracy_figure", "visual_comparison_figure", "wmse_weight_figure", "flow_comparison_figure",
    "sr_training_figure", "recognizer_training_figure", "stage_seconds", "provenance_summary",
    "headline", "write_study_metrics", "read_per_video",
    "ablation_sources", "read_ablation_per_video", "read_aa_control", "trained_methods", "IMAGE_SR", "VIDEO_SR",
    "ABLATION_CLAIMS", "RHO_MARGIN", "CLAIM_COLUMNS", "correctness_table", "aligned_scores", "claims_table",
    "claims_display", "claims_prose", "dataset_summary", "accuracy_digits", "PAPER_PROTOCOL", "evaluation_settings",
    "recipe_deviations", "method_summary", "ROW_ORDER", "ROW_LABELS", "read_lr_baselines", "training_costs",
    "cost_table", "cost_prose", "fusion_rule", "bicubic_margins", "BICUBIC_MARGIN_DB",
]

#: The recognizer each ablation is scored by, on its kind's stream (``ABLATION_STREAM``; the
#: paper's Tables 2 and 3: TSN on HMDB51).
ABLATION_RECOGNIZER = "tsn"
RECOGNIZER_LABELS = {"tsn": "TSN", "st_resnet": "ST-ResNet"}
STREAM_LABELS = {"spatial": "Spatial", "temporal": "Temporal", "fusion": "Fusion"}
DASH = "—"
OURS = "ours"

NOTE_COMBINED = (f"{DASH} in the SoSR+ToSR row: it is the fusion of SoSR's spatial stream and ToSR's "
                 "temporal stream, so it has no single-stream accuracy of its own (the paper's \"/\").")
NOTE_NOT_REPORTED = f"{DASH} in a paper column: the paper does not report that number."
NOTE_LR_TSN_ONLY = (f"{DASH} in the ST-ResNet columns of the rows \"TSN retrained on LR\" and \"TSN fine-tuned on "
                    "LR\" (beyond the paper): only TSN was trained on LR video, ST-ResNet was not.")
NOTE_LR_NOT_IN_PAPER = (f"{DASH} in a paper column of the LR-trained TSN rows: the paper has no such baseline.")
NOTE_BEYOND = (f"RDSR (beyond the paper): recognition-driven SR, RRDBNet from the shared RRDBNet-PSNR model trained "
               "through frozen TSN rgb and flow streams of another seed (recognition.feature_seed) than the "
               "recognizers that score every row; its frames feed both streams. The paper has no such method: "
               f"{DASH} in its paper columns.")

#: The accuracy table's rows: the paper's, with the LR-trained TSN baselines (beyond the paper,
#: ``layout.LR_BASELINES``) after Bicubic, whose frames they read.
ROW_ORDER: tuple[str, ...] = tuple(r for m in ORDER for r in ((m, *LR_BASELINES) if m == "bicubic" else (m,)))
ROW_LABELS: dict[str, str] = {**LABELS, **LR_BASELINE_LABELS}


class MissingInputError(FileNotFoundError):
    """An input of the report is missing; the message names the file and the stage that makes it."""


# ---------------------------------------------------------------------------------------------
# Names: method keys (result files and the stages that write them: arsr.study.layout)


def eval_methods(sr_methods: Sequence[str]) -> list[str]:
    """The rows of the accuracy table, in the paper's order: bicubic, the SR methods, SoSR+ToSR
    (when both SoSR and ToSR are studied), HR."""
    wanted = {*REFERENCE, *sr_methods}
    if "sosr" in sr_methods and "tosr" in sr_methods:
        wanted.add(COMBINED)
    unknown = sorted(set(sr_methods) - set(ORDER))
    if unknown:
        raise ParamError(f"unknown SR method(s) {unknown} in sr.methods; known: {', '.join(ORDER)}")
    return [m for m in ORDER if m in wanted]


def _require(path: Path, stage: str) -> Path:
    if not path.is_file():
        raise MissingInputError(f"{path} not found: it is written by the stage `{stage}`; "
                                f"run `dvc repro {stage}` (or `dvc repro` for the whole study)")
    return path


#: Columns renamed since a stage last wrote them: old name -> new name.
RENAMED_COLUMNS = {"recogniser": "recognizer"}


def _read_csv(path: Path, stage: str, columns: Sequence[str]) -> pd.DataFrame:
    df = pd.read_csv(_require(path, stage))
    old = {c: RENAMED_COLUMNS[c] for c in df.columns if c in RENAMED_COLUMNS and RENAMED_COLUMNS[c] in columns}
    if old:
        raise ValueError(f"{path} has column(s) {', '.join(f'{o!r} (now {n!r})' for o, n in old.items())}: it "
                         f"was written by an older version of the study; re-run the evaluate stages "
                         f"(`dvc repro {stage}`, or `dvc repro` for the whole study)")
    missing = [c for c in columns if c not in df.columns]
    if missing:
        raise ValueError(f"{path} lacks column(s) {missing} (has {list(df.columns)}): it is stale or "
                         f"not from this version of the study; re-run `dvc repro {stage}`")
    if df.empty:
        raise ValueError(f"{path} has no rows: re-run `dvc repro {stage}`")
    return df


_KEY_OF_LABEL = {label.lower(): key for key, label in LABELS.items()}


def _method_key(name: str) -> str:
    name = str(name).strip()
    return name.lower() if name.lower() in LABELS else _KEY_OF_LABEL.get(name.lower(), name)


# ---------------------------------------------------------------------------------------------
# Loading


def _read_eval_tables(reports_dir, sr_methods: Sequence[str], file_of, columns: Sequence[str],
                      check=None) -> pd.DataFrame:
    """``file_of(method)`` (a ``layout`` name under ``reports_dir``) of every evaluated method,
    concatenated, method names normalised to our keys; each file must hold its own method only
    (``check``: a further per-file check, ``(df, path, stage) -> df``)."""
    out = []
    for method in eval_methods(sr_methods):
        path = resolve(reports_dir) / file_of(method)
        df = _read_csv(path, eval_stage(method), columns)
        df["method"] = df["method"].map(_method_key)
        if set(df["method"]) != {method}:
            raise ValueError(f"{path} holds method(s) {sorted(set(df['method']))}, expected {method!r}: "
                             f"re-run `dvc repro {eval_stage(method)}`")
        out.append(check(df, path, eval_stage(method)) if check else df)
    return pd.concat(out, ignore_index=True)


def read_eval(reports_dir: str | os.PathLike, sr_methods: Sequence[str]) -> pd.DataFrame:
    """Every evaluation table (``reports/eval/<item>.csv``) of the study, concatenated; method
    names normalised to our keys (``hr``, ``bicubic``, ..., ``sosr+tosr``)."""
    return _read_eval_tables(reports_dir, sr_methods, layout.eval_csv, TABLE_COLUMNS)


def _check_per_video(df: pd.DataFrame, path: Path, stage: str) -> pd.DataFrame:
    df["video_id"] = df["video_id"].astype(str)
    bad = ~df["correct"].isin([0, 1, True, False])
    if bad.any():
        raise ValueError(f"{path}: column correct must be 0/1 (top-1 hit), found {sorted(set(df['correct'][bad]))[:5]}; "
                         f"re-run `dvc repro {stage}`")
    df["correct"] = df["correct"].astype(int)
    return df


def read_per_video(reports_dir: str | os.PathLike, sr_methods: Sequence[str]) -> pd.DataFrame:
    """Every per-video table (``reports/eval/<item>_per_video.csv``): one row per method, seed,
    recognizer, stream and test video, ``correct`` = top-1 hit (0/1). Columns ``PER_VIDEO_COLUMNS``."""
    return _read_eval_tables(reports_dir, sr_methods, layout.eval_per_video_csv, PER_VIDEO_COLUMNS,
                             _check_per_video)[PER_VIDEO_COLUMNS]


def read_lr_baselines(reports_dir: str | os.PathLike, baselines: Sequence[str] = LR_BASELINES
                      ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The LR baselines' evaluation tables and per-video rows (``reports/eval/<baseline>.csv`` and
    ``_per_video.csv``, written by ``evaluate_lr_baseline@<baseline>``), each file holding its
    own baseline only."""
    tables, videos = [], []
    for baseline in baselines:
        if baseline not in LR_BASELINES:
            raise ValueError(f"unknown LR baseline {baseline!r}; known: {', '.join(LR_BASELINES)}")
        stage = eval_stage(baseline)
        for file_of, columns, out in ((layout.eval_csv, TABLE_COLUMNS, tables),
                                      (layout.eval_per_video_csv, PER_VIDEO_COLUMNS, videos)):
            path = resolve(reports_dir) / file_of(baseline)
            df = _read_csv(path, stage, columns)
            if set(df["method"]) != {baseline}:
                raise ValueError(f"{path} holds method(s) {sorted(set(df['method']))}, expected {baseline!r}: "
                                 f"re-run `dvc repro {stage}`")
            out.append(_check_per_video(df, path, stage)[columns] if columns is PER_VIDEO_COLUMNS else df[columns])
    if not tables:
        return pd.DataFrame(columns=TABLE_COLUMNS), pd.DataFrame(columns=PER_VIDEO_COLUMNS)
    return pd.concat(tables, ignore_index=True), pd.concat(videos, ignore_index=True)


def read_aa_control(reports_dir: str | os.PathLike) -> pd.DataFrame:
    """The A/A control twin's per-video rows (``reports/eval/aa_control_per_video.csv``, written by
    ``evaluate_aa_control``): its method retrained with other SR seeds, method ``aa_control``."""
    stage = layout.AA_EVAL_STAGE
    path = resolve(reports_dir) / layout.eval_per_video_csv(layout.AA_CONTROL)
    df = _read_csv(path, stage, PER_VIDEO_COLUMNS)
    if set(df["method"]) != {layout.AA_CONTROL}:
        raise ValueError(f"{path} holds method(s) {sorted(set(df['method']))}, expected {layout.AA_CONTROL!r}: "
                         f"re-run `dvc repro {stage}`")
    return _check_per_video(df, path, stage)[PER_VIDEO_COLUMNS]


def ablation_sources(ablation: Mapping[str, Sequence[str]], sr_methods: Sequence[str] | None = None
                     ) -> dict[str, dict[str, str | None]]:
    """Where each row of the ablation grids comes from: kind -> {variant: source}, variants in
    the paper's order (``VARIANTS``). source = the main method (a variant identical to it,
    ``ALIASES``, whose method is in ``sr_methods``), None (the variant's own ablation run, listed in
    ``ablation.<kind>``); variants with neither are left out."""
    out: dict[str, dict[str, str | None]] = {}
    for kind in KINDS:
        listed = set(ablation.get(kind) or [])
        rows: dict[str, str | None] = {}
        for variant in VARIANTS[kind]:
            main = alias_of(kind, variant)
            if main is not None and sr_methods is not None and main in sr_methods:
                rows[variant] = main
            elif variant in listed:
                rows[variant] = None
        out[kind] = rows
    return out


def _variant_label(kind: str, variant: str) -> dict:
    return dict(VARIANTS[kind][variant].label)


def read_ablation(reports_dir: str | os.PathLike, ablation: Mapping[str, Sequence[str]],
                  sr_methods: Sequence[str] | None = None) -> pd.DataFrame:
    """The ablation grids' rows (``ABLATION_COLUMNS`` + ``alias``), in the paper's order: a
    variant's own run from ``reports/ablation/<kind>_<variant>.csv``, a variant identical to a
    main method of ``sr_methods`` from that method's TSN rows of ``reports/eval/<method>.csv`` on
    the kind's stream (``alias`` = the method; "" for own runs). See :func:`ablation_sources`."""
    out = []
    for kind, rows in ablation_sources(ablation, sr_methods).items():
        for variant, main in rows.items():
            if main is None:
                path = resolve(reports_dir) / layout.ablation_csv(kind, variant)
                df = _read_csv(path, ablation_stage(kind, variant), ABLATION_COLUMNS)
                df["kind"], df["variant"], df["alias"] = kind, variant, ""
            else:
                path = resolve(reports_dir) / layout.eval_csv(main)
                ev = _read_csv(path, eval_stage(main), TABLE_COLUMNS)
                ev = ev[(ev["recognizer"] == ABLATION_RECOGNIZER) & (ev["stream"] == ABLATION_STREAM[kind])]
                if ev.empty:
                    raise ValueError(f"{path} has no {ABLATION_RECOGNIZER} / {ABLATION_STREAM[kind]} rows, which "
                                     f"the {kind} ablation's row {variant} (= {main}) reads: re-run "
                                     f"`dvc repro {eval_stage(main)}`")
                df = ev.assign(kind=kind, variant=variant, alias=main, **_variant_label(kind, variant))
            out.append(df[[*ABLATION_COLUMNS, "alias"]])
    if not out:
        return pd.DataFrame(columns=[*ABLATION_COLUMNS, "alias"])
    return pd.concat(out, ignore_index=True)


def read_ablation_per_video(reports_dir: str | os.PathLike, ablation: Mapping[str, Sequence[str]],
                            sr_methods: Sequence[str] | None = None) -> pd.DataFrame:
    """Per-video rows of the ablation grids (``ABLATION_PER_VIDEO_COLUMNS``), sourced as in
    :func:`read_ablation`: ``reports/ablation/<kind>_<variant>_per_video.csv``, or the main
    method's ``reports/eval/<method>_per_video.csv`` (TSN, the kind's stream)."""
    out = []
    for kind, rows in ablation_sources(ablation, sr_methods).items():
        stream = ABLATION_STREAM[kind]
        for variant, main in rows.items():
            if main is None:
                stage = ablation_stage(kind, variant)
                path = resolve(reports_dir) / layout.ablation_per_video_csv(kind, variant)
                df = _read_csv(path, stage, ABLATION_PER_VIDEO_COLUMNS)
                df["kind"], df["variant"] = kind, variant
            else:
                stage = eval_stage(main)
                path = resolve(reports_dir) / layout.eval_per_video_csv(main)
                ev = _read_csv(path, stage, PER_VIDEO_COLUMNS)
                df = ev[(ev["recognizer"] == ABLATION_RECOGNIZER) & (ev["stream"] == stream)]
                df = df.assign(kind=kind, variant=variant)
            df = df[df["stream"] == stream]
            if df.empty:
                raise ValueError(f"{path} has no {ABLATION_RECOGNIZER} / {stream} rows for the {kind} ablation's "
                                 f"row {variant}: re-run `dvc repro {stage}`")
            out.append(_check_per_video(df.copy(), path, stage)[ABLATION_PER_VIDEO_COLUMNS])
    if not out:
        return pd.DataFrame(columns=ABLATION_PER_VIDEO_COLUMNS)
    return pd.concat(out, ignore_index=True)


def trained_methods(sr_methods: Sequence[str], sr: Mapping | None = None) -> list[str]:
    """The SR models the study trains: ``sr.train`` and ``sr.finetune``'s methods when the ``sr``
    group says, else ``sr_methods``."""
    sr = sr or {}
    if sr.get("train") is None and not sr.get("finetune"):
        return list(sr_methods)
    return list(dict.fromkeys([*(sr.get("train") or []), *(sr.get("finetune") or {})]))


def metrics_files(sr_methods: Sequence[str], ablation: Mapping[str, Sequence[str]],
                  sr: Mapping | None = None, lr_baselines: Sequence[str] = ()) -> dict[str, str]:
    """stage -> its metrics file, relative to ``reports_dir``, for every stage before the report
    (ablation variants only where they ran: see :func:`ablation_sources`; the LR baselines'
    training and evaluation stages with ``lr_baselines``)."""
    files = {layout.PREPARE_STAGE: layout.PREPARE_METRICS, layout.RECOGNIZERS_STAGE: layout.RECOGNIZERS_METRICS}
    if lr_baselines:
        files[layout.LR_RECOGNIZERS_STAGE] = layout.LR_RECOGNIZERS_METRICS
        files.update({eval_stage(b): layout.eval_metrics_json(b) for b in lr_baselines})
    files.update({sr_stage(m, sr): layout.sr_metrics_json(m) for m in trained_methods(sr_methods, sr)})
    files.update({eval_stage(m): layout.eval_metrics_json(m) for m in eval_methods(sr_methods)})
    for kind, rows in ablation_sources(ablation, sr_methods).items():
        files.update({ablation_stage(kind, v): layout.ablation_metrics_json(kind, v)
                      for v, main in rows.items() if main is None})
    return files


def read_metrics(reports_dir: str | os.PathLike, sr_methods: Sequence[str],
                 ablation: Mapping[str, Sequence[str]], sr: Mapping | None = None,
                 lr_baselines: Sequence[str] = ()) -> dict[str, dict]:
    """stage -> the metrics JSON it wrote (each with ``seconds`` and ``provenance``)."""
    out = {}
    for stage, rel in metrics_files(sr_methods, ablation, sr, lr_baselines).items():
        path = _require(resolve(reports_dir) / rel, stage)
        try:
            out[stage] = json.loads(path.read_text())
        except json.JSONDecodeError as err:
            raise ValueError(f"{path} is not valid JSON ({err}): re-run `dvc repro {stage}`") from None
    return out


def read_curves(reports_dir: str | os.PathLike, sr_methods: Sequence[str],
                sr: Mapping | None = None, lr_baselines: Sequence[str] = ()) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Training curves: (recognizers -- the LR baselines' too, model ``<baseline>/<stream>``, with
    ``lr_baselines`` --: model, seed, iteration, loss, accuracy; SR methods: method, seed, phase,
    iteration, step, loss, ...)."""
    root = resolve(reports_dir)
    rec = _read_csv(root / layout.RECOGNIZERS_PLOT, layout.RECOGNIZERS_STAGE, RECOGNIZER_PLOT_COLUMNS)
    if lr_baselines:
        lr = _read_csv(root / layout.LR_RECOGNIZERS_PLOT, layout.LR_RECOGNIZERS_STAGE, RECOGNIZER_PLOT_COLUMNS)
        rec = pd.concat([rec, lr[lr["model"].str.split("/").str[0].isin(lr_baselines)]], ignore_index=True)
    curves = [_read_csv(root / layout.sr_plot_csv(m), sr_stage(m, sr),
                        ["method", "seed", "phase", "step", "loss"]) for m in sr_methods]
    return rec, pd.concat(curves, ignore_index=True)


def read_samples(eval_dir: str | os.PathLike, methods: Sequence[str]) -> dict[str, dict[str, np.ndarray]]:
    """The fixed test frames each method produced: method -> {video_ids (n,), frames (n,),
    sr (n, 2, H, W, 3) uint8 = frames t and t+1}. Every method must hold the same clips."""
    out, first = {}, None
    for method in methods:
        path = _require(resolve(eval_dir) / layout.samples_npz(method), eval_stage(method))
        with np.load(path, allow_pickle=False) as npz:
            missing = {"video_ids", "frames", "sr"} - set(npz.files)
            if missing:
                raise ValueError(f"{path} lacks {sorted(missing)}: re-run `dvc repro {eval_stage(method)}`")
            s = {"video_ids": np.asarray(npz["video_ids"]).astype(str), "frames": np.asarray(npz["frames"]),
                 "sr": np.asarray(npz["sr"])}
        if s["sr"].ndim != 5 or s["sr"].shape[1] != 2 or s["sr"].dtype != np.uint8:
            raise ValueError(f"{path}: sr must be (n, 2, H, W, 3) uint8, got {s['sr'].shape} {s['sr'].dtype}")
        if first is None:
            first = (method, s)
        elif not (np.array_equal(s["video_ids"], first[1]["video_ids"])
                  and np.array_equal(s["frames"], first[1]["frames"])
                  and s["sr"].shape == first[1]["sr"].shape):
            raise ValueError(f"{path} shows other clips or frames than {first[0]}'s samples: re-run "
                             f"`dvc repro {eval_stage(method)}` so that all methods share the test samples")
        out[method] = s
    return out


def flow_method_of(interim_dir: str | os.PathLike, default: str = "dis") -> str:
    """The optical-flow method the prepared data was made with (``prepare.flow_method``), read
    from a prepared video's ``meta.json``; ``default`` when none says."""
    for meta in sorted((resolve(interim_dir) / "videos").glob("*/meta.json"))[:1]:
        try:
            return json.loads(meta.read_text())["settings"]["flow_method"]
        except (json.JSONDecodeError, KeyError):
            break
    return default


@dataclass
class StudyResults:
    """Everything the report reads from ``reports_dir``."""

    eval: pd.DataFrame
    ablation: pd.DataFrame
    metrics: dict[str, dict]
    recognizer_curves: pd.DataFrame
    sr_curves: pd.DataFrame
    methods: list[str] = field(default_factory=list)
    per_video: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=PER_VIDEO_COLUMNS))
    ablation_per_video: pd.DataFrame = field(
        default_factory=lambda: pd.DataFrame(columns=ABLATION_PER_VIDEO_COLUMNS))
    lr_eval: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=TABLE_COLUMNS))
    lr_per_video: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=PER_VIDEO_COLUMNS))
    aa_per_video: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=PER_VIDEO_COLUMNS))


def load_study(reports_dir: str | os.PathLike, sr_methods: Sequence[str],
               ablation: Mapping[str, Sequence[str]], sr: Mapping | None = None,
               lr_baselines: Sequence[str] = (), aa_control: bool = False) -> StudyResults:
    """Read all results of the study (raises :class:`MissingInputError` on the first missing file).
    ``sr``: the ``sr`` params group, for the names of the training stages (``train``/``finetune``);
    ``lr_baselines``: the LR-trained TSN baselines to read (``layout.LR_BASELINES``; kept apart
    from ``eval``, so that PSNR and the paper's comparisons see the paper's rows only);
    ``aa_control``: read the A/A control's twin (:func:`read_aa_control`)."""
    rec, curves = read_curves(reports_dir, sr_methods, sr, lr_baselines)
    lr_eval, lr_per_video = read_lr_baselines(reports_dir, lr_baselines)
    aa = read_aa_control(reports_dir) if aa_control else pd.DataFrame(columns=PER_VIDEO_COLUMNS)
    return StudyResults(read_eval(reports_dir, sr_methods), read_ablation(reports_dir, ablation, sr_methods),
                        read_metrics(reports_dir, sr_methods, ablation, sr, lr_baselines), rec, curves,
                        eval_methods(sr_methods), read_per_video(reports_dir, sr_methods),
                        read_ablation_per_video(reports_dir, ablation, sr_methods), lr_eval, lr_per_video, aa)


# ---------------------------------------------------------------------------------------------
# Tables


#: A table cell's accuracy is the mean over these cells, "mean ± std" their spread: every SR seed's
#: model scored by every recognizer seed's recognizers.
CELLS = ("seed", "recognizer_seed")


def seed_summary(df: pd.DataFrame, keys: Sequence[str], value: str, cells: Sequence[str] = CELLS) -> pd.DataFrame:
    """Mean, sample std and number of ``cells`` of ``value`` per ``keys`` (first averaged within a
    cell). Cells: the (SR seed, recognizer seed) pairs for an accuracy; ``cells=("seed",)`` for a
    quantity no recognizer measures (PSNR, SSIM: the same for every recognizer seed)."""
    cells = [c for c in cells if c in df.columns]
    per_cell = df.groupby([*keys, *cells], sort=False, dropna=False)[value].mean().reset_index()
    if not keys:
        v = per_cell[value]
        return pd.DataFrame({"mean": [v.mean()], "std": [v.std()], "n": [int(v.count())]})
    out = per_cell.groupby(list(keys), sort=False, dropna=False)[value].agg(["mean", "std", "count"])
    return out.rename(columns={"count": "n"}).reset_index()


def format_mean_std(mean: float, std: float = math.nan, n: int = 1, digits: int = 2) -> str:
    """"52.31" for one cell, "52.31 ± 0.84" for several; "—" for a missing value."""
    if mean is None or (isinstance(mean, float) and math.isnan(mean)):
        return DASH
    if math.isinf(mean):
        return "∞"
    text = f"{mean:.{digits}f}"
    if n > 1 and std is not None and not math.isnan(std):
        text += f" ± {std:.{digits}f}"
    return text


def _paper_label(dataset: str) -> str:
    return f"paper ({paper.DATASET_LABELS[dataset]})"


def _recognizers(df: pd.DataFrame) -> list[str]:
    present = set(df["recognizer"])
    return [r for r in paper.RECOGNIZERS if r in present] + sorted(present - set(paper.RECOGNIZERS))


def _notes(table: pd.DataFrame, notes: list[str]) -> pd.DataFrame:
    table.attrs["notes"] = [n for n in dict.fromkeys(notes) if n]
    return table


def accuracy_table(eval_df: pd.DataFrame, reference: str | None = None, *, metric: str = "top1",
                   digits: int = 2) -> pd.DataFrame:
    """The paper's Table 4 for our results: rows = methods (paper order, its names), columns =
    (source, recognizer, stream) with source "ours" and, with ``reference`` ("ucf101" /
    "hmdb51"), "paper (UCF101)" / "paper (HMDB51)". Cells are strings ("mean ± std" over seeds).

    Every (method, recognizer, stream) must be in ``eval_df`` except the single streams of
    SoSR+ToSR and the LR baselines' ST-ResNet cells (shown "—", explained in ``attrs["notes"]``).
    The LR baselines (``layout.LR_BASELINES``, rows of ``eval_df`` when given) follow Bicubic;
    the rows beyond the paper (``arsr.methods.BEYOND_PAPER``: RDSR) come before HR, "—" in the
    paper's columns.
    """
    summary = seed_summary(eval_df, ["method", "recognizer", "stream"], metric)
    cells = {(r.method, r.recognizer, r.stream): format_mean_std(r.mean, r.std, r.n, digits)
             for r in summary.itertuples()}
    methods = [m for m in ROW_ORDER if m in set(eval_df["method"])]
    recognizers = _recognizers(eval_df)
    ref = paper.accuracy_wide(reference) if reference else None
    rows, notes = [], []
    for method in methods:
        row = {}
        for rec in recognizers:
            for stream in paper.STREAMS:
                if method == COMBINED and stream != "fusion":
                    cell = DASH  # by definition, even if the evaluation wrote single-stream rows
                    notes.append(NOTE_COMBINED)
                elif method in LR_BASELINES and rec != "tsn":
                    cell = DASH
                    notes.append(NOTE_LR_TSN_ONLY)
                    row[(OURS, RECOGNIZER_LABELS.get(rec, rec), STREAM_LABELS[stream])] = cell
                    continue
                else:
                    cell = cells.get((method, rec, stream), DASH)
                if cell == DASH and (method != COMBINED or stream == "fusion"):
                    raise ValueError(
                        f"no {metric} for {method} / {rec} / {stream} in reports/{layout.eval_csv(method)}: "
                        f"re-run `dvc repro {eval_stage(method)}`")
                row[(OURS, RECOGNIZER_LABELS.get(rec, rec), STREAM_LABELS[stream])] = cell
        if ref is not None:
            for rec in paper.RECOGNIZERS:
                for stream in paper.STREAMS:
                    if method not in ref.index:
                        notes.append(NOTE_BEYOND if method in BEYOND_PAPER else NOTE_LR_NOT_IN_PAPER)
                        row[(_paper_label(reference), RECOGNIZER_LABELS[rec], STREAM_LABELS[stream])] = DASH
                        continue
                    value = ref.loc[method, (rec, stream)]
                    if math.isnan(value):
                        notes.append(NOTE_COMBINED)
                    row[(_paper_label(reference), RECOGNIZER_LABELS[rec], STREAM_LABELS[stream])] = \
                        format_mean_std(value, digits=2)
        if method in BEYOND_PAPER:
            notes.append(NOTE_BEYOND)
        rows.append(row)
    seeds_of = {rec: sorted(int(k) for k in set(eval_df.loc[eval_df["recognizer"] == rec, "recognizer_seed"]))
                for rec in recognizers}
    if "st_resnet" in seeds_of and len(seeds_of["st_resnet"]) < max(len(v) for v in seeds_of.values()):
        notes.append(f"ST-ResNet is trained with recognizer seed{'s' if len(seeds_of['st_resnet']) > 1 else ''} "
                     f"{', '.join(map(str, seeds_of['st_resnet']))} only (recognition.st_resnet_seeds), TSN with "
                     f"{', '.join(map(str, seeds_of.get('tsn', [])))}: ST-ResNet decides no claim and costs as much "
                     "to train as TSN's two streams, so its cells vary by SR seed only.")
    table = pd.DataFrame(rows, index=pd.Index([ROW_LABELS[m] for m in methods], name="method"))
    table.columns = pd.MultiIndex.from_tuples(table.columns, names=["source", "recognizer", "stream"])
    return _notes(table, notes)


def _check(flag) -> str:
    if isinstance(flag, str):
        flag = flag.strip().lower() in ("true", "1", "yes", "y", "✓")
    return "✓" if bool(flag) and not (isinstance(flag, float) and math.isnan(flag)) else "-"


def _structure(name) -> str:
    return LABELS.get(_method_key(name), str(name))


def ablation_table(ablation_df: pd.DataFrame, kind: str, reference: bool = False, *, digits: int = 2) -> pd.DataFrame:
    """The paper's SoSR (``kind="sosr"``, Table 2) or ToSR (``"tosr"``, Table 3) ablation for our
    variants, or rdsr's (``"rdsr"``, beyond the paper: its task terms, scored by TSN fusion): label
    columns (structure and losses), "Run" ("= <Method> row" for a variant that is
    a main method of the accuracy table, read from its evaluation; "ablation" for its own run),
    then ours: top-1 of TSN's spatial (SoSR), temporal (ToSR) stream or fusion (rdsr), PSNR, SSIM;
    with ``reference``, the paper's top-1 (HMDB51; none for rdsr). Rows in the order of ``ablation_df`` (the paper's,
    from :func:`read_ablation`); variants of the paper's grid without results are named in the
    notes. Columns: (group, name)."""
    if kind not in ABLATION_STREAM:
        raise ValueError(f"ablation kind {kind!r}: use one of {', '.join(KINDS)}")
    stream = ABLATION_STREAM[kind]
    df = ablation_df[ablation_df["kind"] == kind]
    if df.empty:
        raise ValueError(f"no {kind} ablation results: list variants in params ablation.{kind} and run "
                         f"`dvc repro ablate_{kind}`")
    acc = f"top-1 {stream} (%)"
    reference = reference and kind in ("sosr", "tosr")  # rdsr's is beyond the paper
    ref = (paper.sosr_ablation() if kind == "sosr" else paper.tosr_ablation()).set_index("variant")
    rows, notes = [], []
    for variant in dict.fromkeys(df["variant"]):
        part = df[df["variant"] == variant]
        scored = part[part["stream"] == stream]
        if scored.empty:
            raise ValueError(f"reports/ablation/{kind}_{variant}.csv has no {stream}-stream rows: "
                             f"re-run `dvc repro ablate_{kind}@{variant}`")
        first = part.iloc[0]
        row = {("", "variant"): variant, ("", "Structure"): _structure(first["structure"])}
        if kind == "sosr":
            pixel = str(first["pixel"])
            row[("", "MSE/WMSE")] = pixel.upper() if pixel.islower() else pixel
            row[("", "Feature")] = _check(first["feature"])
            row[("", "Adversarial")] = _check(first["adversarial"])
        elif kind == "tosr":
            row[("", "Warp loss")] = _check(first["warp"])
        else:
            row[("", "Spatial task")] = _check(first["spatial_task"])
            row[("", "Temporal task")] = _check(first["temporal_task"])
        main = first["alias"] if "alias" in part.columns and isinstance(first["alias"], str) else ""
        row[("", "Run")] = f"= {LABELS.get(main, main)} row" if main else "ablation"
        if main:
            notes.append(f"\"= X row\": the variant is the main method X of the accuracy table (same model and "
                         "settings), so its numbers are X's TSN results, not a second training.")
        for col, value, dg, cells in ((acc, "top1", digits, CELLS), ("PSNR (dB)", "psnr", 2, ("seed",)),
                                      ("SSIM", "ssim", 4, ("seed",))):
            r = seed_summary(scored, [], value, cells).iloc[0]
            cell = format_mean_std(r["mean"], r["std"], int(r["n"]), dg)
            if cell == DASH:
                raise ValueError(f"reports/ablation/{kind}_{variant}.csv has no {value}: re-run "
                                 f"`dvc repro ablate_{kind}@{variant}`")
            row[(OURS, col)] = cell
        if reference:
            if variant in ref.index:
                row[(_paper_label("hmdb51"), acc)] = format_mean_std(ref.loc[variant, "top1"])
            else:
                row[(_paper_label("hmdb51"), acc)] = DASH
                notes.append(f"{DASH} in the paper column: variant {variant!r} is not in the paper's table.")
        rows.append(row)
    missing = [v for v in VARIANTS[kind] if v not in set(df["variant"])]
    if missing:
        notes.append(f"Not run: {', '.join(missing)} (list them in params ablation.{kind}, or add their main "
                     "method to sr.methods).")
    table = pd.DataFrame(rows).set_index(("", "variant"))
    table.index.name = "variant"
    table.columns = pd.MultiIndex.from_tuples(table.columns, names=["source", "column"])
    return _notes(table, notes)


def colour_shifts(metrics: Mapping[str, Mapping]) -> dict[str, float]:
    """method -> its colour shift in grey levels, from the evaluation stages' metrics (stage -> JSON,
    ``colour_shift[layout.COLOUR_SHIFT_KEY]``): the mean |shift| per channel per video (per video,
    |mean SR - HR| of R, G and B over its measured frames, averaged over the test videos), the
    largest channel, worst seed."""
    out = {}
    for stage, m in metrics.items():
        shift = m.get("colour_shift") if isinstance(m, Mapping) else None
        if not (shift and m.get("method")):
            continue
        if layout.COLOUR_SHIFT_KEY not in shift:
            raise ValueError(f"reports/{layout.eval_metrics_json(m['method'])} has an older colour shift (the "
                             "signed shifts averaged over videos, where opposite shifts cancel), without "
                             f"{layout.COLOUR_SHIFT_KEY!r}: re-run `dvc repro {stage}`")
        out[m["method"]] = float(shift[layout.COLOUR_SHIFT_KEY])
    return out


#: A pixel-fidelity model (``arsr.methods.FIDELITY_SR``) whose worst SR seed is less than this many dB
#: above bicubic's PSNR is called bicubic-equivalent.
BICUBIC_MARGIN_DB = 0.05


def bicubic_margins(eval_df: pd.DataFrame, margin: float = BICUBIC_MARGIN_DB) -> pd.DataFrame:
    """Each pixel-fidelity SR row's PSNR above bicubic's in its worst SR seed: columns method,
    worst_db (min over SR seeds of PSNR - bicubic PSNR), worst_seed, equivalent (worst_db < ``margin``:
    the model adds nothing measurable to bicubic here, and its accuracy rows read as bicubic's)."""
    psnr = eval_df[np.isfinite(eval_df["psnr"].astype(float))].groupby(["method", "seed"])["psnr"].first()
    rows = []
    if "bicubic" in psnr.index.get_level_values("method"):
        bicubic = float(psnr.loc["bicubic"].mean())
        for method in [m for m in FIDELITY_SR if m in psnr.index.get_level_values("method")]:
            above = psnr.loc[method] - bicubic
            rows.append({"method": method, "worst_db": float(above.min()), "worst_seed": int(above.idxmin()),
                         "equivalent": bool(above.min() < margin)})
    return pd.DataFrame(rows, columns=["method", "worst_db", "worst_seed", "equivalent"])


def quality_table(eval_df: pd.DataFrame, reference: str | None = None, *, digits: int = 2,
                  colour_shift: Mapping[str, float] | None = None) -> pd.DataFrame:
    """PSNR (dB) / SSIM on the Y channel (poster Table 5) of every SR method and bicubic, paper
    order; HR (the reference itself) and SoSR+ToSR (two streams, not one video) have none.
    With ``reference``, the paper's values ("—" for the methods it did not report). With
    ``colour_shift`` (method -> grey levels, :func:`colour_shifts`: mean |shift| per channel per
    video), a column of it: does a method keep the colours (the study asks <= 1 grey level)? The
    pixel-fidelity rows get their PSNR above bicubic's in their worst SR seed
    (:func:`bicubic_margins`), "bicubic-equivalent" below ``BICUBIC_MARGIN_DB``."""
    df = eval_df[~eval_df["method"].isin(["hr", COMBINED])]
    margins = bicubic_margins(df).set_index("method")
    methods = [m for m in ORDER if m in set(df["method"])]
    psnr = seed_summary(df, ["method"], "psnr", cells=("seed",)).set_index("method")
    ssim = seed_summary(df, ["method"], "ssim", cells=("seed",)).set_index("method")
    ref = paper.quality() if reference else None
    if ref is not None:
        ref = ref[ref["dataset"] == reference].set_index("method")
    rows, notes = [], [f"HR is the reference of PSNR/SSIM (PSNR ∞) and SoSR+ToSR is two streams, "
                       "not one video: neither has a row."]
    if len(margins):
        notes.append(f"above bicubic: the PSNR of a model trained for pixel fidelity ({', '.join(LABELS[m] for m in FIDELITY_SR)}) "
                     f"minus bicubic's, in its worst SR seed; bicubic-equivalent: less than {BICUBIC_MARGIN_DB:g} dB, "
                     "so on this benchmark it restores nothing measurable over bicubic and its accuracy rows read as "
                     f"bicubic's; {DASH}: a row trained for other losses.")
    if colour_shift is not None:
        notes.append("colour shift: mean |shift| per channel per video: per test video, |mean SR − HR| "
                     "of each of R, G, B over its measured frames, averaged over the videos (a video "
                     "shifted up and one shifted down do not cancel); the largest channel, worst seed "
                     "(grey levels of 255; the study asks ≤ 1).")
    for method in methods:
        row = {}
        for col, s, dg in (("PSNR (dB)", psnr, digits), ("SSIM", ssim, 4)):
            r = s.loc[method]
            cell = format_mean_std(r["mean"], r["std"], int(r["n"]), dg)
            if cell == DASH:
                raise ValueError(f"no {col} for {method} in reports/{layout.eval_csv(method)}: re-run "
                                 f"`dvc repro {eval_stage(method)}`")
            row[(OURS, col)] = cell
        if len(margins):
            m = margins.loc[method] if method in margins.index else None
            row[(OURS, "above bicubic, worst SR seed (dB)")] = DASH if m is None else (
                f"{m['worst_db']:+.3f}" + (" bicubic-equivalent" if m["equivalent"] else ""))
        if colour_shift is not None:
            value = colour_shift.get(method)
            row[(OURS, "colour |shift| (grey levels)")] = DASH if value is None else f"{value:.2f}"
        if ref is not None:
            for col, key, dg in (("PSNR (dB)", "psnr", 2), ("SSIM", "ssim", 4)):
                value = ref.loc[method, key] if method in ref.index else math.nan
                if method in BEYOND_PAPER:
                    notes.append(NOTE_BEYOND)
                elif math.isnan(value):
                    notes.append(NOTE_NOT_REPORTED + " (its Table 5 lists RCAN, ESRGAN, SoSR, VSR-DUF-52 and ToSR)")
                row[(_paper_label(reference), col)] = format_mean_std(value, digits=dg)
        rows.append(row)
    table = pd.DataFrame(rows, index=pd.Index([LABELS[m] for m in methods], name="method"))
    table.columns = pd.MultiIndex.from_tuples(table.columns, names=["source", "column"])
    return _notes(table, notes)


def table_html(table: pd.DataFrame, caption: str) -> str:
    """A table as HTML (pandas Styler): caption, paper columns shaded and italic, notes below."""
    styler = table.style.set_caption(html.escape(caption)).hide(axis="index", names=True)
    styler = styler.set_table_styles([
        {"selector": "caption", "props": "caption-side: top; font-weight: bold; text-align: left;"},
        {"selector": "td", "props": "text-align: center; padding: 2px 8px;"},
        {"selector": "th", "props": "text-align: center; padding: 2px 8px;"},
    ])
    paper_cols = [c for c in table.columns if str(c[0] if isinstance(c, tuple) else c).startswith("paper")]
    if paper_cols:
        styler = styler.set_properties(subset=pd.IndexSlice[:, paper_cols],
                                       **{"background-color": "#f2f2f2", "font-style": "italic"})
    notes = table.attrs.get("notes", [])
    foot = "".join(f"<p style='font-size: 85%; margin: 2px 0'>{html.escape(n)}</p>" for n in notes)
    return styler.to_html() + foot


# ---------------------------------------------------------------------------------------------
# Does PSNR predict recognition accuracy?


def psnr_vs_accuracy(eval_df: pd.DataFrame) -> pd.DataFrame:
    """One point per (method, recognizer, stream) with a finite PSNR (HR and SoSR+ToSR have none):
    columns method, recognizer, stream, psnr, top1 (means over seeds)."""
    df = eval_df[np.isfinite(eval_df["psnr"].astype(float))]
    keys = ["method", "recognizer", "stream"]
    top1 = seed_summary(df, keys, "top1").rename(columns={"mean": "top1"})
    psnr = seed_summary(df, keys, "psnr", cells=("seed",)).rename(columns={"mean": "psnr"})
    out = top1[keys + ["top1"]].merge(psnr[keys + ["psnr"]], on=keys)
    order = {m: i for i, m in enumerate(ORDER)}
    out = out.sort_values(["recognizer", "stream", "method"],
                          key=lambda s: s.map(order) if s.name == "method" else s).reset_index(drop=True)
    return out[PSNR_ACCURACY_COLUMNS]


def spearman(x: Iterable[float], y: Iterable[float]) -> float:
    """Spearman's rank correlation: Pearson's correlation of the ranks (ties get their average
    rank); NaN with fewer than 3 points or a constant variable."""
    x, y = pd.Series(list(x), dtype=float), pd.Series(list(y), dtype=float)
    if len(x) != len(y):
        raise ValueError(f"spearman: x and y differ in length ({len(x)} vs {len(y)})")
    keep = x.notna() & y.notna()
    x, y = x[keep].rank(), y[keep].rank()
    if len(x) < 3 or x.nunique() < 2 or y.nunique() < 2:
        return math.nan
    return float(np.corrcoef(x.to_numpy(), y.to_numpy())[0, 1])


def spearman_by_stream(points: pd.DataFrame) -> pd.DataFrame:
    """Spearman's rho between PSNR and top-1 across methods, per (recognizer, stream), and over
    all recognizers per stream (recognizer "all"): columns recognizer, stream, n, spearman."""
    rows = []
    for rec in [*_recognizers(points), "all"]:
        for stream in paper.STREAMS:
            part = points[(points["stream"] == stream) & ((points["recognizer"] == rec) | (rec == "all"))]
            if part.empty:
                continue
            rows.append({"recognizer": rec, "stream": stream, "n": len(part),
                         "spearman": spearman(part["psnr"], part["top1"])})
    return pd.DataFrame(rows, columns=["recognizer", "stream", "n", "spearman"])


def write_psnr_vs_accuracy(points: pd.DataFrame, path: str | os.PathLike) -> Path:
    """The scatter's data for ``dvc plots`` (columns method, recognizer, stream, psnr, top1)."""
    path = resolve(path)
    write_text(path, points[PSNR_ACCURACY_COLUMNS].to_csv(index=False, float_format="%.4f"))
    return path


def psnr_accuracy_figure(points: pd.DataFrame, correlations: pd.DataFrame):
    """Top-1 vs PSNR, one panel per stream, one colour per method, one marker per recognizer;
    Spearman's rho per recognizer in each panel's title."""
    import matplotlib.pyplot as plt

    streams = [s for s in paper.STREAMS if s in set(points["stream"])]
    recognizers = _recognizers(points)
    methods = [m for m in ORDER if m in set(points["method"])]
    colours = dict(zip(methods, plt.get_cmap("tab10" if len(methods) <= 10 else "tab20").colors))
    markers = dict(zip(recognizers, "os^Dv"))
    fig, axes = plt.subplots(1, len(streams), figsize=(4.6 * len(streams), 4.0), squeeze=False)
    for ax, stream in zip(axes[0], streams):
        part = points[points["stream"] == stream]
        for r in part.itertuples():
            ax.scatter(r.psnr, r.top1, color=colours[r.method], marker=markers[r.recognizer], s=46,
                       edgecolor="k", linewidth=0.4)
        rhos = []
        for rec in recognizers:
            hit = correlations[(correlations["recognizer"] == rec) & (correlations["stream"] == stream)]
            if len(hit):
                rho = hit["spearman"].iloc[0]
                rhos.append(f"{RECOGNIZER_LABELS.get(rec, rec)} ρ={'n/a' if math.isnan(rho) else f'{rho:+.2f}'}")
        ax.set_title(f"{STREAM_LABELS[stream]} stream\n" + ", ".join(rhos), fontsize=9)
        ax.set_xlabel("PSNR on Y (dB)")
        ax.grid(alpha=0.3)
    axes[0][0].set_ylabel("top-1 accuracy (%)")
    handles = [plt.Line2D([], [], color=colours[m], marker="o", ls="", label=LABELS[m]) for m in methods]
    handles += [plt.Line2D([], [], marker=markers[r], ls="", markerfacecolor="white", markeredgecolor="k",
                           label=RECOGNIZER_LABELS.get(r, r)) for r in recognizers]
    fig.legend(handles=handles, loc="center left", bbox_to_anchor=(1.0, 0.5), fontsize=8, frameon=False)
    fig.tight_layout()
    return fig


# ---------------------------------------------------------------------------------------------
# Claims: paired bootstrap intervals over test videos (arsr.stats)

#: The ablations' one-term comparisons: name, kind, variant with the term, variant without, claim.
ABLATION_CLAIMS = (
    ("wmse_beats_mse_vdsr", "sosr", "vdsr_wmse", "vdsr_mse",
     "WMSE beats MSE, VDSR structure (TSN spatial)"),
    ("wmse_beats_mse_esrgan", "sosr", "esrgan_wmse_feat_adv", "esrgan_mse_feat_adv",
     "WMSE beats MSE, ESRGAN structure with feature and adversarial losses (TSN spatial)"),
    ("warp_helps_vdsr", "tosr", "vdsr_warp", "vdsr", "The warp loss helps VDSR (TSN temporal)"),
    ("warp_helps_duf16", "tosr", "duf16_warp", "duf16", "The warp loss helps VSR-DUF-16 (TSN temporal)"),
    # beyond the paper: rdsr's task terms, one at a time (temporal = rdsr itself)
    ("rdsr_spatial_task_helps", "rdsr", "spatial", "pixel",
     "RDSR: the spatial task term helps (TSN fusion; beyond the paper)"),
    ("rdsr_temporal_task_helps", "rdsr", "temporal", "spatial",
     "RDSR: the temporal task term helps (TSN fusion; beyond the paper)"),
)
#: "PSNR does not predict accuracy" holds when Spearman's rho's interval lies inside (-margin,
#: +margin) (a strong rank association either way ruled out); it is reversed when the interval
#: excludes 0 (above: PSNR predicts accuracy; below: it predicts it inversely). See
#: ``arsr.stats.association_verdict``.
RHO_MARGIN = 0.5
CLAIM_COLUMNS = ["name", "claim", "comparison", "difference", "ci_low", "ci_high", "verdict", "p_value",
                 "family_verdict", "unit", "n_videos", "n_seeds", "n_rec_seeds"]
VERDICT_LABELS = {"holds": "holds", "reversed": "reversed", "inconclusive": "inconclusive"}
#: The claim of the A/A control: a method against itself retrained with other SR seeds.
AA_CLAIM = "aa_control"
#: The check that HR is the ceiling: HR against every SR row on TSN fusion.
HR_CEILING_CLAIM = "hr_is_the_ceiling"


def correctness_table(rows: pd.DataFrame) -> pd.DataFrame:
    """One method's per-video rows -> table of 0/1 correctness: rows (SR seed, recognizer seed)
    (a MultiIndex ``seed``, ``recognizer_seed``), columns the video ids (sorted both ways)."""
    cells = ["seed", "recognizer_seed"]
    if rows.duplicated([*cells, "video_id"]).any():
        dup = rows[rows.duplicated([*cells, "video_id"], keep=False)].iloc[0]
        raise ValueError(f"per-video rows repeat SR seed {dup['seed']} / recognizer seed {dup['recognizer_seed']} / "
                         f"video {dup['video_id']}: each must appear once per method, recognizer and stream; re-run "
                         "the stage that wrote them")
    return rows.pivot(index=cells, columns="video_id", values="correct").sort_index().sort_index(axis=1)


def aligned_scores(tables: Mapping[str, pd.DataFrame]) -> dict[str, np.ndarray]:
    """Correctness tables -> ``(n_sr_seeds, n_recognizer_seeds, n_videos)`` arrays on the videos and
    recognizer seeds all of them share (the same recognizers score every method: the bootstrap
    pairs on them); each keeps its own SR seeds (different methods are different trained models)."""
    if not tables:
        return {}
    rec_seeds = sorted(set.intersection(*(set(t.index.get_level_values("recognizer_seed")) for t in tables.values())))
    videos = sorted(set.intersection(*(set(t.columns) for t in tables.values())))
    arrays = {}
    for k, t in tables.items():
        sr_seeds = sorted(set(t.index.get_level_values("seed")))
        full = pd.MultiIndex.from_product([sr_seeds, rec_seeds], names=["seed", "recognizer_seed"])
        arrays[k] = t.reindex(index=full, columns=videos).to_numpy(dtype=float).reshape(
            len(sr_seeds), len(rec_seeds), len(videos))
    keep = np.all([np.isfinite(a).all(axis=(0, 1)) for a in arrays.values()], axis=0) if videos and rec_seeds \
        else np.zeros(0, bool)
    if not keep.any():
        raise ValueError(f"the per-video results of {', '.join(tables)} share no (recognizer seed, video) with "
                         "every SR seed: they were evaluated on different test videos or recognizers; re-run "
                         "their evaluations")
    return {k: a[:, :, keep] for k, a in arrays.items()}


def _tables(per_video: pd.DataFrame, recognizer: str, stream: str) -> dict[str, pd.DataFrame]:
    part = per_video[(per_video["recognizer"] == recognizer) & (per_video["stream"] == stream)]
    groups = dict(tuple(part.groupby("method", sort=False)))
    return {m: correctness_table(groups[m]) for m in ROW_ORDER if m in groups}


def _ablation_tables(ablation_per_video: pd.DataFrame, kind: str) -> dict[str, pd.DataFrame]:
    part = ablation_per_video[(ablation_per_video["kind"] == kind)
                              & (ablation_per_video["stream"] == ABLATION_STREAM[kind])]
    groups = dict(tuple(part.groupby("variant", sort=False)))
    return {v: correctness_table(groups[v]) for v in VARIANTS[kind] if v in groups}


#: Trained models that are not rows of the accuracy table.
_EXTRA_LABELS = {"rrdb_psnr": "RRDBNet-PSNR (ESRGAN's, SoSR's and RDSR's first phase)"}


def _label(method: str) -> str:
    return ROW_LABELS.get(method, _EXTRA_LABELS.get(method, method))


def _claim_row(name: str, claim: str, comparison: str, result, verdict_: str, unit: str = "pp") -> dict:
    """A row of :func:`claims_table`; ``result`` (a ``PairedDifference``, ``BestOfComparison``'s
    ``result`` or ``SpearmanInterval``) kept in ``attrs`` for the family verdict."""
    if isinstance(result, stats.SpearmanInterval):
        estimate = result.rho
    else:
        estimate = result.difference
    return {"name": name, "claim": claim, "comparison": comparison, "difference": estimate,
            "ci_low": result.ci_low, "ci_high": result.ci_high, "verdict": verdict_, "p_value": result.p_value,
            "family_verdict": "inconclusive", "unit": unit, "n_videos": result.n_videos,
            "n_seeds": result.n_seeds, "n_rec_seeds": result.n_rec_seeds}


def _best_of_claim(name: str, claim: str, target: str, others: Sequence[str], tables: Mapping[str, pd.DataFrame],
                   what: str, n_resamples: int, seed: int, notes: list[str]) -> tuple[dict, object] | None:
    present = [m for m in others if m in tables]
    missing = [m for m in others if m not in tables]
    if target not in tables or not present:
        need = target if target not in tables else " / ".join(_label(m) for m in others)
        notes.append(f"Left out \"{claim}\": no results for {need} (not in sr.methods).")
        return None
    scores = aligned_scores({target: tables[target], **{m: tables[m] for m in present}})
    c = stats.compare_with_best(scores[target], {m: scores[m] for m in present}, n_resamples=n_resamples, rng=seed)
    comparison = (f"{_label(target)} vs {_label(c.against)}, the best {what} by mean "
                  f"(of {', '.join(_label(m) for m in present)})")
    weaker = [f"vs {_label(m)}: {v}" for m, (_, v) in c.pairwise.items() if v != "holds" and m != c.against]
    if c.verdict != c.pairwise[c.against][1] and weaker:
        comparison += "; decided by " + ", ".join(weaker)
    if missing:
        comparison += f"; not studied: {', '.join(_label(m) for m in missing)}"
    row = _claim_row(name, claim, comparison, c.result, c.verdict)
    row["p_value"] = c.p_value  # the intersection-union claim's, not its best pair's
    return row, c.verdict_at


def _paired_claim(name: str, claim: str, comparison: str, a, b, n_resamples: int, seed: int,
                  expected_sign: int = +1) -> tuple[dict, object]:
    r = stats.paired_bootstrap(a, b, n_resamples=n_resamples, rng=seed)
    return (_claim_row(name, claim, comparison, r, stats.verdict(r.ci_low, r.ci_high, expected_sign)),
            lambda confidence: r.verdict_at(confidence, expected_sign))


def claims_table(per_video: pd.DataFrame, ablation_per_video: pd.DataFrame | None = None,
                 eval_df: pd.DataFrame | None = None, *, lr_per_video: pd.DataFrame | None = None,
                 aa_per_video: pd.DataFrame | None = None, aa_method: str | None = None,
                 n_resamples: int = stats.N_RESAMPLES, seed: int = 0, rho_margin: float = RHO_MARGIN,
                 alpha: float = stats.FAMILY_ALPHA) -> pd.DataFrame:
    """The paper's claims, each decided by a 95% bootstrap interval over test videos, SR seeds and
    recognizer seeds (:mod:`arsr.stats`: the same videos and recognizers for both sides, each
    method's SR seeds drawn on their own), and all of them together by Holm's step-down at
    family-wise level ``alpha`` (``family_verdict``; the report's prose uses it):

    * ``sr_beats_bicubic``: the best SR row by TSN fusion (SoSR+ToSR included) vs bicubic --
      chosen on the same videos, so its difference is optimistic;
    * ``sosr_beats_image_sr`` (TSN spatial), ``tosr_beats_video_sr`` (TSN temporal),
      ``sosr_tosr_best_fusion`` (TSN fusion, every other row but HR): against the best other by
      mean, verdict "holds" only if the interval against *every* other excludes 0
      (:func:`arsr.stats.compare_with_best`);
    * ``hr_is_the_ceiling``: HR against every SR row (TSN fusion), the same intersection-union test;
      "reversed" if some SR row beats HR (then HR is not the ceiling the tables assume);
    * ``ABLATION_CLAIMS``: one loss term on vs off, the ablations' rows (TSN, the kind's stream);
    * ``psnr_not_predictive_<stream>``: Spearman's rho of PSNR and TSN top-1 across the paper's
      methods with a PSNR (:func:`arsr.stats.spearman_bootstrap`); "holds" if its interval lies in
      (-rho_margin, +rho_margin), "reversed" if it excludes 0 (the comparison says which way);
    * ``best_sr_beats_<baseline>`` (beyond the paper, with ``lr_per_video``: the LR baselines'
      per-video rows, their TSN of seed k paired with recognizer seed k): the best SR row by TSN
      fusion vs the TSN trained on LR video, on the bicubic frames -- chosen on the same videos,
      so its difference is optimistic;
    * ``rdsr_beats_sosr_tosr`` (beyond the paper): RDSR vs SoSR+ToSR, TSN fusion;
    * ``aa_control`` (with ``aa_per_video`` and ``aa_method``): the A/A control, ``aa_method``'s row
      against its twin retrained with other SR seeds (TSN fusion); it must read inconclusive.

    The rows beyond the paper (``arsr.methods.BEYOND_PAPER``) take no part in the paper's claims
    (the SR rows of ``sr_beats_bicubic``, ``best_sr_beats_<baseline>``, the PSNR claims).

    per_video: :func:`read_per_video`; ablation_per_video: :func:`read_ablation_per_video`;
    eval_df: :func:`read_eval` (PSNR per method). Columns ``CLAIM_COLUMNS`` (difference in pp, or
    rho for unit "rho"; ``p_value``: :func:`arsr.stats.decisive_p`); claims whose inputs were not
    studied are left out and named in ``attrs["notes"]``; ``attrs["direction"]`` maps a PSNR claim
    to "positive" / "inverse" where its interval excludes 0.
    """
    decided, notes, direction = [], [], {}
    fusion = _tables(per_video, "tsn", "fusion")
    candidates = [m for m in fusion if m not in REFERENCE and m in PAPER_ORDER]
    claim = "Super-resolution beats bicubic upscaling (TSN fusion)"
    if "bicubic" in fusion and candidates:
        scores = aligned_scores({m: fusion[m] for m in ["bicubic", *candidates]})
        best = stats.best_of({m: scores[m] for m in candidates})
        decided.append(_paired_claim(
            "sr_beats_bicubic", claim, f"{_label(best)}, the best of {len(candidates)} SR rows by mean, vs Bicubic "
            "(chosen on these videos: the difference is optimistic)", scores[best], scores["bicubic"], n_resamples,
            seed))
    else:
        notes.append(f"Left out \"{claim}\": no TSN fusion results for bicubic or any SR method.")
    lr_fusion = _tables(lr_per_video, "tsn", "fusion") if lr_per_video is not None and len(lr_per_video) else {}
    for baseline in [b for b in LR_BASELINES if b in lr_fusion]:
        claim = f"The best super-resolution beats {_label(baseline)} (TSN fusion)"
        if not candidates:
            notes.append(f"Left out \"{claim}\": no TSN fusion results of any SR method.")
            continue
        scores = aligned_scores({baseline: lr_fusion[baseline], **{m: fusion[m] for m in candidates}})
        best = stats.best_of({m: scores[m] for m in candidates})
        decided.append(_paired_claim(
            f"best_sr_beats_{baseline}", claim,
            f"{_label(best)} (HR-trained TSN), the best of {len(candidates)} SR rows by mean, vs {_label(baseline)} "
            "on the bicubic frames (chosen on these videos: the difference is optimistic)",
            scores[best], scores[baseline], n_resamples, seed))
    spatial, temporal = _tables(per_video, "tsn", "spatial"), _tables(per_video, "tsn", "temporal")
    for found in (
        _best_of_claim("sosr_beats_image_sr", "SoSR beats the other image SR (TSN spatial)", "sosr", IMAGE_SR,
                       spatial, "other image SR", n_resamples, seed, notes),
        _best_of_claim("tosr_beats_video_sr", "ToSR beats the other video SR (TSN temporal)", "tosr", VIDEO_SR,
                       temporal, "other video SR", n_resamples, seed, notes),
        _best_of_claim("sosr_tosr_best_fusion", "SoSR+ToSR is the best row short of HR (TSN fusion)", COMBINED,
                       [m for m in PAPER_ORDER if m not in ("hr", COMBINED)], fusion, "other row",
                       n_resamples, seed, notes),
        _best_of_claim(HR_CEILING_CLAIM, "HR beats every SR row: the ceiling (TSN fusion; reversed: an SR row "
                       "beats HR)", "hr", [m for m in ROW_ORDER if m not in REFERENCE], fusion, "SR row",
                       n_resamples, seed, notes),
    ):
        if found is not None:
            decided.append(found)
    claim = "RDSR beats SoSR+ToSR (TSN fusion; beyond the paper)"
    if "rdsr" in fusion and COMBINED in fusion:
        scores = aligned_scores({"rdsr": fusion["rdsr"], COMBINED: fusion[COMBINED]})
        decided.append(_paired_claim(
            "rdsr_beats_sosr_tosr", claim, "RDSR (one network, its frames for both streams) vs SoSR+ToSR (SoSR's "
            "frames for the spatial stream, ToSR's for the temporal); the issue's goal: +2 points or more",
            scores["rdsr"], scores[COMBINED], n_resamples, seed))
    else:
        lacking = " / ".join(_label(m) for m in ("rdsr", COMBINED) if m not in fusion)
        notes.append(f"Left out \"{claim}\": no TSN fusion results for {lacking} (not in sr.methods).")
    abl = ablation_per_video if ablation_per_video is not None else pd.DataFrame(columns=ABLATION_PER_VIDEO_COLUMNS)
    for name, kind, with_term, without, claim in ABLATION_CLAIMS:
        tables = _ablation_tables(abl, kind)
        if with_term not in tables or without not in tables:
            lacking = [v for v in (with_term, without) if v not in tables]
            notes.append(f"Left out \"{claim}\": no results for the {kind} ablation's {', '.join(lacking)} "
                         f"(list the variant in ablation.{kind}, or its main method in sr.methods).")
            continue
        scores = aligned_scores({with_term: tables[with_term], without: tables[without]})
        aliases = ALIASES[kind]
        names = [f"{v}" + (f" (= {_label(aliases[v])})" if v in aliases else "") for v in (with_term, without)]
        decided.append(_paired_claim(name, claim, f"{names[0]} vs {names[1]}", scores[with_term], scores[without],
                                     n_resamples, seed))
    if eval_df is not None:
        psnr = seed_summary(eval_df[np.isfinite(eval_df["psnr"].astype(float))], ["method"], "psnr", ("seed",))
        psnr = dict(zip(psnr["method"], psnr["mean"]))
        for stream, tables in (("spatial", spatial), ("temporal", temporal), ("fusion", fusion)):
            claim = f"PSNR does not predict recognition accuracy (TSN {stream})"
            methods = [m for m in tables if m in psnr and m in PAPER_ORDER]
            if len(methods) < 3:
                notes.append(f"Left out \"{claim}\": fewer than 3 of the paper's methods with both a PSNR and TSN "
                             f"{stream} results.")
                continue
            scores = aligned_scores({m: tables[m] for m in methods})
            r = stats.spearman_bootstrap([psnr[m] for m in methods], [scores[m] for m in methods],
                                         n_resamples=n_resamples, rng=seed, margin=rho_margin)
            name = f"psnr_not_predictive_{stream}"
            verdict_ = stats.association_verdict(r.ci_low, r.ci_high, rho_margin)
            way = stats.association_direction(r.ci_low, r.ci_high)
            if way is not None:
                direction[name] = way
            decided.append((_claim_row(
                name, claim, f"Spearman ρ of PSNR and top-1 over {len(methods)} of the paper's methods; holds if its "
                f"interval lies within ±{rho_margin:g}; reversed if it excludes 0"
                + {"positive": " (here: PSNR predicts accuracy, the higher the better)",
                   "inverse": " (here: PSNR predicts accuracy inversely, the higher the worse)"}.get(way, ""),
                r, verdict_, unit="rho"), r.verdict_at))
    if aa_per_video is not None and len(aa_per_video) and aa_method is not None:
        claim = f"A/A control: {_label(aa_method)} retrained with other SR seeds differs from itself (TSN fusion)"
        twin = _tables(aa_per_video.assign(method=aa_method), "tsn", "fusion").get(aa_method)
        if aa_method in fusion and twin is not None:
            scores = aligned_scores({"twin": twin, aa_method: fusion[aa_method]})
            seeds_of = lambda t: ", ".join(str(k) for k in sorted(set(t.index.get_level_values("seed"))))  # noqa: E731
            decided.append(_paired_claim(
                AA_CLAIM, claim, f"{_label(aa_method)} of SR seeds {seeds_of(twin)} vs of SR seeds "
                f"{seeds_of(fusion[aa_method])}; the same method and recipe, so it must read inconclusive",
                scores["twin"], scores[aa_method], n_resamples, seed))
        else:
            notes.append(f"Left out \"{claim}\": no TSN fusion results for {_label(aa_method)} or its twin.")
    rows = [row for row, _ in decided]
    if rows:
        family = stats.family_verdicts([r["p_value"] for r in rows], [at for _, at in decided], alpha)
        for row, verdict_ in zip(rows, family):
            row["family_verdict"] = verdict_
    table = pd.DataFrame(rows, columns=CLAIM_COLUMNS)
    table.attrs["notes"] = notes
    table.attrs["direction"] = direction
    table.attrs["alpha"] = alpha
    return table


def _signed(value: float, decimals: int) -> str:
    return DASH if value is None or not math.isfinite(value) else f"{value:+.{decimals}f}".replace("-", "−")


def _claim_decimals(row) -> int:
    """The interval's digits (:func:`arsr.stats.decimals_for`), one more (up to 3) while an
    endpoint that is not 0 would print as 0 -- "+0" must not hide which side of 0 it is on."""
    d = stats.decimals_for((row.ci_high - row.ci_low) / 2.0)
    ends = [v for v in (row.ci_low, row.ci_high) if v is not None and math.isfinite(v) and v != 0]
    while d < 3 and any(round(v, d) == 0 for v in ends):
        d += 1
    return d


def _p_text(p: float) -> str:
    """A p-value as the bootstrap can tell it: below 1/2500 of the resamples it reads "< 0.0004"."""
    if p is None or not math.isfinite(p):
        return DASH
    if p < 4e-4:
        return "< 0.0004"
    return f"{p:.2g}" if p < 0.01 else f"{p:.2f}"


def claims_display(claims: pd.DataFrame) -> pd.DataFrame:
    """The claims as the report shows them: claim, compared, estimate (pp or ρ), 95% CI, its own
    verdict, p, and the family verdict (Holm); each number rounded at its interval's first
    significant digit (:func:`arsr.stats.decimals_for`)."""
    rows = []
    alpha = claims.attrs.get("alpha", stats.FAMILY_ALPHA)
    for r in claims.itertuples():
        d = _claim_decimals(r)
        unit = " pp" if r.unit == "pp" else ""
        prefix = "ρ = " if r.unit == "rho" else ""
        rows.append({"claim": r.claim, "compared": r.comparison,
                     "estimate": f"{prefix}{_signed(r.difference, d)}{unit}",
                     "95% CI": f"[{_signed(r.ci_low, d)}, {_signed(r.ci_high, d)}]",
                     "verdict (95%)": VERDICT_LABELS.get(r.verdict, r.verdict), "p": _p_text(r.p_value),
                     f"family verdict (Holm, {alpha:g})": VERDICT_LABELS.get(r.family_verdict, r.family_verdict)})
    columns = ["claim", "compared", "estimate", "95% CI", "verdict (95%)", "p", f"family verdict (Holm, {alpha:g})"]
    table = pd.DataFrame(rows, columns=columns).set_index("claim")
    return _notes(table, list(claims.attrs.get("notes", [])))


def claims_prose(claims: pd.DataFrame) -> str:
    """A paragraph that says what the family verdicts say (templated from :func:`claims_table`):
    the claims are one family, decided by Holm's step-down; each claim's own 95% verdict is in
    the table beside it."""
    if claims.empty:
        return "No claim could be tested: the results they compare are missing (see the notes)."
    alpha = claims.attrs.get("alpha", stats.FAMILY_ALPHA)
    counts = claims["family_verdict"].value_counts()

    def n(verdict: str, one: str, many: str) -> str:
        k = int(counts.get(verdict, 0))
        return f"{k} {one if k == 1 else many}"

    n_rec = int(claims["n_rec_seeds"].max())
    parts = [f"The {len(claims)} claim{'s' if len(claims) != 1 else ''} tested are one family, decided together "
             f"by Holm's step-down at a family-wise error of {alpha:g}: {n('holds', 'holds', 'hold')}, "
             f"{n('reversed', 'is reversed', 'are reversed')} and "
             f"{n('inconclusive', 'is inconclusive', 'are inconclusive')}. Each interval resamples the test videos, "
             f"each method's SR seeds and the {n_rec} recognizer seed{'s' if n_rec != 1 else ''} (a bootstrap over "
             "every source of variance, conservative by design: `arsr.stats`); the verdicts below are the family's, "
             "each claim's own 95% verdict is in the table."]
    direction = claims.attrs.get("direction", {})
    for r in claims.itertuples():
        d = _claim_decimals(r)
        if r.unit == "rho":
            estimate = f"ρ = {_signed(r.difference, d)}"
        else:
            estimate = f"{_signed(r.difference, d)} points"
        interval = f"95% CI {_signed(r.ci_low, d)} to {_signed(r.ci_high, d)}"
        verdict_ = r.family_verdict
        if r.unit == "rho" and verdict_ == "reversed":
            verdict_ = {"positive": "reversed: PSNR predicts accuracy",
                        "inverse": "reversed: PSNR predicts accuracy inversely"}.get(direction.get(r.name), verdict_)
        parts.append(f"{r.claim}: **{verdict_}** ({estimate}, {interval}, p {_p_text(r.p_value)}; {r.comparison}).")
    return " ".join(parts)


def dataset_summary(dataset: str, test_videos: int, split_videos: int | None, seeds: Sequence[int],
                    methods: Sequence[str], reference: str | None, prepare: Mapping | None = None,
                    recognizer_seeds: Sequence[int] | None = None) -> str:
    """The report's opening line: dataset, how many test videos (of the split), SR seeds and
    recognizer seeds, the methods, whether the paper's numbers are shown; with ``prepare`` (its
    metrics JSON), how many listed videos ``on_bad_video: skip`` dropped."""
    seeds = list(seeds)
    rec = list(recognizer_seeds or [])
    if split_videos is None or split_videos < test_videos:
        of = ""
    elif split_videos == test_videos:
        of = " (the whole test split)"
    else:
        of = f" (of {split_videos} in the test split: evaluate.max_videos)"
    shown = f"paper ({paper.DATASET_LABELS[reference]})" if reference else "not shown"
    scored = (f" each scored by the recognizers of **{len(rec)} recognizer seed{'s' if len(rec) != 1 else ''}** "
              f"{rec}" if rec else "")
    return (f"Dataset **{dataset}**: **{test_videos} test videos**{of}, **{len(seeds)} SR "
            f"seed{'s' if len(seeds) != 1 else ''}** {seeds}{scored} (a cell is the mean over the (SR seed, "
            f"recognizer seed) cells, *mean ± std* with several); methods: {', '.join(LABELS.get(m, m) for m in methods)}; the paper's "
            f"numbers: **{shown}**." + _skipped_sentence(prepare))


def _skipped_sentence(prepare: Mapping | None) -> str:
    missing = int((prepare or {}).get("skipped_missing") or 0)
    unreadable = int((prepare or {}).get("skipped_unreadable") or 0)
    if not missing + unreadable:
        return ""
    n = missing + unreadable
    return (f" **{n} listed video{'s were' if n != 1 else ' was'} skipped** ({missing} missing on disk, "
            f"{unreadable} unreadable; `data.on_bad_video: skip`): the splits are smaller than their "
            "lists, the names are in the prepare report and `reports/metrics/prepare.json`.")


def accuracy_digits(per_video: pd.DataFrame, keys: Sequence[str] = ("method", "recognizer", "stream"),
                    max_decimals: int = 2) -> int:
    """Decimals for a table of accuracies (%): the first significant digit of the median 95%
    half-width of one cell's accuracy over the test videos, SR seeds and recognizer seeds
    (:func:`arsr.stats.mean_half_width`). E.g. 48 videos (half-width ~14 points) -> 0, 3783 (~1) -> 1."""
    widths = []
    for _, rows in per_video.groupby(list(keys), sort=False):
        cube = aligned_scores({"cell": correctness_table(rows)})["cell"]
        if cube.shape[-1] > 1:
            widths.append(stats.mean_half_width(cube))
    return stats.decimals_for(float(np.median(widths)) if widths else math.nan, max_decimals)


# ---------------------------------------------------------------------------------------------
# Pictures


def _motion_box(motion: np.ndarray, size: tuple[int, int]) -> tuple[int, int]:
    """Top-left (y, x) of the ``size`` window with the most ``motion`` (ties: nearest the centre)."""
    import cv2

    h, w = motion.shape
    ch, cw = size
    mean = cv2.boxFilter(np.ascontiguousarray(motion, dtype=np.float32), -1, (cw, ch), normalize=True,
                         borderType=cv2.BORDER_CONSTANT)
    # window centres that keep the window inside the frame
    valid = mean[ch // 2: h - (ch - ch // 2) + 1, cw // 2: w - (cw - cw // 2) + 1]
    if valid.size == 0 or float(valid.max()) <= 0:
        return (h - ch) // 2, (w - cw) // 2
    y, x = np.unravel_index(int(np.argmax(valid)), valid.shape)
    return int(y), int(x)


def _motion_of(hr_pair: np.ndarray) -> np.ndarray:
    a, b = (f.astype(np.float32).mean(axis=-1) for f in hr_pair)
    return np.abs(b - a)


def _no_ticks(ax) -> None:
    ax.set_xticks([])
    ax.set_yticks([])


def visual_comparison_figure(samples: Mapping[str, Mapping[str, np.ndarray]], methods: Sequence[str] | None = None,
                             n_videos: int = 4, crop_fraction: float = 0.5, dataset=None):
    """Crops of the same test frame across methods: rows = sample clips, columns = HR, Bicubic,
    then the SR methods (paper order). The crop (``crop_fraction`` of the frame's sides) sits where
    the HR frame moves most (HR flow from ``dataset``, a PreparedDataset, else frame differences)."""
    import matplotlib.pyplot as plt

    methods = list(methods or samples)
    cols = [m for m in ("hr", "bicubic") if m in methods] + \
           [m for m in ORDER if m in methods and m not in ("hr", "bicubic", COMBINED)]
    hr = samples["hr"]
    n = min(n_videos, len(hr["video_ids"]))
    h, w = hr["sr"].shape[2:4]
    size = (max(8, int(h * crop_fraction)), max(8, int(w * crop_fraction)))
    fig, axes = plt.subplots(n, len(cols), figsize=(1.7 * len(cols), 1.7 * n * size[0] / size[1] + 0.4),
                             squeeze=False)
    for i in range(n):
        vid, t = hr["video_ids"][i], int(hr["frames"][i])
        motion = _motion_of(hr["sr"][i])
        if dataset is not None:
            try:
                motion = np.linalg.norm(np.asarray(dataset.video(str(vid)).flow[t], np.float32), axis=-1)
            except (KeyError, IndexError, FileNotFoundError):
                pass
        y, x = _motion_box(motion, size)
        for j, method in enumerate(cols):
            ax = axes[i][j]
            ax.imshow(samples[method]["sr"][i, 0, y:y + size[0], x:x + size[1]], interpolation="nearest")
            _no_ticks(ax)
            if i == 0:
                ax.set_title(LABELS.get(method, method), fontsize=8)
            if j == 0:
                ax.set_ylabel(f"{str(vid).split('/')[-1][:18]}\nframe {t}", fontsize=6)
    fig.tight_layout(pad=0.3)
    return fig


def wmse_weight_figure(dataset, video_ids: Sequence[str], frames: Sequence[int]):
    """SoSR's WMSE weights (paper Eq. 1): per clip, the HR frame t and its per-pixel weight
    sqrt(u² + v²) of the HR flow t -> t+1 (``arsr.losses.flow_weights``), with the share of the
    loss that the 10% most-moving pixels carry."""
    import matplotlib.pyplot as plt
    import torch

    from ..losses import flow_weights

    n = len(video_ids)
    fig, axes = plt.subplots(n, 2, figsize=(6.4, 2.3 * n), squeeze=False)
    for row, vid, t in zip(axes, video_ids, frames):
        video = dataset.video(str(vid))
        t = min(int(t), video.n_frames - 2)
        flow = torch.from_numpy(np.asarray(video.flow[t], np.float32)).permute(2, 0, 1)[None]
        weights = flow_weights(flow)[0, 0].numpy()
        row[0].imshow(np.asarray(video.hr[t]))
        im = row[1].imshow(weights, cmap="magma")
        fig.colorbar(im, ax=row[1], fraction=0.046, pad=0.02)
        top = np.sort(weights.ravel())[::-1]
        share = top[: max(1, top.size // 10)].sum() / max(top.sum(), 1e-12)
        row[0].set_ylabel(f"{str(vid).split('/')[-1][:18]}\nframe {t}", fontsize=6)
        row[1].set_title(f"top 10% pixels carry {100 * share:.0f}% of the weight", fontsize=8)
        for ax in row:
            _no_ticks(ax)
    axes[0][0].set_title("HR frame", fontsize=9)
    axes[0][1].set_title("WMSE weight √(u²+v²) (px)\n" + axes[0][1].get_title(), fontsize=8)
    fig.tight_layout()
    return fig


def flow_comparison_figure(samples: Mapping[str, Mapping[str, np.ndarray]], flow_method: str = "dis",
                           methods: Sequence[str] = ("bicubic", "tosr", "hr"), n_videos: int = 4):
    """Optical flow (``arsr.flow.compute_flow`` with the study's method) between frames t and t+1
    of each method's output, colour-coded on one scale per clip; titles give the mean end-point
    error against the flow of the HR frames. Returns (figure, table: video_id, method, epe)."""
    import matplotlib.pyplot as plt

    from ..flow import compute_flow, flow_magnitude, flow_to_rgb

    methods = [m for m in methods if m in samples]
    if "hr" not in samples:
        raise ValueError("flow_comparison_figure needs the HR samples (method 'hr')")
    hr = samples["hr"]
    n = min(n_videos, len(hr["video_ids"]))
    fig, axes = plt.subplots(n, len(methods), figsize=(2.6 * len(methods), 2.1 * n), squeeze=False)
    rows = []
    for i in range(n):
        flows = {m: compute_flow(samples[m]["sr"][i, 0], samples[m]["sr"][i, 1], flow_method) for m in methods}
        ref = compute_flow(hr["sr"][i, 0], hr["sr"][i, 1], flow_method) if "hr" not in flows else flows["hr"]
        scale = max(float(flow_magnitude(ref).max()), 1e-3)
        for j, m in enumerate(methods):
            epe = float(flow_magnitude(flows[m] - ref).mean())
            rows.append({"video_id": str(hr["video_ids"][i]), "method": m, "epe": epe})
            ax = axes[i][j]
            ax.imshow(flow_to_rgb(flows[m], max_mag=scale))
            _no_ticks(ax)
            label = LABELS.get(m, m)
            ax.set_title(f"{label}: reference" if m == "hr" else f"{label}: EPE {epe:.2f} px", fontsize=8)
            if j == 0:
                ax.set_ylabel(f"{str(hr['video_ids'][i]).split('/')[-1][:18]}\nframe {int(hr['frames'][i])}",
                              fontsize=6)
    fig.suptitle(f"optical flow ({flow_method}) of each method's frames t -> t+1", fontsize=9)
    fig.tight_layout()
    return fig, pd.DataFrame(rows, columns=["video_id", "method", "epe"])


# ---------------------------------------------------------------------------------------------
# Training curves


def sr_training_figure(curves: pd.DataFrame):
    """Training loss of each SR method against its step (all phases in order), one line per
    (phase, seed), one panel per method."""
    import matplotlib.pyplot as plt

    methods = [m for m in ORDER if m in set(curves["method"])]
    ncol = min(3, max(1, len(methods)))
    nrow = math.ceil(len(methods) / ncol)
    fig, axes = plt.subplots(nrow, ncol, figsize=(4.2 * ncol, 2.6 * nrow), squeeze=False)
    for ax, method in zip(axes.flat, methods):
        part = curves[curves["method"] == method]
        for (phase, seed), line in part.groupby(["phase", "seed"], sort=False):
            ax.plot(line["step"], line["loss"], lw=1, label=f"{phase}, seed {seed}")
        loss = part["loss"].dropna()
        if len(loss) and (loss > 0).all() and loss.max() > 20 * loss.min():  # log only for wide ranges
            ax.set_yscale("log")
        ax.set_title(LABELS[method], fontsize=9)
        ax.set_xlabel("step", fontsize=8)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=6)
    for ax in list(axes.flat)[len(methods):]:
        ax.axis("off")
    for row in axes:
        row[0].set_ylabel("training loss", fontsize=8)
    fig.tight_layout()
    return fig


def recognizer_training_figure(curves: pd.DataFrame):
    """Training loss of each recognizer (the LR baselines' too) against the iteration, one panel per
    model, one line per seed (log scale; dotted: where the learning rate steps, when logged)."""
    import matplotlib.pyplot as plt

    models = list(dict.fromkeys(curves["model"]))
    ncol = min(3, max(1, len(models)))
    nrow = math.ceil(len(models) / ncol)
    fig, axes = plt.subplots(nrow, ncol, figsize=(4.2 * ncol, 2.5 * nrow), squeeze=False)
    for ax, model in zip(axes.flat, models):
        part = curves[curves["model"] == model]
        for seed, line in part.groupby("seed", sort=True):
            line = line.sort_values("iteration")
            ax.plot(line["iteration"], line["loss"], lw=1, label=f"seed {seed}")
            if "lr" in line.columns and line["lr"].notna().all():
                steps = line["iteration"].to_numpy()[1:][np.diff(line["lr"].to_numpy()) != 0]
                for x in steps:
                    ax.axvline(x, color="grey", ls=":", lw=0.8)
        if (part["loss"] > 0).all():
            ax.set_yscale("log")
        ax.set_title(model, fontsize=9)
        ax.set_xlabel("iteration", fontsize=8)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=6)
    for ax in list(axes.flat)[len(models):]:
        ax.axis("off")
    for row in axes:
        row[0].set_ylabel("training loss", fontsize=8)
    fig.tight_layout()
    return fig


def training_trends(sr_curves: pd.DataFrame | None, recognizer_curves: pd.DataFrame | None) -> pd.DataFrame:
    """Has each training loss flattened? Per SR method and phase: the change of the loss from the
    third to the last quarter of its logged steps (``arsr.stats.late_change``); per recognizer
    (the LR baselines' too) whose curves log the learning rate: the change within the last
    constant-rate stretch of its step schedule, second half over first (``arsr.stats.final_segment_change``:
    the step itself lowers the loss, the question is whether it had settled at the final rate),
    else the quarters. In %, mean and range over seeds, ``trend`` of the mean ("flat" within 5%),
    and ``measured`` saying which."""
    from ..stats import final_segment_change, late_change, trend

    rows = []
    for curves, keys, kind in ((sr_curves, ["method", "phase"], "SR"), (recognizer_curves, ["model"], "recognizer")):
        if curves is None or not len(curves):
            continue
        for key, part in curves.groupby(keys, sort=False):
            key = key if isinstance(key, tuple) else (key,)
            by_rate = kind == "recognizer" and "lr" in part.columns and part["lr"].notna().all()
            changes = []
            for _, line in part.groupby("seed"):
                line = line.sort_values("iteration")
                changes.append(final_segment_change(line["loss"], line["lr"]) if by_rate
                               else late_change(line["loss"].tolist()))
            finite = [c for c in changes if math.isfinite(c)]
            mean = float(np.mean(finite)) if finite else math.nan
            name = LABELS.get(key[0], key[0]) if kind == "SR" else key[0]
            rows.append({"kind": kind, "model": name, "phase": key[1] if len(key) > 1 else "",
                         "change_pct": 100 * mean,
                         "seed_range_pct": (f"{100 * min(finite):+.1f} .. {100 * max(finite):+.1f}"
                                            if len(finite) > 1 else ""),
                         "trend": trend(mean),
                         "measured": "last-rate stretch" if by_rate else "last vs third quarter"})
    return pd.DataFrame(rows, columns=["kind", "model", "phase", "change_pct", "seed_range_pct", "trend", "measured"])


def trends_prose(trends: pd.DataFrame) -> str:
    """One sentence: which losses had flattened and which still moved."""
    if not len(trends):
        return "No training curves were logged."
    name = lambda r: f"{r.model} ({r.phase})" if r.phase else r.model  # noqa: E731
    flat = [name(r) for r in trends.itertuples() if r.trend == "flat"]
    moving = [f"{name(r)} {r.change_pct:+.0f}%" for r in trends.itertuples() if r.trend in ("falling", "rising")]
    text = f"{len(flat)} of {len(trends)} training losses had flattened (last quarter within 5% of the third)."
    if moving:
        text += (" Still moving at the end, so longer training could change their results: "
                 + ", ".join(moving) + ".")
    return text


# ---------------------------------------------------------------------------------------------
# Provenance and headline numbers


def _seconds(stage: str, metrics: Mapping) -> float:
    seconds = metrics.get("seconds")
    if isinstance(seconds, Mapping):
        seconds = seconds.get("total_s", sum(v for v in seconds.values() if isinstance(v, (int, float))))
    if isinstance(seconds, bool) or not isinstance(seconds, (int, float)):
        raise ValueError(f"the metrics of stage {stage} have no `seconds` (a number, or a mapping with "
                         f"total_s): re-run `dvc repro {stage}`")
    return float(seconds)


def stage_seconds(metrics: Mapping[str, Mapping]) -> pd.DataFrame:
    """One row per stage: stage, seconds, device, git_commit, params_hash, time_utc."""
    rows = []
    for stage, m in metrics.items():
        prov = m.get("provenance") or {}
        rows.append({"stage": stage, "seconds": round(_seconds(stage, m), 1), "device": prov.get("device", "?"),
                     "git_commit": prov.get("git_commit", "?"), "params_hash": prov.get("params_hash", "?"),
                     "time_utc": prov.get("time_utc", "?")})
    return pd.DataFrame(rows, columns=["stage", "seconds", "device", "git_commit", "params_hash", "time_utc"])


def provenance_summary(metrics: Mapping[str, Mapping], *, dataset: str, report: Mapping | None = None,
                       report_seconds: float | None = None) -> dict:
    """The study's provenance: the report's own git commit / params hash / device, the dataset and
    its fingerprint (the prepared store's, as the report read it), the distinct commits, devices
    and dataset fingerprints of the stages ("?" for a stage that recorded none: one run before
    fingerprints existed; more than one value: results of different data side by side), seconds
    per stage and in total."""
    table = stage_seconds(metrics)
    seconds = dict(zip(table["stage"], table["seconds"]))
    if report_seconds is not None:
        seconds["report"] = round(float(report_seconds), 1)
    report = dict(report or {})
    stage_fingerprints = {(m.get("provenance") or {}).get("dataset_fingerprint") or "?" for m in metrics.values()}
    return {
        "git_commit": report.get("git_commit", "?"),
        "params_hash": report.get("params_hash", "?"),
        "device": report.get("device", "?"),
        "dataset": dataset,
        "dataset_fingerprint": report.get("dataset_fingerprint") or "?",
        "stage_dataset_fingerprints": sorted(stage_fingerprints),
        "stage_commits": sorted(set(table["git_commit"])),
        "stage_devices": sorted(set(table["device"])),
        "seconds_per_stage": seconds,
        "total_seconds": round(float(sum(seconds.values())), 1),
        "time_utc": report.get("time_utc", "?"),
    }


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

    from ..archs import ARCHS

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
    from ..train.presets import PRESETS, method_phases

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
                from .sr import _loss_summary, method_overrides

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


def _finite(x) -> float | None:
    if x is None:
        return None
    x = float(x)
    return round(x, 4) if math.isfinite(x) else None


def method_summary(eval_df: pd.DataFrame, hr_is_ceiling: bool = True) -> dict[str, dict]:
    """Per method (paper order, every row incl. bicubic, HR and SoSR+ToSR): psnr, ssim (means over
    SR seeds), TSN top-1 mean and std over the (SR seed, recognizer seed) cells per stream, and
    ``gap_closed`` = (top-1 - bicubic) / (HR - bicubic) on TSN fusion (1 = as good as HR, 0 = no
    better than bicubic). None where a value does not exist (HR's PSNR, SoSR+ToSR's single streams,
    a std of one cell, a gap without bicubic and HR or with HR = bicubic), and every gap when HR is
    not the ceiling (``hr_is_ceiling`` False: an SR row beats it, the claim ``hr_is_the_ceiling``)."""
    tsn = eval_df[eval_df["recognizer"] == "tsn"]
    top1 = seed_summary(tsn, ["method", "stream"], "top1").set_index(["method", "stream"])
    psnr = seed_summary(eval_df, ["method"], "psnr").set_index("method")["mean"]
    ssim = seed_summary(eval_df, ["method"], "ssim").set_index("method")["mean"]

    def cell(method, stream, col):
        return _finite(top1.loc[(method, stream), col]) if (method, stream) in top1.index else None

    hr, bicubic = cell("hr", "fusion", "mean"), cell("bicubic", "fusion", "mean")
    out = {}
    for method in [m for m in ROW_ORDER if m in set(eval_df["method"])]:
        fusion = cell(method, "fusion", "mean")
        gap = None
        if hr_is_ceiling and fusion is not None and hr is not None and bicubic is not None and hr != bicubic:
            gap = _finite((fusion - bicubic) / (hr - bicubic))
        out[method] = {"psnr": _finite(psnr.get(method)), "ssim": _finite(ssim.get(method)),
                       "tsn_top1": {s: cell(method, s, "mean") for s in paper.STREAMS},
                       "tsn_top1_std": {s: cell(method, s, "std") for s in paper.STREAMS},
                       "gap_closed": gap}
    return out


# ---------------------------------------------------------------------------------------------
# Beyond the paper: is SR cheaper than retraining the recognizer on LR video?


def _per_seed_seconds(m: Mapping) -> float:
    """An SR stage's training seconds per seed: the mean of ``train_seconds_per_seed`` (its
    phases' logged seconds), else the stage's ``seconds`` over its seeds."""
    per_seed = m.get("train_seconds_per_seed")
    if isinstance(per_seed, Mapping) and per_seed:
        return float(np.mean([float(v) for v in per_seed.values()]))
    seconds = m.get("seconds")
    if isinstance(seconds, bool) or not isinstance(seconds, (int, float)):
        return math.nan
    return float(seconds) / max(len(m.get("seeds") or [1]), 1)


def training_costs(metrics: Mapping[str, Mapping], sr_methods: Sequence[str], sr: Mapping | None = None,
                   lr_baselines: Sequence[str] = LR_BASELINES) -> pd.DataFrame:
    """What each row costs to train, in wall seconds on its stage's device: ``row``, ``trained``,
    ``seconds``, ``device``. Bicubic: nothing. An SR method: its training per seed (mean over
    seeds), plus its base model's for a method of ``sr.finetune`` (ESRGAN and SoSR each count the
    shared RRDBNet-PSNR, ToSR counts VSR-DUF-16). An LR baseline (``metrics`` of
    ``train_recognizers_lr``): deriving the LR store plus training both TSN streams; the
    fine-tuned one leaves out the HR TSN it starts from, which the study trains anyway. HR is not
    a row. Training only: at test time an SR method also super-resolves every
    frame, the LR-trained TSN reads the bicubic frames. SoSR+ToSR: SoSR's and ToSR's costs added.
    RDSR (beyond the paper): its training with RRDBNet-PSNR's; its frozen teachers (TSN streams of
    ``recognition.feature_seed``, trained by ``train_recognizers`` so that it is not scored by what
    it learnt from) are not counted, as SoSR's feature network is not; their seconds are named."""
    finetune = (sr or {}).get("finetune") or {}
    rows = [{"row": "bicubic", "trained": "nothing", "seconds": 0.0, "device": ""}]
    for method in [m for m in ORDER if m in sr_methods]:
        stage = sr_stage(method, sr)
        if stage not in metrics:
            raise MissingInputError(f"no metrics of stage {stage}: run `dvc repro {stage}`")
        m = metrics[stage]
        seconds, trained = _per_seed_seconds(m), "SR network"
        base = finetune.get(method)
        if base is not None:
            base_stage = sr_stage(base, sr)
            if base_stage not in metrics:
                raise MissingInputError(f"no metrics of stage {base_stage}: run `dvc repro {base_stage}`")
            seconds += _per_seed_seconds(metrics[base_stage])
            trained = f"SR network, from {_label(base)} (its training included)"
        if method in BEYOND_PAPER:
            rec = metrics.get(layout.RECOGNIZERS_STAGE) or {}
            teachers = [f"{name.removeprefix('feature_')} {float(rec[name]['seconds']):,.0f} s"
                        for name in ("feature_tsn_rgb", "feature_tsn_flow")
                        if isinstance(rec.get(name), Mapping) and "seconds" in rec[name]]
            trained += ("; its frozen TSN teachers not counted"
                        + (f" ({', '.join(teachers)}; the rgb one is SoSR's feature network too)" if teachers else ""))
        rows.append({"row": method, "trained": trained, "seconds": seconds,
                     "device": (m.get("provenance") or {}).get("device", "?")})
    parts = {r["row"]: r for r in rows}
    if "sosr" in parts and "tosr" in parts:
        rows.append({"row": COMBINED, "trained": "SoSR and ToSR (their trainings added)",
                     "seconds": parts["sosr"]["seconds"] + parts["tosr"]["seconds"],
                     "device": parts["sosr"]["device"]})
    if lr_baselines:
        stage = layout.LR_RECOGNIZERS_STAGE
        if stage not in metrics:
            raise MissingInputError(f"no metrics of stage {stage}: run `dvc repro {stage}`")
        m = metrics[stage]
        for baseline in lr_baselines:
            entry = m.get(baseline)
            if not isinstance(entry, Mapping) or "cost_seconds" not in entry:
                raise ValueError(f"reports/{layout.LR_RECOGNIZERS_METRICS} has no cost_seconds for {baseline}: "
                                 f"re-run `dvc repro {stage}`")
            epochs = " + ".join(str(entry[n]["epochs"]) for n in layout.LR_RECOGNIZER_NAMES if n in entry)
            how = ("HR TSN fine-tuned" if baseline == "tsn_finetuned_lr" else "TSN rgb + flow from scratch")
            rows.append({"row": baseline, "trained": f"{how} ({epochs} epochs) on the derived LR store",
                         "seconds": float(entry["cost_seconds"]),
                         "device": (m.get("provenance") or {}).get("device", "?")})
    return pd.DataFrame(rows, columns=["row", "trained", "seconds", "device"])


def cost_table(costs: pd.DataFrame, eval_df: pd.DataFrame, *, digits: int = 2) -> pd.DataFrame:
    """Training cost beside TSN fusion top-1 (mean ± std over SR seeds), one row per row of
    ``costs`` (:func:`training_costs`), in the accuracy table's order. ``eval_df``: the paper's
    rows and the LR baselines' together."""
    tsn = eval_df[(eval_df["recognizer"] == "tsn") & (eval_df["stream"] == "fusion")]
    top1 = seed_summary(tsn, ["method"], "top1").set_index("method")
    order = {m: i for i, m in enumerate(ROW_ORDER)}
    rows = []
    for r in sorted(costs.itertuples(), key=lambda r: order.get(r.row, len(order))):
        acc = top1.loc[r.row] if r.row in top1.index else None
        rows.append({"trained": r.trained,
                     "training seconds": "0" if r.seconds == 0 else f"{r.seconds:,.0f}",
                     "device": r.device or DASH,
                     "TSN fusion top-1 (%)": DASH if acc is None else format_mean_std(acc["mean"], acc["std"],
                                                                                      int(acc["n"]), digits)})
    table = pd.DataFrame(rows, index=pd.Index([ROW_LABELS.get(r, r) for r in
                                               sorted(costs["row"], key=lambda m: order.get(m, len(order)))],
                                              name="row"))
    return _notes(table, ["Training seconds: wall seconds of one training on the device shown (SR: mean over "
                          "seeds); measured once, no interval. Test-time cost is not counted: SR super-resolves "
                          "every test frame, the LR-trained TSN reads the bicubic frames."])


def _accuracy_phrase(claim, first: str, second: str) -> str:
    """What a claim "``first`` beats ``second``" says, with its difference and interval."""
    d = _claim_decimals(claim)
    diff = f"{_signed(claim.difference, d)} points, 95% CI {_signed(claim.ci_low, d)} to {_signed(claim.ci_high, d)}"
    if claim.verdict == "holds":
        return f"{first} is more accurate than {second} ({diff})"
    if claim.verdict == "reversed":
        return f"{second} is more accurate than {first} ({diff})"
    return f"the interval cannot tell {first} and {second} apart ({diff})"


def cost_prose(costs: pd.DataFrame, claims: pd.DataFrame) -> str:
    """What the cost table and the ``best_sr_beats_<baseline>`` and ``rdsr_beats_sosr_tosr`` claims
    say, together: accuracy as the claim's interval decides, cost as measured (one run, no interval)."""
    seconds = dict(zip(costs["row"], costs["seconds"]))
    parts = []
    for r in claims[claims["name"] == "rdsr_beats_sosr_tosr"].itertuples():
        accuracy = _accuracy_phrase(r, "RDSR", "SoSR+ToSR")
        goal = "meets" if r.verdict == "holds" and r.difference >= 2 else "misses"
        mine, theirs = seconds.get("rdsr", math.nan), seconds.get(COMBINED, math.nan)
        ratio = f" (RDSR: {mine / theirs:.0%} of SoSR+ToSR's)" if math.isfinite(mine) and math.isfinite(theirs) and theirs > 0 else ""
        parts.append(f"RDSR (beyond the paper): {accuracy}, so it {goal} the goal of +2 points with an interval "
                     f"excluding 0; RDSR cost {mine:,.0f} s to train with its RRDBNet-PSNR base, SoSR+ToSR "
                     f"{theirs:,.0f} s with both bases{ratio}.")
    for r in claims[claims["name"].str.startswith("best_sr_beats_")].itertuples():
        baseline = r.name.removeprefix("best_sr_beats_")
        best = next((m for m in ROW_ORDER if r.comparison.startswith(f"{_label(m)} (HR-trained TSN)")), None)
        accuracy = _accuracy_phrase(r, "the best SR row", _label(baseline))
        cost = f"{_label(baseline)} cost {seconds.get(baseline, math.nan):,.0f} s to train"
        if best is not None and best in seconds:
            cost += f", {_label(best)} {seconds[best]:,.0f} s"
        parts.append(f"Against {_label(baseline)}: {accuracy}; {cost}.")
    if not parts:
        return "No LR-trained baseline and no RDSR row was compared (their results are missing)."
    return " ".join(parts)


def headline(eval_df: pd.DataFrame, correlations: pd.DataFrame, provenance: Mapping | None = None,
             claims: pd.DataFrame | None = None, lr_eval: pd.DataFrame | None = None,
             costs: pd.DataFrame | None = None) -> dict:
    """The numbers ``reports/metrics/study.json`` keeps (``dvc metrics show``): TSN top-1 (means
    over the cells) of HR, bicubic, SoSR, ToSR, SoSR+ToSR and the rows beyond the paper (RDSR) per
    stream, Spearman's rho of PSNR vs top-1 per recognizer and stream, the number of test videos,
    SR seeds (``seeds``) and recognizer seeds (``recognizer_seeds``), every method's summary
    (:func:`method_summary`; no ``gap_closed`` where the claim ``hr_is_the_ceiling`` is reversed),
    the claims (:func:`claims_table`: name, difference, ci_low, ci_high, verdict, p_value,
    family_verdict; difference and interval in percentage points, or Spearman's rho for
    ``psnr_not_predictive_*``), total seconds; with ``provenance``
    (:func:`provenance_summary`) the dataset fingerprint at the top level and the provenance. With ``lr_eval`` the LR
    baselines get ``methods`` entries too; with ``costs`` (:func:`training_costs`) each row of it
    its ``training_seconds``."""
    keys = [m for m in ("hr", "bicubic", "sosr", "tosr", COMBINED, *BEYOND_PAPER) if m in set(eval_df["method"])]
    tsn = eval_df[(eval_df["recognizer"] == "tsn") & eval_df["method"].isin(keys)]
    summary = seed_summary(tsn, ["method", "stream"], "top1")
    top1 = {stream: {r.method: _finite(r.mean) for r in summary[summary["stream"] == stream].itertuples()}
            for stream in paper.STREAMS}
    rho: dict[str, dict] = {}
    for r in correlations.itertuples():
        rho.setdefault(r.recognizer, {})[r.stream] = _finite(r.spearman)
    ceiling = claims is not None and (claims["name"] == HR_CEILING_CLAIM).any() \
        and claims.loc[claims["name"] == HR_CEILING_CLAIM, "verdict"].item() == "reversed"
    out = {"tsn_top1": top1, "spearman_psnr_top1": rho,
           "seeds": int(eval_df["seed"].nunique()),
           "recognizer_seeds": int(eval_df["recognizer_seed"].nunique()),
           "test_videos": int(eval_df["n_videos"].max()),
           "methods": method_summary(eval_df if lr_eval is None or lr_eval.empty
                                     else pd.concat([eval_df, lr_eval], ignore_index=True), hr_is_ceiling=not ceiling)}
    if costs is not None:
        for r in costs.itertuples():
            if r.row in out["methods"]:
                out["methods"][r.row]["training_seconds"] = _finite(r.seconds)
    if claims is not None:
        out["claims"] = [{"name": r.name, "difference": _finite(r.difference), "ci_low": _finite(r.ci_low),
                          "ci_high": _finite(r.ci_high), "verdict": r.verdict, "p_value": _finite(r.p_value),
                          "family_verdict": r.family_verdict} for r in claims.itertuples()]
    if provenance is not None:
        out["total_seconds"] = provenance.get("total_seconds")
        # which data the numbers are of, at the top: two studies of different data never read alike
        out["dataset_fingerprint"] = provenance.get("dataset_fingerprint")
        out["provenance"] = {k: provenance.get(k) for k in ("git_commit", "params_hash", "device", "dataset",
                                                             "dataset_fingerprint", "stage_dataset_fingerprints",
                                                             "time_utc")}
    return out


def write_study_metrics(path: str | os.PathLike, metrics: Mapping) -> Path:
    """Write the headline metrics JSON atomically, and beside it the folder ``headline/`` that
    ``dvc metrics show`` reads (one small file per method, :mod:`arsr.study.headline`)."""
    path = resolve(path)
    write_json(path, dict(metrics))
    write_headline(path.parent / Path(layout.HEADLINE_METRICS).name, metrics)  # beside it
    return path
