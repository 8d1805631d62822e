"""The retrain-on-LR baseline (beyond the paper): the derived LR training store, fine-tuning from
the HR weights, the stage's training and its evaluation rows on a toy store."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
import yaml

from arsr.data.degraded import bicubic_upscale, derive_lr_store
from arsr.data.store import PreparedDataset
from arsr.flow import compute_flows, quantize
from arsr.recognition.config import TrainConfig
from arsr.recognition.train import train_recognizer
from arsr.sr_methods import bicubic_method
from arsr.study import layout
from arsr.study.evaluation import evaluate_stage
from arsr.study.lr_baselines import lr_baseline_configs, train_lr_baselines

ROOT = Path(__file__).resolve().parents[1]

from test_recognition_train import tiny_config, write_toy_store  # noqa: E402 (tests/ is on sys.path under pytest)


@pytest.fixture(scope="module")
def toy(tmp_path_factory) -> PreparedDataset:
    return write_toy_store(tmp_path_factory.mktemp("toy_store"), train_per_class=2, frames=8)


@pytest.fixture(scope="module")
def derived(toy, tmp_path_factory):
    out = tmp_path_factory.mktemp("lr_store")
    stats = derive_lr_store(toy.root, out, scale=4, flow_method="dis", workers=1, progress=False)
    return PreparedDataset(out), stats


# ---------------------------------------------------------------------------------------------
# The derived store


def test_derived_hr_is_the_bicubic_rows_frames_and_flow_is_computed_from_them(toy, derived):
    lr_store, stats = derived
    assert list(lr_store.index["split"].unique()) == ["train"]
    assert stats["videos"] == len(toy.split("train")) == len(lr_store) and stats["derived"] == stats["videos"]
    bicubic = bicubic_method(4, device="cpu")
    for vid in lr_store.index["video_id"]:
        source, video = toy.video(vid), lr_store.video(vid)
        n = source.n_frames
        want = bicubic.frames(source, list(range(n)))  # what the bicubic evaluation row sees
        np.testing.assert_array_equal(np.asarray(video.hr), want)
        np.testing.assert_array_equal(np.asarray(video.lr), np.asarray(source.lr))
        flow = compute_flows(want, "dis")
        # stored in 1/64 px steps kept in TSN's 8-bit bins (arsr.data.store): what TSN reads is the
        # computed flow's, bit for bit, and the pixels are within a step of it
        np.testing.assert_array_equal(quantize(np.asarray(video.flow), 20), quantize(flow, 20))
        np.testing.assert_allclose(np.asarray(video.flow), flow, atol=1 / 64 + 1e-3)
        assert not np.allclose(np.asarray(video.flow), np.asarray(source.flow), atol=0.05)  # not the HR flow
    assert lr_store.class_names == toy.class_names


def test_bicubic_upscale_shape_and_range():
    lr = np.random.default_rng(0).integers(0, 256, (2, 6, 5, 3), dtype=np.uint8)
    up = bicubic_upscale(lr, 4)
    assert up.shape == (2, 24, 20, 3) and up.dtype == np.uint8


def test_derived_store_resumes_and_keeps_the_cost(toy, derived, tmp_path):
    lr_store, stats = derived
    again = derive_lr_store(toy.root, lr_store.root, scale=4, flow_method="dis", workers=1, progress=False)
    assert again["derived"] == 0 and again["reused"] == stats["videos"]
    assert again["derive_seconds"] == pytest.approx(stats["derive_seconds"], abs=1e-3) and stats["derive_seconds"] > 0
    other = derive_lr_store(toy.root, lr_store.root, scale=4, flow_method="farneback", workers=1, progress=False)
    assert other["derived"] == stats["videos"]  # another flow method: every video derived again


# ---------------------------------------------------------------------------------------------
# Fine-tuning starts from the HR weights


def _parameters(path) -> dict[str, torch.Tensor]:
    state = torch.load(path, map_location="cpu", weights_only=True)
    return {k: v for k, v in state.items() if not any(s in k for s in ("running_", "num_batches"))}


def test_finetuning_starts_from_the_hr_weights(toy, derived, tmp_path):
    lr_store, _ = derived
    hr = train_recognizer(tiny_config("rgb", epochs=1, lr_steps=[]), toy, tmp_path / "hr", progress=False, device="cpu")
    # lr 0: no step moves a parameter, so the result shows the weights training started from
    still = tiny_config("rgb", epochs=1, lr=0.0, lr_steps=[], seed=5)
    tuned = train_recognizer(still, lr_store, tmp_path / "tuned", progress=False, device="cpu",
                             init_weights=hr.model_path)
    scratch = train_recognizer(still, lr_store, tmp_path / "scratch", progress=False, device="cpu")
    start, after, fresh = _parameters(hr.model_path), _parameters(tuned.model_path), _parameters(scratch.model_path)
    assert start.keys() == after.keys()
    for k in start:
        torch.testing.assert_close(after[k], start[k], rtol=0, atol=0, msg=k)
    assert any(not torch.equal(fresh[k], start[k]) for k in start)


# ---------------------------------------------------------------------------------------------
# The stage


def _recognition() -> dict:
    cfg = {k: v for k, v in tiny_config("rgb", epochs=1, lr_steps=[]).items() if k != "seed"}
    flow = {**cfg, "model": {**cfg["model"], "modality": "flow"}}
    return {"device": "cpu", "seeds": [0, 1], "feature_seed": 2, "tsn_rgb": cfg, "tsn_flow": flow, "st_resnet": {}}


def test_configs_keep_the_recipe_and_shorten_the_finetuning():
    rec, rec_lr = _recognition(), {"finetune_epochs": 2, "finetune_lr": 1e-3, "workers": 1}
    retrained = lr_baseline_configs(rec, rec_lr, "tsn_retrained_lr", "tsn_flow", 5)
    assert retrained == {**rec["tsn_flow"], "seed": 5}
    tuned = lr_baseline_configs(rec, rec_lr, "tsn_finetuned_lr", "tsn_rgb", 1)
    assert (tuned["epochs"], tuned["lr"], tuned["lr_steps"], tuned["seed"]) == (2, 1e-3, [], 1)
    with pytest.raises(ValueError, match="unknown LR baseline"):
        lr_baseline_configs(rec, rec_lr, "tsn_on_hr", "tsn_rgb", 0)


def test_the_retrained_baseline_takes_its_own_schedule_and_nothing_else():
    """recognition_lr.retrained.<stream> replaces the HR recipe's epochs, steps (and weight decay) for the TSN trained
    from scratch on LR, for that stream only; the fine-tuned baseline keeps its short constant rate."""
    rec = _recognition()
    rec_lr = {"finetune_epochs": 2, "finetune_lr": 1e-3, "workers": 1,
              "retrained": {"tsn_rgb": {"epochs": 7, "lr_steps": [5], "weight_decay": 0.005}}}
    rgb = lr_baseline_configs(rec, rec_lr, "tsn_retrained_lr", "tsn_rgb", 3)
    assert rgb == {**rec["tsn_rgb"], "epochs": 7, "lr_steps": [5], "weight_decay": 0.005, "seed": 3}
    assert TrainConfig.from_dict(rgb).weight_decay == 0.005  # a key the trainer reads
    assert rec["tsn_rgb"]["epochs"] == 1 and rec["tsn_rgb"]["lr_steps"] == []  # the HR recipe is not touched
    assert lr_baseline_configs(rec, rec_lr, "tsn_retrained_lr", "tsn_flow", 3) == {**rec["tsn_flow"], "seed": 3}
    tuned = lr_baseline_configs(rec, rec_lr, "tsn_finetuned_lr", "tsn_rgb", 3)
    assert (tuned["epochs"], tuned["lr_steps"]) == (2, [])


def test_stage_trains_both_baselines_and_reports_their_cost(toy, tmp_path):
    rec = _recognition()
    rec_lr = {"finetune_epochs": 1, "finetune_lr": 1e-3, "workers": 1}
    prepare = {"scale": 4, "flow_method": "farneback", "flow_device": "cpu"}
    with pytest.raises(FileNotFoundError, match="train_recognizers"):
        train_lr_baselines(rec, rec_lr, prepare, toy.root, tmp_path / "lr", tmp_path / "none", tmp_path / "m",
                           progress=False)
    hr_dir = tmp_path / "hr"
    for seed in rec["seeds"]:
        for name in layout.LR_RECOGNIZER_NAMES:
            train_recognizer({**rec[name], "seed": seed}, toy, hr_dir / f"seed{seed}" / name, progress=False,
                             device="cpu")
    runs = train_lr_baselines(rec, rec_lr, prepare, toy.root, tmp_path / "lr", hr_dir, tmp_path / "m",
                              progress=False)
    for baseline in layout.LR_BASELINES:
        m = runs.metrics[baseline]
        assert m["seeds"] == [0, 1]
        for name in layout.LR_RECOGNIZER_NAMES:
            for seed in (0, 1):  # one per recognizer seed
                assert (tmp_path / "m" / baseline / f"seed{seed}" / name / "model.pt").is_file()
            assert m[name]["seconds"] > 0
            assert m[name]["seconds"] == pytest.approx(sum(r["seconds"] for r in m[name]["per_seed"].values()) / 2)
        assert m["train_seconds"] == pytest.approx(sum(m[n]["seconds"] for n in layout.LR_RECOGNIZER_NAMES))
        assert m["cost_seconds"] == pytest.approx(m["train_seconds"] + runs.metrics["derive"]["derive_seconds"])
    assert runs.metrics["tsn_finetuned_lr"]["tsn_rgb"]["init"] == "HR TSN"
    assert runs.metrics["tsn_retrained_lr"]["tsn_rgb"]["init"] == "scratch"
    settings = json.loads((tmp_path / "m/tsn_finetuned_lr/seed1/tsn_rgb/settings.json").read_text())
    assert settings["init"]["path"].endswith("seed1/tsn_rgb/model.pt") and len(settings["init"]["sha256"]) == 16
    assert set(runs.log["model"]) == {f"{b}/{n}" for b in layout.LR_BASELINES for n in layout.LR_RECOGNIZER_NAMES}
    # scored exactly as the bicubic row, by the baseline's own TSN: the same numbers as the bicubic
    # method evaluated with those recognizers; no SR seed (rows repeat), TSN only, no samples
    evaluate = {"recognizers": ["tsn", "st_resnet"], "num_frames": 2, "crops": "center", "shave": 2, "workers": 1,
                "max_videos": None}
    runs = evaluate_stage("tsn_retrained_lr", evaluate, [0, 1], prepare, toy.root, tmp_path / "m",
                          tmp_path / "sr", tmp_path / "eval", recognizer_seeds=[0, 1], progress=False, device="cpu")
    assert set(runs.table["recognizer"]) == {"tsn"} and set(runs.table["method"]) == {"tsn_retrained_lr"}
    assert runs.samples is None and (tmp_path / "eval/tsn_retrained_lr" / layout.REFERENCE_CACHE).is_dir()
    by_seed = runs.table.set_index(["seed", "recognizer_seed", "stream"])["top1"]
    assert (by_seed.loc[0] == by_seed.loc[1]).all()  # SR seeds: the same rows; recognizer seeds: the baseline's
    assert set(runs.per_video["recognizer_seed"]) == {0, 1}
    assert set(runs.per_video["method"]) == {"tsn_retrained_lr"}
    assert len(runs.per_video) == 2 * 2 * 3 * len(toy.split("test"))
    bicubic = evaluate_stage("bicubic", {**evaluate, "recognizers": ["tsn"]}, [0, 1], prepare, toy.root,
                             tmp_path / "m/tsn_retrained_lr", tmp_path / "sr", tmp_path / "eval_bicubic",
                             recognizer_seeds=[0, 1], n_samples=0, progress=False, device="cpu")
    pd.testing.assert_frame_equal(runs.per_video.drop(columns="method"), bicubic.per_video.drop(columns="method"))
    pd.testing.assert_frame_equal(runs.table.drop(columns="method"), bicubic.table.drop(columns="method"))


def test_dvc_stages_follow_the_layout():
    stages = yaml.safe_load((ROOT / "dvc.yaml").read_text())["stages"]
    assert stages["evaluate_lr_baseline"]["matrix"]["baseline"] == list(layout.LR_BASELINES)
    train = stages[layout.LR_RECOGNIZERS_STAGE]
    assert "-p recognizers_dir=data/models/recognizers_lr" in stages["evaluate_lr_baseline"]["cmd"]
    assert "-p models_dir=data/models/recognizers_lr" in train["cmd"]
    # its metrics JSON is a plain output (`dvc metrics show` reads the report's headline files only)
    assert "reports/" + layout.LR_RECOGNIZERS_METRICS in {next(iter(o)) for o in train["outs"]}
    assert "metrics" not in train
    assert "reports/" + layout.LR_RECOGNIZERS_METRICS in stages["report"]["deps"]
    for baseline in layout.LR_BASELINES:
        assert layout.eval_stage(baseline) == f"evaluate_lr_baseline@{baseline}"
