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
    (folder / "zz_broken2.avi").write_bytes(b"not one either" * 50)
    data = _data(folder, dataset="folder")
    bad = tmp_path / "reports" / "bad_videos.txt"
    records, _ = list_dataset(data, progress=False, bad_videos=bad)
    assert len(records) == 3 and not bad.exists()
    with pytest.raises(VideoReadError, match=r"zz_broken\.avi.*and 1 more unreadable video, all listed in "
                       rf"{bad}.*on_bad_video: skip"):
        prepare_dataset(records, tmp_path / "out", PrepareSettings(), workers=1, progress=False, bad_videos=bad)
    # every bad video of the run is listed, not only the first
    lines = bad.read_text().splitlines()
    assert lines[0] == "problem\tvideo\tdetail" and len(lines) == 3
    assert [line.split("\t")[:2] for line in lines[1:]] == [["unreadable", "unlabelled/zz_broken"],
                                                            ["unreadable", "unlabelled/zz_broken2"]]
    # the good video finished before the error stays prepared
    index, stats = prepare_dataset(records, tmp_path / "out", PrepareSettings(), workers=1,
                                   on_bad_video="skip", progress=False, bad_videos=bad)
    assert stats["skipped_unreadable"] == 2 and stats["reused"] == 1 and len(index) == 1
    assert index.loc[0, "video_id"].startswith("unlabelled/") and "good" in index.loc[0, "video_id"]
    assert "broken" in next(iter(stats["unreadable"].values()))
    assert len(bad.read_text().splitlines()) == 3
    (folder / "zz_broken.avi").unlink()
    (folder / "zz_broken2.avi").unlink()
    records, _ = list_dataset(data, progress=False, bad_videos=bad)
    prepare_dataset(records, tmp_path / "out", PrepareSettings(), workers=1, progress=False, bad_videos=bad)
    assert not bad.exists()  # a run without bad videos leaves no list of an older run's


def _tiny_ucf(root: Path, classes=("Jump", "Spin", "Roll")) -> None:
    """A UCF101 layout with one training and one test clip per class."""
    lists = root / "ucfTrainTestlist"
    lists.mkdir(parents=True)
    (lists / "classInd.txt").write_text("".join(f"{k} {c}\n" for k, c in enumerate(classes, 1)))
    rng = np.random.default_rng(0)
    train, test = [], []
    for label, cls in enumerate(classes, 1):
        for g in (1, 2):
            rel = f"{cls}/v_{cls}_g{g:02d}_c01.avi"
            (root / cls).mkdir(exist_ok=True)
            write_video(root / rel, rng.integers(0, 255, (3, 16, 16, 3), dtype=np.uint8))
            (test if g == 1 else train).append(rel if g == 1 else f"{rel} {label}")
    (lists / "trainlist01.txt").write_text("\n".join(train) + "\n")
    (lists / "testlist01.txt").write_text("\n".join(test) + "\n")


def test_an_empty_class_stops_prepare_or_is_dropped_with_dense_labels(tmp_path):
    import shutil

    from arsr.data.datasets import DatasetError

    root = tmp_path / "ucf"
    _tiny_ucf(root)
    shutil.rmtree(root / "Spin")
    (root / "Spin").mkdir()
    bad = tmp_path / "bad_videos.txt"
    data = _data(root, dataset="ucf101", on_bad_video="skip", validation_groups=0)
    with pytest.raises(DatasetError, match="class 'Spin'.*data.on_empty_class: drop"):
        list_dataset(data, progress=False, bad_videos=bad)
    records, missing = list_dataset({**data, "on_empty_class": "drop"}, progress=False, bad_videos=bad)
    assert records.dropped_classes == ["Spin"] and len(missing) == 2 and len(bad.read_text().splitlines()) == 3
    prepare_dataset(records, tmp_path / "interim", PrepareSettings(flow_method="farneback"), workers=1,
                    progress=False)
    ds = PreparedDataset(tmp_path / "interim")
    assert ds.class_names == ["Jump", "Roll"]
    assert dict(zip(ds.index["class_name"], ds.index["label"])) == {"Jump": 0, "Roll": 1}


def test_a_label_gap_is_refused(tiny_records, tmp_path):
    """Records numbered with a gap (built by hand) never reach classes.csv, and a classes.csv with
    one (an older prepare's) is refused on reading: a K-way classifier would meet label K."""
    import dataclasses

    from arsr.data.store import StoreFormatError

    records, _ = tiny_records
    labelled = [r for r in records if r.label >= 0]
    firsts = [next(r for r in labelled if r.label == k) for k in (0, 1, 2)]
    gap = [firsts[0], firsts[1], dataclasses.replace(firsts[2], label=3)]
    with pytest.raises(StoreFormatError, match=r"classes.csv: labels \[0, 1, 3\] are not 0..2.*missing: \[2\]"):
        prepare_dataset(gap, tmp_path, PrepareSettings(flow_method="farneback"), workers=1, progress=False)
    assert not (tmp_path / "classes.csv").exists()
    prepare_dataset(firsts, tmp_path, PrepareSettings(flow_method="farneback"), workers=1, progress=False)
    (tmp_path / "classes.csv").write_text((tmp_path / "classes.csv").read_text().replace("\n2,", "\n3,"))
    with pytest.raises(StoreFormatError, match="dvc repro prepare"):
        PreparedDataset(tmp_path)


def test_missing_videos_are_all_listed_with_the_params_key(tmp_path):
    from arsr.data.datasets import DatasetError

    root = tmp_path / "ucf"
    _tiny_ucf(root)
    for cls in ("Jump", "Spin", "Roll"):
        (root / cls / f"v_{cls}_g02_c01.avi").unlink()
    bad = tmp_path / "bad_videos.txt"
    with pytest.raises(DatasetError, match=rf"data.on_bad_video: skip.*\(all 3 listed in {bad}\)"):
        list_dataset(_data(root, dataset="ucf101", validation_groups=0), progress=False, bad_videos=bad)
    assert sorted(line.split("\t")[1] for line in bad.read_text().splitlines()[1:]) == [
        f"{c}/v_{c}_g02_c01.avi" for c in ("Jump", "Roll", "Spin")]


def _tree_digests(folder: Path) -> dict[str, str]:
    import hashlib

    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def test_a_resumed_prepare_leaves_the_store_byte_identical(tiny_records, tmp_path, monkeypatch):
    """Run counters (prepared now, reused, seconds) stay out of the store: a prepare killed half way
    and run again leaves every file of the DVC-tracked folder as a straight run leaves it, so the
    folder's hash, and the stages downstream, do not change."""
    import arsr.data.prepare as prep

    records, _ = tiny_records
    settings = PrepareSettings(scale=4, flow_method="farneback")
    _, straight = prepare_dataset(records[:4], tmp_path / "straight", settings, workers=1, progress=False)
    real, calls = prep.write_video_folder, []

    def killed_after_two(folder, **kw):
        calls.append(folder)
        if len(calls) > 2:
            raise KeyboardInterrupt  # Ctrl-C, or the stage killed
        return real(folder, **kw)

    monkeypatch.setattr(prep, "write_video_folder", killed_after_two)
    with pytest.raises(KeyboardInterrupt):
        prepare_dataset(records[:4], tmp_path / "resumed", settings, workers=1, progress=False)
    monkeypatch.setattr(prep, "write_video_folder", real)
    _, resumed = prepare_dataset(records[:4], tmp_path / "resumed", settings, workers=1, progress=False)
    assert (straight["reused"], resumed["reused"]) == (0, 2)  # the runs differ...
    assert _tree_digests(tmp_path / "resumed") == _tree_digests(tmp_path / "straight")  # ...their stores do not
    assert "prepare_stats.json" not in _tree_digests(tmp_path / "straight")


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


_PREPARE_SCRIPT = '''
import json, sys
from arsr.data.prepare import PrepareSettings, list_dataset, prepare_dataset
data = json.loads(sys.argv[1])
records, _ = list_dataset(data, workers=1, progress=False)
prepare_dataset(records, "data/interim", PrepareSettings(flow_method="farneback"), workers=1, progress=False)
'''


@pytest.mark.slow
def test_dvc_finds_the_stages_after_a_resumed_prepare_up_to_date(tmp_path):
    """The issue's check with DVC itself: prepare killed half way (a video folder and dataset.json
    gone) and run again by `dvc repro`; the stage after it is not run again."""
    import json
    import os
    import shutil
    import subprocess
    import sys

    dvc = shutil.which("dvc", path=str(Path(sys.executable).parent)) or shutil.which("dvc")
    if dvc is None:
        pytest.skip("no dvc command beside this Python")
    repo = tmp_path / "study"
    repo.mkdir()
    (repo / "prepare.py").write_text(_PREPARE_SCRIPT)
    data = _data(repo / "raw", synthetic={**TINY, "n_classes": 2, "clips_per_class": 2, "n_unlabelled": 1})
    stages = {"stages": {
        "prepare": {"cmd": f"{sys.executable} prepare.py '{json.dumps(data)}'", "deps": ["prepare.py"],
                    "outs": [{"data/interim": {"persist": True}}]},
        "after": {"cmd": "ls data/interim/videos > after.txt && date +%s%N >> after.txt",
                  "deps": ["data/interim"], "outs": ["after.txt"]}}}
    (repo / "dvc.yaml").write_text(json.dumps(stages))
    (repo / "params.yaml").write_text("{}\n")  # with dvc.yaml: a study root for arsr.paths
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1]), "ARSR_ROOT": str(repo)}

    def run(*argv) -> str:
        done = subprocess.run([dvc, *argv], cwd=repo, env=env, capture_output=True, text=True, timeout=600)
        assert done.returncode == 0, done.stdout + done.stderr
        return done.stdout

    run("init", "--no-scm", "-q")
    run("repro")
    first = (repo / "after.txt").read_text()
    videos = sorted((repo / "data/interim/videos").iterdir())
    shutil.rmtree(videos[1])  # what a killed prepare leaves: a video missing, no fingerprint
    (repo / "data/interim/dataset.json").unlink()
    assert "prepare" in run("status")
    out = run("repro")
    assert "Running stage 'prepare'" in out and "Running stage 'after'" not in out, out
    assert (repo / "after.txt").read_text() == first
    assert "up to date" in run("status")
