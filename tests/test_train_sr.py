"""Patch sampler, SR trainer and method presets on tiny hand-made stores and networks (CPU)."""
from __future__ import annotations

import csv
import itertools
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

from arsr.checkpoint import CheckpointError
from arsr.data.fingerprint import write_fingerprint
from arsr.data.store import PreparedDataset, video_key, write_video_folder
from arsr.ops import imresize, warp
from arsr.train.patches import PatchSampler, PatchSpec, augment, compose_flows
from arsr.train.presets import METHODS, PRESETS, method_phases, train_method
from arsr.train.networks import load_generator
from arsr.train.sr_trainer import ConfigError, lr_at, resolve_config, train_sr

SCALE = 4


@pytest.fixture(autouse=True)
def one_thread():
    """Tiny nets gain nothing from threads, and on shared cores idle OpenMP threads spin."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


# ---------------------------------------------------------------------------------------------
# Tiny stores written by hand (the store layout of arsr.data.store)

def write_store(root: Path, videos: list[dict]) -> PreparedDataset:
    """videos: dicts with video_id, split, hr (T, H, W, 3) uint8, flow (T-1, H, W, 2), and
    optionally lr (default: MATLAB-bicubic x1/4 of hr)."""
    rows = []
    for v in videos:
        key = video_key(v["video_id"])
        folder = root / "videos" / key
        hr = v["hr"]
        lr = v.get("lr")
        if lr is None:
            lr = np.stack([imresize(f, 1 / SCALE) for f in hr])
        write_video_folder(folder, hr=hr, lr=lr, flow=v["flow"].astype(np.float16))
        t, h, w, _ = hr.shape
        rows.append({"video_id": v["video_id"], "key": key, "class_name": "" if v["split"] == "unlabelled" else "a",
                     "label": -1 if v["split"] == "unlabelled" else 0, "split": v["split"],
                     "n_frames": t, "height": h, "width": w, "lr_height": lr.shape[1],
                     "lr_width": lr.shape[2], "source": "test"})
    pd.DataFrame(rows).to_csv(root / "index.csv", index=False)
    pd.DataFrame({"label": [0], "class_name": ["a"]}).to_csv(root / "classes.csv", index=False)
    write_fingerprint(root, "hand-written")  # as prepare does, last
    return PreparedDataset(root)


def block_video(rng, video_id, split, t=5, h=48, w=64, flow=(2.0, 0.0)):
    """HR made of 4x4 constant blocks, so LR = the 4x4 block means exactly (aligned by
    construction); uniform flow."""
    lr = rng.integers(0, 256, size=(t, h // SCALE, w // SCALE, 3), dtype=np.uint8)
    hr = lr.repeat(SCALE, axis=1).repeat(SCALE, axis=2)
    fl = np.broadcast_to(np.asarray(flow, np.float32), (t - 1, h, w, 2)).copy()
    return {"video_id": video_id, "split": split, "hr": hr, "lr": lr, "flow": fl}


def shift_video(rng, video_id, d=(1, 2), t=6, h=48, w=48):
    """Frames of a smooth image moving by d = (dx, dy) HR pixels per frame: flow t->t+1 = d."""
    dx, dy = d
    pad = 4 * t
    big = rng.random((h + 2 * pad, w + 2 * pad, 3))
    big = F.avg_pool2d(torch.from_numpy(big).permute(2, 0, 1)[None], 5, 1, 2)[0].permute(1, 2, 0).numpy()
    big = (big * 255).round().astype(np.uint8)
    # frame_t(p) = big(p + pad - t*d), so frame_{t+1}(p + d) = frame_t(p)
    hr = np.stack([big[pad - k * dy: pad - k * dy + h, pad - k * dx: pad - k * dx + w] for k in range(t)])
    fl = np.broadcast_to(np.asarray(d, np.float32), (t - 1, h, w, 2)).copy()
    return {"video_id": video_id, "split": "unlabelled", "hr": hr, "flow": fl}


@pytest.fixture(scope="module")
def block_store(tmp_path_factory) -> PreparedDataset:
    rng = np.random.default_rng(0)
    return write_store(tmp_path_factory.mktemp("blocks"),
                       [block_video(rng, "u/clip_a", "unlabelled"),
                        block_video(rng, "u/clip_b", "unlabelled", t=7),
                        block_video(rng, "c/train_c", "train", t=4)])


@pytest.fixture(scope="module")
def shift_store(tmp_path_factory) -> PreparedDataset:
    return write_store(tmp_path_factory.mktemp("shift"), [shift_video(np.random.default_rng(1), "s/clip")])


def avg_pool_uint8(hr: torch.Tensor) -> torch.Tensor:
    return F.avg_pool2d(hr, SCALE)


# ---------------------------------------------------------------------------------------------
# Patch sampler

def test_sampler_shapes_for_image_video_and_pair_batches(block_store):
    img = PatchSampler(block_store, hr_patch=32, batch_size=3).batch(1)
    assert set(img) == {"lr", "hr", "flow"}
    assert img["lr"].shape == (3, 3, 8, 8) and img["hr"].shape == (3, 3, 32, 32)
    assert img["flow"].shape == (3, 2, 32, 32)
    assert all(v.dtype == torch.float32 for v in img.values())
    assert 0 <= img["hr"].min() and img["hr"].max() <= 1

    vid = PatchSampler(block_store, hr_patch=16, batch_size=2, num_frames=7, gap=2).batch(1)
    assert set(vid) == {"lr", "hr", "flow", "lr_next", "hr_next", "flow_pair"}
    assert vid["lr"].shape == vid["lr_next"].shape == (2, 7, 3, 4, 4)
    assert vid["hr_next"].shape == (2, 3, 16, 16) and vid["flow_pair"].shape == (2, 2, 16, 16)


@pytest.mark.parametrize("num_frames", [1, 3])
def test_lr_and_hr_patches_stay_aligned_under_augmentation(block_store, num_frames):
    sampler = PatchSampler(block_store, splits=["unlabelled", "train"], hr_patch=24,
                           batch_size=16, num_frames=num_frames)
    for it in (1, 2):
        b = sampler.batch(it)
        centre = b["lr"] if num_frames == 1 else b["lr"][:, num_frames // 2]
        torch.testing.assert_close(avg_pool_uint8(b["hr"]), centre, atol=1e-6, rtol=0)


def test_window_is_clamped_at_the_clip_ends(block_store):
    sampler = PatchSampler(block_store, hr_patch=16, batch_size=1, num_frames=7, augment=False)
    video = block_store.video("u/clip_a")  # 5 frames
    row = int(np.flatnonzero(sampler.rows["video_id"] == "u/clip_a")[0])
    first = sampler.load(PatchSpec(row, 0, 1, 2))
    want = video.lr[[0, 0, 0, 0, 1, 2, 3], 1:5, 2:6]
    np.testing.assert_array_equal(first["lr"], want)
    last = sampler.load(PatchSpec(row, 3, 0, 0))  # last frame with a flow t -> t+1
    np.testing.assert_array_equal(last["lr"], video.lr[[0, 1, 2, 3, 4, 4, 4], 0:4, 0:4])
    np.testing.assert_array_equal(last["hr"], video.hr[3, 0:16, 0:16])


def test_augment_turns_flow_vectors_with_the_image():
    img = np.arange(2 * 3 * 1).reshape(2, 3, 1)
    flow = np.broadcast_to(np.array([2.0, 0.0], np.float32), (2, 3, 2))
    hf = augment({"hr": img, "flow": flow}, True, False, False)
    np.testing.assert_array_equal(hf["hr"], img[:, ::-1])
    assert np.all(hf["flow"] == [-2, 0])
    vf = augment({"hr": img, "flow": flow}, False, True, False)
    np.testing.assert_array_equal(vf["hr"], img[::-1])
    assert np.all(vf["flow"] == [2, 0])
    tr = augment({"hr": img, "flow": flow}, False, False, True)
    np.testing.assert_array_equal(tr["hr"], img.transpose(1, 0, 2))
    assert tr["flow"].shape == (3, 2, 2) and np.all(tr["flow"] == [0, 2])
    down = np.broadcast_to(np.array([0.0, 3.0], np.float32), (2, 2, 2))
    assert np.all(augment({"flow_pair": down}, False, True, False)["flow_pair"] == [0, -3])
    # a window (t, h, w, c) turns on its spatial axes only
    win = np.arange(2 * 2 * 3 * 1).reshape(2, 2, 3, 1)
    np.testing.assert_array_equal(augment({"lr": win}, True, False, True)["lr"],
                                  win[:, :, ::-1].transpose(0, 2, 1, 3))


def test_augmented_pairs_keep_image_and_flow_consistent(shift_store):
    sampler = PatchSampler(shift_store, hr_patch=32, batch_size=1, gap=2)
    base = sampler.specs(1)[0]
    for hflip, vflip, transpose in itertools.product((False, True), repeat=3):
        spec = PatchSpec(base.video, 1, 1, 2, hflip, vflip, transpose)
        b = sampler.collate([sampler.load(spec)])
        u, v = 2.0, 4.0  # d = (1, 2) per frame, two frames
        u, v = (-u if hflip else u), (-v if vflip else v)
        if transpose:
            u, v = v, u
        assert torch.allclose(b["flow_pair"][0, 0], torch.tensor(u))
        assert torch.allclose(b["flow_pair"][0, 1], torch.tensor(v))
        back = warp(b["hr_next"], b["flow_pair"])
        inner = (slice(None), slice(None), slice(5, -5), slice(5, -5))
        torch.testing.assert_close(back[inner], b["hr"][inner], atol=1e-5, rtol=0)


def test_compose_flows_adds_uniform_flows_and_samples_where_the_first_points():
    h, w = 6, 8
    f1 = np.broadcast_to(np.array([1.5, -0.5], np.float32), (h, w, 2))
    f2 = np.broadcast_to(np.array([0.25, 2.0], np.float32), (h, w, 2))
    out = compose_flows(np.stack([f1, f2]))
    np.testing.assert_allclose(out, np.broadcast_to([1.75, 1.5], (h, w, 2)), atol=1e-6)
    # second flow varying along x: F2(x, y) = (0, 0.1 x) -> F(p) = (1, 0.1 (x + 1)) on a crop
    f1 = np.broadcast_to(np.array([1.0, 0.0], np.float32), (h, w, 2))
    f2 = np.zeros((h, w, 2), np.float32)
    f2[..., 1] = 0.1 * np.arange(w)[None, :]
    out = compose_flows(np.stack([f1, f2]), y0=1, x0=2, h=3, w=4)
    want_v = 0.1 * (np.arange(2, 6) + 1)
    np.testing.assert_allclose(out[..., 0], 1.0, atol=1e-6)
    np.testing.assert_allclose(out[..., 1], np.broadcast_to(want_v, (3, 4)), atol=1e-5)


def test_top_k_picks_the_high_motion_patches(tmp_path):
    rng = np.random.default_rng(2)
    v = block_video(rng, "m/clip", "unlabelled", t=4, h=96, w=96, flow=(0.0, 0.0))
    v["flow"][:, 8:40, 56:88] = (5.0, 0.0)  # one moving 32x32 region
    store = write_store(tmp_path, [v])

    def motion(batch):
        return batch["flow"].norm(dim=1).mean(dim=(1, 2))

    top = PatchSampler(store, hr_patch=32, batch_size=12, motion_top_k=2, motion_candidates=60)
    plain = PatchSampler(store, hr_patch=32, batch_size=12)
    m_top = torch.cat([motion(top.batch(i)) for i in (1, 2)])
    m_plain = torch.cat([motion(plain.batch(i)) for i in (1, 2)])
    assert m_top.min() > 2.0, m_top        # every picked patch overlaps the region by > 40 %
    assert m_top.mean() > 3 * m_plain.mean()


def test_batches_depend_only_on_seed_iteration_and_rank(block_store):
    def sampler(**kw):
        return PatchSampler(block_store, hr_patch=16, batch_size=4, num_frames=3, gap=1, **kw)

    a, b = sampler().batch(7), sampler().batch(7)
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert not torch.equal(a["hr"], sampler().batch(8)["hr"])
    assert not torch.equal(a["hr"], sampler(rank=1).batch(7)["hr"])
    assert not torch.equal(a["hr"], sampler(seed=1).batch(7)["hr"])
    s = sampler()
    for it, batch in s.iterate(range(3, 7), prefetch=2):
        assert torch.equal(batch["lr"], s.batch(it)["lr"])


def test_sampler_errors_name_the_setting(block_store):
    with pytest.raises(ValueError, match="data.splits.*it has"):
        PatchSampler(block_store, splits=["test"])
    with pytest.raises(ValueError, match="hr_patch = 30 must be a multiple of scale"):
        PatchSampler(block_store, hr_patch=30)
    with pytest.raises(ValueError, match="smaller than data.hr_patch = 128"):
        PatchSampler(block_store, hr_patch=128)
    with pytest.raises(ValueError, match="motion_top_k"):
        PatchSampler(block_store, hr_patch=16, motion_top_k=5, motion_candidates=3)


# ---------------------------------------------------------------------------------------------
# Trainer

class TinyFeatures(nn.Module):
    """A frozen two-conv feature network standing in for VGG19 / the spatial stream."""

    def __init__(self):
        super().__init__()
        torch.manual_seed(123)
        self.net = nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.ReLU(), nn.Conv2d(4, 4, 3, stride=2))

    def forward(self, x):
        return self.net(x)


TINY_ARCH = {
    "vdsr": {"num_feat": 8, "num_conv": 3},
    "rcan": {"num_feat": 8, "num_group": 1, "num_block": 1, "squeeze_factor": 4},
    "srresnet": {"num_feat": 8, "num_block": 1},
    "rrdbnet": {"num_feat": 8, "num_block": 1, "num_grow_ch": 4},
    "spmc": {"num_feat": 4, "me_feat": 4},
    "duf": {"num_feat": 8, "num_block": 1, "num_grow_ch": 4, "num_mid": 16, "num_filter_hidden": 16},
}


def tiny(arch: str, **extra) -> dict:
    """Overrides that make any phase tiny: a few steps on one fixed batch, small nets."""
    cfg = {"iterations": 25, "arch_kwargs": TINY_ARCH[arch], "log_every": 1,
           "data": {"hr_patch": 32, "batch_size": 2, "fixed_batch": True, "prefetch": 0},
           "optimizer": {"lr": 3e-3}, "scheduler": {"milestones": []},
           "gan": {"disc": {"num_feat": 4}}}
    return _merge(cfg, extra)


def _merge(a: dict, b: dict) -> dict:
    from arsr.params import merged
    return merged(a, b)


def read_log(path: Path) -> list[dict]:
    with path.open(newline="") as f:
        return list(csv.DictReader(f))


@pytest.mark.parametrize("method", METHODS)
def test_each_preset_trains_its_phases_and_lowers_the_loss(method, block_store, tmp_path):
    arch = PRESETS[method][0].config["arch"]
    overrides = tiny(arch)
    if arch == "duf":  # keep num_layer of the preset
        overrides["arch_kwargs"] = {**PRESETS[method][0].config["arch_kwargs"], **TINY_ARCH["duf"]}
    final = train_method(method, tmp_path, overrides, feature_extractor=TinyFeatures(),
                         dataset=block_store, progress=False)
    assert final == tmp_path / PRESETS[method][-1].name / "model.pt"
    state = torch.load(final, weights_only=True)
    assert all(isinstance(v, torch.Tensor) for v in state.values())
    for phase in PRESETS[method]:
        rows = read_log(tmp_path / phase.name / "log.csv")
        assert [int(r["iteration"]) for r in rows] == list(range(1, 26))
        # the adversarial term may rise as D learns; everything else must fall on a fixed batch
        content = [float(r["total"]) - float(r.get("gan") or 0) for r in rows]
        assert content[-1] < 0.95 * content[0], (phase.name, content[0], content[-1])
    if len(PRESETS[method]) > 1:  # the second phase started from the first one's weights
        cfg = method_phases(method, overrides, tmp_path)[1].config
        assert cfg["init_from"] == str(tmp_path / PRESETS[method][0].name / "model.pt")


def test_colour_term_alone_is_logged_and_pulls_the_channel_means_together(block_store, tmp_path):
    cfg = _merge(tiny("vdsr"), {"arch": "vdsr", "pixel": {"type": "none"}, "colour": {"weight": 1.0}})
    train_sr(cfg, tmp_path, dataset=block_store, progress=False)
    rows = read_log(tmp_path / "log.csv")
    assert "colour" in rows[0] and "pixel" not in rows[0]
    assert float(rows[-1]["colour"]) < 0.5 * float(rows[0]["colour"])
    assert float(rows[-1]["total"]) == pytest.approx(float(rows[-1]["colour"]))
    with pytest.raises(ConfigError, match=r"colour.weight = -1.*>= 0"):
        resolve_config({"arch": "vdsr", "colour": {"weight": -1}})


def _resume_config(kind: str) -> dict:
    if kind == "gan":  # ESRGAN-like: L1 + feature + RaGAN, D and two optimizers to restore
        base = {"arch": "rrdbnet", "pixel": {"type": "wmse", "weight": 1.0},
                "feature": {"weight": 1.0}, "gan": {"type": "ragan", "weight": 0.005}}
        extra = {"grad_clip": 1.0}
    else:  # ToSR-like: DUF windows, frame pairs with a composed flow, BN statistics
        base = {"arch": "duf", "pixel": {"type": "none", "weight": 0.0},
                "warp": {"weight": 1.0, "gap": 2}}
        extra = {"data": {"hr_patch": 16, "motion_top_k": 2, "motion_candidates": 4}}
    cfg = _merge(base, tiny(base["arch"], **extra))
    cfg["iterations"] = 6
    cfg["checkpoint_every"] = 2
    cfg["scheduler"] = {"milestones": [4], "gamma": 0.5}
    cfg["data"].update(fixed_batch=False, prefetch=1)
    return cfg


@pytest.mark.parametrize("kind", ["gan", "warp"])
def test_resume_after_a_kill_gives_bitwise_the_same_weights(kind, block_store, tmp_path):
    cfg = _resume_config(kind)
    kw = dict(dataset=block_store, progress=False, feature_extractor=TinyFeatures())
    whole = train_sr(cfg, tmp_path / "whole", **kw)
    assert whole.finished and whole.iteration == 6

    part = train_sr(cfg, tmp_path / "part", stop_after=3, **kw)
    assert not part.finished and part.model_path is None and part.iteration == 3
    assert not (tmp_path / "part" / "model.pt").exists()
    # as if killed after logging iteration 4 but before its checkpoint
    log_path = tmp_path / "part" / "log.csv"
    with log_path.open("a") as f:
        f.write("4" + "," * (len(read_log(log_path)[0]) - 1) + "\n")
    resumed = train_sr(cfg, tmp_path / "part", **kw)
    assert resumed.finished and resumed.resumed_from == 3

    a = torch.load(tmp_path / "whole" / "model.pt", weights_only=True)
    b = torch.load(tmp_path / "part" / "model.pt", weights_only=True)
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    la = torch.load(tmp_path / "whole" / "last.pt", weights_only=True)
    lb = torch.load(tmp_path / "part" / "last.pt", weights_only=True)
    if kind == "gan":
        assert all(torch.equal(la["disc"][k], lb["disc"][k]) for k in la["disc"])
    rows = read_log(log_path)
    assert [int(r["iteration"]) for r in rows] == [1, 2, 3, 4, 5, 6]
    whole_rows = read_log(tmp_path / "whole" / "log.csv")
    assert [r["total"] for r in rows] == [r["total"] for r in whole_rows]
    assert [float(r["lr"]) for r in rows] == [3e-3] * 4 + [1.5e-3] * 2
    # a finished phase is found finished
    again = train_sr(cfg, tmp_path / "part", **kw)
    assert again.finished and again.iteration == 6


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_a_signal_checkpoints_its_iteration_and_the_resume_is_bitwise(signum, block_store, tmp_path, monkeypatch):
    """Ctrl-C / SIGTERM mid-iteration 4 with no checkpoint due before 1000: last.pt of iteration 4,
    Interrupted saying so, and the resumed run reaches the uninterrupted run's weights."""
    import arsr.train.sr_trainer as trainer
    from arsr.interrupt import Interrupted

    cfg = {**_resume_config("gan"), "checkpoint_every": 1000}
    kw = dict(dataset=block_store, progress=False, feature_extractor=TinyFeatures())
    whole = train_sr(cfg, tmp_path / "whole", **kw)

    real = trainer._set_learning_rates

    def signal_in_iteration_4(cfg, opt_g, opt_d, done):
        if done == 3:
            signal.raise_signal(signum)  # before this iteration's update: it must still finish
        return real(cfg, opt_g, opt_d, done)

    monkeypatch.setattr(trainer, "_set_learning_rates", signal_in_iteration_4)
    handlers = signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM)
    with pytest.raises(Interrupted) as info:
        train_sr(cfg, tmp_path / "part", **kw)
    assert str(info.value) == f"stopped at iteration 4 of 6 ({tmp_path / 'part' / 'last.pt'} written)"
    assert info.value.exit_code == 128 + signum
    assert torch.load(tmp_path / "part" / "last.pt", weights_only=True)["iteration"] == 4
    assert not (tmp_path / "part" / "model.pt").exists()
    assert (signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM)) == handlers  # given back

    monkeypatch.setattr(trainer, "_set_learning_rates", real)
    resumed = train_sr(cfg, tmp_path / "part", **kw)
    assert resumed.finished and resumed.resumed_from == 4 and whole.finished
    a = torch.load(tmp_path / "whole" / "model.pt", weights_only=True)
    b = torch.load(tmp_path / "part" / "model.pt", weights_only=True)
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    la = torch.load(tmp_path / "whole" / "last.pt", weights_only=True)
    lb = torch.load(tmp_path / "part" / "last.pt", weights_only=True)
    assert all(torch.equal(la["disc"][k], lb["disc"][k]) for k in la["disc"])
    whole_rows, rows = read_log(tmp_path / "whole" / "log.csv"), read_log(tmp_path / "part" / "log.csv")
    assert [r["total"] for r in rows] == [r["total"] for r in whole_rows]


def test_resume_under_another_model_config_is_refused(block_store, tmp_path):
    cfg = _merge({"arch": "srresnet", "pixel": {"type": "mse"}}, tiny("srresnet", iterations=2))
    train_sr(cfg, tmp_path, dataset=block_store, progress=False, stop_after=1)
    wider = _merge(cfg, {"arch_kwargs": {"num_feat": 16}})
    with pytest.raises(
        CheckpointError, match=r"last\.pt was written by a run with other model settings \(arch_kwargs: "
    ):
        train_sr(wider, tmp_path, dataset=block_store, progress=False)
    # a change that leaves the model alone resumes (here: more iterations)
    longer = train_sr(_merge(cfg, {"iterations": 3}), tmp_path, dataset=block_store, progress=False)
    assert longer.finished and longer.iteration == 3


def test_init_from_a_mismatching_file_names_it(block_store, tmp_path):
    cfg = _merge({"arch": "srresnet", "pixel": {"type": "mse"}}, tiny("srresnet", iterations=2))
    bad = tmp_path / "other_arch.pt"
    torch.save({"conv_first.weight": torch.zeros(3, 3, 3, 3)}, bad)
    with pytest.raises(ValueError, match="other_arch.pt does not fit MSRResNet"):
        train_sr(_merge(cfg, {"init_from": str(bad)}), tmp_path / "a", dataset=block_store, progress=False)
    with pytest.raises(FileNotFoundError, match="init_from = .*missing.pt"):
        train_sr(_merge(cfg, {"init_from": str(tmp_path / "missing.pt")}), tmp_path / "b",
                 dataset=block_store, progress=False)


def test_zero_iterations_copies_init_from(block_store, tmp_path):
    cfg = _merge({"arch": "vdsr", "pixel": {"type": "mse"}}, tiny("vdsr", iterations=2))
    first = train_sr(cfg, tmp_path / "first", dataset=block_store, progress=False)
    copy = train_sr(_merge(cfg, {"iterations": 0, "init_from": str(first.model_path)}),
                    tmp_path / "copy", dataset=block_store, progress=False)
    a = torch.load(first.model_path, weights_only=True)
    b = torch.load(copy.model_path, weights_only=True)
    assert all(torch.equal(a[k], b[k]) for k in a)
    # the saved config.json rebuilds the network for inference
    config = json.loads((tmp_path / "copy" / "config.json").read_text())
    model = load_generator(copy.model_path, config)
    assert not model.training and model(torch.rand(1, 3, 4, 5)).shape == (1, 3, 16, 20)


def test_config_errors_name_the_key_and_the_choices():
    with pytest.raises(ConfigError, match="unknown key.*pixle.*allowed keys: amp, arch"):
        resolve_config({"arch": "vdsr", "pixle": {}})
    with pytest.raises(ConfigError, match=r"unknown key\(s\) gan.wieght; allowed keys of gan"):
        resolve_config({"arch": "vdsr", "gan": {"wieght": 1}})
    with pytest.raises(ConfigError, match="pixel.type = 'l3'.*wmse"):
        resolve_config({"arch": "vdsr", "pixel": {"type": "l3"}})
    with pytest.raises(ConfigError, match="arch = 'edsr'.*rrdbnet"):
        resolve_config({"arch": "edsr"})
    with pytest.raises(ConfigError, match="every loss term is off"):
        resolve_config({"arch": "vdsr", "pixel": {"type": "none"}})
    with pytest.raises(ValueError, match="unknown SR method 'edsr'.*sosr.*tosr"):
        method_phases("edsr")
    with pytest.raises(ConfigError, match="unknown phase.*gan.*its phases: psnr, sosr"):
        method_phases("sosr", {"phases": {"gan": {}}})
    with pytest.raises(ConfigError, match="method 'sosr', phase 'psnr'.*unknown key.*data.hr_size"):
        method_phases("sosr", {"data": {"hr_size": 3}})
    with pytest.raises(ConfigError, match="phases.<name>.init_from"):
        method_phases("tosr", {"init_from": "x.pt"})


def test_config_names_the_architectures_and_norms_the_trainer_has():
    """arsr.train.config checks configs without torch, so it names the trainable architectures
    and the warp loss's norms itself: they must stay those of arsr.archs and arsr.losses."""
    from arsr import losses
    from arsr.archs import ARCHS
    from arsr.train.config import TRAINABLE_ARCHS, WARP_NORMS

    assert list(TRAINABLE_ARCHS) == [a for a in ARCHS if a not in ("bicubic", "vgg_discriminator")]
    assert WARP_NORMS == losses.NORMS


def test_feature_loss_without_a_network_is_an_error(block_store, tmp_path):
    cfg = _merge({"arch": "srresnet", "feature": {"weight": 1.0}}, tiny("srresnet", iterations=1))
    with pytest.raises(ConfigError, match="feature.vgg_weights.*feature_extractor="):
        train_sr(cfg, tmp_path, dataset=block_store, progress=False)


def test_presets_follow_the_paper():
    sosr = dict(method_phases("sosr"))["sosr"]
    assert sosr["pixel"]["type"] == "wmse" and sosr["pixel"]["weight"] == 1.0
    assert not sosr["pixel"]["normalize"] and sosr["pixel"]["floor"] == 0.0
    assert sosr["feature"]["weight"] == 1.0 and sosr["feature"]["layer"] == "conv5_4"
    assert sosr["gan"] == {**sosr["gan"], "type": "ragan", "weight": 0.005}
    assert sosr["data"]["hr_patch"] == 128 and sosr["data"]["batch_size"] == 16
    assert sosr["scheduler"]["milestones"] == [50_000, 100_000, 200_000, 300_000]
    tosr = dict(method_phases("tosr"))["tosr"]
    assert (tosr["arch"], tosr["arch_kwargs"]["num_layer"]) == ("duf", 16)
    assert {k: tosr["warp"][k] for k in ("weight", "alpha", "beta", "gamma", "norm")} == \
        {"weight": 1.0, "alpha": 1.0, "beta": 0.8, "gamma": 0.1, "norm": "l2"}
    esrgan = dict(method_phases("esrgan"))["gan"]
    assert (esrgan["pixel"]["type"], esrgan["pixel"]["weight"]) == ("l1", 0.01)
    srgan = dict(method_phases("srgan"))["gan"]
    assert (srgan["gan"]["type"], srgan["gan"]["weight"]) == ("vanilla", 1e-3)
    assert dict(method_phases("duf52"))["sr"]["arch_kwargs"]["num_layer"] == 52
    # per-phase overrides reach one phase only
    ph = dict(method_phases("sosr", {"iterations": 5, "phases": {"psnr": {"iterations": 0}}}))
    assert ph["psnr"]["iterations"] == 0 and ph["sosr"]["iterations"] == 5


def test_lr_schedule_is_multistep():
    assert [lr_at(1.0, [2, 4], 0.5, done) for done in range(6)] == [1, 1, 0.5, 0.5, 0.25, 0.25]


def test_torchrun_two_processes_on_cpu(block_store, tmp_path):
    """Two gloo processes: each draws its own half batch, rank 0 alone writes the files."""
    cfg = _merge({"arch": "srresnet", "pixel": {"type": "mse"}}, tiny("srresnet", iterations=3))
    cfg["data"].update(batch_size=4, fixed_batch=False)
    (tmp_path / "cfg.json").write_text(json.dumps(cfg))
    torchrun = Path(sys.executable).with_name("torchrun")
    if not torchrun.is_file():
        pytest.skip("torchrun not installed beside the Python interpreter")
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.run(
        [str(torchrun), "--standalone", "--nproc_per_node=2", "-m", "arsr.train.sr_trainer",
         "--config", str(tmp_path / "cfg.json"), "--out", str(tmp_path / "out"),
         "--data", str(block_store.root), "--no-progress"],
        capture_output=True, text=True, env=env, timeout=120)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert (tmp_path / "out" / "model.pt").is_file()
    rows = read_log(tmp_path / "out" / "log.csv")
    assert [int(r["iteration"]) for r in rows] == [1, 2, 3]


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
@pytest.mark.parametrize("kind", ["gan", "warp"])
def test_cuda_bf16_training_runs_and_resumes(kind, block_store, tmp_path):
    cfg = _resume_config(kind)
    kw = dict(dataset=block_store, progress=False, feature_extractor=TinyFeatures(), device="cuda")
    train_sr(cfg, tmp_path, stop_after=3, **kw)
    result = train_sr(cfg, tmp_path, **kw)
    assert result.finished and result.resumed_from == 3
    rows = read_log(tmp_path / "log.csv")
    assert [int(r["iteration"]) for r in rows] == list(range(1, 7))
    assert all(np.isfinite(float(r["total"])) for r in rows)
    state = torch.load(result.model_path, weights_only=True)
    assert all(v.device.type == "cpu" for v in state.values())
