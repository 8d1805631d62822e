"""Does PSNR predict recognition accuracy? One point per (method, recognizer, stream), Spearman's
rho per recognizer and stream, the scatter's CSV for ``dvc plots`` and its figure."""
from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Iterable

import numpy as np
import pandas as pd

from ...io import write_text
from ...methods import LABELS, ORDER
from ...paths import resolve
from .. import paper
from ..layout import PSNR_ACCURACY_COLUMNS
from .names import RECOGNIZER_LABELS, STREAM_LABELS
from .tables import _recognizers, seed_summary


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
