"""What the results are of: the report's opening line (dataset, test videos, SR and recognizer
seeds, methods) and the stages' provenance (commits, devices, dataset fingerprints, seconds)."""
from __future__ import annotations

from typing import Mapping, Sequence

import pandas as pd

from ...methods import LABELS
from ...provenance import NUMERIC_PACKAGES
from .. import layout, paper


def dataset_summary(dataset: str, test_videos: int, split_videos: int | None, seeds: Sequence[int],
                    methods: Sequence[str], reference: str | None, prepare: Mapping | None = None,
                    recognizer_seeds: Sequence[int] | None = None, classes: int | None = None,
                    train_videos: int | None = None, val_videos: int | None = None, split: int | None = None) -> str:
    """The report's opening line: dataset, its classes and the recognizers' training and validation
    videos (when given), how many test videos (of the split), SR seeds and recognizer seeds, the
    methods, whether the paper's numbers are shown and, when they are and the data differ from
    theirs, a caveat (:func:`arsr.study.paper.paper_caveat`); with ``prepare`` (its metrics JSON),
    how many listed videos ``on_bad_video: skip`` dropped."""
    seeds = list(seeds)
    rec = list(recognizer_seeds or [])
    if split_videos is None or split_videos < test_videos:
        of = ""
    elif split_videos == test_videos:
        of = " (the whole test split)"
    else:
        of = f" (of {split_videos} in the test split: evaluate.max_videos)"
    shown = (f"paper ({paper.DATASET_LABELS[reference]}, split {paper.PAPER_DATA[reference]['split']}, "
             f"x{paper.PAPER_DATA[reference]['scale']})" if reference else "not shown")
    sizes = ""
    if classes is not None:
        sizes = f" **{classes} classes**"
        if train_videos is not None:
            sizes += f", the recognizers trained on **{train_videos} HR training videos**"
            if val_videos:
                sizes += f" ({val_videos} more held out for validation)"
        sizes += ";"
    caveat = paper.paper_caveat(reference, dataset, classes, test_videos, split) if classes is not None else ""
    scored = (f" each scored by the recognizers of **{len(rec)} recognizer seed{'s' if len(rec) != 1 else ''}** "
              f"{rec}" if rec else "")
    return (
        f"Dataset **{dataset}**:{sizes} **{test_videos} test videos**{of}, **{len(seeds)} SR "
        f"seed{'s' if len(seeds) != 1 else ''}** {seeds}{scored} (a cell is the mean over the (SR seed, "
        f"recognizer seed) cells, *mean ± std* with several); methods: "
        f"{', '.join(LABELS.get(m, m) for m in methods)}; the paper's "
        f"numbers: **{shown}**." + (f" {caveat}" if caveat else "") + _skipped_sentence(prepare)
    )


def _skipped_sentence(prepare: Mapping | None) -> str:
    missing = int((prepare or {}).get("skipped_missing") or 0)
    unreadable = int((prepare or {}).get("skipped_unreadable") or 0)
    dropped = list((prepare or {}).get("dropped_classes") or [])
    out = ""
    if missing + unreadable:
        n = missing + unreadable
        out = (f" **{n} listed video{'s were' if n != 1 else ' was'} skipped** ({missing} missing on disk, "
               f"{unreadable} unreadable; `data.on_bad_video: skip`): the splits are smaller than their "
               f"lists, the names are in `reports/{layout.BAD_VIDEOS}` and `reports/metrics/prepare.json`.")
    if dropped:
        out += (f" **{len(dropped)} class{'es' if len(dropped) != 1 else ''} without a video left out** "
                f"(`data.on_empty_class: drop`): {', '.join(dropped)}.")
    return out


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


def _packages(prov: Mapping) -> str:
    """``python 3.11.7, torch 2.13.0, numpy 2.4.6, opencv 5.1.0`` of a provenance block ("?" where unrecorded):
    python, torch and the packages every stage records (:data:`arsr.provenance.NUMERIC_PACKAGES`)."""
    return ", ".join(f"{k} {prov.get(k, '?')}" for k in ("python", "torch", *NUMERIC_PACKAGES))


def provenance_summary(metrics: Mapping[str, Mapping], *, dataset: str, report: Mapping | None = None,
                       report_seconds: float | None = None) -> dict:
    """The study's provenance: the report's own git commit / params hash / device, the dataset and
    its fingerprint (the prepared store's, as the report read it), the distinct commits, devices
    and dataset fingerprints of the stages ("?" for a stage that recorded none: one run before
    fingerprints existed; more than one value: results of different data side by side), the
    package versions of the report (``packages``) and the distinct ones of the stages
    (``stage_packages``: more than one, stages computed in different environments), seconds per stage
    and in total."""
    table = stage_seconds(metrics)
    seconds = dict(zip(table["stage"], table["seconds"]))
    if report_seconds is not None:
        seconds["report"] = round(float(report_seconds), 1)
    report = dict(report or {})
    stage_fingerprints = {(m.get("provenance") or {}).get("dataset_fingerprint") or "?" for m in metrics.values()}
    stage_packages = {_packages(m.get("provenance") or {}) for m in metrics.values()}
    return {
        "git_commit": report.get("git_commit", "?"),
        "params_hash": report.get("params_hash", "?"),
        "device": report.get("device", "?"),
        "dataset": dataset,
        "dataset_fingerprint": report.get("dataset_fingerprint") or "?",
        "stage_dataset_fingerprints": sorted(stage_fingerprints),
        "stage_commits": sorted(set(table["git_commit"])),
        "stage_devices": sorted(set(table["device"])),
        "packages": _packages(report),
        "stage_packages": sorted(stage_packages),
        "seconds_per_stage": seconds,
        "total_seconds": round(float(sum(seconds.values())), 1),
        "time_utc": report.get("time_utc", "?"),
    }
