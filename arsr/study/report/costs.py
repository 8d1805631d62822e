"""Beyond the paper: is SR cheaper than retraining the recognizer on LR video? What each row
costs to train, beside its accuracy, and what the cost table and the claims say together."""
from __future__ import annotations

import math
from typing import Mapping, Sequence

import numpy as np
import pandas as pd

from ...methods import BEYOND_PAPER, COMBINED, ORDER
from .. import layout
from ..layout import LR_BASELINES, sr_stage
from ..retries import HELD_OUT_LAST, RETRY_SEED_STEP
from .inputs import MissingInputError
from .names import DASH, ROW_LABELS, ROW_ORDER, _label
from .tables import _notes, format_mean_std, seed_summary
from .verdicts import _claim_decimals, _signed


def _per_seed_seconds(m: Mapping) -> float:
    """An SR stage's training seconds per seed: the mean of ``train_seconds_per_seed`` (its
    phases' logged seconds), else the stage's ``seconds`` over its seeds."""
    per_seed = m.get("train_seconds_per_seed")
    if isinstance(per_seed, Mapping) and per_seed:
        return float(np.mean([float(v) for v in per_seed.values()]))
    seconds = m.get("seconds")
    if isinstance(seconds, bool) or not isinstance(seconds, (int, float)):
        return math.nan
    return float(seconds) / max(len(m.get("seeds") or [1]), 1)


def training_costs(metrics: Mapping[str, Mapping], sr_methods: Sequence[str], sr: Mapping | None = None,
                   lr_baselines: Sequence[str] = LR_BASELINES) -> pd.DataFrame:
    """What each row costs to train, in wall seconds on its stage's device: ``row``, ``trained``,
    ``seconds``, ``device``. Bicubic: nothing. An SR method: its training per seed (mean over
    seeds), plus its base model's for a method of ``sr.finetune`` (ESRGAN and SoSR each count the
    shared RRDBNet-PSNR, ToSR counts VSR-DUF-16). An LR baseline (``metrics`` of
    ``train_recognizers_lr``): deriving the LR store plus training both TSN streams; the
    fine-tuned one leaves out the HR TSN it starts from, which the study trains anyway. HR is not
    a row. Training only: at test time an SR method also super-resolves every
    frame, the LR-trained TSN reads the bicubic frames. SoSR+ToSR: SoSR's and ToSR's costs added.
    RDSR (beyond the paper): its training with RRDBNet-PSNR's; its frozen teachers (TSN streams of
    ``recognition.feature_seed``, trained by ``train_recognizers`` so that it is not scored by what
    it learnt from) are not counted, as SoSR's feature network is not; their seconds are named."""
    finetune = (sr or {}).get("finetune") or {}
    rows = [{"row": "bicubic", "trained": "nothing", "seconds": 0.0, "device": ""}]
    for method in [m for m in ORDER if m in sr_methods]:
        stage = sr_stage(method, sr)
        if stage not in metrics:
            raise MissingInputError(f"no metrics of stage {stage}: run `dvc repro {stage}`")
        m = metrics[stage]
        seconds, trained = _per_seed_seconds(m), "SR network"
        base = finetune.get(method)
        if base is not None:
            base_stage = sr_stage(base, sr)
            if base_stage not in metrics:
                raise MissingInputError(f"no metrics of stage {base_stage}: run `dvc repro {base_stage}`")
            seconds += _per_seed_seconds(metrics[base_stage])
            trained = f"SR network, from {_label(base)} (its training included)"
        if method in BEYOND_PAPER:
            rec = metrics.get(layout.RECOGNIZERS_STAGE) or {}
            teachers = [f"{name.removeprefix('feature_')} {float(rec[name]['seconds']):,.0f} s"
                        for name in ("feature_tsn_rgb", "feature_tsn_flow")
                        if isinstance(rec.get(name), Mapping) and "seconds" in rec[name]]
            trained += ("; its frozen TSN teachers not counted"
                        + (f" ({', '.join(teachers)}; the rgb one is SoSR's feature network too)" if teachers else ""))
        rows.append({"row": method, "trained": trained, "seconds": seconds,
                     "device": (m.get("provenance") or {}).get("device", "?")})
    parts = {r["row"]: r for r in rows}
    if "sosr" in parts and "tosr" in parts:
        rows.append({"row": COMBINED, "trained": "SoSR and ToSR (their trainings added)",
                     "seconds": parts["sosr"]["seconds"] + parts["tosr"]["seconds"],
                     "device": parts["sosr"]["device"]})
    if lr_baselines:
        stage = layout.LR_RECOGNIZERS_STAGE
        if stage not in metrics:
            raise MissingInputError(f"no metrics of stage {stage}: run `dvc repro {stage}`")
        m = metrics[stage]
        for baseline in lr_baselines:
            entry = m.get(baseline)
            if not isinstance(entry, Mapping) or "cost_seconds" not in entry:
                raise ValueError(f"reports/{layout.LR_RECOGNIZERS_METRICS} has no cost_seconds for {baseline}: "
                                 f"re-run `dvc repro {stage}`")
            epochs = " + ".join(str(entry[n]["epochs"]) for n in layout.LR_RECOGNIZER_NAMES if n in entry)
            how = ("HR TSN fine-tuned" if baseline == "tsn_finetuned_lr" else "TSN rgb + flow from scratch")
            retried = sum(not r["kept"] for r in entry.get("retries") or [])
            again = (f"; its {retried} failed attempt{'s' if retried > 1 else ''} (section 1b) included, "
                     f"spread over its {len(entry.get('seeds') or [1])} seeds" if retried else "")
            rows.append({"row": baseline, "trained": f"{how} ({epochs} epochs) on the derived LR store{again}",
                         "seconds": float(entry["cost_seconds"]),
                         "device": (m.get("provenance") or {}).get("device", "?")})
    return pd.DataFrame(rows, columns=["row", "trained", "seconds", "device"])


def retry_prose(metrics: Mapping[str, Mapping], lr_baselines: Sequence[str] = LR_BASELINES) -> str:
    """Which LR-baseline runs the pre-declared rule trained again (``recognition_lr.retry``,
    :mod:`arsr.study.retries`), with each attempt's validation top-1, or that none was."""
    m = metrics.get(layout.LR_RECOGNIZERS_STAGE) or {}
    rule = m.get("retry")
    if not isinstance(rule, Mapping):
        return (f"reports/{layout.LR_RECOGNIZERS_METRICS} does not say which retry rule its runs met: re-run "
                f"`dvc repro {layout.LR_RECOGNIZERS_STAGE}`.")
    if not rule.get("times"):
        return "No retry rule (`recognition_lr.retry.times: 0`): every LR-baseline run is its recogniser seed's."
    how = (f"The retry rule (`recognition_lr.retry`, declared before any test score was read): a run whose "
           f"validation top-1 (mean of its last {HELD_OUT_LAST} validations) is below {rule['below_x_chance']:g} x "
           f"chance ({100 * rule['below']:.1f}%) is trained again with seed + {RETRY_SEED_STEP} k, at most "
           f"{rule['times']} times, "
           "and the last attempt is kept. It reads the validation split only and can only raise the baseline.")
    runs = []
    for baseline in lr_baselines:
        entry = m.get(baseline) or {}
        for name in layout.LR_RECOGNIZER_NAMES:
            for seed, per in ((entry.get(name) or {}).get("per_seed") or {}).items():
                attempts = per.get("attempts") or []
                if len(attempts) < 2 and not any(a["failed"] for a in attempts):
                    continue
                steps = ", ".join(f"seed {a['seed']} " + ("no validation" if a["val_top1"] is None
                                                          else f"{100 * a['val_top1']:.1f}%")
                                  + (" (kept" + (", below the rule: no attempt left)" if a["failed"] else ")")
                                     if a["kept"] else "") for a in attempts)
                runs.append(f"{_label(baseline)} {name.removeprefix('tsn_')}, recogniser seed {seed}: {steps}")
    if not runs:
        return how + " No run fell below it."
    return (how + f" Retried ({len(runs)} run{'s' if len(runs) > 1 else ''}; validation top-1 of each attempt): "
            + "; ".join(runs) + ". The failed attempts' training time is in the cost above.")


def cost_table(costs: pd.DataFrame, eval_df: pd.DataFrame, *, digits: int = 2) -> pd.DataFrame:
    """Training cost beside TSN fusion top-1 (mean ± std over SR seeds), one row per row of
    ``costs`` (:func:`training_costs`), in the accuracy table's order. ``eval_df``: the paper's
    rows and the LR baselines' together."""
    tsn = eval_df[(eval_df["recognizer"] == "tsn") & (eval_df["stream"] == "fusion")]
    top1 = seed_summary(tsn, ["method"], "top1").set_index("method")
    order = {m: i for i, m in enumerate(ROW_ORDER)}
    rows = []
    for r in sorted(costs.itertuples(), key=lambda r: order.get(r.row, len(order))):
        acc = top1.loc[r.row] if r.row in top1.index else None
        rows.append({"trained": r.trained,
                     "training seconds": "0" if r.seconds == 0 else f"{r.seconds:,.0f}",
                     "device": r.device or DASH,
                     "TSN fusion top-1 (%)": DASH if acc is None else format_mean_std(acc["mean"], acc["std"],
                                                                                      int(acc["n"]), digits)})
    table = pd.DataFrame(rows, index=pd.Index([ROW_LABELS.get(r, r) for r in
                                               sorted(costs["row"], key=lambda m: order.get(m, len(order)))],
                                              name="row"))
    return _notes(table, ["Training seconds: wall seconds of one training on the device shown (SR: mean over "
                          "seeds); measured once, no interval. Test-time cost is not counted: SR super-resolves "
                          "every test frame, the LR-trained TSN reads the bicubic frames."])


def _accuracy_phrase(claim, first: str, second: str) -> str:
    """What a claim "``first`` beats ``second``" says, with its difference and interval."""
    d = _claim_decimals(claim)
    diff = f"{_signed(claim.difference, d)} points, 95% CI {_signed(claim.ci_low, d)} to {_signed(claim.ci_high, d)}"
    if claim.verdict == "holds":
        return f"{first} is more accurate than {second} ({diff})"
    if claim.verdict == "reversed":
        return f"{second} is more accurate than {first} ({diff})"
    return f"the interval cannot tell {first} and {second} apart ({diff})"


def cost_prose(costs: pd.DataFrame, claims: pd.DataFrame) -> str:
    """What the cost table and the ``best_sr_beats_<baseline>`` and ``rdsr_beats_sosr_tosr`` claims
    say, together: accuracy as the claim's interval decides, cost as measured (one run, no interval)."""
    seconds = dict(zip(costs["row"], costs["seconds"]))
    parts = []
    for r in claims[claims["name"] == "rdsr_beats_sosr_tosr"].itertuples():
        accuracy = _accuracy_phrase(r, "RDSR", "SoSR+ToSR")
        goal = "meets" if r.verdict == "holds" and r.difference >= 2 else "misses"
        mine, theirs = seconds.get("rdsr", math.nan), seconds.get(COMBINED, math.nan)
        ratio = (
            f" (RDSR: {mine / theirs:.0%} of SoSR+ToSR's)"
            if math.isfinite(mine) and math.isfinite(theirs) and theirs > 0
            else ""
        )
        parts.append(f"RDSR (beyond the paper): {accuracy}, so it {goal} the goal of +2 points with an interval "
                     f"excluding 0; RDSR cost {mine:,.0f} s to train with its RRDBNet-PSNR base, SoSR+ToSR "
                     f"{theirs:,.0f} s with both bases{ratio}.")
    for r in claims[claims["name"].str.startswith("best_sr_beats_")].itertuples():
        baseline = r.name.removeprefix("best_sr_beats_")
        best = next((m for m in ROW_ORDER if r.comparison.startswith(f"{_label(m)} (HR-trained TSN)")), None)
        accuracy = _accuracy_phrase(r, "the best SR row", _label(baseline))
        cost = f"{_label(baseline)} cost {seconds.get(baseline, math.nan):,.0f} s to train"
        if best is not None and best in seconds:
            cost += f", {_label(best)} {seconds[best]:,.0f} s"
        parts.append(f"Against {_label(baseline)}: {accuracy}; {cost}.")
    if not parts:
        return "No LR-trained baseline and no RDSR row was compared (their results are missing)."
    return " ".join(parts)
