"""The synthetic action dataset: determinism, design properties, layout on disk."""
from __future__ import annotations

import json
import math

import cv2
import numpy as np
import pytest

from arsr.data.cues import (
    band_contrast, bicubic_lr, bicubic_transfer, bicubic_up, interior, kept_share, luma,
)
from arsr.data.datasets import list_folder, list_ucf101
from arsr.data.synthetic import (
    ACTION_CLASSES, CLASS_NAMES, SHARP, SyntheticConfig, clip_entry, group_look, layout, render_clip,
    render_unlabelled,
)
from arsr.data.synthetic_files import generate, matches
from arsr.data.video import read_video

TINY = SyntheticConfig(n_classes=10, clips_per_class=2, n_unlabelled=3, frames_min=8,
                       frames_max=8, width=64, height=48)


def _inside(mask: np.ndarray) -> np.ndarray:
    kernel = np.ones((7, 7), np.uint8)
    return np.stack([cv2.erode((m > 0.99).astype(np.uint8), kernel) for m in mask]).astype(bool)


def test_classes():
    assert len(CLASS_NAMES) == 12 == len(set(CLASS_NAMES))
    assert all(n.isidentifier() and n[0].isupper() for n in CLASS_NAMES)
    # every class differs from every other in motion pattern and in texture
    motions = {(c.motion, c.direction) for c in ACTION_CLASSES}
    textures = {(c.texture, c.period, c.orientation, c.detail) for c in ACTION_CLASSES}
    assert len(motions) == len(textures) == 12
    # six twin pairs: same motion kind and coarse texture, one sharp and one soft
    for sharp, soft in zip(ACTION_CLASSES[::2], ACTION_CLASSES[1::2]):
        assert (sharp.motion, sharp.texture, sharp.period, sharp.orientation) == \
            (soft.motion, soft.texture, soft.period, soft.orientation)
        assert sharp.detail == SHARP > soft.detail > 0
    assert SyntheticConfig().class_names == list(CLASS_NAMES)
    assert TINY.class_names == list(CLASS_NAMES[:10])


def test_detail_periods_between_lr_nyquist_and_bicubic_blur():
    """Every wave of every texture detail (orientation jitter +-8 deg, speckle periods +-5%) has
    both image-axis periods above the LR Nyquist period (8 HR px): x4 LR does not alias it; and
    x4 bicubic keeps 25-65% of it as a plane wave, while the coarse waves keep over 85%."""
    for c in ACTION_CLASSES:
        jitter = 0.95 if c.texture == "speckle" else 1.0
        if c.orientation is None or c.texture == "rings":
            worst = c.detail_period * jitter  # some wave lies along an axis
        else:
            off_axis = min(abs(math.remainder(c.orientation + d, 90)) for d in (-8, 8))
            worst = c.detail_period * jitter / math.cos(math.radians(off_axis))
        assert worst > 8.0, c.name
        angle = 45.0 if c.texture == "plaid" else 0.0
        assert 0.25 < bicubic_transfer(c.detail_period, angle) < 0.65, c.name
        assert bicubic_transfer(c.period, angle) > 0.85, c.name


def test_no_look_is_class_specific():
    """A group's look (background, actor colour and size) is the same in every class, so the
    look tells nothing about the class: on colour thumbnails, a clip's nearest neighbour is a
    clip of its group, whatever its class (version 1 drew looks per class and group: 92-100%)."""
    cfg = SyntheticConfig(n_classes=6, clips_per_class=8, clips_per_group=2, n_unlabelled=0,
                          frames_min=3, frames_max=3, width=64, height=48)
    looks = [group_look(g, cfg) for g in range(cfg.n_groups)]
    assert len({round(look["radius"], 6) for look in looks}) == cfg.n_groups
    # the first frame's background (no camera pan yet) of two classes' clips in group 2
    (a, mask_a), (b, mask_b) = (render_clip(k, 2, cfg, return_mask=True) for k in (0, 5))
    other = render_clip(5, 0, cfg)  # group 1
    outside = (mask_a[0] < 0.01) & (mask_b[0] < 0.01)
    same = np.corrcoef(luma(a[0])[outside], luma(b[0])[outside])[0, 1]
    different = np.corrcoef(luma(a[0])[outside], luma(other[0])[outside])[0, 1]
    assert same > 0.9 and different < 0.6, (same, different)

    train = [e for e in layout(cfg) if e.split == "train"]
    thumbs = np.array([cv2.resize(render_clip(e.class_idx, e.clip_idx, cfg)[1], (8, 6),
                                  interpolation=cv2.INTER_AREA).astype(np.float32).ravel()
                       for e in train])
    labels = np.array([e.class_idx for e in train])
    dist = ((thumbs[:, None] - thumbs[None]) ** 2).sum(-1)
    np.fill_diagonal(dist, np.inf)
    accuracy = (labels[dist.argmin(1)] == labels).mean()  # leave-one-out 1-NN, chance 1/6
    assert accuracy < 0.4, accuracy


def test_config_from_dict():
    cfg = SyntheticConfig.from_dict({"n_classes": 10, "width": 64, "height": 48, "fps": 30})
    assert (cfg.n_classes, cfg.width, cfg.height, cfg.fps) == (10, 64, 48, 30.0)
    assert SyntheticConfig.from_dict(cfg.to_dict()) == cfg
    with pytest.raises(ValueError, match=r"unknown key\(s\) colour, n_class; allowed keys: n_classes"):
        SyntheticConfig.from_dict({"n_class": 3, "colour": 1})
    with pytest.raises(ValueError, match="width = 66"):
        SyntheticConfig(width=66)
    with pytest.raises(ValueError, match="n_classes = 13"):
        SyntheticConfig(n_classes=13)
    with pytest.raises(ValueError, match="frames_min/frames_max = 9/8"):
        SyntheticConfig(frames_min=9, frames_max=8)
    with pytest.raises(ValueError, match="seed = 1.5"):
        SyntheticConfig.from_dict({"seed": 1.5})


def test_render_is_deterministic():
    a = render_clip(3, 1, TINY)
    assert a.dtype == np.uint8 and a.shape == (8, 48, 64, 3)
    np.testing.assert_array_equal(a, render_clip(3, 1, TINY))
    other_seed = SyntheticConfig(**{**TINY.to_dict(), "seed": 1})
    assert np.abs(render_clip(3, 1, other_seed).astype(int) - a).mean() > 5
    assert not np.array_equal(render_clip(3, 0, TINY), a)
    np.testing.assert_array_equal(render_unlabelled(2, TINY), render_unlabelled(2, TINY))
    # a clip does not depend on how many clips or classes the dataset has
    bigger = SyntheticConfig(**{**TINY.to_dict(), "n_classes": 12, "clips_per_class": 2})
    np.testing.assert_array_equal(render_clip(3, 1, bigger), a)


def test_default_clip_properties():
    cfg = SyntheticConfig()
    lengths = set()
    for k in (0, 6, 11):
        frames, mask = render_clip(k, 5, cfg, return_mask=True)
        assert frames.shape[1:] == (96, 128, 3)
        assert cfg.frames_min <= frames.shape[0] <= cfg.frames_max
        lengths.add(frames.shape[0])
        assert 0.08 < mask.mean() < 0.2  # the actor covers ~10-20% of the frame
        assert 40 < frames.mean() < 215 and (frames == 255).mean() < 0.01
    assert len(lengths) > 1


def test_bicubic_makes_a_sharp_class_look_soft():
    """Inside the actor, the detail band (periods 6-12 px) of a sharp class has over twice its soft
    twin's contrast in HR (typically 12 vs 4.5-5.5 grey levels); MATLAB bicubic x1/4 then x4 keeps
    25-60% of it (typically 45%: attenuated, not destroyed), so that a bicubic sharp clip is
    closer to an HR soft one than to an HR sharp one, while the coarse band keeps over 85%."""
    cfg = SyntheticConfig(frames_min=4, frames_max=4)
    hr_contrast, bicubic_contrast = {}, {}
    for k, spec in enumerate(ACTION_CLASSES):
        frames, mask = render_clip(k, 0, cfg, return_mask=True)
        hr, bicubic = luma(frames), luma(bicubic_up(bicubic_lr(frames)))
        region = interior(mask)
        hr_contrast[k] = band_contrast(hr, region)
        bicubic_contrast[k] = band_contrast(bicubic, region)
        assert kept_share(hr, bicubic, region, (14.0, 30.0)) > 0.85, spec.name
        if spec.detail == SHARP:
            assert hr_contrast[k] > 8, spec.name
            assert 0.25 < kept_share(hr, bicubic, region) < 0.6, spec.name
    for k in range(0, 12, 2):
        sharp, soft = hr_contrast[k], hr_contrast[k + 1]
        assert sharp > 2 * soft, CLASS_NAMES[k]
        assert abs(bicubic_contrast[k] - soft) < abs(bicubic_contrast[k] - sharp), CLASS_NAMES[k]


def _dis_flow(frames: np.ndarray) -> np.ndarray:
    """(T-1, H, W, 2) DIS optical flow of the grey frames."""
    dis = cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_MEDIUM)
    grey = [np.ascontiguousarray(cv2.cvtColor(f, cv2.COLOR_RGB2GRAY)) for f in frames]
    return np.stack([dis.calc(a, b, None) for a, b in zip(grey, grey[1:])])


# Striped actors only show the motion across their stripes (the aperture problem), so the
# translations and scrolls are checked along the class direction only.
@pytest.mark.parametrize("name, check", [
    ("SlideRight", lambda s: s["u"] > 0.4),
    ("SlideUp", lambda s: s["v"] < -0.4),
    ("SpinClockwise", lambda s: s["curl"] > 0.02),      # image y points down
    ("SpinAnticlockwise", lambda s: s["curl"] < -0.02),
    ("ZoomIn", lambda s: s["div"] > 0.02),
    ("ZoomOut", lambda s: s["div"] < -0.02),
    ("ShakeSideways", lambda s: s["u_swing"] > 2 * s["v_swing"]),
    ("ShakeUpDown", lambda s: s["v_swing"] > 2 * s["u_swing"]),
    ("ScrollDiagonal", lambda s: s["u"] + s["v"] > 0.6),
    ("ScrollAntidiagonal", lambda s: s["v"] - s["u"] > 0.6),
])
def test_motion_as_named_in_hr_flow(name, check):
    """Flow measured on the HR frames inside the actor moves the way the class name says."""
    cfg = SyntheticConfig(camera_speed=0.0, frames_min=16, frames_max=16)
    frames, mask = render_clip(CLASS_NAMES.index(name), 2, cfg, return_mask=True)
    flow = _dis_flow(frames)
    inside = _inside(mask)[:-1]
    u, v = flow[..., 0], flow[..., 1]
    du_dy, du_dx = np.gradient(u, axis=(1, 2))
    dv_dy, dv_dx = np.gradient(v, axis=(1, 2))
    mean_u = np.array([u[i][inside[i]].mean() for i in range(len(u))])
    mean_v = np.array([v[i][inside[i]].mean() for i in range(len(v))])
    stats = {"u": mean_u.mean(), "v": mean_v.mean(),
             "curl": (dv_dx - du_dy)[inside].mean(), "div": (du_dx + dv_dy)[inside].mean(),
             "u_swing": mean_u.std(), "v_swing": mean_v.std()}
    assert check(stats), stats


def test_split_by_group():
    cfg = SyntheticConfig()
    entries = layout(cfg)
    assert len(entries) == 480
    test = [e for e in entries if e.split == "test"]
    assert len(test) == 144  # 3 of 10 groups of 4 clips per class
    assert {e.group for e in test} == {1, 2, 3}
    assert clip_entry(0, 13, cfg).rel_path == "SlideRight/v_SlideRight_g04_c02.avi"
    assert TINY.group_size == 1 and TINY.n_groups == 2 and TINY.n_test_groups == 1


def test_generate_tiny(tmp_path, caplog):
    root = tmp_path / "synthetic"
    summary = generate(root, TINY, workers=1, progress=False)
    assert (summary["n_train"], summary["n_test"], summary["written"]) == (10, 10, 23)
    records = list_ucf101(root)
    assert records.class_names == list(CLASS_NAMES[:10])
    assert len(records.split("train")) == 10 and len(records.split("test")) == 10
    assert {r.label for r in records.split("test")} == set(range(10))
    rec = next(r for r in records if r.video_id == "ZoomIn/v_ZoomIn_g02_c01")
    assert rec.label == 6 and rec.split == "train"
    # the clip on disk is exactly the rendered one (lossless codec)
    np.testing.assert_array_equal(read_video(rec.path), render_clip(6, 1, TINY))
    unlabelled = list_folder(root / "unlabelled")
    assert [r.video_id for r in unlabelled] == ["clip_0000", "clip_0001", "clip_0002"]
    np.testing.assert_array_equal(read_video(unlabelled[1].path), render_unlabelled(1, TINY))

    manifest = json.loads((root / "synthetic.json").read_text())
    assert manifest["complete"] and manifest["config"] == TINY.to_dict()
    assert matches(root, TINY) and not matches(root, SyntheticConfig())

    # resumable: a missing clip is redone, the rest kept
    rec.path.unlink()
    again = generate(root, TINY, workers=1, progress=False)
    assert (again["written"], again["reused"]) == (1, 22)
    np.testing.assert_array_equal(read_video(rec.path), render_clip(6, 1, TINY))

    other = SyntheticConfig(**{**TINY.to_dict(), "seed": 5, "n_classes": 2})
    with pytest.raises(ValueError, match=r"synthetic.json: .*other settings \(differing: "
                                         r"n_classes, seed\)"):
        generate(root, other, workers=1, progress=False)
    summary = generate(root, other, workers=1, progress=False, overwrite=True)
    assert summary["reused"] == 0
    assert sorted(p.name for p in root.iterdir()) == [
        "SlideLeft", "SlideRight", "synthetic.json", "ucfTrainTestlist", "unlabelled"]
    # the study's prepare (regenerate): another generator seed replaces the generated set in place, said in the log
    third = SyntheticConfig(**{**other.to_dict(), "seed": 6})
    with caplog.at_level("WARNING", logger="arsr.data.synthetic"):
        summary = generate(root, third, workers=1, progress=False, regenerate=True)
    assert summary["reused"] == 0 and json.loads((root / "synthetic.json").read_text())["config"]["seed"] == 6
    assert "seed: 5 -> 6" in caplog.text


def test_generate_refuses_a_foreign_folder(tmp_path):
    (tmp_path / "mine.txt").write_text("keep me")
    for regenerate in (False, True):  # not a synthetic dataset: never replaced
        with pytest.raises(ValueError, match="not a synthetic dataset"):
            generate(tmp_path, TINY, workers=1, progress=False, regenerate=regenerate)
    assert (tmp_path / "mine.txt").read_text() == "keep me"


def test_generate_with_a_process_pool(tmp_path):
    cfg = SyntheticConfig(**{**TINY.to_dict(), "n_classes": 2, "n_unlabelled": 1})
    summary = generate(tmp_path / "d", cfg, workers=2, progress=False)
    assert summary["written"] == 5
    np.testing.assert_array_equal(read_video(tmp_path / "d/SlideLeft/v_SlideLeft_g01_c01.avi"),
                                  render_clip(1, 0, cfg))
