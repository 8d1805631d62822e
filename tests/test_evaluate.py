"""Evaluation of SR methods by recognition accuracy: table, frames asked for, caching, fusion, resume."""
from __future__ import annotations

import math
import signal
import time

import numpy as np
import pandas as pd
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from arsr.archs.duf_arch import sliding_window_sr
from arsr.evaluate import (TIMING_PARTS, STResNetRecognizer, TwoStreamTSN, colour_shift_over_videos, evaluate,
                           fuse_cached)
from arsr.recognition import STResNet, TSN
from arsr.recognition.sampling import needed_frames, snippet_fields, uniform_offsets
from arsr.recognition.tsn import fuse_scores
from arsr.sr_methods import SRMethod, VideoMethod, bicubic_method, hr_method

from test_recognition_train import write_toy_store  # the toy store shared with the training tests

FRAMES = 16


@pytest.fixture(scope="module")
def toy(tmp_path_factory):
    # 3 test videos (one per class), 16 frames of 32x32, LR 8x8
    return write_toy_store(tmp_path_factory.mktemp("eval_store"), train_per_class=1, frames=FRAMES, speed=1)


@pytest.fixture(scope="module")
def recognizers():
    torch.manual_seed(0)
    tsn = TwoStreamTSN(TSN(3, "rgb", "resnet18", width=8), TSN(3, "flow", "resnet18", width=8),
                       input_size=32, device="cpu")
    for m in tsn.models.values():  # a visible classifier, so fusion differs from either stream
        nn.init.normal_(m.new_fc.weight, 0, 0.5)
    st = STResNetRecognizer(STResNet(3, depth=18, width=8), input_size=32, device="cpu")
    return {"tsn": tsn, "st_resnet": st}


class Recording(SRMethod):
    """Delegates to another method, records every request, optionally fails on the n-th video."""

    def __init__(self, inner: SRMethod, fail_on_call: int | None = None):
        self.inner, self.name, self.fail_on_call = inner, inner.name, fail_on_call
        self.calls: list[tuple[str, list[int]]] = []

    def frames(self, video, indices):
        if self.fail_on_call is not None and len(self.calls) + 1 == self.fail_on_call:
            raise RuntimeError("injected failure")
        self.calls.append((video.video_id, [int(i) for i in indices]))
        return self.inner.frames(video, indices)

    def fingerprint(self):
        return self.inner.fingerprint()


def run(method, recognizers, toy, cache, **kw):
    kw = {"num_frames": 3, "workers": 1, "progress": False, **kw}
    return evaluate(method, recognizers, toy, cache_dir=cache, **kw)


def test_table_has_every_row_and_quality(toy, recognizers, tmp_path):
    tables = [run(m, recognizers, toy, tmp_path) for m in (bicubic_method(4, device="cpu"), hr_method())]
    table = pd.concat([t.table for t in tables], ignore_index=True)
    assert list(table.columns) == ["method", "recognizer", "stream", "top1", "top5", "n_videos", "psnr", "ssim"]
    expected = {(m, r, s) for m in ("bicubic", "hr") for r in ("tsn", "st_resnet")
                for s in ("spatial", "temporal", "fusion")}
    assert set(zip(table["method"], table["recognizer"], table["stream"])) == expected and len(table) == 12
    assert (table["n_videos"] == 3).all()
    for t in tables:  # every row's top-1 is that of its own class scores (argmax = label)
        for (rec, stream), s in t.scores.items():
            row = t.table[(t.table["recognizer"] == rec) & (t.table["stream"] == stream)]
            assert row["top1"].item() == pytest.approx(100 * np.mean(s.argmax(1) == t.labels)), (rec, stream)
    assert (table["top5"] == 100).all()  # 3 classes: the label is always among the top 5
    hr, bic = tables[1].table, tables[0].table
    assert math.isinf(hr["psnr"].iloc[0]) and hr["ssim"].iloc[0] == pytest.approx(1.0)
    assert 15 < bic["psnr"].iloc[0] < 60 and 0 < bic["ssim"].iloc[0] < 1
    assert tables[1].channel_shift_abs.tolist() == tables[1].channel_shift.tolist() == [0.0, 0.0, 0.0]
    assert (tables[0].channel_shift_abs >= np.abs(tables[0].channel_shift)).all()
    per_class = tables[0].per_class
    assert len(per_class) == 6 * 3 and (per_class["n_videos"] == 1).all()
    assert set(per_class["class_name"]) == {"RightRed", "DownGreen", "UpBlue"}
    preds = tables[0].predictions
    assert len(preds) == 6 * 3 and set(preds["video_id"]) == set(toy.split("test")["video_id"])
    # TSN's fusion row is the 1:1.5 weighted mean of its two streams
    r = tables[0]
    expect = fuse_scores(torch.from_numpy(r.scores[("tsn", "spatial")]),
                         torch.from_numpy(r.scores[("tsn", "temporal")]), (1.0, 1.5)).numpy()
    np.testing.assert_allclose(r.scores[("tsn", "fusion")], expect, rtol=1e-6)
    top1 = 100 * np.mean(r.scores[("tsn", "fusion")].argmax(1) == r.labels)
    assert r.table.query("recognizer == 'tsn' and stream == 'fusion'")["top1"].item() == pytest.approx(top1)


def test_timings_say_where_the_time_went(toy, recognizers, tmp_path):
    timings: dict[str, float] = {}
    start = time.perf_counter()
    run(bicubic_method(4, device="cpu"), recognizers, toy, tmp_path, timings=timings)
    wall = time.perf_counter() - start
    assert list(timings) == list(TIMING_PARTS)  # every part ran, in the order a video meets them
    assert all(v > 0 for v in timings.values()) and sum(timings.values()) <= wall
    # a second call finds every video cached: no part runs
    again: dict[str, float] = {}
    run(bicubic_method(4, device="cpu"), recognizers, toy, tmp_path, timings=again)
    assert again == {}


def test_top1_and_top5_of_known_scores():
    """7 classes, 4 videos whose label ranks 1st, 2nd, 5th and 6th among its class scores: top-1 is
    25%, top-5 75%, and each video's prediction is its best-scored class."""
    from arsr.evaluate import _result

    def scores_ranking(label: int, rank: int, n_classes: int = 7) -> np.ndarray:
        others = [c for c in range(n_classes) if c != label]
        best_first = others[:rank - 1] + [label] + others[rank - 1:]
        s = np.zeros(n_classes, np.float32)
        s[best_first] = np.arange(n_classes, 0, -1)
        return s

    labels = np.array([0, 1, 2, 3])
    scores = np.stack([scores_ranking(label, rank) for label, rank in zip(labels, (1, 2, 5, 6))])
    r = _result("m", ["a", "b", "c", "d"], labels, {("tsn", "fusion"): scores}, [f"c{k}" for k in range(7)])
    assert r.table["top1"].item() == 25.0 and r.table["top5"].item() == 75.0
    assert r.predictions["prediction"].tolist() == [0, 0, 0, 0]
    assert r.per_class.set_index("label")["top1"].tolist()[:4] == [100.0, 0.0, 0.0, 0.0]


class Shifted(SRMethod):
    """The HR frames with one RGB channel moved by a per-video number of grey levels."""

    name = "shifted"

    def __init__(self, shifts: dict[str, int], channel: int):
        self.shifts, self.channel = shifts, channel

    def frames(self, video, indices):
        out = video.hr[np.asarray(indices, np.int64)].astype(np.int16)
        out[..., self.channel] += self.shifts[video.video_id]
        assert out.min() >= 0 and out.max() <= 255, "the toy frames leave no room for the shift"
        return out.astype(np.uint8)

    def fingerprint(self):
        return f"shifted {sorted(self.shifts.items())} channel {self.channel}"


def test_opposite_colour_shifts_of_two_videos_do_not_cancel(toy, recognizers):
    """Green moved by +2 grey levels in one video and -2 in another: the signed mean over videos
    (the check before) says 0, the mean |shift| per channel per video says 2."""
    a, b = toy.split("test")["video_id"][:2]
    result = evaluate(Shifted({a: 2, b: -2}, channel=1), {"tsn": recognizers["tsn"]}, toy, videos=[a, b],
                      num_frames=3, workers=1, progress=False)
    assert result.channel_shift.tolist() == [0.0, 0.0, 0.0]
    assert result.channel_shift_abs.tolist() == [0.0, 2.0, 0.0]
    same = evaluate(Shifted({a: 2, b: 2}, channel=1), {"tsn": recognizers["tsn"]}, toy, videos=[a, b],
                    num_frames=3, workers=1, progress=False)
    assert same.channel_shift.tolist() == same.channel_shift_abs.tolist() == [0.0, 2.0, 0.0]


def test_colour_shift_over_videos_is_the_mean_absolute_shift_per_channel():
    per_video = np.array([[2.0, -1.0, 0.5], [-2.0, -3.0, 0.5], [1.0, 1.0, -0.5]])
    signed, absolute = colour_shift_over_videos(per_video)
    np.testing.assert_allclose(signed, [1 / 3, -1.0, 1 / 6])
    np.testing.assert_allclose(absolute, [5 / 3, 5 / 3, 0.5])


def test_method_is_asked_only_for_the_frames_needed(toy, recognizers):
    method = Recording(bicubic_method(4, device="cpu"))
    evaluate(method, {"tsn": recognizers["tsn"]}, toy, num_frames=1, workers=1, progress=False)
    assert len(method.calls) == 3 and len({v for v, _ in method.calls}) == 3  # once per video
    # one RGB snippet at frame 8 (= also the PSNR frame); one flow snippet: 5 fields from start
    # 5 (11 positions, middle) need frames 5..10
    rgb = uniform_offsets(FRAMES, 1)
    fields = snippet_fields(uniform_offsets(FRAMES - 5, 1), 5, FRAMES)
    expected = needed_frames(rgb[:, None], fields).tolist()
    assert rgb.tolist() == [8] and expected == [5, 6, 7, 8, 9, 10]
    for _, indices in method.calls:
        assert indices == expected

    st = Recording(bicubic_method(4, device="cpu"))
    evaluate(st, {"st_resnet": recognizers["st_resnet"]}, toy, num_frames=2, workers=1, progress=False,
             psnr=False)
    starts = uniform_offsets(FRAMES - 5, 2)  # aligned: RGB frame s and fields s..s+4
    assert st.calls[0][1] == needed_frames(starts[:, None], snippet_fields(starts, 5, FRAMES)).tolist()


def test_fusion_from_cache_equals_direct_fusion(toy, recognizers, tmp_path):
    hr, bic = hr_method(), bicubic_method(4, device="cpu")
    direct_bic = run(bic, recognizers, toy, tmp_path)
    run(hr, recognizers, toy, tmp_path)
    # the same method on both streams: the evaluation's own fusion row
    same = fuse_cached(tmp_path, spatial="bicubic", temporal="bicubic", recognizer="tsn")
    order = [same.video_ids.index(v) for v in direct_bic.video_ids]
    np.testing.assert_allclose(same.scores[("tsn", "fusion")][order], direct_bic.scores[("tsn", "fusion")],
                               rtol=1e-6)
    assert same.table["top1"].item() == pytest.approx(
        direct_bic.table.query("recognizer == 'tsn' and stream == 'fusion'")["top1"].item())
    # HR frames for the spatial stream, bicubic for the temporal one: as a direct mixed run
    mixed = fuse_cached(tmp_path, spatial="hr", temporal="bicubic", recognizer="tsn")
    assert mixed.table[["method", "recognizer", "stream"]].values.tolist() == [["hr+bicubic", "tsn", "fusion"]]
    direct = run(hr, recognizers, toy, tmp_path, temporal_method=bic, name="hr_bicubic")
    order = [mixed.video_ids.index(v) for v in direct.video_ids]
    np.testing.assert_allclose(mixed.scores[("tsn", "fusion")][order], direct.scores[("tsn", "fusion")],
                               rtol=1e-6)
    np.testing.assert_array_equal(direct.scores[("tsn", "temporal")], direct_bic.scores[("tsn", "temporal")])
    with pytest.raises(ValueError, match="coupled"):
        fuse_cached(tmp_path, spatial="hr", temporal="bicubic", recognizer="st_resnet")
    with pytest.raises(FileNotFoundError, match="tosr"):
        fuse_cached(tmp_path, spatial="hr", temporal="tosr")


def test_interrupted_evaluation_resumes(toy, recognizers, tmp_path):
    bic = bicubic_method(4, device="cpu")
    reference = run(bic, recognizers, toy, tmp_path / "a")

    failing = Recording(bic, fail_on_call=2)
    with pytest.raises(RuntimeError, match="injected"):
        run(failing, recognizers, toy, tmp_path / "b")
    done = sorted(p.name for p in (tmp_path / "b" / "bicubic" / "scores" / "tsn").glob("*.npz"))
    assert len(done) == 1  # the first video was finished and cached before the error surfaced

    resumed_method = Recording(bic)
    resumed = run(resumed_method, recognizers, toy, tmp_path / "b")
    assert len(resumed_method.calls) == 2  # only the videos still missing
    assert failing.calls[0][0] not in {v for v, _ in resumed_method.calls}
    pd.testing.assert_frame_equal(resumed.table, reference.table)
    pd.testing.assert_frame_equal(resumed.per_class, reference.per_class)

    again = Recording(bic)
    pd.testing.assert_frame_equal(run(again, recognizers, toy, tmp_path / "b").table, reference.table)
    assert again.calls == []  # everything reused
    other = Recording(bic)
    run(other, recognizers, toy, tmp_path / "b", crops="ten")
    assert len(other.calls) == 3  # other settings: the stale cache is rebuilt


class Signalling(Recording):
    """A method during whose n-th request the process gets ``signum``."""

    def __init__(self, inner: SRMethod, signum: int, on_call: int):
        super().__init__(inner)
        self.signum, self.on_call = signum, on_call

    def frames(self, video, indices):
        if len(self.calls) + 1 == self.on_call:
            signal.raise_signal(self.signum)
        return super().frames(video, indices)


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_a_signal_keeps_the_scored_videos_and_says_so(signum, toy, recognizers, tmp_path):
    """Ctrl-C or SIGTERM while the third video is super-resolved: the second, whose scoring was
    under way, is finished and cached too; Interrupted says how many; a re-run does the rest."""
    from arsr.interrupt import Interrupted

    bic = bicubic_method(4, device="cpu")
    reference = run(bic, recognizers, toy, tmp_path / "a")
    with pytest.raises(Interrupted) as info:
        run(Signalling(bic, signum, on_call=3), recognizers, toy, tmp_path / "b")
    assert str(info.value) == f"evaluate bicubic: stopped after 2 of 3 videos; {tmp_path / 'b' / 'bicubic'} keeps them"
    assert info.value.exit_code == 128 + signum
    assert len(list((tmp_path / "b" / "bicubic" / "scores" / "tsn").glob("*.npz"))) == 2
    assert not list((tmp_path / "b").rglob("*.tmp*"))  # no temporary file left behind
    resumed = Recording(bic)
    pd.testing.assert_frame_equal(run(resumed, recognizers, toy, tmp_path / "b").table, reference.table)
    assert len(resumed.calls) == 1


def test_process_pool_gives_the_in_process_result(toy, recognizers):
    one = {"tsn": recognizers["tsn"]}
    a = evaluate(bicubic_method(4, device="cpu"), one, toy, num_frames=2, workers=1, progress=False)
    b = evaluate(bicubic_method(4, device="cpu"), one, toy, num_frames=2, workers=2, progress=False)
    pd.testing.assert_frame_equal(a.table, b.table)
    for k in a.scores:
        np.testing.assert_array_equal(a.scores[k], b.scores[k])


class _TinyVideoSR(nn.Module):
    """A weighted mean of a 3-frame window, upscaled x4: (b, 3, 3, h, w) -> (b, 3, 4h, 4w)."""

    num_frames = 3

    def __init__(self):
        super().__init__()
        self.w = nn.Parameter(torch.tensor([0.2, 0.5, 0.3]))

    def forward(self, x):
        return F.interpolate((x * self.w.view(1, 3, 1, 1, 1)).sum(1), scale_factor=4, mode="bilinear")


@pytest.mark.parametrize("pad", ["zeros", "replicate", "reflect"])
def test_video_method_matches_sliding_window(pad):
    rng = np.random.default_rng(0)
    lr = rng.integers(0, 256, (6, 5, 7, 3), dtype=np.uint8)
    model = _TinyVideoSR()
    method = VideoMethod(model, pad=pad, batch_size=2, device="cpu")
    got = method.sr(lr, [0, 3, 5])
    clip = torch.from_numpy(lr).permute(0, 3, 1, 2).float() / 255
    full = sliding_window_sr(model, clip, 3, pad=pad)
    expect = full.clamp(0, 1).mul(255).round().to(torch.uint8).permute(0, 2, 3, 1).numpy()[[0, 3, 5]]
    assert got.shape == (3, 20, 28, 3)
    assert np.abs(got.astype(int) - expect.astype(int)).max() <= 1
    assert (got == expect).mean() > 0.99


def test_hr_method_needs_the_video():
    with pytest.raises(TypeError, match="frames"):
        hr_method().sr(np.zeros((2, 4, 4, 3), np.uint8), [0])


def test_old_keyword_spellings_are_refused_with_the_new_one(tmp_path):
    with pytest.raises(TypeError, match=r"evaluate\(\): the keyword 'recognisers' is now 'recognizers'"):
        evaluate(bicubic_method(4, device="cpu"), recognisers={}, test_set=tmp_path)
    with pytest.raises(TypeError, match=r"fuse_cached\(\): the keyword 'recogniser' is now 'recognizer'"):
        fuse_cached(tmp_path, spatial="hr", temporal="bicubic", recogniser="tsn")


def test_disk_full_names_the_cache_and_a_rerun_continues(toy, recognizers, tmp_path, monkeypatch):
    import errno

    import arsr.evaluate as ev
    from arsr.io import DiskFullError

    bic = bicubic_method(4, device="cpu")
    one = {"tsn": recognizers["tsn"]}
    real, calls = ev._save_scores, []

    def full_on_second(path, *args):
        calls.append(path)
        if len(calls) == 2:
            raise OSError(errno.ENOSPC, "No space left on device")
        return real(path, *args)

    monkeypatch.setattr(ev, "_save_scores", full_on_second)
    with pytest.raises(DiskFullError) as info:
        run(bic, one, toy, tmp_path)
    message = str(info.value)
    assert f"disk full while writing under {tmp_path / 'bicubic'}" in message and "kept" in message
    assert "videos left" in message
    monkeypatch.setattr(ev, "_save_scores", real)
    resumed = Recording(bic)
    result = run(resumed, one, toy, tmp_path)
    assert len(resumed.calls) == 2 and result.table["n_videos"].iloc[0] == 3  # the finished video was kept
