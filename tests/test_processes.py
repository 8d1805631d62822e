"""``processes``: a stage's independent training jobs side by side in single-threaded processes
(``arsr.workers.run_jobs``) give what one single-threaded process gives, bit for bit: the
recognisers and the feature network, the LR baselines, and SR per seed (a method's phases in order
within its seed); a failing job is named and stops the stage; a killed stage resumes. The
evaluation's videos over such a pool: tests/test_shards.py."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
import torch

from arsr.recognition.train import train_recognizer
from arsr.study import layout
from arsr.study.lr_baselines import train_lr_baselines
from arsr.study.recognizers import train_recognizers
from arsr.study.sr import train_sr_seeds
from arsr.workers import JobError, one_thread

from test_recognition_train import write_toy_store
from test_study_stages import TINY_RECOGNITION, TINY_SR

REPO = Path(__file__).resolve().parents[1]
POOL = 2


def assert_same_weights(a: Path, b: Path) -> int:
    """Every ``model.pt`` under ``a`` has a bit-identical twin under ``b`` (and no other); returns
    how many."""
    files = sorted(p.relative_to(a) for p in a.rglob("model.pt"))
    assert files and files == sorted(p.relative_to(b) for p in b.rglob("model.pt"))
    for rel in files:
        x, y = (torch.load(root / rel, weights_only=True) for root in (a, b))
        assert x.keys() == y.keys(), rel
        for k in x:
            assert torch.equal(x[k], y[k]), f"{rel}: {k}"
    return len(files)


def without_seconds(value):
    """Metrics without their timings (the one thing a second run may change)."""
    if isinstance(value, dict):
        return {k: without_seconds(v) for k, v in value.items() if "seconds" not in k}
    if isinstance(value, list):  # e.g. an LR baseline's attempts, each with its seconds
        return [without_seconds(v) for v in value]
    return value


def same_log(a: pd.DataFrame, b: pd.DataFrame) -> None:
    pd.testing.assert_frame_equal(a.drop(columns="seconds"), b.drop(columns="seconds"))


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    return write_toy_store(tmp_path_factory.mktemp("store"), train_per_class=2, test_per_class=1, frames=10)


# ---------------------------------------------------------------------------------------------
# Recognisers, the feature network, the LR baselines


def test_recognizers_side_by_side_equal_one_thread(store, tmp_path):
    kw = dict(feature_seed=2, feature_names=["tsn_rgb", "tsn_flow"], progress=False)
    with one_thread():
        one = train_recognizers(TINY_RECOGNITION, [0, 1], store.root, tmp_path / "one", feature_dir=tmp_path / "f1",
                                **kw)
    pool = train_recognizers(TINY_RECOGNITION, [0, 1], store.root, tmp_path / "two", feature_dir=tmp_path / "f2",
                             processes=POOL, **kw)
    assert assert_same_weights(tmp_path / "one", tmp_path / "two") == 6
    assert assert_same_weights(tmp_path / "f1", tmp_path / "f2") == 2
    assert without_seconds(pool.metrics) == without_seconds(one.metrics)
    assert list(pool.metrics) == list(one.metrics)  # ordered by job, not by completion
    same_log(pool.log, one.log)


def _lr_recognition() -> dict:
    return {**TINY_RECOGNITION, "seeds": [0, 1]}


def test_lr_baselines_side_by_side_equal_one_thread(store, tmp_path):
    rec = _lr_recognition()
    rec_lr = {"finetune_epochs": 1, "finetune_lr": 1e-3, "workers": 1}
    prepare = {"scale": 4, "flow_method": "farneback", "flow_device": "cpu"}
    hr = tmp_path / "hr"
    with one_thread():
        for seed in rec["seeds"]:  # the HR TSN the fine-tuned baseline starts from (the earlier stage's)
            for name in layout.LR_RECOGNIZER_NAMES:
                train_recognizer({**rec[name], "seed": seed}, store, hr / f"seed{seed}" / name, progress=False)
        one = train_lr_baselines(rec, rec_lr, prepare, store.root, tmp_path / "lr1", hr, tmp_path / "one",
                                 progress=False)
    pool = train_lr_baselines(rec, rec_lr, prepare, store.root, tmp_path / "lr2", hr, tmp_path / "two",
                              progress=False, processes=POOL)
    assert assert_same_weights(tmp_path / "one", tmp_path / "two") == 8  # 2 baselines x 2 streams x 2 seeds
    assert without_seconds(pool.metrics) == without_seconds(one.metrics)
    same_log(pool.log, one.log)


def test_a_failing_job_is_named_and_stops_the_stage(store, tmp_path):
    bad = {**TINY_RECOGNITION, "st_resnet": {**TINY_RECOGNITION["st_resnet"], "bogus_key": 1}}
    t0 = time.perf_counter()
    with pytest.raises(JobError, match=r"train recognizers: job st_resnet seed 0 failed: .*bogus_key") as info:
        train_recognizers(bad, [0], store.root, tmp_path / "pool", progress=False, processes=POOL)
    assert info.value.__cause__ is not None and "bogus_key" in str(info.value.__cause__)
    assert time.perf_counter() - t0 < 120
    # one process: the job's own error, a note naming the job
    with pytest.raises(Exception, match="bogus_key") as info:
        train_recognizers(bad, [0], store.root, tmp_path / "one", progress=False)
    assert not isinstance(info.value, JobError)
    assert any("job st_resnet seed 0 failed" in note for note in info.value.__notes__)


_KILLED_STAGE = """
import json, sys
sys.path.insert(0, {tests!r})
from arsr.study.recognizers import train_recognizers

if __name__ == "__main__":
    rec = json.loads(sys.argv[1])
    train_recognizers(rec, [0, 1], sys.argv[2], sys.argv[3], names=["tsn_rgb"], progress=False, processes=2)
"""


def test_a_killed_stage_stops_its_pool_and_resumes_to_the_same_weights(store, tmp_path):
    import psutil  # dvc's dependency

    # long enough to be killed half-way: 3 iterations per epoch, a checkpoint every iteration
    rec = {**TINY_RECOGNITION, "tsn_rgb": {**TINY_RECOGNITION["tsn_rgb"], "epochs": 40, "batch_size": 2,
                                           "checkpoint_every": 1}}
    script = tmp_path / "stage.py"
    script.write_text(_KILLED_STAGE.format(tests=str(REPO / "tests")))
    env = {**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1"}
    stage = subprocess.Popen([sys.executable, str(script), json.dumps(rec), str(store.root), str(tmp_path / "two")],
                             env=env, cwd=REPO, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 240
    while not list((tmp_path / "two").rglob("last.pt")):
        assert stage.poll() is None, stage.stderr.read().decode()[-3000:]
        assert time.monotonic() < deadline, "no checkpoint within 240 s"
        time.sleep(0.2)
    pool = psutil.Process(stage.pid).children(recursive=True)
    stage.send_signal(signal.SIGKILL)
    stage.wait()
    stage.stderr.close()
    _, alive = psutil.wait_procs(pool, timeout=30)  # each pool process stops with its stage process
    assert not alive, [p.pid for p in alive]
    assert not list((tmp_path / "two").rglob("model.pt"))  # killed before any job finished
    train_recognizers(rec, [0, 1], store.root, tmp_path / "two", names=["tsn_rgb"], progress=False,
                      processes=POOL)  # resumes each job from its last.pt
    with one_thread():
        train_recognizers(rec, [0, 1], store.root, tmp_path / "one", names=["tsn_rgb"], progress=False)
    assert assert_same_weights(tmp_path / "one", tmp_path / "two") == 2


# ---------------------------------------------------------------------------------------------
# SR per seed


def test_sr_seeds_side_by_side_equal_one_thread(store, tmp_path):
    """SRGAN: two trained phases in order within each seed, a feature loss through the feature
    network's TSN (each pool process loads it)."""
    feature_dir = tmp_path / "feature_net"
    with one_thread():
        train_recognizer({**TINY_RECOGNITION["tsn_rgb"], "seed": 1}, store, feature_dir / "seed1" / "tsn_rgb",
                         progress=False)
    sr = {**TINY_SR, "srgan": {"arch_kwargs": {"num_feat": 4, "num_block": 1}, "data": {"hr_patch": 32}}}
    kw = dict(recognizers_dir=feature_dir, feature_seed=1, progress=False)
    with one_thread():
        one = train_sr_seeds("srgan", sr, [0, 1], store.root, tmp_path / "one" / "srgan", **kw)
    pool = train_sr_seeds("srgan", sr, [0, 1], store.root, tmp_path / "two" / "srgan", processes=POOL, **kw)
    assert assert_same_weights(tmp_path / "one", tmp_path / "two") == 4  # 2 seeds x (psnr, gan)
    assert [p["name"] for p in pool.metrics["phases"]] == ["psnr", "gan"]
    assert pool.metrics["feature_network"].startswith("recognizer")
    assert without_seconds(pool.metrics) == without_seconds(one.metrics)
    assert list(pool.metrics["seconds_per_seed"]) == ["0", "1"]
    same_log(pool.log, one.log)
