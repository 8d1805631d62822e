"""Detail-band measures and the closed-form linear x4 SR (arsr.data.cues)."""
from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest

from arsr.data.cues import (
    LinearSR, band_contrast, band_pass, bicubic_lr, bicubic_transfer, bicubic_up, cue_figure,
    cue_metrics, cue_table, fit_linear_sr, interior, kept_share, luma,
)
from arsr.data.synthetic import SHARP, SyntheticConfig

SHAPE = (96, 128)


def _wave(period: float, angle: float = 0.0, amplitude: float = 20.0) -> np.ndarray:
    y, x = np.mgrid[0:SHAPE[0], 0:SHAPE[1]].astype(np.float64)
    a = math.radians(angle)
    return amplitude * np.cos(2 * np.pi / period * (x * math.cos(a) + y * math.sin(a)) + 0.3)


def _centre() -> np.ndarray:
    region = np.zeros(SHAPE, bool)
    region[16:-16, 16:-16] = True
    return region


def test_band_pass_keeps_only_the_detail_band():
    region = _centre()
    rms = 20 / math.sqrt(2)
    for angle in (0, 30, 45):
        assert band_contrast(_wave(9.0, angle), region) == pytest.approx(rms, rel=0.05)
    assert band_contrast(_wave(20.0), region) < 0.1 * rms  # coarse (it does not wrap round)
    assert band_contrast(_wave(4.0), region) < 0.1 * rms   # finer than the band
    assert band_pass(np.full(SHAPE, 100.0)).std() < 1e-9   # no DC
    assert math.isnan(band_contrast(_wave(9.0), np.zeros(SHAPE, bool)))


def test_kept_share_counts_signal_not_noise():
    region = _centre()
    ref = _wave(9.0)
    noise = np.random.default_rng(0).normal(0, 10, SHAPE)
    assert kept_share(ref, ref, region) == pytest.approx(1.0)
    # half the wave plus unrelated noise of more energy in the band: still about a half
    assert kept_share(ref, 0.5 * ref + noise, region) == pytest.approx(0.5, abs=0.05)


def test_bicubic_transfer():
    """Above the LR Nyquist rate (period < 8 HR px along an axis) a wave is destroyed; between 8
    and ~14 px attenuated; coarse waves survive; diagonal waves keep more at the same period."""
    kept = [bicubic_transfer(p) for p in (6, 8, 9.5, 12, 16, 32)]
    assert kept[0] < 0.05 and 0.25 < kept[1] < 0.4 and 0.4 < kept[2] < 0.5
    assert kept == sorted(kept) and kept[-1] > 0.97
    assert bicubic_transfer(9.5, 45) > kept[2]


def test_interior():
    y, x = np.mgrid[0:SHAPE[0], 0:SHAPE[1]]
    disk = (np.hypot(x - 60, y - 48) <= 20).astype(np.float32)
    inner = interior(np.stack([disk, disk]), margin=6)
    assert inner.shape == (2, *SHAPE) and inner[0].any()
    assert np.hypot(x - 60, y - 48)[inner[0]].max() <= 14.5
    # at the frame's border nothing counts
    edge = np.ones(SHAPE, np.float32)
    assert not interior(edge, margin=6)[:6].any() and interior(edge, margin=6)[6:-6, 6:-6].all()


def test_linear_sr_shapes():
    k, s = 3, 4
    copy_centre = np.zeros((k * k + 1, s * s))
    copy_centre[k * k // 2] = 1  # every HR pixel of a block = its LR pixel: nearest neighbour
    sr = LinearSR(copy_centre, k, s)
    lr = np.random.default_rng(0).uniform(0, 255, (2, 12, 16))
    np.testing.assert_allclose(sr(lr), np.kron(lr, np.ones((1, s, s))))
    assert sr(lr[0]).shape == (48, 64)


def test_linear_sr_beats_bicubic_on_a_band_limited_texture():
    """Fitted on waves of the detail band, it restores an unseen one that bicubic halves."""
    rng = np.random.default_rng(0)

    def clip(n):
        return np.stack([np.repeat(np.clip(128 + _wave(rng.uniform(9, 12), rng.uniform(0, 180))
                                           + _wave(rng.uniform(16, 30), rng.uniform(0, 180)),
                                           0, 255).round().astype(np.uint8)[..., None], 3, -1)
                         for _ in range(n)])

    sr = fit_linear_sr([clip(8), clip(8)], k=7)
    test = clip(2)
    hr, lr = luma(test), luma(bicubic_lr(test))
    region = np.broadcast_to(_centre(), hr.shape)
    assert kept_share(hr, luma(bicubic_up(bicubic_lr(test))), region) < 0.75
    assert kept_share(hr, sr(lr), region) > 0.9
    with pytest.raises(ValueError, match="odd"):
        fit_linear_sr([test], k=4)


def test_linear_sr_restores_the_class_cue_bicubic_attenuates():
    """The study's question in miniature: fitted on training clips, a linear x4 SR restores at
    least 70% (typically 85%) of a sharp class's detail on test clips (unseen looks), where
    bicubic keeps 25-60% (typically 45%); the restored sharp detail is closer to HR sharp than to
    HR soft, the bicubic one closer to HR soft."""
    cfg = SyntheticConfig(clips_per_class=4, clips_per_group=2, n_unlabelled=0,
                          frames_min=4, frames_max=4)
    table = cue_table(cfg, clips_per_class=2, frames_per_clip=4)
    assert len(table) == 12
    sharp = table[table["detail"] == SHARP]
    soft = table[table["detail"] < SHARP]
    assert sharp["kept_bicubic"].between(0.25, 0.6).all(), sharp["kept_bicubic"]
    assert (sharp["kept_linear_sr"] > 0.7).all() and sharp["kept_linear_sr"].mean() > 0.8, \
        sharp["kept_linear_sr"]
    middle = (sharp["contrast_hr"].to_numpy() + soft["contrast_hr"].to_numpy()) / 2
    assert (sharp["contrast_bicubic"].to_numpy() < middle).all()
    assert (sharp["contrast_linear_sr"].to_numpy() > middle).all()
    fig = cue_figure(table)
    assert len(fig.axes[0].patches) == 3 * 12
    metrics = cue_metrics(table)
    assert list(metrics) == list(table.index)
    assert metrics["SlideRight"]["kept_linear_sr"] == round(table.loc["SlideRight", "kept_linear_sr"], 4)


def test_cue_metrics_are_json_ready():
    table = pd.DataFrame({"detail": [1.0], "kept_bicubic": [np.float64("nan")],
                          "contrast_hr": [np.float64(3.14159)]}, index=["A"])
    assert json.loads(json.dumps(cue_metrics(table), allow_nan=False)) == \
        {"A": {"detail": 1.0, "kept_bicubic": None, "contrast_hr": 3.1416}}
