"""The report stage's library (arsr.study.report, arsr.study.paper) on fake result files, and the
report notebook end to end on them."""
from __future__ import annotations

import json
import math
import os
import re
import shutil
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from arsr.study import paper, report

ROOT = Path(__file__).resolve().parents[1]
METHODS = ["vdsr", "rcan", "srgan", "esrgan", "spmc", "duf16", "duf52", "sosr", "tosr"]
ABLATION = {"sosr": ["vdsr_mse", "vdsr_wmse", "vdsr_wmse_feat", "esrgan_wmse_feat", "esrgan_mse_feat_adv",
                     "esrgan_wmse_feat_adv"],
            "tosr": ["vdsr", "vdsr_warp", "duf16", "duf16_warp"]}
ROWS = ["Bicubic", "VDSR", "RCAN", "SRGAN", "ESRGAN", "SoSR", "SPMC", "VSR-DUF-16", "VSR-DUF-52", "ToSR",
        "SoSR+ToSR", "HR"]
PROV = {"git_commit": "abc123", "params_hash": "p0", "device": "cpu (2 cores)", "python": "3.11",
        "torch": "2.13", "time_utc": "2026-01-01T00:00:00+00:00"}


# ---------------------------------------------------------------------------------------------
# Fake study outputs


def _acc(method: str, rec: str, stream: str, seed: int) -> float:
    base = {m: 40.0 + 2 * i for i, m in enumerate(paper.METHOD_ORDER)}[method]
    return base + {"spatial": 0.0, "temporal": 5.0, "fusion": 10.0}[stream] + (1.0 if rec == "st_resnet" else 0.0) \
        + (2.0 * seed)  # seeds 0 and 1 differ by 2 -> std sqrt(2)


def _psnr(method: str) -> float:
    return {"hr": math.inf, "sosr+tosr": math.nan}.get(method, 20.0 + paper.METHOD_ORDER.index(method) % 5)


def write_fake_study(root: Path, methods=METHODS, seeds=(0, 1), ablation=ABLATION, frames=(48, 64),
                     n_samples=2) -> Path:
    """reports/ and data/ as the stages before the report leave them."""
    reports, rng = root / "reports", np.random.default_rng(0)
    (reports / "eval").mkdir(parents=True)
    for method in report.eval_methods(methods):
        rows = []
        for seed in seeds:
            for rec in ("tsn", "st_resnet"):
                streams = ["fusion"] if method == "sosr+tosr" else ["spatial", "temporal", "fusion"]
                for stream in streams:
                    rows.append({"method": method, "seed": seed, "recogniser": rec, "stream": stream,
                                 "top1": _acc(method, rec, stream, seed), "top5": 99.0, "n_videos": 30,
                                 "psnr": _psnr(method), "ssim": 0.5 if method != "sosr+tosr" else math.nan})
        item = report.eval_item(method)
        pd.DataFrame(rows).to_csv(reports / "eval" / f"{item}.csv", index=False)
        pd.DataFrame([{"method": method, "seed": 0, "recogniser": "tsn", "stream": "fusion",
                       "class_name": "a", "accuracy": 50.0}]).to_csv(reports / "eval" / f"{item}_per_class.csv",
                                                                      index=False)
        metrics = root / "reports/metrics/eval" / f"{item}.json"
        metrics.parent.mkdir(parents=True, exist_ok=True)
        metrics.write_text(json.dumps({"seconds": 2.0, "provenance": PROV}))
    (reports / "ablation").mkdir()
    for kind, variants in ablation.items():
        for i, variant in enumerate(variants):
            rows = []
            for seed in seeds:
                for stream in ("spatial", "temporal", "fusion"):
                    rows.append({"kind": kind, "variant": variant, "structure": variant.split("_")[0],
                                 "pixel": "wmse" if "wmse" in variant else "mse", "feature": "feat" in variant,
                                 "adversarial": "adv" in variant, "warp": "warp" in variant, "seed": seed,
                                 "stream": stream, "top1": 30.0 + i + seed, "top5": 90.0, "psnr": 25.0,
                                 "ssim": 0.6})
            pd.DataFrame(rows).to_csv(reports / "ablation" / f"{kind}_{variant}.csv", index=False)
            m = reports / "metrics/ablation" / f"{kind}_{variant}.json"
            m.parent.mkdir(parents=True, exist_ok=True)
            m.write_text(json.dumps({"seconds": 3.0, "provenance": PROV}))
    (reports / "metrics/prepare.json").write_text(json.dumps({"seconds": {"prepare_s": 1.0, "total_s": 1.5},
                                                              "provenance": PROV}))
    (reports / "metrics/recognizers.json").write_text(json.dumps({"seconds": 10.0, "provenance": PROV}))
    (reports / "metrics/train_sr").mkdir()
    (reports / "plots/train_sr").mkdir(parents=True)
    for method in methods:
        (reports / "metrics/train_sr" / f"{method}.json").write_text(json.dumps({"seconds": 5.0, "provenance": PROV}))
        pd.DataFrame({"method": method, "seed": 0, "phase": "sr", "iteration": [1, 2, 3], "step": [1, 2, 3],
                      "loss": [1.0, 0.5, 0.25], "pixel": [1.0, 0.5, 0.25]}).to_csv(
            reports / "plots/train_sr" / f"{method}.csv", index=False)
    pd.DataFrame({"model": ["tsn_rgb"] * 3 + ["tsn_flow"] * 3, "seed": 0, "iteration": [1, 2, 3] * 2,
                  "loss": [2.0, 1.0, 0.5] * 2, "accuracy": [0.1, 0.5, 0.9] * 2}).to_csv(
        reports / "plots/recognizers.csv", index=False)
    # data/interim (two test videos) and data/eval/<item>/samples.npz
    h, w = frames
    interim = root / "data/interim"
    index = []
    hr_frames = {}
    for k in range(n_samples):
        vid, key = f"Class{k}/v_{k}", f"Class{k}__v_{k}"
        folder = interim / "videos" / key
        folder.mkdir(parents=True)
        hr = rng.integers(0, 255, (4, h, w, 3), dtype=np.uint8)
        np.save(folder / "hr.npy", hr)
        np.save(folder / "lr.npy", hr[:, ::4, ::4])
        flow = np.zeros((3, h, w, 2), np.float16)
        flow[:, h // 4: h // 2, w // 4: w // 2, 0] = 2.0
        np.save(folder / "flow.npy", flow)
        (folder / "meta.json").write_text(json.dumps({"settings": {"flow_method": "farneback"}}))
        index.append({"video_id": vid, "key": key, "class_name": f"Class{k}", "label": k, "split": "test",
                      "n_frames": 4, "height": h, "width": w, "lr_height": h // 4, "lr_width": w // 4,
                      "source": "x"})
        hr_frames[vid] = hr[1:3]
    pd.DataFrame(index).to_csv(interim / "index.csv", index=False)
    pd.DataFrame({"label": range(n_samples), "class_name": [f"Class{k}" for k in range(n_samples)]}).to_csv(
        interim / "classes.csv", index=False)
    ids = np.array(list(hr_frames))
    for method in ["hr", "bicubic", *methods]:
        sr = np.stack([hr_frames[v] for v in ids])
        if method != "hr":
            noise = rng.integers(-20, 20, sr.shape)
            sr = np.clip(sr.astype(int) + noise, 0, 255).astype(np.uint8)
        folder = root / "data/eval" / method
        folder.mkdir(parents=True)
        np.savez(folder / "samples.npz", video_ids=ids, frames=np.ones(len(ids), int), sr=sr)
    return root


@pytest.fixture
def fake(tmp_path):
    return write_fake_study(tmp_path)


# ---------------------------------------------------------------------------------------------
# The paper's numbers


def test_paper_transcription_matches_the_notes():
    """NOTES.md, 'Reference results' (poster Table2 = paper Table 4, TSN)."""
    acc = paper.accuracy().set_index(["method", "dataset", "recogniser", "stream"])["top1"]
    notes = {("hmdb51", "fusion"): {"bicubic": 63.53, "esrgan": 63.40, "sosr": 64.51, "duf52": 66.86,
                                    "tosr": 66.08, "sosr+tosr": 68.30, "hr": 69.28},
             ("ucf101", "fusion"): {"bicubic": 87.87, "sosr+tosr": 92.13, "hr": 93.49},
             ("hmdb51", "spatial"): {"bicubic": 42.81, "sosr": 53.59, "hr": 54.58},
             ("hmdb51", "temporal"): {"bicubic": 56.54, "tosr": 61.50, "hr": 62.16}}
    for (dataset, stream), values in notes.items():
        for method, value in values.items():
            assert acc[(method, dataset, "tsn", stream)] == pytest.approx(value), (method, dataset, stream)


def test_paper_tables_are_complete_and_consistent():
    acc = paper.accuracy()
    assert len(acc) == 12 * 2 * 2 * 3
    missing = acc[acc["top1"].isna()]
    assert set(missing["method"]) == {"sosr+tosr"} and set(missing["stream"]) == {"spatial", "temporal"}
    assert list(paper.accuracy_wide("ucf101").index) == list(paper.METHOD_ORDER)
    wide = paper.accuracy_wide("hmdb51")
    # the ablations' rows that are also rows of Table 4 (TSN, HMDB51)
    sosr = paper.sosr_ablation().set_index("variant")["top1"]
    tosr = paper.tosr_ablation().set_index("variant")["top1"]
    assert sosr["vdsr_mse"] == wide.loc["vdsr", ("tsn", "spatial")]
    assert sosr["esrgan_mse_feat_adv"] == wide.loc["esrgan", ("tsn", "spatial")]
    assert sosr["esrgan_wmse_feat_adv"] == wide.loc["sosr", ("tsn", "spatial")]
    assert tosr["vdsr"] == wide.loc["vdsr", ("tsn", "temporal")]
    assert tosr["duf16"] == wide.loc["duf16", ("tsn", "temporal")]
    assert tosr["duf16_warp"] == wide.loc["tosr", ("tsn", "temporal")]
    assert list(sosr.index) == ABLATION["sosr"] and list(tosr.index) == ABLATION["tosr"]
    q = paper.quality().set_index(["method", "dataset"])
    assert q.loc[("duf52", "ucf101"), "psnr"] == pytest.approx(31.9657)
    assert q.loc[("tosr", "hmdb51"), "ssim"] == pytest.approx(0.6718)
    assert set(paper.METHOD_LABELS) == set(paper.METHOD_ORDER)


def test_reference_dataset():
    assert paper.reference_dataset("auto", "synthetic") is None
    assert paper.reference_dataset("auto", "hmdb51") == "hmdb51"
    assert paper.reference_dataset("off", "ucf101") is None
    assert paper.reference_dataset("on", "synthetic") == "ucf101"
    assert paper.reference_dataset("on", "hmdb51") == "hmdb51"
    with pytest.raises(ValueError, match="paper_reference"):
        paper.reference_dataset("yes", "ucf101")


# ---------------------------------------------------------------------------------------------
# Loading


def test_missing_file_names_the_stage(fake):
    (fake / "reports/eval/vdsr.csv").unlink()
    with pytest.raises(report.MissingInputError, match=r"vdsr\.csv.*dvc repro evaluate@vdsr"):
        report.read_eval(fake / "reports", METHODS)
    (fake / "reports/eval/sosr_tosr.csv").unlink()
    with pytest.raises(report.MissingInputError, match="evaluate_combined"):
        report.read_eval(fake / "reports", ["sosr", "tosr"])
    (fake / "reports/metrics/train_sr/rcan.json").unlink()
    with pytest.raises(report.MissingInputError, match=r"dvc repro train_sr@rcan"):
        report.read_metrics(fake / "reports", METHODS, ABLATION)
    (fake / "reports/ablation/tosr_duf16.csv").unlink()
    with pytest.raises(report.MissingInputError, match=r"ablate_tosr@duf16"):
        report.read_ablation(fake / "reports", ABLATION)
    (fake / "data/eval/bicubic/samples.npz").unlink()
    with pytest.raises(report.MissingInputError, match=r"evaluate_reference@bicubic"):
        report.read_samples(fake / "data/eval", ["hr", "bicubic"])
    (fake / "reports/plots/recognizers.csv").unlink()
    with pytest.raises(report.MissingInputError, match=r"dvc repro train_recognizers"):
        report.read_curves(fake / "reports", METHODS)


def test_stale_file_is_an_error(fake):
    df = pd.read_csv(fake / "reports/eval/rcan.csv").drop(columns=["psnr"])
    df.to_csv(fake / "reports/eval/rcan.csv", index=False)
    with pytest.raises(ValueError, match=r"rcan\.csv lacks column.*psnr.*evaluate@rcan"):
        report.read_eval(fake / "reports", METHODS)


def test_load_study(fake):
    study = report.load_study(fake / "reports", METHODS, ABLATION)
    assert set(study.eval["method"]) == set(paper.METHOD_ORDER)
    assert len(study.ablation) == 10 * 2 * 3
    assert "evaluate_combined" in study.metrics and "ablate_sosr@vdsr_mse" in study.metrics
    assert len(study.metrics) == 2 + 9 + 12 + 10
    assert report.flow_method_of(fake / "data/interim") == "farneback"
    assert report.eval_methods(["vdsr"]) == ["bicubic", "vdsr", "hr"]


# ---------------------------------------------------------------------------------------------
# Tables


def test_accuracy_table_rows_columns_and_mean_std(fake):
    df = report.read_eval(fake / "reports", METHODS)
    table = report.accuracy_table(df)
    assert list(table.index) == ROWS
    assert list(table.columns.get_level_values(0).unique()) == ["ours"]
    assert list(table.columns.droplevel(0)) == [(r, s) for r in ("TSN", "ST-ResNet")
                                                for s in ("Spatial", "Temporal", "Fusion")]
    # seeds 0, 1 -> values v and v + 2: mean v + 1, sample std sqrt(2)
    v = _acc("vdsr", "tsn", "temporal", 0)
    assert table.loc["VDSR", ("ours", "TSN", "Temporal")] == f"{v + 1:.2f} ± {math.sqrt(2):.2f}"
    assert table.loc["SoSR+ToSR", ("ours", "TSN", "Spatial")] == "—"
    assert table.loc["SoSR+ToSR", ("ours", "ST-ResNet", "Fusion")] != "—"
    dashes = (table == "—").sum().sum()
    assert dashes == 4 and table.attrs["notes"] == [report.NOTE_COMBINED]
    # one seed: a plain number
    one = report.accuracy_table(df[df["seed"] == 0])
    assert one.loc["VDSR", ("ours", "TSN", "Temporal")] == f"{v:.2f}"


def test_accuracy_table_paper_columns_only_when_asked(fake):
    df = report.read_eval(fake / "reports", METHODS)
    assert not any("paper" in c[0] for c in report.accuracy_table(df, None).columns)
    table = report.accuracy_table(df, "hmdb51")
    assert list(table.columns.get_level_values(0).unique()) == ["ours", "paper (HMDB51)"]
    assert table.loc["SoSR", ("paper (HMDB51)", "TSN", "Spatial")] == "53.59"
    assert table.loc["HR", ("paper (HMDB51)", "ST-ResNet", "Fusion")] == "68.10"
    assert table.loc["SoSR+ToSR", ("paper (HMDB51)", "TSN", "Temporal")] == "—"
    ucf = report.accuracy_table(df, "ucf101")
    assert ucf.loc["SoSR+ToSR", ("paper (UCF101)", "TSN", "Fusion")] == "92.13"
    # a subset of methods: only their rows (plus bicubic and HR), paper numbers still aligned
    sub = report.accuracy_table(df[df["method"].isin(["hr", "bicubic", "rcan"])], "ucf101")
    assert list(sub.index) == ["Bicubic", "RCAN", "HR"]
    assert sub.loc["RCAN", ("paper (UCF101)", "TSN", "Temporal")] == "82.12"


def test_accuracy_table_refuses_a_hole(fake):
    df = report.read_eval(fake / "reports", METHODS)
    df = df[~((df["method"] == "spmc") & (df["stream"] == "temporal") & (df["recogniser"] == "tsn"))]
    with pytest.raises(ValueError, match=r"spmc / tsn / temporal.*evaluate@spmc"):
        report.accuracy_table(df)


def test_ablation_tables(fake):
    abl = report.read_ablation(fake / "reports", ABLATION)
    sosr = report.ablation_table(abl, "sosr")
    assert list(sosr.index) == ABLATION["sosr"]
    assert list(sosr.columns) == [("", "Structure"), ("", "MSE/WMSE"), ("", "Feature"), ("", "Adversarial"),
                                  ("ours", "top-1 spatial (%)"), ("ours", "PSNR (dB)"), ("ours", "SSIM")]
    assert sosr.loc["esrgan_wmse_feat_adv", ("", "Structure")] == "ESRGAN"
    assert sosr.loc["esrgan_mse_feat_adv", ("", "MSE/WMSE")] == "MSE"
    assert sosr.loc["vdsr_wmse_feat", ("", "Feature")] == "✓"
    assert sosr.loc["vdsr_wmse_feat", ("", "Adversarial")] == "-"
    assert sosr.loc["vdsr_mse", ("ours", "top-1 spatial (%)")] == f"30.50 ± {math.sqrt(0.5):.2f}"
    tosr = report.ablation_table(abl, "tosr", reference=True)
    assert list(tosr.index) == ABLATION["tosr"]
    assert ("", "Warp loss") in tosr.columns and ("paper (HMDB51)", "top-1 temporal (%)") in tosr.columns
    assert tosr.loc["duf16_warp", ("paper (HMDB51)", "top-1 temporal (%)")] == "61.50"
    assert tosr.loc["duf16", ("", "Structure")] == "VSR-DUF-16"
    assert tosr.loc["vdsr_warp", ("", "Warp loss")] == "✓"
    assert not (sosr == "").any().any() and not (tosr == "—").any().any()


def test_quality_table(fake):
    df = report.read_eval(fake / "reports", METHODS)
    table = report.quality_table(df)
    assert list(table.index) == [r for r in ROWS if r not in ("HR", "SoSR+ToSR")]
    assert list(table.columns) == [("ours", "PSNR (dB)"), ("ours", "SSIM")]
    assert table.loc["RCAN", ("ours", "PSNR (dB)")] == f"{_psnr('rcan'):.2f} ± 0.00"
    ref = report.quality_table(df, "ucf101")
    assert ref.loc["ToSR", ("paper (UCF101)", "PSNR (dB)")] == "30.84"
    assert ref.loc["VDSR", ("paper (UCF101)", "SSIM")] == "—"
    assert any("does not report" in n for n in ref.attrs["notes"])


def test_table_html_has_no_blank_cells(fake):
    df = report.read_eval(fake / "reports", METHODS)
    text = report.table_html(report.accuracy_table(df, "ucf101"), "Table 4")
    cells = re.findall(r"<td[^>]*>(.*?)</td>", text, flags=re.S)
    assert len(cells) == 12 * 12 and all(c.strip() for c in cells)
    assert "paper (UCF101)" in text and "font-style: italic" in text and "the paper&#x27;s" in text


# ---------------------------------------------------------------------------------------------
# PSNR vs accuracy


def test_spearman_known_values():
    assert report.spearman([1, 2, 3, 4, 5], [5, 6, 7, 8, 7]) == pytest.approx(0.8207826816681233)
    assert report.spearman([1, 2, 3, 4], [10, 100, 1000, 10000]) == pytest.approx(1.0)
    assert report.spearman([1, 2, 3, 4], [4, 3, 2, 1]) == pytest.approx(-1.0)
    # scipy.stats.spearmanr([10, 20, 30, 40, 50, 60], [3, 1, 4, 1, 5, 9]).statistic
    assert report.spearman([10, 20, 30, 40, 50, 60], [3, 1, 4, 1, 5, 9]) == pytest.approx(0.6667366910003157)
    assert math.isnan(report.spearman([1, 2], [1, 2]))
    assert math.isnan(report.spearman([1, 2, 3], [1, 1, 1]))


def test_spearman_with_ties_matches_definition():
    # ranks of y with ties: [3,1,4,1,5,9] -> [3, 1.5, 4, 1.5, 5, 6]; Pearson of [1..6] with those
    x, y = np.arange(1, 7), np.array([3, 1.5, 4, 1.5, 5, 6])
    assert report.spearman([10, 20, 30, 40, 50, 60], [3, 1, 4, 1, 5, 9]) == pytest.approx(np.corrcoef(x, y)[0, 1])


def test_psnr_vs_accuracy_and_correlations(fake, tmp_path):
    df = report.read_eval(fake / "reports", METHODS)
    points = report.psnr_vs_accuracy(df)
    assert list(points.columns) == ["method", "recogniser", "stream", "psnr", "top1"]
    assert set(points["method"]) == set(METHODS) | {"bicubic"}  # no HR (PSNR inf), no SoSR+ToSR
    assert len(points) == 10 * 2 * 3
    rho = report.spearman_by_stream(points)
    assert set(rho["recogniser"]) == {"tsn", "st_resnet", "all"} and len(rho) == 9
    tsn_spatial = points[(points["recogniser"] == "tsn") & (points["stream"] == "spatial")]
    expected = report.spearman(tsn_spatial["psnr"], tsn_spatial["top1"])
    got = rho[(rho["recogniser"] == "tsn") & (rho["stream"] == "spatial")]["spearman"].iloc[0]
    assert got == pytest.approx(expected)
    path = report.write_psnr_vs_accuracy(points, tmp_path / "plots/psnr_vs_accuracy.csv")
    back = pd.read_csv(path)
    assert list(back.columns) == ["method", "recogniser", "stream", "psnr", "top1"] and len(back) == 60
    fig = report.psnr_accuracy_figure(points, rho)
    assert len(fig.axes) == 3 and "ρ=" in fig.axes[0].get_title()


# ---------------------------------------------------------------------------------------------
# Figures


def test_figures(fake):
    import matplotlib

    matplotlib.use("Agg")
    from arsr.data.store import PreparedDataset

    samples = report.read_samples(fake / "data/eval", ["hr", "bicubic", *METHODS])
    fig = report.visual_comparison_figure(samples, n_videos=2, dataset=PreparedDataset(fake / "data/interim"))
    titles = [ax.get_title() for ax in fig.axes if ax.get_title()]
    assert titles == ["HR", "Bicubic", "VDSR", "RCAN", "SRGAN", "ESRGAN", "SoSR", "SPMC", "VSR-DUF-16",
                      "VSR-DUF-52", "ToSR"]
    # the crop sits on the moving block (rows 12..24, columns 16..32 of a 48 x 64 frame)
    y, x = report._motion_box(np.pad(np.ones((12, 16)), ((12, 24), (16, 32))), (12, 16))
    assert (y, x) == (12, 16)
    fig = report.wmse_weight_figure(PreparedDataset(fake / "data/interim"), ["Class0/v_0"], [1])
    assert "WMSE" in fig.axes[1].get_title()
    fig, epe = report.flow_comparison_figure(samples, "farneback", n_videos=2)
    assert list(epe["method"]) == ["bicubic", "tosr", "hr"] * 2
    assert (epe.loc[epe["method"] == "hr", "epe"] == 0).all() and (epe.loc[epe["method"] != "hr", "epe"] > 0).all()
    assert "EPE" in fig.axes[0].get_title()
    study = report.load_study(fake / "reports", METHODS, ABLATION)
    assert len([a for a in report.sr_training_figure(study.sr_curves).axes if a.lines]) == 9
    assert len(report.recognizer_training_figure(study.recognizer_curves).axes) == 2


def test_samples_must_show_the_same_clips(fake):
    path = fake / "data/eval/rcan/samples.npz"
    with np.load(path) as npz:
        d = dict(npz)
    np.savez(path, video_ids=d["video_ids"], frames=d["frames"] + 1, sr=d["sr"])
    with pytest.raises(ValueError, match=r"rcan.*other clips or frames.*evaluate@rcan"):
        report.read_samples(fake / "data/eval", ["hr", "rcan"])


# ---------------------------------------------------------------------------------------------
# Provenance and headline


def test_provenance_block(fake):
    metrics = report.read_metrics(fake / "reports", METHODS, ABLATION)
    table = report.stage_seconds(metrics)
    assert table.set_index("stage").loc["prepare", "seconds"] == 1.5  # prepare: seconds.total_s
    assert table.set_index("stage").loc["evaluate@vdsr", "seconds"] == 2.0
    block = report.provenance_summary(metrics, dataset="synthetic", report=PROV, report_seconds=4.0)
    assert block["git_commit"] == "abc123" and block["params_hash"] == "p0" and block["dataset"] == "synthetic"
    assert block["device"] == "cpu (2 cores)" and block["stage_commits"] == ["abc123"]
    expected = 1.5 + 10 + 9 * 5 + 12 * 2 + 10 * 3 + 4
    assert block["total_seconds"] == pytest.approx(expected)
    assert block["seconds_per_stage"]["report"] == 4.0
    bad = dict(metrics)
    bad["prepare"] = {"provenance": PROV}
    with pytest.raises(ValueError, match="stage prepare have no `seconds`.*dvc repro prepare"):
        report.stage_seconds(bad)


def test_headline(fake, tmp_path):
    df = report.read_eval(fake / "reports", METHODS)
    points = report.psnr_vs_accuracy(df)
    rho = report.spearman_by_stream(points)
    metrics = report.read_metrics(fake / "reports", METHODS, ABLATION)
    block = report.provenance_summary(metrics, dataset="synthetic", report=PROV)
    head = report.headline(df, rho, block)
    assert head["tsn_top1"]["fusion"]["sosr+tosr"] == pytest.approx(_acc("sosr+tosr", "tsn", "fusion", 0) + 1)
    assert set(head["tsn_top1"]["fusion"]) == {"hr", "bicubic", "sosr", "tosr", "sosr+tosr"}
    assert set(head["tsn_top1"]["spatial"]) == {"hr", "bicubic", "sosr", "tosr"}
    assert set(head["spearman_psnr_top1"]) == {"tsn", "st_resnet", "all"}
    assert head["total_seconds"] == block["total_seconds"] and head["seeds"] == 2
    path = report.write_study_metrics(tmp_path / "study.json", head)
    assert json.loads(path.read_text())["provenance"]["dataset"] == "synthetic"


# ---------------------------------------------------------------------------------------------
# The notebook on fake inputs


class _Tables(HTMLParser):
    """Every <table> of an HTML page as a list of rows of cell texts (th and td)."""

    def __init__(self):
        super().__init__()
        self.tables, self._row, self._cell = [], None, None

    def handle_starttag(self, tag, attrs):
        if tag == "table":
            self.tables.append([])
        elif tag == "tr" and self.tables:
            self._row = []
            self.tables[-1].append(self._row)
        elif tag in ("td", "th") and self._row is not None:
            self._cell = []

    def handle_endtag(self, tag):
        if tag in ("td", "th") and self._cell is not None:
            self._row.append(("".join(self._cell).strip(), tag))
            self._cell = None

    def handle_data(self, data):
        if self._cell is not None:
            self._cell.append(data)


def html_tables(text: str) -> list[list[list[tuple[str, str]]]]:
    parser = _Tables()
    parser.feed(text)
    return parser.tables


def find_table(tables, first_cells: list[str], without: tuple[str, ...] = ()):
    """The table whose row labels include all of ``first_cells`` and none of ``without``."""
    for table in tables:
        labels = {row[0][0] for row in table if row}
        if set(first_cells) <= labels and not labels & set(without):
            return table
    raise AssertionError(f"no table with rows {first_cells}" + (f" but not {without}" if without else ""))


def check_study_html(text: str, *, methods=METHODS, ablation=ABLATION) -> None:
    """study.html holds the accuracy, ablation and quality tables with every row and a number in
    every cell (— only where SoSR+ToSR has no single-stream accuracy)."""
    tables = html_tables(text)
    acc = find_table(tables, ROWS)
    for row in acc:
        label = row[0][0]
        if label not in ROWS:
            continue
        values = [c for c, tag in row[1:] if tag == "td"]
        assert len(values) >= 6, row
        for i, v in enumerate(values[:6]):  # ours: TSN and ST-ResNet x 3 streams
            if label == "SoSR+ToSR" and i % 3 != 2:
                assert v == "—", row
            else:
                assert re.fullmatch(r"\d+\.\d\d( ± \d+\.\d\d)?", v), (label, v)
    header = " ".join(c for row in acc[:4] for c, tag in row if tag == "th")
    for name in ("TSN", "ST-ResNet", "Spatial", "Temporal", "Fusion"):
        assert name in header
    for kind, variants in ablation.items():
        table = find_table(tables, variants)
        for row in table:
            if row[0][0] in variants:
                numbers = [c for c, _ in row if re.fullmatch(r"\d+\.\d+( ± \d+\.\d+)?", c)]
                assert all(c for c, _ in row) and len(numbers) >= 3, row  # ours: top-1, PSNR, SSIM
    quality = find_table(tables, [paper.METHOD_LABELS[m] for m in methods], without=("HR", "SoSR+ToSR"))
    for row in quality:
        if row[0][0] in ROWS:
            ours = [c for c, tag in row[1:] if tag == "td"][:2]  # PSNR, SSIM
            assert len(ours) == 2 and all(re.fullmatch(r"\d+\.\d+( ± \d+\.\d+)?", c) for c in ours), row


def _kernel_registered() -> bool:
    from jupyter_client.kernelspec import KernelSpecManager

    return "arsr" in KernelSpecManager().find_kernel_specs()


def test_notebook_is_clean_with_one_parameters_cell():
    import nbformat

    nb = nbformat.read(ROOT / "notebooks/60_report.ipynb", as_version=4)
    assert nb.metadata["kernelspec"]["name"] == "arsr"
    tagged = [c for c in nb.cells if "parameters" in c.metadata.get("tags", [])]
    assert len(tagged) == 1
    assert "reports/tiny" in tagged[0].source and "data/tiny" in tagged[0].source
    for cell in nb.cells:
        if cell.cell_type == "code":
            assert not cell.outputs and cell.execution_count is None


@pytest.mark.slow
def test_report_notebook_on_fake_results(tmp_path):
    if not _kernel_registered() and not os.environ.get("CI"):
        pytest.skip("Jupyter kernel 'arsr' not registered: run `make test` (it registers it)")
    study = write_fake_study(tmp_path)
    for name in ("dvc.yaml", "params.yaml"):
        shutil.copy(ROOT / name, study / name)
    shutil.copytree(ROOT / "notebooks", study / "notebooks")
    cmd = [sys.executable, "-m", "arsr.notebook", "notebooks/60_report.ipynb", "-g", "report", "-g", "data",
           "-g", "sr", "-g", "ablation", "-g", "seeds", "-p", "interim_dir=data/interim", "-p",
           "eval_dir=data/eval", "-p", "reports_dir=reports", "--name", "study"]
    env = {k: v for k, v in os.environ.items() if k != "ARSR_ROOT"}
    proc = subprocess.run(cmd, cwd=study, capture_output=True, text=True, timeout=600, env=env)
    assert proc.returncode == 0, proc.stderr[-4000:]
    text = (study / "reports/study.html").read_text()
    check_study_html(text)
    headers = {c for table in html_tables(text) for row in table for c, tag in row if tag == "th"}
    assert not any(h.startswith("paper") for h in headers)  # synthetic + auto: no paper columns
    head = json.loads((study / "reports/metrics/study.json").read_text())
    assert head["tsn_top1"]["fusion"]["hr"] == pytest.approx(_acc("hr", "tsn", "fusion", 0) + 1)
    assert head["provenance"]["dataset"] == "synthetic"
    assert len(pd.read_csv(study / "reports/plots/psnr_vs_accuracy.csv")) == 60
    figures = {p.name for p in (study / "reports/figures/study").glob("*.png")}
    assert {"psnr_vs_accuracy.png", "visual_comparison.png", "wmse_weights.png", "flow_comparison.png",
            "sr_training.png", "recognizer_training.png"} <= figures
    # report.paper_reference: on -> the paper's UCF101 numbers beside ours, labelled
    params = yaml.safe_load((study / "params.yaml").read_text())
    params["report"]["paper_reference"] = "on"
    (study / "params.yaml").write_text(yaml.safe_dump(params))
    proc = subprocess.run(cmd, cwd=study, capture_output=True, text=True, timeout=600, env=env)
    assert proc.returncode == 0, proc.stderr[-4000:]
    text = (study / "reports/study.html").read_text()
    check_study_html(text)
    headers = {c for table in html_tables(text) for row in table for c, tag in row if tag == "th"}
    assert {"paper (UCF101)", "paper (HMDB51)"} <= headers  # Tables 4/5 on UCF101; ablations: HMDB51
    assert "92.13" in text and "61.50" in text


# ---------------------------------------------------------------------------------------------
# The profiles


def _profile(name: str) -> dict:
    return yaml.safe_load((ROOT / "profiles" / f"{name}.yaml").read_text())


@pytest.mark.parametrize("name", ["tiny", "paper"])
def test_profile_has_every_knob_of_params_yaml(name):
    params, profile = yaml.safe_load((ROOT / "params.yaml").read_text()), _profile(name)
    assert set(profile) == set(params)
    for group, values in params.items():
        if isinstance(values, dict):
            assert set(profile[group]) == set(values), group
    for sub in ("tsn_rgb", "tsn_flow", "st_resnet"):
        assert set(profile["recognition"][sub]) == set(params["recognition"][sub]), sub
    assert set(profile["data"]["synthetic"]) == set(params["data"]["synthetic"])


def test_tiny_profile_validates():
    from arsr.params import SCHEMA, validate

    tiny = _profile("tiny")
    validate(tiny, list(SCHEMA))
    assert tiny["evaluate"]["num_frames"] == 2 and tiny["data"]["synthetic"]["width"] == 64
    assert tiny["sr"]["methods"] == METHODS and tiny["ablation"] == ABLATION


def test_paper_profile_validates_once_its_files_exist(tmp_path):
    from arsr.params import SCHEMA, ParamError, validate
    from arsr.params import merged
    from arsr.train.presets import PRESETS, method_phases

    prof = _profile("paper")
    with pytest.raises(ParamError, match="data.root"):
        validate(prof, list(SCHEMA))
    (tmp_path / "UCF101").mkdir()
    prof["data"]["root"] = str(tmp_path / "UCF101")
    params = validate(prof, list(SCHEMA))
    assert params["data"]["dataset"] == "ucf101" and params["prepare"]["flow_method"] == "tvl1"
    assert params["evaluate"]["num_frames"] == 25 and params["evaluate"]["crops"] == "ten"
    assert params["evaluate"]["shave"] == 8
    # the paper's VGG19 feature loss validates once its weight file is there too
    (tmp_path / "vgg19.pth").write_bytes(b"")
    validate({**prof, "sr": {**prof["sr"], "feature_network": "vgg19", "vgg_weights": str(tmp_path / "vgg19.pth")}},
             ["sr"])
    assert prof["recognition"]["tsn_rgb"]["model"]["backbone"] == "bninception"
    assert prof["recognition"]["st_resnet"]["model"]["depth"] == 50
    assert all(prof["recognition"][s]["input_size"] == 224 for s in ("tsn_rgb", "tsn_flow", "st_resnet"))
    assert "iterations" not in prof["sr"]["common"]
    for method in METHODS:  # the presets' published schedules and sizes, untouched
        assert prof["sr"][method] == {"arch_kwargs": {}}
        phases = method_phases(method, merged(prof["sr"]["common"], prof["sr"][method]))
        assert [p.config["iterations"] for p in phases] == [p.config["iterations"] for p in PRESETS[method]]
        assert all(p.config["data"]["hr_patch"] == 128 for p in phases)
