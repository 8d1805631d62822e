"""The report's names for rows and columns: recognizer and stream labels, the dash of a cell that
cannot exist, the accuracy table's rows in order (the paper's, with the LR-trained TSN baselines)
and their labels, and the method keys of result files (``arsr.study.layout``)."""
from __future__ import annotations

from typing import Sequence

from ...methods import COMBINED, LABELS, ORDER, REFERENCE
from ...params_file import ParamError
from ..layout import LR_BASELINE_LABELS, LR_BASELINES


RECOGNIZER_LABELS = {"tsn": "TSN", "st_resnet": "ST-ResNet"}
STREAM_LABELS = {"spatial": "Spatial", "temporal": "Temporal", "fusion": "Fusion"}
DASH = "—"

#: The accuracy table's rows: the paper's, with the LR-trained TSN baselines (beyond the paper,
#: ``layout.LR_BASELINES``) after Bicubic, whose frames they read.
ROW_ORDER: tuple[str, ...] = tuple(r for m in ORDER for r in ((m, *LR_BASELINES) if m == "bicubic" else (m,)))
ROW_LABELS: dict[str, str] = {**LABELS, **LR_BASELINE_LABELS}


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


_KEY_OF_LABEL = {label.lower(): key for key, label in LABELS.items()}


def _method_key(name: str) -> str:
    name = str(name).strip()
    return name.lower() if name.lower() in LABELS else _KEY_OF_LABEL.get(name.lower(), name)


#: Trained models that are not rows of the accuracy table.
_EXTRA_LABELS = {"rrdb_psnr": "RRDBNet-PSNR (ESRGAN's, SoSR's and RDSR's first phase)"}


def _label(method: str) -> str:
    return ROW_LABELS.get(method, _EXTRA_LABELS.get(method, method))
