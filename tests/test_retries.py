"""A recogniser run that learned nothing held-out is trained again with another seed
(arsr/study/retries.py): which attempts run, what is kept where, what a re-run finds, and that the
rule reads the validation scores only."""
from __future__ import annotations

import json

import pandas as pd
import pytest
import torch

import arsr.study.recognizers as recognizers
from arsr.recognition.train import train_recognizer
from arsr.study.persist import MARKER
from arsr.study.retries import RETRY_SEED_STEP, attempt_seed, failed_dir, held_out_top1, train_with_retries

from test_recognition_train import tiny_config, write_toy_store  # noqa: E402 (tests/ is on sys.path under pytest)


def test_held_out_top1_is_the_mean_of_the_last_three_validations():
    log = pd.DataFrame({"val_accuracy": [0.1, None, 0.2, None, 0.4, 0.6, None, 0.8]})
    assert held_out_top1(log) == pytest.approx((0.4 + 0.6 + 0.8) / 3)
    assert held_out_top1(log, last=1) == pytest.approx(0.8)
    assert held_out_top1(pd.DataFrame({"val_accuracy": [None, ""]})) is None  # validated nothing
    assert held_out_top1(pd.DataFrame({"loss": [1.0]})) is None  # a log without held-out scores


def test_attempt_seeds_do_not_clash_with_recognizer_seeds():
    assert [attempt_seed(2, k) for k in range(3)] == [2, 2 + RETRY_SEED_STEP, 2 + 2 * RETRY_SEED_STEP]


class FakeTrainer:
    """train_job stand-in: a run's held-out top-1 is ``val[seed]``; counts the calls per seed."""

    def __init__(self, val: dict[int, float]):
        self.val, self.calls = val, []

    def __call__(self, config, interim_dir, folder, *, device=None, init_weights=None, progress=True):
        self.calls.append(config["seed"])
        v = self.val[config["seed"]]
        frame = pd.DataFrame({"iteration": [1, 2, 3], "accuracy": [0.5, 0.9, 1.0], "loss": [1.0, 0.5, 0.1],
                              "seconds": [1.0, 2.0, 3.0], "val_accuracy": [v, v, v]})
        frame.to_csv(folder / "log.csv", index=False)
        (folder / "model.pt").write_text(str(config["seed"]))
        return {"train_accuracy": 1.0, "train_loss": 0.1, "seconds": 3.0, "iterations": 3}, frame


def _run(tmp_path, monkeypatch, val, retry, seed=2):
    fake = FakeTrainer(val)
    monkeypatch.setattr(recognizers, "train_job", fake)
    folder = tmp_path / "seed2" / "tsn_rgb"
    summary, log = train_with_retries({"epochs": 1, "seed": seed}, tmp_path / "store", folder,
                                      {"name": "tsn_rgb", "dataset": "abc"}, retry)
    return fake, folder, summary


def test_a_failed_run_is_kept_aside_and_the_next_seed_trained(tmp_path, monkeypatch):
    fake, folder, summary = _run(tmp_path, monkeypatch, {2: 0.10, 1002: 0.70}, {"below": 0.25, "times": 2})
    assert fake.calls == [2, 1002]
    assert (folder / "model.pt").read_text() == "1002"
    assert json.loads((folder / MARKER).read_text())["config"]["seed"] == 1002
    archive = failed_dir(folder, 0)
    assert archive == tmp_path / "seed2" / "tsn_rgb.failed" / "attempt0"
    assert (archive / "model.pt").read_text() == "2"  # the failed run is kept, not deleted
    assert summary["seed"] == 1002
    assert [(a["seed"], a["failed"], a["kept"]) for a in summary["attempts"]] == [(2, True, False), (1002, False, True)]
    assert summary["attempts"][0]["val_top1"] == pytest.approx(0.10)
    assert summary["all_seconds"] == pytest.approx(6.0)  # both attempts: the run's cost


def test_a_run_above_the_rule_is_the_only_attempt(tmp_path, monkeypatch):
    fake, folder, summary = _run(tmp_path, monkeypatch, {2: 0.25}, {"below": 0.25, "times": 2})
    assert fake.calls == [2] and not failed_dir(folder, 0).exists()
    assert [(a["seed"], a["failed"], a["kept"]) for a in summary["attempts"]] == [(2, False, True)]
    fake, folder, summary = _run(tmp_path / "off", monkeypatch, {2: 0.0}, None)  # no rule: one run
    assert fake.calls == [2] and summary["attempts"][0]["kept"]


def test_the_last_attempt_is_kept_even_when_it_fails(tmp_path, monkeypatch):
    fake, folder, summary = _run(tmp_path, monkeypatch, {2: 0.1, 1002: 0.1, 2002: 0.05}, {"below": 0.25, "times": 2})
    assert fake.calls == [2, 1002, 2002]
    assert (folder / "model.pt").read_text() == "2002"
    assert [(a["failed"], a["kept"]) for a in summary["attempts"]] == [(True, False), (True, False), (True, True)]


def test_a_rerun_trains_nothing_again_and_a_changed_rule_rejudges(tmp_path, monkeypatch):
    val = {2: 0.20, 1002: 0.70}
    _run(tmp_path, monkeypatch, val, {"below": 0.25, "times": 2})
    fake, folder, summary = _run(tmp_path, monkeypatch, val, {"below": 0.25, "times": 2})
    assert fake.calls == [1002]  # the kept run is found (train_job resumes or finds it finished); attempt 0 not rerun
    assert summary["attempts"][0]["failed"] and summary["seed"] == 1002
    # a lower bar: attempt 0 passes now and comes back from its archive, untrained
    fake, folder, summary = _run(tmp_path, monkeypatch, val, {"below": 0.15, "times": 2})
    assert fake.calls == [2] and (folder / "model.pt").read_text() == "2"
    assert not failed_dir(folder, 0).exists() and summary["seed"] == 2
    assert [(a["seed"], a["failed"], a["kept"]) for a in summary["attempts"]] == [(2, False, True)]


def test_an_archive_of_other_settings_is_not_reused(tmp_path, monkeypatch):
    _run(tmp_path, monkeypatch, {2: 0.2, 1002: 0.7}, {"below": 0.25, "times": 1})
    fake = FakeTrainer({2: 0.2, 1002: 0.7})
    monkeypatch.setattr(recognizers, "train_job", fake)
    folder = tmp_path / "seed2" / "tsn_rgb"
    train_with_retries({"epochs": 1, "seed": 2}, tmp_path / "store", folder, {"name": "tsn_rgb", "dataset": "new"},
                       {"below": 0.25, "times": 1})
    assert fake.calls == [2, 1002]  # other data: both attempts trained again


def test_with_the_real_trainer_the_retry_is_a_run_of_the_next_seed(tmp_path):
    """The rule reads the run's own validation log; the kept model is bit for bit the run of seed
    s + 1000, and the archived one the run of seed s."""
    store = write_toy_store(tmp_path / "store", train_per_class=2, val_per_class=1, frames=8)
    config = tiny_config("rgb", epochs=2, lr_steps=[], val_every=1, seed=1)
    folder = tmp_path / "m" / "seed1" / "tsn_rgb"
    summary, log = train_with_retries(config, store.root, folder, {"name": "tsn_rgb"}, {"below": 1.01, "times": 1},
                                      device="cpu", progress=False)
    assert [a["seed"] for a in summary["attempts"]] == [1, 1001] and summary["attempts"][0]["failed"]
    assert summary["attempts"][0]["val_top1"] == pytest.approx(held_out_top1(pd.read_csv(failed_dir(folder, 0)
                                                                                         / "log.csv")))
    for seed, where in ((1, failed_dir(folder, 0)), (1001, folder)):
        direct = tmp_path / f"direct{seed}"
        train_recognizer({**config, "seed": seed}, store, direct, device="cpu", progress=False)
        a = torch.load(where / "model.pt", weights_only=True)
        b = torch.load(direct / "model.pt", weights_only=True)
        assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def test_the_lr_stage_retries_by_the_rule_and_counts_every_attempt_in_the_cost(tmp_path):
    from arsr.study import layout
    from arsr.study.lr_baselines import train_lr_baselines

    store = write_toy_store(tmp_path / "store", train_per_class=2, val_per_class=1, frames=8)
    rgb = {k: v for k, v in tiny_config("rgb", epochs=1, lr_steps=[], val_every=1).items() if k != "seed"}
    rec = {"device": "cpu", "seeds": [0], "tsn_rgb": rgb, "tsn_flow": {**rgb, "model": {**rgb["model"],
                                                                                     "modality": "flow"}}}
    for name in layout.LR_RECOGNIZER_NAMES:
        train_recognizer({**rec[name], "seed": 0}, store, tmp_path / "hr" / "seed0" / name, progress=False,
                         device="cpu")
    prepare = {"scale": 4, "flow_method": "farneback", "flow_device": "cpu"}
    # a bar no run reaches (top-1 at most 1 < 1e6 x chance): every run retries, once, and keeps its retry
    rec_lr = {"finetune_epochs": 1, "finetune_lr": 1e-3, "workers": 1, "retry": {"below_x_chance": 1e6, "times": 1}}
    runs = train_lr_baselines(rec, rec_lr, prepare, store.root, tmp_path / "lr", tmp_path / "hr", tmp_path / "m",
                              progress=False, processes=1)
    for baseline in layout.LR_BASELINES:
        m = runs.metrics[baseline]
        assert [(r["stream"], r["recognizer_seed"], r["seed"], r["kept"]) for r in m["retries"]] == [
            ("tsn_rgb", 0, 0, False), ("tsn_rgb", 0, 1000, True),
            ("tsn_flow", 0, 0, False), ("tsn_flow", 0, 1000, True)]
        for name in layout.LR_RECOGNIZER_NAMES:
            settings = json.loads((tmp_path / "m" / baseline / "seed0" / name / MARKER).read_text())
            assert settings["config"]["seed"] == 1000
            assert (tmp_path / "m" / baseline / "seed0" / f"{name}.failed" / "attempt0" / "model.pt").is_file()
            per = m[name]["per_seed"]["0"]
            assert per["all_seconds"] == pytest.approx(sum(a["seconds"] for a in per["attempts"]))
            assert per["all_seconds"] > per["seconds"]
        assert m["train_seconds"] == pytest.approx(sum(m[n]["all_seconds"] for n in layout.LR_RECOGNIZER_NAMES))
