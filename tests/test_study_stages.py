"""The study's stage glue (arsr.study): ablation variants, the recognizer feature network, SR
training and loading per seed, the evaluation stage (incl. SoSR+ToSR) and its video choices.
The notebooks themselves run in the end-to-end test (dvc on the tiny profile)."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from arsr.archs import count_parameters
from arsr.study.schema import validate
from arsr.recognition import TSN
from arsr.sr_methods import ImageMethod, VideoMethod
from arsr.study.ablations import (LABEL_COLUMNS, STREAM, VARIANTS, ablation_metrics, evaluate_variant, train_variant,
                                  variant_phases)
from arsr.study.evaluation import (EvalRuns, balanced_subset, colour_shift_metrics, eval_metrics, evaluate_stage,
                                   load_samples, prune_cache, sample_frame, sample_videos)
from arsr.study.layout import (ABLATION_COLUMNS as COLUMNS, ABLATION_PER_VIDEO_COLUMNS as ABL_PER_VIDEO,
                               PER_CLASS_COLUMNS, PER_VIDEO_COLUMNS, RECOGNIZER_PLOT_COLUMNS as REC_COLUMNS,
                               SR_PLOT_COLUMNS as SR_COLUMNS, TABLE_COLUMNS, eval_item)
from arsr.study.recognizers import train_recognizers
from arsr.study.sr import (RecognizerFeatures, load_sr_method, method_overrides, recognizer_features, train_sr_seeds,
                           with_teachers)
from arsr.train.presets import BASES, method_phases

from test_recognition_train import write_toy_store

ARCH = {"num_feat": 4, "num_block": 1, "num_grow_ch": 4}
DUF = {"num_layer": 16, "num_feat": 4, "num_block": 1, "num_grow_ch": 4, "num_mid": 8, "num_filter_hidden": 8}
TINY_SR = {
    "methods": ["vdsr", "sosr", "tosr"], "train": ["vdsr", "duf16", "rrdb_psnr"],
    "finetune": {"sosr": "rrdb_psnr", "tosr": "duf16"}, "feature_network": "recognizer", "vgg_weights": None,
    "common": {"iterations": 2, "log_every": 1,
               "data": {"hr_patch": 16, "batch_size": 2, "splits": ["train"], "prefetch": 0},
               "gan": {"disc": {"num_feat": 4}}},
    "vdsr": {"arch_kwargs": {"num_feat": 4, "num_conv": 3}},
    "rrdb_psnr": {"arch_kwargs": ARCH},
    "sosr": {"data": {"hr_patch": 32}},  # the discriminator needs 32 px
    "esrgan": {"data": {"hr_patch": 32}},
    "duf16": {"arch_kwargs": DUF}, "tosr": {},
}
TINY_REC = {"backbone": "resnet18", "width": 8, "dropout": 0.0, "partial_bn": False, "pretrained": None}
TINY_TRAIN = {"epochs": 1, "lr": 0.01, "batch_size": 6, "input_size": 32, "scale_size": 32, "scales": [1.0],
              "workers": 1, "log_every": 1}
TINY_RECOGNITION = {
    "device": "cpu",
    "tsn_rgb": {"model": {"type": "tsn", "modality": "rgb", **TINY_REC}, **TINY_TRAIN},
    "tsn_flow": {"model": {"type": "tsn", "modality": "flow", **TINY_REC}, **TINY_TRAIN},
    "st_resnet": {"model": {"type": "st_resnet", "depth": 18, "width": 8, "pretrained": None}, **TINY_TRAIN},
}
EVALUATE = {"recognizers": ["tsn", "st_resnet"], "num_frames": 2, "crops": "center", "shave": 2, "workers": 1,
            "max_videos": None}
PREPARE = {"flow_method": "dis", "scale": 4}
REC_SEEDS = [0, 2]


@pytest.fixture(scope="module")
def study(tmp_path_factory):
    """A toy store (3 classes; 2 test videos each) with trained tiny recognizers (seeds 0 and 2,
    both scoring every method) and the feature network (a spatial TSN of seed 1, apart)."""
    root = tmp_path_factory.mktemp("study")
    store = write_toy_store(root / "interim", train_per_class=2, test_per_class=2, frames=10)
    runs = train_recognizers(TINY_RECOGNITION, REC_SEEDS, store.root, root / "recognizers",
                             feature_dir=root / "feature_net", feature_seed=1, progress=False)
    return {"root": root, "store": store, "runs": runs, "recognizers": root / "recognizers",
            "feature_net": root / "feature_net"}


# ---------------------------------------------------------------------------------------------
# Ablation variants


@pytest.fixture
def study_sr(default_params):
    return validate(default_params, ["sr"])["sr"]


def test_every_variant_resolves_to_trainer_phases(study_sr, tmp_path):
    for kind, variants in VARIANTS.items():
        for name, v in variants.items():
            phases = variant_phases(kind, name, study_sr, seed=3, out_dir=tmp_path)
            assert phases, (kind, name)
            assert all(p.config["seed"] == 3 for p in phases)
            for before, after in zip(phases, phases[1:]):  # each later phase starts from the previous
                assert after.config["init_from"] == str(tmp_path / before.name / "model.pt")
            sizes = (study_sr.get(BASES[v.sizes][0]) if v.sizes in BASES else study_sr[v.sizes])["arch_kwargs"]
            assert all(phases[-1].config["arch_kwargs"][k] == val for k, val in sizes.items()), (kind, name)
            assert set(v.label) == set(LABEL_COLUMNS)


def test_variants_with_a_base_copy_the_studys_trained_model_and_train_the_rest(study_sr, tmp_path):
    warp = variant_phases("tosr", "vdsr_warp", study_sr, seed=2, out_dir=tmp_path / "v", sr_models_dir=tmp_path)
    assert [p.name for p in warp] == ["sr", "warp"]
    assert warp[0].config["iterations"] == 0
    assert warp[0].config["init_from"] == str(tmp_path / "vdsr" / "seed2" / "sr" / "model.pt")
    assert warp[1].config["iterations"] > 0 and warp[1].config["warp"]["weight"] > 0
    assert warp[1].config["init_from"] == str(tmp_path / "v" / "sr" / "model.pt")
    feat = variant_phases("sosr", "esrgan_wmse_feat", study_sr, seed=2, out_dir=tmp_path / "e", sr_models_dir=tmp_path)
    assert feat[0].config["init_from"] == str(tmp_path / "rrdb_psnr" / "seed2" / "psnr" / "model.pt")
    assert feat[0].config["iterations"] == 0 and feat[1].config["iterations"] > 0
    assert feat[1].config["gan"]["type"] == "none" and feat[1].config["pixel"]["type"] == "wmse"


def _last(kind, variant, sr):
    return variant_phases(kind, variant, sr)[-1].config


def test_sosr_variants_carry_the_documented_losses(study_sr):
    sr = study_sr
    for name, v in VARIANTS["sosr"].items():
        cfg = _last("sosr", name, sr)
        assert cfg["pixel"]["type"] == v.label["pixel"].lower(), name
        assert (cfg["feature"]["weight"] > 0) == v.label["feature"], name
        assert (cfg["gan"]["type"] == "ragan" and cfg["gan"]["weight"] == 0.005) == v.label["adversarial"], name
        assert cfg["warp"]["weight"] == 0 and not v.label["warp"]
        assert cfg["arch"] == ("vdsr" if v.label["structure"] == "VDSR" else "rrdbnet")
    assert _last("sosr", "vdsr_wmse", sr)["pixel"] == {**_last("sosr", "vdsr_wmse", sr)["pixel"], "type": "wmse",
                                                       "normalize": False, "floor": 0.0}
    # the ESRGAN rows: RRDBNet PSNR-pretrained, then one loss change from SoSR
    for name in ("esrgan_wmse_feat", "esrgan_mse_feat_adv", "esrgan_wmse_feat_adv"):
        phases = variant_phases("sosr", name, sr)
        assert [p.name for p in phases] == ["psnr", "sosr"]
        assert phases[0].config["pixel"]["type"] == "l1" and phases[1].config["data"]["motion_top_k"] == 10
    sosr = method_phases("sosr", method_overrides(sr, "sosr", 0))[-1].config  # the study's SoSR row
    full = _last("sosr", "esrgan_wmse_feat_adv", sr)
    # the MSE row differs from it in the pixel type only (same weight)
    mse = _last("sosr", "esrgan_mse_feat_adv", sr)["pixel"]
    assert mse == {**sosr["pixel"], "type": "mse"}
    for key in ("pixel", "feature", "gan", "warp"):
        want = {**sosr[key], **({"disc": full["gan"]["disc"]} if key == "gan" else {})}
        assert full[key] == want, key


def test_tosr_variants_carry_the_documented_losses(study_sr):
    sr = study_sr
    for name, v in VARIANTS["tosr"].items():
        phases = variant_phases("tosr", name, sr)
        cfg = phases[-1].config
        assert (cfg["warp"]["weight"] > 0) == v.label["warp"] == name.endswith("_warp"), name
        assert cfg["arch"] == ("vdsr" if v.label["structure"] == "VDSR" else "duf")
        assert not v.label["feature"] and not v.label["adversarial"]
    warp = _last("tosr", "duf16_warp", sr)["warp"]
    assert warp["weight"] > 0 and (warp["alpha"], warp["beta"], warp["gamma"]) == (1.0, 0.8, 0.1)
    assert _last("tosr", "duf16", sr)["arch_kwargs"]["num_layer"] == 16
    vdsr_warp = variant_phases("tosr", "vdsr_warp", sr)
    assert [p.name for p in vdsr_warp] == ["sr", "warp"]
    assert vdsr_warp[0].config["warp"]["weight"] == 0 and vdsr_warp[1].config["warp"] == warp
    assert vdsr_warp[1].config["pixel"]["type"] == "none"


def test_params_accept_the_variants_and_reject_unknown_ones(default_params):
    params = default_params
    validate(params, ["ablation"])
    params["ablation"]["tosr"] = ["duf16", "duf99"]
    with pytest.raises(ValueError, match="duf99"):
        validate(params, ["ablation"])


def test_unknown_variant_names_the_choices(study_sr):
    with pytest.raises(ValueError, match="vdsr_warp"):
        variant_phases("tosr", "nope", study_sr)


# ---------------------------------------------------------------------------------------------
# The recognizer as feature network


@pytest.mark.parametrize("backbone", ["resnet18", "bninception"])
def test_recognizer_features_are_frozen_and_pass_gradients(backbone):
    torch.manual_seed(0)
    tsn = TSN(5, "rgb", backbone, width=8, partial_bn=False)
    feats = RecognizerFeatures(tsn)
    assert all(not p.requires_grad for p in feats.parameters())
    assert all(p.requires_grad for p in tsn.parameters())  # the recognizer itself is untouched
    feats.train()
    assert not feats.training and not any(m.training for m in feats.modules())
    x = torch.rand(2, 3, 64, 64, requires_grad=True)
    y = feats(x)
    assert y.shape[0] == 2 and y.shape[-2:] == (4, 4)  # stride 16
    if backbone == "resnet18":
        assert y.shape[1] == 4 * 8  # layer3: 4 x width
        with torch.no_grad():  # TSN's own normalisation in front of its backbone
            b = tsn.eval().base_model
            want = b.layer3(b.layer2(b.layer1(b.stem(tsn.normalize(x)))))
        torch.testing.assert_close(y, want)
    y.abs().mean().backward()
    assert x.grad is not None and x.grad.abs().sum() > 0
    assert all(p.grad is None for p in feats.parameters())


def test_recognizer_features_come_from_the_seeds_spatial_tsn(study):
    feats = recognizer_features(study["feature_net"], 1)
    assert isinstance(feats, RecognizerFeatures) and feats.layer == "layer3"
    with pytest.raises(FileNotFoundError, match="train_recognizers"):
        recognizer_features(study["feature_net"], 0)  # the scoring recognizer's seed is not there
    with pytest.raises(ValueError, match="rgb"):
        RecognizerFeatures(TSN(3, "flow", "resnet18", width=8))


def test_train_recognizers_summary_and_log(study):
    metrics, log = study["runs"].metrics, study["runs"].log
    assert set(metrics) == {"tsn_rgb", "tsn_flow", "st_resnet", "feature_tsn_rgb", "feature_tsn_flow", "seconds"}
    assert metrics["st_resnet"]["epochs"] == 1
    assert list(log.columns[:len(REC_COLUMNS)]) == REC_COLUMNS
    # each seed's summary is the last row of its training log, and the model's the mean over its seeds
    for name in ("tsn_rgb", "tsn_flow", "st_resnet"):
        last = log[log["model"] == name].groupby("seed").tail(1).set_index("seed")
        per_seed = metrics[name]["per_seed"]
        assert sorted(per_seed) == sorted(str(s) for s in last.index), name
        for seed, row in last.iterrows():
            assert per_seed[str(seed)]["train_accuracy"] == pytest.approx(row["accuracy"]), (name, seed)
            assert per_seed[str(seed)]["train_loss"] == pytest.approx(row["loss"]), (name, seed)
        assert metrics[name]["train_accuracy"] == pytest.approx(last["accuracy"].mean()), name
    assert set(log["model"]) == {"tsn_rgb", "tsn_flow", "st_resnet", "feature_tsn_rgb", "feature_tsn_flow"}
    # the feature network and rdsr's teachers are other models than the scoring TSN (another seed, another file)
    for name in ("tsn_rgb", "tsn_flow"):
        a = torch.load(study["recognizers"] / "seed0" / name / "model.pt", weights_only=True)
        b = torch.load(study["feature_net"] / "seed1" / name / "model.pt", weights_only=True)
        assert any(not torch.equal(a[k], b[k]) for k in a if a[k].is_floating_point()), name
    with pytest.raises(ValueError, match="differ"):
        train_recognizers(TINY_RECOGNITION, [0], study["store"].root, study["recognizers"],
                          feature_dir=study["feature_net"], feature_seed=0, progress=False)
    # a second call finds the models finished
    again = train_recognizers(TINY_RECOGNITION, REC_SEEDS, study["store"].root, study["recognizers"], progress=False)
    assert again.metrics["tsn_rgb"]["seconds"] == metrics["tsn_rgb"]["seconds"]
    assert set(again.metrics["tsn_rgb"]["per_seed"]) == {"0", "2"}


# ---------------------------------------------------------------------------------------------
# SR training per seed and loading


def test_method_overrides_merge_common_method_and_seed():
    sr = {**TINY_SR, "feature_network": "vgg19", "vgg_weights": "w.pth"}
    ov = method_overrides(sr, "vdsr", 5)
    assert ov["seed"] == 5 and ov["iterations"] == 2 and ov["arch_kwargs"] == {"num_feat": 4, "num_conv": 3}
    assert ov["feature"]["vgg_weights"] == "w.pth"
    assert "feature" not in method_overrides(TINY_SR, "vdsr", 0)


def test_load_sr_method_round_trip_and_log(study):
    models = study["root"] / "models"
    runs = train_sr_seeds("vdsr", TINY_SR, [0, 1], study["store"].root, models / "vdsr", progress=False)
    method = load_sr_method(models, "vdsr", 1, device="cpu")
    assert isinstance(method, ImageMethod) and method.name == "vdsr"
    state = torch.load(models / "vdsr" / "seed1" / "sr" / "model.pt", weights_only=True)
    for k, v in method.model.state_dict().items():
        torch.testing.assert_close(v, state[k])
    video = study["store"].video(study["store"].split("test").iloc[0])
    out = method.frames(video, [0, 3])
    assert out.shape == (2, 32, 32, 3) and out.dtype == np.uint8
    m = runs.metrics
    assert m["parameters"] == count_parameters(method.model) and m["feature_network"] is None
    assert set(m["seconds_per_seed"]) == {"0", "1"} and m["phases"][0]["losses"] == {"pixel": "1·mse"}
    assert list(runs.log.columns[:len(SR_COLUMNS)]) == SR_COLUMNS
    assert sorted(runs.log["seed"].unique()) == [0, 1] and runs.log["loss"].notna().all()
    # seeds differ
    other = load_sr_method(models, "vdsr", 0, device="cpu")
    assert not np.array_equal(other.frames(video, [0, 3]), out)
    with pytest.raises(FileNotFoundError, match="train_sr"):
        load_sr_method(models, "vdsr", 9)


@pytest.fixture(scope="module")
def sosr_tosr(study):
    """Tiny SoSR (from a trained rrdb_psnr; feature loss through the feature-net TSN) and ToSR
    (from a trained duf16) models of seed 0."""
    models = study["root"] / "models"
    with pytest.raises(FileNotFoundError, match="train_sr@rrdb_psnr"):
        train_sr_seeds("sosr", TINY_SR, [0], study["store"].root, models / "sosr",
                       recognizers_dir=study["feature_net"], feature_seed=1, progress=False)
    base = train_sr_seeds("rrdb_psnr", TINY_SR, [0], study["store"].root, models / "rrdb_psnr", progress=False)
    duf = train_sr_seeds("duf16", TINY_SR, [0], study["store"].root, models / "duf16", progress=False)
    sosr = train_sr_seeds("sosr", TINY_SR, [0], study["store"].root, models / "sosr",
                          recognizers_dir=study["feature_net"], feature_seed=1, progress=False)
    tosr = train_sr_seeds("tosr", TINY_SR, [0], study["store"].root, models / "tosr", progress=False)
    return {"models": models, "sosr": sosr, "tosr": tosr, "rrdb_psnr": base, "duf16": duf}


def test_finetuned_methods_start_from_their_trained_base(sosr_tosr):
    models = sosr_tosr["models"]
    for method, base, phase, base_phase in (("sosr", "rrdb_psnr", "psnr", "psnr"), ("tosr", "duf16", "duf", "sr")):
        copied = torch.load(models / method / "seed0" / phase / "model.pt", weights_only=True)
        trained = torch.load(models / base / "seed0" / base_phase / "model.pt", weights_only=True)
        assert copied.keys() == trained.keys() and all(torch.equal(copied[k], trained[k]) for k in copied)
        assert sosr_tosr[method].metrics["phases"][0]["iterations"] == 0


def test_two_phase_methods_log_steps_over_the_phases(sosr_tosr):
    sosr, tosr = sosr_tosr["sosr"], sosr_tosr["tosr"]
    assert sosr.metrics["feature_network"] == ("recognizer: the seed's TSN spatial stream (resnet18 up to layer3), "
                                               "frozen (seed 1, trained apart from the scoring recognizer)")
    assert tosr.metrics["feature_network"] is None
    log = tosr.log
    assert list(log["phase"].unique()) == ["tosr"]  # the duf phase is a copy of duf16: no log
    assert log["step"].tolist() == [1, 2] and log["iteration"].tolist() == [1, 2]
    assert log.loc[log["phase"] == "tosr", "warp"].notna().all()
    assert isinstance(load_sr_method(sosr_tosr["models"], "tosr", 0, device="cpu"), VideoMethod)
    assert set(sosr.metrics["final_losses"]["sosr"]) >= {"loss", "pixel", "feature", "gan", "d_loss"}


# ---------------------------------------------------------------------------------------------
# Which videos


def test_sample_videos_are_the_first_test_clip_of_the_first_classes(study):
    store = study["store"]
    picks = sample_videos(store, 2)
    test = store.split("test")
    want = [sorted(test.loc[test["label"] == c, "video_id"])[0] for c in (0, 1)]
    assert picks == want == sample_videos(store.root, 2)
    assert len(sample_videos(store, 10)) == 3  # one per class at most
    assert sample_frame(10) == 5 and sample_frame(2) == 0


def test_balanced_subset_spreads_over_classes(tmp_path):
    store = write_toy_store(tmp_path, train_per_class=0, test_per_class=4, frames=4)
    assert balanced_subset(store, None) is None and balanced_subset(store, 12) is None
    subset = balanced_subset(store, 5)
    assert subset == balanced_subset(store, 5) and len(subset) == 5
    labels = store.index.set_index("video_id").loc[subset, "label"]
    counts = labels.value_counts()
    assert set(counts.index) == {0, 1, 2} and counts.max() - counts.min() <= 1
    assert set(balanced_subset(store, 3)) < set(subset)  # growing max_videos only adds videos


def test_prune_cache_keeps_only_the_given_videos(tmp_path):
    for rel in ("scores/tsn/a.npz", "scores/tsn/b.npz", "scores/tsn/settings.json", "quality/a.json",
                "quality/c.json", "quality/settings.json"):
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text("x")
    assert prune_cache(tmp_path, ["a"]) == 2
    left = sorted(str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*") if p.is_file())
    assert left == ["quality/a.json", "quality/settings.json", "scores/tsn/a.npz", "scores/tsn/settings.json"]
    assert prune_cache(tmp_path / "missing", ["a"]) == 0


# ---------------------------------------------------------------------------------------------
# The evaluation stage


def _evaluate(study, method, models, **kw):
    seeds = kw.pop("seeds", [0])
    return evaluate_stage(method, {**EVALUATE, **kw}, seeds, PREPARE, study["store"].root, study["recognizers"],
                          models, study["root"] / "eval", recognizer_seeds=REC_SEEDS, n_samples=2, progress=False)


def test_every_recognizer_seed_scores_frames_made_once(study):
    """One pass per SR seed: the method is asked for each video's frames once, whatever the number
    of recognizer seeds, and each seed's scores equal those of an evaluation with that seed alone."""
    from arsr.evaluate import evaluate
    from arsr.sr_methods import bicubic_method
    from arsr.study.evaluation import seeded_recognizers

    calls = []
    method = bicubic_method(4)
    frames = method.frames
    method.frames = lambda video, idx: calls.append(video.video_id) or frames(video, idx)
    recs, names = seeded_recognizers(study["recognizers"], REC_SEEDS, ("tsn",))
    both = evaluate(method, recs, study["store"], num_frames=2, progress=False, workers=1)
    assert sorted(calls) == sorted(study["store"].split("test")["video_id"])  # once per video, not per seed
    assert set(names.values()) == {("tsn", k) for k in REC_SEEDS}
    for key, (_, seed) in names.items():
        alone = evaluate(
            bicubic_method(4),
            seeded_recognizers(study["recognizers"], [seed], ("tsn",))[0],
            study["store"],
            num_frames=2,
            progress=False,
            workers=1,
        )
        for stream in ("spatial", "temporal", "fusion"):
            np.testing.assert_array_equal(both.scores[(key, stream)], alone.scores[(key, stream)])
    # the seeds are different recognizers: their scores differ
    assert not np.array_equal(both.scores[("tsn_r0", "spatial")], both.scores[("tsn_r2", "spatial")])


def test_evaluate_stage_tables_metrics_and_samples(study):
    runs = _evaluate(study, "hr", study["root"] / "models")
    assert list(runs.table.columns) == TABLE_COLUMNS and list(runs.per_class.columns) == PER_CLASS_COLUMNS
    assert len(runs.table) == 12 and set(runs.table["method"]) == {"hr"} and (runs.table["n_videos"] == 6).all()
    assert set(zip(runs.table["recognizer"], runs.table["recognizer_seed"], runs.table["stream"])) == {
        (r, k, s) for r in ("tsn", "st_resnet") for k in REC_SEEDS for s in ("spatial", "temporal", "fusion")}
    metrics = eval_metrics(runs)
    assert metrics["psnr"] is None and set(metrics["tsn"]) == {"spatial", "temporal", "fusion"}
    assert metrics["colour_shift"]["max_mean_abs_per_video"] == 0.0  # HR against itself
    assert metrics["colour_shift"]["abs_rgb_per_seed"] == {"0": [0.0, 0.0, 0.0]}
    samples = load_samples(study["root"] / "eval" / "hr" / "samples.npz")
    assert list(samples["video_ids"]) == sample_videos(study["store"], 2)
    assert samples["sr"].shape == (2, 2, 32, 32, 3) and samples["sr"].dtype == np.uint8
    video = study["store"].video(str(samples["video_ids"][0]))
    t = int(samples["frames"][0])
    np.testing.assert_array_equal(samples["sr"][0], video.hr[[t, t + 1]])
    # a class-balanced subset, and the cache pruned to it
    sub = _evaluate(study, "hr", study["root"] / "models", max_videos=3)
    assert (sub.table["n_videos"] == 3).all()
    cached = list((study["root"] / "eval" / "hr" / "reference" / "scores" / "tsn_r2").glob("*.npz"))
    assert len(cached) == 3
    # per-video rows: one per video, recognizer and stream; correct = prediction == label
    videos = sub.per_video
    assert list(videos.columns) == PER_VIDEO_COLUMNS and len(videos) == 3 * 6 * len(REC_SEEDS)
    assert (videos["correct"] == (videos["prediction"] == videos["label"]).astype(int)).all()
    # the reference has no SR seed: evaluated once, its rows repeated for every seed
    two = _evaluate(study, "hr", study["root"] / "models", max_videos=3, seeds=[0, 4])
    assert sorted(two.table["seed"].unique()) == [0, 4]
    a, b = (two.table[two.table["seed"] == s].drop(columns="seed").reset_index(drop=True) for s in (0, 4))
    pd.testing.assert_frame_equal(a, b)


def test_sosr_plus_tosr_fuses_the_cached_streams(study, sosr_tosr):
    models = sosr_tosr["models"]
    with pytest.raises(FileNotFoundError, match="evaluate@sosr"):
        _evaluate(study, "sosr+tosr", models)
    sosr = _evaluate(study, "sosr", models)
    tosr = _evaluate(study, "tosr", models)
    both = _evaluate(study, "sosr+tosr", models)
    assert eval_item("sosr+tosr") == "sosr_tosr" and both.samples is None
    assert set(both.table["stream"]) == {"fusion"} and set(both.table["recognizer"]) == {"tsn", "st_resnet"}
    assert set(both.table["method"]) == {"sosr+tosr"}
    # TSN fusion = fusion of the SoSR spatial and ToSR temporal scores, 1 : 1.5, from the caches, per
    # recognizer seed
    from arsr.evaluate import fuse_cached
    for k in REC_SEEDS:
        fused = fuse_cached(study["root"] / "eval", spatial="sosr/seed0", temporal="tosr/seed0", recognizer=f"tsn_r{k}")
        want = fused.table.loc[0, "top1"]
        got = both.table.loc[(both.table["recognizer"] == "tsn") & (both.table["recognizer_seed"] == k), "top1"].item()
        assert got == want
        # the fused per-video rows agree with the fused accuracy
        tsn = both.per_video[(both.per_video["recognizer"] == "tsn") & (both.per_video["recognizer_seed"] == k)]
        assert len(tsn) == 6 and 100 * tsn["correct"].mean() == pytest.approx(got)
    assert sosr.table["psnr"].notna().all() and tosr.table["n_videos"].eq(6).all()


def test_ablation_variant_trains_and_scores_one_stream(study):
    sr = {**TINY_SR, "feature_network": "recognizer"}
    runs = train_variant("sosr", "vdsr_wmse_feat", sr, [0], study["store"].root, study["root"] / "ablation",
                         recognizers_dir=study["feature_net"], feature_seed=1, progress=False)
    assert runs.metrics["feature_network"].startswith("recognizer") and runs.metrics["pixel"] == "WMSE"
    rows = evaluate_variant("sosr", "vdsr_wmse_feat", EVALUATE, [0], PREPARE, study["store"].root,
                            study["recognizers"], study["root"] / "ablation", study["root"] / "eval",
                            recognizer_seeds=REC_SEEDS, progress=False)
    assert list(rows.columns) == COLUMNS and len(rows) == len(REC_SEEDS)
    assert sorted(rows["recognizer_seed"]) == REC_SEEDS
    videos = rows.attrs["per_video"]
    assert list(videos.columns) == ABL_PER_VIDEO and len(videos) == 6 * len(REC_SEEDS)
    assert set(videos["stream"]) == {"spatial"}
    for row in rows.itertuples():
        of_seed = videos[videos["recognizer_seed"] == row.recognizer_seed]
        assert 100 * of_seed["correct"].mean() == pytest.approx(row.top1)
    assert (rows["stream"] == STREAM["sosr"]).all() and STREAM["sosr"] == "spatial" and rows.loc[0, "feature"]
    # only the spatial TSN was loaded: no temporal scores in the cache
    cache = study["root"] / "eval" / "ablation_sosr_vdsr_wmse_feat" / "seed0" / "scores" / "tsn_r0"
    with np.load(next(cache.glob("*.npz"))) as z:
        assert "spatial" in z.files and "temporal" not in z.files
    metrics = ablation_metrics(rows, runs.metrics)
    assert metrics["recognizer_seeds"] == len(REC_SEEDS) and metrics["training"]["preset"] == "vdsr"
    assert metrics["top1_std"] == pytest.approx(rows["top1"].std())  # over the (SR seed, recognizer seed) cells
    assert [(r["seed"], r["recognizer_seed"]) for r in metrics["per_seed"]] == [(0, k) for k in REC_SEEDS]


def test_vgg19_feature_network_reaches_the_trainer(study, sosr_tosr):
    sr = {**TINY_SR, "feature_network": "vgg19", "vgg_weights": "random"}  # random: tests only (no file)
    with pytest.warns(UserWarning, match="RANDOM VGG19 weights"):  # said loudly, never silently
        runs = train_sr_seeds("sosr", sr, [0], study["store"].root, study["root"] / "models_vgg" / "sosr",
                              sr_models_dir=sosr_tosr["models"], progress=False)
    assert runs.metrics["feature_network"].startswith("vgg19") and "conv5_4" in runs.metrics["feature_network"]
    import json
    cfg = json.loads((study["root"] / "models_vgg" / "sosr" / "seed0" / "sosr" / "config.json").read_text())
    assert cfg["feature"]["vgg_weights"] == "random" and cfg["feature"]["weight"] == 1.0


# ---------------------------------------------------------------------------------------------
# rdsr (beyond the paper): its teachers and its ablation


def _stage_folder(stage: str, key: str) -> str:
    """The folder ``-p key=...`` that dvc.yaml's stage passes to its notebook."""
    import re

    import yaml

    dvc = yaml.safe_load((Path(__file__).resolve().parents[1] / "dvc.yaml").read_text())["stages"][stage]
    cmd = (dvc.get("do") or dvc)["cmd"]
    return re.search(rf"-p {key}=(\S+)", cmd).group(1)


def test_rdsr_teachers_are_not_the_recognizers_that_score_it(default_params):
    """The evaluator's TSN folders (evaluate@: recognizers_dir, recognition.seeds) and rdsr's teacher
    folders (finetune_sr@rdsr and ablate_rdsr: feature_dir, recognition.feature_seed), resolved from
    the default params and dvc.yaml, are other folders."""
    from arsr.paths import resolve
    from arsr.study.recognizers import recognizer_dir  # where stage_recognizers loads the scoring TSN from

    params = validate(default_params, ["sr", "recognition", "ablation"])
    sr, rec = params["sr"], params["recognition"]
    assert "rdsr" in sr["methods"] and sr["finetune"]["rdsr"] == "rrdb_psnr"
    scoring = {resolve(recognizer_dir(_stage_folder("evaluate", "recognizers_dir"), seed, name))
               for seed in rec["seeds"] for name in ("tsn_rgb", "tsn_flow")}
    for stage in ("finetune_sr", "ablate_rdsr"):
        feature_dir = _stage_folder(stage, "feature_dir")
        phases = with_teachers(method_phases("rdsr", method_overrides(sr, "rdsr", 0)), feature_dir, rec["feature_seed"])
        task = phases[-1].config["task"]
        assert task["spatial_weight"] > 0 and task["temporal_weight"] > 0
        teachers = {resolve(task["spatial_teacher"]), resolve(task["temporal_teacher"])}
        assert teachers == {resolve(recognizer_dir(feature_dir, rec["feature_seed"], n))
                            for n in ("tsn_rgb", "tsn_flow")}
        assert not teachers & scoring, (teachers, scoring)
        assert resolve(task["spatial_teacher"]).name == "tsn_rgb"
        assert resolve(task["temporal_teacher"]).name == "tsn_flow"
    # the ablation's spatial variant distils the same spatial teacher, its pixel variant none
    spatial = with_teachers(variant_phases("rdsr", "spatial", sr), _stage_folder("ablate_rdsr", "feature_dir"),
                            rec["feature_seed"])[-1].config["task"]
    assert resolve(spatial["spatial_teacher"]) in teachers and spatial["temporal_teacher"] is None
    pixel = with_teachers(variant_phases("rdsr", "pixel", sr), "x", 1)[-1].config["task"]
    assert pixel["spatial_teacher"] is None and pixel["temporal_teacher"] is None
    assert params["ablation"]["rdsr"] == ["pixel", "spatial"]
    # the schema refuses a scoring seed for the teachers (rdsr would distil the evaluator)
    same = {**default_params, "recognition": {**default_params["recognition"], "feature_seed": rec["seeds"][-1]}}
    with pytest.raises(ValueError, match="feature_seed"):
        validate(same, ["recognition"])


def test_rdsr_variants_change_only_the_task_terms(study_sr):
    rdsr = method_phases("rdsr", method_overrides(study_sr, "rdsr", 0))[-1].config
    assert rdsr["iterations"] == 100 and rdsr["data"]["batch_size"] == 2
    for name, v in VARIANTS["rdsr"].items():
        phases = variant_phases("rdsr", name, study_sr, sr_models_dir="data/models/sr")
        assert [p.name for p in phases] == ["psnr", "task"]
        cfg = phases[-1].config
        assert (cfg["task"]["spatial_weight"] > 0) == v.label["spatial_task"]
        assert (cfg["task"]["temporal_weight"] > 0) == v.label["temporal_task"]
        assert {k: cfg[k] for k in ("pixel", "optimizer", "iterations")} == {k: rdsr[k] for k in ("pixel", "optimizer",
                                                                                                   "iterations")}
        assert cfg["data"]["batch_size"] == 2 and cfg["data"]["clip"] in (0, 6)  # 0: the flow teacher's 5 + 1
        if v.base:
            assert phases[0].config["iterations"] == 0 and phases[0].config["init_from"].endswith(
                "rrdb_psnr/seed0/psnr/model.pt")


def test_rdsr_trains_against_the_feature_seed_teachers_and_its_ablation_scores_fusion(study, sosr_tosr):
    sr = {**TINY_SR, "rdsr": {"data": {"hr_patch": 32}}, "finetune": {**TINY_SR["finetune"], "rdsr": "rrdb_psnr"}}
    models = sosr_tosr["models"]
    with pytest.raises(ValueError, match="feature_seed"):
        train_sr_seeds("rdsr", sr, [0], study["store"].root, models / "rdsr_none", progress=False)
    runs = train_sr_seeds("rdsr", sr, [0], study["store"].root, models / "rdsr",
                          recognizers_dir=study["feature_net"], feature_seed=1, progress=False)
    teachers = {"spatial": str(study["feature_net"] / "seed1" / "tsn_rgb"),
                "temporal": str(study["feature_net"] / "seed1" / "tsn_flow")}
    assert runs.metrics["task_teachers"] == teachers
    assert runs.metrics["phases"][0]["iterations"] == 0  # the psnr phase: a copy of the trained rrdb_psnr
    task = runs.log[runs.log["phase"] == "task"]
    assert len(task) == 2 and task[["pixel", "spatial", "temporal"]].notna().all().all()
    assert (task[["spatial", "temporal"]] > 0).all().all()
    assert set(runs.metrics["final_losses"]["task"]) >= {"loss", "pixel", "spatial", "temporal"}
    assert isinstance(load_sr_method(models, "rdsr", 0, device="cpu"), ImageMethod)
    # the ablation's pixel row: no teacher, same clips; scored by both TSN streams, their fusion kept
    abl = train_variant("rdsr", "pixel", sr, [0], study["store"].root, study["root"] / "ablation",
                        recognizers_dir=study["feature_net"], feature_seed=1, sr_models_dir=models, progress=False)
    assert abl.metrics["task_teachers"] is None and abl.metrics["spatial_task"] is False
    rows = evaluate_variant("rdsr", "pixel", EVALUATE, [0], PREPARE, study["store"].root, study["recognizers"],
                            study["root"] / "ablation", study["root"] / "eval", recognizer_seeds=[2], progress=False)
    assert list(rows.columns) == COLUMNS and len(rows) == 1 and rows.loc[0, "stream"] == STREAM["rdsr"] == "fusion"
    videos = rows.attrs["per_video"]
    assert set(videos["stream"]) == {"fusion"} and len(videos) == 6 and set(videos["recognizer_seed"]) == {2}
    assert 100 * videos["correct"].mean() == pytest.approx(rows.loc[0, "top1"])


def test_colour_shift_metrics_worst_channel_and_seed_of_the_mean_absolute_shift():
    """Per seed the largest channel of the mean |shift| per video; the headline is the worst seed.
    Seed 1's signed means are near 0 (its videos shift both ways) while its mean |shift| is 1.10."""
    shifts_abs = {0: [0.4, 0.9, 0.2], 1: [1.1, 0.3, 0.5]}
    shifts = {0: [0.4, -0.9, 0.2], 1: [0.05, -0.1, 0.0]}
    out = colour_shift_metrics(shifts_abs, shifts)
    assert out == {"max_mean_abs_per_video": 1.1, "per_seed": {"0": 0.9, "1": 1.1},
                   "abs_rgb_per_seed": {"0": [0.4, 0.9, 0.2], "1": [1.1, 0.3, 0.5]},
                   "signed_rgb_per_seed": {"0": [0.4, -0.9, 0.2], "1": [0.05, -0.1, 0.0]}}
    table = pd.DataFrame([{"method": "srgan", "seed": s, "recognizer": "tsn", "recognizer_seed": 0, "stream": "fusion",
                           "top1": 50.0, "top5": 90.0, "n_videos": 6, "psnr": 25.0, "ssim": 0.8}
                          for s in (0, 1)])[TABLE_COLUMNS]
    runs = EvalRuns("srgan", table, pd.DataFrame(columns=PER_CLASS_COLUMNS), None, 1.0,
                    channel_shift_abs=shifts_abs, channel_shift=shifts)
    assert eval_metrics(runs)["colour_shift"] == out
    assert "colour_shift" not in eval_metrics(EvalRuns("srgan", table, runs.per_class, None, 1.0))


def test_eval_metrics_keep_each_sr_seeds_psnr():
    """The PSNR target is per SR seed, and an experiment keeps only its metrics: both seeds' PSNR
    are there beside their mean (HR's infinite PSNR is null)."""
    rows = [{"method": "vdsr", "seed": s, "recognizer": "tsn", "recognizer_seed": k, "stream": "fusion", "top1": 50.0,
             "top5": 90.0, "n_videos": 6, "psnr": p, "ssim": 0.8} for s, p in ((0, 30.0), (2, 31.5)) for k in (0, 1)]
    table = pd.DataFrame(rows)[TABLE_COLUMNS]
    metrics = eval_metrics(EvalRuns("vdsr", table, pd.DataFrame(columns=PER_CLASS_COLUMNS), None, 1.0))
    assert metrics["psnr"] == pytest.approx(30.75) and metrics["psnr_per_seed"] == {"0": 30.0, "2": 31.5}
    hr = eval_metrics(EvalRuns("hr", table.assign(psnr=np.inf), table.iloc[:0], None, 1.0))
    assert hr["psnr"] is None and hr["psnr_per_seed"] == {"0": None, "2": None}


def test_st_resnet_trains_and_scores_with_the_first_seeds_only(study):
    from arsr.params_file import ParamError
    from arsr.study.evaluation import seeded_recognizers
    from arsr.study.recognizers import trained_by_seed

    assert trained_by_seed([0, 2, 5], st_resnet_seeds=1) == {
        0: ["tsn_rgb", "tsn_flow", "st_resnet"], 2: ["tsn_rgb", "tsn_flow"], 5: ["tsn_rgb", "tsn_flow"]}
    assert trained_by_seed([0, 2]) == {k: ["tsn_rgb", "tsn_flow", "st_resnet"] for k in (0, 2)}
    with pytest.raises(ParamError, match="st_resnet_seeds = 3: from 1 to the number of recognition.seeds"):
        trained_by_seed([0, 2], st_resnet_seeds=3)
    _, names = seeded_recognizers(study["recognizers"], REC_SEEDS, ("tsn", "st_resnet"), st_resnet_seeds=1)
    assert sorted(names.values()) == [("st_resnet", 0), ("tsn", 0), ("tsn", 2)]
