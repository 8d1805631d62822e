"""TSN's fusion weight, chosen on the validation split (never the test split): the study's rule
for ``recognition.fusion: validation``.

TSN fuses its streams' class scores as ``spatial + w * temporal`` (the paper: w = 1.5, tuned on
UCF101 where both streams are about as accurate). The weight is a property of the two trained
streams, not of the SR method: a spatial stream more confident than accurate drowns a better
temporal one, and any degradation that makes it less confident then *raises* fusion accuracy --
on the synthetic set HR's fusion climbed from 86.8% to 88.9% as w went from 1.5 to 5, and SR rows
that blurred the spatial stream's evidence beat HR at w = 1.5. So each recognizer seed's w is
chosen once, on the HR videos of the validation split (``arsr.data.validation``): the w of
``WEIGHTS`` with the best fusion top-1 there, ties to the one nearest the paper's 1.5; every method
is then scored with it.

    weights = fit_fusion_weights("data/models/recognizers", [0, 1, 2], "data/interim", num_frames=10,
                                 crops="center", flow_method="dis")
    weights[0]["weights"]   # [1.0, w] of seed 0; also in data/models/recognizers/seed0/tsn_fusion.json

The LR baselines' TSN (``arsr.study.lr_baselines``) choose theirs the same way on the bicubic
frames of the validation videos, the frames they are scored on (``method``).
"""
from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Mapping, Sequence

import numpy as np

from ..data.store import VAL_SPLIT
from ..io import write_json
from ..paths import resolve

__all__ = ["PAPER_WEIGHTS", "WEIGHTS", "FUSION_FILE", "choose_weight", "fit_fusion_weights", "fusion_weights",
           "clear_fusion_weights", "stage_fusion", "weights_in"]

#: The paper's RGB:flow weights (TSN's).
PAPER_WEIGHTS = (1.0, 1.5)
#: The temporal weights tried (the spatial one is 1).
WEIGHTS = (0.25, 0.5, 1.0, 1.5, 2.0, 3.0, 5.0, 8.0)
#: Beside a seed's TSN streams: ``models_dir/seed<k>/tsn_fusion.json``.
FUSION_FILE = "tsn_fusion.json"


def choose_weight(spatial: np.ndarray, temporal: np.ndarray, labels: np.ndarray,
                  candidates: Sequence[float] = WEIGHTS) -> tuple[float, dict[float, float]]:
    """The temporal weight w of ``candidates`` whose fusion ``spatial + w * temporal`` has the best
    top-1 on these videos (ties: the one nearest the paper's 1.5 in ratio), and every candidate's
    top-1 (%). spatial, temporal: ``(n_videos, n_classes)`` class scores; labels: ``(n_videos,)``."""
    # top1(w) = mean_i [argmax_c (s_ic + w t_ic) == y_i]
    if len(labels) == 0:
        raise ValueError("choose_weight: no validation videos")
    accuracy = {float(w): 100.0 * float(np.mean((spatial + w * temporal).argmax(1) == labels)) for w in candidates}
    best = max(accuracy.values())
    tied = [w for w, a in accuracy.items() if a == best]
    return min(tied, key=lambda w: abs(math.log(w / PAPER_WEIGHTS[1]))), accuracy


def fusion_weights(models_dir: str | Path, seed: int) -> tuple[float, float] | None:
    """The weights chosen for recognizer seed ``seed`` (its ``tsn_fusion.json``), None where none
    were chosen (``recognition.fusion: paper``: the paper's)."""
    return weights_in(resolve(models_dir) / f"seed{seed}")


def weights_in(folder: str | Path) -> tuple[float, float] | None:
    """The weights chosen for the TSN streams in ``folder`` (beside its ``tsn_rgb``, ``tsn_flow``),
    None where none were chosen."""
    path = Path(folder) / FUSION_FILE
    if not path.is_file():
        return None
    try:
        weights = json.loads(path.read_text())["weights"]
    except (json.JSONDecodeError, KeyError) as err:
        raise ValueError(f"{path} is damaged ({err}): re-run `dvc repro train_recognizers`") from None
    return float(weights[0]), float(weights[1])


def fit_fusion_weights(models_dir: str | Path, seeds: Sequence[int], interim_dir: str | Path, *, num_frames: int,
                       crops: str, flow_method: str, flow_device: str = "cpu", method=None, progress: bool = True,
                       device=None) -> dict[int, dict]:
    """Choose each recognizer seed's TSN fusion weight on the validation split's videos as
    ``method`` makes them (default: HR), scored as the evaluation scores a test video (``num_frames``
    snippets, ``crops``, flow by ``flow_method``; one pass computes the flow for every seed), and
    write it to ``models_dir/seed<k>/tsn_fusion.json``. Returns seed -> {weights, val_top1 (per
    candidate), val_videos, candidates, split}. A store without validation videos is an error
    naming the fix."""
    from ..data.store import PreparedDataset
    from ..evaluate import evaluate as run_evaluation, load_recognizers
    from ..flow import flow_options
    from ..sr_methods import hr_method
    from .layout import recognizer_key

    store = PreparedDataset(interim_dir)
    rows = store.split(VAL_SPLIT)
    if rows.empty:
        raise ValueError(f"{store.root / 'index.csv'} has no validation videos (split {VAL_SPLIT!r}): set "
                         "data.validation_groups >= 1 and re-run `dvc repro prepare`, or recognition.fusion: paper")
    recs, names = {}, {}
    for seed in seeds:  # each stream's scores are what counts: the fusion is chosen below
        folder = resolve(models_dir) / f"seed{seed}"
        for stream in ("rgb", "flow"):
            if not (folder / f"tsn_{stream}" / "model.pt").is_file():
                raise FileNotFoundError(f"{folder / f'tsn_{stream}' / 'model.pt'} not found: train the TSN streams "
                                        "first (`dvc repro train_recognizers`)")
        key = recognizer_key("tsn", seed)
        recs[key] = load_recognizers(tsn_rgb=folder / "tsn_rgb", tsn_flow=folder / "tsn_flow", device=device)["tsn"]
        names[key] = ("tsn", int(seed))
    result = run_evaluation(method or hr_method(), recs, store, split=VAL_SPLIT, num_frames=num_frames, crops=crops,
                            flow_method=flow_method, flow_options=flow_options(flow_method, flow_device), psnr=False,
                            workers=1, progress=progress)
    out = {}
    for key, (_, seed) in names.items():
        w, accuracy = choose_weight(result.scores[(key, "spatial")], result.scores[(key, "temporal")], result.labels)
        entry = {"weights": [1.0, w], "val_top1": {str(k): v for k, v in accuracy.items()},
                 "val_videos": int(len(result.labels)), "candidates": list(WEIGHTS), "split": VAL_SPLIT}
        write_json(resolve(models_dir) / f"seed{seed}" / FUSION_FILE, entry)
        out[int(seed)] = entry
    return out


def clear_fusion_weights(models_dir: str | Path, seeds: Sequence[int]) -> int:
    """Remove the chosen weights of ``seeds`` (``recognition.fusion: paper``: every TSN fuses 1:1.5
    again); returns how many files were removed."""
    removed = 0
    for seed in seeds:
        path = resolve(models_dir) / f"seed{seed}" / FUSION_FILE
        if path.is_file():
            path.unlink()
            removed += 1
    return removed


def stage_fusion(recognition: Mapping, models_dir: str | Path, seeds: Sequence[int], interim_dir: str | Path, *,
                 num_frames: int, crops: str, flow_method: str, flow_device: str = "cpu", method=None,
                 progress: bool = True) -> dict[int, dict] | None:
    """``recognition.fusion`` for a stage that trained TSN streams: ``validation`` fits the weights
    (:func:`fit_fusion_weights`), ``paper`` removes any fitted before and returns None."""
    if recognition["fusion"] == "paper":
        clear_fusion_weights(models_dir, seeds)
        return None
    return fit_fusion_weights(models_dir, seeds, interim_dir, num_frames=num_frames, crops=crops,
                              flow_method=flow_method, flow_device=flow_device, method=method, progress=progress)
