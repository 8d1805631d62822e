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

from arsr.data.fingerprint import write_fingerprint
from arsr.data.store import PreparedDataset, write_video_folder
from arsr.methods import ORDER
from arsr.study import layout, paper, report
from arsr.study.ablations import KINDS, VARIANTS

ROOT = Path(__file__).resolve().parents[1]
#: The paper's SR methods (its Table 2).
METHODS = ["vdsr", "rcan", "srgan", "esrgan", "spmc", "duf16", "duf52", "sosr", "tosr"]
#: The study's sr.methods: the paper's and rdsr (beyond the paper).
STUDY_METHODS = [*METHODS, "rdsr"]
#: The paper's ablation runs of params.yaml: the grids' variants that are not a main method (ALIASES).
ABLATION = {"sosr": ["vdsr_wmse", "vdsr_wmse_feat", "esrgan_wmse_feat", "esrgan_mse_feat_adv"],
            "tosr": ["vdsr_warp"]}
#: params.yaml's ablation group: with rdsr's (beyond the paper; its temporal row is the RDSR row).
STUDY_ABLATION = {**ABLATION, "rdsr": ["pixel", "spatial"]}
#: The full grids, as the report's ablation tables show them (the paper's two and rdsr's).
GRID = {kind: list(VARIANTS[kind]) for kind in KINDS}
#: The SR models the study trains (sr.train + sr.finetune).
TRAINED = [*METHODS, "rrdb_psnr"]
N_VIDEOS = 30
ROWS = ["Bicubic", "VDSR", "RCAN", "SRGAN", "ESRGAN", "SoSR", "SPMC", "VSR-DUF-16", "VSR-DUF-52", "ToSR",
        "SoSR+ToSR", "HR"]
#: The row beyond the paper, before HR in the accuracy table.
RDSR_ROW = "RDSR (beyond the paper)"
#: The LR-trained TSN rows (beyond the paper), after Bicubic in the accuracy table.
LR_ROWS = ["TSN retrained on LR", "TSN fine-tuned on LR"]
#: Their fake TSN top-1 per stream (no SR seed: the same for every seed).
LR_ACC = {"tsn_retrained_lr": {"spatial": 44.0, "temporal": 47.0, "fusion": 55.0},
          "tsn_finetuned_lr": {"spatial": 46.0, "temporal": 49.0, "fusion": 57.0}}
#: Their fake training costs (reports/metrics/recognizers_lr.json).
LR_COST = {"tsn_retrained_lr": 300.0, "tsn_finetuned_lr": 40.0}
PROV = {"git_commit": "abc123", "params_hash": "p0", "device": "cpu (2 cores)", "python": "3.11",
        "torch": "2.13", "time_utc": "2026-01-01T00:00:00+00:00"}


# ---------------------------------------------------------------------------------------------
# Fake study outputs


def _acc(method: str, rec: str, stream: str, seed: int, rec_seed: int = 0) -> float:
    base = {m: 40.0 + 2 * i for i, m in enumerate(ORDER)}[method]
    return base + {"spatial": 0.0, "temporal": 5.0, "fusion": 10.0}[stream] + (1.0 if rec == "st_resnet" else 0.0) \
        + (2.0 * seed) + rec_seed  # SR seeds 0 and 1 differ by 2, recognizer seeds 0 and 1 by 1


def _psnr(method: str) -> float:
    return {"hr": math.inf, "sosr+tosr": math.nan}.get(method, 20.0 + ORDER.index(method) % 5)


def _per_video(top1: float, n: int = N_VIDEOS) -> np.ndarray:
    """0/1 per video with round(top1 % of n) hits, nested: a higher accuracy hits a superset."""
    return (np.arange(n) < round(top1 / 100 * n)).astype(int)


def per_video_rows(keys: dict, top1: float, n: int = N_VIDEOS) -> list[dict]:
    """One row per test video (``PER_VIDEO_COLUMNS`` with ``keys``' columns; recognizer seed 0 unless
    ``keys`` says) at accuracy ``top1``."""
    keys = {"recognizer_seed": 0, **keys}
    correct = _per_video(top1, n)
    labels = np.arange(n) % 3
    return [{**keys, "video_id": f"Class{labels[i]}/v_{i:03d}", "label": int(labels[i]),
             "prediction": int(labels[i]) if correct[i] else int((labels[i] + 1) % 3), "correct": int(correct[i])}
            for i in range(n)]


def _train_metrics(method: str) -> dict:
    """A train_sr metrics file as the SR stages write it (phases, sizes, feature network)."""
    from arsr.train.presets import RECIPES as PRESETS  # the paper's recipes and rdsr's

    arch = PRESETS[method][-1].config["arch"]
    kwargs = {"vdsr": {"num_feat": 8, "num_conv": 3}, "spmc": {"num_feat": 4, "global_residual": True}}.get(method, {})
    phases = [{"name": p.name, "iterations": 0 if method in ("esrgan", "sosr", "tosr", "rdsr") and i == 0 else 20}
              for i, p in enumerate(PRESETS[method])]
    feature = "recognizer: the seed's TSN spatial stream, frozen" if method in ("srgan", "esrgan", "sosr") else None
    return {"seconds": 5.0, "provenance": PROV, "method": method, "arch": arch, "arch_kwargs": kwargs,
            "parameters": 1234, "phases": phases, "feature_network": feature}


def write_lr_baselines(root: Path, seeds=(0, 1), baselines=layout.LR_BASELINES, rec_seeds=(0, 1)) -> None:
    """reports/ as train_recognizers_lr and evaluate_lr_baseline@<b> leave them (TSN rows only; the
    baseline's TSN of seed k as recognizer seed k; no SR seed: the same rows for every SR seed)."""
    reports = root / "reports"
    for baseline in baselines:
        rows, videos = [], []
        for seed in seeds:
            for rec_seed in rec_seeds:
                for stream, top1 in LR_ACC[baseline].items():
                    keys = {"method": baseline, "seed": seed, "recognizer": "tsn", "recognizer_seed": rec_seed,
                            "stream": stream}
                    rows.append({**keys, "top1": top1, "top5": 99.0, "n_videos": N_VIDEOS, "psnr": _psnr("bicubic"),
                                 "ssim": 0.5})
                    videos += per_video_rows(keys, top1)
        pd.DataFrame(rows).to_csv(reports / layout.eval_csv(baseline), index=False)
        pd.DataFrame(videos)[layout.PER_VIDEO_COLUMNS].to_csv(
            reports / layout.eval_per_video_csv(baseline), index=False
        )
        (reports / layout.eval_metrics_json(baseline)).write_text(json.dumps({"seconds": 2.0, "provenance": PROV}))
    stream = {"seconds": 1.0, "epochs": 1, "lr": 0.01, "init": "scratch", "train_accuracy": 0.5, "train_loss": 1.0,
              "iterations": 2}
    lr_metrics = {"derive": {"videos": 4, "derived": 4, "reused": 0, "derive_seconds": 10.0}, "seconds": 20.0,
                  "provenance": PROV}
    for baseline in baselines:
        lr_metrics[baseline] = {"tsn_rgb": stream, "tsn_flow": stream, "train_seconds": LR_COST[baseline] - 10.0,
                                "cost_seconds": LR_COST[baseline]}
    (reports / layout.LR_RECOGNIZERS_METRICS).write_text(json.dumps(lr_metrics))
    (reports / "plots").mkdir(exist_ok=True)
    pd.DataFrame({"model": [f"{b}/tsn_rgb" for b in baselines for _ in range(3)], "seed": 0,
                  "iteration": [1, 2, 3] * len(baselines), "loss": [2.0, 1.0, 0.5] * len(baselines),
                  "accuracy": [0.1, 0.5, 0.9] * len(baselines), "lr": 0.01,
                  "val_loss": [None, None, 1.2] * len(baselines), "val_accuracy": [None, None, 0.6] * len(baselines)}
                 ).to_csv(reports / layout.LR_RECOGNIZERS_PLOT, index=False)


def write_aa_control(root: Path, method: str = "vdsr", seeds=(3, 4), rec_seeds=(0, 1), shift: float = 0.0) -> None:
    """reports/ as evaluate_aa_control leaves it: ``method``'s twin of SR seeds ``seeds``, its
    accuracy that of ``method`` (of the same seed position) plus ``shift`` points."""
    reports = root / "reports"
    videos = []
    for i, seed in enumerate(seeds):
        for rec in ("tsn", "st_resnet"):
            for rec_seed in rec_seeds:
                for stream in ("spatial", "temporal", "fusion"):
                    keys = {"method": layout.AA_CONTROL, "seed": seed, "recognizer": rec,
                            "recognizer_seed": rec_seed, "stream": stream}
                    videos += per_video_rows(keys, _acc(method, rec, stream, i, rec_seed) + shift)
    pd.DataFrame(videos)[layout.PER_VIDEO_COLUMNS].to_csv(reports / layout.eval_per_video_csv(layout.AA_CONTROL),
                                                         index=False)


def write_fake_study(root: Path, methods=STUDY_METHODS, seeds=(0, 1), ablation=STUDY_ABLATION, frames=(48, 64),
                     n_samples=2, lr_baselines=layout.LR_BASELINES, rec_seeds=(0, 1)) -> Path:
    """reports/ and data/ as the stages before the report leave them (every SR seed scored by
    every recognizer seed of ``rec_seeds``), and the A/A control's twin of vdsr."""
    reports, rng = root / "reports", np.random.default_rng(0)
    (reports / "eval").mkdir(parents=True)
    for method in report.eval_methods(methods):
        rows, videos = [], []
        for seed in seeds:
            for rec in ("tsn", "st_resnet"):
                for rec_seed in rec_seeds:
                    streams = ["fusion"] if method == "sosr+tosr" else ["spatial", "temporal", "fusion"]
                    for stream in streams:
                        # hr and bicubic have no SR seed: the same numbers for every seed
                        top1 = _acc(method, rec, stream, 0 if method in ("hr", "bicubic") else seed, rec_seed)
                        keys = {"method": method, "seed": seed, "recognizer": rec, "recognizer_seed": rec_seed,
                                "stream": stream}
                        rows.append({**keys, "top1": top1, "top5": 99.0, "n_videos": N_VIDEOS,
                                     "psnr": _psnr(method), "ssim": 0.5 if method != "sosr+tosr" else math.nan})
                        videos += per_video_rows(keys, top1)
        item = layout.eval_item(method)
        pd.DataFrame(rows).to_csv(reports / "eval" / f"{item}.csv", index=False)
        pd.DataFrame(videos)[layout.PER_VIDEO_COLUMNS].to_csv(reports / "eval" / f"{item}_per_video.csv", index=False)
        for run in ("reference",) if method in ("hr", "bicubic") else (f"seed{s}" for s in seeds):
            cache = root / "data/eval" / item / run
            (cache / "scores/tsn").mkdir(parents=True)
            (cache / "quality").mkdir()
            (cache / "scores/tsn/settings.json").write_text(json.dumps(
                {"format": 1, "settings": {"num_frames": 2, "crops": "center", "flow_method": "farneback"}}))
            (cache / "quality/settings.json").write_text(json.dumps({"format": 1, "settings": {"shave": 4}}))
        pd.DataFrame([{"method": method, "seed": 0, "recognizer": "tsn", "recognizer_seed": 0, "stream": "fusion",
                       "class_name": "a", "accuracy": 50.0}]).to_csv(reports / "eval" / f"{item}_per_class.csv",
                                                                      index=False)
        metrics = root / "reports/metrics/eval" / f"{item}.json"
        metrics.parent.mkdir(parents=True, exist_ok=True)
        metrics.write_text(json.dumps({"seconds": 2.0, "provenance": PROV}))
    (reports / "ablation").mkdir()
    for kind, variants in ablation.items():
        stream = report.ABLATION_STREAM[kind]
        for i, variant in enumerate(variants):
            rows, videos = [], []
            for seed in seeds:
                for rec_seed in rec_seeds:
                    rows.append({"kind": kind, "variant": variant, "structure": variant.split("_")[0],
                                 "pixel": "wmse" if "wmse" in variant else "mse", "feature": "feat" in variant,
                                 "adversarial": "adv" in variant, "warp": "warp" in variant,
                                 **{c: VARIANTS[kind][variant].label[c] for c in ("spatial_task", "temporal_task")},
                                 "seed": seed, "recognizer_seed": rec_seed,
                                 "stream": stream, "top1": 30.0 + i + seed + rec_seed, "top5": 90.0, "psnr": 25.0,
                                 "ssim": 0.6})
                    videos += per_video_rows({"kind": kind, "variant": variant, "seed": seed,
                                              "recognizer_seed": rec_seed, "stream": stream},
                                             30.0 + i + seed + rec_seed)
            pd.DataFrame(rows).to_csv(reports / "ablation" / f"{kind}_{variant}.csv", index=False)
            pd.DataFrame(videos)[layout.ABLATION_PER_VIDEO_COLUMNS].to_csv(
                reports / "ablation" / f"{kind}_{variant}_per_video.csv", index=False)
            m = reports / "metrics/ablation" / f"{kind}_{variant}.json"
            m.parent.mkdir(parents=True, exist_ok=True)
            m.write_text(json.dumps({"seconds": 3.0, "provenance": PROV}))
    (reports / "metrics/prepare.json").write_text(json.dumps({"seconds": {"prepare_s": 1.0, "total_s": 1.5},
                                                              "provenance": PROV}))
    fusion = {str(k): {"weights": [1.0, 3.0 + k], "val_videos": 12, "val_top1": {"1.5": 50.0}} for k in rec_seeds}
    (reports / "metrics/recognizers.json").write_text(json.dumps({"seconds": 10.0, "provenance": PROV,
                                                                  "fusion": fusion}))
    write_lr_baselines(root, seeds, lr_baselines, rec_seeds)
    if "vdsr" in methods:
        write_aa_control(root, "vdsr", rec_seeds=rec_seeds)
    (reports / "metrics/train_sr").mkdir()
    (reports / "plots/train_sr").mkdir(parents=True)
    for method in [*methods, "rrdb_psnr"]:
        (reports / "metrics/train_sr" / f"{method}.json").write_text(json.dumps(_train_metrics(method)))
    for method in methods:
        pd.DataFrame({"method": method, "seed": 0, "phase": "sr", "iteration": [1, 2, 3], "step": [1, 2, 3],
                      "loss": [1.0, 0.5, 0.25], "pixel": [1.0, 0.5, 0.25]}).to_csv(
            reports / "plots/train_sr" / f"{method}.csv", index=False)
    pd.DataFrame({"model": ["tsn_rgb"] * 3 + ["tsn_flow"] * 3, "seed": 0, "iteration": [1, 2, 3] * 2,
                  "loss": [2.0, 1.0, 0.5] * 2, "accuracy": [0.1, 0.5, 0.9] * 2, "lr": 0.01,
                  "val_loss": [None, None, 1.5] * 2, "val_accuracy": [None, None, 0.5] * 2}).to_csv(
        reports / "plots/recognizers.csv", index=False)
    # data/interim (two test videos) and data/eval/<item>/samples.npz
    h, w = frames
    interim = root / "data/interim"
    index = []
    hr_frames = {}
    for k in range(n_samples):
        vid, key = f"Class{k}/v_{k}", f"Class{k}__v_{k}"
        folder = interim / "videos" / key
        folder.parent.mkdir(parents=True, exist_ok=True)
        hr = rng.integers(0, 255, (4, h, w, 3), dtype=np.uint8)
        flow = np.zeros((3, h, w, 2), np.float32)
        flow[:, h // 4: h // 2, w // 4: w // 2, 0] = 2.0
        write_video_folder(folder, hr=hr, lr=np.ascontiguousarray(hr[:, ::4, ::4]), flow=flow,
                           meta={"settings": {"flow_method": "farneback"}})
        index.append({"video_id": vid, "key": key, "class_name": f"Class{k}", "label": k, "split": "test",
                      "n_frames": 4, "height": h, "width": w, "lr_height": h // 4, "lr_width": w // 4,
                      "source": "x"})
        hr_frames[vid] = hr[1:3]
    pd.DataFrame(index).to_csv(interim / "index.csv", index=False)
    pd.DataFrame({"label": range(n_samples), "class_name": [f"Class{k}" for k in range(n_samples)]}).to_csv(
        interim / "classes.csv", index=False)
    write_fingerprint(interim, "fake")  # as prepare does, last
    ids = np.array(list(hr_frames))
    for method in ["hr", "bicubic", *methods]:
        sr = np.stack([hr_frames[v] for v in ids])
        if method != "hr":
            noise = rng.integers(-20, 20, sr.shape)
            sr = np.clip(sr.astype(int) + noise, 0, 255).astype(np.uint8)
        folder = root / "data/eval" / method
        folder.mkdir(parents=True, exist_ok=True)
        np.savez(folder / "samples.npz", video_ids=ids, frames=np.ones(len(ids), int), sr=sr)
    return root


@pytest.fixture
def fake(tmp_path):
    return write_fake_study(tmp_path)


# ---------------------------------------------------------------------------------------------
# The paper's numbers


def test_paper_transcription_matches_the_notes():
    """NOTES.md, 'Reference results' (poster Table2 = paper Table 4, TSN)."""
    acc = paper.accuracy().set_index(["method", "dataset", "recognizer", "stream"])["top1"]
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
    assert list(sosr.index) == GRID["sosr"] and list(tosr.index) == GRID["tosr"]
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
    (fake / "reports/ablation/tosr_vdsr_warp.csv").unlink()
    with pytest.raises(report.MissingInputError, match=r"ablate_tosr@vdsr_warp"):
        report.read_ablation(fake / "reports", ABLATION)
    (fake / "reports/ablation/sosr_vdsr_wmse_per_video.csv").unlink()
    with pytest.raises(report.MissingInputError, match=r"sosr_vdsr_wmse_per_video\.csv.*ablate_sosr@vdsr_wmse"):
        report.read_ablation_per_video(fake / "reports", ABLATION, METHODS)
    (fake / "reports/eval/duf16_per_video.csv").unlink()
    with pytest.raises(report.MissingInputError, match=r"duf16_per_video\.csv.*evaluate@duf16"):
        report.read_per_video(fake / "reports", METHODS)
    (fake / "reports/metrics/train_sr/sosr.json").unlink()
    with pytest.raises(report.MissingInputError, match=r"dvc repro finetune_sr@sosr"):
        report.read_metrics(fake / "reports", METHODS, ABLATION,
                            {"train": ["vdsr"], "finetune": {"sosr": "rrdb_psnr"}})
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


def test_old_column_spelling_asks_to_rerun_the_evaluation(fake):
    """CSVs written before the column "recogniser" became "recognizer" are refused, naming the stage."""
    for name in ("rcan.csv", "rcan_per_video.csv"):
        path = fake / "reports/eval" / name
        pd.read_csv(path).rename(columns={"recognizer": "recogniser"}).to_csv(path, index=False)
    with pytest.raises(ValueError, match=r"rcan\.csv has column\(s\) 'recogniser' \(now 'recognizer'\).*"
                                         r"re-run the evaluate stages.*evaluate@rcan"):
        report.read_eval(fake / "reports", METHODS)
    with pytest.raises(ValueError, match=r"rcan_per_video\.csv has column\(s\) 'recogniser'.*evaluate@rcan"):
        report.read_per_video(fake / "reports", METHODS)


def test_load_study(fake):
    sr = {"methods": METHODS, "train": ["vdsr", "rcan", "srgan", "spmc", "duf16", "duf52", "rrdb_psnr"],
          "finetune": {"esrgan": "rrdb_psnr", "sosr": "rrdb_psnr", "tosr": "duf16"}}
    study = report.load_study(fake / "reports", METHODS, ABLATION, sr)
    assert set(study.eval["method"]) == set(paper.METHOD_ORDER)
    # the full grids (5 runs, 5 main methods), 2 SR seeds x 2 recognizer seeds, one stream each
    assert len(study.ablation) == 10 * 2 * 2
    assert "evaluate_combined" in study.metrics and "ablate_sosr@vdsr_wmse" in study.metrics
    assert "ablate_sosr@vdsr_mse" not in study.metrics  # = vdsr: not run again
    assert "finetune_sr@sosr" in study.metrics and "train_sr@rrdb_psnr" in study.metrics
    assert len(study.metrics) == 2 + 10 + 12 + 5
    assert set(study.per_video["method"]) == set(paper.METHOD_ORDER)
    assert len(study.per_video) == (11 * 2 * 3 + 2) * 2 * 2 * N_VIDEOS  # sosr+tosr: fusion only
    assert list(study.per_video.columns) == layout.PER_VIDEO_COLUMNS
    assert len(study.ablation_per_video) == 10 * 2 * 2 * N_VIDEOS
    # hr/bicubic repeat per SR seed
    hr = study.per_video[(study.per_video["method"] == "hr") & (study.per_video["stream"] == "fusion")
                         & (study.per_video["recognizer_seed"] == 1)]
    assert (hr[hr["seed"] == 0]["correct"].to_numpy() == hr[hr["seed"] == 1]["correct"].to_numpy()).all()
    assert report.flow_method_of(fake / "data/interim") == "farneback"
    assert report.eval_methods(["vdsr"]) == ["bicubic", "vdsr", "hr"]
    assert study.lr_eval.empty and study.lr_per_video.empty  # not asked for


def test_load_study_reads_the_lr_baselines_apart(fake):
    study = report.load_study(fake / "reports", METHODS, ABLATION, lr_baselines=layout.LR_BASELINES)
    assert set(study.eval["method"]) == set(paper.METHOD_ORDER)  # PSNR and the paper's claims: its rows only
    assert set(study.lr_eval["method"]) == set(layout.LR_BASELINES) and set(study.lr_eval["recognizer"]) == {"tsn"}
    assert len(study.lr_per_video) == 2 * 2 * 2 * 3 * N_VIDEOS
    assert {"train_recognizers_lr", "evaluate_lr_baseline@tsn_retrained_lr"} <= set(study.metrics)
    (fake / "reports" / layout.eval_per_video_csv("tsn_finetuned_lr")).unlink()
    with pytest.raises(report.MissingInputError, match=r"dvc repro evaluate_lr_baseline@tsn_finetuned_lr"):
        report.load_study(fake / "reports", METHODS, ABLATION, lr_baselines=layout.LR_BASELINES)


def test_accuracy_table_and_costs_with_the_lr_baselines(fake):
    sr = {"methods": METHODS, "train": ["vdsr", "rcan", "srgan", "spmc", "duf16", "duf52", "rrdb_psnr"],
          "finetune": {"esrgan": "rrdb_psnr", "sosr": "rrdb_psnr", "tosr": "duf16"}}
    study = report.load_study(fake / "reports", METHODS, ABLATION, sr, lr_baselines=layout.LR_BASELINES)
    both = pd.concat([study.eval, study.lr_eval], ignore_index=True)
    table = report.accuracy_table(both)
    assert list(table.index) == ["Bicubic", *LR_ROWS, *ROWS[1:]]
    assert table.loc["TSN retrained on LR", ("ours", "TSN", "Fusion")] == "55.00 ± 0.00"  # as bicubic: no SR seed
    assert all(table.loc[row, ("ours", "ST-ResNet", s)] == "—"
               for row in LR_ROWS for s in ("Spatial", "Temporal", "Fusion"))
    assert report.NOTE_LR_TSN_ONLY in table.attrs["notes"]
    with_paper = report.accuracy_table(both, "ucf101")
    assert (with_paper.loc[LR_ROWS, "paper (UCF101, split 1, x4)"] == "—").all().all()
    assert report.NOTE_LR_NOT_IN_PAPER in with_paper.attrs["notes"]
    costs = report.training_costs(study.metrics, METHODS, sr)
    seconds = dict(zip(costs["row"], costs["seconds"]))
    assert seconds["bicubic"] == 0 and seconds["tsn_retrained_lr"] == LR_COST["tsn_retrained_lr"]
    assert seconds["vdsr"] == 5.0 and seconds["sosr"] == 10.0  # sosr: its own 5 s + rrdb_psnr's 5 s (fake files)
    assert seconds["sosr+tosr"] == seconds["sosr"] + seconds["tosr"]
    shown = report.cost_table(costs, both)
    assert list(shown.index[:3]) == ["Bicubic", *LR_ROWS] and shown.index[-1] == "SoSR+ToSR"
    assert shown.loc["TSN fine-tuned on LR", "training seconds"] == "40"
    assert shown.loc["TSN fine-tuned on LR", "TSN fusion top-1 (%)"] == "57.00 ± 0.00"
    assert shown.loc["Bicubic", "device"] == "—" and shown.loc["VDSR", "device"] == PROV["device"]
    claims = report.claims_table(study.per_video, study.ablation_per_video, study.eval,
                                 lr_per_video=study.lr_per_video, n_resamples=300)
    lr_claims = claims[claims["name"].str.startswith("best_sr_beats_")]
    assert list(lr_claims["name"]) == [f"best_sr_beats_{b}" for b in layout.LR_BASELINES]
    assert lr_claims.iloc[0]["comparison"].startswith("SoSR+ToSR (HR-trained TSN), the best of 10 SR rows")
    prose = report.cost_prose(costs, claims)
    assert "TSN retrained on LR cost 300 s to train, SoSR+ToSR 20 s" in prose
    rho = report.spearman_by_stream(report.psnr_vs_accuracy(study.eval))
    head = report.headline(study.eval, rho, None, claims, lr_eval=study.lr_eval, costs=costs)
    assert list(head["methods"])[:3] == ["bicubic", *layout.LR_BASELINES]
    entry = head["methods"]["tsn_retrained_lr"]
    assert entry["tsn_top1"]["fusion"] == 55.0 and entry["training_seconds"] == 300.0 and entry["psnr"] is not None
    bic, hr = _acc("bicubic", "tsn", "fusion", 0) + 0.5, _acc("hr", "tsn", "fusion", 0) + 0.5  # rec seeds +0, +1
    assert entry["gap_closed"] == pytest.approx((55.0 - bic) / (hr - bic), abs=1e-4)
    assert head["methods"]["vdsr"]["training_seconds"] == 5.0 and "training_seconds" not in head["methods"]["hr"]
    assert set(head["tsn_top1"]["fusion"]) == {"hr", "bicubic", "sosr", "tosr", "sosr+tosr"}  # unchanged


# ---------------------------------------------------------------------------------------------
# Tables


def test_accuracy_table_rows_columns_and_mean_std(fake):
    df = report.read_eval(fake / "reports", METHODS)
    table = report.accuracy_table(df)
    assert list(table.index) == ROWS
    assert list(table.columns.get_level_values(0).unique()) == ["ours"]
    assert list(table.columns.droplevel(0)) == [(r, s) for r in ("TSN", "ST-ResNet")
                                                for s in ("Spatial", "Temporal", "Fusion")]
    # cells (SR seed, recognizer seed) (0, 0), (0, 1), (1, 0), (1, 1) -> v, v + 1, v + 2, v + 3: mean v + 1.5,
    # sample std over the 4 cells sqrt(5 / 3)
    v = _acc("vdsr", "tsn", "temporal", 0)
    assert table.loc["VDSR", ("ours", "TSN", "Temporal")] == f"{v + 1.5:.2f} ± {math.sqrt(5 / 3):.2f}"
    assert table.loc["SoSR+ToSR", ("ours", "TSN", "Spatial")] == "—"
    assert table.loc["SoSR+ToSR", ("ours", "ST-ResNet", "Fusion")] != "—"
    dashes = (table == "—").sum().sum()
    assert dashes == 4 and table.attrs["notes"] == [report.NOTE_COMBINED]
    # one SR seed: the spread of the recognizer seeds; one cell: a plain number
    one_sr = report.accuracy_table(df[df["seed"] == 0])
    assert one_sr.loc["VDSR", ("ours", "TSN", "Temporal")] == f"{v + 0.5:.2f} ± {math.sqrt(0.5):.2f}"
    one = report.accuracy_table(df[(df["seed"] == 0) & (df["recognizer_seed"] == 0)])
    assert one.loc["VDSR", ("ours", "TSN", "Temporal")] == f"{v:.2f}"
    # ST-ResNet of the first recognizer seed only (recognition.st_resnet_seeds): the table says why
    st_one = report.accuracy_table(df[(df["recognizer"] == "tsn") | (df["recognizer_seed"] == 0)])
    assert any("ST-ResNet is trained with recognizer seed 0 only" in n for n in st_one.attrs["notes"])
    assert not any("ST-ResNet is trained" in n for n in table.attrs["notes"])


def test_accuracy_table_paper_columns_only_when_asked(fake):
    df = report.read_eval(fake / "reports", METHODS)
    assert not any("paper" in c[0] for c in report.accuracy_table(df, None).columns)
    table = report.accuracy_table(df, "hmdb51")
    assert list(table.columns.get_level_values(0).unique()) == ["ours", "paper (HMDB51, split 1, x4)"]
    assert table.loc["SoSR", ("paper (HMDB51, split 1, x4)", "TSN", "Spatial")] == "53.59"
    assert table.loc["HR", ("paper (HMDB51, split 1, x4)", "ST-ResNet", "Fusion")] == "68.10"
    assert table.loc["SoSR+ToSR", ("paper (HMDB51, split 1, x4)", "TSN", "Temporal")] == "—"
    ucf = report.accuracy_table(df, "ucf101")
    assert ucf.loc["SoSR+ToSR", ("paper (UCF101, split 1, x4)", "TSN", "Fusion")] == "92.13"
    # a subset of methods: only their rows (plus bicubic and HR), paper numbers still aligned
    sub = report.accuracy_table(df[df["method"].isin(["hr", "bicubic", "rcan"])], "ucf101")
    assert list(sub.index) == ["Bicubic", "RCAN", "HR"]
    assert sub.loc["RCAN", ("paper (UCF101, split 1, x4)", "TSN", "Temporal")] == "82.12"


def test_accuracy_table_refuses_a_hole(fake):
    df = report.read_eval(fake / "reports", METHODS)
    df = df[~((df["method"] == "spmc") & (df["stream"] == "temporal") & (df["recognizer"] == "tsn"))]
    with pytest.raises(ValueError, match=r"spmc / tsn / temporal.*evaluate@spmc"):
        report.accuracy_table(df)


def test_ablation_tables(fake):
    abl = report.read_ablation(fake / "reports", ABLATION, METHODS)
    assert set(abl.columns) == {*layout.ABLATION_COLUMNS, "alias"}
    sosr = report.ablation_table(abl, "sosr")
    assert list(sosr.index) == GRID["sosr"]  # the paper's full grid, in its order
    assert list(sosr.columns) == [("", "Structure"), ("", "MSE/WMSE"), ("", "Feature"), ("", "Adversarial"),
                                  ("", "Run"), ("ours", "top-1 spatial (%)"), ("ours", "PSNR (dB)"),
                                  ("ours", "SSIM")]
    assert sosr.loc["esrgan_wmse_feat_adv", ("", "Structure")] == "ESRGAN"
    assert sosr.loc["esrgan_mse_feat_adv", ("", "MSE/WMSE")] == "MSE"
    assert sosr.loc["vdsr_wmse_feat", ("", "Feature")] == "✓"
    assert sosr.loc["vdsr_wmse_feat", ("", "Adversarial")] == "-"
    # cells 30, 31 (SR seed 0, recognizer seeds 0, 1), 31, 32 (SR seed 1)
    assert sosr.loc["vdsr_wmse", ("ours", "top-1 spatial (%)")] == f"31.00 ± {math.sqrt(2 / 3):.2f}"
    assert sosr.loc["vdsr_wmse", ("", "Run")] == "ablation"
    # an alias row: VDSR's own TSN spatial results (cells v, v + 1, v + 2, v + 3)
    assert sosr.loc["vdsr_mse", ("", "Run")] == "= VDSR row"
    v = _acc("vdsr", "tsn", "spatial", 0)
    assert sosr.loc["vdsr_mse", ("ours", "top-1 spatial (%)")] == f"{v + 1.5:.2f} ± {math.sqrt(5 / 3):.2f}"
    assert sosr.loc["esrgan_wmse_feat_adv", ("", "Run")] == "= SoSR row"
    assert any("= X row" in n for n in sosr.attrs["notes"])
    tosr = report.ablation_table(abl, "tosr", reference=True)
    assert list(tosr.index) == GRID["tosr"]
    assert ("", "Warp loss") in tosr.columns and ("paper (HMDB51, split 1, x4)", "top-1 temporal (%)") in tosr.columns
    assert tosr.loc["duf16_warp", ("paper (HMDB51, split 1, x4)", "top-1 temporal (%)")] == "61.50"
    assert tosr.loc["duf16_warp", ("", "Run")] == "= ToSR row"
    assert tosr.loc["duf16", ("", "Structure")] == "VSR-DUF-16"
    assert tosr.loc["vdsr_warp", ("", "Warp loss")] == "✓"
    assert not (sosr == "").any().any() and not (tosr == "—").any().any()
    # without the main methods, their rows are left out and named
    part = report.ablation_table(report.read_ablation(fake / "reports", ABLATION, ["rcan"]), "tosr")
    assert list(part.index) == ["vdsr_warp"]
    assert any("Not run: vdsr, duf16, duf16_warp" in n for n in part.attrs["notes"])


def test_quality_table(fake):
    df = report.read_eval(fake / "reports", METHODS)
    table = report.quality_table(df)
    assert list(table.index) == [r for r in ROWS if r not in ("HR", "SoSR+ToSR")]
    assert list(table.columns) == [("ours", "PSNR (dB)"), ("ours", "SSIM"),
                                   ("ours", "above bicubic, worst SR seed (dB)")]
    assert table.loc["RCAN", ("ours", "PSNR (dB)")] == f"{_psnr('rcan'):.2f} ± 0.00"
    # the pixel-fidelity rows' margin over bicubic (fake PSNRs: 20 + row index mod 5); VDSR, 1 dB above
    margin = f"{_psnr('vdsr') - _psnr('bicubic'):+.3f}"
    assert table.loc["VDSR", ("ours", "above bicubic, worst SR seed (dB)")] == margin
    assert table.loc["SRGAN", ("ours", "above bicubic, worst SR seed (dB)")] == "—"  # trained for other losses
    # a model within 0.05 dB of bicubic in one seed: bicubic-equivalent, the worst seed named
    close = df.copy()
    spmc_seed1 = (close["method"] == "spmc") & (close["seed"] == 1)
    close.loc[spmc_seed1, "psnr"] = _psnr("bicubic") + 0.002
    margins = report.bicubic_margins(close).set_index("method")
    assert margins.loc["spmc", "equivalent"] and margins.loc["spmc", "worst_seed"] == 1
    assert margins.loc["spmc", "worst_db"] == pytest.approx(0.002) and not margins.loc["vdsr", "equivalent"]
    shown = report.quality_table(close).loc["SPMC", ("ours", "above bicubic, worst SR seed (dB)")]
    assert shown == "+0.002 bicubic-equivalent"
    ref = report.quality_table(df, "ucf101")
    assert ref.loc["ToSR", ("paper (UCF101, split 1, x4)", "PSNR (dB)")] == "30.84"
    assert ref.loc["VDSR", ("paper (UCF101, split 1, x4)", "SSIM")] == "—"
    assert any("does not report" in n for n in ref.attrs["notes"])
    # the colour-shift column, read from the evaluation metrics (a method without one: a dash): the
    # mean |shift| per channel per video, not the signed mean where opposite shifts cancel
    metrics = {"evaluate@rcan": {"method": "rcan", "colour_shift": {
                   "max_mean_abs_per_video": 0.734, "per_seed": {"0": 0.734},
                   "abs_rgb_per_seed": {"0": [0.734, 0.2, 0.1]}, "signed_rgb_per_seed": {"0": [0.0, 0.2, -0.1]}}},
               "evaluate_reference@bicubic": {"method": "bicubic"}}
    assert report.colour_shifts(metrics) == {"rcan": 0.734}
    coloured = report.quality_table(df, colour_shift=report.colour_shifts(metrics))
    assert coloured.loc["RCAN", ("ours", "colour |shift| (grey levels)")] == "0.73"
    assert coloured.loc["Bicubic", ("ours", "colour |shift| (grey levels)")] == "—"
    assert any("mean |shift| per channel per video" in n and "≤ 1" in n for n in coloured.attrs["notes"])
    assert not any("drift" in n for n in coloured.attrs["notes"])
    drifting = report.quality_table(df, colour_shift={"rcan": 0.73, "srgan": 2.68, "esrgan": 1.0})
    assert [n for n in drifting.attrs["notes"] if "drift" in n] == [
        "Over 1 grey level, so its colours drift (in one SR seed at least; its accuracy rows carry the drift): "
        "SRGAN 2.68."]  # 1.0 is within
    # metrics of an older evaluation (the signed shifts averaged over videos): re-run that stage
    old = {"evaluate@rcan": {"method": "rcan", "colour_shift": {"max_abs_channel": 0.1, "per_seed": {"0": 0.1}}}}
    with pytest.raises(ValueError, match=r"reports/metrics/eval/rcan\.json .*dvc repro evaluate@rcan"):
        report.colour_shifts(old)


def test_table_html_has_no_blank_cells(fake):
    df = report.read_eval(fake / "reports", METHODS)
    text = report.table_html(report.accuracy_table(df, "ucf101"), "Table 4")
    cells = re.findall(r"<td[^>]*>(.*?)</td>", text, flags=re.S)
    assert len(cells) == 12 * 12 and all(c.strip() for c in cells)
    assert "paper (UCF101, split 1, x4)" in text and "font-style: italic" in text and "the paper&#x27;s" in text


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
    assert list(points.columns) == ["method", "recognizer", "stream", "psnr", "top1"]
    assert set(points["method"]) == set(METHODS) | {"bicubic"}  # no HR (PSNR inf), no SoSR+ToSR
    assert len(points) == 10 * 2 * 3
    rho = report.spearman_by_stream(points)
    assert set(rho["recognizer"]) == {"tsn", "st_resnet", "all"} and len(rho) == 9
    tsn_spatial = points[(points["recognizer"] == "tsn") & (points["stream"] == "spatial")]
    # Spearman's rho by its definition: Pearson's r of the (average) ranks
    expected = np.corrcoef(tsn_spatial["psnr"].rank(), tsn_spatial["top1"].rank())[0, 1]
    got = rho[(rho["recognizer"] == "tsn") & (rho["stream"] == "spatial")]["spearman"].iloc[0]
    assert got == pytest.approx(expected)
    path = report.write_psnr_vs_accuracy(points, tmp_path / "plots/psnr_vs_accuracy.csv")
    back = pd.read_csv(path)
    assert list(back.columns) == ["method", "recognizer", "stream", "psnr", "top1"] and len(back) == 60
    fig = report.psnr_accuracy_figure(points, rho)
    assert len(fig.axes) == 3 and "ρ=" in fig.axes[0].get_title()


# ---------------------------------------------------------------------------------------------
# Figures


def test_figure_row_labels_are_never_cut():
    from arsr.study.report.figures import clip_label

    assert clip_label("SlideRight/v_SlideRight_g01_c00", 14) == "SlideRight\ng01 c00, frame 14"
    assert clip_label("v_ApplyEyeMakeup_g08_c04", 3) == "ApplyEyeMakeup\ng08 c04, frame 3"
    long = clip_label("brush_hair/April_09_brush_hair_u_nm_np1_ba_goo_0", 2)  # HMDB51-style: wrapped, whole
    assert long.replace("\n", "").replace("frame 2", "") == "April_09_brush_hair_u_nm_np1_ba_goo_0"
    assert all(len(line) <= 16 for line in long.split("\n"))


def test_figures(fake):
    import matplotlib

    matplotlib.use("Agg")

    samples = report.read_samples(fake / "data/eval", ["hr", "bicubic", *METHODS])
    fig = report.visual_comparison_figure(samples, n_videos=2, dataset=PreparedDataset(fake / "data/interim"))
    titles = [ax.get_title() for ax in fig.axes if ax.get_title()]
    assert titles == ["HR", "Bicubic", "VDSR", "RCAN", "SRGAN", "ESRGAN", "SoSR", "SPMC", "VSR-DUF-16",
                      "VSR-DUF-52", "ToSR"]
    # the crop sits on the moving block (rows 12..24, columns 16..32 of a 48 x 64 frame)
    y, x = report.figures._motion_box(np.pad(np.ones((12, 16)), ((12, 24), (16, 32))), (12, 16))
    assert (y, x) == (12, 16)
    fig = report.wmse_weight_figure(PreparedDataset(fake / "data/interim"), ["Class0/v_0"], [1])
    assert "WMSE" in fig.axes[1].get_title()
    fig, epe = report.flow_comparison_figure(samples, "farneback", n_videos=2)
    assert list(epe["method"]) == ["bicubic", "tosr", "hr"] * 2
    assert (epe.loc[epe["method"] == "hr", "epe"] == 0).all() and (epe.loc[epe["method"] != "hr", "epe"] > 0).all()
    assert "EPE" in fig.axes[0].get_title()
    study = report.load_study(fake / "reports", METHODS, ABLATION)
    assert len([a for a in report.sr_training_figure(study.sr_curves).axes if a.lines]) == 9
    fig = report.recognizer_training_figure(study.recognizer_curves)
    # a panel per recognizer, each with its held-out top-1 on a right-hand axis (one validated point each)
    assert [a.get_title() for a in fig.axes if a.get_title()] == ["tsn_rgb", "tsn_flow"]
    right = [a for a in fig.axes if a.get_ylabel() == "validation top-1 %"]
    assert len(right) == 2 and all(list(a.lines[0].get_ydata()) == [50.0] for a in right)


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
    # the fake stages recorded no dataset fingerprint; the report's own is the store's it read
    assert block["stage_dataset_fingerprints"] == ["?"] and block["dataset_fingerprint"] == "?"
    own = report.provenance_summary(metrics, dataset="synthetic", report={**PROV, "dataset_fingerprint": "fp1"})
    assert own["dataset_fingerprint"] == "fp1"
    # the environment: the report's package versions, and the stages' distinct ones (fake stages: PROV's)
    assert block["packages"] == "python 3.11, torch 2.13, numpy ?, opencv ?"
    assert block["stage_packages"] == ["python 3.11, torch 2.13, numpy ?, opencv ?"]
    mixed = {**metrics, "prepare": {**metrics["prepare"], "provenance": {**PROV, "numpy": "2.4.6", "opencv": "5.1.0"}}}
    assert len(report.provenance_summary(mixed, dataset="synthetic", report=PROV)["stage_packages"]) == 2
    expected = 1.5 + 10 + 9 * 5 + 12 * 2 + 5 * 3 + 4  # ablation: the 5 runs (aliases are not run)
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
    block = report.provenance_summary(metrics, dataset="synthetic", report={**PROV, "dataset_fingerprint": "fp1"})
    study = report.load_study(fake / "reports", METHODS, ABLATION)
    claims = report.claims_table(study.per_video, study.ablation_per_video, study.eval, n_resamples=500)
    head = report.headline(df, rho, block, claims)
    assert head["tsn_top1"]["fusion"]["sosr+tosr"] == pytest.approx(_acc("sosr+tosr", "tsn", "fusion", 0) + 1.5)
    assert set(head["tsn_top1"]["fusion"]) == {"hr", "bicubic", "sosr", "tosr", "sosr+tosr"}
    assert set(head["tsn_top1"]["spatial"]) == {"hr", "bicubic", "sosr", "tosr"}
    assert set(head["spearman_psnr_top1"]) == {"tsn", "st_resnet", "all"}
    assert head["total_seconds"] == block["total_seconds"] and head["seeds"] == 2 and head["recognizer_seeds"] == 2
    assert head["test_videos"] == N_VIDEOS and isinstance(head["test_videos"], int)
    # every row, with psnr, ssim, TSN top-1 mean and std per stream, and the share of the HR gap closed
    methods = head["methods"]
    assert list(methods) == list(paper.METHOD_ORDER)
    for m, entry in methods.items():
        assert set(entry) == {"psnr", "ssim", "psnr_margin_worst_seed", "tsn_top1", "tsn_top1_std",
                              "gap_closed"}, m
        assert set(entry["tsn_top1"]) == set(entry["tsn_top1_std"]) == {"spatial", "temporal", "fusion"}
    assert methods["hr"]["psnr"] is None and methods["sosr+tosr"]["psnr"] is None
    combined = methods["sosr+tosr"]["tsn_top1"]
    assert combined["spatial"] is None and combined["fusion"] is not None
    assert methods["rcan"]["psnr"] == pytest.approx(_psnr("rcan"))
    assert methods["rcan"]["psnr_margin_worst_seed"] == pytest.approx(_psnr("rcan") - _psnr("bicubic"), abs=1e-4)
    assert methods["hr"]["psnr_margin_worst_seed"] is None and methods["bicubic"]["psnr_margin_worst_seed"] is None
    assert methods["vdsr"]["tsn_top1_std"]["fusion"] == pytest.approx(math.sqrt(5 / 3), abs=1e-4)
    # no SR seed: the same rows for every SR seed; the recognizer seeds' spread remains
    assert methods["hr"]["tsn_top1_std"]["fusion"] == pytest.approx(math.sqrt(1 / 3), abs=1e-4)
    hr, bic = _acc("hr", "tsn", "fusion", 0) + 0.5, _acc("bicubic", "tsn", "fusion", 0) + 0.5
    assert methods["hr"]["gap_closed"] == 1.0 and methods["bicubic"]["gap_closed"] == 0.0
    assert methods["vdsr"]["gap_closed"] == pytest.approx((_acc("vdsr", "tsn", "fusion", 0) + 1.5 - bic) / (hr - bic),
                                                          abs=1e-4)
    assert [c["name"] for c in head["claims"]] == list(claims["name"])
    for c in head["claims"]:
        assert set(c) == {"name", "difference", "ci_low", "ci_high", "verdict", "p_value", "family_verdict"}
    by_name = {c["name"]: c for c in head["claims"]}
    # the best SR row (SoSR+ToSR, last of the paper's SR rows) ~22 points above bicubic on 30 videos, for every
    # cell: holds, also for the family
    hits = lambda m, seed, k: _per_video(_acc(m, "tsn", "fusion", seed, k)).mean()  # noqa: E731
    want = 100 * np.mean([hits("sosr+tosr", s, k) - hits("bicubic", 0, k) for s in (0, 1) for k in (0, 1)])
    assert by_name["sr_beats_bicubic"]["difference"] == pytest.approx(want, abs=1e-3) and want > 20
    assert by_name["sr_beats_bicubic"]["verdict"] == by_name["sr_beats_bicubic"]["family_verdict"] == "holds"
    path = report.write_study_metrics(tmp_path / "study.json", head)
    back = json.loads(path.read_text())
    assert back["provenance"]["dataset"] == "synthetic" and back["methods"]["hr"]["psnr"] is None
    assert back["dataset_fingerprint"] == back["provenance"]["dataset_fingerprint"] == "fp1"
    # HR = bicubic: no gap to close
    flat = df.copy()
    flat.loc[flat["method"] == "hr", "top1"] = flat.loc[flat["method"] == "bicubic", "top1"].to_numpy()
    assert report.method_summary(flat)["vdsr"]["gap_closed"] is None
    # the worst SR seed's PSNR, not the mean, against bicubic's
    low = df.copy()
    low.loc[(low["method"] == "vdsr") & (low["seed"] == 1), "psnr"] = _psnr("bicubic") - 0.25
    assert report.method_summary(low)["vdsr"]["psnr_margin_worst_seed"] == pytest.approx(-0.25)


# ---------------------------------------------------------------------------------------------
# Claims


FUSION = {"bicubic": 50, "vdsr": 55, "rcan": 56, "srgan": 52, "esrgan": 53, "sosr": 60, "spmc": 54, "duf16": 57,
          "duf52": 62, "tosr": 63, "sosr+tosr": 70, "hr": 80}
SPATIAL = {"bicubic": 35, "vdsr": 40, "rcan": 42, "srgan": 45, "esrgan": 49.5, "sosr": 50, "spmc": 41, "duf16": 42,
           "duf52": 43, "tosr": 40, "hr": 60}
TEMPORAL = {"bicubic": 38, "vdsr": 40, "rcan": 41, "srgan": 39, "esrgan": 39, "sosr": 39, "spmc": 40, "duf16": 45,
            "duf52": 65, "tosr": 50, "hr": 70}


def test_rdsr_row_claim_cost_and_ablation_beyond_the_paper(fake):
    """RDSR is a row of the accuracy table before HR (— and a note in the paper's columns), its own
    claim against SoSR+ToSR, a row of the cost table (with its RRDBNet-PSNR base), and an ablation
    table (TSN fusion; its temporal row = the RDSR row); it takes no part in the paper's claims."""
    sr = {"methods": STUDY_METHODS, "train": ["vdsr", "rcan", "srgan", "spmc", "duf16", "duf52", "rrdb_psnr"],
          "finetune": {"esrgan": "rrdb_psnr", "sosr": "rrdb_psnr", "tosr": "duf16", "rdsr": "rrdb_psnr"}}
    study = report.load_study(fake / "reports", STUDY_METHODS, STUDY_ABLATION, sr, lr_baselines=layout.LR_BASELINES)
    assert "finetune_sr@rdsr" in study.metrics and "ablate_rdsr@pixel" in study.metrics
    table = report.accuracy_table(study.eval, "ucf101")
    assert list(table.index) == [*ROWS[:-1], RDSR_ROW, "HR"]
    fusion = _acc("rdsr", "tsn", "fusion", 0)
    assert table.loc[RDSR_ROW, ("ours", "TSN", "Fusion")] == f"{fusion + 1.5:.2f} ± {math.sqrt(5 / 3):.2f}"
    assert (table.loc[RDSR_ROW, "paper (UCF101, split 1, x4)"] == "—").all()
    assert report.NOTE_BEYOND in table.attrs["notes"] and report.NOTE_LR_NOT_IN_PAPER not in table.attrs["notes"]
    assert RDSR_ROW in report.quality_table(study.eval, "ucf101").index
    claims = report.claims_table(study.per_video, study.ablation_per_video, study.eval, n_resamples=300)
    named = claims.set_index("name")
    rdsr = named.loc["rdsr_beats_sosr_tosr"]
    # 0.5 video of 30 better on average: inconclusive
    assert rdsr["verdict"] == "inconclusive" and rdsr["difference"] == pytest.approx(100 * 0.5 / 30)
    for name in ("sr_beats_bicubic", "sosr_beats_image_sr", "tosr_beats_video_sr", "sosr_tosr_best_fusion"):
        assert "RDSR" not in named.loc[name, "comparison"], name  # the paper's claims: its rows only
    assert named.loc["sr_beats_bicubic", "comparison"].startswith("SoSR+ToSR, the best of 10 SR rows")
    # the fake ablation rows score 30-33%, the RDSR row (= its temporal variant) ~71%
    assert named.loc["rdsr_spatial_task_helps", "verdict"] == "inconclusive"
    assert named.loc["rdsr_temporal_task_helps", "verdict"] == "holds"
    assert named.loc["rdsr_temporal_task_helps", "difference"] > 35
    assert named.loc["rdsr_temporal_task_helps", "comparison"] == "temporal (= RDSR (beyond the paper)) vs spatial"
    abl = report.ablation_table(study.ablation, "rdsr", reference=True)
    assert list(abl.index) == ["pixel", "spatial", "temporal"]
    assert list(abl[("", "Spatial task")]) == ["-", "✓", "✓"] and list(abl[("", "Temporal task")]) == ["-", "-", "✓"]
    assert abl.loc["temporal", ("", "Run")] == f"= {RDSR_ROW} row" and abl.loc["pixel", ("", "Run")] == "ablation"
    assert ("ours", "top-1 fusion (%)") in abl.columns and not any(c[0].startswith("paper") for c in abl.columns)
    costs = report.training_costs(study.metrics, STUDY_METHODS, sr)
    seconds = dict(zip(costs["row"], costs["seconds"]))
    assert seconds["rdsr"] == 10.0 and seconds["sosr+tosr"] == 20.0  # its own 5 s + rrdb_psnr's 5 s (fake files)
    shown = report.cost_table(costs, study.eval)
    assert list(shown.index[-2:]) == ["SoSR+ToSR", RDSR_ROW]
    assert "RRDBNet-PSNR" in shown.loc[RDSR_ROW, "trained"] and "teachers not counted" in shown.loc[RDSR_ROW, "trained"]
    prose = report.cost_prose(costs, claims)
    assert ("RDSR cost 10 s to train with its RRDBNet-PSNR base, SoSR+ToSR 20 s with both bases "
            "(RDSR: 50% of SoSR+ToSR's)") in prose
    head = report.headline(study.eval, report.spearman_by_stream(report.psnr_vs_accuracy(study.eval)), None, claims,
                           costs=costs)
    assert head["tsn_top1"]["fusion"]["rdsr"] == fusion + 1.5 and head["methods"]["rdsr"]["training_seconds"] == 10.0
    assert "rdsr_beats_sosr_tosr" in {c["name"] for c in head["claims"]}


def test_rdsr_claim_holds_reverses_and_is_left_out_without_its_row():
    def per_video(rdsr: float, combined: float, n: int = 200) -> pd.DataFrame:
        rows = []
        for seed in (0, 1):
            for method, acc in (("rdsr", rdsr), ("sosr+tosr", combined)):
                rows += per_video_rows({"method": method, "seed": seed, "recognizer": "tsn", "stream": "fusion"},
                                       acc, n)
        return pd.DataFrame(rows)[layout.PER_VIDEO_COLUMNS]

    def claim(df):
        return report.claims_table(df, n_resamples=500).set_index("name").loc["rdsr_beats_sosr_tosr"]

    up = claim(per_video(80.0, 60.0))
    assert up["verdict"] == "holds" and up["difference"] == pytest.approx(20.0) and up["ci_low"] > 0
    assert claim(per_video(60.0, 80.0))["verdict"] == "reversed"
    assert claim(per_video(70.0, 70.0))["verdict"] == "inconclusive"
    alone = per_video(80.0, 60.0)
    left = report.claims_table(alone[alone["method"] != "rdsr"], n_resamples=100)
    assert "rdsr_beats_sosr_tosr" not in set(left["name"])
    assert any("RDSR beats SoSR+ToSR" in n and "RDSR (beyond the paper)" in n for n in left.attrs["notes"])


def _scenario(methods=tuple(paper.METHOD_ORDER), n=200, seeds=(0, 1)):
    """Per-video TSN results with chosen accuracies (nested hits: sharp paired comparisons)."""
    rows = []
    for method in methods:
        for seed in seeds:
            for stream, acc in (("spatial", SPATIAL), ("temporal", TEMPORAL), ("fusion", FUSION)):
                if method in acc:
                    rows += per_video_rows({"method": method, "seed": seed, "recognizer": "tsn", "stream": stream},
                                           acc[method], n)
    per_video = pd.DataFrame(rows)[layout.PER_VIDEO_COLUMNS]
    # PSNR falls as fusion accuracy rises: rho = -1
    eval_df = pd.DataFrame([{"method": m, "seed": s, "psnr": 40.0 - FUSION[m] / 10} for m in methods
                            if m not in ("hr", "sosr+tosr") for s in seeds])
    return per_video, eval_df


def _ablation_scenario(rates: dict, n=200, seeds=(0, 1)):
    rows = []
    for (kind, variant), acc in rates.items():
        for seed in seeds:
            rows += per_video_rows({"kind": kind, "variant": variant, "seed": seed,
                                    "stream": report.ABLATION_STREAM[kind]}, acc, n)
    return pd.DataFrame(rows)[layout.ABLATION_PER_VIDEO_COLUMNS]


def test_claims_table_verdicts():
    per_video, eval_df = _scenario()
    ablation = _ablation_scenario({("sosr", "vdsr_wmse"): 45, ("sosr", "vdsr_mse"): 40,
                                   ("sosr", "esrgan_wmse_feat_adv"): 50, ("sosr", "esrgan_mse_feat_adv"): 50,
                                   ("tosr", "vdsr_warp"): 30, ("tosr", "vdsr"): 40})
    claims = report.claims_table(per_video, ablation, eval_df, n_resamples=2000)
    assert list(claims.columns) == report.CLAIM_COLUMNS
    c = claims.set_index("name")
    assert c.loc["sr_beats_bicubic", "verdict"] == "holds"
    assert c.loc["sr_beats_bicubic", "difference"] == pytest.approx(20.0)
    assert "SoSR+ToSR, the best of 10 SR rows" in c.loc["sr_beats_bicubic", "comparison"]
    # SoSR 50 vs ESRGAN 49.5 (one video of 200): the best other image SR, too close to call
    assert c.loc["sosr_beats_image_sr", "verdict"] == "inconclusive"
    assert c.loc["sosr_beats_image_sr", "comparison"].startswith("SoSR vs ESRGAN, the best other image SR")
    assert c.loc["sosr_beats_image_sr", "difference"] == pytest.approx(0.5)
    # ToSR 50 vs VSR-DUF-52 65: clearly worse
    assert c.loc["tosr_beats_video_sr", "verdict"] == "reversed"
    assert "VSR-DUF-52" in c.loc["tosr_beats_video_sr", "comparison"]
    assert c.loc["tosr_beats_video_sr", "ci_high"] < 0
    # SoSR+ToSR 70 vs ToSR 63 (the best other row; HR left out)
    assert c.loc["sosr_tosr_best_fusion", "verdict"] == "holds"
    assert "vs ToSR" in c.loc["sosr_tosr_best_fusion", "comparison"]
    assert c.loc["wmse_beats_mse_vdsr", "verdict"] == "holds"
    assert c.loc["wmse_beats_mse_vdsr", "comparison"] == "vdsr_wmse vs vdsr_mse (= VDSR)"
    assert c.loc["wmse_beats_mse_esrgan", "verdict"] == "inconclusive"  # identical: interval [0, 0]
    assert c.loc["warp_helps_vdsr", "verdict"] == "reversed"
    assert "warp_helps_duf16" not in c.index  # no duf16 / duf16_warp per-video results: left out, named
    assert any("duf16_warp, duf16" in n for n in claims.attrs["notes"])
    # PSNR falls as accuracy rises (fusion): rho -1, PSNR predicts accuracy inversely: "does not predict" is
    # reversed, and the comparison and direction say which way
    assert c.loc["psnr_not_predictive_fusion", "unit"] == "rho"
    assert c.loc["psnr_not_predictive_fusion", "difference"] == pytest.approx(-1.0)
    assert c.loc["psnr_not_predictive_fusion", "verdict"] == "reversed"
    assert claims.attrs["direction"]["psnr_not_predictive_fusion"] == "inverse"
    assert "predicts accuracy inversely" in c.loc["psnr_not_predictive_fusion", "comparison"]
    assert "(TSN fusion), PSNR predicts accuracy inversely: ρ = −1" in report.claims_prose(claims)
    # every claim the scenario decides, and no other. PSNR against top-1, the Pearson correlation of their
    # ranks by hand (PSNR ranks 1..10, top-1 ranks with ties averaged): spatial -9.5 / sqrt(82.5 * 81.5) ~ -0.12,
    # weak, its interval inside +-0.5: "does not predict" holds; temporal -65 / sqrt(82.5 * 80) ~ -0.80: reversed
    assert dict(zip(claims["name"], claims["verdict"])) == {
        "sr_beats_bicubic": "holds", "sosr_beats_image_sr": "inconclusive", "tosr_beats_video_sr": "reversed",
        "sosr_tosr_best_fusion": "holds", "hr_is_the_ceiling": "holds", "wmse_beats_mse_vdsr": "holds",
        "wmse_beats_mse_esrgan": "inconclusive", "warp_helps_vdsr": "reversed",
        "psnr_not_predictive_spatial": "holds", "psnr_not_predictive_temporal": "reversed",
        "psnr_not_predictive_fusion": "reversed"}
    assert c.loc["psnr_not_predictive_spatial", "difference"] == pytest.approx(-9.5 / math.sqrt(82.5 * 81.5))
    assert c.loc["psnr_not_predictive_temporal", "difference"] == pytest.approx(-65 / math.sqrt(82.5 * 80))
    for r in claims.itertuples():
        assert r.ci_low <= r.difference <= r.ci_high, r.name
    # deterministic
    again = report.claims_table(per_video, ablation, eval_df, n_resamples=2000)
    pd.testing.assert_frame_equal(claims, again)


def _hand_made(method: str, hits: list[int], seeds=(0,)) -> list[dict]:
    return [{"method": method, "seed": s, "recognizer": "tsn", "recognizer_seed": 0, "stream": "fusion",
             "video_id": f"v{i}", "label": 0, "prediction": 0 if h else 1, "correct": h}
            for s in seeds for i, h in enumerate(hits)]


def test_best_sr_vs_the_lr_trained_tsn_known_difference():
    """10 videos: the best SR row (VDSR, 8 hits; RCAN 6) against TSN retrained on LR (5 hits, of
    which video 9 is one VDSR misses): +30 points; the interval excludes 0 only with enough videos."""
    vdsr = [1, 1, 1, 1, 1, 1, 1, 1, 0, 0]
    rcan = [1, 1, 1, 1, 1, 1, 0, 0, 0, 0]
    lr = [1, 1, 1, 1, 0, 0, 0, 0, 0, 1]
    per_video = pd.DataFrame(_hand_made("vdsr", vdsr, (0, 1)) + _hand_made("rcan", rcan, (0, 1))
                             + _hand_made("bicubic", lr, (0, 1)))[layout.PER_VIDEO_COLUMNS]
    lr_rows = pd.DataFrame(_hand_made("tsn_retrained_lr", lr, (0, 1)))[layout.PER_VIDEO_COLUMNS]
    claims = report.claims_table(per_video, lr_per_video=lr_rows, n_resamples=2000).set_index("name")
    row = claims.loc["best_sr_beats_tsn_retrained_lr"]
    assert row["difference"] == pytest.approx(30.0) and row["n_videos"] == 10 and row["n_seeds"] == 2
    assert row["ci_low"] < 0 < row["difference"] < row["ci_high"] and row["verdict"] == "inconclusive"
    assert row["comparison"].startswith("VDSR (HR-trained TSN), the best of 2 SR rows by mean, vs TSN retrained on LR")
    # the same pattern on 20 x as many videos: the interval excludes 0 -> holds; swapped -> reversed
    many = lambda m, h: _hand_made(m, h * 20)  # noqa: E731
    sr_rows = pd.DataFrame(many("vdsr", vdsr) + many("bicubic", lr))[layout.PER_VIDEO_COLUMNS]
    holds = report.claims_table(sr_rows, lr_per_video=pd.DataFrame(many("tsn_retrained_lr", lr))[
        layout.PER_VIDEO_COLUMNS], n_resamples=2000).set_index("name").loc["best_sr_beats_tsn_retrained_lr"]
    assert holds["difference"] == pytest.approx(30.0) and holds["ci_low"] > 0 and holds["verdict"] == "holds"
    worse = pd.DataFrame(many("vdsr", lr) + many("bicubic", lr))[layout.PER_VIDEO_COLUMNS]
    rev = report.claims_table(worse, lr_per_video=pd.DataFrame(many("tsn_finetuned_lr", vdsr))[
        layout.PER_VIDEO_COLUMNS], n_resamples=2000).set_index("name").loc["best_sr_beats_tsn_finetuned_lr"]
    assert rev["difference"] == pytest.approx(-30.0) and rev["verdict"] == "reversed"
    costs = pd.DataFrame([{"row": "vdsr", "trained": "", "seconds": 12.0, "device": "cpu"},
                          {"row": "tsn_finetuned_lr", "trained": "", "seconds": 99.0, "device": "cpu"}])
    prose = report.cost_prose(costs, pd.DataFrame([{**rev, "name": "best_sr_beats_tsn_finetuned_lr"}]))
    assert prose.startswith("Against TSN fine-tuned on LR: TSN fine-tuned on LR is more accurate than the best SR row")
    assert "TSN fine-tuned on LR cost 99 s to train, VDSR 12 s" in prose


def test_claims_intersection_union_and_positive_psnr():
    per_video, eval_df = _scenario()
    # SoSR clearly above ESRGAN (the best other) but tied with a second rival: not "beats all"
    spatial = dict(SPATIAL, sosr=60, esrgan=50, rcan=59.5)
    rows = per_video[~((per_video["stream"] == "spatial") & per_video["method"].isin(["sosr", "esrgan", "rcan"]))]
    extra = [r for m in ("sosr", "esrgan", "rcan") for s in (0, 1)
             for r in per_video_rows({"method": m, "seed": s, "recognizer": "tsn", "stream": "spatial"},
                                     spatial[m], 200)]
    per_video = pd.concat([rows, pd.DataFrame(extra)], ignore_index=True)
    # PSNR rising with accuracy: rho +1, reversed
    eval_df = eval_df.assign(psnr=eval_df["method"].map(lambda m: FUSION[m] / 10))
    c = report.claims_table(per_video, None, eval_df, n_resamples=1000).set_index("name")
    assert c.loc["sosr_beats_image_sr", "comparison"].startswith("SoSR vs RCAN")
    assert c.loc["sosr_beats_image_sr", "verdict"] == "inconclusive"
    assert c.loc["psnr_not_predictive_fusion", "verdict"] == "reversed"


def test_claims_left_out_when_not_studied():
    per_video, eval_df = _scenario(methods=("bicubic", "vdsr", "hr"))
    claims = report.claims_table(per_video, None, eval_df, n_resamples=500)
    assert list(claims["name"]) == ["sr_beats_bicubic", "hr_is_the_ceiling"]
    notes = " ".join(claims.attrs["notes"])
    for needle in ("SoSR beats", "ToSR beats", "SoSR+ToSR", "WMSE beats MSE", "warp loss", "fewer than 3"):
        assert needle in notes, needle
    empty = report.claims_table(per_video[per_video["method"] == "hr"], None, None, n_resamples=100)
    assert empty.empty and "No claim" in report.claims_prose(empty)


def test_claims_use_shared_videos_and_refuse_duplicates():
    per_video, _ = _scenario(methods=("bicubic", "vdsr", "hr"), n=50)
    drop = (per_video["method"] == "vdsr") & (per_video["video_id"] == per_video["video_id"].iloc[0])
    c = report.claims_table(per_video[~drop], n_resamples=200)
    assert c.set_index("name").loc["sr_beats_bicubic", "n_videos"] == 49
    with pytest.raises(ValueError, match="repeat SR seed 0 / recognizer seed 0"):
        report.claims_table(pd.concat([per_video, per_video.iloc[:1]]), n_resamples=200)


def test_claims_display_prose_and_digits():
    per_video, eval_df = _scenario()
    claims = report.claims_table(per_video, None, eval_df, n_resamples=1000)
    shown = report.claims_display(claims)
    assert list(shown.columns) == ["compared", "estimate", "95% CI", "verdict (95%)", "p",
                                   "family verdict (Holm, 0.05)"]
    row = shown.loc["Super-resolution beats bicubic upscaling (TSN fusion)"]
    # a half-width of a few points: whole points
    assert re.fullmatch(r"\+20 pp", row["estimate"]) and re.fullmatch(r"\[\+\d+, \+\d+\]", row["95% CI"])
    assert shown.loc["PSNR does not predict recognition accuracy (TSN fusion)", "estimate"].startswith("ρ = −1")
    assert row["p"] == "< 0.0004" and row["family verdict (Holm, 0.05)"] == "holds"
    text = report.claims_prose(claims)
    assert text.startswith("Decided together as one family (Holm's step-down at a family-wise error of 0.05")
    assert f"of the {len(claims)} claims" in text
    assert "Super-resolution beats bicubic upscaling (TSN fusion): +20 points, 95% CI +" in text
    # said once: one sentence, naming only the claims the family decides (the table has the rest)
    assert text.count(". ") == 0 and text.endswith("is in the table.")
    undecided = claims.loc[claims["family_verdict"] == "inconclusive", "claim"]
    assert len(undecided) and not any(f"{c}:" in text for c in undecided)
    # digits: the first significant digit of the cells' 95% half-width
    assert report.accuracy_digits(per_video) == 0  # 200 videos: ~7 points
    big = pd.DataFrame(per_video_rows({"method": "hr", "seed": 0, "recognizer": "tsn", "stream": "fusion"}, 90, 20000))
    assert report.accuracy_digits(big) == 1  # 20 000 videos at 90%: 0.4 points
    html_text = report.table_html(shown, "Claims")
    assert "holds" in html_text and "Left out" in report.table_html(
        report.claims_display(report.claims_table(per_video, None, eval_df, n_resamples=100)), "Claims")


def test_claim_digits_and_dataset_line():
    claims = pd.DataFrame([{"name": "a", "claim": "A beats B", "comparison": "A vs B", "difference": 6.0,
                            "ci_low": 0.4, "ci_high": 11.6, "verdict": "holds", "p_value": 0.03,
                            "family_verdict": "inconclusive", "unit": "pp", "n_videos": 30, "n_seeds": 1,
                            "n_rec_seeds": 3}], columns=report.CLAIM_COLUMNS)
    shown = report.claims_display(claims).loc["A beats B"]
    # half-width 5.6 -> whole points, but the lower end would print as +0: one more digit
    assert shown["estimate"] == "+6.0 pp" and shown["95% CI"] == "[+0.4, +11.6]" and shown["p"] == "0.03"
    # the prose states the family verdict, not the claim's own 95% one
    text = report.claims_prose(claims)
    assert "of the 1 claim 0 hold, 0 are reversed and 1 is inconclusive;" in text and "the 3 recognizer seeds" in text
    assert "A beats B" not in text  # own verdict holds, family inconclusive: the table says it
    decided = claims.assign(family_verdict="holds")
    assert "**1 holds (A beats B: +6.0 points, 95% CI +0.4 to +11.6)**" in report.claims_prose(decided)
    line = report.dataset_summary("hmdb51", 48, 1530, [0, 1, 2], ["bicubic", "sosr", "hr"], "hmdb51", None, [0, 1])
    assert "**48 test videos** (of 1530 in the test split" in line and "**3 SR seeds** [0, 1, 2]" in line
    assert "**2 recognizer seeds** [0, 1]" in line
    assert "paper (HMDB51, split 1, x4)" in line and "Bicubic, SoSR, HR" in line
    assert "The paper's columns" not in line  # sizes not given: no caveat can be worked out
    # classes and training videos stated; a 3-class subset of HMDB51 beside the paper's columns gets the caveat
    line = report.dataset_summary("hmdb51", 9, 9, [0], ["bicubic"], "hmdb51", None, [0], classes=3, train_videos=21,
                                  val_videos=6, split=1)
    assert "Dataset **hmdb51**: **3 classes**, the recognizers trained on **21 HR training videos** (6 more held " \
           "out for validation); **9 test videos**" in line
    assert ("this run differs (3 classes, not 51; 9 test videos, not 1530), so compare the methods' ordering with "
            "the paper's, not the values.") in line
    full = report.dataset_summary("ucf101", 3783, 3783, [0], [], "ucf101", None, [0], classes=101, train_videos=9537,
                                  split=1)
    assert "The paper's columns" not in full and "paper (UCF101, split 1, x4)" in full
    assert "split 2, not 1" in report.dataset_summary("ucf101", 3783, 3783, [0], [], "ucf101", classes=101, split=2)
    synthetic = report.dataset_summary("synthetic", 144, 144, [0], [], "ucf101", classes=12, train_videos=336)
    assert "the synthetic dataset, not UCF101; 12 classes, not 101; 144 test videos, not 3783" in synthetic
    assert "The paper's columns" not in report.dataset_summary("synthetic", 144, 144, [0], [], None, classes=12)
    assert "(the whole test split)" in report.dataset_summary("x", 10, 10, [0], [], None)
    assert "**1 SR seed** [0]" in report.dataset_summary("x", 10, 10, [0], [], None)
    assert "skipped" not in report.dataset_summary("x", 10, 10, [0], [], None, {"skipped_missing": 0})
    line = report.dataset_summary("x", 3, 3, [0], [], None, {"skipped_missing": 2, "skipped_unreadable": 1})
    assert "**3 listed videos were skipped** (2 missing on disk, 1 unreadable" in line
    assert "bad_videos.txt" in line and "left out" not in line
    line = report.dataset_summary("x", 3, 3, [0], [], None, {"dropped_classes": ["Fencing", "Diving"]})
    assert "**2 classes without a video left out** (`data.on_empty_class: drop`): Fencing, Diving." in line


# ---------------------------------------------------------------------------------------------
# Deviations from the paper's recipe


def test_recipe_deviations_from_files(fake):
    sr = _profile("tiny")["sr"]
    metrics = report.read_metrics(fake / "reports", METHODS, ABLATION, sr)
    settings = report.evaluation_settings(fake / "data/eval", report.eval_methods(METHODS))
    assert settings == {"num_frames": [2], "crops": ["center"], "flow_method": ["farneback"], "shave": [4]}
    lines = report.recipe_deviations(sr, metrics, evaluation=settings, dataset="synthetic", test_videos=30,
                                     split_videos=120)
    text = "\n".join(lines)
    # TSN's fusion weights, chosen per recognizer seed on the validation split (none chosen: the paper's, no line)
    assert "w chosen per recognizer seed on the HR videos of the validation split (12 videos" in text
    assert "seed 0: 1:3, seed 1: 1:4 (the paper: 1:1.5" in text
    assert report.fusion_rule({"seconds": 1.0}) is None
    assert "the synthetic dataset" in text and "Test videos: 30 of the split's 120" in text
    assert "SR training: 20 iterations per phase for every method (published recipes: 200,000 to 1,000,000" in text
    assert "VDSR: num_feat 8 (64), num_conv 3 (20), 1,234 parameters" in text
    assert "global_residual on for SPMC" in text
    assert "Feature loss measured by recognizer" in text
    assert ("Evaluation: 2 snippets per video (paper 25); the centre crop (paper 10 crops); PSNR/SSIM border "
            "shave 4 px (paper 8); optical flow farneback (paper TV-L1).") in text
    assert "published: 128 px, batch 16" in text  # the tiny profile's patches
    assert "Loss terms" not in text  # the tiny profile keeps the published loss weights
    heavier = {**sr, "sosr": {"phases": {"sosr": {"pixel": {"weight": 200}}}}}
    text = "\n".join(report.recipe_deviations(heavier, metrics))
    assert ("Loss terms that differ from the published recipes (published in brackets): "
            "SoSR (sosr phase): pixel 200·wmse (1·wmse).") in text
    # the paper's protocol: nothing to say about the evaluation
    paper_like = {"num_frames": [25], "crops": ["ten"], "shave": [8], "flow_method": ["tvl1"]}
    assert not any(line.startswith("Evaluation") for line in report.recipe_deviations({}, {}, evaluation=paper_like))
    assert report.evaluation_settings(fake / "nowhere", ["hr"]) == {}


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


NUMBER = r"\d+(\.\d+)?( ± \d+(\.\d+)?)?"


def check_study_html(text: str, *, methods=STUDY_METHODS, ablation=GRID) -> None:
    """study.html holds the claims table (a verdict in every row), the accuracy, ablation (the
    paper's full grids and rdsr's) and quality tables with every row and a number in every cell (—
    only where SoSR+ToSR has no single-stream accuracy); with rdsr in ``methods``, its row (numbers
    for ours), its claim against SoSR+ToSR and its cost."""
    tables = html_tables(text)
    claims = find_table(tables, ["Super-resolution beats bicubic upscaling (TSN fusion)",
                                 "SoSR beats the other image SR (TSN spatial)",
                                 "WMSE beats MSE, VDSR structure (TSN spatial)",
                                 "PSNR does not predict recognition accuracy (TSN fusion)"])
    verdicts = ("holds", "reversed", "inconclusive")
    for row in claims[1:]:
        if row and row[0][1] == "th" and len(row) > 2:
            # ... estimate, 95% CI, its own verdict, p, the family verdict
            assert row[-1][0] in verdicts and row[-3][0] in verdicts, row
            assert row[-1][0] in ("inconclusive", row[-3][0]), row  # the family decides no more than the claim
            if row[-4][0] == "[—, —]":  # an undefined rank correlation (e.g. equal accuracies in a tiny run)
                assert row[-5][0] == "ρ = —" and row[-1][0] == "inconclusive", row
                continue
            assert re.fullmatch(r"\[[+−]?\d+(\.\d+)?, [+−]?\d+(\.\d+)?\]", row[-4][0]), row
            assert re.fullmatch(r"< 0\.0004|\d\.\d+(e-\d+)?", row[-2][0]), row
    assert "Decided together as one family" in text
    assert any(row and row[0][0].startswith("The best super-resolution beats TSN retrained on LR") for row in claims)
    beyond = [RDSR_ROW] if "rdsr" in methods else []
    if beyond:
        rdsr = [row for row in claims if row and row[0][0] == "RDSR beats SoSR+ToSR (TSN fusion; beyond the paper)"]
        assert len(rdsr) == 1 and rdsr[0][-1][0] in verdicts, rdsr
    costs = find_table(tables, ["Bicubic", *LR_ROWS, "VDSR", *beyond], without=("HR",))
    for row in costs:
        if row and row[0][0] in ("Bicubic", *LR_ROWS, *beyond):
            values = [c for c, tag in row[1:] if tag == "td"]
            assert re.fullmatch(r"[\d,]+", values[1]) and re.fullmatch(NUMBER, values[3]), row
    acc = find_table(tables, ROWS + LR_ROWS + beyond)
    for row in acc:
        label = row[0][0]
        if label in LR_ROWS:  # TSN only: numbers for TSN, — for ST-ResNet
            values = [c for c, tag in row[1:] if tag == "td"]
            assert all(re.fullmatch(NUMBER, v) for v in values[:3]) and values[3:6] == ["—"] * 3, row
            continue
        if label not in ROWS + beyond:
            continue
        values = [c for c, tag in row[1:] if tag == "td"]
        assert len(values) >= 6, row
        for i, v in enumerate(values[:6]):  # ours: TSN and ST-ResNet x 3 streams
            if label == "SoSR+ToSR" and i % 3 != 2:
                assert v == "—", row
            else:
                assert re.fullmatch(NUMBER, v), (label, v)
    header = " ".join(c for row in acc[:4] for c, tag in row if tag == "th")
    for name in ("TSN", "ST-ResNet", "Spatial", "Temporal", "Fusion"):
        assert name in header
    for kind, variants in ablation.items():
        table = find_table(tables, variants)
        for row in table:
            if row[0][0] in variants:
                numbers = [c for c, _ in row if re.fullmatch(NUMBER, c)]
                assert all(c for c, _ in row) and len(numbers) >= 3, row  # ours: top-1, PSNR, SSIM
    quality = find_table(tables, [report.ROW_LABELS[m] for m in methods], without=("HR", "SoSR+ToSR"))
    for row in quality:
        if row[0][0] in ROWS + beyond:
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
def test_report_notebook_on_fake_results(tmp_path, default_params):
    if not _kernel_registered() and not os.environ.get("CI"):
        pytest.skip("Jupyter kernel 'arsr' not registered: run `make test` (it registers it)")
    study = write_fake_study(tmp_path)
    shutil.copy(ROOT / "dvc.yaml", study / "dvc.yaml")
    (study / "params.yaml").write_text(yaml.safe_dump(default_params, sort_keys=False))
    shutil.copytree(ROOT / "notebooks", study / "notebooks")
    cmd = [sys.executable, "-m", "arsr.notebook", "notebooks/60_report.ipynb", "-g", "report", "-g", "data",
           "-g", "sr", "-g", "ablation", "-g", "seeds", "-g", "aa_control", "-p", "interim_dir=data/interim", "-p",
           "eval_dir=data/eval", "-p", "reports_dir=reports", "--name", "study"]
    env = {k: v for k, v in os.environ.items() if k != "ARSR_ROOT"}
    proc = subprocess.run(cmd, cwd=study, capture_output=True, text=True, timeout=600, env=env)
    assert proc.returncode == 0, proc.stderr[-4000:]
    text = (study / "reports/study.html").read_text()
    check_study_html(text)
    headers = {c for table in html_tables(text) for row in table for c, tag in row if tag == "th"}
    assert not any(h.startswith("paper") for h in headers)  # synthetic + auto: no paper columns
    # 30 test videos: a cell's 95% half-width is ~15 points -> whole points
    acc = find_table(html_tables(text), ROWS)
    hr_row = [c for c, tag in next(r for r in acc if r[0][0] == "HR")[1:] if tag == "td"]
    assert all(re.fullmatch(r"\d+ ± \d+", c) for c in hr_row[:6]), hr_row
    assert "30 test videos" in text and "2 SR seeds" in text and "2 recognizer seeds" in text
    assert "How this run departs from the paper" in text and "global_residual on for SPMC" in text
    assert "= VDSR row" in text and "= ToSR row" in text
    head = json.loads((study / "reports/metrics/study.json").read_text())
    assert head["test_videos"] == N_VIDEOS and head["seeds"] == 2 and "sosr+tosr" in head["methods"]
    assert head["recognizer_seeds"] == 2
    claims = {c["name"]: c for c in head["claims"]}
    # the A/A control: the twin scores as vdsr does (write_aa_control's shift 0): no difference, inconclusive
    assert claims["aa_control"]["difference"] == 0 and claims["aa_control"]["family_verdict"] == "inconclusive"
    assert claims["sr_beats_bicubic"]["family_verdict"] == "holds"
    # the HTML's claims table shows study.json's verdicts, row for row, and the known ones where they are known
    shown = [row for row in find_table(html_tables(text), ["Super-resolution beats bicubic upscaling (TSN fusion)"])[1:]
             if row and row[0][1] == "th" and len(row) > 2]
    assert [(r[-3][0], r[-1][0]) for r in shown] == [(c["verdict"], c["family_verdict"]) for c in head["claims"]]
    by_claim = {r[0][0]: (r[-3][0], r[-1][0]) for r in shown}
    assert by_claim["Super-resolution beats bicubic upscaling (TSN fusion)"] == ("holds", "holds")
    assert by_claim["A/A control: VDSR retrained with other SR seeds differs from itself (TSN fusion)"] == (
        "inconclusive", "inconclusive")
    assert head["tsn_top1"]["fusion"]["hr"] == pytest.approx(_acc("hr", "tsn", "fusion", 0) + 0.5)
    assert head["provenance"]["dataset"] == "synthetic"
    fingerprint = PreparedDataset(study / "data/interim").fingerprint
    assert head["dataset_fingerprint"] == fingerprint and fingerprint in text  # the provenance table shows it
    # bicubic and the 10 SR rows (rdsr among them) x 2 recognizers x 3 streams
    assert len(pd.read_csv(study / "reports/plots/psnr_vs_accuracy.csv")) == 66
    assert "RDSR ablation (beyond the paper)" in text and f"= {RDSR_ROW} row" in text
    assert "RDSR cost" in text and "teachers not counted" in text
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
    # poster Tables 2 and 5 on UCF101; the ablations (Tables 3, 4): HMDB51
    assert {"paper (UCF101, split 1, x4)", "paper (HMDB51, split 1, x4)"} <= headers
    assert "92.13" in text and "61.50" in text


# ---------------------------------------------------------------------------------------------
# The profiles


def _profile(name: str) -> dict:
    return yaml.safe_load((ROOT / "profiles" / f"{name}.yaml").read_text())


@pytest.mark.parametrize("name", ["tiny", "paper"])
def test_profile_has_every_knob_of_params_yaml(name):
    # the working params.yaml on purpose: `dvc exp run -S` changes values, and any params.yaml must
    # hold the profiles' knobs
    params, profile = yaml.safe_load((ROOT / "params.yaml").read_text()), _profile(name)
    assert set(profile) == set(params)
    for group, values in params.items():
        if isinstance(values, dict):
            assert set(profile[group]) == set(values), group
    for sub in ("tsn_rgb", "tsn_flow", "st_resnet"):
        assert set(profile["recognition"][sub]) == set(params["recognition"][sub]), sub
    assert set(profile["data"]["synthetic"]) == set(params["data"]["synthetic"])


def test_tiny_profile_validates():
    from arsr.study.schema import SCHEMA, validate

    tiny = _profile("tiny")
    validate(tiny, list(SCHEMA))
    assert tiny["evaluate"]["num_frames"] == 2 and tiny["data"]["synthetic"]["width"] == 64
    assert tiny["sr"]["methods"] == STUDY_METHODS and tiny["sr"]["finetune"]["rdsr"] == "rrdb_psnr"
    # one variant per structure of each grid (the fake study of these tests holds the whole grid); rdsr's
    # two own rows, so that both of its ablation claims compute
    assert tiny["ablation"] == {"sosr": ["vdsr_wmse", "esrgan_mse_feat_adv"], "tosr": ["vdsr_warp"],
                                "rdsr": ["pixel", "spatial"]}


def test_paper_profile_validates_once_its_files_exist(tmp_path):
    from arsr.params import ParamError, merged
    from arsr.study.schema import SCHEMA, validate
    from arsr.train.presets import BASES, PRESETS, method_phases

    prof = _profile("paper")
    with pytest.raises(ParamError, match="data.root"):
        validate(prof, list(SCHEMA))
    (tmp_path / "UCF101").mkdir()
    prof["data"]["root"] = str(tmp_path / "UCF101")
    params = validate(prof, list(SCHEMA))
    # TV-L1 (the paper's flow), by the torch implementation that runs on the GPU (commit c43b5ec)
    assert params["data"]["dataset"] == "ucf101" and params["prepare"]["flow_method"] == "tvl1_torch"
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
    # rdsr (beyond the paper, untuned) is left out of the paper profile, its ablation too
    assert "rdsr" not in prof["sr"]["methods"] and "rdsr" not in prof["sr"]["finetune"]
    assert prof["ablation"]["rdsr"] == []
    for method in METHODS:  # the presets' published schedules and sizes, untouched
        # methods with a base (esrgan, sosr: rrdb_psnr; tosr: duf16) take that model's sizes
        assert prof["sr"][method] == ({} if method in BASES else {"arch_kwargs": {}})
        phases = method_phases(method, merged(prof["sr"]["common"], prof["sr"][method]))
        assert [p.config["iterations"] for p in phases] == [p.config["iterations"] for p in PRESETS[method]]
        assert all(p.config["data"]["hr_patch"] == 128 for p in phases)


def test_discriminator_check_names_the_gan_phases_whose_d_stayed_at_chance(default_params):
    import numpy as np

    from arsr.study.report import training_curves as tc

    gan = tc.gan_phases(default_params["sr"], ["vdsr", "srgan", "esrgan", "sosr", "edsr"])
    assert gan == {("srgan", "gan"): "vanilla", ("esrgan", "gan"): "ragan", ("sosr", "sosr"): "ragan"}
    it = np.arange(1, 21)
    curves = pd.concat([
        # SRGAN: D at 2 ln 2 throughout (two seeds); ESRGAN: D learns (its loss halves); the PSNR phase has no D
        *[pd.DataFrame({"method": "srgan", "seed": s, "phase": "gan", "iteration": it, "step": it + 20,
                        "loss": 0.1, "d_loss": 2 * np.log(2) * (1 + 0.01 * (-1) ** it)}) for s in (0, 1)],
        pd.DataFrame({"method": "srgan", "seed": 0, "phase": "psnr", "iteration": it, "step": it, "loss": 0.1,
                      "d_loss": np.nan}),
        pd.DataFrame({"method": "esrgan", "seed": 0, "phase": "gan", "iteration": it, "step": it, "loss": 0.1,
                      "d_loss": np.log(2) * np.linspace(1.0, 0.5, 20)})])
    check = tc.discriminator_check(curves, gan).set_index("model")
    assert check.loc["SRGAN", "discriminator"] == "at chance"
    assert check.loc["SRGAN", "ratio"] == pytest.approx(1.0, abs=0.01) and check.loc["SRGAN", "seed_range"] != ""
    # the last quarter of linspace(1, 0.5, 20) is points 15..19
    assert check.loc["ESRGAN", "discriminator"] == "learning"
    assert check.loc["ESRGAN", "ratio"] == pytest.approx(np.linspace(1.0, 0.5, 20)[15:].mean())
    assert "SoSR" not in check.index  # no curve logged
    prose = tc.discriminator_prose(check.reset_index())
    assert prose.startswith("1 of 2 discriminators stayed at chance") and "SRGAN (gan)" in prose
    assert "ESRGAN" not in prose
    assert tc.discriminator_prose(check.reset_index().iloc[1:]).startswith("Every discriminator learned")
    assert tc.discriminator_display(check.reset_index()).loc[("SRGAN", "gan"), "D loss at chance"] == "1.386"


def test_training_trends_flags_curves_still_falling():
    import numpy as np

    it = np.arange(1, 41)
    flat = 1 + np.exp(-it / 3.0)  # flattened long before the end
    falling = 2 - it / 40.0        # a straight line down: still falling
    sr = pd.concat([pd.DataFrame({"method": "vdsr", "seed": s, "phase": "sr", "iteration": it, "step": it,
                                  "loss": flat}) for s in (0, 1)]
                   + [pd.DataFrame({"method": "rcan", "seed": 0, "phase": "sr", "iteration": it, "step": it,
                                    "loss": falling})])
    rec = pd.DataFrame({"model": "tsn_rgb", "seed": 0, "iteration": it, "loss": falling, "accuracy": 0.5})
    trends = report.training_trends(sr, rec).set_index("model")
    assert trends.loc["VDSR", "trend"] == "flat" and abs(trends.loc["VDSR", "change_pct"]) < 1
    # third quarter mean of 2 - i/40 over i = 21..30 is 1.3625, last quarter 1.1125: -18.3%
    assert trends.loc["RCAN", "change_pct"] == pytest.approx(100 * (1.1125 / 1.3625 - 1))
    assert trends.loc["tsn_rgb", "trend"] == "falling" and trends.loc["tsn_rgb", "measured"] == "last vs third quarter"
    prose = report.trends_prose(trends.reset_index())
    assert prose.startswith("1 of 3 training losses had flattened") and "RCAN (sr) -18%" in prose
    # a step schedule: the loss drops at the step (iteration 31) and then settles -> flat at the final rate,
    # though its last quarter is far below its third; without the step's logged rates the quarters say falling
    stepped = np.where(it <= 30, 2 - it / 40.0, 0.5 + np.exp(-(it - 30) / 1.5) * 0.01)
    rates = np.where(it <= 30, 0.01, 0.001)
    curve = pd.DataFrame({"model": "st_resnet", "seed": 0, "iteration": it, "loss": stepped, "accuracy": 0.5})
    with_rate = report.training_trends(None, curve.assign(lr=rates)).set_index("model").loc["st_resnet"]
    assert with_rate["trend"] == "flat" and with_rate["measured"] == "last-rate stretch"
    assert report.training_trends(None, curve).set_index("model").loc["st_resnet", "trend"] == "falling"
    # still falling in the final stretch: falling
    still = np.where(it <= 30, 2 - it / 40.0, 1.0 - (it - 30) / 20.0)
    falls = report.training_trends(None, curve.assign(loss=still, lr=rates)).set_index("model").loc["st_resnet"]
    assert falls["trend"] == "falling" and falls["change_pct"] < -5
    assert falls["plateau"] == "n/a"  # no held-out scores logged
    # held-out top-1 on the validated rows (every 2nd): flat over the final rate on seed 0, still rising
    # on seed 1 -> the mean over seeds decides; the prose names the recognizer and its points
    val = np.where(it % 2 == 0, np.where(it <= 30, it / 60.0, 0.5), np.nan)
    rising = np.where(it % 2 == 0, np.where(it <= 30, it / 60.0, 0.5 + (it - 30) / 50.0), np.nan)
    two = pd.concat([curve.assign(loss=still, lr=rates, val_accuracy=val),
                     curve.assign(loss=still, lr=rates, val_accuracy=rising, seed=1)])
    # validated in the final-rate stretch at iterations 32, 34, ..., 40 (5 points, quarters of 1): seed 0
    # 0.5 throughout -> 0; seed 1 0.54 .. 0.70: last 0.70 - third 0.66 = 4 points; mean 2
    # (the model before the step, at iteration 30, takes no part)
    row = report.training_trends(None, two).set_index("model").loc["st_resnet"]
    assert row["val_change_pts"] == pytest.approx(2.0) and row["plateau"] == "plateau"
    row = report.training_trends(None, two[two["seed"] == 1]).set_index("model").loc["st_resnet"]
    assert row["val_change_pts"] == pytest.approx(4.0) and row["plateau"] == "rising"
    prose = report.trends_prose(report.training_trends(None, two))
    assert "1 of 1 recognizers' validation top-1" in prose and "still moving" not in prose
    prose = report.trends_prose(report.training_trends(None, two[two["seed"] == 1]))
    assert "0 of 1 recognizers' validation top-1" in prose and "still rising, so longer training might raise them " \
        "(points): st_resnet +4.0." in prose and "past their best" not in prose
    # held-out top-1 falling over the final rate (0.70 .. 0.54): past its best, not short of it
    sinking = np.where(it % 2 == 0, np.where(it <= 30, it / 60.0, 0.7 - (it - 30) / 50.0), np.nan)
    prose = report.trends_prose(report.training_trends(None, curve.assign(loss=still, lr=rates, val_accuracy=sinking)))
    assert "falling, past their best on held-out videos, so longer training would not raise them (points): " \
        "st_resnet -4.0." in prose and "still rising" not in prose
    # on the page: a run too short to tell reads n/a (never "+nan"); an SR row has no held-out cell
    short = pd.DataFrame({"model": "tsn_rgb", "seed": 0, "iteration": [1, 2], "loss": [1.0, 0.9], "accuracy": 0.5})
    both = report.training_trends(sr.iloc[:3], pd.concat([two, short]))
    page = report.trends_display(both)
    assert "nan" not in page.to_string().lower()
    assert page.loc[("recognizer", "tsn_rgb", ""), "training loss change (%)"] == "n/a"
    assert page.loc[("recognizer", "st_resnet", ""), "validation top-1 change (points)"] == "+2.0"
    assert page.loc[("SR", "VDSR", "sr"), "validation top-1 change (points)"] == ""
    flat = report.training_trends(None, curve.assign(loss=still, lr=rates, val_accuracy=val)).iloc[0]
    assert flat["val_change_pts"] == pytest.approx(0.0) and flat["plateau"] == "plateau"


def test_retry_prose_names_the_rule_and_every_retried_run():
    def attempt(seed, top1, failed, kept):
        return {"attempt": seed // 1000, "seed": seed, "val_top1": top1, "failed": failed, "kept": kept, "seconds": 5.0}

    rule = {"below_x_chance": 3.0, "below": 0.25, "times": 2}
    fine = {"per_seed": {"0": {"attempts": [attempt(0, 0.7, False, True)]}}}
    retried = {"per_seed": {"0": {"attempts": [attempt(0, 0.7, False, True)]},
                            "1": {"attempts": [attempt(1, 0.146, True, False), attempt(1001, 0.69, False, True)]}}}
    stage = {"retry": rule,
             "tsn_retrained_lr": {"tsn_rgb": retried, "tsn_flow": fine,
                                  "retries": [{"stream": "tsn_rgb", "recognizer_seed": 1,
                                               **attempt(1, 0.146, True, False)}]},
             "tsn_finetuned_lr": {"tsn_rgb": fine, "tsn_flow": fine, "retries": []}}
    prose = report.retry_prose({layout.LR_RECOGNIZERS_STAGE: stage})
    assert "below 3 x chance (25.0%)" in prose and "at most 2 times" in prose
    assert "Retried (1 run;" in prose
    assert "TSN retrained on LR rgb, recogniser seed 1: seed 1 14.6%, seed 1001 69.0% (kept)" in prose
    assert "fine-tuned" not in prose  # no run of it was retried
    # the last attempt kept below the rule says so
    stage["tsn_retrained_lr"]["tsn_rgb"]["per_seed"]["1"]["attempts"] = [
        attempt(1, 0.1, True, False), attempt(1001, 0.1, True, False), attempt(2001, 0.12, True, True)]
    assert "seed 2001 12.0% (kept, below the rule: no attempt left)" in report.retry_prose(
        {layout.LR_RECOGNIZERS_STAGE: stage})
    for baseline in layout.LR_BASELINES:
        stage[baseline] = {"tsn_rgb": fine, "tsn_flow": fine}
    assert report.retry_prose({layout.LR_RECOGNIZERS_STAGE: stage}).endswith("No run fell below it.")
    assert "times: 0" in report.retry_prose({layout.LR_RECOGNIZERS_STAGE: {**stage, "retry": {**rule, "times": 0}}})
    assert "re-run `dvc repro train_recognizers_lr`" in report.retry_prose({layout.LR_RECOGNIZERS_STAGE: {}})
    # the cost table's row says how many failed attempts its cost includes
    metrics = {layout.LR_RECOGNIZERS_STAGE: {b: {"tsn_rgb": {"epochs": 100}, "tsn_flow": {"epochs": 28},
                                                 "cost_seconds": 50.0, "seeds": [0, 1, 2],
                                                 "retries": [] if b == "tsn_finetuned_lr" else
                                                 [{"kept": False}, {"kept": False}, {"kept": True}]}
                                             for b in layout.LR_BASELINES}}
    costs = report.training_costs(metrics, [], {}).set_index("row")["trained"]
    assert costs["tsn_retrained_lr"].endswith("its 2 failed attempts (section 1b) included, spread over its 3 seeds")
    assert costs["tsn_finetuned_lr"].endswith("on the derived LR store")
