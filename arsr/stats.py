"""Intervals that decide the study's claims: paired bootstrap over test videos, verdicts, and the
digits a number deserves (Efron & Tibshirani, "An Introduction to the Bootstrap", 1993, ch. 13).

Every interval here reflects the sampling of **test videos**: the recognisers and the trained SR
models are held fixed (the instrument), seeds are averaged per video, and videos are resampled
with replacement -- the same videos for every method compared, so the comparison is paired. An
interval therefore answers "would another draw of test videos from the same distribution change
the conclusion for these trained models?", not "would retraining change it" (the std over seeds
in the tables speaks to that).

Inputs are per-video 0/1 top-1 correctness arrays ``(n_seeds, n_videos)`` (a ``(n_videos,)``
array is one seed). Percentages are percentage points (pp). All resampling is drawn from a
``numpy.random.Generator`` made from ``rng`` (an int seed, a Generator, or None for seed 0), so
results are reproducible.
"""
from __future__ import annotations

import math
from statistics import NormalDist
from typing import Mapping, NamedTuple, Sequence

import numpy as np

__all__ = ["VERDICTS", "N_RESAMPLES", "CONFIDENCE", "PairedDifference", "BestOfComparison", "SpearmanInterval",
           "seed_means", "resampled_means", "paired_bootstrap", "verdict", "best_of", "compare_with_best",
           "rank_rows", "spearman_rows", "spearman_bootstrap", "association_verdict", "mean_half_width",
           "decimals_for", "late_change", "trend", "FLAT_TOLERANCE"]

VERDICTS = ("holds", "reversed", "inconclusive")
#: Bootstrap resamples per interval: enough for stable 2.5/97.5 percentiles (Monte Carlo error of
#: an endpoint well under a tenth of the interval's width).
N_RESAMPLES = 5000
CONFIDENCE = 0.95
#: Upper bound on the elements of one block of resampling counts (memory: 8 bytes each).
_BLOCK_ELEMENTS = 2_000_000


def _generator(rng: int | np.random.Generator | None) -> np.random.Generator:
    if isinstance(rng, np.random.Generator):
        return rng
    return np.random.default_rng(0 if rng is None else rng)


def _as_seed_video(x, name: str) -> np.ndarray:
    arr = np.asarray(x, dtype=np.float64)
    if arr.ndim == 1:
        arr = arr[None, :]
    if arr.ndim != 2:
        raise ValueError(f"{name}: expected (n_seeds, n_videos) or (n_videos,), got shape {arr.shape}")
    if arr.shape[0] == 0 or arr.shape[1] == 0:
        raise ValueError(f"{name}: no seeds or no videos (shape {arr.shape})")
    if not np.isfinite(arr).all():
        raise ValueError(f"{name}: per-video scores must be finite (0/1 correctness)")
    return arr


def seed_means(x) -> np.ndarray:
    """Per-video mean over seeds. x: (n_seeds, n_videos) or (n_videos,) -> (n_videos,)."""
    return _as_seed_video(x, "scores").mean(axis=0)


def resampled_means(values, n_resamples: int = N_RESAMPLES,
                    rng: int | np.random.Generator | None = None) -> np.ndarray:
    """Means of bootstrap resamples of the rows of ``values``: the same resampled rows (videos)
    for every column.

    values: (n, k) (or (n,), as k = 1). Returns (n_resamples, k) (or (n_resamples,)).
    """
    # mean*_b[j] = (1/n) sum_i c_bi values[i, j],  c_b ~ Multinomial(n, 1/n) (counts of a resample)
    v = np.asarray(values, dtype=np.float64)
    squeeze = v.ndim == 1
    v = v[:, None] if squeeze else v
    n = v.shape[0]
    if n == 0:
        raise ValueError("resampled_means: no rows to resample")
    gen = _generator(rng)
    block = max(1, _BLOCK_ELEMENTS // n)
    out = np.empty((n_resamples, v.shape[1]))
    for start in range(0, n_resamples, block):
        b = min(block, n_resamples - start)
        idx = gen.integers(0, n, size=(b, n))
        counts = np.bincount((np.arange(b)[:, None] * n + idx).ravel(), minlength=b * n).reshape(b, n)
        out[start:start + b] = counts @ v / n
    return out[:, 0] if squeeze else out


def _percentiles(samples: np.ndarray, confidence: float) -> tuple[float, float]:
    tail = 100.0 * (1.0 - confidence) / 2.0
    finite = samples[np.isfinite(samples)]
    if finite.size == 0:
        return math.nan, math.nan
    lo, hi = np.percentile(finite, [tail, 100.0 - tail])
    return float(lo), float(hi)


class PairedDifference(NamedTuple):
    """mean(a) - mean(b) in percentage points with its bootstrap interval."""

    difference: float
    ci_low: float
    ci_high: float
    n_videos: int
    n_seeds: int


def paired_bootstrap(a, b, *, n_resamples: int = N_RESAMPLES, confidence: float = CONFIDENCE,
                     rng: int | np.random.Generator | None = None) -> PairedDifference:
    """Paired per-video bootstrap interval of the accuracy difference of two methods.

    a, b: (n_seeds, n_videos) 0/1 top-1 correctness of methods A and B on the same videos (same
    column order) and seeds (or (n_videos,) for one seed). Seeds are averaged per video, videos
    resampled with replacement (the same videos for A and B), and the percentile interval taken.
    Returns difference, ci_low, ci_high (pp), n_videos, n_seeds.
    """
    # d_i = mean_s a[s, i] - mean_s b[s, i];  difference = 100 * mean_i d_i;  CI = percentiles of 100 * mean(d*)
    a, b = _as_seed_video(a, "a"), _as_seed_video(b, "b")
    if a.shape != b.shape:
        raise ValueError(f"paired_bootstrap: a and b must hold the same seeds and videos, got shapes "
                         f"{a.shape} and {b.shape}")
    d = a.mean(axis=0) - b.mean(axis=0)
    boot = 100.0 * resampled_means(d, n_resamples, rng)
    lo, hi = _percentiles(boot, confidence)
    return PairedDifference(float(100.0 * d.mean()), lo, hi, int(d.size), int(a.shape[0]))


def verdict(ci_low: float, ci_high: float, expected_sign: int = +1, null: float = 0.0) -> str:
    """"holds" if the interval excludes ``null`` on the side the claim expects (``expected_sign``
    +1: above, -1: below), "reversed" if it excludes it on the other side, else "inconclusive"
    (also for a missing interval). Exclusion is strict: an endpoint equal to ``null`` does not
    exclude it."""
    if expected_sign not in (+1, -1):
        raise ValueError(f"verdict: expected_sign must be +1 or -1, got {expected_sign!r}")
    if ci_low is None or ci_high is None or math.isnan(ci_low) or math.isnan(ci_high):
        return "inconclusive"
    lo, hi = sorted((float(ci_low), float(ci_high)))
    above, below = lo > null, hi < null
    if (above and expected_sign > 0) or (below and expected_sign < 0):
        return "holds"
    if above or below:
        return "reversed"
    return "inconclusive"


def best_of(scores: Mapping[str, np.ndarray]) -> str:
    """The key of the highest mean score (ties: the first in ``scores``' order)."""
    if not scores:
        raise ValueError("best_of: no candidates")
    means = {k: float(np.mean(v)) for k, v in scores.items()}
    return max(means, key=lambda k: (means[k], -list(means).index(k)))


class BestOfComparison(NamedTuple):
    """``target`` against the best other candidate (by mean): ``against``, the paired ``result``,
    the overall ``verdict`` (see :func:`compare_with_best`) and every ``pairwise`` comparison
    (other -> (PairedDifference, verdict))."""

    against: str
    result: PairedDifference
    verdict: str
    pairwise: dict


def compare_with_best(target, others: Mapping[str, np.ndarray], *, expected_sign: int = +1,
                      n_resamples: int = N_RESAMPLES, confidence: float = CONFIDENCE,
                      rng: int | np.random.Generator | None = 0) -> BestOfComparison:
    """"``target`` beats every one of ``others``" (expected_sign +1).

    target, others[k]: (n_seeds, n_videos) correctness on the same seeds and videos. The reported
    comparison is with the best other by mean. The verdict is an intersection-union test: "holds"
    only if the paired interval against *every* other excludes 0 in the claimed direction (each at
    ``confidence``; no multiplicity correction is needed for "beats all"); "reversed" if some other
    is clearly better (its interval excludes 0 the other way); else "inconclusive". Each pairwise
    interval uses the same resampled videos (one draw from ``rng``), so with an int seed each equals
    ``paired_bootstrap(target, other, rng=seed)``.
    """
    if not others:
        raise ValueError("compare_with_best: no other candidates")
    t = _as_seed_video(target, "target")
    names = list(others)
    columns = []
    for name in names:
        o = _as_seed_video(others[name], name)
        if o.shape != t.shape:
            raise ValueError(f"compare_with_best: {name} holds shape {o.shape}, the target {t.shape}: "
                             "both must hold the same seeds and videos")
        columns.append(t.mean(axis=0) - o.mean(axis=0))
    d = np.stack(columns, axis=1)  # (n_videos, n_others)
    # one draw of resampled videos for every pair (as paired_bootstrap with the same rng would draw)
    boot = 100.0 * resampled_means(d, n_resamples, rng)
    pairwise = {}
    for j, name in enumerate(names):
        lo, hi = _percentiles(boot[:, j], confidence)
        r = PairedDifference(float(100.0 * d[:, j].mean()), lo, hi, int(d.shape[0]), int(t.shape[0]))
        pairwise[name] = (r, verdict(r.ci_low, r.ci_high, expected_sign))
    against = best_of(others)
    verdicts = [v for _, v in pairwise.values()]
    if all(v == "holds" for v in verdicts):
        overall = "holds"
    elif any(v == "reversed" for v in verdicts):
        overall = "reversed"
    else:
        overall = "inconclusive"
    return BestOfComparison(against, pairwise[against][0], overall, pairwise)


def rank_rows(x) -> np.ndarray:
    """Ranks (1 = smallest) along the last axis, ties given their average rank.
    x: (..., m) -> (..., m) float."""
    # rank_j = #{k: x_k < x_j} + (#{k: x_k == x_j} + 1) / 2
    x = np.asarray(x, dtype=np.float64)
    less = (x[..., None, :] < x[..., :, None]).sum(-1)
    equal = (x[..., None, :] == x[..., :, None]).sum(-1)
    return less + (equal + 1) / 2.0


def spearman_rows(x, y) -> np.ndarray:
    """Spearman's rho of ``x`` and each row of ``y``: Pearson's correlation of average ranks.
    x: (m,); y: (..., m) -> (...,); NaN where either is constant."""
    # rho = sum (rx - mean rx)(ry - mean ry) / sqrt(sum (rx - mean rx)^2 * sum (ry - mean ry)^2)
    rx = rank_rows(np.asarray(x, dtype=np.float64))
    ry = rank_rows(y)
    rx = rx - rx.mean()
    ry = ry - ry.mean(axis=-1, keepdims=True)
    den = np.sqrt((rx ** 2).sum() * (ry ** 2).sum(axis=-1))
    num = (ry * rx).sum(axis=-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(den > 0, num / np.where(den > 0, den, 1.0), np.nan)


class SpearmanInterval(NamedTuple):
    """Spearman's rho across methods with its bootstrap interval; ``undefined`` is the share of
    resamples where rho was undefined (constant accuracies), left out of the percentiles."""

    rho: float
    ci_low: float
    ci_high: float
    n_methods: int
    n_videos: int
    undefined: float


def spearman_bootstrap(x, scores: Sequence, *, n_resamples: int = N_RESAMPLES, confidence: float = CONFIDENCE,
                       rng: int | np.random.Generator | None = None) -> SpearmanInterval:
    """Spearman's rho between a per-method quantity ``x`` (e.g. PSNR) and accuracy, with a
    bootstrap interval over test videos.

    x: (m,) one value per method; scores: m arrays (n_seeds, n_videos), per-video correctness of
    each method on the same videos (seed counts may differ). Design: the method set is fixed (it
    is the study's, ~10 methods: resampling methods would make the statistic ill-defined), the
    videos are resampled (the same videos for every method), each method's accuracy recomputed,
    and rho recomputed against the fixed ``x``. ``x``'s own sampling variance is ignored (PSNR
    over thousands of frames varies far less between video draws than accuracy does).
    """
    # rho* = spearman(x, [mean_i in resample (mean_s scores_m[s, i])]_m)
    x = np.asarray(x, dtype=np.float64)
    if x.ndim != 1 or len(scores) != x.size:
        raise ValueError(f"spearman_bootstrap: x has shape {x.shape}, scores {len(scores)} methods")
    per_video = [seed_means(s) for s in scores]
    if len({v.size for v in per_video}) != 1:
        raise ValueError("spearman_bootstrap: every method must be scored on the same videos")
    matrix = np.stack(per_video, axis=1)  # (n_videos, m)
    rho = float(spearman_rows(x, matrix.mean(axis=0)))
    boot = spearman_rows(x, resampled_means(matrix, n_resamples, rng))
    lo, hi = _percentiles(boot, confidence)
    return SpearmanInterval(rho, lo, hi, int(x.size), int(matrix.shape[0]), float(np.isnan(boot).mean()))


def association_verdict(ci_low: float, ci_high: float, margin: float = 0.5) -> str:
    """Verdict on "x does not predict y" from an interval of Spearman's rho: "reversed" if the
    interval lies above 0 (x clearly predicts y: the higher, the better), "holds" if it includes 0
    or lies below it *and* its upper end is under ``margin`` (a strong positive association --
    rho >= margin -- is ruled out), else "inconclusive" (the data allow a strong positive one)."""
    if ci_low is None or ci_high is None or math.isnan(ci_low) or math.isnan(ci_high):
        return "inconclusive"
    lo, hi = sorted((float(ci_low), float(ci_high)))
    if lo > 0:
        return "reversed"
    if hi < margin:
        return "holds"
    return "inconclusive"


def mean_half_width(x, confidence: float = CONFIDENCE) -> float:
    """Half-width (pp) of the normal-approximation interval of a method's accuracy over videos.
    x: (n_seeds, n_videos) or (n_videos,) correctness."""
    # h = z * 100 * sd(mean_s x[s, i]) / sqrt(n)
    v = seed_means(x)
    if v.size < 2:
        return math.nan
    z = NormalDist().inv_cdf(0.5 + confidence / 2.0)
    return float(z * 100.0 * v.std(ddof=1) / math.sqrt(v.size))


def decimals_for(half_width: float, max_decimals: int = 2) -> int:
    """Decimals to print a number whose 95% interval has half-width ``half_width``: round at the
    interval's first significant digit (5.3 -> 0, 0.84 -> 1, 0.05 -> 2), never below 0 or above
    ``max_decimals`` (also for a zero or missing width)."""
    # decimals = clip(-floor(log10(h)), 0, max_decimals)
    if half_width is None or not math.isfinite(half_width) or half_width <= 0:
        return max_decimals
    return int(min(max(-math.floor(math.log10(half_width)), 0), max_decimals))


#: a training curve whose last-quarter mean is within this fraction of its third-quarter mean is flat
FLAT_TOLERANCE = 0.05


def late_change(values: Sequence[float]) -> float:
    """How much a logged training curve still moves at its end: the mean of its last quarter over
    the mean of its third quarter, minus 1 (-0.12: the loss fell 12% more in the last quarter).
    Quarters by count of logged points (equally spaced iterations); NaN with fewer than 8 points
    or a non-positive third-quarter mean (a ratio means nothing there)."""
    v = np.asarray([x for x in values if x is not None and math.isfinite(x)], dtype=np.float64)
    if v.size < 8:
        return math.nan
    q = v.size // 4
    third, last = v[v.size - 2 * q:v.size - q], v[v.size - q:]
    base = float(third.mean())
    return float(last.mean()) / base - 1.0 if base > 0 else math.nan


def trend(change: float, tolerance: float = FLAT_TOLERANCE) -> str:
    """"flat", "falling" or "rising" for a ``late_change`` of a loss; "n/a" for NaN."""
    if not math.isfinite(change):
        return "n/a"
    if abs(change) <= tolerance:
        return "flat"
    return "falling" if change < 0 else "rising"
