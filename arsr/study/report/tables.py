"""The report's tables, the counterparts of the paper's, numbered as the poster numbers them (the
report, README and poster agree): recognition accuracy (Table 2), the SoSR and ToSR ablations
(Tables 3 and 4) and PSNR/SSIM (Table 5), and a table as HTML.

A cell holds the mean over seeds, "mean ± std" (sample std) when there are several; "—" appears
only where no number can exist (the paper's "/": SoSR+ToSR has no single-stream accuracy) or where
the paper did not report one, and each table says which in its notes (``table.attrs["notes"]``).
The paper's numbers (:mod:`arsr.study.paper`) appear only in column groups labelled
"paper (UCF101, split 1, x4)" / "paper (HMDB51, split 1, x4)".
"""
from __future__ import annotations

import html
import math
from typing import Mapping, Sequence

import numpy as np
import pandas as pd

from ...methods import BEYOND_PAPER, COMBINED, FIDELITY_SR, LABELS, ORDER
from .. import layout, paper
from ..layout import LR_BASELINES, eval_stage
from ..variants import KINDS, STREAM as ABLATION_STREAM, VARIANTS
from .names import DASH, RECOGNIZER_LABELS, ROW_LABELS, ROW_ORDER, STREAM_LABELS, _method_key


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
    ref = paper.PAPER_DATA[dataset]
    return f"paper ({paper.DATASET_LABELS[dataset]}, split {ref['split']}, x{ref['scale']})"


def _recognizers(df: pd.DataFrame) -> list[str]:
    present = set(df["recognizer"])
    return [r for r in paper.RECOGNIZERS if r in present] + sorted(present - set(paper.RECOGNIZERS))


def _notes(table: pd.DataFrame, notes: list[str]) -> pd.DataFrame:
    table.attrs["notes"] = [n for n in dict.fromkeys(notes) if n]
    return table


def accuracy_table(eval_df: pd.DataFrame, reference: str | None = None, *, metric: str = "top1",
                   digits: int = 2) -> pd.DataFrame:
    """The poster's Table 2 for our results: rows = methods (paper order, its names), columns =
    (source, recognizer, stream) with source "ours" and, with ``reference`` ("ucf101" /
    "hmdb51"), "paper (UCF101, split 1, x4)" / "paper (HMDB51, split 1, x4)". Cells are strings
    ("mean ± std" over seeds).

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
    """The poster's SoSR (``kind="sosr"``, Table 3) or ToSR (``"tosr"``, Table 4) ablation for our
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
            notes.append("\"= X row\": the variant is the main method X of the accuracy table (same model and "
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


def bicubic_margins(eval_df: pd.DataFrame, margin: float = BICUBIC_MARGIN_DB,
                    methods: Sequence[str] = FIDELITY_SR) -> pd.DataFrame:
    """Each SR row of ``methods`` (default the pixel-fidelity ones) with a finite PSNR: its PSNR above
    bicubic's in its worst SR seed: columns method, worst_db (min over SR seeds of PSNR - bicubic
    PSNR), worst_seed, equivalent (worst_db < ``margin``: the model adds nothing measurable to
    bicubic here, and its accuracy rows read as bicubic's)."""
    psnr = eval_df[np.isfinite(eval_df["psnr"].astype(float))].groupby(["method", "seed"])["psnr"].first()
    rows = []
    if "bicubic" in psnr.index.get_level_values("method"):
        bicubic = float(psnr.loc["bicubic"].mean())
        for method in [m for m in methods if m in psnr.index.get_level_values("method")]:
            above = psnr.loc[method] - bicubic
            rows.append({"method": method, "worst_db": float(above.min()), "worst_seed": int(above.idxmin()),
                         "equivalent": bool(above.min() < margin)})
    return pd.DataFrame(rows, columns=["method", "worst_db", "worst_seed", "equivalent"])


#: The colour shift (grey levels of 255, mean |shift| per channel per video) a method may show.
COLOUR_LIMIT = 1.0


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
    rows, notes = [], ["HR is the reference of PSNR/SSIM (PSNR ∞) and SoSR+ToSR is two streams, "
                       "not one video: neither has a row."]
    if len(margins):
        notes.append(
            "above bicubic: the PSNR of a model trained for pixel fidelity "
            f"({', '.join(LABELS[m] for m in FIDELITY_SR)}) "
            f"minus bicubic's, in its worst SR seed; bicubic-equivalent: less than {BICUBIC_MARGIN_DB:g} dB, "
            "so on this benchmark it restores nothing measurable over bicubic and its accuracy rows read as "
            f"bicubic's; {DASH}: a row trained for other losses."
        )
    if colour_shift is not None:
        notes.append("colour shift: mean |shift| per channel per video: per test video, |mean SR − HR| "
                     "of each of R, G, B over its measured frames, averaged over the videos (a video "
                     "shifted up and one shifted down do not cancel); the largest channel, worst seed "
                     f"(grey levels of 255; the study asks ≤ {COLOUR_LIMIT:g}).")
        drifted = [f"{LABELS[m]} {colour_shift[m]:.2f}" for m in methods
                   if colour_shift.get(m, 0.0) > COLOUR_LIMIT]
        if drifted:
            notes.append(f"Over {COLOUR_LIMIT:g} grey level, so its colours drift (in one SR seed at least; its "
                         "accuracy rows carry the drift): " + ", ".join(drifted) + ".")
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
