"""Prepare and evaluation sharded over processes (arsr.shards, arsr.study.sharded): disjoint
deterministic slices, the merge equal to the single-process run, resume per video. Two Gloo ranks
on the CPU, launched with ``python -m torch.distributed.run`` (torchrun); and the evaluation
stages' in-stage pool (``processes``: arsr.shards.run_sharded), whose per-video scores are those of
one single-threaded process, bit for bit."""
from __future__ import annotations

import copy
import os
import subprocess
import sys
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from arsr.data.prepare import PrepareSettings, list_dataset, prepare_dataset
from arsr.shards import Shard, barrier, is_split, progress_label, rank_ordered
from arsr.study.ablations import evaluate_variant, train_variant
from arsr.study.evaluation import evaluate_stage, flow_workers
from arsr.study.layout import ablation_cache, eval_item
from arsr.study.recognizers import train_recognizers
from arsr.study.sr import train_sr_seeds

from test_processes import one_thread
from test_recognition_train import write_toy_store
from test_study_stages import EVALUATE, PREPARE, TINY_RECOGNITION, TINY_SR

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


def test_an_in_stage_pool_needs_no_process_group_and_its_set_up_pass_takes_nothing():
    setup, ranks = Shard(0, 3, role="setup"), [Shard(r, 3, role="pool") for r in range(3)]
    assert setup.take(list(range(7))) == [] and setup.take(pd.DataFrame({"key": list("abc")})).empty
    assert [s.take(list(range(7))) for s in ranks] == [[0, 3, 6], [1, 4], [2, 5]]
    assert setup.is_main and not any(s.is_main for s in ranks)  # the set-up (pruning) is the stage process's
    assert Shard(0, 3).is_main and Shard(0, 3).ordered and not setup.ordered
    assert all(is_split(s) for s in (setup, *ranks)) and progress_label(ranks[1]) == " [rank 1/3]"
    for shard in (setup, ranks[1]):  # the stage process orders them: no barrier, no torch.distributed
        barrier(shard)
        with rank_ordered(shard):
            pass
    for role, rank in (("setup", 1), ("mpi", 0)):
        with pytest.raises(ValueError, match="role"):
            Shard(rank, 3, role=role)


def test_pool_ranks_share_the_cores_with_their_flow_processes(monkeypatch):
    monkeypatch.setattr(os, "cpu_count", lambda: 4)
    assert flow_workers({"workers": 0}, None) == 4 and flow_workers({"workers": 0}, Shard(1, 2)) == 4  # torchrun
    assert flow_workers({"workers": 0}, Shard(1, 2, role="pool")) == 2  # 2 shards x 2 flow processes
    assert flow_workers({"workers": 1}, Shard(1, 2, role="pool")) == 1
    assert flow_workers({"workers": 0}, Shard(0, 4, role="pool")) == 1


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
            "sr_root": None, "on_bad_video": "error", "on_empty_class": "error", "validation_groups": 0,
            "synthetic": SYNTHETIC}
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


# ---------------------------------------------------------------------------------------------
# In the stage's process: a pool of single-threaded processes (processes: 2)


@pytest.fixture(scope="module")
def vdsr(study):
    """Tiny VDSR models of SR seeds 0 and 1, and a VDSR ablation variant of seed 0."""
    models = study["root"] / "models"
    with one_thread():
        train_sr_seeds("vdsr", TINY_SR, [0, 1], study["store"].root, models / "vdsr", progress=False)
        train_variant("sosr", "vdsr_wmse", TINY_SR, [0], study["store"].root, study["root"] / "ablation",
                      progress=False)
    return models


@contextmanager
def merge_only():
    """In this (the stage's) process, super-resolving a video fails: the pool's ranks, spawned
    processes with their own imports, must do every video, the merge here none."""
    import arsr.evaluate

    def refuse(method, video, indices):
        raise AssertionError(f"the stage process computed video {video.video_id}: the pool should have")

    original, arsr.evaluate._request = arsr.evaluate._request, refuse
    try:
        yield
    finally:
        arsr.evaluate._request = original


def _same_cache(a: Path, b: Path) -> int:
    """Every per-video file under ``a`` has a bit-identical twin under ``b``; returns how many."""
    files = sorted(str(p.relative_to(a)) for p in a.rglob("*") if p.is_file() and p.suffix in (".npz", ".json")
                   and p.name not in ("settings.json", "samples.npz"))
    assert files == sorted(str(p.relative_to(b)) for p in b.rglob("*") if p.is_file() and p.suffix in (".npz", ".json")
                           and p.name not in ("settings.json", "samples.npz"))
    for rel in files:
        if rel.endswith(".json"):
            assert (a / rel).read_text() == (b / rel).read_text(), rel
            continue
        with np.load(a / rel) as x, np.load(b / rel) as y:
            assert x.files == y.files
            for name in x.files:
                np.testing.assert_array_equal(x[name], y[name], err_msg=f"{rel}: {name}")
    return len(files)


def test_in_stage_pool_evaluation_equals_one_thread_and_resumes(study, vdsr, tmp_path):
    evaluate = {**EVALUATE, "num_frames": 3}
    common = (evaluate, [0, 1], PREPARE, study["store"].root, study["recognizers"], vdsr)
    with one_thread():
        single = evaluate_stage("vdsr", *common, tmp_path / "eval_one", n_samples=0, progress=False)
    with merge_only():
        pooled = evaluate_stage("vdsr", *common, tmp_path / "eval_two", n_samples=0, progress=False, processes=2)
    pd.testing.assert_frame_equal(pooled.table, single.table)
    pd.testing.assert_frame_equal(pooled.per_video, single.per_video)
    pd.testing.assert_frame_equal(pooled.per_class, single.per_class)
    cache = tmp_path / "eval_two" / eval_item("vdsr")
    # 2 SR seeds x 9 videos x (tsn, st_resnet scores + quality)
    assert _same_cache(tmp_path / "eval_one" / eval_item("vdsr"), cache) == 2 * 9 * 3

    # a killed run: two videos' files gone; a re-run with 2 processes redoes exactly those
    before = _files(cache)
    lost_keys = {Path(k).stem for k in sorted(k for k in before if k.startswith("seed1/scores/tsn_r0/"))[:2]}
    for k in before:
        if Path(k).stem in lost_keys and k.startswith("seed1/"):
            (cache / k).unlink()
    with merge_only():
        again = evaluate_stage("vdsr", *common, tmp_path / "eval_two", n_samples=0, progress=False, processes=2)
    after = _files(cache)
    assert set(after) == set(before)
    assert {Path(k).stem for k in after if after[k] != before[k]} == lost_keys
    pd.testing.assert_frame_equal(again.per_video, single.per_video)

    # other settings: the stale cache is removed once, by the stage process before its pool starts
    fewer = {**evaluate, "num_frames": 2, "max_videos": 6}
    common = (fewer, [0, 1], PREPARE, study["store"].root, study["recognizers"], vdsr)
    with one_thread():
        single = evaluate_stage("vdsr", *common, tmp_path / "eval_one", n_samples=0, progress=False)
    with merge_only():
        pooled = evaluate_stage("vdsr", *common, tmp_path / "eval_two", n_samples=0, progress=False, processes=2)
    pd.testing.assert_frame_equal(pooled.per_video, single.per_video)
    assert _same_cache(tmp_path / "eval_one" / eval_item("vdsr"), cache) == 2 * 6 * 3


def test_in_stage_pool_evaluates_the_reference_rows_once_and_draws_the_samples(study, tmp_path):
    common = (EVALUATE, [0, 1], PREPARE, study["store"].root, study["recognizers"], tmp_path / "models")
    with one_thread():
        single = evaluate_stage("bicubic", *common, tmp_path / "eval_one", n_samples=0, progress=False)
    with merge_only():  # the sample frames are the merge's (as under torchrun): not through the evaluator
        pooled = evaluate_stage("bicubic", *common, tmp_path / "eval_two", n_samples=2, progress=False, processes=2)
    pd.testing.assert_frame_equal(pooled.per_video, single.per_video)
    assert _same_cache(tmp_path / "eval_one" / eval_item("bicubic"), tmp_path / "eval_two" / eval_item("bicubic")) \
        == 9 * 3
    assert pooled.samples is not None and len(pooled.samples["video_ids"]) == 2
    assert (tmp_path / "eval_two" / eval_item("bicubic") / "samples.npz").is_file()


def test_in_stage_pool_evaluates_an_ablation_variant_as_one_thread_does(study, vdsr, tmp_path):
    args = ("sosr", "vdsr_wmse", EVALUATE, [0], PREPARE, study["store"].root, study["recognizers"],
            study["root"] / "ablation")
    with one_thread():
        single = evaluate_variant(*args, tmp_path / "eval_one", progress=False)
    with merge_only():
        pooled = evaluate_variant(*args, tmp_path / "eval_two", progress=False, processes=2)
    pd.testing.assert_frame_equal(pooled, single)
    pd.testing.assert_frame_equal(pooled.attrs["per_video"], single.attrs["per_video"])
    item = ablation_cache("sosr", "vdsr_wmse")
    assert _same_cache(tmp_path / "eval_one" / item, tmp_path / "eval_two" / item) == 9 * 2  # spatial TSN + quality
