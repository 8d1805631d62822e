"""The prepare stage: frames, LR and flow on disk, resumable, bad videos handled."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from arsr.data.prepare import PrepareSettings, list_dataset, prepare_dataset
from arsr.data.store import PreparedDataset, video_key
from arsr.data.video import VideoReadError, read_video, write_video
from arsr.ops import imresize

TINY = {"n_classes": 10, "clips_per_class": 2, "n_unlabelled": 2, "frames_min": 6,
        "frames_max": 8, "width": 64, "height": 48, "seed": 0}


def _data(root, **kw):
    return {"dataset": "synthetic", "root": str(root), "split": 1, "splits_dir": None,
            "sr_root": None, "on_bad_video": "error", "synthetic": dict(TINY), **kw}


@pytest.fixture(scope="module")
def tiny_records(tmp_path_factory):
    root = tmp_path_factory.mktemp("synthetic")
    records, missing = list_dataset(_data(root), workers=1, progress=False)
    return records, missing


def test_list_synthetic(tiny_records):
    records, missing = tiny_records
    assert missing == []
    splits = {r.split for r in records}
    assert splits == {"train", "test", "unlabelled"}
    assert len([r for r in records if r.split == "unlabelled"]) == TINY["n_unlabelled"]
    assert len({r.label for r in records if r.label >= 0}) == TINY["n_classes"]


def test_prepare_writes_hr_lr_flow(tiny_records, tmp_path):
    records, _ = tiny_records
    settings = PrepareSettings(scale=4, flow_method="dis", hr_frames="source")
    index, stats = prepare_dataset(records[:4], tmp_path, settings, workers=1, progress=False)
    assert stats["prepared"] == 4 and stats["reused"] == 0
    ds = PreparedDataset(tmp_path)
    assert len(ds) == 4
    video = ds.video(index.iloc[0]["video_id"])
    t = video.n_frames
    assert TINY["frames_min"] <= t <= TINY["frames_max"]
    assert video.hr.shape == (t, 48, 64, 3) and video.hr.dtype == np.uint8
    assert video.lr.shape == (t, 12, 16, 3) and video.lr.dtype == np.uint8
    assert video.flow.shape == (t - 1, 48, 64, 2) and video.flow.dtype == np.float32
    # LR is bit-identical to imresize of the HR frame decoded from the source
    hr = read_video(records[0].path)[:t]
    np.testing.assert_array_equal(video.hr[:], hr)  # 64x48 is a multiple of 4: no crop
    for k in range(t):
        np.testing.assert_array_equal(video.lr[k], imresize(hr[k], 0.25))
    flow = np.asarray(video.flow)
    assert np.isfinite(flow).all() and np.abs(flow).max() > 0.1
    # compact: HR is decoded from the source, not stored
    assert video.meta["hr"]["codec"] == "source" and not (video.folder / "hr.pack").exists()
    assert (index["n_frames"] == [ds.video(v).n_frames for v in index["video_id"]]).all()


def test_stored_raw_frames_equal_the_compact_ones(tiny_records, tmp_path):
    """hr_frames: stored with frame_codec: raw (the default profile's) reads the same HR, LR and
    flow as the compact store (HR from the source, PNG packs), and has the same fingerprint only
    when the settings agree."""
    records, _ = tiny_records
    compact = PrepareSettings(scale=4, flow_method="dis", hr_frames="source", frame_codec="png")
    stored = PrepareSettings(scale=4, flow_method="dis", hr_frames="stored", frame_codec="raw")
    assert compact.fingerprint() != stored.fingerprint()
    assert stored.fingerprint() == PrepareSettings(scale=4, flow_method="dis", hr_frames="stored",
                                                   frame_codec="raw", flow_device="cuda").fingerprint()
    a_index, _ = prepare_dataset(records[:1], tmp_path / "a", compact, workers=1, progress=False)
    prepare_dataset(records[:1], tmp_path / "b", stored, workers=1, progress=False)
    vid = a_index.iloc[0]["video_id"]
    a, b = PreparedDataset(tmp_path / "a").video(vid), PreparedDataset(tmp_path / "b").video(vid)
    assert b.meta["hr"]["codec"] == "raw" and (b.folder / "hr.pack").is_file()
    for part in ("hr", "lr", "flow"):
        np.testing.assert_array_equal(np.asarray(getattr(b, part)), np.asarray(getattr(a, part)))


def test_prepare_resumes_only_unfinished(tiny_records, tmp_path):
    records, _ = tiny_records
    settings = PrepareSettings(scale=4, flow_method="dis")
    prepare_dataset(records[:3], tmp_path, settings, workers=1, progress=False)
    videos = tmp_path / "videos"
    killed = videos / video_key(records[1].video_id)
    mtime_kept = (videos / video_key(records[0].video_id) / "flow.pack").stat().st_mtime_ns
    import shutil
    shutil.rmtree(killed)
    (videos / f".{killed.name}.abc.tmp").mkdir()  # what a killed worker leaves behind
    index, stats = prepare_dataset(records[:3], tmp_path, settings, workers=1, progress=False)
    assert (stats["prepared"], stats["reused"]) == (1, 2)
    assert killed.is_dir() and not list(videos.glob(".*.tmp"))
    assert (videos / video_key(records[0].video_id) / "flow.pack").stat().st_mtime_ns == mtime_kept
    # other settings: every video is redone
    _, stats = prepare_dataset(records[:3], tmp_path, PrepareSettings(flow_method="farneback"),
                               workers=1, progress=False)
    assert (stats["prepared"], stats["reused"]) == (3, 0)


def test_prepare_redoes_a_video_whose_source_file_changed(tiny_records, tmp_path):
    """A regenerated dataset (same names, other files) is never served from old prepared frames."""
    import dataclasses
    import shutil

    records, _ = tiny_records
    sources = tmp_path / "sources"
    sources.mkdir()
    copies = []
    for r in records[:2]:
        shutil.copy(r.path, sources / Path(r.path).name)
        copies.append(dataclasses.replace(r, path=sources / Path(r.path).name))
    settings = PrepareSettings(scale=4, flow_method="dis")
    prepare_dataset(copies, tmp_path / "out", settings, workers=1, progress=False)
    shutil.copy(records[2].path, copies[0].path)  # another video under the first one's name
    index, stats = prepare_dataset(copies, tmp_path / "out", settings, workers=1, progress=False)
    assert (stats["prepared"], stats["reused"]) == (1, 1)


def test_prepare_in_a_process_pool(tiny_records, tmp_path):
    records, _ = tiny_records
    index, stats = prepare_dataset(records[:3], tmp_path, PrepareSettings(), workers=2,
                                   progress=False)
    assert stats["prepared"] == 3 and len(index) == 3


def test_bad_video_errors_or_is_skipped(tmp_path):
    folder = tmp_path / "videos"
    folder.mkdir()
    frames = np.random.default_rng(0).integers(0, 255, (5, 32, 32, 3), dtype=np.uint8)
    write_video(folder / "good.avi", frames)
    (folder / "zz_broken.avi").write_bytes(b"not a video at all" * 50)  # listed after good.avi
    data = _data(folder, dataset="folder")
    records, _ = list_dataset(data, progress=False)
    assert len(records) == 2
    with pytest.raises(VideoReadError, match=r"zz_broken\.avi.*on_bad_video: skip"):
        prepare_dataset(records, tmp_path / "out", PrepareSettings(), workers=1, progress=False)
    # the good video finished before the error stays prepared
    index, stats = prepare_dataset(records, tmp_path / "out", PrepareSettings(), workers=1,
                                   on_bad_video="skip", progress=False)
    assert stats["skipped_unreadable"] == 1 and stats["reused"] == 1 and len(index) == 1
    assert index.loc[0, "video_id"].startswith("unlabelled/") and "good" in index.loc[0, "video_id"]
    assert "broken" in next(iter(stats["unreadable"].values()))


def test_single_frame_video_is_a_bad_video(tmp_path):
    folder = tmp_path / "videos"
    folder.mkdir()
    write_video(folder / "one.avi", np.zeros((1, 32, 32, 3), np.uint8))
    records, _ = list_dataset(_data(folder, dataset="folder"), progress=False)
    with pytest.raises(VideoReadError, match="at least 2"):
        prepare_dataset(records, tmp_path / "out", PrepareSettings(), workers=1, progress=False)


def test_hr_size_and_crop(tiny_records, tmp_path):
    records, _ = tiny_records
    index, _ = prepare_dataset(records[:1], tmp_path, PrepareSettings(hr_size=(32, 24)),
                               workers=1, progress=False)
    assert (index.loc[0, "width"], index.loc[0, "height"]) == (32, 24)
    assert (index.loc[0, "lr_width"], index.loc[0, "lr_height"]) == (8, 6)


def test_missing_index_says_how_to_prepare(tmp_path):
    with pytest.raises(FileNotFoundError, match="dvc repro prepare"):
        PreparedDataset(tmp_path)


def test_resized_hr_is_stored_losslessly(tiny_records, tmp_path):
    """hr_size resizes: the working frames are no crop of the source, so they are stored (PNG)."""
    from arsr.data.prepare import working_size

    records, _ = tiny_records
    settings = PrepareSettings(scale=4, flow_method="dis", hr_size=(32, 24))
    index, _ = prepare_dataset(records[:1], tmp_path, settings, workers=1, progress=False)
    video = PreparedDataset(tmp_path).video(index.iloc[0]["video_id"])
    assert video.meta["hr"]["codec"] == "png" and (video.folder / "hr.pack").is_file()
    want = working_size(read_video(records[0].path), settings)
    np.testing.assert_array_equal(np.asarray(video.hr), want)
    np.testing.assert_array_equal(video.lr[1], imresize(want[1], 0.25))


def test_old_store_is_refused(tiny_records, tmp_path):
    """A data/interim of store format 1 (hr.npy, lr.npy, flow.npy) asks to re-run prepare."""
    from arsr.data.store import StoreFormatError

    records, _ = tiny_records
    index, _ = prepare_dataset(records[:1], tmp_path, PrepareSettings(), workers=1, progress=False)
    folder = tmp_path / "videos" / index.iloc[0]["key"]
    (folder / "meta.json").write_text('{"fingerprint": "x", "n_frames": 6}')
    with pytest.raises(StoreFormatError, match=r"store format 1.*dvc repro prepare"):
        PreparedDataset(tmp_path)


def test_disk_full_names_the_folder_and_the_bytes_and_keeps_finished_videos(tiny_records, tmp_path, monkeypatch):
    import errno

    import arsr.data.prepare as prep
    from arsr.io import DiskFullError

    records, _ = tiny_records
    real, calls = prep.write_video_folder, []

    def full_after_two(folder, **kw):
        calls.append(folder)
        if len(calls) > 2:
            raise OSError(errno.ENOSPC, "No space left on device")
        return real(folder, **kw)

    monkeypatch.setattr(prep, "write_video_folder", full_after_two)
    settings = PrepareSettings(scale=4, flow_method="dis")
    with pytest.raises(DiskFullError) as info:
        prepare_dataset(records[:5], tmp_path, settings, workers=1, progress=False)
    message = str(info.value)
    assert f"disk full while writing under {tmp_path / 'videos'}" in message
    assert "more for the 3 videos left" in message and "free there" in message and "kept" in message
    assert not (tmp_path / "index.csv").exists() and not list((tmp_path / "videos").glob(".*.tmp"))
    monkeypatch.setattr(prep, "write_video_folder", real)
    _, stats = prepare_dataset(records[:5], tmp_path, settings, workers=1, progress=False)
    assert (stats["prepared"], stats["reused"]) == (3, 2)


@pytest.mark.parametrize("codec", ["raw", "png"])
def test_a_damaged_pack_is_named_and_its_video_redone(tiny_records, tmp_path, codec):
    from arsr.data.store import StoreFormatError

    records, _ = tiny_records
    settings = PrepareSettings(scale=4, flow_method="dis", frame_codec=codec)
    index, _ = prepare_dataset(records[:2], tmp_path, settings, workers=1, progress=False)
    good = PreparedDataset(tmp_path).video(index.iloc[0]["video_id"]).lr[:]
    folder = tmp_path / "videos" / index.iloc[0]["key"]
    # a damaged frame inside an intact pack: named when read
    pack = folder / "lr.pack"
    data = bytearray(pack.read_bytes())
    if codec == "png":
        data[20:60] = bytes(40)  # inside the first frame's PNG: it no longer decodes
        pack.write_bytes(bytes(data))
        with pytest.raises(StoreFormatError, match=rf"{pack}: frame 0 is corrupt.*re-run prepare"):
            PreparedDataset(tmp_path).video(index.iloc[0]["video_id"]).lr[0]
    # a truncated pack: named when read, and redone by the next prepare
    pack.write_bytes(bytes(data[:-3]))
    with pytest.raises(StoreFormatError, match=str(pack)):
        PreparedDataset(tmp_path).video(index.iloc[0]["video_id"]).lr[0]
    _, stats = prepare_dataset(records[:2], tmp_path, settings, workers=1, progress=False)
    assert (stats["prepared"], stats["reused"]) == (1, 1)
    np.testing.assert_array_equal(PreparedDataset(tmp_path).video(index.iloc[0]["video_id"]).lr[:], good)
    # frame offsets that do not add up (a damaged trailer) are found by the next prepare too
    flow = folder / "flow.pack"
    blob = bytearray(flow.read_bytes())
    offsets_at = len(blob) - 16 - 8 * len(good)  # the n + 1 offsets of the T - 1 flow frames
    blob[offsets_at + 8:offsets_at + 16] = (10 ** 9).to_bytes(8, "little")
    flow.write_bytes(bytes(blob))
    _, stats = prepare_dataset(records[:2], tmp_path, settings, workers=1, progress=False)
    assert (stats["prepared"], stats["reused"]) == (1, 1)


def test_list_synthetic_holds_out_a_validation_group(tmp_path):
    cfg = {**TINY, "n_classes": 2, "clips_per_class": 4, "clips_per_group": 1, "n_unlabelled": 1}
    records, _ = list_dataset(_data(tmp_path, synthetic=cfg, validation_groups=1), workers=1, progress=False)
    splits = {r.video_id: r.split for r in records if r.label >= 0}
    # 4 groups of one clip: g01 test (the first 30%), g02-g03 train, g04 (the last training group) validation
    assert {v.split("_g")[-1]: s for v, s in splits.items() if v.startswith("SlideRight")} == {
        "01_c01": "test", "02_c01": "train", "03_c01": "train", "04_c01": "val"}
    index, _ = prepare_dataset(records, tmp_path / "interim", PrepareSettings(flow_method="farneback"), workers=1,
                               progress=False)
    assert len(PreparedDataset(tmp_path / "interim").split("val")) == 2
