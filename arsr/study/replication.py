"""The study across dataset seeds: which claims keep their verdict on another synthetic dataset.

The study runs on one synthetic dataset, drawn with ``data.synthetic.seed``. Every other seed is a
DVC experiment of the same commit (``dvc exp run --queue -S data.synthetic.seed=k``, ``dvc queue
start``: :mod:`arsr.study.replicate` drives them). An experiment's commit keeps its
``reports/metrics/study.json`` (``reports/.gitignore`` lets git see the metrics JSON; DVC commits
only what git sees), read back with ``git show <rev>:reports/metrics/study.json``: ``dvc exp show
--json`` names each experiment with its params and state, but keeps only a metrics file's numbers
and strings, not the list of claims.

Pure functions on those dicts: :func:`parse_exp_show` (the experiments of a ``dvc exp show --json``
listing), :func:`select_seed_runs` (the successful ones that differ from the workspace in the
dataset seed alone; every other is named with the reason it is left out), :func:`tabulate` (each
claim's estimate, interval, own and family verdict per seed), :func:`pool`, :func:`stability`,
:func:`summarise`, and :func:`replication`, all of it (``reports/metrics/replication.json``).

**Pooling**: a fixed-effect inverse-variance meta-analysis of the per-seed estimates. The study
reports bootstrap percentile intervals, not standard errors, so each seed's SE is approximated
by its 95% interval's half-width / 1.96 (exact for a normal estimate; a skewed interval's two
halves are averaged). The seeds are independent datasets (each trains its own recognizers and SR
models): w_k = 1 / SE_k^2, pooled = sum w_k x_k / sum w_k, SE = 1 / sqrt(sum w_k), 95% interval
pooled +- 1.96 SE, read with the study's verdict rule. Cochran's Q = sum w_k (x_k - pooled)^2 and
I^2 = max(0, (Q - df) / Q) measure how far the seeds disagree beyond their intervals: where I^2 is
large the fixed-effect interval is too short, and the per-seed columns are the ones to read.
Spearman's rho (``psnr_not_predictive_*``) is pooled on Fisher's z = atanh(rho): rho is bounded
by +-1 and its intervals are skewed near the bounds, z's nearly symmetric, so a half-width means
the same on either side; the pooled interval is mapped back with tanh and read with the study's
margin (:data:`arsr.study.report.claims.RHO_MARGIN`). A rho interval that reaches +-1 has no finite z:
that claim is left unpooled, saying why. The best-of claims (``sosr_beats_image_sr``,
``hr_is_the_ceiling``, ...) compare with each seed's strongest rival by mean, which may differ
between seeds; their pooled interval is of the margin over that rival, and only their per-seed
verdicts test every rival.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from statistics import NormalDist
from typing import Any, Iterable, Mapping, Sequence

import numpy as np

from .. import stats
from ..methods import FIDELITY_SR
from .layout import STUDY_METRICS
from .report import AA_CLAIM, HR_CEILING_CLAIM, RHO_MARGIN
from .report.tables import BICUBIC_MARGIN_DB

__all__ = ["SEED_KEY", "STUDY_JSON", "REPLICATION_JSON", "REPLICATION_HTML", "Z95", "CHANGES", "TARGETS",
           "Experiment", "Selection", "flatten", "parse_exp_show", "seed_of", "select_seed_runs", "unit_of",
           "tabulate", "pool", "seed_list", "stability", "summarise", "replication", "VERDICT_KINDS", "CLAIM_KEYS",
           "INSTRUMENTS", "INSTRUMENT_TOLERANCE", "noise_range", "instruments", "fidelity"]

#: The param that draws the synthetic dataset.
SEED_KEY = "data.synthetic.seed"
STUDY_JSON = f"reports/{STUDY_METRICS}"
# Not outputs of a dvc stage (they read git refs, which DVC does not track): named here, not in
# arsr.study.layout, which every stage lists as a dep (an edit there re-runs the whole study).
REPLICATION_JSON = "reports/metrics/replication.json"
REPLICATION_HTML = "reports/replication.html"
Z95 = NormalDist().inv_cdf(0.5 + stats.CONFIDENCE / 2)
RHO_PREFIX = "psnr_not_predictive_"
#: Verdict changes between seeds that the summary counts, with the two verdicts each one mixes.
CHANGES = {"holds_and_reversed": ("holds", "reversed"), "holds_and_inconclusive": ("holds", "inconclusive"),
           "reversed_and_inconclusive": ("reversed", "inconclusive")}
#: The issue's targets: how many claims may change so (at most).
TARGETS = {"holds_and_reversed": 0, "holds_and_inconclusive": 2}
#: A claim's numbers kept per seed (study.json's keys).
CLAIM_KEYS = ("difference", "ci_low", "ci_high", "verdict", "family_verdict", "p_value")
#: The rows that measure the instrument rather than an SR method: the HR-trained TSN on HR and on
#: bicubic frames, and the TSN trained on LR (from scratch, or fine-tuned from the HR one).
INSTRUMENTS = ("hr", "bicubic", "tsn_retrained_lr", "tsn_finetuned_lr")
#: How far (top-1 points, max - min over the dataset seeds) an instrument's mean accuracy may move
#: between dataset seeds and still count as the same instrument: about twice the spread of the HR
#: TSN's fusion between its own recogniser seeds (2.6 points std at 56f27c9, dataset seed 0).
INSTRUMENT_TOLERANCE = 10.0
#: Draws of :func:`noise_range` (fixed seed: the same studies give the same column).
NOISE_DRAWS = 20000
#: The two verdicts of each claim: its own at 95%, and Holm's family verdict (the study's prose).
VERDICT_KINDS = {"own": "verdict", "family": "family_verdict"}


# ---------------------------------------------------------------------------------------------
# Experiments: a `dvc exp show --json` listing

@dataclass(frozen=True)
class Experiment:
    """One experiment of a ``dvc exp show --json`` listing: ``rev`` its commit (a queued or failed
    one: its queue entry), ``state`` DVC's (queued, running, success, failed; one run in the
    workspace, without a queue, is success), ``params`` flattened (``data.synthetic.seed``)."""
    name: str
    rev: str
    state: str
    params: Mapping[str, Any]
    timestamp: str = ""


def flatten(tree: Mapping, prefix: str = "") -> dict[str, Any]:
    """Nested params -> ``{"a.b.c": value}`` (lists are values)."""
    out: dict[str, Any] = {}
    for key, value in tree.items():
        if isinstance(value, Mapping) and value:
            out.update(flatten(value, f"{prefix}{key}."))
        else:
            out[f"{prefix}{key}"] = value
    return out


def _params(data: Mapping) -> dict[str, Any]:
    out = {}
    for file, content in (data.get("params") or {}).items():
        prefix = "" if file == "params.yaml" else f"{file}:"
        out.update({prefix + k: v for k, v in flatten((content or {}).get("data") or {}).items()})
    return out


def parse_exp_show(listing: Sequence[Mapping]) -> tuple[dict[str, Any], list[Experiment]]:
    """``dvc exp show --json`` -> (the workspace's flattened params, the experiments of every
    baseline listed: by default those of ``HEAD``, the commit the workspace runs)."""
    workspace = None
    experiments = []
    for entry in listing:
        if entry.get("rev") == "workspace":
            workspace = _params(entry.get("data") or {})
            continue
        for exp in entry.get("experiments") or []:
            if not exp.get("revs"):
                continue
            tip = exp["revs"][0]
            data = tip.get("data") or {}
            state = (exp.get("executor") or {}).get("state") or ("failed" if tip.get("error") else "success")
            experiments.append(Experiment(name=exp.get("name") or tip.get("name") or tip["rev"][:7], rev=tip["rev"],
                                          state=state, params=_params(data), timestamp=data.get("timestamp") or ""))
    if workspace is None:
        raise ValueError("the `dvc exp show --json` listing has no workspace entry: run it in the study's root "
                         "(the folder with dvc.yaml)")
    return workspace, experiments


_MISSING = object()


def _shown(value: Any) -> str:
    return "(none)" if value is _MISSING else repr(value)


def seed_of(workspace: Mapping[str, Any], experiment: Experiment, key: str = SEED_KEY) -> tuple[Any, str | None]:
    """(the experiment's ``key``, None) if its params differ from the workspace's in ``key`` alone,
    else (its ``key`` or None, why it is no replication of the workspace's study)."""
    keys = sorted(set(workspace) | set(experiment.params))
    differ = [k for k in keys if workspace.get(k, _MISSING) != experiment.params.get(k, _MISSING)]
    seed = experiment.params.get(key)
    others = [k for k in differ if k != key]
    if others:
        changes = "; ".join(f"{k}: {_shown(workspace.get(k, _MISSING))} -> {_shown(experiment.params.get(k, _MISSING))}"
                            for k in others)
        return seed, f"differs from the workspace in other params than {key} ({changes})"
    if not differ:
        return seed, f"the workspace's own params ({key} = {seed}): the workspace's run stands for that seed"
    return seed, None


@dataclass(frozen=True)
class Selection:
    """The runs of a replication: the workspace's seed, the experiment of every other seed, and
    ``left_out``: (experiment, why) for each experiment not used."""
    workspace_seed: Any
    experiments: dict[Any, Experiment]
    left_out: list[tuple[str, str]]


def select_seed_runs(workspace: Mapping[str, Any], experiments: Iterable[Experiment],
                     key: str = SEED_KEY) -> Selection:
    """The successful experiments that differ from the workspace in ``key`` alone, the newest of
    each seed; every other experiment is listed in ``left_out`` with the reason."""
    if key not in workspace:
        raise ValueError(f"params.yaml has no {key}: replication across dataset seeds needs the synthetic dataset "
                       f"(data.dataset: synthetic, with data.synthetic)")
    chosen: dict[Any, Experiment] = {}
    left_out = []
    for exp in sorted(experiments, key=lambda e: e.timestamp, reverse=True):
        seed, why = seed_of(workspace, exp, key)
        if why is None and exp.state != "success":
            why = f"{key} = {seed}, {exp.state}" + (f" (`dvc queue logs {exp.name}` shows why)"
                                                    if exp.state == "failed" else ": not finished yet")
        elif why is None and seed in chosen:
            why = f"{key} = {seed} again: the newer experiment {chosen[seed].name} stands for that seed"
        if why is None:
            chosen[seed] = exp
        else:
            left_out.append((exp.name, why))
    return Selection(workspace[key], dict(sorted(chosen.items())), left_out)


# ---------------------------------------------------------------------------------------------
# Claims side by side, pooled

def unit_of(name: str) -> str:
    """A claim's unit: "rho" (Spearman's, the PSNR claims) or "pp" (percentage points)."""
    return "rho" if name.startswith(RHO_PREFIX) else "pp"


def tabulate(studies: Mapping[Any, Mapping]) -> list[dict]:
    """``{seed: study.json}`` -> one row per claim (in the order the claims first appear, seeds in
    order): ``name``, ``unit``, ``per_seed`` (a list in seed order: ``seed`` and :data:`CLAIM_KEYS`,
    all None where that seed's study has no such claim) and ``missing_on`` (those seeds)."""
    seeds = sorted(studies)
    by_seed, names = {}, []
    for seed in seeds:
        claims = studies[seed].get("claims")
        if claims is None:
            raise ValueError(f"the study.json of dataset seed {seed} has no \"claims\": it was written before the "
                             "report decided claims; re-run that seed's study")
        by_seed[seed] = {c["name"]: c for c in claims}
        names += [c["name"] for c in claims if c["name"] not in names]
    rows = []
    for name in names:
        per_seed = [{"seed": s, **{k: by_seed[s].get(name, {}).get(k) for k in CLAIM_KEYS}} for s in seeds]
        rows.append({"name": name, "unit": unit_of(name), "per_seed": per_seed,
                     "missing_on": [s for s in seeds if name not in by_seed[s]]})
    return rows


def _finite(x) -> bool:
    return isinstance(x, (int, float)) and math.isfinite(x)


def pool(estimates: Sequence[float], lows: Sequence[float], highs: Sequence[float], unit: str = "pp") -> dict:
    """Fixed-effect inverse-variance pooling of independent estimates with 95% intervals (module
    docstring: SE = half-width / 1.96; rho on Fisher's z). Returns ``difference``, ``ci_low``,
    ``ci_high``, ``verdict`` (:func:`arsr.stats.verdict`, or :func:`arsr.stats.association_verdict`
    for rho), ``q``, ``i2``, ``n_seeds``, ``scale``; where they cannot be pooled, those numbers are
    None and ``note`` says why."""
    scale = "fisher_z" if unit == "rho" else "pp"
    out = {"difference": None, "ci_low": None, "ci_high": None, "verdict": None, "q": None, "i2": None,
           "n_seeds": len(estimates), "scale": scale, "note": None}
    values = [*estimates, *lows, *highs]
    if len(estimates) < 2:
        return {**out, "note": "decided on fewer than 2 dataset seeds: nothing to pool"}
    if not all(_finite(v) for v in values):
        return {**out, "note": "a seed's estimate or interval is missing: not pooled"}
    if unit == "rho":
        if not all(-1 < v < 1 for v in values):
            return {**out, "note": "a seed's rho interval reaches +-1, which has no Fisher z: not pooled"}
        estimates, lows, highs = ([math.atanh(v) for v in vs] for vs in (estimates, lows, highs))
    se = [(hi - lo) / (2 * Z95) for lo, hi in zip(lows, highs)]
    if not all(s > 0 for s in se):
        return {**out, "note": "a seed's interval has zero width (no weight can be given): not pooled"}
    w = [1 / s ** 2 for s in se]
    # pooled = sum w x / sum w, SE = 1 / sqrt(sum w)
    mean = sum(wk * xk for wk, xk in zip(w, estimates)) / sum(w)
    half = Z95 / math.sqrt(sum(w))
    q = sum(wk * (xk - mean) ** 2 for wk, xk in zip(w, estimates))
    i2 = max(0.0, (q - (len(w) - 1)) / q) if q > 0 else 0.0
    lo, hi = mean - half, mean + half
    if unit == "rho":
        mean, lo, hi = math.tanh(mean), math.tanh(lo), math.tanh(hi)
        verdict = stats.association_verdict(lo, hi, RHO_MARGIN)
    else:
        verdict = stats.verdict(lo, hi)
    return {**out, "difference": mean, "ci_low": lo, "ci_high": hi, "verdict": verdict, "q": q, "i2": i2}


def seed_list(seeds: Sequence) -> str:
    """[0, 2] -> "seeds 0, 2"; [1] -> "seed 1"."""
    return ("seed " if len(seeds) == 1 else "seeds ") + ", ".join(str(s) for s in seeds)


def stability(verdicts: Mapping[Any, str | None]) -> dict:
    """``{seed: verdict or None (not decided there)}`` -> ``same`` (one verdict on every seed that
    decided the claim), ``changes`` (the :data:`CHANGES` it shows) and ``text``, e.g. "holds on
    every seed", "holds on seeds 0, 2; inconclusive on seed 1"."""
    decided = {s: v for s, v in verdicts.items() if v is not None}
    missing = [s for s, v in verdicts.items() if v is None]
    kinds = set(decided.values())
    if not decided:
        text = "not decided on any seed"
    elif len(kinds) == 1:
        text = f"{next(iter(kinds))} on every seed" + (" that decided it" if missing else "")
    else:
        text = "; ".join(f"{v} on {seed_list([s for s in decided if decided[s] == v])}"
                         for v in stats.VERDICTS if v in kinds)
    if missing:
        text += f" (not decided on {seed_list(missing)})"
    return {"same": len(kinds) == 1, "changes": [c for c, pair in CHANGES.items() if set(pair) <= kinds],
            "text": text}


def _verdicts(row: Mapping, kind: str) -> dict:
    return {c["seed"]: c[VERDICT_KINDS[kind]] for c in row["per_seed"]}


def summarise(rows: Sequence[Mapping]) -> dict:
    """The stability summary of :func:`replication`'s claim rows, for the own and the family
    verdicts: the claims showing each change of :data:`CHANGES` and their counts, each against
    :data:`TARGETS`; whether the A/A control is inconclusive on every seed; the seeds where
    ``hr_is_the_ceiling`` is reversed."""
    out: dict[str, Any] = {"targets": dict(TARGETS)}
    by_name = {r["name"]: r for r in rows}
    for kind in VERDICT_KINDS:
        changes = {c: [r["name"] for r in rows if c in r["stability"][kind]["changes"]] for c in CHANGES}
        aa = _verdicts(by_name[AA_CLAIM], kind) if AA_CLAIM in by_name else {}
        hr = _verdicts(by_name[HR_CEILING_CLAIM], kind) if HR_CEILING_CLAIM in by_name else {}
        out[kind] = {
            "claims": changes, "counts": {c: len(names) for c, names in changes.items()},
            "within_targets": all(len(changes[c]) <= t for c, t in TARGETS.items()),
            "aa_control_inconclusive_on_every_seed": bool(aa) and all(v == "inconclusive" for v in aa.values()),
            "hr_is_the_ceiling_reversed_on": [s for s, v in hr.items() if v == "reversed"],
        }
    return out


def noise_range(stds: Sequence[float], cells: int, *, level: float = stats.CONFIDENCE, draws: int = NOISE_DRAWS,
                seed: int = 0) -> float:
    """The range (max - min) of ``len(stds)`` dataset seeds' mean accuracies that the spread between
    an instrument's own cells alone (its recogniser seeds) would stay below with probability
    ``level``, if the dataset seed changed nothing: each seed's mean of ``cells`` cells drawn as
    N(0, s^2 / cells), s^2 the seeds' pooled cell variance (``stds``: each seed's std over its cells),
    the ``level`` quantile of the range over ``draws`` Monte-Carlo draws. A range beyond it says the
    instrument differs between datasets; one within it cannot tell a dataset effect from recogniser
    luck, whatever a fixed tolerance says. NaN with fewer than two seeds, a missing std or one cell."""
    values = [float(v) for v in stds if v is not None and _finite(v)]
    if len(values) < 2 or len(values) != len(stds) or cells < 2:
        return math.nan
    sd = math.sqrt(sum(v * v for v in values) / len(values) / cells)
    means = np.random.default_rng(seed).normal(0.0, sd, size=(draws, len(values)))
    return float(np.quantile(means.max(axis=1) - means.min(axis=1), level))


def instruments(studies: Mapping[Any, Mapping], names: Sequence[str] = INSTRUMENTS,
                tolerance: float = INSTRUMENT_TOLERANCE) -> list[dict]:
    """Each instrument's TSN top-1 (``methods.<name>.tsn_top1`` of study.json: the mean over its
    cells) per dataset seed and stream, with its spread over the recognizer seeds within a seed
    (``tsn_top1_std``), the range over the dataset seeds (max - min) and whether that range is
    within ``tolerance`` points: one row per (instrument, stream) that some seed reports. A seed
    without the row leaves it out of the range (``missing_on`` names it). ``noise_range``: the range
    its recogniser seeds' spread alone would reach (:func:`noise_range`, ``recognizer_seeds`` of
    study.json cells per seed), ``within_noise`` whether the range stays within it: the fixed
    tolerance suits an instrument whose seeds agree (HR's fusion), not one whose own seeds spread
    by 15 points (the TSN trained on LR, spatial), and the two columns say which case a row is."""
    seeds = sorted(studies)
    rows = []
    for name in names:
        for stream in ("spatial", "temporal", "fusion"):
            per_seed = {}
            for seed in seeds:
                entry = (studies[seed].get("methods") or {}).get(name) or {}
                mean = (entry.get("tsn_top1") or {}).get(stream)
                if mean is not None and _finite(mean):
                    per_seed[seed] = {"top1": float(mean), "std": (entry.get("tsn_top1_std") or {}).get(stream)}
            if not per_seed:
                continue
            means = [v["top1"] for v in per_seed.values()]
            spread = max(means) - min(means)
            cells = min(int(studies[s].get("recognizer_seeds") or 0) for s in per_seed)
            noise = noise_range([v["std"] for v in per_seed.values()], cells)
            rows.append({"name": name, "stream": stream, "per_seed": per_seed, "range": spread,
                         "tolerance": tolerance, "within_tolerance": spread <= tolerance if len(means) > 1 else None,
                         "noise_range": None if math.isnan(noise) else noise,
                         "within_noise": None if math.isnan(noise) else spread <= noise,
                         "missing_on": [s for s in seeds if s not in per_seed]})
    return rows


def fidelity(studies: Mapping[Any, Mapping], names: Sequence[str] = FIDELITY_SR,
             margin: float = BICUBIC_MARGIN_DB) -> list[dict]:
    """Each pixel-fidelity SR row's PSNR above bicubic's in its worst SR seed (dB, study.json's
    ``methods.<name>.psnr_margin_worst_seed``) per dataset seed, and whether it is at least
    ``margin`` on every seed that has it (the study's "bicubic-equivalent" below that): one row per
    method that some seed reports; ``None`` where no seed does (a study.json written before it)."""
    rows = []
    for name in names:
        per_seed = {seed: ((studies[seed].get("methods") or {}).get(name) or {}).get("psnr_margin_worst_seed")
                    for seed in sorted(studies)}
        known = {s: v for s, v in per_seed.items() if v is not None and _finite(v)}
        if not any(name in (studies[s].get("methods") or {}) for s in studies):
            continue
        rows.append({"name": name, "per_seed": known, "margin": margin,
                     "above_on_every_seed": all(v >= margin for v in known.values()) if known else None,
                     "missing_on": [s for s in per_seed if s not in known]})
    return rows


def _run_summary(seed, study: Mapping, source: Mapping) -> dict:
    provenance = study.get("provenance") or {}
    return {"seed": seed, "source": source.get("source"), "rev": source.get("rev"),
            "dataset_fingerprint": study.get("dataset_fingerprint"), "git_commit": provenance.get("git_commit"),
            "test_videos": study.get("test_videos"), "sr_seeds": study.get("seeds"),
            "recognizer_seeds": study.get("recognizer_seeds")}


def replication(studies: Mapping[Any, Mapping], sources: Mapping[Any, Mapping] | None = None,
                left_out: Sequence[tuple[str, str]] = ()) -> dict:
    """What ``reports/metrics/replication.json`` holds, from ``{seed: study.json}``: ``seeds``,
    ``runs`` (each seed's source, ``sources[seed]``: ``source`` and ``rev``; its dataset fingerprint,
    commit and sizes), ``claims`` (:func:`tabulate`'s rows with ``pooled`` (:func:`pool`) and
    ``stability`` (:func:`stability` of the own and the family verdicts)), ``summary``
    (:func:`summarise`), ``instruments`` (:func:`instruments`: the recognizers' own rows across the
    seeds), ``fidelity`` (:func:`fidelity`: the PSNR rows above bicubic), ``left_out`` experiments
    and ``notes``."""
    seeds = sorted(studies)
    sources = sources or {}
    rows = []
    for row in tabulate(studies):
        decided = [c for c in row["per_seed"] if c["seed"] not in row["missing_on"]]
        row["pooled"] = pool([c["difference"] for c in decided], [c["ci_low"] for c in decided],
                             [c["ci_high"] for c in decided], row["unit"])
        row["stability"] = {kind: stability(_verdicts(row, kind)) for kind in VERDICT_KINDS}
        rows.append(row)
    runs = [_run_summary(s, studies[s], sources.get(s, {})) for s in seeds]
    notes = [f"{r['name']}: not decided on {seed_list(r['missing_on'])} (no such claim in that study.json)"
             for r in rows if r["missing_on"]]
    fingerprints: dict[Any, list] = {}
    for run in runs:
        fingerprints.setdefault(run["dataset_fingerprint"], []).append(run["seed"])
    for fingerprint, same in fingerprints.items():
        if fingerprint is None:
            notes.append(f"{seed_list(same)}: no dataset fingerprint in study.json (written by an older report)")
        elif len(same) > 1:
            notes.append(f"{seed_list(same)} ran on the same data (dataset fingerprint {fingerprint}): their "
                         f"verdicts are not independent replications; check that {SEED_KEY} reached prepare")
    for what in ("test_videos", "sr_seeds", "recognizer_seeds"):
        if len({run[what] for run in runs}) > 1:
            notes.append(f"the seeds' studies differ in {what}: " + ", ".join(f"seed {r['seed']}: {r[what]}"
                                                                              for r in runs))
    return {"seed_key": SEED_KEY, "seeds": seeds, "runs": runs, "claims": rows,
            "summary": summarise(rows), "instruments": instruments(studies), "fidelity": fidelity(studies),
            "left_out": [{"experiment": name, "why": why} for name, why in left_out], "notes": notes,
            "pooling": ("fixed-effect inverse-variance over the dataset seeds; each seed's SE = its 95% interval's "
                        "half-width / 1.96 (an approximation: the intervals are bootstrap percentiles); Spearman's "
                        "rho pooled on Fisher's z")}

