"""The headline numbers ``reports/metrics/study.json`` keeps (``dvc metrics show``): per-method
summaries, TSN top-1, Spearman's rho, the claims and the provenance."""
from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Mapping

import pandas as pd

from ...io import write_json
from ...methods import BEYOND_PAPER, COMBINED
from ...paths import resolve
from .. import layout, paper
from ..headline import write_headline
from .claims import HR_CEILING_CLAIM
from .names import ROW_ORDER
from .tables import bicubic_margins, seed_summary


def _finite(x) -> float | None:
    if x is None:
        return None
    x = float(x)
    return round(x, 4) if math.isfinite(x) else None


def method_summary(eval_df: pd.DataFrame, hr_is_ceiling: bool = True) -> dict[str, dict]:
    """Per method (paper order, every row incl. bicubic, HR and SoSR+ToSR): psnr, ssim (means over
    SR seeds), TSN top-1 mean and std over the (SR seed, recognizer seed) cells per stream, and
    ``gap_closed`` = (top-1 - bicubic) / (HR - bicubic) on TSN fusion (1 = as good as HR, 0 = no
    better than bicubic), ``psnr_margin_worst_seed`` = its lowest PSNR over the SR seeds minus
    bicubic's (dB: the PSNR target is per seed). None where a value does not exist (HR's PSNR,
    SoSR+ToSR's single streams, a std of one cell, a gap without bicubic and HR or with HR =
    bicubic), and every gap when HR is not the ceiling (``hr_is_ceiling`` False: an SR row beats
    it, the claim ``hr_is_the_ceiling``)."""
    tsn = eval_df[eval_df["recognizer"] == "tsn"]
    top1 = seed_summary(tsn, ["method", "stream"], "top1").set_index(["method", "stream"])
    psnr = seed_summary(eval_df, ["method"], "psnr").set_index("method")["mean"]
    ssim = seed_summary(eval_df, ["method"], "ssim").set_index("method")["mean"]
    worst = bicubic_margins(eval_df, methods=[m for m in ROW_ORDER if m != "bicubic"]).set_index("method")["worst_db"]

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
                       "psnr_margin_worst_seed": _finite(worst.get(method)),
                       "tsn_top1": {s: cell(method, s, "mean") for s in paper.STREAMS},
                       "tsn_top1_std": {s: cell(method, s, "std") for s in paper.STREAMS},
                       "gap_closed": gap}
    return out


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
                                                             "packages", "stage_packages", "time_utc")}
    return out


def write_study_metrics(path: str | os.PathLike, metrics: Mapping) -> Path:
    """Write the headline metrics JSON atomically, and beside it the folder ``headline/`` that
    ``dvc metrics show`` reads (one small file per method, :mod:`arsr.study.headline`)."""
    path = resolve(path)
    write_json(path, dict(metrics))
    write_headline(path.parent / Path(layout.HEADLINE_METRICS).name, metrics)  # beside it
    return path
