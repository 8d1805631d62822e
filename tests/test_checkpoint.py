"""arsr.checkpoint: one versioned last.pt format, one error naming the file and the fix."""
from __future__ import annotations

import pytest
import torch

from arsr.checkpoint import FORMAT_VERSION, CheckpointError, check_settings, load_checkpoint, save_checkpoint


def test_round_trip_and_format(tmp_path):
    path = tmp_path / "last.pt"
    save_checkpoint(path, {"iteration": 7, "config": {"lr": 0.1}, "model": {"w": torch.ones(2)}})
    state = load_checkpoint(path)
    assert state["format"] == FORMAT_VERSION and state["iteration"] == 7
    assert torch.equal(state["model"]["w"], torch.ones(2))
    assert [p.name for p in tmp_path.iterdir()] == ["last.pt"]  # no temporary file left


def test_unresumable_files_say_which_and_what_to_do(tmp_path):
    bad = tmp_path / "truncated.pt"
    bad.write_bytes(b"PK\x03\x04 not a whole file")
    with pytest.raises(CheckpointError, match=r"truncated\.pt cannot be read as a training checkpoint.*delete it"):
        load_checkpoint(bad)
    foreign = tmp_path / "weights.pt"
    torch.save({"w": torch.ones(1)}, foreign)  # a state_dict, not a checkpoint
    with pytest.raises(CheckpointError, match=r"weights\.pt is not a training checkpoint written by arsr"):
        load_checkpoint(foreign)
    older = tmp_path / "older.pt"
    torch.save({"iteration": 1, "config": {}, "format": 0}, older)
    # a ValueError, so that callers reporting bad settings (the CLI) report it too; the whole message: the
    # file's full path, what is wrong with it and the fix
    with pytest.raises(ValueError) as err:
        load_checkpoint(older)
    assert err.type is CheckpointError
    assert str(err.value) == (f"{older} has checkpoint format 0, this arsr writes {FORMAT_VERSION}: delete it to "
                              "start the run afresh")


def test_check_settings_names_each_difference(tmp_path):
    check_settings("last.pt", {"a": 1, "b": [2]}, {"b": [2], "a": 1})  # same: resumes
    with pytest.raises(CheckpointError, match=r"last\.pt was written by a run with other model settings "
                                              r"\(a: checkpoint 1 vs now 3; c: checkpoint None vs now 'x'\)"):
        check_settings("last.pt", {"a": 1, "b": 2}, {"a": 3, "b": 2, "c": "x"}, "model settings")
