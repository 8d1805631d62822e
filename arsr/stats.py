"""Intervals that decide the study's claims: a bootstrap over every source of variance, verdicts,
their family-wise decision (Holm), and the digits a number deserves.

**What is resampled.** A method's per-video top-1 correctness is ``x[s, r, i]`` in {0, 1}: ``s``
an SR training seed, ``r`` a recogniser training seed, ``i`` a test video (shapes below). The
design is crossed: every SR model and every recogniser scores every video, so a seed's effect is
shared by all ~144 videos; resampling the (s, r) cells within each video would average it away.
The bootstrap is Owen's pigeonhole bootstrap for crossed random effects (A. B. Owen, "The
pigeonhole bootstrap", Ann. Appl. Stat. 1(2), 2007): per resample, draw the videos with
replacement (one draw for every method compared: paired), the recogniser seeds with replacement
(one draw for every method: the same instrument scores them all, so an effect a recogniser has on
every method cancels in a difference), and each method's own SR seeds with replacement
(different methods are different trained models), and take each method's mean over the drawn
grid: ``mean* = sum_{s,r,i} w_s w_r w_i x[s, r, i]`` with multinomial weights. A row without SR
seeds (hr, bicubic, the LR baselines: one row, or identical rows) has no seed draw. Two rows that
share an SR model (SoSR+ToSR seed k uses SoSR seed k) are drawn independently, which overstates
the variance of their difference: conservative there.

**Small factors, rescaled.** Resampling n levels with replacement shrinks a factor's variance by
(n - 1) / n: with 3 seeds, by a third. Each factor's weights are therefore rescaled about the
uniform weight, ``w = 1/n + sqrt(n / (n - 1)) (c/n - 1/n)`` (c: the multinomial counts; Rao & Wu's
rescaling, J. Am. Stat. Assoc. 83, 1988), which makes each factor's share of the bootstrap
variance unbiased (for a single factor the variance is exactly s^2 / n; weights may dip below 0).

Inputs are per-video 0/1 top-1 correctness arrays ``(n_sr, n_rec, n_videos)``; ``(n_seeds,
n_videos)`` is ``(n_sr, 1, n_videos)`` and ``(n_videos,)`` one seed of each. Percentages are
percentage points (pp). All resampling is drawn from a ``numpy.random.Generator`` made from
``rng`` (an int seed, a Generator, or None for seed 0), so results are reproducible.

**Why this design: simulated null studies** (``python benchmarks/bootstrap_null.py``: 1000 studies
per row, 5000 resamples; logistic model with per-video difficulty shared by the methods,
method x video, SR-seed, recogniser and method x recogniser effects, Bernoulli cells; 144 videos,
3 x 3 seeds, accuracy 54-89%; 16 claims like the study's, every one false). Rates of: "m1 beats
m2" holding at 95% (one-sided, 2.5% nominal) / an A/A claim (a method against itself retrained
with other SR seeds) decided at 95% / any of the 16 decided by Holm at 5% (family-wise):

    observed spread (SR seeds / recognisers)  old (videos)      pigeonhole         rescaled (this)
    the study's      2.6 / 2.7 pp             9.2 / 22 / 57%    0.5 / 1.1 / 0.1%   0.0 / 0.1 / 0.0%
    seed-heavy       3.9 / 3.4 pp             22 / 43 / 95%     2.5 / 3.8 / 5.4%   0.7 / 1.7 / 0.3%
    seed-dominated   6.2 / 2.4 pp             29 / 62 / 99%     5.1 / 9.4 / 18%    2.6 / 4.3 / 6.5%

The old bootstrap ignores the seeds: its intervals are too short at every size. The pigeonhole
counts the cells' Bernoulli noise once per set of resampled factors (Owen's upward bias), so at
the study's size it is conservative (bootstrap sd of m1 - m2: 3.7 pp, rescaled 4.5, against 2.8
over studies); but a method's 3 seeds give its seed variance 2 degrees of freedom, and Holm's
first level (0.05 / 16) reads the far tail: unrescaled, the family-wise rate passes 5% once the
seed spread is ~1.5x the study's; rescaled, it is 0.3% there and ~6% at 2.4x.
Resampling one factor at a time (no product terms, less noise counted: sd 3.4 pp) fails Holm as
soon as the seeds weigh more (family-wise 4.4% at the study's size, 16% and 29%): the few-seed
tails need the conservatism. The price is power: with m1 truly better by 7.7 pp (11.8 pp), "m1
beats m2" holds at 95% in 40% (91%) of studies and at family level in 2% (34%); unrescaled in 59%
(98%) and 15% (66%) (300 studies, 2000 resamples, ``--effect 0.6`` and ``1.0``).

**One family.** Every claim also gets a p-value consistent with its displayed percentile interval
(:func:`decisive_p`: the smallest alpha at which the (1 - alpha) interval decides the claim, so
``p <= 0.05`` exactly when the 95% interval does, to 1e-10), and the claims are decided together
by Holm's step-down (:func:`holm`, :func:`family_verdicts`): a claim holds or is reversed at family
level only if Holm rejects it, with its verdict at the level it was tested at. The report's prose
states these family verdicts; each claim's own 95% verdict is shown beside its interval.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from statistics import NormalDist
from typing import Callable, Mapping, NamedTuple, Sequence

import numpy as np

__all__ = [
    "VERDICTS",
    "N_RESAMPLES",
    "CONFIDENCE",
    "FAMILY_ALPHA",
    "PairedDifference",
    "BestOfComparison",
    "SpearmanInterval",
    "HolmResult",
    "seed_means",
    "cell_mean_std",
    "resampled_means",
    "bootstrap_means",
    "paired_bootstrap",
    "verdict",
    "best_of",
    "compare_with_best",
    "rank_rows",
    "spearman_rows",
    "spearman_bootstrap",
    "association_verdict",
    "association_direction",
    "decisive_p",
    "holm",
    "family_verdicts",
    "mean_half_width",
    "decimals_for",
]

VERDICTS = ("holds", "reversed", "inconclusive")
#: Bootstrap resamples per interval: enough for stable 2.5/97.5 percentiles (Monte Carlo error of
#: an endpoint well under a tenth of the interval's width) and for p-values down to Holm's first
#: level for 16 claims (0.05 / 16: about 8 draws beyond each end of that interval).
N_RESAMPLES = 5000
CONFIDENCE = 0.95
#: The family-wise error rate of the claims taken together (Holm).
FAMILY_ALPHA = 0.05
#: Upper bound on the elements of one block of resampling counts (memory: 8 bytes each).
_BLOCK_ELEMENTS = 2_000_000


def _generator(rng: int | np.random.Generator | None) -> np.random.Generator:
    if isinstance(rng, np.random.Generator):
        return rng
    return np.random.default_rng(0 if rng is None else rng)


def _as_cube(x, name: str) -> np.ndarray:
    """x: (n_sr, n_rec, n_videos), (n_seeds, n_videos) = (n_seeds, 1, n_videos) or (n_videos,)."""
    arr = np.asarray(x, dtype=np.float64)
    if arr.ndim == 1:
        arr = arr[None, None, :]
    elif arr.ndim == 2:
        arr = arr[:, None, :]
    if arr.ndim != 3:
        raise ValueError(f"{name}: expected (n_sr, n_rec, n_videos), (n_seeds, n_videos) or (n_videos,), "
                         f"got shape {arr.shape}")
    if 0 in arr.shape:
        raise ValueError(f"{name}: no seeds or no videos (shape {arr.shape})")
    if not np.isfinite(arr).all():
        raise ValueError(f"{name}: per-video scores must be finite (0/1 correctness)")
    return arr


def seed_means(x) -> np.ndarray:
    """Per-video mean over SR and recogniser seeds. x: (n_sr, n_rec, n_videos), (n_seeds,
    n_videos) or (n_videos,) -> (n_videos,)."""
    return _as_cube(x, "scores").mean(axis=(0, 1))


def cell_mean_std(x) -> tuple[float, float, int]:
    """A table cell: mean and std (pp) of a method's accuracy over its (SR seed, recogniser seed)
    cells, and how many cells. x: (n_sr, n_rec, n_videos) (or fewer axes, as :func:`seed_means`).
    The std is NaN for one cell."""
    # cells[s, r] = 100 * mean_i x[s, r, i];  std = sd(cells, ddof=1)
    cells = 100.0 * _as_cube(x, "scores").mean(axis=2).ravel()
    std = float(cells.std(ddof=1)) if cells.size > 1 else math.nan
    return float(cells.mean()), std, int(cells.size)


def _counts(gen: np.random.Generator, b: int, n: int) -> np.ndarray:
    """(b, n) counts of n draws with replacement from n levels, b times."""
    idx = gen.integers(0, n, size=(b, n))
    return np.bincount((np.arange(b)[:, None] * n + idx).ravel(), minlength=b * n).reshape(b, n).astype(np.float64)


def resampled_means(values, n_resamples: int = N_RESAMPLES,
                    rng: int | np.random.Generator | None = None) -> np.ndarray:
    """Means of plain bootstrap resamples of the rows of ``values``: the same resampled rows
    (videos) for every column; no rescaling (the one-factor bootstrap the study used before
    :func:`bootstrap_means`).

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
        out[start:start + b] = _counts(gen, b, n) @ v / n
    return out[:, 0] if squeeze else out


def _rescaled_weights(gen: np.random.Generator, b: int, n: int, rescale: bool = True) -> np.ndarray:
    """(b, n) weights of one factor with n levels: rescaled bootstrap counts; a single level
    (nothing to resample) keeps weight 1 and draws nothing."""
    # w = 1/n + sqrt(n / (n - 1)) * (c/n - 1/n),  c ~ Multinomial(n, 1/n)
    if n == 1:
        return np.ones((b, 1))
    return 1.0 / n + (math.sqrt(n / (n - 1.0)) if rescale else 1.0) * (_counts(gen, b, n) / n - 1.0 / n)


def bootstrap_means(arrays: Mapping[str, np.ndarray], n_resamples: int = N_RESAMPLES,
                    rng: int | np.random.Generator | None = None, *, rescale: bool = True) -> dict[str, np.ndarray]:
    """Rescaled pigeonhole bootstrap of each array's mean (see the module's docstring): per
    resample one draw of videos and one of recogniser seeds shared by all arrays, and each
    array's own draw of its SR seeds. ``rescale=False``: Owen's plain pigeonhole (for comparison).

    arrays[k]: (n_sr_k, n_rec, n_videos) (or (n_seeds, n_videos), (n_videos,)); every array holds
    the same recogniser seeds and videos in the same order, SR seed counts may differ. Returns
    {k: (n_resamples,)} resampled means in the arrays' units. Draw order (reproducible): per block
    of resamples, videos, recogniser seeds, then each array's SR seeds in ``arrays``' order.
    """
    # mean*_k = sum_{s,r,i} w_ks w_r w_i x_k[s, r, i],  w: rescaled multinomial weights (module docstring)
    cubes = {k: _as_cube(v, str(k)) for k, v in arrays.items()}
    if not cubes:
        raise ValueError("bootstrap_means: no arrays")
    shapes = {k: c.shape[1:] for k, c in cubes.items()}
    if len(set(shapes.values())) != 1:
        raise ValueError("bootstrap_means: every array must hold the same recogniser seeds and videos "
                         f"(n_rec, n_videos), got {shapes}; align them on the seeds and videos they share")
    n_rec, n_videos = next(iter(shapes.values()))
    gen = _generator(rng)
    out = {k: np.empty(n_resamples) for k in cubes}
    block = max(1, _BLOCK_ELEMENTS // max(n_videos, max(c.shape[0] * n_rec for c in cubes.values())))
    for start in range(0, n_resamples, block):
        b = min(block, n_resamples - start)
        w_video = _rescaled_weights(gen, b, n_videos, rescale)  # (b, n_videos)
        w_rec = _rescaled_weights(gen, b, n_rec, rescale)  # (b, n_rec)
        for k, x in cubes.items():
            n_sr = x.shape[0]
            w_sr = _rescaled_weights(gen, b, n_sr, rescale)  # (b, n_sr)
            per_cell = (x.reshape(n_sr * n_rec, n_videos) @ w_video.T).reshape(n_sr, n_rec, b)
            per_seed = (per_cell * w_rec.T[None]).sum(axis=1)  # (n_sr, b)
            out[k][start:start + b] = (per_seed * w_sr.T).sum(axis=0)
    return out


def _pigeonhole_variance(x: np.ndarray) -> float:
    """Exact variance of :func:`bootstrap_means`' draws of one array's mean (no resampling).
    x: (n_sr, n_rec, n_videos)."""
    # var = sum_{K nonempty} prod_{f in K} (lambda_f^2 / n_f^2) * sum(e_K^2),  e_K: x averaged off K, centred along K
    var = 0.0
    for subset in range(1, 8):
        axes = [a for a in range(3) if subset >> a & 1]
        if any(x.shape[a] == 1 for a in axes):
            continue
        effect = x.mean(axis=tuple(a for a in range(3) if a not in axes), keepdims=True)
        for a in axes:
            effect = effect - effect.mean(axis=a, keepdims=True)
        scale = math.prod(1.0 / (x.shape[a] * (x.shape[a] - 1.0)) for a in axes)  # lambda^2 / n^2 = 1 / (n (n-1))
        var += scale * float((effect ** 2).sum())
    return var


def _sorted_finite(samples: np.ndarray) -> np.ndarray:
    s = np.asarray(samples, dtype=np.float64)
    return np.sort(s[np.isfinite(s)])


def _interval(sorted_draws: np.ndarray, confidence: float) -> tuple[float, float]:
    """Percentile interval at ``confidence`` of sorted draws (numpy's linear interpolation);
    confidence 1: the draws' range, 0: their median. NaN without draws."""
    # q(p) = s[floor(h)] + (h - floor(h)) (s[floor(h) + 1] - s[floor(h)]),  h = p (n - 1)
    n = sorted_draws.size
    if n == 0:
        return math.nan, math.nan
    tail = min(max((1.0 - confidence) / 2.0, 0.0), 0.5)

    def quantile(p: float) -> float:
        h = p * (n - 1)
        lo = int(math.floor(h))
        hi = min(lo + 1, n - 1)
        return float(sorted_draws[lo] + (h - lo) * (sorted_draws[hi] - sorted_draws[lo]))

    return quantile(tail), quantile(1.0 - tail)


def decisive_p(verdict_at: Callable[[float], str], tol: float = 1e-10) -> float:
    """A claim's p-value: the smallest alpha at which ``verdict_at(1 - alpha)`` (its verdict from
    the (1 - alpha) interval) is not "inconclusive", by bisection; so ``p <= level`` exactly when
    the claim is decided at ``level`` (to ``tol``). 1.0 if even the median decides nothing, 0.0 if
    the draws' whole range decides it (in effect p below about 2 / n_resamples). Needs a verdict that, once
    decided, stays decided as alpha grows (the interval shrinks): true of :func:`verdict`, the
    intersection-union rule of :func:`compare_with_best` and :func:`association_verdict`."""
    if verdict_at(0.0) == "inconclusive":
        return 1.0
    if verdict_at(1.0) != "inconclusive":
        return 0.0
    lo, hi = 0.0, 1.0  # decided at alpha = hi, not at lo
    while hi - lo > tol:
        mid = 0.5 * (lo + hi)
        if verdict_at(1.0 - mid) == "inconclusive":
            lo = mid
        else:
            hi = mid
    return hi


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


@dataclass(frozen=True)
class PairedDifference:
    """mean(a) - mean(b) in percentage points with its bootstrap interval (at the confidence asked),
    ``n_seeds`` SR seeds (the larger count of the two), ``n_rec_seeds`` recogniser seeds,
    ``p_value`` (:func:`decisive_p` of the claim "differs from 0"); ``draws``: the sorted
    bootstrap differences (pp), for :meth:`interval` and :meth:`verdict_at` at other levels."""

    difference: float
    ci_low: float
    ci_high: float
    n_videos: int
    n_seeds: int
    n_rec_seeds: int = 1
    p_value: float = math.nan
    draws: np.ndarray | None = field(default=None, repr=False, compare=False)

    def interval(self, confidence: float) -> tuple[float, float]:
        """The percentile interval at ``confidence`` (pp)."""
        if self.draws is None:
            raise ValueError("PairedDifference: no bootstrap draws kept; make it with paired_bootstrap")
        return _interval(self.draws, confidence)

    def verdict_at(self, confidence: float, expected_sign: int = +1) -> str:
        """:func:`verdict` of the interval at ``confidence``."""
        return verdict(*self.interval(confidence), expected_sign)


def _paired(estimate: float, draws: np.ndarray, n_videos: int, n_seeds: int, n_rec: int,
            confidence: float) -> PairedDifference:
    draws = _sorted_finite(draws)
    lo, hi = _interval(draws, confidence)
    p = decisive_p(lambda c: verdict(*_interval(draws, c)))
    return PairedDifference(float(estimate), lo, hi, int(n_videos), int(n_seeds), int(n_rec), p, draws)


def paired_bootstrap(a, b, *, n_resamples: int = N_RESAMPLES, confidence: float = CONFIDENCE,
                     rng: int | np.random.Generator | None = None) -> PairedDifference:
    """Paired bootstrap interval of the accuracy difference of two methods over videos,
    recogniser seeds and SR seeds (:func:`bootstrap_means`; the percentile interval).

    a, b: (n_sr, n_rec, n_videos) 0/1 top-1 correctness of methods A and B, the same recogniser
    seeds and videos in the same order (SR seed counts may differ: a reference row has one); or
    (n_seeds, n_videos), (n_videos,). Returns difference, ci_low, ci_high (pp), n_videos, n_seeds,
    n_rec_seeds, p_value.
    """
    # difference = 100 (mean a - mean b);  CI = percentiles of 100 (mean* a - mean* b)
    a, b = _as_cube(a, "a"), _as_cube(b, "b")
    if a.shape[1:] != b.shape[1:]:
        raise ValueError(f"paired_bootstrap: a and b must hold the same recogniser seeds and videos, got "
                         f"shapes {a.shape} and {b.shape} (n_sr, n_rec, n_videos)")
    boot = bootstrap_means({"a": a, "b": b}, n_resamples, rng)
    return _paired(100.0 * (a.mean() - b.mean()), 100.0 * (boot["a"] - boot["b"]), a.shape[2],
                   max(a.shape[0], b.shape[0]), a.shape[1], confidence)


def best_of(scores: Mapping[str, np.ndarray]) -> str:
    """The key of the highest mean score (ties: the first in ``scores``' order)."""
    if not scores:
        raise ValueError("best_of: no candidates")
    means = {k: float(np.mean(v)) for k, v in scores.items()}
    return max(means, key=lambda k: (means[k], -list(means).index(k)))


def _intersection_union(verdicts: Sequence[str]) -> str:
    if all(v == "holds" for v in verdicts):
        return "holds"
    return "reversed" if any(v == "reversed" for v in verdicts) else "inconclusive"


@dataclass(frozen=True)
class BestOfComparison:
    """``target`` against the best other candidate (by mean): ``against``, the paired ``result``,
    the overall ``verdict`` at the confidence asked (see :func:`compare_with_best`), every ``pairwise``
    comparison (other -> (PairedDifference, verdict)), the claimed ``expected_sign`` and the
    claim's ``p_value`` (:func:`decisive_p` of :meth:`verdict_at`)."""

    against: str
    result: PairedDifference
    verdict: str
    pairwise: dict
    expected_sign: int = +1
    p_value: float = math.nan

    def verdict_at(self, confidence: float) -> str:
        """The intersection-union verdict from every pairwise interval at ``confidence``."""
        return _intersection_union([r.verdict_at(confidence, self.expected_sign) for r, _ in self.pairwise.values()])


#: compare_with_best's key for its target among the others' names (a tuple: no name equals it)
_TARGET = ("target",)


def compare_with_best(target, others: Mapping[str, np.ndarray], *, expected_sign: int = +1,
                      n_resamples: int = N_RESAMPLES, confidence: float = CONFIDENCE,
                      rng: int | np.random.Generator | None = 0) -> BestOfComparison:
    """"``target`` beats every one of ``others``" (expected_sign +1).

    target, others[k]: (n_sr, n_rec, n_videos) correctness on the same recogniser seeds and videos.
    The reported comparison is with the best other by mean. The verdict is an intersection-union
    test: "holds" only if the paired interval against *every* other excludes 0 in the claimed
    direction (each at ``confidence``; no multiplicity correction is needed for "beats all");
    "reversed" if some other is clearly better (its interval excludes 0 the other way); else
    "inconclusive". One :func:`bootstrap_means` draw serves every pair (target first, then
    ``others`` in order), so the pair with the first other equals ``paired_bootstrap(target,
    other, rng=seed)`` for an int seed.
    """
    # d*_k = 100 (mean* target - mean* others[k]);  verdict = holds iff every pairwise CI holds
    if not others:
        raise ValueError("compare_with_best: no other candidates")
    names = list(others)
    t = _as_cube(target, "target")
    cubes = {_TARGET: t, **{n: _as_cube(others[n], n) for n in names}}
    for name in names:
        if cubes[name].shape[1:] != t.shape[1:]:
            raise ValueError(f"compare_with_best: {name} holds shape {cubes[name].shape}, the target {t.shape}: "
                             "both must hold the same recogniser seeds and videos")
    boot = bootstrap_means(cubes, n_resamples, rng)
    pairwise = {}
    for name in names:
        o = cubes[name]
        r = _paired(100.0 * (t.mean() - o.mean()), 100.0 * (boot[_TARGET] - boot[name]), t.shape[2],
                    max(t.shape[0], o.shape[0]), t.shape[1], confidence)
        pairwise[name] = (r, verdict(r.ci_low, r.ci_high, expected_sign))
    against = best_of({n: cubes[n] for n in names})
    p = decisive_p(lambda c: _intersection_union([r.verdict_at(c, expected_sign) for r, _ in pairwise.values()]))
    return BestOfComparison(against, pairwise[against][0], _intersection_union([v for _, v in pairwise.values()]),
                            pairwise, expected_sign, p)


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


def association_verdict(ci_low: float, ci_high: float, margin: float = 0.5) -> str:
    """Verdict on "x does not predict y" from an interval of Spearman's rho: "reversed" if the
    interval excludes 0 (x predicts y: above 0, the higher the better; below 0, inversely -- see
    :func:`association_direction`), else "holds" if it lies inside (-margin, +margin) (a strong
    association either way is ruled out), else "inconclusive". An interval that excludes 0 but
    lies within the margins (a weak, clear association) reads "reversed"."""
    if ci_low is None or ci_high is None or math.isnan(ci_low) or math.isnan(ci_high):
        return "inconclusive"
    lo, hi = sorted((float(ci_low), float(ci_high)))
    if lo > 0 or hi < 0:
        return "reversed"
    if -margin < lo and hi < margin:
        return "holds"
    return "inconclusive"


def association_direction(ci_low: float, ci_high: float) -> str | None:
    """Which way a rho interval that excludes 0 points: "positive" (above 0: the higher x, the
    higher y), "inverse" (below 0), else None -- to word a "reversed" association."""
    if ci_low is None or ci_high is None or math.isnan(ci_low) or math.isnan(ci_high):
        return None
    lo, hi = sorted((float(ci_low), float(ci_high)))
    return "positive" if lo > 0 else "inverse" if hi < 0 else None


@dataclass(frozen=True)
class SpearmanInterval:
    """Spearman's rho across methods with its bootstrap interval (at the confidence asked); ``undefined``
    is the share of resamples where rho was undefined (constant accuracies), left out of the
    percentiles; ``n_seeds`` the most SR seeds of any method; ``p_value`` (:func:`decisive_p`) of
    :func:`association_verdict` with ``margin``; ``draws`` the sorted defined rho draws."""

    rho: float
    ci_low: float
    ci_high: float
    n_methods: int
    n_videos: int
    undefined: float
    n_seeds: int = 1
    n_rec_seeds: int = 1
    margin: float = 0.5
    p_value: float = math.nan
    draws: np.ndarray | None = field(default=None, repr=False, compare=False)

    def interval(self, confidence: float) -> tuple[float, float]:
        """The percentile interval of rho at ``confidence``."""
        if self.draws is None:
            raise ValueError("SpearmanInterval: no bootstrap draws kept; make it with spearman_bootstrap")
        return _interval(self.draws, confidence)

    def verdict_at(self, confidence: float) -> str:
        """:func:`association_verdict` of the interval at ``confidence`` with ``margin``."""
        return association_verdict(*self.interval(confidence), self.margin)


def spearman_bootstrap(x, scores: Sequence, *, n_resamples: int = N_RESAMPLES, confidence: float = CONFIDENCE,
                       rng: int | np.random.Generator | None = None, margin: float = 0.5) -> SpearmanInterval:
    """Spearman's rho between a per-method quantity ``x`` (e.g. PSNR) and accuracy, with a
    bootstrap interval over videos, recogniser seeds and SR seeds (:func:`bootstrap_means`).

    x: (m,) one value per method; scores: m arrays (n_sr, n_rec, n_videos), per-video correctness
    of each method on the same recogniser seeds and videos (SR seed counts may differ). The method
    set is fixed (the study's, ~10 methods: resampling methods would make the statistic
    ill-defined); each resample's accuracies are ranked against the fixed ``x``, whose own
    sampling variance is ignored (PSNR over thousands of frames varies far less between draws
    than accuracy does). ``margin``: the :func:`association_verdict` margin of ``p_value``.
    """
    # rho* = spearman(x, [mean*_m]_m)
    x = np.asarray(x, dtype=np.float64)
    if x.ndim != 1 or len(scores) != x.size:
        raise ValueError(f"spearman_bootstrap: x has shape {x.shape}, scores {len(scores)} methods")
    cubes = [_as_cube(s, f"scores[{j}]") for j, s in enumerate(scores)]
    if len({c.shape[1:] for c in cubes}) != 1:
        raise ValueError("spearman_bootstrap: every method must be scored on the same videos and recogniser seeds, "
                         f"got (n_sr, n_rec, n_videos) {[c.shape for c in cubes]}")
    boot = bootstrap_means({j: c for j, c in enumerate(cubes)}, n_resamples, rng)
    rhos = spearman_rows(x, np.stack([boot[j] for j in range(len(cubes))], axis=1))
    rho = float(spearman_rows(x, np.array([c.mean() for c in cubes])))
    draws = _sorted_finite(rhos)
    lo, hi = _interval(draws, confidence)
    p = decisive_p(lambda c: association_verdict(*_interval(draws, c), margin))
    return SpearmanInterval(rho, lo, hi, int(x.size), int(cubes[0].shape[2]), float(np.isnan(rhos).mean()),
                            max(c.shape[0] for c in cubes), int(cubes[0].shape[1]), float(margin), p, draws)


class HolmResult(NamedTuple):
    """Holm's step-down on m p-values: ``rejected`` per hypothesis, the ``level`` it was compared
    with (alpha / (m - k + 1) at its rank k, ties in input order), the Holm-``adjusted`` p-value."""

    rejected: tuple
    levels: tuple
    adjusted: tuple


def holm(p_values: Sequence[float], alpha: float = FAMILY_ALPHA) -> HolmResult:
    """Holm's step-down (Scand. J. Stat. 6, 1979): sort the p-values, reject while the k-th
    smallest is at most alpha / (m - k + 1), stop at the first that is not. Controls the
    family-wise error rate at ``alpha`` under any dependence. A NaN p-value (no interval) counts
    as 1. p_values: (m,) -> (rejected, levels, adjusted), each (m,) in input order."""
    # reject p_(k) iff p_(j) <= alpha / (m - j + 1) for all j <= k;  adjusted_(k) = max_{j<=k} min(1, (m - j + 1) p_(j))
    p = np.array([1.0 if v is None or math.isnan(v) else float(v) for v in p_values])
    m = p.size
    order = np.argsort(p, kind="stable")
    rejected, levels, adjusted = [False] * m, [math.nan] * m, [math.nan] * m
    going, running = True, 0.0
    for k, i in enumerate(order):
        level = alpha / (m - k)
        going = going and p[i] <= level
        running = max(running, min(1.0, (m - k) * p[i]))
        rejected[i], levels[i], adjusted[i] = bool(going), level, running
    return HolmResult(tuple(rejected), tuple(levels), tuple(adjusted))


def family_verdicts(p_values: Sequence[float], verdicts_at: Sequence[Callable[[float], str]],
                    alpha: float = FAMILY_ALPHA) -> list[str]:
    """The claims' verdicts as one family: a claim Holm rejects (:func:`holm`) gets its verdict at
    the level it was tested at, ``verdicts_at[k](1 - level)`` ("holds" or "reversed"), every
    other claim "inconclusive". The report's prose states these. p_values: (m,) from
    :func:`decisive_p` (the results' ``p_value``); verdicts_at: m callables confidence -> verdict
    (a result's ``verdict_at``, its claimed direction bound)."""
    if len(p_values) != len(verdicts_at):
        raise ValueError(f"family_verdicts: {len(p_values)} p-values, {len(verdicts_at)} verdict functions")
    h = holm(p_values, alpha)
    return [verdicts_at[k](1.0 - h.levels[k]) if h.rejected[k] else "inconclusive" for k in range(len(p_values))]


def mean_half_width(x, confidence: float = CONFIDENCE) -> float:
    """Half-width (pp) of the normal-approximation interval of a method's accuracy with the exact
    variance of :func:`bootstrap_means`' draws (videos, recogniser and SR seeds resampled; for one
    seed z * sd / sqrt(n_videos)). x: (n_sr, n_rec, n_videos), (n_seeds, n_videos) or (n_videos,)."""
    # h = z * 100 * sqrt(var*),  var* = sum over factor sets K of prod_K 1/(n_f (n_f - 1)) * SS(K effect)
    cube = _as_cube(x, "scores")
    if cube.shape[2] < 2:
        return math.nan
    z = NormalDist().inv_cdf(0.5 + confidence / 2.0)
    return float(z * 100.0 * math.sqrt(_pigeonhole_variance(cube)))
def decimals_for(half_width: float, max_decimals: int = 2) -> int:
    """Decimals to print a number whose 95% interval has half-width ``half_width``: round at the
    interval's first significant digit (5.3 -> 0, 0.84 -> 1, 0.05 -> 2), never below 0 or above
    ``max_decimals`` (also for a zero or missing width)."""
    # decimals = clip(-floor(log10(h)), 0, max_decimals)
    if half_width is None or not math.isfinite(half_width) or half_width <= 0:
        return max_decimals
    return int(min(max(-math.floor(math.log10(half_width)), 0), max_decimals))
