"""The paper's claims, decided on the per-video files by paired bootstrap intervals over test
videos, SR seeds and recognizer seeds (:mod:`arsr.stats`): "holds", "reversed" or "inconclusive",
each on its own and all of them together (Holm's step-down); :func:`claims_table`."""
from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np
import pandas as pd

from ... import stats
from ...methods import COMBINED, IMAGE_SR, PAPER_ORDER, REFERENCE, VIDEO_SR
from ..layout import ABLATION_PER_VIDEO_COLUMNS, LR_BASELINES
from ..variants import ALIASES, STREAM as ABLATION_STREAM, VARIANTS
from .names import ROW_ORDER, _label
from .scores import aligned_scores, correctness_table
from .tables import seed_summary


#: The ablations' one-term comparisons: name, kind, variant with the term, variant without, claim.
ABLATION_CLAIMS = (
    ("wmse_beats_mse_vdsr", "sosr", "vdsr_wmse", "vdsr_mse",
     "WMSE beats MSE, VDSR structure (TSN spatial)"),
    ("wmse_beats_mse_esrgan", "sosr", "esrgan_wmse_feat_adv", "esrgan_mse_feat_adv",
     "WMSE beats MSE, ESRGAN structure with feature and adversarial losses (TSN spatial)"),
    ("warp_helps_vdsr", "tosr", "vdsr_warp", "vdsr", "The warp loss helps VDSR (TSN temporal)"),
    ("warp_helps_duf16", "tosr", "duf16_warp", "duf16", "The warp loss helps VSR-DUF-16 (TSN temporal)"),
    # beyond the paper: rdsr's task terms, one at a time (temporal = rdsr itself)
    ("rdsr_spatial_task_helps", "rdsr", "spatial", "pixel",
     "RDSR: the spatial task term helps (TSN fusion; beyond the paper)"),
    ("rdsr_temporal_task_helps", "rdsr", "temporal", "spatial",
     "RDSR: the temporal task term helps (TSN fusion; beyond the paper)"),
)
#: "PSNR does not predict accuracy" holds when Spearman's rho's interval lies inside (-margin,
#: +margin) (a strong rank association either way ruled out); it is reversed when the interval
#: excludes 0 (above: PSNR predicts accuracy; below: it predicts it inversely). See
#: ``arsr.stats.association_verdict``.
RHO_MARGIN = 0.5
CLAIM_COLUMNS = ["name", "claim", "comparison", "difference", "ci_low", "ci_high", "verdict", "p_value",
                 "family_verdict", "unit", "n_videos", "n_seeds", "n_rec_seeds"]
#: The claim of the A/A control: a method against itself retrained with other SR seeds.
AA_CLAIM = "aa_control"
#: The check that HR is the ceiling: HR against every SR row on TSN fusion.
HR_CEILING_CLAIM = "hr_is_the_ceiling"


def _tables(per_video: pd.DataFrame, recognizer: str, stream: str) -> dict[str, pd.DataFrame]:
    part = per_video[(per_video["recognizer"] == recognizer) & (per_video["stream"] == stream)]
    groups = dict(tuple(part.groupby("method", sort=False)))
    return {m: correctness_table(groups[m]) for m in ROW_ORDER if m in groups}


def _ablation_tables(ablation_per_video: pd.DataFrame, kind: str) -> dict[str, pd.DataFrame]:
    part = ablation_per_video[(ablation_per_video["kind"] == kind)
                              & (ablation_per_video["stream"] == ABLATION_STREAM[kind])]
    groups = dict(tuple(part.groupby("variant", sort=False)))
    return {v: correctness_table(groups[v]) for v in VARIANTS[kind] if v in groups}


def _claim_row(name: str, claim: str, comparison: str, result, verdict_: str, unit: str = "pp") -> dict:
    """A row of :func:`claims_table`; ``result`` (a ``PairedDifference``, ``BestOfComparison``'s
    ``result`` or ``SpearmanInterval``) kept in ``attrs`` for the family verdict."""
    if isinstance(result, stats.SpearmanInterval):
        estimate = result.rho
    else:
        estimate = result.difference
    return {"name": name, "claim": claim, "comparison": comparison, "difference": estimate,
            "ci_low": result.ci_low, "ci_high": result.ci_high, "verdict": verdict_, "p_value": result.p_value,
            "family_verdict": "inconclusive", "unit": unit, "n_videos": result.n_videos,
            "n_seeds": result.n_seeds, "n_rec_seeds": result.n_rec_seeds}


def _best_of_claim(name: str, claim: str, target: str, others: Sequence[str], tables: Mapping[str, pd.DataFrame],
                   what: str, n_resamples: int, seed: int, notes: list[str]) -> tuple[dict, object] | None:
    present = [m for m in others if m in tables]
    missing = [m for m in others if m not in tables]
    if target not in tables or not present:
        need = target if target not in tables else " / ".join(_label(m) for m in others)
        notes.append(f"Left out \"{claim}\": no results for {need} (not in sr.methods).")
        return None
    scores = aligned_scores({target: tables[target], **{m: tables[m] for m in present}})
    c = stats.compare_with_best(scores[target], {m: scores[m] for m in present}, n_resamples=n_resamples, rng=seed)
    comparison = (f"{_label(target)} vs {_label(c.against)}, the best {what} by mean "
                  f"(of {', '.join(_label(m) for m in present)})")
    weaker = [f"vs {_label(m)}: {v}" for m, (_, v) in c.pairwise.items() if v != "holds" and m != c.against]
    if c.verdict != c.pairwise[c.against][1] and weaker:
        comparison += "; decided by " + ", ".join(weaker)
    if missing:
        comparison += f"; not studied: {', '.join(_label(m) for m in missing)}"
    row = _claim_row(name, claim, comparison, c.result, c.verdict)
    row["p_value"] = c.p_value  # the intersection-union claim's, not its best pair's
    return row, c.verdict_at


def _paired_claim(name: str, claim: str, comparison: str, a, b, n_resamples: int, seed: int,
                  expected_sign: int = +1) -> tuple[dict, object]:
    r = stats.paired_bootstrap(a, b, n_resamples=n_resamples, rng=seed)
    return (_claim_row(name, claim, comparison, r, stats.verdict(r.ci_low, r.ci_high, expected_sign)),
            lambda confidence: r.verdict_at(confidence, expected_sign))


def claims_table(per_video: pd.DataFrame, ablation_per_video: pd.DataFrame | None = None,
                 eval_df: pd.DataFrame | None = None, *, lr_per_video: pd.DataFrame | None = None,
                 aa_per_video: pd.DataFrame | None = None, aa_method: str | None = None,
                 n_resamples: int = stats.N_RESAMPLES, seed: int = 0, rho_margin: float = RHO_MARGIN,
                 alpha: float = stats.FAMILY_ALPHA) -> pd.DataFrame:
    """The paper's claims, each decided by a 95% bootstrap interval over test videos, SR seeds and
    recognizer seeds (:mod:`arsr.stats`: the same videos and recognizers for both sides, each
    method's SR seeds drawn on their own), and all of them together by Holm's step-down at
    family-wise level ``alpha`` (``family_verdict``; the report's prose uses it):

    * ``sr_beats_bicubic``: the best SR row by TSN fusion (SoSR+ToSR included) vs bicubic --
      chosen on the same videos, so its difference is optimistic;
    * ``sosr_beats_image_sr`` (TSN spatial), ``tosr_beats_video_sr`` (TSN temporal),
      ``sosr_tosr_best_fusion`` (TSN fusion, every other row but HR): against the best other by
      mean, verdict "holds" only if the interval against *every* other excludes 0
      (:func:`arsr.stats.compare_with_best`);
    * ``hr_is_the_ceiling``: HR against every SR row (TSN fusion), the same intersection-union test;
      "reversed" if some SR row beats HR (then HR is not the ceiling the tables assume);
    * ``ABLATION_CLAIMS``: one loss term on vs off, the ablations' rows (TSN, the kind's stream);
    * ``psnr_not_predictive_<stream>``: Spearman's rho of PSNR and TSN top-1 across the paper's
      methods with a PSNR (:func:`arsr.stats.spearman_bootstrap`); "holds" if its interval lies in
      (-rho_margin, +rho_margin), "reversed" if it excludes 0 (the comparison says which way);
    * ``best_sr_beats_<baseline>`` (beyond the paper, with ``lr_per_video``: the LR baselines'
      per-video rows, their TSN of seed k paired with recognizer seed k): the best SR row by TSN
      fusion vs the TSN trained on LR video, on the bicubic frames -- chosen on the same videos,
      so its difference is optimistic;
    * ``rdsr_beats_sosr_tosr`` (beyond the paper): RDSR vs SoSR+ToSR, TSN fusion;
    * ``aa_control`` (with ``aa_per_video`` and ``aa_method``): the A/A control, ``aa_method``'s row
      against its twin retrained with other SR seeds (TSN fusion); it must read inconclusive.

    The rows beyond the paper (``arsr.methods.BEYOND_PAPER``) take no part in the paper's claims
    (the SR rows of ``sr_beats_bicubic``, ``best_sr_beats_<baseline>``, the PSNR claims).

    per_video: :func:`read_per_video`; ablation_per_video: :func:`read_ablation_per_video`;
    eval_df: :func:`read_eval` (PSNR per method). Columns ``CLAIM_COLUMNS`` (difference in pp, or
    rho for unit "rho"; ``p_value``: :func:`arsr.stats.decisive_p`); claims whose inputs were not
    studied are left out and named in ``attrs["notes"]``; ``attrs["direction"]`` maps a PSNR claim
    to "positive" / "inverse" where its interval excludes 0.
    """
    decided, notes, direction = [], [], {}
    fusion = _tables(per_video, "tsn", "fusion")
    candidates = [m for m in fusion if m not in REFERENCE and m in PAPER_ORDER]
    claim = "Super-resolution beats bicubic upscaling (TSN fusion)"
    if "bicubic" in fusion and candidates:
        scores = aligned_scores({m: fusion[m] for m in ["bicubic", *candidates]})
        best = stats.best_of({m: scores[m] for m in candidates})
        decided.append(_paired_claim(
            "sr_beats_bicubic", claim, f"{_label(best)}, the best of {len(candidates)} SR rows by mean, vs Bicubic "
            "(chosen on these videos: the difference is optimistic)", scores[best], scores["bicubic"], n_resamples,
            seed))
    else:
        notes.append(f"Left out \"{claim}\": no TSN fusion results for bicubic or any SR method.")
    lr_fusion = _tables(lr_per_video, "tsn", "fusion") if lr_per_video is not None and len(lr_per_video) else {}
    for baseline in [b for b in LR_BASELINES if b in lr_fusion]:
        claim = f"The best super-resolution beats {_label(baseline)} (TSN fusion)"
        if not candidates:
            notes.append(f"Left out \"{claim}\": no TSN fusion results of any SR method.")
            continue
        scores = aligned_scores({baseline: lr_fusion[baseline], **{m: fusion[m] for m in candidates}})
        best = stats.best_of({m: scores[m] for m in candidates})
        decided.append(_paired_claim(
            f"best_sr_beats_{baseline}", claim,
            f"{_label(best)} (HR-trained TSN), the best of {len(candidates)} SR rows by mean, vs {_label(baseline)} "
            "on the bicubic frames (chosen on these videos: the difference is optimistic)",
            scores[best], scores[baseline], n_resamples, seed))
    spatial, temporal = _tables(per_video, "tsn", "spatial"), _tables(per_video, "tsn", "temporal")
    for found in (
        _best_of_claim("sosr_beats_image_sr", "SoSR beats the other image SR (TSN spatial)", "sosr", IMAGE_SR,
                       spatial, "other image SR", n_resamples, seed, notes),
        _best_of_claim("tosr_beats_video_sr", "ToSR beats the other video SR (TSN temporal)", "tosr", VIDEO_SR,
                       temporal, "other video SR", n_resamples, seed, notes),
        _best_of_claim("sosr_tosr_best_fusion", "SoSR+ToSR is the best row short of HR (TSN fusion)", COMBINED,
                       [m for m in PAPER_ORDER if m not in ("hr", COMBINED)], fusion, "other row",
                       n_resamples, seed, notes),
        _best_of_claim(HR_CEILING_CLAIM, "HR beats every SR row: the ceiling (TSN fusion; reversed: an SR row "
                       "beats HR)", "hr", [m for m in ROW_ORDER if m not in REFERENCE], fusion, "SR row",
                       n_resamples, seed, notes),
    ):
        if found is not None:
            decided.append(found)
    claim = "RDSR beats SoSR+ToSR (TSN fusion; beyond the paper)"
    if "rdsr" in fusion and COMBINED in fusion:
        scores = aligned_scores({"rdsr": fusion["rdsr"], COMBINED: fusion[COMBINED]})
        decided.append(_paired_claim(
            "rdsr_beats_sosr_tosr", claim, "RDSR (one network, its frames for both streams) vs SoSR+ToSR (SoSR's "
            "frames for the spatial stream, ToSR's for the temporal); the issue's goal: +2 points or more",
            scores["rdsr"], scores[COMBINED], n_resamples, seed))
    else:
        lacking = " / ".join(_label(m) for m in ("rdsr", COMBINED) if m not in fusion)
        notes.append(f"Left out \"{claim}\": no TSN fusion results for {lacking} (not in sr.methods).")
    abl = ablation_per_video if ablation_per_video is not None else pd.DataFrame(columns=ABLATION_PER_VIDEO_COLUMNS)
    for name, kind, with_term, without, claim in ABLATION_CLAIMS:
        tables = _ablation_tables(abl, kind)
        if with_term not in tables or without not in tables:
            lacking = [v for v in (with_term, without) if v not in tables]
            notes.append(f"Left out \"{claim}\": no results for the {kind} ablation's {', '.join(lacking)} "
                         f"(list the variant in ablation.{kind}, or its main method in sr.methods).")
            continue
        scores = aligned_scores({with_term: tables[with_term], without: tables[without]})
        aliases = ALIASES[kind]
        names = [f"{v}" + (f" (= {_label(aliases[v])})" if v in aliases else "") for v in (with_term, without)]
        decided.append(_paired_claim(name, claim, f"{names[0]} vs {names[1]}", scores[with_term], scores[without],
                                     n_resamples, seed))
    if eval_df is not None:
        psnr = seed_summary(eval_df[np.isfinite(eval_df["psnr"].astype(float))], ["method"], "psnr", ("seed",))
        psnr = dict(zip(psnr["method"], psnr["mean"]))
        for stream, tables in (("spatial", spatial), ("temporal", temporal), ("fusion", fusion)):
            claim = f"PSNR does not predict recognition accuracy (TSN {stream})"
            methods = [m for m in tables if m in psnr and m in PAPER_ORDER]
            if len(methods) < 3:
                notes.append(f"Left out \"{claim}\": fewer than 3 of the paper's methods with both a PSNR and TSN "
                             f"{stream} results.")
                continue
            scores = aligned_scores({m: tables[m] for m in methods})
            r = stats.spearman_bootstrap([psnr[m] for m in methods], [scores[m] for m in methods],
                                         n_resamples=n_resamples, rng=seed, margin=rho_margin)
            name = f"psnr_not_predictive_{stream}"
            verdict_ = stats.association_verdict(r.ci_low, r.ci_high, rho_margin)
            way = stats.association_direction(r.ci_low, r.ci_high)
            if way is not None:
                direction[name] = way
            decided.append((_claim_row(
                name, claim, f"Spearman ρ of PSNR and top-1 over {len(methods)} of the paper's methods; holds if its "
                f"interval lies within ±{rho_margin:g}; reversed if it excludes 0"
                + {"positive": " (here: PSNR predicts accuracy, the higher the better)",
                   "inverse": " (here: PSNR predicts accuracy inversely, the higher the worse)"}.get(way, ""),
                r, verdict_, unit="rho"), r.verdict_at))
    if aa_per_video is not None and len(aa_per_video) and aa_method is not None:
        claim = f"A/A control: {_label(aa_method)} retrained with other SR seeds differs from itself (TSN fusion)"
        twin = _tables(aa_per_video.assign(method=aa_method), "tsn", "fusion").get(aa_method)
        if aa_method in fusion and twin is not None:
            scores = aligned_scores({"twin": twin, aa_method: fusion[aa_method]})
            seeds_of = lambda t: ", ".join(str(k) for k in sorted(set(t.index.get_level_values("seed"))))  # noqa: E731
            decided.append(_paired_claim(
                AA_CLAIM, claim, f"{_label(aa_method)} of SR seeds {seeds_of(twin)} vs of SR seeds "
                f"{seeds_of(fusion[aa_method])}; the same method and recipe, so it must read inconclusive",
                scores["twin"], scores[aa_method], n_resamples, seed))
        else:
            notes.append(f"Left out \"{claim}\": no TSN fusion results for {_label(aa_method)} or its twin.")
    rows = [row for row, _ in decided]
    if rows:
        family = stats.family_verdicts([r["p_value"] for r in rows], [at for _, at in decided], alpha)
        for row, verdict_ in zip(rows, family):
            row["family_verdict"] = verdict_
    table = pd.DataFrame(rows, columns=CLAIM_COLUMNS)
    table.attrs["notes"] = notes
    table.attrs["direction"] = direction
    table.attrs["alpha"] = alpha
    return table
