"""Has a training curve settled? The report's trend check: how much a logged loss still moves at
its end (the last quarter against the third, or within the last constant-learning-rate stretch of
a step schedule), and how much a recognizer's held-out top-1 still moves at its final rate.
And whether a GAN phase's discriminator learned at all (its loss against its value at chance).
Pure functions of the logged numbers."""
from __future__ import annotations

import math
from typing import Sequence

import numpy as np

__all__ = ["FLAT_TOLERANCE", "HELD_OUT_FLAT_POINTS", "D_CHANCE_FRACTION", "D_LOSS_AT_CHANCE", "late_change",
           "final_segment_change", "held_out_change", "trend", "held_out_trend", "discriminator_ratio",
           "discriminator_verdict"]

#: a training curve whose last-quarter mean is within this fraction of its third-quarter mean is flat
FLAT_TOLERANCE = 0.05


def _quarters(v: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The third and the last quarter of ``v``, by count (a remainder goes to the earlier part)."""
    q = v.size // 4
    return v[v.size - 2 * q:v.size - q], v[v.size - q:]


def _last_rate_stretch(values: Sequence[float], rates: Sequence[float], who: str, what: str) -> np.ndarray:
    """The finite ``values`` logged at the final learning rate (after the schedule's last step; all
    of them for a constant rate). ``who``/``what`` name the caller and its values in the error a
    length mismatch raises."""
    v = np.asarray(values, dtype=np.float64)
    r = np.asarray(rates, dtype=np.float64)
    if v.shape != r.shape:
        raise ValueError(f"{who}: {v.size} {what} but {r.size} learning rates")
    if v.size == 0:
        return v
    changed = np.flatnonzero(~np.isclose(r, r[-1], rtol=1e-9, atol=0.0))
    segment = v[changed[-1] + 1:] if changed.size else v
    return segment[np.isfinite(segment)]


def late_change(values: Sequence[float]) -> float:
    """How much a logged training curve still moves at its end: the mean of its last quarter over
    the mean of its third quarter, minus 1 (-0.12: the loss fell 12% more in the last quarter).
    Quarters by count of logged points (equally spaced iterations); NaN with fewer than 8 points
    or a non-positive third-quarter mean (a ratio means nothing there)."""
    v = np.asarray([x for x in values if x is not None and math.isfinite(x)], dtype=np.float64)
    if v.size < 8:
        return math.nan
    third, last = _quarters(v)
    base = float(third.mean())
    return float(last.mean()) / base - 1.0 if base > 0 else math.nan


def final_segment_change(values: Sequence[float], rates: Sequence[float], min_points: int = 6) -> float:
    """How much a loss still moves in the last constant-learning-rate stretch of a step schedule: the
    mean of that stretch's second half over its first half, minus 1 (NaN with fewer than
    ``min_points`` logged points there, or a non-positive first-half mean). A step late in training
    lowers the loss after it by itself; this asks whether the loss had settled at the final rate.
    values, rates: the logged loss and learning rate at each logged point, in order."""
    segment = _last_rate_stretch(values, rates, "final_segment_change", "losses")
    if segment.size == 0 or segment.size < min_points:
        return math.nan
    half = segment.size // 2
    first, second = float(segment[:half].mean()), float(segment[segment.size - half:].mean())
    return second / first - 1.0 if first > 0 else math.nan


#: a recognizer's held-out top-1 that moves by at most this many points over its last-rate stretch is
#: at a plateau: one video of the default's 48 validation videos is 2.1 points, so less is below what
#: the split can tell (fixed before any study read it)
HELD_OUT_FLAT_POINTS = 2.0


def held_out_change(accuracy: Sequence[float], rates: Sequence[float]) -> float:
    """Is a recognizer's held-out top-1 still moving at the end of training, in points: over the
    validated points of its last constant-learning-rate stretch, the mean of the last quarter minus
    that of the third (as :func:`late_change` reads a loss, within the stretch as
    :func:`final_segment_change` does: the step itself raises accuracy, and so does the first part
    of the stretch; the question is whether it had settled by the end). ``accuracy``: the logged
    fractions, NaN where a row was not validated; ``rates``: the learning rate of each row. NaN with
    fewer than 4 validated points in the stretch. Training loss on a few hundred videos keeps falling
    as the network memorises them; whether longer training would change the instrument is a
    held-out question."""
    points = _last_rate_stretch(accuracy, rates, "held_out_change", "accuracies")
    if points.size < 4:
        return math.nan
    third, last = _quarters(points)
    return 100.0 * (float(last.mean()) - float(third.mean()))


def held_out_trend(change_points: float, tolerance: float = HELD_OUT_FLAT_POINTS) -> str:
    """"plateau", "rising" or "falling" for a ``held_out_change`` (points); "n/a" for NaN."""
    if not math.isfinite(change_points):
        return "n/a"
    if abs(change_points) <= tolerance:
        return "plateau"
    return "rising" if change_points > 0 else "falling"


def trend(change: float, tolerance: float = FLAT_TOLERANCE) -> str:
    """"flat", "falling" or "rising" for a ``late_change`` of a loss; "n/a" for NaN."""
    if not math.isfinite(change):
        return "n/a"
    if abs(change) <= tolerance:
        return "flat"
    return "falling" if change < 0 else "rising"


#: The discriminator loss of each GAN type (``arsr.train.config.GAN_TYPES``; ``arsr.losses.gan_loss``,
#: ``ragan_d_loss``) while D cannot tell HR from SR (equal logits): vanilla BCE(real) + BCE(fake) = 2 ln 2,
#: RaGAN the mean of its two terms = ln 2. (Here, not beside the losses: only the report reads them.)
D_LOSS_AT_CHANCE = {"vanilla": 2 * math.log(2), "ragan": math.log(2)}
#: a discriminator whose loss over the last quarter of its phase stays above this fraction of its
#: value at chance has not learned to tell SR from HR
D_CHANCE_FRACTION = 0.9


def discriminator_ratio(d_loss: Sequence[float], chance: float) -> float:
    """Mean discriminator loss over the last quarter of a phase's logged points (all of them when
    fewer than 4), divided by its value at chance: about 1 while D cannot tell SR from HR (the
    adversarial term then only adds noise to the generator), well below 1 once it can. nan without
    finite points."""
    v = np.asarray(d_loss, dtype=np.float64)
    v = v[np.isfinite(v)]
    if not v.size:
        return math.nan
    last = _quarters(v)[1] if v.size >= 4 else v
    return float(last.mean() / chance)


def discriminator_verdict(ratio: float, fraction: float = D_CHANCE_FRACTION) -> str:
    """"at chance" (ratio >= fraction), "learning", or "n/a" for nan."""
    if not math.isfinite(ratio):
        return "n/a"
    return "at chance" if ratio >= fraction else "learning"
