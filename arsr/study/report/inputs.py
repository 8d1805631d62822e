"""The report's inputs: every file the earlier stages wrote (see ``dvc.yaml``), read and checked.
Their names, columns and the stages that write them are :mod:`arsr.study.layout`'s::

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
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping, Sequence

import numpy as np
import pandas as pd

from ...paths import resolve
from .. import layout
from ..layout import (ABLATION_COLUMNS, ABLATION_PER_VIDEO_COLUMNS, LR_BASELINES, PER_VIDEO_COLUMNS,
                      RECOGNIZER_PLOT_COLUMNS, TABLE_COLUMNS, ablation_stage, eval_stage, sr_stage)
from ..variants import KINDS, STREAM as ABLATION_STREAM, VARIANTS, alias_of
from .names import _method_key, eval_methods


#: The recognizer each ablation is scored by, on its kind's stream (``ABLATION_STREAM``; the
#: poster's Tables 3 and 4: TSN on HMDB51).
ABLATION_RECOGNIZER = "tsn"


class MissingInputError(FileNotFoundError):
    """An input of the report is missing; the message names the file and the stage that makes it."""


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
        raise ValueError(
            f"{path}: column correct must be 0/1 (top-1 hit), found {sorted(set(df['correct'][bad]))[:5]}; "
            f"re-run `dvc repro {stage}`"
        )
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
