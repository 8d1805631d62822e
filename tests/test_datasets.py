"""Dataset listings: the official UCF101/HMDB51 split files and small fake layouts."""
from __future__ import annotations

import logging
import shutil
from pathlib import Path

import numpy as np
import pytest

from arsr.data.datasets import DatasetError, VideoRecord, list_folder, list_hmdb51, list_ucf101
from arsr.data.video import write_video

UCF_COUNTS = {1: (9537, 3783), 2: (9586, 3734), 3: (9624, 3696)}


def _ucf_lists(refdata: Path) -> Path:
    return refdata / "splits" / "ucfTrainTestlist"


def _hmdb_lists(refdata: Path) -> Path:
    return refdata / "splits" / "hmdb51" / "testTrainMulti_7030_splits"


def _placeholders(root: Path, rels) -> None:
    for rel in rels:
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.touch()


# --------------------------------------------------------------------------------------------
# The official files

@pytest.mark.parametrize("split", [1, 2, 3])
def test_ucf101_official_lists(refdata, split):
    records = list_ucf101("/nonexistent", split=split, splits_dir=_ucf_lists(refdata),
                          check_files=False)
    train, test = records.split("train"), records.split("test")
    assert (len(train), len(test)) == UCF_COUNTS[split]
    assert len(records.class_names) == 101
    assert records.class_names[:2] == ["ApplyEyeMakeup", "ApplyLipstick"]
    assert records.class_names[-1] == "YoYo"
    assert {r.label for r in train} == set(range(101)) == {r.label for r in test}
    assert len({r.video_id for r in records}) == len(records)
    assert records.skipped == 0
    # every clip's label agrees with the class in its file name (up to the official case quirk)
    for r in records:
        assert r.video_id.split("/")[1][2:].rsplit("_g", 1)[0].lower() == r.class_name.lower()
    hsp = [r for r in records if r.class_name == "HandstandPushups"]
    assert hsp and all("v_HandStandPushups_" in r.path.name for r in hsp)
    assert all(r.path.parent.name == "HandstandPushups" for r in hsp)


def test_ucf101_split1_on_a_placeholder_root_with_crlf_lists(refdata, tmp_path):
    """The official split-1 lists, converted to CRLF as in the release, on a root where every
    listed clip exists (as an empty file); the HandstandPushups folder spelled as in some
    extractions ("HandStandPushups")."""
    lists = tmp_path / "lists"
    lists.mkdir()
    for name in ("classInd.txt", "trainlist01.txt", "testlist01.txt"):
        text = (_ucf_lists(refdata) / name).read_text()
        (lists / name).write_bytes(text.replace("\r\n", "\n").replace("\n", "\r\n").encode())
    parsed = list_ucf101(tmp_path, splits_dir=lists, check_files=False)
    root = tmp_path / "UCF-101"
    _placeholders(root, [r.path.relative_to(tmp_path).as_posix().replace(
        "HandstandPushups/", "HandStandPushups/") for r in parsed])
    records = list_ucf101(root, split=1, splits_dir=lists)
    assert (len(records.split("train")), len(records.split("test"))) == UCF_COUNTS[1]
    assert all(r.path.is_file() for r in records)
    assert [r.video_id for r in records] == [r.video_id for r in parsed]
    hsp = next(r for r in records if r.class_name == "HandstandPushups")
    assert hsp.path.parent.name == "HandStandPushups"


def test_ucf101_lists_beside_root(refdata, tmp_path):
    root = tmp_path / "UCF-101"
    shutil.copytree(_ucf_lists(refdata), tmp_path / "ucfTrainTestlist")
    parsed = list_ucf101(root, check_files=False)
    _placeholders(root, [r.path.relative_to(root) for r in parsed if r.label < 3])
    with pytest.raises(DatasetError, match="class 'BabyCrawling' \\(and 97 more: BalanceBeam, .*on_empty_class: drop"):
        list_ucf101(root, on_missing="skip")  # a subset of the classes: each class left empty is said
    records = list_ucf101(root, on_missing="skip", on_empty_class="drop")
    assert {r.label for r in records} == {0, 1, 2} and len(records.class_names) == 3
    assert len(records.dropped_classes) == 98 and records.dropped_classes[0] == "BabyCrawling"
    assert records.skipped == len(parsed) - len(records) > 12000


def test_hmdb51_official_lists(refdata):
    records = list_hmdb51("/nonexistent", split=1, splits_dir=_hmdb_lists(refdata),
                          check_files=False)
    assert len(records.split("train")) == 3570
    assert len(records.split("test")) == 1530
    assert len(records.class_names) == 51
    assert records.class_names == sorted(records.class_names)
    assert records.class_names[:3] == ["brush_hair", "cartwheel", "catch"]
    assert records.class_names[-1] == "wave"
    assert len({r.video_id for r in records}) == len(records)
    # 70 train / 30 test clips per class
    for label in range(51):
        assert sum(r.label == label and r.split == "train" for r in records) == 70
        assert sum(r.label == label and r.split == "test" for r in records) == 30
    first = records[0]
    assert first.class_name == "brush_hair" and first.split == "train"
    assert first.path == Path("/nonexistent/brush_hair") / first.path.name
    assert first.video_id == f"brush_hair/{first.path.stem}"


def test_hmdb51_on_a_placeholder_root(refdata, tmp_path):
    parsed = list_hmdb51(tmp_path, split=2, splits_dir=_hmdb_lists(refdata), check_files=False)
    _placeholders(tmp_path / "hmdb51", [r.path.relative_to(tmp_path) for r in parsed])
    records = list_hmdb51(tmp_path / "hmdb51", split=2, splits_dir=_hmdb_lists(refdata))
    assert len(records) == 5100
    assert all(r.path.is_file() for r in records)
    # file names with brackets, '!' and ';' (as the release has) are found
    assert any("[" in r.path.name for r in records)


# --------------------------------------------------------------------------------------------
# Small fake layouts

def _tiny_clip(path: Path) -> None:
    write_video(path, np.full((2, 8, 8, 3), 100, np.uint8))


@pytest.fixture
def tiny_ucf(tmp_path) -> Path:
    """Two classes, three groups each; test = group 1 of each class."""
    root = tmp_path / "ucf"
    lists = root / "ucfTrainTestlist"
    lists.mkdir(parents=True)
    (lists / "classInd.txt").write_bytes(b"1 Jump\r\n2 Spin\r\n")
    train, test = [], []
    for label, cls in enumerate(["Jump", "Spin"], 1):
        for g in (1, 2, 3):
            rel = f"{cls}/v_{cls}_g{g:02d}_c01.avi"
            _tiny_clip(root / rel)
            (test if g == 1 else train).append(rel if g == 1 else f"{rel} {label}")
    (lists / "trainlist01.txt").write_text("\r\n".join(train) + "\r\n")
    (lists / "testlist01.txt").write_text("\n".join(test) + "\n\n")
    return root


def test_tiny_ucf_layout(tiny_ucf):
    records = list_ucf101(tiny_ucf)
    assert records.class_names == ["Jump", "Spin"]
    assert records[0] == VideoRecord(tiny_ucf / "Jump/v_Jump_g02_c01.avi", "Jump/v_Jump_g02_c01",
                                     0, "Jump", "train")
    assert [r.split for r in records] == ["train"] * 4 + ["test"] * 2
    assert [r.label for r in records.split("test")] == [0, 1]
    assert records.skipped == 0


def test_missing_files_error_names_them(tiny_ucf):
    (tiny_ucf / "Spin/v_Spin_g03_c01.avi").unlink()
    (tiny_ucf / "Jump/v_Jump_g01_c01.avi").unlink()
    with pytest.raises(DatasetError) as info:
        list_ucf101(tiny_ucf)
    message = str(info.value)
    assert "2 of 6 listed UCF101 videos" in message
    assert "Spin/v_Spin_g03_c01.avi" in message and "trainlist01.txt" in message
    assert "Jump/v_Jump_g01_c01.avi" in message and "testlist01.txt" in message
    assert "data.on_bad_video: skip" in message and "on_missing='skip'" in message  # params key, then Python
    assert sorted(info.value.files) == ["Jump/v_Jump_g01_c01.avi", "Spin/v_Spin_g03_c01.avi"]


def test_missing_files_skipped_and_counted(tiny_ucf, caplog):
    (tiny_ucf / "Spin/v_Spin_g03_c01.avi").unlink()
    with caplog.at_level(logging.WARNING):
        records = list_ucf101(tiny_ucf, on_missing="skip")
    assert len(records) == 5 and records.skipped == 1
    assert records.skipped_files == ["Spin/v_Spin_g03_c01.avi"]
    assert "v_Spin_g03_c01" in caplog.text


def test_flat_layout_and_splits_dir_override(tiny_ucf, tmp_path):
    flat = tmp_path / "flat"
    flat.mkdir()
    for clip in tiny_ucf.glob("*/*.avi"):
        shutil.copy(clip, flat / clip.name)
    records = list_ucf101(flat, splits_dir=tiny_ucf / "ucfTrainTestlist")
    assert len(records) == 6 and all(r.path.parent == flat for r in records)


def test_ucf_errors(tiny_ucf, tmp_path):
    with pytest.raises(DatasetError, match="no such UCF101 folder"):
        list_ucf101(tmp_path / "absent")
    with pytest.raises(DatasetError, match="1, 2 and 3"):
        list_ucf101(tiny_ucf, split=4)
    with pytest.raises(DatasetError, match="lacks trainlist02.txt, testlist02.txt"):
        list_ucf101(tiny_ucf, split=2)
    with pytest.raises(DatasetError, match="split lists not found"):
        list_ucf101(tiny_ucf, splits_dir=tmp_path / "nowhere")
    with pytest.raises(ValueError, match="on_missing"):
        list_ucf101(tiny_ucf, on_missing="ignore")
    lists = tiny_ucf / "ucfTrainTestlist"
    (lists / "trainlist01.txt").write_text("Jump/v_Jump_g02_c01.avi 2\n")
    with pytest.raises(DatasetError, match=r"trainlist01.txt, line 1: label 2 says class 'Spin'"):
        list_ucf101(tiny_ucf)
    (lists / "trainlist01.txt").write_text("Hop/v_Hop_g02_c01.avi 1\n")
    with pytest.raises(DatasetError, match="class 'Hop' is not in"):
        list_ucf101(tiny_ucf)
    (lists / "trainlist01.txt").write_text("Jump/v_Jump_g02_c01.avi 1\nJump/v_Jump_g02_c01.avi 1\n")
    with pytest.raises(DatasetError, match="listed twice"):
        list_ucf101(tiny_ucf)


def _with_third_class(root: Path) -> None:
    """Adds "Roll" (label 3) after Jump and Spin, with one training and one test clip."""
    lists = root / "ucfTrainTestlist"
    (lists / "classInd.txt").write_text("1 Jump\n2 Spin\n3 Roll\n")
    for g, list_file, label in ((1, "testlist01.txt", ""), (2, "trainlist01.txt", " 3")):
        rel = f"Roll/v_Roll_g{g:02d}_c01.avi"
        _tiny_clip(root / rel)
        with open(lists / list_file, "a") as f:
            f.write(f"{rel}{label}\n")


def test_an_empty_class_stops_or_is_dropped_with_dense_labels(tiny_ucf, caplog):
    """A class in the middle of classInd.txt whose videos are all gone: one line naming it and
    the fix, or (on_empty_class="drop") left out, the classes after it renumbered: never a gap."""
    _with_third_class(tiny_ucf)
    shutil.rmtree(tiny_ucf / "Spin")
    tiny_ucf.joinpath("Spin").mkdir()  # the class folder is there, empty
    with pytest.raises(DatasetError) as info:
        list_ucf101(tiny_ucf, on_missing="skip")
    message = str(info.value)
    assert "\n" not in message and "class 'Spin'" in message and str(tiny_ucf / "Spin") in message
    assert "data.on_empty_class: drop" in message
    with caplog.at_level(logging.WARNING):
        records = list_ucf101(tiny_ucf, on_missing="skip", on_empty_class="drop")
    assert records.class_names == ["Jump", "Roll"] and records.dropped_classes == ["Spin"]
    assert {r.class_name: r.label for r in records} == {"Jump": 0, "Roll": 1}
    assert records.skipped == 3 and "Spin" in caplog.text and "on_empty_class" in caplog.text
    with pytest.raises(ValueError, match="data.on_empty_class"):
        list_ucf101(tiny_ucf, on_empty_class="skip")


def test_a_last_class_without_lines_is_not_dropped_silently(tiny_ucf):
    (tiny_ucf / "ucfTrainTestlist" / "classInd.txt").write_text("1 Jump\n2 Spin\n3 Hop\n")
    with pytest.raises(DatasetError, match="class 'Hop' has no video in split 1"):
        list_ucf101(tiny_ucf)
    records = list_ucf101(tiny_ucf, on_empty_class="drop")
    assert records.class_names == ["Jump", "Spin"] and records.dropped_classes == ["Hop"]
    assert sorted({r.label for r in records}) == [0, 1]


def test_tiny_hmdb_layout(tmp_path):
    root, lists = tmp_path / "hmdb", tmp_path / "hmdb" / "testTrainMulti_7030_splits"
    lists.mkdir(parents=True)
    for cls in ("wave", "clap"):
        lines = []
        for i, flag in enumerate([1, 1, 2, 0]):
            name = f"Clip!_{cls}_u_nm_np1_fr_goo_{i}.avi"
            _tiny_clip(root / cls / name)
            lines.append(f"{name} {flag} ")
        (lists / f"{cls}_test_split1.txt").write_text("\n".join(lines) + "\n")
    records = list_hmdb51(root)
    assert records.class_names == ["clap", "wave"]
    assert [(r.class_name, r.split) for r in records] == [
        ("clap", "train"), ("clap", "train"), ("wave", "train"), ("wave", "train"),
        ("clap", "test"), ("wave", "test")]
    assert records[0].video_id == "clap/Clip!_clap_u_nm_np1_fr_goo_0"
    assert not any(r.path.stem.endswith("_3") for r in records)  # flag 0: unused
    (root / "wave" / "Clip!_wave_u_nm_np1_fr_goo_2.avi").unlink()
    with pytest.raises(DatasetError, match="1 of 6 listed HMDB51 videos.*wave_test_split1.txt"):
        list_hmdb51(root)
    assert list_hmdb51(root, on_missing="skip").skipped == 1
    with pytest.raises(DatasetError, match=r"no '\*_test_split2.txt' files"):
        list_hmdb51(root, split=2)
    (lists / "wave_test_split1.txt").write_text("a.avi 3\n")
    with pytest.raises(DatasetError, match="wave_test_split1.txt, line 1"):
        list_hmdb51(root)


def test_hmdb_split_file_without_entries_is_an_empty_class(tmp_path):
    root, lists = tmp_path / "hmdb", tmp_path / "hmdb" / "testTrainMulti_7030_splits"
    lists.mkdir(parents=True)
    for cls in ("clap", "jump", "wave"):
        lines = []
        for i, flag in enumerate([1, 2]):
            name = f"{cls}_{i}.avi"
            _tiny_clip(root / cls / name)
            lines.append(f"{name} {flag if cls != 'jump' else 0}")  # jump: every clip unused
        (lists / f"{cls}_test_split1.txt").write_text("\n".join(lines) + "\n")
    with pytest.raises(DatasetError) as info:
        list_hmdb51(root)
    assert "class 'jump'" in str(info.value) and "jump_test_split1.txt" in str(info.value)
    assert "data.on_empty_class: drop" in str(info.value)
    records = list_hmdb51(root, on_empty_class="drop")
    assert records.class_names == ["clap", "wave"] and records.dropped_classes == ["jump"]
    assert {r.class_name: r.label for r in records} == {"clap": 0, "wave": 1}


def test_list_folder(tmp_path):
    root = tmp_path / "videos"
    for rel in ("b/z.MP4", "a.avi", "b/a/c.mkv", ".hidden/x.avi", "b/.tmp.avi", "notes.txt",
                "b/y.webm", "c.mov"):
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).touch()
    records = list_folder(root)
    assert [r.video_id for r in records] == ["a", "b/a/c", "b/y", "b/z", "c"]
    assert all(r.label == -1 and r.split == "unlabelled" and r.class_name == "" for r in records)
    (root / "b" / "gone.avi").symlink_to(root / "nowhere.avi")
    with pytest.raises(DatasetError, match="point at nothing.*b/gone.avi"):
        list_folder(root)
    assert list_folder(root, on_missing="skip").skipped == 1


def test_list_folder_errors(tmp_path):
    with pytest.raises(DatasetError, match="no such folder"):
        list_folder(tmp_path / "absent")
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "readme.txt").touch()
    with pytest.raises(DatasetError, match="holds no video files"):
        list_folder(tmp_path / "empty")
    assert list(list_folder(tmp_path / "empty", on_missing="skip")) == []
    assert list(list_folder(tmp_path / "absent", on_missing="skip")) == []
