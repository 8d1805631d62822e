"""Training curves: the SR methods' and the recognizers' training loss, and whether each loss had
flattened by the end of training."""
from __future__ import annotations

import math
from typing import Mapping, Sequence

import numpy as np
import pandas as pd

from ...methods import LABELS, ORDER


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
        _label_panel(ax, LABELS[method], "step")
    return _finish_grid(fig, axes, len(methods))


def _label_panel(ax, title: str, xlabel: str) -> None:
    """One training-curve panel's title, x label, grid and legend."""
    ax.set_title(title, fontsize=9)
    ax.set_xlabel(xlabel, fontsize=8)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=6)


def _finish_grid(fig, axes, used: int):
    """The panels past the ``used`` first switched off, the y label on each row's first, laid out."""
    for ax in list(axes.flat)[used:]:
        ax.axis("off")
    for row in axes:
        row[0].set_ylabel("training loss", fontsize=8)
    fig.tight_layout()
    return fig


def recognizer_training_figure(curves: pd.DataFrame):
    """Training loss of each recognizer (the LR baselines' too) against the iteration, one panel per
    model, one line per seed (log scale; dotted: where the learning rate steps, when logged); with
    held-out scores logged, the validation top-1 (%) of each seed as markers on a right-hand axis."""
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
        _label_panel(ax, model, "iteration")
        if "val_accuracy" in part.columns:
            held = part.assign(val=pd.to_numeric(part["val_accuracy"], errors="coerce")).dropna(subset=["val"])
            if len(held):
                right = ax.twinx()
                for seed, line in held.groupby("seed", sort=True):
                    line = line.sort_values("iteration")
                    right.plot(line["iteration"], 100 * line["val"], ls="none", marker=".", ms=3, alpha=0.7)
                right.set_ylim(0, 100)
                right.set_ylabel("validation top-1 %", fontsize=7)
                right.tick_params(labelsize=7)
    return _finish_grid(fig, axes, len(models))


def training_trends(sr_curves: pd.DataFrame | None, recognizer_curves: pd.DataFrame | None) -> pd.DataFrame:
    """Has each training loss flattened? Per SR method and phase: the change of the loss from the
    third to the last quarter of its logged steps (``arsr.trends.late_change``); per recognizer
    (the LR baselines' too) whose curves log the learning rate: the change within the last
    constant-rate stretch of its step schedule, second half over first (``arsr.trends.final_segment_change``:
    the step itself lowers the loss, the question is whether it had settled at the final rate),
    else the quarters. In %, mean and range over seeds, ``trend`` of the mean ("flat" within 5%),
    and ``measured`` saying which. A recognizer whose log holds held-out scores (``val_accuracy``,
    ``recognition.<name>.val_every``) also gets ``val_change_pts``, the change of its validation top-1
    at the end of the last-rate stretch, last quarter over third, in points
    (``arsr.trends.held_out_change``, mean over seeds), and
    ``plateau`` ("plateau" within ``arsr.trends.HELD_OUT_FLAT_POINTS``): whether longer training
    would change the instrument, which its falling training loss (memorising) does not say."""
    from ...trends import final_segment_change, held_out_change, held_out_trend, late_change, trend

    rows = []
    for curves, keys, kind in ((sr_curves, ["method", "phase"], "SR"), (recognizer_curves, ["model"], "recognizer")):
        if curves is None or not len(curves):
            continue
        for key, part in curves.groupby(keys, sort=False):
            key = key if isinstance(key, tuple) else (key,)
            by_rate = kind == "recognizer" and "lr" in part.columns and part["lr"].notna().all()
            held = by_rate and "val_accuracy" in part.columns
            changes, held_changes = [], []
            for _, line in part.groupby("seed"):
                line = line.sort_values("iteration")
                changes.append(final_segment_change(line["loss"], line["lr"]) if by_rate
                               else late_change(line["loss"].tolist()))
                if held:
                    held_changes.append(held_out_change(pd.to_numeric(line["val_accuracy"], errors="coerce"),
                                                        line["lr"]))
            finite = [c for c in changes if math.isfinite(c)]
            mean = float(np.mean(finite)) if finite else math.nan
            held_finite = [c for c in held_changes if math.isfinite(c)]
            held_out = float(np.mean(held_finite)) if held_finite else math.nan
            name = LABELS.get(key[0], key[0]) if kind == "SR" else key[0]
            rows.append({"kind": kind, "model": name, "phase": key[1] if len(key) > 1 else "",
                         "change_pct": 100 * mean,
                         "seed_range_pct": (f"{100 * min(finite):+.1f} .. {100 * max(finite):+.1f}"
                                            if len(finite) > 1 else ""),
                         "trend": trend(mean),
                         "measured": "last-rate stretch" if by_rate else "last vs third quarter",
                         "val_change_pts": held_out,
                         "plateau": held_out_trend(held_out) if kind == "recognizer" else ""})
    return pd.DataFrame(rows, columns=TREND_COLUMNS)


def gan_phases(sr: Mapping, methods: Sequence[str]) -> dict[tuple[str, str], str]:
    """(method, phase) -> GAN type of each phase with an adversarial term, from the ``sr`` params
    group's recipes (SR seed 0's; the type does not depend on the seed). Methods the recipes do
    not know are skipped."""
    from ...train.config import _terms
    from ...train.presets import RECIPES, method_phases
    from ..sr import method_overrides

    return {(method, phase.name): phase.config["gan"]["type"]
            for method in methods if method in RECIPES
            for phase in method_phases(method, method_overrides(sr, method, 0)) if _terms(phase.config)["gan"]}


def discriminator_check(sr_curves: pd.DataFrame | None, gan: Mapping[tuple[str, str], str]) -> pd.DataFrame:
    """Did each GAN phase's discriminator learn? Per (method, phase) of ``gan`` (:func:`gan_phases`):
    its loss over the last quarter of the logged points against its value at chance
    (``arsr.trends.D_LOSS_AT_CHANCE``), per seed (``arsr.trends.discriminator_ratio``); the
    mean ratio, its range over seeds and the verdict ("at chance": the adversarial term taught the
    generator nothing a discriminator had learned)."""
    from ...trends import D_LOSS_AT_CHANCE, discriminator_ratio, discriminator_verdict

    rows = []
    if sr_curves is not None and len(sr_curves) and "d_loss" in sr_curves.columns:
        for (method, phase), kind in gan.items():
            part = sr_curves[(sr_curves["method"] == method) & (sr_curves["phase"] == phase)]
            ratios = [discriminator_ratio(pd.to_numeric(line.sort_values("iteration")["d_loss"], errors="coerce"),
                                          D_LOSS_AT_CHANCE[kind]) for _, line in part.groupby("seed")]
            ratios = [r for r in ratios if math.isfinite(r)]
            if not ratios:
                continue
            mean = float(np.mean(ratios))
            rows.append({"model": LABELS.get(method, method), "phase": phase, "gan": kind,
                         "chance": D_LOSS_AT_CHANCE[kind], "ratio": mean,
                         "seed_range": f"{min(ratios):.2f} .. {max(ratios):.2f}" if len(ratios) > 1 else "",
                         "discriminator": discriminator_verdict(mean)})
    return pd.DataFrame(rows, columns=["model", "phase", "gan", "chance", "ratio", "seed_range", "discriminator"])


def discriminator_display(check: pd.DataFrame) -> pd.DataFrame:
    """:func:`discriminator_check` for the page."""
    return pd.DataFrame({
        "model": check["model"], "phase": check["phase"], "GAN": check["gan"],
        "D loss at chance": check["chance"].map(lambda v: f"{v:.3f}"),
        "D loss, last quarter / chance": check["ratio"].map(lambda v: f"{v:.2f}"),
        "range over seeds": check["seed_range"], "discriminator": check["discriminator"],
    }).set_index(["model", "phase"])


def discriminator_prose(check: pd.DataFrame) -> str:
    """One sentence: which discriminators stayed at chance, and what that means for the GAN rows."""
    from ...trends import D_CHANCE_FRACTION

    if not len(check):
        return "No phase trained with an adversarial term."
    idle = [f"{r.model} ({r.phase})" for r in check.itertuples() if r.discriminator == "at chance"]
    if not idle:
        return (f"Every discriminator learned: its loss fell below {D_CHANCE_FRACTION:.0%} of its value at chance "
                "by the last quarter of its phase.")
    return (f"{len(idle)} of {len(check)} discriminators stayed at chance (loss over the last quarter of the phase "
            f"at least {D_CHANCE_FRACTION:.0%} of its value when it cannot tell SR from HR): {', '.join(idle)}. "
            "Their adversarial term carried no learned signal, so these rows measure the other loss terms (pixel, "
            "colour, feature, WMSE), and a claim about adversarial training is not tested by them.")


TREND_COLUMNS = ["kind", "model", "phase", "change_pct", "seed_range_pct", "trend", "measured", "val_change_pts",
                 "plateau"]


def trends_display(trends: pd.DataFrame) -> pd.DataFrame:
    """:func:`training_trends` for the page: one row per curve, signed one-decimal changes, "n/a"
    where a run was too short to tell (no "+nan"), blank where a measure does not apply (the SR
    methods have no held-out score)."""
    def signed(v) -> str:
        return "n/a" if v is None or not math.isfinite(v) else f"{v:+.1f}"

    rec = trends["kind"] == "recognizer"
    shown = pd.DataFrame({
        "kind": trends["kind"], "model": trends["model"], "phase": trends["phase"],
        "training loss change (%)": trends["change_pct"].map(signed),
        "range over seeds (%)": trends["seed_range_pct"],
        "measured": trends["measured"], "training loss": trends["trend"],
        "validation top-1 change (points)": [signed(v) if r else "" for v, r in zip(trends["val_change_pts"], rec)],
        "held-out": trends["plateau"],
    })
    return shown.set_index(["kind", "model", "phase"])


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
    held = [r for r in trends.itertuples() if getattr(r, "plateau", "") not in ("", "n/a")]
    if held:
        from ...trends import HELD_OUT_FLAT_POINTS

        level = [r.model for r in held if r.plateau == "plateau"]
        rising = [f"{r.model} {r.val_change_pts:+.1f}" for r in held if r.plateau == "rising"]
        falling = [f"{r.model} {r.val_change_pts:+.1f}" for r in held if r.plateau == "falling"]
        text += (f" A recognizer's training loss keeps falling as it memorises its training videos; whether longer "
                 f"training would change it is read on the held-out validation split: {len(level)} of {len(held)} "
                 f"recognizers' validation top-1 moved by at most {HELD_OUT_FLAT_POINTS:g} points (about one "
                 "validation video) at the end of their last learning rate (last quarter against the third), "
                 "mean over seeds")
        parts = []
        if rising:
            parts.append("still rising, so longer training might raise them (points): " + ", ".join(rising))
        if falling:
            parts.append("falling, past their best on held-out videos, so longer training would not raise them "
                         "(points): " + ", ".join(falling))
        text += "." if not parts else "; " + "; ".join(parts) + "."
    return text
