"""Prepare and evaluation sharded over torchrun processes (arsr.shards, arsr.study.sharded):
disjoint deterministic slices, the merge equal to the single-process run, resume per video.
Two Gloo ranks on the CPU, launched with ``python -m torch.distributed.run`` (torchrun)."""
from __future__ import annotations

import copy
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from arsr.data.prepare import PrepareSettings, list_dataset, prepare_dataset
from arsr.shards import Shard, barrier, is_split, progress_label, rank_ordered
from arsr.study.evaluation import evaluate_stage
from arsr.study.layout import eval_item
from arsr.study.recognizers import train_recognizers

from test_recognition_train import write_toy_store
from test_study_stages import EVALUATE, PREPARE, TINY_RECOGNITION

REPO = Path(__file__).resolve().parents[1]
SYNTHETIC = {"n_classes": 3, "clips_per_class": 2, "n_unlabelled": 2, "frames_min": 6, "frames_max": 7,
             "width": 48, "height": 32, "seed": 3}


# ---------------------------------------------------------------------------------------------
# The slices


def test_slices_are_disjoint_cover_and_keep_order():
    items = list(range(11))
    parts = [Shard(r, 3).take(items) for r in range(3)]
    assert parts == [[0, 3, 6, 9], [1, 4, 7, 10], [2, 5, 8]]
    assert sorted(x for p in parts for x in p) == items
    frame = pd.DataFrame({"key": list("abcde")})
    assert Shard(1, 2).take(frame)["key"].tolist() == ["b", "d"]
    assert Shard(0, 1).take(items) == items
    assert Shard(4, 5).take([1, 2]) == []  # more ranks than items: nothing, not an error


def test_bad_shards_are_refused():
    for rank, world in ((2, 2), (-1, 2), (0, 0)):
        with pytest.raises(ValueError, match="0 <= rank < world"):
            Shard(rank, world)


def test_one_process_needs_no_process_group_and_several_do():
    assert not is_split(None) and not is_split(Shard(0, 1)) and is_split(Shard(1, 2))
    assert progress_label(Shard(0, 1)) == "" and progress_label(Shard(1, 4)) == " [rank 1/4]"
    barrier(Shard(0, 1))
    with rank_ordered(None):
        pass
    with pytest.raises(RuntimeError, match="no torch.distributed process group.*torchrun"):
        barrier(Shard(1, 2))


# ---------------------------------------------------------------------------------------------
# Under torchrun


def _torchrun(*args, nproc=2, timeout=600):
    env = {**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1"}
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={nproc}",
           "-m", "arsr.study.sharded", "--quiet", *map(str, args)]
    done = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=timeout)
    assert done.returncode == 0, f"torchrun failed ({done.returncode}):\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    return done.stdout


def _params_file(tmp_path, default_params, **groups):
    params = copy.deepcopy(default_params)
    for group, value in groups.items():
        params[group] = value
    path = tmp_path / "params.yaml"
    path.write_text(yaml.safe_dump(params))
    return path


@pytest.fixture(scope="module")
def study(tmp_path_factory):
    """A toy store (3 classes, 3 test videos each) with tiny trained recognizers of seed 0."""
    root = tmp_path_factory.mktemp("sharded")
    store = write_toy_store(root / "interim", train_per_class=1, test_per_class=3, frames=10)
    train_recognizers(TINY_RECOGNITION, [0], store.root, root / "recognizers", progress=False)
    return {"root": root, "store": store, "recognizers": root / "recognizers"}


def _files(folder: Path) -> dict[str, int]:
    """Cached per-video files under ``folder`` -> modification time (ns)."""
    return {str(p.relative_to(folder)): p.stat().st_mtime_ns for p in folder.rglob("*")
            if p.is_file() and p.name != "settings.json" and p.parent != folder}  # not samples.npz


def test_sharded_evaluation_equals_one_process_and_resumes(study, default_params, tmp_path):
    evaluate = {**EVALUATE, "num_frames": 3}
    prepare = {**default_params["prepare"], **PREPARE, "flow_device": "cpu"}
    recognition = {**default_params["recognition"], "seeds": [0]}  # the fixture trains seed 0
    params = _params_file(tmp_path, default_params, evaluate=evaluate, seeds=[0], prepare=prepare,
                          recognition=recognition)
    common = (evaluate, [0], prepare, study["store"].root, study["recognizers"], tmp_path / "models")
    single = evaluate_stage("bicubic", *common, tmp_path / "eval_one", n_samples=0, progress=False)

    out = _torchrun("--params", params, "--interim", study["store"].root, "evaluate", "bicubic",
                    "--recognizers", study["recognizers"], "--models", tmp_path / "models",
                    "--eval", tmp_path / "eval_two")
    assert "bicubic: 9 videos, 2 process(es)" in out
    cache = tmp_path / "eval_two" / eval_item("bicubic")
    before = _files(cache)
    # every video once: 9 per recognizer score folder, 9 quality files
    assert sum(k.startswith("reference/scores/tsn_r0/") for k in before) == 9
    assert sum(k.startswith("reference/quality/") for k in before) == 9
    merged = evaluate_stage("bicubic", *common, tmp_path / "eval_two", n_samples=0, progress=False)
    assert _files(cache) == before  # the merge found every video cached: it computed nothing
    pd.testing.assert_frame_equal(merged.table, single.table)
    pd.testing.assert_frame_equal(merged.per_video, single.per_video)
    for rel in (k for k in before if k.endswith(".npz")):
        with np.load(cache / rel) as a, np.load(tmp_path / "eval_one" / eval_item("bicubic") / rel) as b:
            assert a.files == b.files
            for name in a.files:  # the same computation per video: bit-identical
                np.testing.assert_array_equal(a[name], b[name], err_msg=f"{rel}: {name}")

    # a killed run: two videos' files gone; a re-run with 2 ranks redoes exactly those
    lost = sorted(k for k in before if k.startswith("reference/scores/tsn_r0/"))[:2]
    lost_keys = {Path(k).stem for k in lost}
    for k in before:
        if Path(k).stem in lost_keys:
            (cache / k).unlink()
    _torchrun("--params", params, "--interim", study["store"].root, "evaluate", "bicubic",
              "--recognizers", study["recognizers"], "--models", tmp_path / "models", "--eval", tmp_path / "eval_two")
    after = _files(cache)
    assert set(after) == set(before)
    redone = {k for k in after if after[k] != before[k]}
    assert {Path(k).stem for k in redone} == lost_keys


def test_sharded_prepare_equals_one_process(default_params, tmp_path):
    data = {"dataset": "synthetic", "root": str(tmp_path / "raw"), "split": 1, "splits_dir": None,
            "sr_root": None, "on_bad_video": "error", "synthetic": SYNTHETIC}
    prepare = {**default_params["prepare"], "workers": 1, "flow_method": "dis", "flow_device": "cpu",
               "hr_frames": "stored", "frame_codec": "raw"}
    params = _params_file(tmp_path, default_params, data=data, prepare=prepare)
    out = _torchrun("--params", params, "--interim", tmp_path / "two", "prepare")
    assert "prepared 8 videos" in out and "2 process(es)" in out
    records, _ = list_dataset(data, workers=1, progress=False)  # generated by rank 0 above: reused
    index, stats = prepare_dataset(records, tmp_path / "one", PrepareSettings.from_params(prepare), workers=1,
                                   progress=False)
    assert stats["prepared"] == 8
    two = pd.read_csv(tmp_path / "two" / "index.csv")
    pd.testing.assert_frame_equal(two, pd.read_csv(tmp_path / "one" / "index.csv"))
    for key in index["key"]:
        for name in ("lr.pack", "hr.pack", "flow.pack"):
            a, b = (tmp_path / side / "videos" / key / name for side in ("one", "two"))
            assert a.read_bytes() == b.read_bytes(), f"{key}/{name} differs"
