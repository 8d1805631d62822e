"""Stage ``train_recognizers_lr`` (beyond the paper): the retrain-on-LR baselines of SR. The TSN
streams trained on bicubic-upscaled LR training video with flow computed from those frames
(``arsr.data.degraded``), from scratch (``tsn_retrained_lr``) or from the HR-trained TSN
(``tsn_finetuned_lr``), into ``models_dir/<baseline>/seed<k>/<tsn_rgb|tsn_flow>`` for every seed
``k`` of ``recognition.seeds`` (seed k fine-tunes the HR TSN of seed k; the intervals pair the two
on the seed, as they pair the SR rows on the recognisers that score them); scored by the
evaluation stage on the LR test video as the ``bicubic`` row is (``arsr.study.evaluation``).

    runs = train_lr_baselines(recognition, recognition_lr, prepare, "data/interim", "data/interim_lr",
                              "data/models/recognizers", "data/models/recognizers_lr")
    runs.metrics["tsn_retrained_lr"]["cost_seconds"]   # deriving the store + training both streams
"""
from __future__ import annotations

import time
from pathlib import Path
from typing import Mapping

import pandas as pd

from ..data.store import PreparedDataset
from ..paths import resolve
from .layout import LR_BASELINES, LR_RECOGNIZER_NAMES, RECOGNIZER_PLOT_COLUMNS
from .persist import file_digest
from .recognizers import RecognizerRuns, device_for, recognizer_dir
from .retries import train_with_retries

__all__ = ["lr_baseline_configs", "train_lr_baselines"]


def lr_baseline_configs(recognition: Mapping, recognition_lr: Mapping, baseline: str, name: str,
                        seed: int) -> dict:
    """The TrainConfig mapping of stream ``name`` of an LR baseline with seed ``seed``:
    ``tsn_retrained_lr`` is the HR recipe (``recognition.<name>``) with the schedule (epochs,
    lr_steps) and weight decay of ``recognition_lr.retrained.<name>`` where given (from scratch on LR
    frames a stream may reach its held-out plateau later than on HR, or memorise its training videos);
    ``tsn_finetuned_lr`` the HR recipe with
    ``recognition_lr.finetune_epochs`` at the constant rate ``recognition_lr.finetune_lr``."""
    config = {**recognition[name], "seed": int(seed)}
    if baseline == "tsn_retrained_lr":
        config.update((recognition_lr.get("retrained") or {}).get(name) or {})
    elif baseline == "tsn_finetuned_lr":
        config.update(epochs=int(recognition_lr["finetune_epochs"]), lr=float(recognition_lr["finetune_lr"]),
                      lr_steps=[])
    else:
        raise ValueError(f"unknown LR baseline {baseline!r}; known: {', '.join(LR_BASELINES)}")
    return config


def train_lr_baselines(recognition: Mapping, recognition_lr: Mapping, prepare: Mapping, interim_dir: str | Path,
                       lr_interim_dir: str | Path, hr_models_dir: str | Path, models_dir: str | Path, *,
                       progress: bool = True, processes: int | None = 1) -> RecognizerRuns:
    """Stage ``train_recognizers_lr``: derive the LR training store (``arsr.data.degraded``:
    bicubic x``prepare.scale`` of the stored LR frames, flow by ``prepare.flow_method`` from them)
    into ``lr_interim_dir``, then train each LR baseline's TSN streams on it into
    ``models_dir/<baseline>/seed<k>/<tsn_rgb|tsn_flow>`` for each ``k`` of ``recognition.seeds``:
    ``tsn_retrained_lr`` from scratch, ``tsn_finetuned_lr`` from the HR-trained TSN of seed ``k`` in
    ``hr_models_dir`` (its folders are reset when those weights change, and each baseline's when the derived
    store's dataset fingerprint does). The (baseline, stream, seed) jobs are independent (the HR
    TSN they may start from comes from the earlier stage): ``processes`` (params.yaml's) more than
    one trains them side by side in single-threaded processes (:func:`arsr.workers.run_jobs`).

    A run whose held-out top-1 is below ``recognition_lr.retry.below_x_chance`` times chance (1 / classes)
    is trained again with another seed, at most ``recognition_lr.retry.times`` times
    (:func:`arsr.study.retries.train_with_retries`).

    Metrics: ``derive`` (the store's stats; ``derive_seconds`` summed over videos), ``retry`` (the
    rule: below_x_chance, ``below`` as a top-1 fraction, times), per baseline
    its streams (training seconds of the kept run and ``all_seconds`` of every attempt, iterations,
    epochs, last training accuracy; means over the seeds, each seed's under ``per_seed`` with its
    ``attempts``), ``retries`` (each attempt below the rule: stream, recognizer_seed, its training ``seed``,
    val_top1, kept: the last attempt is kept even so),
    ``train_seconds`` (both streams, one seed, failed attempts included) and ``cost_seconds``
    (derivation + training: the fine-tuned baseline's cost leaves out the HR TSN it starts from,
    which the study trains anyway).
    Seconds are wall seconds on ``device`` (``recognition.device``).
    """
    from ..data.degraded import derive_lr_store
    from ..flow import flow_options
    from ..workers import Job, run_jobs, worker_count

    t0 = time.perf_counter()
    # the validation split too: the baselines' held-out plateau check (recognition.<stream>.val_every)
    source = PreparedDataset(interim_dir)
    splits = [s for s in ("train", "val") if not source.split(s).empty]
    derive = derive_lr_store(interim_dir, lr_interim_dir, scale=int(prepare["scale"]), splits=splits,
                             flow_method=prepare["flow_method"],
                             flow_options=flow_options(prepare["flow_method"], prepare.get("flow_device", "cpu")),
                             workers=worker_count(recognition_lr["workers"]), progress=progress)
    dataset = PreparedDataset(lr_interim_dir)
    device = device_for(recognition.get("device"))
    seeds = [int(s) for s in recognition["seeds"]]
    rule = recognition_lr.get("retry") or {}
    x_chance = float(rule.get("below_x_chance", 0))
    retry = {"below": x_chance / len(dataset.class_names), "times": int(rule.get("times", 0))}
    metrics: dict = {"derive": derive, "retry": {"below_x_chance": x_chance, **retry}}
    jobs = [(baseline, name, seed) for baseline in LR_BASELINES for name in LR_RECOGNIZER_NAMES for seed in seeds]
    work = []
    for baseline, name, seed in jobs:
        config = lr_baseline_configs(recognition, recognition_lr, baseline, name, seed)
        init = None
        settings = {"name": name, "baseline": baseline, "config": config,
                    "dataset": dataset.fingerprint}  # the derived store's: it holds the source's
        if baseline == "tsn_finetuned_lr":
            init = recognizer_dir(hr_models_dir, seed, name) / "model.pt"
            if not init.is_file():
                raise FileNotFoundError(f"{init} not found: the fine-tuned LR baseline starts from the HR "
                                        "recognizer; run `dvc repro train_recognizers` first")
            settings["init"] = {"path": str(init), "sha256": file_digest(init)}
        folder = recognizer_dir(resolve(models_dir) / baseline, seed, name)
        work.append(Job(f"{baseline}/{name} seed {seed}", train_with_retries,
                        (config, dataset.root, folder, settings, retry),
                        {"device": device, "init_weights": init}))
    done = dict(zip(jobs, run_jobs(work, processes, desc="train LR baselines", progress=progress)))
    logs = []
    for baseline in LR_BASELINES:
        entry: dict = {}
        for name in LR_RECOGNIZER_NAMES:
            per_seed = {}
            for seed in seeds:
                summary, log = done[(baseline, name, seed)]
                per_seed[str(seed)] = summary
                logs.append(log.assign(model=f"{baseline}/{name}", seed=seed))
            config = lr_baseline_configs(recognition, recognition_lr, baseline, name, seeds[-1])
            mean = {k: sum(r[k] for r in per_seed.values()) / len(per_seed)
                    for k in ("train_accuracy", "train_loss", "seconds", "all_seconds")}
            entry[name] = {**mean, "iterations": next(iter(per_seed.values()))["iterations"],
                           "epochs": int(config["epochs"]), "lr": float(config["lr"]),
                           "init": "HR TSN" if baseline == "tsn_finetuned_lr" else "scratch", "per_seed": per_seed}
        # one seed's, failed attempts included (arsr.study.retries)
        entry["train_seconds"] = sum(entry[n]["all_seconds"] for n in LR_RECOGNIZER_NAMES)
        entry["retries"] = [{"stream": name, "recognizer_seed": seed, **attempt} for name in LR_RECOGNIZER_NAMES
                            for seed in seeds for attempt in entry[name]["per_seed"][str(seed)]["attempts"]
                            if attempt["failed"]]
        entry["cost_seconds"] = entry["train_seconds"] + derive["derive_seconds"]
        entry["seeds"] = seeds
        metrics[baseline] = entry
    metrics["seconds"] = time.perf_counter() - t0
    log = pd.concat(logs, ignore_index=True) if logs else pd.DataFrame(columns=RECOGNIZER_PLOT_COLUMNS)
    log = log[RECOGNIZER_PLOT_COLUMNS + [c for c in log.columns if c not in RECOGNIZER_PLOT_COLUMNS]]
    return RecognizerRuns(metrics, log)
