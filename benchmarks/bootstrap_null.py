"""How often do the claims' intervals decide a claim that is false? Simulated studies with no
true difference between methods, decided by four bootstraps:

    python benchmarks/bootstrap_null.py                         # 1000 studies per scenario
    python benchmarks/bootstrap_null.py --studies 200 --resamples 1000 --scenarios study
    python benchmarks/bootstrap_null.py --effect 0.3            # power: m1 better by 0.3 logit

* ``old``: the study's former bootstrap -- cells averaged per video, videos resampled
  (:func:`arsr.stats.resampled_means` on per-video means);
* ``pigeonhole``: Owen's pigeonhole bootstrap, plain (``bootstrap_means(..., rescale=False)``);
* ``rescaled``: the same with each factor's weights rescaled by sqrt(n / (n - 1)), the study's
  (:func:`arsr.stats.bootstrap_means`);
* ``one-factor``: one factor resampled at a time, the deviations added, each rescaled likewise
  (:func:`one_factor_means`: the pigeonhole without its product terms, so the cells' noise is
  counted three times instead of seven).

A simulated study (:func:`simulate_study`): correctness ``x[s, r, i] ~ Bernoulli(p)`` with
``logit p = theta + v_i + e_mi + a_ms + b_r + c_mr``: per-video difficulty ``v`` shared by every
method, a method x video effect ``e``, an SR-seed effect ``a`` per method and seed, a
recogniser-seed effect ``b`` shared by every method, a method x recogniser effect ``c``; ``theta``
drawn per study (a method's accuracy 55-88%). Methods m0-m9 have 3 SR seeds; ``aa`` is m0
retrained with other SR seeds (the same ``e`` and ``c``, its own ``a``); ``ref`` is a reference
row (one SR seed, no seed effect). Every method has the same expected accuracy; with ``--effect``
m1 is shifted by that logit. The family (:data:`CLAIMS`): 16 claims like the study's -- 13 paired
differences (among them the A/A claim ``m0`` vs ``aa`` and two against ``ref``), 3 "beats every
other" (intersection-union) claims.

Printed per scenario and design: the share of studies where the one claim ``m1 beats m2`` falsely
holds at 95% (one-sided: 2.5% expected), the A/A claim reads other than inconclusive at 95%,
the mean per-claim false-decision rate at 95% (two-sided: 5% expected), the family-wise rate of
any false decision with Holm at 5%, the bootstrap sd of ``m1 - m2`` against its sd over studies.
The scenarios' observed spreads (std over a method's 3 SR seeds and over the 3 recognisers of
the seed's or recogniser's accuracy, pp) are printed to compare with the study's (~2.5, ~3).
"""
from __future__ import annotations

import argparse
import math
import sys
import time

import numpy as np

from arsr import stats

#: (sd of the SR-seed effect a, of the recogniser effect b, of the method x recogniser effect c), logit.
SCENARIOS = {"study": (0.17, 0.15, 0.10), "seed-heavy": (0.30, 0.15, 0.20), "seed-dominated": (0.50, 0.15, 0.0)}
#: sd of the per-video difficulty v and of the method x video effect e, logit.
VIDEO_SD, METHOD_VIDEO_SD = 1.5, 0.5
SR_METHODS = [f"m{k}" for k in range(10)]
#: The family: ("paired", a, b) -- a beats b; ("best", target, others) -- target beats every other.
CLAIMS = [("paired", "m1", "m2"), ("paired", "m0", "aa"), ("paired", "m0", "ref"), ("paired", "m3", "ref"),
          ("paired", "m3", "m4"), ("paired", "m5", "m6"), ("paired", "m7", "m8"), ("paired", "m9", "m0"),
          ("paired", "m2", "m5"), ("paired", "m4", "m7"), ("paired", "m6", "m9"), ("paired", "m8", "m1"),
          ("paired", "aa", "m5"), ("best", "m1", ("m2", "m3", "m4")), ("best", "m5", ("m6", "m7", "m8", "m9")),
          ("best", "m0", ("m1", "m2", "m3", "m4", "m5", "m6", "m7", "m8", "m9", "ref"))]
DESIGNS = ("old", "pigeonhole", "rescaled", "one-factor")


def simulate_study(gen: np.random.Generator, scenario: str = "study", n_videos: int = 144, n_sr: int = 3,
                   n_rec: int = 3, effect: float = 0.0) -> dict[str, np.ndarray]:
    """One simulated study: {method: (n_sr, n_rec, n_videos) 0/1} for m0-m9, aa, ref (ref: (1, n_rec,
    n_videos)). ``effect``: logit added to m1."""
    # logit p[m, s, r, i] = theta + v_i + e_mi + a_ms + b_r + c_mr;  x ~ Bernoulli(p)
    sd_sr, sd_rec, sd_method_rec = SCENARIOS[scenario]
    theta = gen.uniform(0.6, 2.4)
    video = gen.normal(0.0, VIDEO_SD, n_videos)
    rec = gen.normal(0.0, sd_rec, (n_rec, 1))
    out = {}
    shared = {}
    for m in [*SR_METHODS, "aa", "ref"]:
        if m == "aa":
            method_video, method_rec = shared["m0"]
        else:
            method_video = gen.normal(0.0, METHOD_VIDEO_SD, n_videos)
            method_rec = gen.normal(0.0, sd_method_rec, (n_rec, 1))
            shared[m] = (method_video, method_rec)
        seeds = 1 if m == "ref" else n_sr
        seed = np.zeros((1, 1, 1)) if m == "ref" else gen.normal(0.0, sd_sr, (seeds, 1, 1))
        logit = theta + video + method_video + seed + rec + method_rec + (effect if m == "m1" else 0.0)
        out[m] = (gen.random(logit.shape) < 1.0 / (1.0 + np.exp(-logit))).astype(np.float64)
    return out


def _sorted(draws: np.ndarray) -> np.ndarray:
    return np.sort(draws[np.isfinite(draws)])


def _interval(sorted_draws: np.ndarray, confidence: float) -> tuple[float, float]:
    return stats._interval(sorted_draws, confidence)


def claim_verdicts_at(means: dict[str, np.ndarray]) -> list:
    """Each claim of :data:`CLAIMS` as a function confidence -> verdict, from the bootstrap means
    (``means[m]``: (n_resamples,) draws of method m's mean, videos and recognisers drawn alike)."""
    def paired(a, b):
        d = _sorted(means[a] - means[b])
        return lambda c: stats.verdict(*_interval(d, c))

    out = []
    for kind, target, other in CLAIMS:
        if kind == "paired":
            out.append(paired(target, other))
        else:
            pairs = [paired(target, o) for o in other]
            out.append(lambda c, pairs=pairs: stats._intersection_union([f(c) for f in pairs]))
    return out


def one_factor_means(study: dict[str, np.ndarray], n_resamples: int, gen: np.random.Generator) -> dict[str, np.ndarray]:
    """mean* = mean + sum over factors f of sqrt(n_f / (n_f - 1)) (mean*_f - mean), mean*_f: only f
    resampled (videos and recognisers shared by the methods, SR seeds per method)."""
    # w_f = 1/n + sqrt(n / (n - 1)) (c/n - 1/n) as in bootstrap_means, one factor at a time
    n_rec, n_videos = next(iter(study.values())).shape[1:]
    w_video = stats._rescaled_weights(gen, n_resamples, n_videos)
    w_rec = stats._rescaled_weights(gen, n_resamples, n_rec)
    out = {}
    for m, x in study.items():
        w_sr = stats._rescaled_weights(gen, n_resamples, x.shape[0])
        mean = x.mean()
        out[m] = (mean + (w_video @ x.mean(axis=(0, 1)) - mean) + (w_rec @ x.mean(axis=(0, 2)) - mean)
                  + (w_sr @ x.mean(axis=(1, 2)) - mean))
    return out


def design_means(design: str, study: dict[str, np.ndarray], n_resamples: int,
                 gen: np.random.Generator) -> dict[str, np.ndarray]:
    """Bootstrap draws of every method's mean by ``design`` (one of :data:`DESIGNS`)."""
    if design == "old":
        names = list(study)
        per_video = np.stack([stats.seed_means(study[m]) for m in names], axis=1)  # (n_videos, m)
        draws = stats.resampled_means(per_video, n_resamples, gen)
        return {m: draws[:, j] for j, m in enumerate(names)}
    if design == "one-factor":
        return one_factor_means(study, n_resamples, gen)
    return stats.bootstrap_means(study, n_resamples, gen, rescale=design == "rescaled")


def run(scenario: str = "study", n_studies: int = 300, n_resamples: int = 1000, seed: int = 0,
        designs=DESIGNS, effect: float = 0.0) -> dict:
    """Rates over ``n_studies`` simulated studies, per design: ``holds_m1_m2`` (the claim "m1 beats
    m2" holds at 95%), ``aa_decided`` (the A/A claim is not inconclusive at 95%),
    ``per_claim_decided`` (mean over the 16 claims of the rate of a decision at 95%),
    ``family_decided`` (any claim decided by Holm at 5%), ``family_holds_m1_m2`` (m1 beats m2 holds
    at family level), ``boot_sd`` (mean bootstrap sd of m1 - m2, pp); and per scenario ``true_sd``
    (sd of m1 - m2 over studies, pp), ``seed_spread``, ``rec_spread`` (pp), ``accuracy`` (%)."""
    gen = np.random.default_rng(seed)
    rec = {d: {"holds_m1_m2": [], "aa_decided": [], "per_claim_decided": [], "family_decided": [],
               "family_holds_m1_m2": [], "boot_sd": []} for d in designs}
    diffs, seed_spread, rec_spread, accuracy = [], [], [], []
    for _ in range(n_studies):
        study = simulate_study(gen, scenario, effect=effect)
        diffs.append(100.0 * (study["m1"].mean() - study["m2"].mean()))
        seed_spread.append(np.mean([100.0 * study[m].mean(axis=(1, 2)).std(ddof=1) for m in SR_METHODS]))
        rec_spread.append(np.mean([100.0 * study[m].mean(axis=(0, 2)).std(ddof=1) for m in SR_METHODS]))
        accuracy.append(100.0 * np.mean([study[m].mean() for m in SR_METHODS]))
        for design in designs:
            means = design_means(design, study, n_resamples, gen)
            verdicts_at = claim_verdicts_at(means)
            at95 = [f(stats.CONFIDENCE) for f in verdicts_at]
            p = [stats.decisive_p(f) for f in verdicts_at]
            family = stats.family_verdicts(p, verdicts_at)
            r = rec[design]
            r["holds_m1_m2"].append(at95[0] == "holds")
            r["aa_decided"].append(at95[1] != "inconclusive")
            r["per_claim_decided"].append(np.mean([v != "inconclusive" for v in at95]))
            r["family_decided"].append(any(v != "inconclusive" for v in family))
            r["family_holds_m1_m2"].append(family[0] == "holds")
            r["boot_sd"].append(100.0 * np.std(means["m1"] - means["m2"]))
    out = {d: {k: float(np.mean(v)) for k, v in r.items()} for d, r in rec.items()}
    out.update(true_sd=float(np.std(diffs)), mean_difference=float(np.mean(diffs)),
               seed_spread=float(np.mean(seed_spread)), rec_spread=float(np.mean(rec_spread)),
               accuracy=(float(np.min(accuracy)), float(np.max(accuracy))))
    return out


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--studies", type=int, default=1000)
    p.add_argument("--resamples", type=int, default=2000)
    p.add_argument("--scenarios", nargs="+", default=list(SCENARIOS), choices=list(SCENARIOS))
    p.add_argument("--effect", type=float, default=0.0, help="logit added to m1 (0: every claim null)")
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args(argv)
    for scenario in args.scenarios:
        t0 = time.perf_counter()
        r = run(scenario, args.studies, args.resamples, args.seed, effect=args.effect)
        lo, hi = r["accuracy"]
        print(f"\n{scenario} {SCENARIOS[scenario]}: observed spreads SR seeds {r['seed_spread']:.1f} pp, "
              f"recognisers {r['rec_spread']:.1f} pp; accuracy {lo:.0f}-{hi:.0f}%; m1 - m2 mean "
              f"{r['mean_difference']:+.2f} pp, sd over studies {r['true_sd']:.2f} pp; {args.studies} studies, "
              f"{args.resamples} resamples, effect {args.effect:g} ({time.perf_counter() - t0:.0f} s)")
        print("| design | m1 beats m2 holds (95%) | A/A decided (95%) | per claim decided (95%) "
              "| family: any decided (Holm 5%) | family: m1 beats m2 holds | bootstrap sd (pp) |")
        print("|---|---|---|---|---|---|---|")
        for d in DESIGNS:
            x = r[d]
            se = math.sqrt(max(x["holds_m1_m2"] * (1 - x["holds_m1_m2"]), 1e-12) / args.studies)
            print(f"| {d} | {x['holds_m1_m2']:.3f} (±{se:.3f}) | {x['aa_decided']:.3f} | "
                  f"{x['per_claim_decided']:.3f} | {x['family_decided']:.3f} | {x['family_holds_m1_m2']:.3f} | "
                  f"{x['boot_sd']:.2f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
