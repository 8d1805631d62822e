"""Per-video correctness as the arrays the bootstrap resamples, ``(n_sr_seeds, n_recognizer_seeds,
n_videos)`` on the videos and recognizer seeds every method shares, and the digits their spread
allows an accuracy table."""
from __future__ import annotations

import math
from typing import Mapping, Sequence

import numpy as np
import pandas as pd

from ... import stats


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
