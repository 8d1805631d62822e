"""Stage ``train_recognizers``: the TSN spatial and temporal streams and ST-ResNet, trained on the
HR training split once per seed (``models_dir/seed<k>/<name>``) and reused by every evaluation.

    runs = train_recognizers(recognition, seeds, "data/interim", "data/models/recognizers")
    runs.metrics      # {name: {train_accuracy, seconds, epochs, ...}, ...}
    runs.log          # tidy training log: model, seed, iteration, loss, accuracy (+ epoch, lr)

Training resumes from each model's ``last.pt`` and a finished model is not retrained
(:func:`arsr.recognition.train.train_recognizer`), unless its settings or the prepared data (the
store's dataset fingerprint) changed: then its folder is emptied and it is trained again
(:func:`arsr.study.persist.reuse_or_reset`).
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping, Sequence

import pandas as pd

from ..data.store import PreparedDataset
from ..paths import resolve
from .layout import RECOGNIZER_PLOT_COLUMNS
from .persist import reuse_or_reset
from ..params_file import ParamError

__all__ = ["RECOGNIZER_NAMES", "FEATURE_NAMES", "RecognizerRuns", "device_for", "recognizer_dir", "trained_by_seed",
           "train_recognizers", "train_job", "training_log", "plot_training_curves"]

#: The study's recognizers, keys of the ``recognition`` params group.
RECOGNIZER_NAMES = ("tsn_rgb", "tsn_flow", "st_resnet")
#: The TSN streams trained a second time with ``recognition.feature_seed``, into the feature
#: network's folder: the network of the SR feature loss (tsn_rgb) and rdsr's two teachers (tsn_rgb,
#: tsn_flow). They never score a method.
FEATURE_NAMES = ("tsn_rgb", "tsn_flow")


def device_for(setting: str | None):
    """``recognition.device`` -> the ``device`` argument of the trainers: ``auto`` = None
    (CUDA when available, else the CPU)."""
    if setting in (None, "auto"):
        return None
    if setting == "cuda":
        import torch
        if not torch.cuda.is_available():
            raise RuntimeError("params: recognition.device = 'cuda' but no CUDA device is visible; "
                               "set recognition.device: auto (or cpu)")
    return setting


def recognizer_dir(models_dir: str | Path, seed: int, name: str) -> Path:
    """Where recognizer ``name`` of seed ``seed`` lives: ``models_dir/seed<k>/<name>``."""
    return resolve(models_dir) / f"seed{seed}" / name


@dataclass
class RecognizerRuns:
    """What :func:`train_recognizers` did: ``metrics`` (for ``reports/metrics/recognizers.json``,
    without provenance) and ``log`` (all training logs, tidy)."""

    metrics: dict
    log: pd.DataFrame


def trained_by_seed(seeds: Sequence[int], names: Sequence[str] = RECOGNIZER_NAMES,
                    st_resnet_seeds: int | None = None) -> dict[int, list[str]]:
    """The recognizers each seed trains and scores with: every one of ``names`` for every seed,
    ST-ResNet for the first ``st_resnet_seeds`` of ``seeds`` only (None: all; the study's
    ``recognition.st_resnet_seeds``: ST-ResNet decides no claim, and it costs as much to train as
    TSN's two streams)."""
    k = len(seeds) if st_resnet_seeds is None else int(st_resnet_seeds)
    if not 1 <= k <= len(seeds) and "st_resnet" in names:
        raise ParamError(f"recognition.st_resnet_seeds = {st_resnet_seeds}: from 1 to the number of "
                         f"recognition.seeds ({len(seeds)})")
    return {int(seed): [n for n in names if n != "st_resnet" or i < k] for i, seed in enumerate(seeds)}


def train_recognizers(recognition: Mapping, seeds: Sequence[int], interim_dir: str | Path,
                      models_dir: str | Path, *, names: Sequence[str] = RECOGNIZER_NAMES,
                      feature_dir: str | Path | None = None, feature_seed: int | None = None,
                      feature_names: Sequence[str] = FEATURE_NAMES, progress: bool = True,
                      processes: int | None = 1, st_resnet_seeds: int | None = None) -> RecognizerRuns:
    """Train (or resume, or find finished) each recognizer of ``names`` for each seed (the study:
    ``recognition.seeds``, each seed's recognizers scoring every method), and with ``feature_dir`` the TSN streams
    ``feature_names`` (default ``FEATURE_NAMES``; the study: ``recognition.feature_streams``) once
    more with ``feature_seed``, into ``feature_dir/seed<feature_seed>/<name>``: the network of the
    SR feature loss (tsn_rgb) and rdsr's teachers (tsn_rgb, tsn_flow), which must not be the
    recognizers that score the methods. ST-ResNet is trained for the first ``st_resnet_seeds`` seeds
    only (:func:`trained_by_seed`).

    recognition: the validated ``recognition`` params group (``device`` and one
        :class:`~arsr.recognition.train.TrainConfig` mapping per name; ``seeds``,
        ``feature_seed`` and ``feature_streams`` keys are ignored here).
    processes: params.yaml's ``processes``: the (seed, recognizer) jobs and the feature network's
        are independent (each seeds itself), so more than one process trains them side by side in
        single-threaded processes (:func:`arsr.workers.run_jobs`), with the weights one
        single-threaded process gives; 1 trains them one after the other here.
    Returns the per-model summary (last logged training accuracy, a fraction, and training
    seconds, both averaged over seeds; epochs; ``feature_<name>`` for the feature networks)
    and the tidy log.
    """
    from ..workers import Job, run_jobs

    unknown = [n for n in names if n not in recognition]
    if unknown:
        raise KeyError(f"params: recognition has no {', '.join(unknown)}; it needs one training "
                       f"mapping per recognizer ({', '.join(RECOGNIZER_NAMES)})")
    dataset = PreparedDataset(interim_dir)
    device = device_for(recognition.get("device"))
    t0 = time.perf_counter()
    per_seed: dict[str, dict[str, dict]] = {n: {} for n in names}
    plan = trained_by_seed(seeds, names, st_resnet_seeds)
    jobs = [(models_dir, seed, name, name) for seed, trained in plan.items() for name in trained]
    if feature_dir is not None:
        if feature_seed is None or int(feature_seed) in {int(s) for s in seeds}:
            raise ParamError(f"train_recognizers: feature_seed = {feature_seed} must be given and differ "
                             f"from the recognizers' seeds {list(seeds)}")
        unknown = sorted(set(feature_names) - set(FEATURE_NAMES))
        if unknown:
            raise ParamError(f"train_recognizers: feature_names {unknown}: choose from {', '.join(FEATURE_NAMES)}")
        for name in feature_names:
            jobs.append((feature_dir, int(feature_seed), name, f"feature_{name}"))
            per_seed[f"feature_{name}"] = {}
    work = []
    for folder, seed, name, key in jobs:
        config = {**recognition[name], "seed": int(seed)}
        # a model of other data (another dataset fingerprint) is trained again, never reused
        reuse_or_reset(recognizer_dir(folder, seed, name), {"name": name, "config": config,
                                                            "dataset": dataset.fingerprint})
        work.append(Job(f"{key} seed {seed}", train_job, (config, dataset.root, recognizer_dir(folder, seed, name)),
                        {"device": device}))
    for (_, seed, _, key), (summary, _) in zip(jobs, run_jobs(work, processes, desc="train recognizers",
                                                            progress=progress)):
        per_seed[key][str(seed)] = summary
    metrics: dict = {}
    for key, runs in per_seed.items():
        name = key.removeprefix("feature_")
        mean = lambda k: sum(r[k] for r in runs.values()) / len(runs)  # noqa: E731
        metrics[key] = {"train_accuracy": mean("train_accuracy"), "train_loss": mean("train_loss"),
                        "seconds": mean("seconds"), "epochs": recognition[name].get("epochs"),
                        "iterations": next(iter(runs.values()))["iterations"], "per_seed": runs}
    metrics["seconds"] = time.perf_counter() - t0
    log = training_log(models_dir, seeds, names, plan)
    if feature_dir is not None:
        feature_log = training_log(feature_dir, [int(feature_seed)], list(feature_names))
        log = pd.concat([log, feature_log.assign(model="feature_" + feature_log["model"])], ignore_index=True)
    return RecognizerRuns(metrics, log)


def train_job(config: Mapping, interim_dir: str | Path, out_dir: str | Path, *, device=None,
              init_weights: str | Path | None = None, progress: bool = True) -> tuple[dict, pd.DataFrame]:
    """One recognizer trained (or resumed, or found finished) into ``out_dir``: a job of
    :func:`arsr.workers.run_jobs`. Returns its summary (last logged training accuracy and loss,
    training seconds, iterations) and its log."""
    from ..recognition.train import train_recognizer

    result = train_recognizer(config, interim_dir, out_dir, device=device, progress=progress,
                              init_weights=init_weights)
    last = result.log.iloc[-1] if len(result.log) else None
    summary = {
        "train_accuracy": float(last["accuracy"]) if last is not None else float("nan"),
        "train_loss": float(last["loss"]) if last is not None else float("nan"),
        "seconds": float(last["seconds"]) if last is not None else float("nan"),
        "iterations": int(result.total_iterations),
    }
    return summary, result.log


def training_log(models_dir: str | Path, seeds: Sequence[int], names: Sequence[str] = RECOGNIZER_NAMES,
                 plan: Mapping[int, Sequence[str]] | None = None) -> pd.DataFrame:
    """Every ``log.csv`` under ``models_dir`` as one table: ``RECOGNIZER_PLOT_COLUMNS`` plus epoch, lr and
    seconds (``plan``: the names each seed trained, :func:`trained_by_seed`; default all of
    ``names``). The accuracy is the training accuracy (a fraction) over the logged window."""
    parts = []
    for seed in seeds:
        for name in (plan or {}).get(int(seed), names):
            path = recognizer_dir(models_dir, seed, name) / "log.csv"
            if not path.is_file():
                raise FileNotFoundError(f"{path} not found: train the recognizer first "
                                        "(arsr.study.recognizers.train_recognizers)")
            log = pd.read_csv(path)
            for column in ("val_loss", "val_accuracy"):  # a log of before held-out scoring has none
                if column not in log.columns:
                    log[column] = float("nan")
            log.insert(0, "seed", int(seed))
            log.insert(0, "model", name)
            parts.append(log)
    table = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=RECOGNIZER_PLOT_COLUMNS)
    return table[RECOGNIZER_PLOT_COLUMNS + [c for c in table.columns if c not in RECOGNIZER_PLOT_COLUMNS]]


def plot_training_curves(log: pd.DataFrame):
    """Training loss and accuracy against the iteration, one line per (model, seed)."""
    import matplotlib.pyplot as plt

    fig, (ax_loss, ax_acc) = plt.subplots(1, 2, figsize=(11, 3.6))
    for (model, seed), part in log.groupby(["model", "seed"], sort=False):
        label = model if log["seed"].nunique() == 1 else f"{model} (seed {seed})"
        ax_loss.plot(part["iteration"], part["loss"], label=label)
        ax_acc.plot(part["iteration"], 100 * part["accuracy"], label=label)
    ax_loss.set(xlabel="iteration", ylabel="cross-entropy", title="training loss", yscale="log")
    ax_acc.set(xlabel="iteration", ylabel="%", title="training accuracy (logged window)", ylim=(0, 100))
    ax_acc.legend(fontsize=8)
    fig.tight_layout()
    return fig
