"""Persisted stage outputs are reused for the same settings and reset for others."""
from __future__ import annotations

from arsr.mapping import changes
from arsr.study.persist import file_digest, reuse_or_reset


def test_same_settings_keep_the_folder_other_settings_empty_it(tmp_path):
    folder = tmp_path / "seed0"
    assert reuse_or_reset(folder, {"lr": 1e-3, "phases": [["sr", {"it": 5}]]}) is False
    (folder / "last.pt").write_bytes(b"checkpoint")
    # a killed run restarted with the same settings resumes from what is there
    assert reuse_or_reset(folder, {"phases": [["sr", {"it": 5}]], "lr": 1e-3}) is False
    assert (folder / "last.pt").exists()
    # a changed knob: the old checkpoint must not be resumed
    assert reuse_or_reset(folder, {"lr": 2e-3, "phases": [["sr", {"it": 5}]]}) is True
    assert not (folder / "last.pt").exists() and (folder / "settings.json").exists()


def test_folder_without_a_record_is_reset(tmp_path):
    folder = tmp_path / "old"
    folder.mkdir()
    (folder / "model.pt").write_bytes(b"x")
    assert reuse_or_reset(folder, {"a": 1}) is True
    assert [p.name for p in folder.iterdir()] == ["settings.json"]


def test_file_digest_changes_with_content(tmp_path):
    a = tmp_path / "a.pt"
    a.write_bytes(b"one")
    first = file_digest(a)
    a.write_bytes(b"two")
    assert file_digest(a) != first


def test_a_reset_is_logged_in_one_line_naming_what_differs(tmp_path, caplog):
    folder = tmp_path / "tsn_rgb"
    reuse_or_reset(folder, {"config": {"lr": 0.1}, "dataset": "3fa1", "name": "tsn_rgb"})
    with caplog.at_level("WARNING", logger="arsr.study.persist"):
        assert reuse_or_reset(folder, {"config": {"lr": 0.2}, "dataset": "9b20", "name": "tsn_rgb"}) is True
    assert caplog.messages == [f"{folder} was made with other settings (config; dataset: 3fa1 -> 9b20): "
                               "emptying it to make it again"]


def test_changes_name_the_keys_that_differ():
    assert changes({"a": 1, "b": {"x": 1}}, {"a": 1, "b": {"x": 1}}) == []
    assert changes({"a": 1, "b": {"x": 1}}, {"a": 2, "b": {"x": 2}, "c": "new"}) == [
        "a: 1 -> 2",
        "b",
        "c: (none) -> new",
    ]
    assert changes({"path": "x" * 41}, {}) == ["path"]  # too long for one line: named only
