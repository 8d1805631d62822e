"""The synthetic action dataset: determinism, design properties, layout on disk."""
from __future__ import annotations

import json
import time

import cv2
import numpy as np
import pytest

from arsr.data.datasets import list_folder, list_ucf101
from arsr.data.synthetic import (
    ACTION_CLASSES, CLASS_NAMES, SyntheticConfig, clip_entry, generate, layout, matches,
    render_clip, render_unlabelled,
)
from arsr.data.video import read_video

TINY = SyntheticConfig(n_classes=10, clips_per_class=2, n_unlabelled=3, frames_min=8,
                       frames_max=8, width=64, height=48)


def _lr_up(frames: np.ndarray) -> np.ndarray:
    """x4 down (area) and up (bicubic) per frame: a stand-in for MATLAB bicubic LR."""
    h, w = frames.shape[1:3]
    return np.stack([cv2.resize(cv2.resize(f, (w // 4, h // 4), interpolation=cv2.INTER_AREA),
                                (w, h), interpolation=cv2.INTER_CUBIC) for f in frames])


def _high_pass_energy(frames: np.ndarray, region: np.ndarray) -> float:
    """Mean squared detail finer than about 12 px (grey minus its Gaussian blur) in ``region``."""
    g = frames.astype(np.float32).mean(-1)
    detail = g - np.stack([cv2.GaussianBlur(x, (0, 0), 2.0) for x in g])
    return float((detail[region] ** 2).mean())


def _inside(mask: np.ndarray) -> np.ndarray:
    kernel = np.ones((7, 7), np.uint8)
    return np.stack([cv2.erode((m > 0.99).astype(np.uint8), kernel) for m in mask]).astype(bool)


def test_classes():
    assert len(CLASS_NAMES) == 12 == len(set(CLASS_NAMES))
    assert all(n.isidentifier() and n[0].isupper() for n in CLASS_NAMES)
    # every class differs from every other in motion pattern and in texture
    motions = {(c.motion, c.direction) for c in ACTION_CLASSES}
    textures = {(c.texture, c.period, c.orientation) for c in ACTION_CLASSES}
    assert len(motions) == len(textures) == 12
    assert SyntheticConfig().class_names == list(CLASS_NAMES)
    assert TINY.class_names == list(CLASS_NAMES[:10])


def test_config_from_dict():
    cfg = SyntheticConfig.from_dict({"n_classes": 10, "width": 64, "height": 48, "fps": 30})
    assert (cfg.n_classes, cfg.width, cfg.height, cfg.fps) == (10, 64, 48, 30.0)
    assert SyntheticConfig.from_dict(cfg.to_dict()) == cfg
    with pytest.raises(ValueError, match=r"unknown .*\['colour', 'n_class'\]"):
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


def test_fine_texture_is_lost_at_x4():
    """Inside the actor, x4 down/up keeps little of the detail finer than ~12 px: under 5% of
    its energy for the 6-6.5-px textures (typically 1-6%), under 40% for the 8-8.5-px ones
    (typically ~17%); the background, mostly coarse, keeps more."""
    cfg = SyntheticConfig()
    ratios = {}
    for k in range(12):
        frames, mask = render_clip(k, 0, cfg, return_mask=True)
        inside, outside = _inside(mask), mask < 0.01
        hr = _high_pass_energy(frames, inside)
        lr = _high_pass_energy(_lr_up(frames), inside)
        assert hr > 150, CLASS_NAMES[k]  # the texture is there in HR
        ratios[CLASS_NAMES[k]] = lr / hr
        background = _high_pass_energy(_lr_up(frames), outside) / _high_pass_energy(frames, outside)
        assert background > ratios[CLASS_NAMES[k]]
    for name, ratio in ratios.items():
        assert ratio < (0.4 if name in ("SlideLeft", "SlideDown", "ZoomOut", "ShakeUpDown")
                        else 0.1), (name, ratio)


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


def test_generate_tiny(tmp_path):
    root = tmp_path / "synthetic"
    started = time.perf_counter()
    summary = generate(root, TINY, workers=1, progress=False)
    elapsed = time.perf_counter() - started
    assert elapsed < 10, elapsed
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


def test_generate_refuses_a_foreign_folder(tmp_path):
    (tmp_path / "mine.txt").write_text("keep me")
    with pytest.raises(ValueError, match="not a synthetic dataset"):
        generate(tmp_path, TINY, workers=1, progress=False)
    assert (tmp_path / "mine.txt").read_text() == "keep me"


def test_generate_with_a_process_pool(tmp_path):
    cfg = SyntheticConfig(**{**TINY.to_dict(), "n_classes": 2, "n_unlabelled": 1})
    summary = generate(tmp_path / "d", cfg, workers=2, progress=False)
    assert summary["written"] == 5
    np.testing.assert_array_equal(read_video(tmp_path / "d/SlideLeft/v_SlideLeft_g01_c01.avi"),
                                  render_clip(1, 0, cfg))
