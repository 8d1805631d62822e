"""The claims as the report shows them: the claims table (estimate, interval, verdicts, p) with
each number rounded at its interval's first significant digit, and the paragraph that says what
the family verdicts say."""
from __future__ import annotations

import math

import pandas as pd

from ... import stats
from .names import DASH
from .tables import _notes


VERDICT_LABELS = {"holds": "holds", "reversed": "reversed", "inconclusive": "inconclusive"}


def _signed(value: float, decimals: int) -> str:
    return DASH if value is None or not math.isfinite(value) else f"{value:+.{decimals}f}".replace("-", "−")


def _claim_decimals(row) -> int:
    """The interval's digits (:func:`arsr.stats.decimals_for`), one more (up to 3) while an
    endpoint that is not 0 would print as 0 -- "+0" must not hide which side of 0 it is on."""
    d = stats.decimals_for((row.ci_high - row.ci_low) / 2.0)
    ends = [v for v in (row.ci_low, row.ci_high) if v is not None and math.isfinite(v) and v != 0]
    while d < 3 and any(round(v, d) == 0 for v in ends):
        d += 1
    return d


def _p_text(p: float) -> str:
    """A p-value as the bootstrap can tell it: below 1/2500 of the resamples it reads "< 0.0004"."""
    if p is None or not math.isfinite(p):
        return DASH
    if p < 4e-4:
        return "< 0.0004"
    return f"{p:.2g}" if p < 0.01 else f"{p:.2f}"


def claims_display(claims: pd.DataFrame) -> pd.DataFrame:
    """The claims as the report shows them: claim, compared, estimate (pp or ρ), 95% CI, its own
    verdict, p, and the family verdict (Holm); each number rounded at its interval's first
    significant digit (:func:`arsr.stats.decimals_for`)."""
    rows = []
    alpha = claims.attrs.get("alpha", stats.FAMILY_ALPHA)
    for r in claims.itertuples():
        d = _claim_decimals(r)
        unit = " pp" if r.unit == "pp" else ""
        prefix = "ρ = " if r.unit == "rho" else ""
        rows.append({"claim": r.claim, "compared": r.comparison,
                     "estimate": f"{prefix}{_signed(r.difference, d)}{unit}",
                     "95% CI": f"[{_signed(r.ci_low, d)}, {_signed(r.ci_high, d)}]",
                     "verdict (95%)": VERDICT_LABELS.get(r.verdict, r.verdict), "p": _p_text(r.p_value),
                     f"family verdict (Holm, {alpha:g})": VERDICT_LABELS.get(r.family_verdict, r.family_verdict)})
    columns = ["claim", "compared", "estimate", "95% CI", "verdict (95%)", "p", f"family verdict (Holm, {alpha:g})"]
    table = pd.DataFrame(rows, columns=columns).set_index("claim")
    return _notes(table, list(claims.attrs.get("notes", [])))


def claims_prose(claims: pd.DataFrame) -> str:
    """One sentence that says what the family verdicts say (templated from :func:`claims_table`):
    how many claims the family (Holm's step-down) decides each way, naming with estimate and
    interval only those it decides; the table holds every claim, its own 95% verdict among them,
    so the prose does not repeat it."""
    if claims.empty:
        return "No claim could be tested: the results they compare are missing (see the notes)."
    alpha = claims.attrs.get("alpha", stats.FAMILY_ALPHA)
    direction = claims.attrs.get("direction", {})
    n_rec = int(claims["n_rec_seeds"].max())

    def named(r) -> str:
        d = _claim_decimals(r)
        estimate = f"ρ = {_signed(r.difference, d)}" if r.unit == "rho" else f"{_signed(r.difference, d)} points"
        how = ""
        if r.unit == "rho" and r.family_verdict == "reversed":
            how = {"positive": ", PSNR predicts accuracy", "inverse": ", PSNR predicts accuracy inversely"}.get(
                direction.get(r.name), "")
        return f"{r.claim}{how}: {estimate}, 95% CI {_signed(r.ci_low, d)} to {_signed(r.ci_high, d)}"

    def group(verdict: str, one: str, many: str) -> str:
        rows = [r for r in claims.itertuples() if r.family_verdict == verdict]
        text = f"{len(rows)} {one if len(rows) == 1 else many}"
        if rows and verdict != "inconclusive":
            text += " (" + "; ".join(named(r) for r in rows) + ")"
        return f"**{text}**" if rows and verdict != "inconclusive" else text

    return (f"Decided together as one family (Holm's step-down at a family-wise error of {alpha:g}, over intervals "
            f"that resample the test videos, each method's SR seeds and the {n_rec} recognizer "
            f"seed{'s' if n_rec != 1 else ''}), of the {len(claims)} claim{'s' if len(claims) != 1 else ''} "
            f"{group('holds', 'holds', 'hold')}, {group('reversed', 'is reversed', 'are reversed')} and "
            f"{group('inconclusive', 'is inconclusive', 'are inconclusive')}; each claim's own 95% verdict is in "
            "the table.")
