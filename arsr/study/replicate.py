"""``python -m arsr.study.replicate run | report``: the study on several dataset seeds as DVC
experiments, and the report that sets their claims side by side (README, "Replication across
dataset seeds").

``run --seeds 1 2`` queues one experiment per seed, ``dvc exp run --queue -S data.synthetic.seed=k
-n dataset-seed-k`` (a seed already run, queued or running is not queued again), starts the queue
(``dvc queue start -j 1``: one study at a time) and waits, polling ``dvc exp show --json``, until
each has succeeded or failed; a failed one is named with ``dvc queue logs <name>``. Interrupted,
the experiments go on in the background: the same command waits for them again.

``report`` reads the workspace's ``reports/metrics/study.json`` (its own seed) and, from ``git show
<rev>:reports/metrics/study.json``, that of every experiment of ``HEAD`` that differs from the
workspace in ``data.synthetic.seed`` alone (:mod:`arsr.study.replication`); it writes
``reports/metrics/replication.json`` and ``reports/replication.html``. Not a dvc stage: DVC does not
track git refs.
"""
from __future__ import annotations

import argparse
import html
import json
import math
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from types import SimpleNamespace
from typing import Callable, Mapping, Sequence

import pandas as pd

from .. import stats
from ..io import write_json, write_text
from ..paths import repo_root
from .replication import (REPLICATION_HTML, REPLICATION_JSON, SEED_KEY, STUDY_JSON, TARGETS, VERDICT_KINDS,
                          Experiment, parse_exp_show, replication, seed_list, seed_of, select_seed_runs)
from .report import AA_CLAIM, DASH, HR_CEILING_CLAIM, RHO_MARGIN, table_html
from .report.verdicts import _claim_decimals, _signed  # the study's digits for an estimate and its interval

__all__ = ["EXPERIMENT_NAME", "ReplicationError", "exp_show", "study_at", "collect", "run", "wait_for", "report",
           "claims_frame", "runs_frame", "summary_frame", "instruments_frame", "fidelity_frame", "replication_html",
           "main"]

#: The name ``run`` gives the experiment of a seed.
EXPERIMENT_NAME = "dataset-seed-{seed}"
FINISHED = ("success", "failed")
#: Consecutive failures of `dvc exp show` that ``wait_for`` rides out before giving up.
SHOW_RETRIES = 5


class ReplicationError(RuntimeError):
    """A command of the replication failed; the message names it and the fix."""


# ---------------------------------------------------------------------------------------------
# DVC and git

def _env() -> dict[str, str]:
    """This environment with this Python's bin folder first on PATH (``dvc``, its queue worker and
    the stages' ``python -m arsr.notebook`` run in the study's venv, whoever started us) and without
    ``ARSR_ROOT``: an experiment runs in DVC's temporary copy, and its stages find their root from
    their working folder (``arsr.paths.repo_root``), never the workspace's."""
    env = {k: v for k, v in os.environ.items() if k != "ARSR_ROOT"}
    env["PATH"] = str(Path(sys.executable).parent) + os.pathsep + env.get("PATH", "")
    return env


def _call(args: Sequence[str], root: Path, fix: str = "") -> str:
    """Run a command in ``root``, return its stdout; on failure raise naming it, its last words and ``fix``."""
    env = _env()
    exe = shutil.which(args[0], path=env["PATH"])
    if exe is None:
        raise ReplicationError(f"`{args[0]}` not found on PATH: run `make setup` (it installs dvc into .venv) and "
                               "this command with .venv/bin/python")
    # files, not pipes: `dvc queue start` forks its worker with our stdout, and reading a pipe to its
    # end would wait for the worker, i.e. for every queued study
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        code = subprocess.run([exe, *args[1:]], cwd=root, env=env, stdin=subprocess.DEVNULL, stdout=out,
                              stderr=err).returncode
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read(), err.read()
    if code != 0:
        said = (stderr.strip() or stdout.strip() or "(no output)").splitlines()[-12:]
        raise ReplicationError(f"`{' '.join(args)}` failed in {root} (exit {code}):\n  " + "\n  ".join(said)
                               + (f"\n{fix}" if fix else ""))
    return stdout


def exp_show(root: Path) -> list:
    """``dvc exp show --json`` of the study at ``root``: the workspace and the experiments of HEAD."""
    out = _call(["dvc", "exp", "show", "--json"], root, fix="(`dvc exp show` must work in the study's root: a git "
                "repository with at least one commit, and `make setup` run)")
    try:
        return json.loads(out)
    except json.JSONDecodeError as e:
        raise ReplicationError(f"`dvc exp show --json` in {root} printed no JSON ({e}): {out[:200]!r}") from None


def study_at(root: Path, rev: str) -> dict | None:
    """The ``reports/metrics/study.json`` of commit ``rev`` (an experiment's), or None if it has none."""
    try:
        return json.loads(_call(["git", "show", f"{rev}:{STUDY_JSON}"], root))
    except ReplicationError:
        return None


def collect(root: Path) -> tuple[dict, dict, list[tuple[str, str]]]:
    """({seed: study.json}, {seed: {"source", "rev"}}, left-out experiments): the workspace's own
    seed and every experiment :func:`arsr.study.replication.select_seed_runs` keeps."""
    path = root / STUDY_JSON
    if not path.is_file():
        raise ReplicationError(f"{path} not found: the workspace's own dataset seed has not been run; run "
                               "`make study` (or `dvc repro`) first")
    workspace, experiments = parse_exp_show(exp_show(root))
    selection = select_seed_runs(workspace, experiments)
    studies = {selection.workspace_seed: json.loads(path.read_text())}
    sources = {selection.workspace_seed: {"source": "workspace", "rev": None}}
    left_out = list(selection.left_out)
    for seed, exp in selection.experiments.items():
        study = study_at(root, exp.rev)
        if study is None:
            left_out.append((exp.name, f"{SEED_KEY} = {seed}: its commit {exp.rev[:7]} has no {STUDY_JSON} (run "
                                       "while reports/.gitignore hid it from git?): `dvc exp remove "
                                       f"{exp.name}`, then run that seed again"))
            continue
        studies[seed] = study
        sources[seed] = {"source": f"experiment {exp.name}", "rev": exp.rev}
    return studies, sources, left_out


# ---------------------------------------------------------------------------------------------
# The commands

def _latest(experiments: Sequence[Experiment], name: str) -> Experiment | None:
    """The experiment of that name that matters: a pending one, else the newest."""
    same = sorted((e for e in experiments if e.name == name), key=lambda e: e.timestamp, reverse=True)
    return next((e for e in same if e.state not in FINISHED), same[0] if same else None)


def run(root: Path, seeds: Sequence[int], *, jobs: int = 1, poll: float = 60.0, force: bool = False,
        wait: bool = True, say: Callable[[str], None] = print) -> int:
    """Queue the study on each dataset seed of ``seeds`` as a DVC experiment, start the queue and
    (``wait``) wait for them; 0 when every one succeeded, 1 when one failed (named)."""
    workspace, experiments = parse_exp_show(exp_show(root))
    if workspace.get("data.dataset") != "synthetic":
        raise ReplicationError(f"params.yaml: data.dataset is {workspace.get('data.dataset')!r}; dataset seeds "
                               f"({SEED_KEY}) exist for the synthetic dataset only: set data.dataset: synthetic")
    selection = select_seed_runs(workspace, experiments)
    names = []
    for seed in seeds:
        pending = [e for e in experiments if e.state not in FINISHED and seed_of(workspace, e) == (seed, None)]
        if seed == selection.workspace_seed:
            say(f"seed {seed}: the workspace's own run (`make study`), not an experiment")
        elif seed in selection.experiments and not force:
            say(f"seed {seed}: already run, experiment {selection.experiments[seed].name} (--force runs it again)")
        elif pending and not force:
            say(f"seed {seed}: already {pending[0].state}, experiment {pending[0].name}")
            names.append(pending[0].name)
        else:
            name = EXPERIMENT_NAME.format(seed=seed)
            _call(["dvc", "exp", "run", "--queue", "-S", f"{SEED_KEY}={seed}", "-n", name, *(["-f"] if force else [])],
                  root, fix=f"(an experiment named {name} of another kind exists? `dvc exp remove {name}`, or --force)")
            say(f"seed {seed}: queued as experiment {name}")
            names.append(name)
    if not names:
        return 0
    _call(["dvc", "queue", "start", "-j", str(jobs)], root)
    say(f"{len(names)} experiment(s) running, {jobs} at a time: each is the whole study, about an hour on 2 cores "
        "(default profile). `dvc queue status` lists them, `dvc queue logs -f <name>` follows one.")
    return wait_for(root, names, poll=poll, say=say) if wait else 0


def wait_for(root: Path, names: Sequence[str], *, poll: float = 60.0, say: Callable[[str], None] = print,
             sleep: Callable[[float], None] = time.sleep) -> int:
    """Poll ``dvc exp show --json`` until each experiment of ``names`` has finished; 0 if all succeeded."""
    start, last, failures = time.monotonic(), {}, 0
    try:
        while True:
            try:
                listing = exp_show(root)
            except ReplicationError as e:
                # `dvc exp show` fails for a moment while the queue worker sets up an experiment's
                # temporary copy ("directory '.dvc/tmp/exps/tmp…/.dvc' does not exist"): retry
                failures += 1
                if failures > SHOW_RETRIES:
                    raise
                why = str(e).splitlines()[1:2] or [str(e)]
                say(f"`dvc exp show` failed (retry {failures} of {SHOW_RETRIES}): {why[0].strip()}")
                sleep(poll)
                continue
            failures = 0
            _, experiments = parse_exp_show(listing)
            states = {n: (e.state if (e := _latest(experiments, n)) else "gone") for n in names}
            for n, state in states.items():
                if last.get(n) != state:
                    say(f"[{(time.monotonic() - start) / 60:.0f} min] {n}: {state}")
            last = states
            if all(s in (*FINISHED, "gone") for s in states.values()):
                break
            sleep(poll)
    except KeyboardInterrupt:
        say("Stopped waiting; the experiments go on in the background (`dvc queue status`). The same command "
            "waits for them again; `python -m arsr.study.replicate report` once they are done.")
        return 130
    failed = [n for n, s in states.items() if s != "success"]
    for n in failed:
        say(f"{n} {states[n]}: `dvc queue logs {n}` shows why; fix it, then run the same command again "
            f"(`dvc queue remove --failed` clears the entry)")
    if not failed:
        say("Done: `python -m arsr.study.replicate report` writes reports/replication.html.")
    return 1 if failed else 0


def report(root: Path, say: Callable[[str], None] = print) -> dict:
    """Collect every seed's study.json, write reports/metrics/replication.json and reports/replication.html."""
    studies, sources, left_out = collect(root)
    result = replication(studies, sources, left_out)
    write_json(root / REPLICATION_JSON, result)
    write_text(root / REPLICATION_HTML, replication_html(result))
    for kind, summary in ((k, result["summary"][k]) for k in VERDICT_KINDS):
        say(f"{kind} verdicts over {seed_list(result['seeds'])}: " + ", ".join(
            f"{change.replace('_', ' ')}: {n}" for change, n in summary["counts"].items()))
    for name, why in left_out:
        say(f"left out {name}: {why}")
    say(f"wrote {root / REPLICATION_HTML} and {root / REPLICATION_JSON}")
    return result


# ---------------------------------------------------------------------------------------------
# The page: reports/replication.html (pandas Styler, as the study's tables)

_CHANGE_LABELS = {"holds_and_reversed": "claims that hold on one seed and are reversed on another",
                  "holds_and_inconclusive": "claims that change between holds and inconclusive",
                  "reversed_and_inconclusive": "claims that change between reversed and inconclusive"}
_KIND_LABELS = {"own": "own 95% verdicts", "family": f"family verdicts (Holm, {stats.FAMILY_ALPHA:g})"}


def _interval(difference, low, high, unit: str) -> str:
    """"+3.1 [−0.4, +6.6]" (pp) or "ρ = +0.12 [...]" at the interval's digits (as the study's table)."""
    if not all(isinstance(v, (int, float)) and math.isfinite(v) for v in (difference, low, high)):
        return DASH
    d = _claim_decimals(SimpleNamespace(ci_low=low, ci_high=high))
    return (("ρ = " if unit == "rho" else "") + f"{_signed(difference, d)} [{_signed(low, d)}, {_signed(high, d)}]")


def _seed_header(run: Mapping) -> str:
    fingerprint = run["dataset_fingerprint"] or "no fingerprint"
    return f"seed {run['seed']} (dataset {fingerprint})"


def claims_frame(result: Mapping) -> pd.DataFrame:
    """The side-by-side table: a row per claim; per seed (in order, headed by its dataset
    fingerprint) the estimate [95% CI], its own verdict and the family verdict; then the pooled
    estimate [95% CI], its verdict and I², and whether the verdicts stay the same across seeds."""
    columns = {}
    for run in result["runs"]:
        header = _seed_header(run)
        for row in result["claims"]:
            c = next(c for c in row["per_seed"] if c["seed"] == run["seed"])
            columns.setdefault((header, "estimate [95% CI]"), []).append(
                _interval(c["difference"], c["ci_low"], c["ci_high"], row["unit"]))
            columns.setdefault((header, "verdict"), []).append(c["verdict"] or DASH)
            columns.setdefault((header, "family"), []).append(c["family_verdict"] or DASH)
    for row in result["claims"]:
        p = row["pooled"]
        columns.setdefault(("pooled", "estimate [95% CI]"), []).append(
            _interval(p["difference"], p["ci_low"], p["ci_high"], row["unit"]) if p["note"] is None else p["note"])
        columns.setdefault(("pooled", "verdict"), []).append(p["verdict"] or DASH)
        columns.setdefault(("pooled", "I²"), []).append(DASH if p["i2"] is None else f"{p['i2']:.0%}")
        for kind in VERDICT_KINDS:
            columns.setdefault(("across seeds", _KIND_LABELS[kind]), []).append(row["stability"][kind]["text"])
    table = pd.DataFrame(columns, index=pd.Index([r["name"] for r in result["claims"]], name="claim"))
    table.columns = pd.MultiIndex.from_tuples(table.columns)
    return table


def runs_frame(result: Mapping) -> pd.DataFrame:
    """One row per dataset seed: where its study.json came from, its dataset fingerprint, commit and sizes."""
    rows = [{"dataset seed": r["seed"], "run": (r["source"] or DASH) + (f" ({r['rev'][:7]})" if r["rev"] else ""),
             "dataset fingerprint": r["dataset_fingerprint"] or DASH, "code (git commit)": r["git_commit"] or DASH,
             "test videos": r["test_videos"], "SR seeds": r["sr_seeds"], "recognizer seeds": r["recognizer_seeds"]}
            for r in result["runs"]]
    return pd.DataFrame(rows).set_index("dataset seed")


def _count_of(names: Sequence[str]) -> str:
    """["a", "b"] -> "2: a, b"; [] -> "0"."""
    return f"{len(names)}: {', '.join(names)}" if names else "0"


def summary_frame(result: Mapping) -> pd.DataFrame:
    """The stability counts (against their targets), the A/A control and the HR ceiling, for the
    own and the family verdicts."""
    summary = result["summary"]
    rows = {}
    for change, label in _CHANGE_LABELS.items():
        target = f" (target: {'at most ' if TARGETS[change] else ''}{TARGETS[change]})" if change in TARGETS else ""
        rows[label + target] = {kind: _count_of(summary[kind]["claims"][change]) for kind in VERDICT_KINDS}
    rows[f"{AA_CLAIM} (the A/A control) inconclusive on every seed"] = {
        kind: "yes" if summary[kind]["aa_control_inconclusive_on_every_seed"] else "no" for kind in VERDICT_KINDS}
    rows[f"{HR_CEILING_CLAIM} reversed on"] = {
        kind: seed_list(seeds) if (seeds := summary[kind]["hr_is_the_ceiling_reversed_on"]) else "no seed"
        for kind in VERDICT_KINDS}
    table = pd.DataFrame.from_dict(rows, orient="index")
    table.columns = [_KIND_LABELS[k] for k in table.columns]
    table.index.name = "across the dataset seeds"
    return table


def instruments_frame(result: Mapping) -> pd.DataFrame:
    """The instruments across the seeds: a row per (instrument, stream); per seed its TSN top-1,
    mean ± std over its recognizer seeds; the range over the seeds and whether it is within the
    tolerance (:data:`arsr.study.replication.INSTRUMENT_TOLERANCE`) and within what its recogniser
    seeds' spread alone reaches (:func:`arsr.study.replication.noise_range`)."""
    rows = {}
    for row in result.get("instruments") or []:
        shown = {}
        for run in result["runs"]:
            cell = row["per_seed"].get(run["seed"])
            std = None if cell is None else cell["std"]
            shown[f"seed {run['seed']}"] = DASH if cell is None else (
                f"{cell['top1']:.1f}" + ("" if std is None else f" ± {std:.1f}"))
        within = row["within_tolerance"]
        shown["range (max − min)"] = f"{row['range']:.1f}"
        shown[f"within {row['tolerance']:g} points"] = DASH if within is None else ("yes" if within else "no")
        noise, quiet = row.get("noise_range"), row.get("within_noise")
        shown["range its recogniser seeds alone reach (95%)"] = DASH if noise is None else f"{noise:.1f}"
        shown["within it"] = DASH if quiet is None else ("yes" if quiet else "no")
        rows[(row["name"], row["stream"])] = shown
    table = pd.DataFrame.from_dict(rows, orient="index")
    if len(table):
        table.index = pd.MultiIndex.from_tuples(table.index, names=["instrument", "stream"])
    return table


def fidelity_frame(result: Mapping) -> pd.DataFrame:
    """The pixel-fidelity rows across the seeds: per seed the PSNR above bicubic's in the worst SR
    seed (dB), and whether it is above the study's bicubic-equivalent margin on every seed."""
    rows = {}
    for row in result.get("fidelity") or []:
        shown = {f"seed {run['seed']}": f"{row['per_seed'][run['seed']]:+.3f}" if run["seed"] in row["per_seed"]
                 else DASH for run in result["runs"]}
        above = row["above_on_every_seed"]
        shown[f"≥ {row['margin']:g} dB on every seed"] = DASH if above is None else ("yes" if above else
                                                                                  "no: bicubic-equivalent there")
        rows[row["name"]] = shown
    table = pd.DataFrame.from_dict(rows, orient="index")
    table.index.name = "method"
    return table


def replication_html(result: Mapping) -> str:
    """``reports/replication.html``: the runs, the stability summary, the claims side by side and
    how they were pooled; no code."""
    seeds = result["seeds"]
    intro = (f"The study's claims on {len(seeds)} synthetic datasets ({SEED_KEY} = "
             f"{', '.join(str(s) for s in seeds)}), each decided as in reports/study.html: the estimate (percentage "
             "points; Spearman's ρ for the PSNR claims) with its 95% bootstrap interval, the claim's own verdict "
             "at 95% and Holm's family verdict, which the study's prose states.")
    if len(seeds) < 2:
        intro += (" Only one dataset seed was found: run `make replication` (README, 'Replication "
                  "across dataset seeds'), then this report again.")
    method = ("Pooled: a fixed-effect inverse-variance meta-analysis of the seeds' estimates. Each seed's standard "
              "error is approximated by its 95% interval's half-width / 1.96 (the intervals are bootstrap "
              "percentiles, not normal ones); the pooled interval is the estimate ± 1.96 / √(Σ 1/SE²). "
              "Spearman's ρ is pooled on Fisher's z = atanh ρ (bounded, skewed intervals become nearly symmetric) "
              f"and read with the study's margin ±{RHO_MARGIN:g}. I² is the share of the seeds' spread beyond "
              "what their intervals explain: where it is large the pooled interval is too short, read the seeds. "
              "The best-of claims (SoSR, ToSR, SoSR+ToSR, HR against the strongest rival by mean) may face another "
              "rival on each seed; their pooled interval is of the margin over that rival, and only the per-seed "
              "verdicts test every rival.")
    left = [f"{e['experiment']}: {e['why']}" for e in result["left_out"]]
    parts = [
        "<!DOCTYPE html>\n<html><head><meta charset='utf-8'><title>arsr: the study across dataset seeds</title>",
        "<style>body {font-family: sans-serif; margin: 1.5em; } table {border-collapse: collapse; margin: 1em 0; } "
        "td, th {border-bottom: 1px solid #ddd; } p {max-width: 60em; }</style></head><body>",
        "<h1>The study across dataset seeds</h1>", f"<p>{html.escape(intro)}</p>",
        table_html(runs_frame(result), "Dataset seeds: where each study.json came from"),
        table_html(summary_frame(result), "Do the verdicts stay the same?"),
        table_html(claims_frame(result), "Claims, seed by seed, and pooled"), f"<p>{html.escape(method)}</p>",
    ]
    if result.get("instruments"):
        parts.append(table_html(instruments_frame(result), "The instruments across the seeds: TSN top-1 (%) of "
                                "HR and bicubic frames, and of the TSN trained on LR (mean ± std over the "
                                "recognizer seeds). The fixed tolerance asks whether an instrument stays within "
                                "a set distance of itself; the last two columns whether its range is more than "
                                "its own recognizer seeds' spread would give by luck on identical datasets (95%): "
                                "'no' there is a real difference between the datasets (one easier than another, "
                                "for every instrument alike), 'yes' a range luck alone can explain, however wide"))
    if result.get("fidelity"):
        parts.append(table_html(fidelity_frame(result), "The pixel-fidelity SR rows: PSNR above bicubic's in the "
                                "worst SR seed (dB), per dataset seed"))
    if result["notes"]:
        parts.append("<h2>Notes</h2><ul>" + "".join(f"<li>{html.escape(n)}</li>" for n in result["notes"]) + "</ul>")
    if left:
        parts.append("<h2>Experiments left out</h2><ul>" + "".join(f"<li>{html.escape(n)}</li>" for n in left)
                     + "</ul>")
    return "\n".join(parts) + "\n</body></html>\n"


# ---------------------------------------------------------------------------------------------
# The command line

def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m arsr.study.replicate", description=(
        "The study on more dataset seeds (data.synthetic.seed) as DVC experiments, and the report that sets their "
        "claims side by side: reports/replication.html, reports/metrics/replication.json."))
    commands = parser.add_subparsers(dest="command", required=True)
    r = commands.add_parser("run", help="run the study on more dataset seeds, as queued DVC experiments")
    r.add_argument("--seeds", type=int, nargs="+", default=[1, 2], help=f"values of {SEED_KEY} (default: 1 2)")
    r.add_argument("--jobs", type=int, default=1, help="experiments at a time (default 1: one study uses 2 cores)")
    r.add_argument("--poll", type=float, default=60.0, help="seconds between checks while waiting (default 60)")
    r.add_argument("--force", action="store_true", help="run seeds that already have an experiment again")
    r.add_argument("--no-wait", action="store_true", help="queue and start, then return")
    commands.add_parser("report", help="write reports/replication.html and reports/metrics/replication.json")
    args = parser.parse_args(argv)
    try:
        root = repo_root()
        if args.command == "run":
            return run(root, args.seeds, jobs=args.jobs, poll=args.poll, force=args.force, wait=not args.no_wait)
        report(root)
        return 0
    except (ReplicationError, FileNotFoundError, ValueError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
