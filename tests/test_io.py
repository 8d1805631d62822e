"""Atomic writes: a failure midway leaves the old file (or nothing), never a partial one."""
from __future__ import annotations

import json

import numpy as np
import pytest

from arsr.io import atomic_dir, atomic_path, save_npy, write_json, write_text
from arsr.paths import repo_root, resolve


def test_failed_write_keeps_the_old_file_and_leaves_no_temp(tmp_path):
    target = tmp_path / "out.txt"
    write_text(target, "old")
    with pytest.raises(RuntimeError):
        with atomic_path(target) as tmp:
            tmp.write_text("half")
            raise RuntimeError("killed")
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["out.txt"]


def test_atomic_dir_replaces_whole_or_not_at_all(tmp_path):
    folder = tmp_path / "video"
    with atomic_dir(folder) as tmp:
        (tmp / "a.npy").write_bytes(b"1")
    with pytest.raises(ValueError):
        with atomic_dir(folder) as tmp:
            (tmp / "b.npy").write_bytes(b"2")
            raise ValueError("killed")
    assert sorted(p.name for p in folder.iterdir()) == ["a.npy"]
    assert [p.name for p in tmp_path.iterdir()] == ["video"]


def test_json_and_npy(tmp_path):
    write_json(tmp_path / "m.json", {"x": np.float32(1.5), "n": np.int64(3), "a": np.arange(2)})
    assert json.loads((tmp_path / "m.json").read_text()) == {"a": [0, 1], "n": 3, "x": 1.5}
    save_npy(tmp_path / "a.npy", np.arange(4))
    assert np.load(tmp_path / "a.npy").tolist() == [0, 1, 2, 3]


def test_repo_root_from_a_subfolder_and_env(tmp_path, monkeypatch):
    (tmp_path / "dvc.yaml").write_text("stages: {}\n")
    (tmp_path / "params.yaml").write_text("{}\n")
    (tmp_path / "notebooks").mkdir()
    monkeypatch.delenv("ARSR_ROOT", raising=False)
    assert repo_root(tmp_path / "notebooks") == tmp_path
    monkeypatch.chdir(tmp_path / "notebooks")
    assert resolve("data/interim") == tmp_path / "data/interim"
    monkeypatch.setenv("ARSR_ROOT", str(tmp_path / "notebooks"))
    assert repo_root() == tmp_path / "notebooks"
    monkeypatch.delenv("ARSR_ROOT")
    with pytest.raises(FileNotFoundError, match="ARSR_ROOT"):
        repo_root("/")
