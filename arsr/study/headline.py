"""What ``dvc metrics show`` prints: ``reports/metrics/headline/<item>.json``, one small file per
row of the accuracy table (TSN fusion top-1 %, PSNR dB, training seconds), taken from the numbers
of ``reports/metrics/study.json`` by the report stage.

They are the study's only DVC metrics. The stages' own metrics JSON (every recognizer, stream,
seed and provenance) and ``study.json`` (claims, intervals, provenance) are plain outputs of their
stages: declared as metrics they made ``dvc metrics show`` a table of 36 rows by hundreds of
columns. One file per method gives one row per method (DVC lists the files of a metrics folder),
and ``dvc metrics diff`` a change per method and number.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Mapping

from ..io import atomic_dir, write_json
from .layout import eval_item

__all__ = ["HEADLINE_COLUMNS", "headline_rows", "write_headline"]

#: The columns of ``dvc metrics show``, with the digits kept: top-1 %, PSNR dB, seconds.
HEADLINE_COLUMNS = {"tsn_fusion_top1": 2, "psnr": 2, "train_seconds": 1}


def headline_rows(study: Mapping[str, Any]) -> dict[str, dict[str, float]]:
    """``{method: {column: value}}`` from ``study.json``'s ``methods`` (in its order): a value
    that does not exist (HR's PSNR, the seconds of a row that trains nothing) is left out, which
    ``dvc metrics show`` prints as ``-``."""
    rows = {}
    for method, entry in (study.get("methods") or {}).items():
        values = {"tsn_fusion_top1": (entry.get("tsn_top1") or {}).get("fusion"), "psnr": entry.get("psnr"),
                  "train_seconds": entry.get("training_seconds")}
        rows[method] = {k: round(float(v), HEADLINE_COLUMNS[k]) for k, v in values.items() if v is not None}
    return rows


def write_headline(folder: str | os.PathLike, study: Mapping[str, Any]) -> Path:
    """Write :func:`headline_rows` of ``study`` as ``folder/<item>.json`` (``sosr+tosr`` ->
    ``sosr_tosr.json``), replacing the folder whole (a method no longer studied leaves no file)."""
    folder = Path(folder)
    with atomic_dir(folder) as tmp:
        for method, row in headline_rows(study).items():
            write_json(tmp / f"{eval_item(method)}.json", row)
    return folder
