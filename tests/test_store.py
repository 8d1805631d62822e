"""The compact prepared store (format 2): packs, codecs, lazy frame stacks, HR from the source."""
from __future__ import annotations

import json
import threading

import numpy as np
import pytest

from arsr.data.packs import Pack, decode_flow, encode_flow, flow_steps, write_pack
from arsr.data.store import FrameStack, PreparedVideo, StoreFormatError, write_video_folder
from arsr.data.video import write_video
from arsr.flow import quantize
from arsr.ops import imresize


def test_pack_round_trip(tmp_path):
    blobs = [b"", b"abc", bytes(range(256)) * 3, b"z"]
    write_pack(tmp_path / "x.pack", blobs)
    pack = Pack(tmp_path / "x.pack")
    assert len(pack) == 4 and [pack.blob(i) for i in range(4)] == blobs
    (tmp_path / "bad.pack").write_bytes(b"0123456789abcdefXYZ")
    with pytest.raises(StoreFormatError, match="bad.pack"):
        Pack(tmp_path / "bad.pack")


def test_flow_keeps_tsn_bins_and_1_64_px():
    rng = np.random.default_rng(0)
    flow = np.concatenate([rng.normal(0, 3, (40, 50, 2)), rng.normal(0, 0.05, (40, 50, 2)),
                           rng.uniform(-30, 30, (40, 50, 2))]).astype(np.float32)
    # values right at TSN's bin edges (zero flow is one: q = 127.5)
    edges = ((np.arange(256) - 0.5) * 40 / 255 - 20).astype(np.float32)
    flow[:2, :, 0] = np.resize(np.concatenate([edges, edges + 1e-6, edges - 1e-6]), (2, 50))
    back = decode_flow(encode_flow(flow))
    assert back.dtype == np.float32 and back.shape == flow.shape
    np.testing.assert_array_equal(quantize(back, 20), quantize(flow, 20))
    assert np.abs(back - flow).max() <= 1 / 64 + 1e-6
    np.testing.assert_array_equal(back, flow_steps(flow) / np.float32(64))
    exact = np.full((4, 6, 2), 2.0, np.float32)
    np.testing.assert_array_equal(decode_flow(encode_flow(exact)), exact)


def test_frame_stack_indexes_like_numpy():
    a = np.arange(7 * 5 * 4 * 3, dtype=np.uint8).reshape(7, 5, 4, 3)
    calls = []

    def read(idx):
        calls.append(list(idx))
        assert list(idx) == sorted(set(idx))
        return a[idx]
    s = FrameStack(7, (5, 4, 3), np.uint8, read, "test")
    assert s.shape == a.shape and s.ndim == 4 and len(s) == 7 and s.dtype == np.uint8
    keys = [3, -1, (2, slice(1, 3)), slice(2, 5), (slice(None, None, 3), 1, slice(0, 2)),
            np.array([4, 0, 4, 6]), ([1, 1, 2], slice(1, 4), slice(0, 2)), np.array([[0, 1], [5, 6]]),
            (np.int64(5), 0, 0), np.arange(7) % 2 == 0, (Ellipsis, 0), slice(5, 2)]
    for key in keys:
        np.testing.assert_array_equal(s[key], a[key], err_msg=str(key))
    np.testing.assert_array_equal(np.asarray(s, np.float32), a.astype(np.float32))
    with pytest.raises(IndexError):
        s[7]
    calls.clear()
    s[[2, 2, 2]]
    assert calls == [[2]]  # each frame decoded once per call


def _source_video(tmp_path, t=9, h=30, w=42):
    rng = np.random.default_rng(1)
    frames = rng.integers(0, 256, (t, h, w, 3), dtype=np.uint8)
    path = tmp_path / "clip.avi"
    write_video(path, frames)
    from arsr.data.video import read_video
    return path, read_video(path)


def _folder(tmp_path, source, frames, crop=(1, 1, 28, 40)):
    top, left, h, w = crop
    hr = frames[:, top:top + h, left:left + w]
    lr = np.stack([imresize(f, 0.25) for f in hr])
    flow = np.random.default_rng(2).normal(0, 2, (len(hr) - 1, h, w, 2)).astype(np.float32)
    write_video_folder(tmp_path / "v", hr=hr, lr=lr, flow=flow, source=source, crop=crop)
    return PreparedVideo(tmp_path / "v", "v", 0, "train"), hr, lr, flow


def test_hr_decoded_from_the_source_any_order(tmp_path):
    source, frames = _source_video(tmp_path)
    video, hr, lr, flow = _folder(tmp_path, source, frames)
    assert not (video.folder / "hr.pack").exists()
    assert video.n_frames == 9 and video.hr.shape == hr.shape and video.flow.shape == flow.shape
    for key in (8, 0, 3, slice(2, 6), [7, 1, 7], (5, slice(3, 9), slice(0, 4))):
        np.testing.assert_array_equal(video.hr[key], hr[key])
    np.testing.assert_array_equal(np.asarray(video.lr), lr)
    np.testing.assert_array_equal(quantize(np.asarray(video.flow), 20), quantize(flow, 20))


def test_hr_reads_from_threads(tmp_path):
    source, frames = _source_video(tmp_path)
    video, hr, _, _ = _folder(tmp_path, source, frames)
    errors = []

    def work(seed):
        rng = np.random.default_rng(seed)
        try:
            for _ in range(15):
                t = int(rng.integers(0, 9))
                np.testing.assert_array_equal(video.hr[t], hr[t])
        except Exception as err:  # noqa: BLE001 - reported below
            errors.append(err)
    threads = [threading.Thread(target=work, args=(k,)) for k in range(4)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert not errors


def test_changed_source_is_refused(tmp_path):
    source, frames = _source_video(tmp_path)
    video, _, _, _ = _folder(tmp_path, source, frames)
    write_video(source, frames[:, ::-1])  # another clip under the same name
    with pytest.raises(StoreFormatError, match="decodes differently.*dvc repro prepare"):
        video.hr[2]


def test_stored_hr_and_old_format(tmp_path):
    rng = np.random.default_rng(3)
    hr = rng.integers(0, 256, (3, 16, 12, 3), dtype=np.uint8)
    lr = hr[:, ::4, ::4]  # any LR is kept as given
    meta = write_video_folder(tmp_path / "v", hr=hr, lr=lr, flow=np.zeros((2, 16, 12, 2)))
    video = PreparedVideo(tmp_path / "v", "v", 0, "train")
    assert meta["hr"]["codec"] == "png"
    np.testing.assert_array_equal(np.asarray(video.hr), hr)
    np.testing.assert_array_equal(np.asarray(video.lr), lr)
    (tmp_path / "old").mkdir()
    np.save(tmp_path / "old" / "hr.npy", hr)
    with pytest.raises(StoreFormatError, match=r"old: prepared with no meta.json.*Re-run `dvc repro prepare`"):
        PreparedVideo(tmp_path / "old", "old", 0, "train").hr
    (tmp_path / "old" / "meta.json").write_text(json.dumps({"fingerprint": "f"}))
    with pytest.raises(StoreFormatError, match="store format 1"):
        PreparedVideo(tmp_path / "old", "old", 0, "train").n_frames


def test_raw_codec_reads_what_png_reads(tmp_path):
    """The two frame codecs give the same arrays (HR and LR bit for bit, flow the same 1/64 px
    steps); raw packs hold exactly the frames' bytes (HR T*H*W*3, flow T-1 * H*W*2 int16)."""
    rng = np.random.default_rng(5)
    hr = rng.integers(0, 256, (4, 16, 12, 3), dtype=np.uint8)
    lr = np.stack([imresize(f, 0.25) for f in hr])
    flow = rng.normal(0, 6, (3, 16, 12, 2)).astype(np.float32)
    videos = {}
    for codec in ("png", "raw"):
        meta = write_video_folder(tmp_path / codec, hr=hr, lr=lr, flow=flow, codec=codec)
        assert meta["hr"]["codec"] == codec
        videos[codec] = PreparedVideo(tmp_path / codec, codec, 0, "train")
    png, raw = videos["png"], videos["raw"]
    np.testing.assert_array_equal(np.asarray(raw.hr), hr)
    np.testing.assert_array_equal(np.asarray(raw.lr), lr)
    np.testing.assert_array_equal(np.asarray(raw.flow), np.asarray(png.flow))
    np.testing.assert_array_equal(np.asarray(raw.flow), flow_steps(flow) / 64.0)
    np.testing.assert_array_equal(raw.hr[[3, 1], 2:5], hr[[3, 1], 2:5])
    assert len(Pack(tmp_path / "raw" / "hr.pack").blob(0)) == 16 * 12 * 3
    assert len(Pack(tmp_path / "raw" / "flow.pack").blob(2)) == 16 * 12 * 2 * 2
    with pytest.raises(ValueError, match="frame codec 'jpeg'"):
        write_video_folder(tmp_path / "bad", hr=hr, lr=lr, flow=flow, codec="jpeg")
