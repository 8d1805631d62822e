"""The study across dataset seeds (arsr.study.replication, arsr.study.replicate): hand-made
study.json dicts of three seeds with known estimates -> the side-by-side table, the pooled estimate
and interval computed by hand, the stability counts, a claim missing on one seed; which experiments
of a `dvc exp show --json` listing are used; and, slow, the commands on a toy DVC project."""
from __future__ import annotations

import json
import math
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from arsr.study import replicate
from arsr.study.replication import (noise_range, parse_exp_show, pool, replication, select_seed_runs, stability,
                                    tabulate)

ROOT = Path(__file__).resolve().parents[1]


def claim(name, difference, low, high, verdict, family=None):
    return {"name": name, "difference": difference, "ci_low": low, "ci_high": high, "verdict": verdict,
            "p_value": 0.01, "family_verdict": family or verdict}


def study(fingerprint, claims, methods=None):
    return {"dataset_fingerprint": fingerprint, "seeds": 3, "recognizer_seeds": 3, "test_videos": 144,
            "provenance": {"git_commit": "0123abc"}, "claims": claims, "methods": methods or {}}


def tsn(fusion, spatial, std=1.0):
    return {"tsn_top1": {"fusion": fusion, "spatial": spatial, "temporal": None},
            "tsn_top1_std": {"fusion": std, "spatial": std, "temporal": None}}


#: Three dataset seeds. sr_beats_bicubic holds everywhere (half-widths 2, 3, 4); warp_helps_vdsr
#: holds, is reversed, is inconclusive; rdsr_beats_sosr_tosr holds, is inconclusive, holds (its family
#: verdict inconclusive on every seed); hr_is_the_ceiling is reversed on seed 2; the A/A control is
#: inconclusive everywhere; the PSNR claim is missing on seed 2.
STUDIES = {
    0: study("fp0", [claim("sr_beats_bicubic", 4.0, 2.0, 6.0, "holds"),
                     claim("warp_helps_vdsr", 2.0, 0.5, 3.5, "holds", "inconclusive"),
                     claim("rdsr_beats_sosr_tosr", 3.0, 1.0, 5.0, "holds", "inconclusive"),
                     claim("hr_is_the_ceiling", 5.0, 2.0, 8.0, "holds"),
                     claim("aa_control", 0.5, -2.0, 3.0, "inconclusive"),
                     claim("psnr_not_predictive_fusion", 0.1, -0.3, 0.4, "holds")],
            {"hr": tsn(80.0, 50.0), "tsn_retrained_lr": tsn(60.0, 22.9)}),
    1: study("fp1", [claim("sr_beats_bicubic", 6.0, 3.0, 9.0, "holds"),
                     claim("warp_helps_vdsr", -3.0, -5.0, -1.0, "reversed", "inconclusive"),
                     claim("rdsr_beats_sosr_tosr", 1.0, -1.0, 3.0, "inconclusive"),
                     claim("hr_is_the_ceiling", 4.0, 1.0, 7.0, "holds"),
                     claim("aa_control", -0.5, -3.0, 2.0, "inconclusive"),
                     claim("psnr_not_predictive_fusion", 0.0, -0.35, 0.35, "holds")],
            {"hr": tsn(84.0, 55.5), "tsn_retrained_lr": tsn(70.0, 54.9)}),
    2: study("fp2", [claim("sr_beats_bicubic", 5.0, 1.0, 9.0, "holds"),
                     claim("warp_helps_vdsr", 0.0, -2.0, 2.0, "inconclusive"),
                     claim("rdsr_beats_sosr_tosr", 2.5, 0.5, 4.5, "holds", "inconclusive"),
                     claim("hr_is_the_ceiling", -2.0, -3.0, -1.0, "reversed"),
                     claim("aa_control", 0.0, -2.0, 2.0, "inconclusive")],
            {"hr": tsn(78.5, 47.0)}),
}
SOURCES = {0: {"source": "workspace", "rev": None},
           1: {"source": "experiment dataset-seed-1", "rev": "1" * 40},
           2: {"source": "experiment dataset-seed-2", "rev": "2" * 40}}


@pytest.fixture(scope="module")
def result():
    return replication(STUDIES, SOURCES, [("lr-2e-4", "differs from the workspace in other params")])


def by_name(result, name):
    return next(r for r in result["claims"] if r["name"] == name)


def test_claims_side_by_side_in_seed_order(result):
    rows = tabulate({2: STUDIES[2], 0: STUDIES[0], 1: STUDIES[1]})
    assert [r["name"] for r in rows] == ["sr_beats_bicubic", "warp_helps_vdsr", "rdsr_beats_sosr_tosr",
                                         "hr_is_the_ceiling", "aa_control", "psnr_not_predictive_fusion"]
    warp = rows[1]
    assert [c["seed"] for c in warp["per_seed"]] == [0, 1, 2]
    assert [c["verdict"] for c in warp["per_seed"]] == ["holds", "reversed", "inconclusive"]
    assert [c["family_verdict"] for c in warp["per_seed"]] == ["inconclusive"] * 3
    assert [(c["difference"], c["ci_low"], c["ci_high"]) for c in warp["per_seed"]] == [
        (2.0, 0.5, 3.5), (-3.0, -5.0, -1.0), (0.0, -2.0, 2.0)]
    assert rows[-1]["unit"] == "rho" and rows[0]["unit"] == "pp"

    table = replicate.claims_frame(result)
    seeds = list(dict.fromkeys(c[0] for c in table.columns))
    assert seeds == ["seed 0 (dataset fp0)", "seed 1 (dataset fp1)", "seed 2 (dataset fp2)", "pooled",
                     "across seeds"]
    assert list(table.columns[:3]) == [("seed 0 (dataset fp0)", "estimate [95% CI]"),
                                       ("seed 0 (dataset fp0)", "verdict"), ("seed 0 (dataset fp0)", "family")]
    # the study's digits: half-width 2 -> no decimals, 1.5 -> one; its minus sign
    assert table.loc["sr_beats_bicubic", ("seed 0 (dataset fp0)", "estimate [95% CI]")] == "+4 [+2, +6]"
    assert table.loc["warp_helps_vdsr", ("seed 0 (dataset fp0)", "estimate [95% CI]")] == "+2.0 [+0.5, +3.5]"
    assert table.loc["warp_helps_vdsr", ("seed 1 (dataset fp1)", "estimate [95% CI]")] == "−3 [−5, −1]"
    assert table.loc["warp_helps_vdsr", ("seed 1 (dataset fp1)", "verdict")] == "reversed"
    assert table.loc["psnr_not_predictive_fusion", ("seed 0 (dataset fp0)", "estimate [95% CI]")] == \
        "ρ = +0.1 [−0.3, +0.4]"
    assert table.loc["psnr_not_predictive_fusion", ("seed 2 (dataset fp2)", "verdict")] == "—"


def test_pooled_estimate_and_interval_by_hand(result):
    # half-widths 2, 3, 4 -> SE = h / 1.96, weights 1.96^2 (1/4, 1/9, 1/16); the 1.96s cancel in the
    # estimate and in the interval's half-width 1.96 / sqrt(sum w) = 1 / sqrt(1/4 + 1/9 + 1/16)
    pooled = by_name(result, "sr_beats_bicubic")["pooled"]
    sum_w = 1 / 4 + 1 / 9 + 1 / 16
    estimate = (4 / 4 + 6 / 9 + 5 / 16) / sum_w
    assert pooled["difference"] == pytest.approx(4.672131, abs=1e-6) == pytest.approx(estimate)
    assert pooled["ci_low"] == pytest.approx(estimate - 1 / math.sqrt(sum_w)) == pytest.approx(3.135689, abs=1e-6)
    assert pooled["ci_high"] == pytest.approx(6.208574, abs=1e-6)
    assert pooled["verdict"] == "holds" and pooled["n_seeds"] == 3 and pooled["scale"] == "pp"
    # Q = 1.96^2 sum (x - m)^2 / h^2 = 1.212 < df = 2: no spread beyond the intervals
    assert pooled["q"] == pytest.approx(1.959964 ** 2 * ((4 - estimate) ** 2 / 4 + (6 - estimate) ** 2 / 9
                                                         + (5 - estimate) ** 2 / 16), rel=1e-5)
    assert pooled["i2"] == 0.0
    # holds, reversed, inconclusive: the pooled interval straddles 0, and I^2 says the seeds disagree
    warp = by_name(result, "warp_helps_vdsr")["pooled"]
    assert warp["verdict"] == "inconclusive" and warp["i2"] > 0.75


def test_rho_pooled_on_fisher_z_and_left_unpooled_at_the_bound(result):
    z = [math.atanh(v) for v in (0.1, -0.3, 0.4, 0.0, -0.35, 0.35)]
    w0, w1 = (2 * 1.959964 / (z[2] - z[1])) ** 2, (2 * 1.959964 / (z[5] - z[4])) ** 2
    mean = (w0 * z[0] + w1 * z[3]) / (w0 + w1)
    pooled = by_name(result, "psnr_not_predictive_fusion")["pooled"]
    assert pooled["n_seeds"] == 2 and pooled["scale"] == "fisher_z"
    assert pooled["difference"] == pytest.approx(math.tanh(mean), rel=1e-5)
    assert pooled["ci_high"] == pytest.approx(math.tanh(mean + 1.959964 / math.sqrt(w0 + w1)), rel=1e-5)
    assert pooled["verdict"] == "holds"  # inside +-0.5
    at_bound = pool([0.9, 0.8], [0.6, 0.5], [1.0, 0.95], unit="rho")
    assert at_bound["difference"] is None and "+-1" in at_bound["note"]
    assert pool([3.0], [1.0], [5.0])["note"].startswith("decided on fewer than 2")


def test_stability_counts(result):
    own, family = result["summary"]["own"], result["summary"]["family"]
    assert own["claims"]["holds_and_reversed"] == ["warp_helps_vdsr", "hr_is_the_ceiling"]
    assert own["claims"]["holds_and_inconclusive"] == ["warp_helps_vdsr", "rdsr_beats_sosr_tosr"]
    assert own["counts"] == {"holds_and_reversed": 2, "holds_and_inconclusive": 2, "reversed_and_inconclusive": 1}
    assert own["within_targets"] is False  # target 0 for holds <-> reversed
    assert own["aa_control_inconclusive_on_every_seed"] is True
    assert own["hr_is_the_ceiling_reversed_on"] == [2]
    assert family["claims"]["holds_and_inconclusive"] == []  # rdsr and warp: inconclusive on every seed
    assert family["counts"]["holds_and_reversed"] == 1  # hr_is_the_ceiling's family verdicts are its own
    assert by_name(result, "warp_helps_vdsr")["stability"]["own"]["text"] == \
        "holds on seed 0; reversed on seed 1; inconclusive on seed 2"
    assert by_name(result, "warp_helps_vdsr")["stability"]["family"]["text"] == "inconclusive on every seed"
    assert stability({0: "holds", 1: "holds", 2: "holds"}) == {"same": True, "changes": [],
                                                               "text": "holds on every seed"}
    table = replicate.summary_frame(result)
    assert table.iloc[0, 0] == "2: warp_helps_vdsr, hr_is_the_ceiling"
    assert "target: 0" in table.index[0] and "target: at most 2" in table.index[1]


def test_a_claim_missing_on_one_seed_is_named_not_fatal(result):
    psnr = by_name(result, "psnr_not_predictive_fusion")
    assert psnr["missing_on"] == [2]
    assert psnr["per_seed"][2] == {"seed": 2, "difference": None, "ci_low": None, "ci_high": None, "verdict": None,
                                   "family_verdict": None, "p_value": None}
    assert psnr["stability"]["own"]["text"] == "holds on every seed that decided it (not decided on seed 2)"
    assert any(n.startswith("psnr_not_predictive_fusion: not decided on seed 2") for n in result["notes"])
    # the A/A control missing on a seed is not "inconclusive on every seed"
    studies = {0: STUDIES[0], 1: study("fp1", [c for c in STUDIES[1]["claims"] if c["name"] != "aa_control"])}
    assert replication(studies)["summary"]["own"]["aa_control_inconclusive_on_every_seed"] is False


def test_same_dataset_fingerprint_is_flagged():
    notes = replication({0: STUDIES[0], 1: {**STUDIES[1], "dataset_fingerprint": "fp0"}})["notes"]
    assert any("seeds 0, 1 ran on the same data" in n for n in notes)


def test_instruments_across_seeds(result):
    rows = {(r["name"], r["stream"]): r for r in result["instruments"]}
    assert set(rows) == {("hr", "fusion"), ("hr", "spatial"), ("tsn_retrained_lr", "fusion"),
                         ("tsn_retrained_lr", "spatial")}  # no temporal numbers, no bicubic row: none shown
    hr = rows[("hr", "spatial")]
    assert hr["range"] == pytest.approx(55.5 - 47.0) and hr["within_tolerance"] is True  # 8.5 <= 10
    lr = rows[("tsn_retrained_lr", "spatial")]
    assert lr["range"] == pytest.approx(54.9 - 22.9) and lr["within_tolerance"] is False  # the 22.9 vs 54.9
    assert lr["missing_on"] == [2] and sorted(lr["per_seed"]) == [0, 1]
    assert rows[("tsn_retrained_lr", "fusion")]["within_tolerance"] is True  # 10.0: the bound is inclusive
    table = replicate.instruments_frame(result)
    assert table.loc[("tsn_retrained_lr", "spatial"), "seed 1"] == "54.9 ± 1.0"
    assert table.loc[("tsn_retrained_lr", "spatial"), "seed 2"] == "—"
    assert table.loc[("tsn_retrained_lr", "spatial"), "within 10 points"] == "no"
    # std 1.0 over 3 recognizer seeds: noise alone keeps two seeds' means within ~1.6 points; 32 is a dataset effect
    assert 1.0 < lr["noise_range"] < 2.5 and lr["within_noise"] is False
    assert table.loc[("tsn_retrained_lr", "spatial"), "within it"] == "no"


def test_noise_range_is_the_spread_recogniser_luck_alone_gives():
    """Two seeds, each a mean of n cells of std s: the difference of the means is N(0, 2 s^2 / n), so
    its absolute value stays below 1.96 x sqrt(2/n) x s with 95%; three seeds reach further (the
    studentized range's 3.31 / sqrt(n) x s)."""
    s, n = 15.0, 3
    two = noise_range([s, s], n)
    assert two == pytest.approx(1.96 * (2 / n) ** 0.5 * s, rel=0.03)
    three = noise_range([s, s, s], n)
    assert three == pytest.approx(3.31 / n ** 0.5 * s, rel=0.03)
    assert noise_range([s, s, s], n) == three  # deterministic
    assert noise_range([3.0, 3.0, 3.0], n) == pytest.approx(three / 5, rel=1e-9)  # scales with s
    assert math.isnan(noise_range([s], n)) and math.isnan(noise_range([s, None], n))
    assert math.isnan(noise_range([s, s], 1))


def test_fidelity_rows_across_seeds():
    """SPMC 0.002 dB above bicubic on one seed is bicubic-equivalent there (margin 0.05 dB); VDSR
    is above on both; RCAN's older study.json (no margin) leaves it out on that seed."""
    margins = {0: {"vdsr": 0.19, "spmc": 0.002, "rcan": None}, 1: {"vdsr": 0.23, "spmc": 0.06, "rcan": 1.2}}
    studies = {s: study(f"fp{s}", [claim("aa_control", 0.0, -1.0, 1.0, "inconclusive")],
                        {m: {"psnr_margin_worst_seed": v} for m, v in ms.items()}) for s, ms in margins.items()}
    rows = {r["name"]: r for r in replication(studies)["fidelity"]}
    assert list(rows) == ["vdsr", "rcan", "spmc"]  # FIDELITY_SR's order; no row for a method no seed ran
    assert rows["vdsr"]["above_on_every_seed"] is True and rows["vdsr"]["per_seed"] == {0: 0.19, 1: 0.23}
    assert rows["spmc"]["above_on_every_seed"] is False
    assert rows["rcan"]["per_seed"] == {1: 1.2} and rows["rcan"]["missing_on"] == [0]
    table = replicate.fidelity_frame(replication(studies))
    assert table.loc["spmc", "seed 0"] == "+0.002" and table.loc["spmc", "≥ 0.05 dB on every seed"].startswith("no")
    assert table.loc["rcan", "seed 0"] == "—"


def test_report_page_has_the_tables(result):
    page = replicate.replication_html(result)
    for shown in ("Claims, seed by seed, and pooled", "seed 2 (dataset fp2)", "warp_helps_vdsr", "+4 [+2, +6]",
                  "Do the verdicts stay the same?", "experiment dataset-seed-1 (1111111)", "Fisher",
                  "lr-2e-4: differs from the workspace in other params", "The instruments across the seeds"):
        assert shown in page, shown
    assert "<table" in page and "import " not in page


# ---------------------------------------------------------------------------------------------
# Which experiments: a `dvc exp show --json` listing, hand-written in the shape DVC 3.67 prints
# (captured from a throwaway 2-stage project, trimmed to the keys read)

def _entry(rev, name, seed, other=1, state="success", timestamp="2026-12-06T19:06:00", error=None):
    data = {"rev": rev, "timestamp": timestamp, "params": {"params.yaml": {"data": {
        "data": {"dataset": "synthetic", "synthetic": {"seed": seed, "n": 5}}, "other": other}}},
        "metrics": {"reports/metrics/study.json": {"data": {"dataset_fingerprint": f"fp{seed}"}}}, "deps": {},
        "outs": {}, "meta": {}}
    return {"revs": [{"rev": rev, "name": name, "data": data, "error": error, "experiments": None}],
            "executor": None if state is None else {"state": state, "name": "dvc-task", "local": {}}, "name": name}


EXP_SHOW = [
    {"rev": "workspace", "name": None, "error": None, "experiments": None,
     "data": _entry("workspace", None, 0)["revs"][0]["data"]},
    {"rev": "5271e11ffc855a3c547c6c847de8a5be1fcee72c", "name": "main", "error": None,
     "data": _entry("5271e11", "main", 0)["revs"][0]["data"],
     "experiments": [
         _entry("a" * 40, "dataset-seed-1", 1, timestamp="2026-12-06T19:07:00"),
         _entry("b" * 40, "dataset-seed-2", 2, state=None),  # run in the workspace: no executor
         _entry("c" * 40, "blond-rise", 1, timestamp="2026-12-06T19:01:00"),  # older, same seed
         _entry("d" * 40, "other2", 0, other=2),
         _entry("e" * 40, "mixed", 1, other=3),
         _entry("f" * 40, "again", 0),
         _entry("0" * 40, "bad", 3, state="failed", error={"msg": "Experiment run failed", "type": ""}),
         _entry("9" * 40, "later", 4, state="queued"),
     ]},
]


def test_experiments_that_differ_only_by_the_dataset_seed():
    workspace, experiments = parse_exp_show(EXP_SHOW)
    assert workspace["data.synthetic.seed"] == 0 and workspace["other"] == 1
    assert {e.name: e.state for e in experiments}["dataset-seed-2"] == "success"
    selection = select_seed_runs(workspace, experiments)
    assert selection.workspace_seed == 0
    assert {s: e.name for s, e in selection.experiments.items()} == {1: "dataset-seed-1", 2: "dataset-seed-2"}
    why = dict(selection.left_out)
    assert set(why) == {"blond-rise", "other2", "mixed", "again", "bad", "later"}
    assert "the newer experiment dataset-seed-1" in why["blond-rise"]
    assert "other params than data.synthetic.seed (other: 1 -> 2)" in why["other2"]
    assert "(other: 1 -> 3)" in why["mixed"] and "data.synthetic.seed" not in why["mixed"].split("(")[1]
    assert "the workspace's own params" in why["again"]
    assert "failed" in why["bad"] and "dvc queue logs bad" in why["bad"]
    assert "queued: not finished yet" in why["later"]
    with pytest.raises(ValueError, match="no workspace entry"):
        parse_exp_show(EXP_SHOW[1:])


def test_report_collects_workspace_and_experiments(tmp_path, monkeypatch):
    (tmp_path / "reports/metrics").mkdir(parents=True)
    (tmp_path / "reports/metrics/study.json").write_text(json.dumps(STUDIES[0]))
    commits = {"a" * 40: STUDIES[1]}  # dataset-seed-2's commit has no study.json
    monkeypatch.setattr(replicate, "exp_show", lambda root: EXP_SHOW)
    monkeypatch.setattr(replicate, "study_at", lambda root, rev: commits.get(rev))
    said = []
    result = replicate.report(tmp_path, say=said.append)
    assert result["seeds"] == [0, 1]
    assert [r["source"] for r in result["runs"]] == ["workspace", "experiment dataset-seed-1"]
    left = {e["experiment"]: e["why"] for e in result["left_out"]}
    assert "has no reports/metrics/study.json" in left["dataset-seed-2"]
    assert "dvc exp remove dataset-seed-2" in left["dataset-seed-2"]
    assert json.loads((tmp_path / "reports/metrics/replication.json").read_text())["seeds"] == [0, 1]
    assert "Claims, seed by seed, and pooled" in (tmp_path / "reports/replication.html").read_text()
    assert any("replication.html" in s for s in said)


def test_report_without_the_workspace_study_names_the_fix(tmp_path):
    with pytest.raises(replicate.ReplicationError, match="make study"):
        replicate.collect(tmp_path)


def test_run_queues_each_new_seed_then_waits_and_names_failures(tmp_path, monkeypatch):
    calls, polls = [], iter(range(100))
    workspace = EXP_SHOW[0]

    def listing(states):
        return [workspace, {**EXP_SHOW[1], "experiments": [
            _entry(str(seed) * 40, f"dataset-seed-{seed}", seed, state=state) for seed, state in states.items()]}]

    def fake_call(args, root, fix=""):
        calls.append(list(args))
        if args[:3] == ["dvc", "exp", "show"]:
            n = next(polls)
            states = {1: "success"} if n == 0 else {1: "success", 3: "running" if n < 3 else "failed"}
            return json.dumps(listing(states))
        return ""

    monkeypatch.setattr(replicate, "_call", fake_call)
    said = []
    code = replicate.run(tmp_path, [0, 1, 3], poll=0, say=said.append)
    queued = [c for c in calls if c[:3] == ["dvc", "exp", "run"]]
    assert queued == [["dvc", "exp", "run", "--queue", "-S", "data.synthetic.seed=3", "-n", "dataset-seed-3"]]
    assert ["dvc", "queue", "start", "-j", "1"] in calls
    assert any("seed 0: the workspace's own run" in s for s in said)
    assert any("seed 1: already run, experiment dataset-seed-1" in s for s in said)
    assert code == 1 and any("`dvc queue logs dataset-seed-3`" in s for s in said)


def test_commands_run_in_this_venv_and_never_in_an_arsr_root_of_the_caller(monkeypatch):
    monkeypatch.setenv("ARSR_ROOT", "/somewhere/else")
    env = replicate._env()
    assert "ARSR_ROOT" not in env  # an experiment's stages must find DVC's copy, not the workspace
    assert env["PATH"].split(os.pathsep)[0] == str(Path(sys.executable).parent)


def test_run_refuses_a_dataset_without_seeds(tmp_path, monkeypatch):
    listing = json.loads(json.dumps(EXP_SHOW))
    listing[0]["data"]["params"]["params.yaml"]["data"]["data"]["dataset"] = "ucf101"
    monkeypatch.setattr(replicate, "exp_show", lambda root: listing)
    with pytest.raises(replicate.ReplicationError, match="data.dataset: synthetic"):
        replicate.run(tmp_path, [1])


# ---------------------------------------------------------------------------------------------
# The commands on a toy DVC project: two stages, the study's reports/.gitignore, queued experiments

TOY_STAGE = """\
import hashlib, json, os, time, yaml
time.sleep(3)  # long enough for `run` to see it queued or running: it polls, it does not block on the queue
os.makedirs("reports/metrics", exist_ok=True)  # a fresh clone (the queue's) has no empty folders
p = yaml.safe_load(open("params.yaml"))
seed = p["data"]["synthetic"]["seed"]
d = 3.0 + seed
os.makedirs("reports/plots", exist_ok=True)
open("reports/plots/curve.csv", "w").write("step,loss\\n1,%s\\n2,%s\\n" % (9 + seed, 8 + seed))
json.dump({"dataset_fingerprint": hashlib.sha1(str(seed).encode()).hexdigest()[:12], "seeds": 1,
           "recognizer_seeds": 1, "test_videos": 10, "claims": [
    {"name": "sr_beats_bicubic", "difference": d, "ci_low": d - 2, "ci_high": d + 2, "verdict": "holds",
     "p_value": 0.01, "family_verdict": "holds"}]}, open("reports/metrics/study.json", "w"))
"""


@pytest.mark.slow
def test_commands_on_a_toy_dvc_project(tmp_path):
    dvc = Path(sys.executable).parent / "dvc"
    if not dvc.exists():
        pytest.skip("dvc is not installed beside this Python (make setup)")
    env = {**os.environ, "PATH": f"{dvc.parent}{os.pathsep}{os.environ['PATH']}", "GIT_AUTHOR_NAME": "t",
           "GIT_AUTHOR_EMAIL": "t@t", "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@t"}
    env.pop("ARSR_ROOT", None)

    def sh(*args):
        proc = subprocess.run(args, cwd=tmp_path, env=env, capture_output=True, text=True)
        assert proc.returncode == 0, f"{args}: {proc.stdout}{proc.stderr}"
        return proc.stdout

    (tmp_path / "reports/metrics").mkdir(parents=True)
    shutil.copy(ROOT / "reports/.gitignore", tmp_path / "reports/.gitignore")  # the study's: what git sees
    (tmp_path / "params.yaml").write_text("data:\n  dataset: synthetic\n  synthetic: {seed: 0, n: 5}\nother: 1\n")
    (tmp_path / "stage.py").write_text(TOY_STAGE)
    (tmp_path / "dvc.yaml").write_text(
        "stages:\n  report:\n    cmd: python stage.py\n    deps: [stage.py]\n    params: [data.synthetic]\n"
        "    metrics:\n      - reports/metrics/study.json:\n          cache: false\n"
        "    plots:\n      - reports/plots/curve.csv:\n          cache: false\n          x: step\n          y: loss\n")
    sh("git", "init", "-q")
    sh("dvc", "init", "-q")
    sh("git", "add", "-A")
    sh("git", "commit", "-qm", "toy")
    sh("dvc", "repro", "-q")
    run = subprocess.run([sys.executable, "-m", "arsr.study.replicate", "run", "--seeds", "0", "2", "--poll", "1"],
                         cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "dataset-seed-2: success" in run.stdout
    assert "dataset-seed-2: queued" in run.stdout or "dataset-seed-2: running" in run.stdout, run.stdout
    sh("dvc", "exp", "run", "--queue", "-S", "other=2", "-n", "not-a-seed")  # another param: left out
    sh("dvc", "queue", "start", "-j", "1")
    for _ in range(120):
        if "Queued" not in sh("dvc", "queue", "status") and "Running" not in sh("dvc", "queue", "status"):
            break
        subprocess.run(["sleep", "1"])
    report = subprocess.run([sys.executable, "-m", "arsr.study.replicate", "report"], cwd=tmp_path, env=env,
                            capture_output=True, text=True, timeout=120)
    assert report.returncode == 0, report.stdout + report.stderr
    result = json.loads((tmp_path / "reports/metrics/replication.json").read_text())
    assert result["seeds"] == [0, 2]
    assert [c["difference"] for c in result["claims"][0]["per_seed"]] == [3.0, 5.0]
    assert [e["experiment"] for e in result["left_out"]] == ["not-a-seed"]
    assert "Claims, seed by seed, and pooled" in (tmp_path / "reports/replication.html").read_text()
    # the experiments' curves are in their commits: `dvc plots diff` sets two dataset seeds side by side
    plots = json.loads(sh("dvc", "plots", "diff", "dataset-seed-2", "--json"))
    assert not plots.get("errors"), plots["errors"]
    revisions = {rev for plot in plots["data"]["reports/plots/curve.csv"] for rev in plot.get("revisions", [])}
    assert {"workspace", "dataset-seed-2"} <= revisions, plots["data"]


def test_waiting_rides_out_a_passing_exp_show_failure_but_not_a_lasting_one(tmp_path, monkeypatch):
    # seen on a real queue: `dvc exp show` fails for a moment while the worker sets up the
    # experiment's temporary copy; the wait goes on, and gives up only after SHOW_RETRIES in a row
    workspace = EXP_SHOW[0]
    done = json.loads(json.dumps([workspace, {**EXP_SHOW[1], "experiments": [
        _entry("2" * 40, "dataset-seed-2", 2, state="success")]}]))
    answers = iter([replicate.ReplicationError("`dvc exp show --json` failed in x (exit 1):\n  ERROR: directory "
                                               "'.dvc/tmp/exps/tmpabc/.dvc' does not exist"), done])

    def flaky(root):
        answer = next(answers)
        if isinstance(answer, Exception):
            raise answer
        return answer

    monkeypatch.setattr(replicate, "exp_show", flaky)
    said = []
    assert replicate.wait_for(tmp_path, ["dataset-seed-2"], poll=0, say=said.append, sleep=lambda s: None) == 0
    assert any("retry 1 of" in s and "does not exist" in s for s in said)

    def broken(root):
        raise replicate.ReplicationError("`dvc exp show --json` failed in x (exit 1):\n  ERROR: no repo")

    monkeypatch.setattr(replicate, "exp_show", broken)
    said = []
    with pytest.raises(replicate.ReplicationError, match="no repo"):
        replicate.wait_for(tmp_path, ["dataset-seed-2"], poll=0, say=said.append, sleep=lambda s: None)
    assert sum("retry" in s for s in said) == replicate.SHOW_RETRIES
