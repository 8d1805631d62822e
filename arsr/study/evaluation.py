"""Stages ``evaluate_reference`` / ``evaluate`` / ``evaluate_combined``: recognition accuracy of one
SR method's video (``hr``, ``bicubic``, a trained method, or the paper's ``sosr+tosr``) on the test
split, per seed, with the recognizers of that seed (``arsr.evaluate``).

    runs = evaluate_stage("sosr", evaluate, seeds, prepare, "data/interim", "data/models/recognizers",
                          "data/models/sr", "data/eval")
    runs.table        # layout.TABLE_COLUMNS: method, seed, recognizer, stream, top1, top5, n_videos, psnr, ssim
    runs.per_class    # layout.PER_CLASS_COLUMNS: method, seed, recognizer, stream, class_name, accuracy
    runs.per_video    # layout.PER_VIDEO_COLUMNS
    runs.samples      # SR frames t, t+1 of the sample clips (seed ``seeds[0]``), or None

The per-video score cache of seed k lives in ``eval_dir/<item>/seed<k>/`` (``item`` = the method
with ``+`` replaced by ``_``, :func:`arsr.study.layout.eval_item`), the sample frames in
``eval_dir/<item>/samples.npz`` (:mod:`arsr.study.layout` names the files). SoSR+ToSR: the
TSN row fuses the cached spatial scores of ``sosr`` with the cached temporal scores of ``tosr``
(``arsr.evaluate.fuse_cached``); ST-ResNet, whose streams are coupled, runs on SoSR frames with
flow from ToSR frames (``evaluate(..., temporal_method=...)``).

The LR baselines (``layout.LR_BASELINES``: ``tsn_retrained_lr``, ``tsn_finetuned_lr``) are scored
exactly as the ``bicubic`` row (its frames, flow computed on them, no SR seed) but by their own
TSN, ``recognizers_dir/<baseline>/seed<k>/`` (``arsr.study.recognizers.train_lr_baselines``); TSN
only, no sample frames.
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping, Sequence

import numpy as np
import pandas as pd

from ..data.store import PreparedDataset
from ..methods import COMBINED, REFERENCE as REFERENCE_METHODS  # the rows without SR; the combined one
from ..params_file import ParamError
from ..paths import resolve
from ..recognition.config import RECOGNIZER_TYPES
from ..shards import Shard, is_split, run_sharded
from ..workers import per_process, worker_count
from .layout import (COLOUR_SHIFT_KEY, LR_BASELINES, PER_CLASS_COLUMNS, PER_VIDEO_COLUMNS, REFERENCE_CACHE,
                     TABLE_COLUMNS, eval_item, eval_stage, recognizer_key, samples_npz)

__all__ = [
    "SAMPLE_VIDEOS",
    "REFERENCE_METHODS",
    "COMBINED",
    "EvalRuns",
    "per_video_rows",
    "sample_videos",
    "sample_frame",
    "balanced_subset",
    "prune_cache",
    "seeded_recognizers",
    "stage_recognizers",
    "sr_method",
    "evaluate_stage",
    "flow_workers",
    "sample_frames",
    "save_samples",
    "load_samples",
    "seed_means",
    "eval_metrics",
    "colour_shift_metrics",
    "plot_accuracy",
    "plot_samples",
]

#: Clips in the sample figures (the report's ``sample_videos`` default).
SAMPLE_VIDEOS = 4


# ---------------------------------------------------------------------------------------------
# Which videos


def _labelled(dataset: PreparedDataset, split: str) -> pd.DataFrame:
    rows = dataset.split(split)
    rows = rows[rows["label"] >= 0]
    if rows.empty:
        raise ValueError(f"split {split!r} of {dataset.root / 'index.csv'} has no labelled videos")
    return rows.sort_values(["label", "video_id"], kind="stable").reset_index(drop=True)


def sample_videos(dataset: PreparedDataset | str | Path, n: int = SAMPLE_VIDEOS,
                  split: str = "test") -> list[str]:
    """The clips of the sample figures: the first test video (by video id) of classes 0, 1, 2, ...
    (at most ``n``; classes without a test video are passed over)."""
    if not isinstance(dataset, PreparedDataset):
        dataset = PreparedDataset(dataset)
    firsts = _labelled(dataset, split).groupby("label", sort=True).head(1)
    return firsts["video_id"].head(n).tolist()


def sample_frame(n_frames: int) -> int:
    """The frame ``t`` shown for a clip of ``n_frames`` (with ``t + 1``): the middle one."""
    return min(n_frames // 2, n_frames - 2)


def balanced_subset(dataset: PreparedDataset | str | Path, max_videos: int | None,
                    split: str = "test") -> list[str] | None:
    """``evaluate.max_videos``: at most ``max_videos`` videos of ``split``, spread over the classes
    (round robin over the classes in label order, each class's videos by id); None = all (also
    when ``max_videos`` is None or not below the split's size). Deterministic."""
    if not isinstance(dataset, PreparedDataset):
        dataset = PreparedDataset(dataset)
    rows = _labelled(dataset, split)
    if max_videos is None or max_videos >= len(rows):
        return None
    if max_videos < 1:
        raise ParamError(f"evaluate.max_videos = {max_videos}: at least 1 (or null for all)")
    rank = rows.groupby("label").cumcount()  # position of each video within its class
    order = rows.assign(_rank=rank).sort_values(["_rank", "label"], kind="stable")
    return order["video_id"].head(max_videos).tolist()


def prune_cache(folder: str | Path, keys: Sequence[str]) -> int:
    """Delete cached per-video files (scores, quality) under ``folder`` of videos not in ``keys``,
    so the cache holds exactly what the stage evaluated (``fuse_cached`` reads whole folders).
    Returns how many files were removed."""
    folder = resolve(folder)
    keep = set(keys)
    removed = 0
    for pattern in ("scores/*/*.npz", "quality/*.json"):
        for path in folder.glob(pattern):
            if path.name == "settings.json" or path.name.startswith("."):
                continue
            if path.stem not in keep:
                path.unlink()
                removed += 1
    return removed


# ---------------------------------------------------------------------------------------------
# Recognizers and methods


def seeded_recognizers(recognizers_dir: str | Path, seeds: Sequence[int], which: Sequence[str] = RECOGNIZER_TYPES,
                       *, tsn_streams: Sequence[str] = ("rgb", "flow"), st_resnet_seeds: int | None = None,
                       device=None) -> tuple[dict, dict]:
    """The recognizers of every seed of ``seeds`` (:func:`stage_recognizers`; ST-ResNet of the first
    ``st_resnet_seeds`` only, as trained: :func:`arsr.study.recognizers.trained_by_seed`) for one
    ``arsr.evaluate.evaluate`` call, which super-resolves each video and computes its flow once for
    all of them: ``({layout.recognizer_key(name, seed): recognizer}, {key: (name, seed)})``."""
    from .recognizers import trained_by_seed

    plan = trained_by_seed(seeds, [w for w in which if w == "st_resnet"], st_resnet_seeds)
    recs, names = {}, {}
    for seed in seeds:
        kinds = [w for w in which if w != "st_resnet" or "st_resnet" in plan[int(seed)]]
        for name, rec in stage_recognizers(recognizers_dir, int(seed), kinds, tsn_streams=tsn_streams,
                                           device=device).items():
            key = recognizer_key(name, seed)
            recs[key], names[key] = rec, (name, int(seed))
    return recs, names


def stage_recognizers(recognizers_dir: str | Path, seed: int, which: Sequence[str] = RECOGNIZER_TYPES,
                      *, tsn_streams: Sequence[str] = ("rgb", "flow"), device=None) -> dict:
    """``arsr.evaluate.load_recognizers`` for seed ``seed`` of ``recognizers_dir``: ``which`` of
    "tsn" (its ``tsn_streams``; fused with the weights chosen on the validation split where the
    folder has them, :mod:`arsr.study.fusion`, else the paper's 1:1.5) and "st_resnet"."""
    from ..evaluate import load_recognizers
    from .fusion import PAPER_WEIGHTS, fusion_weights

    root = resolve(recognizers_dir) / f"seed{seed}"
    paths = {}
    if "tsn" in which:
        for stream in tsn_streams:
            paths[f"tsn_{stream}"] = root / f"tsn_{stream}"
    if "st_resnet" in which:
        paths["st_resnet"] = root / "st_resnet"
    for name, path in paths.items():
        if not (path / "model.pt").is_file():
            raise FileNotFoundError(f"{path / 'model.pt'} not found: recognizer {name} of seed {seed} is not "
                                    "trained; run `dvc repro train_recognizers` (recognition.seeds must match)")
    weights = fusion_weights(recognizers_dir, seed) or PAPER_WEIGHTS
    return load_recognizers(**paths, fusion_weights=weights, device=device)


def sr_method(method: str, models_dir: str | Path, seed: int, scale: int = 4, device=None):
    """The ``arsr.sr_methods`` method called ``method``: ``hr``, ``bicubic`` (x``scale``) or a
    trained model of ``models_dir/<method>/seed<k>`` (:func:`arsr.study.sr.load_sr_method`)."""
    from ..sr_methods import bicubic_method, hr_method
    from .sr import load_sr_method

    if method == "hr":
        return hr_method()
    if method == "bicubic":
        return bicubic_method(scale, device=device)
    return load_sr_method(models_dir, method, seed, device=device)


# ---------------------------------------------------------------------------------------------
# The stage


@dataclass
class EvalRuns:
    """What :func:`evaluate_stage` measured (tables tidy, one row per seed, recognizer, stream)."""

    method: str
    table: pd.DataFrame
    per_class: pd.DataFrame
    samples: dict | None
    seconds: float
    per_video: pd.DataFrame | None = None
    # seed -> (3,) per RGB channel, grey levels (``arsr.evaluate.EvaluationResult``'s): the mean over
    # videos of |a video's mean SR - HR| (the colour check), and the signed mean (information only)
    channel_shift_abs: dict | None = None
    channel_shift: dict | None = None


def _keep_colour_shift(result, seed: int, shifts_abs: dict, shifts: dict) -> None:
    """Note ``result``'s colour shifts ``(3,)`` under ``seed`` (nothing when PSNR was not measured)."""
    if result.channel_shift_abs is not None:
        shifts_abs[int(seed)] = [float(v) for v in result.channel_shift_abs]
        shifts[int(seed)] = [float(v) for v in result.channel_shift]


def _seeded(frame: pd.DataFrame, names: Mapping[str, tuple[str, int]] | None) -> pd.DataFrame:
    """Rows of an ``arsr.evaluate`` table whose ``recognizer`` is a :func:`seeded_recognizers` key,
    as (``recognizer``, ``recognizer_seed``); without ``names``, the keys are the recognizers' names
    (``recognizer_seed`` 0)."""
    if names is None:
        return frame.assign(recognizer_seed=0)
    unknown = sorted(set(frame["recognizer"]) - set(names))
    if unknown:
        raise KeyError(f"recognizers {unknown} are not among the seeded recognizers {sorted(names)}")
    keys = frame["recognizer"]
    return frame.assign(recognizer=keys.map(lambda k: names[k][0]),
                        recognizer_seed=keys.map(lambda k: names[k][1]).astype(int))


def per_video_rows(result, seed: int, names: Mapping[str, tuple[str, int]] | None = None) -> pd.DataFrame:
    """``arsr.evaluate`` result -> ``PER_VIDEO_COLUMNS`` rows for SR seed ``seed`` (``names``: see
    :func:`seeded_recognizers`)."""
    pred = _seeded(result.predictions, names)
    out = pred.assign(seed=int(seed), correct=(pred["prediction"] == pred["label"]).astype(int))
    return out[PER_VIDEO_COLUMNS].reset_index(drop=True)


def _tidy(result, method: str, seed: int, names: Mapping[str, tuple[str, int]] | None = None,
          streams: Sequence[str] | None = None) -> tuple[pd.DataFrame, pd.DataFrame]:
    table = _seeded(result.table, names).assign(method=method, seed=int(seed))
    per_class = _seeded(result.per_class, names).rename(columns={"top1": "accuracy"}).assign(
        method=method, seed=int(seed))
    if streams is not None:
        table = table[table["stream"].isin(streams)]
        per_class = per_class[per_class["stream"].isin(streams)]
    return table[TABLE_COLUMNS], per_class[PER_CLASS_COLUMNS]


def evaluate_stage(method: str, evaluate: Mapping, seeds: Sequence[int], prepare: Mapping,
                   interim_dir: str | Path, recognizers_dir: str | Path, models_dir: str | Path,
                   eval_dir: str | Path, *, recognizer_seeds: Sequence[int] = (0,), n_samples: int = SAMPLE_VIDEOS,
                   name: str | None = None, progress: bool = True, device=None,
                   shard: Shard | None = None, processes: int | None = 1,
                   st_resnet_seeds: int | None = None, timings: dict[str, float] | None = None) -> EvalRuns | None:
    """Evaluate ``method`` (``hr``, ``bicubic``, a method of ``sr.methods``, ``sosr+tosr``, or an LR
    baseline of ``layout.LR_BASELINES``: see the module notes) for every SR seed of ``seeds`` with
    the recognizers ``evaluate.recognizers`` of every seed of ``recognizer_seeds``
    (``recognizers_dir/seed<k>``; ``recognition.seeds``; ST-ResNet of the first ``st_resnet_seeds``
    only, ``recognition.st_resnet_seeds``) on the test split (or its class-balanced
    ``evaluate.max_videos`` subset). One pass per SR seed super-resolves each video and computes its
    flow once; every recognizer seed scores those frames and fields (:func:`seeded_recognizers`).
    The reference methods have no SR seed: they are evaluated once and their rows repeated for
    every seed, so that tables join on the seed. An LR baseline's TSN of seed k
    (``recognizers_dir/<baseline>/seed<k>``) stands in for recognizer seed k. ``name`` (default
    ``method``) names the rows, the cache folder and the sample frames: the A/A control's twin
    (``aa_control``) is ``method`` retrained with other SR seeds. See the module notes for files
    and caches.

    ``processes`` (params.yaml's ``processes``, :func:`arsr.workers.worker_count`): more than one
    splits the videos over that many single-threaded processes (:func:`arsr.shards.run_sharded`:
    this process prunes and opens the caches, the pool's ranks fill them, this process merges),
    each with at most cores // processes flow/quality processes of its own (``evaluate.workers``);
    the per-video scores are those of one single-threaded process.

    ``shard`` (a rank of a torchrun launch, :mod:`arsr.study.sharded`, or of that pool): evaluate
    only this rank's slice of the videos into the per-video caches and return None; the stage's
    result is a later call without ``shard`` (the notebook's), which finds every video cached and
    only merges.

    ``timings``: a dict to which this process's seconds per part of the evaluation are added
    (``arsr.evaluate.TIMING_PARTS``; not with a pool or a shard: their processes keep their own)."""
    from ..evaluate import evaluate as run_evaluation
    from ..flow import flow_options

    if shard is None and worker_count(processes) > 1:
        return run_sharded(evaluate_stage, method, evaluate, seeds, prepare, interim_dir, recognizers_dir,
                           models_dir, eval_dir, processes=processes, desc=f"evaluate {name or method}",
                           progress=progress, recognizer_seeds=recognizer_seeds, n_samples=n_samples, name=name,
                           st_resnet_seeds=st_resnet_seeds,
                           device=device)
    t0 = time.perf_counter()
    dataset = PreparedDataset(interim_dir)
    label = name or method
    if label != method:
        n_samples = 0  # a twin's frames look like its method's
    cache = resolve(eval_dir) / eval_item(label)
    subset = balanced_subset(dataset, evaluate["max_videos"])
    rows = dataset.split("test")
    keys = rows["key"].tolist() if subset is None else rows.set_index("video_id").loc[subset, "key"].tolist()
    sharded = is_split(shard)
    if sharded:
        n_samples = 0  # the merge draws them
    options = dict(flow_method=prepare["flow_method"],
                   flow_options=flow_options(prepare["flow_method"], prepare.get("flow_device", "cpu")),
                   num_frames=evaluate["num_frames"],
                   crops=evaluate["crops"], workers=flow_workers(evaluate, shard),
                   shave=evaluate["shave"], videos=subset, progress=progress,
                   **({"shard": shard} if sharded else {"timings": timings}))
    lr_baseline = method in LR_BASELINES
    if lr_baseline:
        recs, names = seeded_recognizers(resolve(recognizers_dir) / method, recognizer_seeds, ("tsn",),
                                         device=device)
        n_samples = 0  # the bicubic row's frames
    else:
        recs, names = seeded_recognizers(recognizers_dir, recognizer_seeds, evaluate["recognizers"],
                                         st_resnet_seeds=st_resnet_seeds, device=device)
    tables, per_class, per_video, shifts_abs, shifts = [], [], [], {}, {}
    samples = None
    once = method in REFERENCE_METHODS or lr_baseline  # no SR seed: evaluated once, rows repeated per seed
    prune = not sharded or shard.is_main  # files of videos no longer evaluated: removed once
    if once:
        if prune:
            prune_cache(cache / REFERENCE_CACHE, keys)
        sr = sr_method("bicubic" if lr_baseline else method, models_dir, seeds[0], prepare["scale"], device=device)
        result = run_evaluation(sr, recs, dataset, name=REFERENCE_CACHE, cache_dir=cache, **options)
        for seed in seeds if not sharded else ():
            table, classes = _tidy(result, label, seed, names)
            tables.append(table)
            per_class.append(classes)
            per_video.append(per_video_rows(result, seed, names).assign(method=label))
            _keep_colour_shift(result, seed, shifts_abs, shifts)
        if n_samples:
            samples = sample_frames(sr, dataset, n_samples)
    for seed in seeds if not once else ():
        if prune:
            prune_cache(cache / f"seed{seed}", keys)
        if method == COMBINED:
            parts = _combined(recs, names, seed, dataset, models_dir, eval_dir, keys, options, prepare, device)
        else:
            sr = sr_method(method, models_dir, seed, prepare["scale"], device=device)
            result = run_evaluation(sr, recs, dataset, name=f"seed{seed}", cache_dir=cache, **options)
            if sharded:
                continue
            parts = [(*_tidy(result, label, seed, names), per_video_rows(result, seed, names).assign(method=label))]
            _keep_colour_shift(result, seed, shifts_abs, shifts)
            if samples is None and n_samples:
                samples = sample_frames(sr, dataset, n_samples)
        for table, classes, videos in parts if not sharded else ():
            tables.append(table)
            per_class.append(classes)
            per_video.append(videos)
    if sharded:
        return None
    if samples is not None:
        save_samples(resolve(eval_dir) / samples_npz(label), samples)
    table = pd.concat(tables, ignore_index=True)
    classes = pd.concat(per_class, ignore_index=True)
    videos = pd.concat(per_video, ignore_index=True)[PER_VIDEO_COLUMNS]
    return EvalRuns(label, table, classes, samples, time.perf_counter() - t0, videos,
                    channel_shift_abs=shifts_abs or None, channel_shift=shifts or None)


def flow_workers(evaluate: Mapping, shard: Shard | None) -> int:
    """``evaluate.workers`` of one evaluation process: a rank of an in-stage pool takes its share
    of the cores (shards x flow processes <= cores); torchrun's ranks and one process take it as
    it is."""
    if is_split(shard) and shard.role == "pool":
        return per_process(evaluate["workers"], shard.world)
    return worker_count(evaluate["workers"])


def _combined(recs, names, seed, dataset, models_dir, eval_dir, keys, options, prepare, device):
    """SoSR+ToSR for one SR seed: TSN fused from the sosr/tosr caches (each recognizer seed's),
    ST-ResNet on SoSR frames with ToSR flow. Only fusion rows."""
    from ..evaluate import evaluate as run_evaluation, fuse_cached

    parts = []
    sharded = "shard" in options  # a rank's slice: only ST-ResNet has frames to score; the merge fuses TSN
    tsn = [k for k in recs if names[k][0] == "tsn"]
    for part in ("sosr", "tosr") if tsn else ():  # checked by every pass: a pool or a rank fails before its work
        for key in tsn:
            folder = resolve(eval_dir) / eval_item(part) / f"seed{seed}" / "scores" / key
            if not (folder / "settings.json").is_file():
                raise FileNotFoundError(f"{folder} not found: the SoSR+ToSR row fuses the cached TSN scores "
                                        f"of sosr and tosr; run `dvc repro {eval_stage('sosr')} "
                                        f"{eval_stage('tosr')}` first")
    if tsn and not sharded:
        for key in tsn:
            result = fuse_cached(eval_dir, spatial=f"sosr/seed{seed}", temporal=f"tosr/seed{seed}",
                                 recognizer=key, weights=recs[key].fusion_weights, name=COMBINED)
            got = {dataset.index.set_index("video_id").loc[v, "key"] for v in result.video_ids}
            if got != set(keys):
                raise ValueError(f"the cached sosr/tosr TSN scores of seed {seed} cover {len(got)} videos, this "
                                 f"evaluation {len(keys)}: re-run `dvc repro -f {eval_stage('sosr')} "
                                 f"{eval_stage('tosr')}`")
            videos = per_video_rows(result, seed, names).assign(method=COMBINED)
            parts.append((*_tidy(result, COMBINED, seed, names, streams=("fusion",)),
                          videos[videos["stream"] == "fusion"]))
    st = {k: recs[k] for k in recs if names[k][0] == "st_resnet"}
    if st:
        sosr = sr_method("sosr", models_dir, seed, prepare["scale"], device=device)
        tosr = sr_method("tosr", models_dir, seed, prepare["scale"], device=device)
        result = run_evaluation(sosr, st, dataset, name=f"seed{seed}",
                                cache_dir=resolve(eval_dir) / eval_item(COMBINED), temporal_method=tosr,
                                psnr=False, **options)
        if sharded:
            return parts
        videos = per_video_rows(result, seed, names).assign(method=COMBINED)
        parts.append((*_tidy(result, COMBINED, seed, names, streams=("fusion",)), videos[videos["stream"] == "fusion"]))
    return parts


# ---------------------------------------------------------------------------------------------
# Sample frames for the figures


def sample_frames(method, dataset: PreparedDataset, n: int = SAMPLE_VIDEOS) -> dict:
    """``method``'s frames t and t + 1 (``sample_frame``) of the ``sample_videos`` clips:
    ``{"video_ids": (n,) str, "frames": (n,) int64, "sr": (n, 2, H, W, 3) uint8}``."""
    ids, frames, images = [], [], []
    for vid in sample_videos(dataset, n):
        video = dataset.video(vid)
        t = sample_frame(video.n_frames)
        ids.append(vid)
        frames.append(t)
        images.append(np.asarray(method.frames(video, [t, t + 1])))
    return {"video_ids": np.asarray(ids, dtype=str), "frames": np.asarray(frames, np.int64),
            "sr": np.stack(images) if images else np.zeros((0, 2, 0, 0, 3), np.uint8)}


def save_samples(path: str | Path, samples: Mapping[str, np.ndarray]) -> None:
    """Write :func:`sample_frames` output as ``.npz`` (atomically)."""
    from ..io import atomic_path

    with atomic_path(path, suffix=".npz") as tmp, open(tmp, "wb") as f:
        np.savez_compressed(f, **{k: np.asarray(v) for k, v in samples.items()})


def load_samples(path: str | Path) -> dict:
    """Read a ``samples.npz`` written by :func:`save_samples`."""
    with np.load(resolve(path), allow_pickle=False) as z:
        return {k: z[k] for k in z.files}


# ---------------------------------------------------------------------------------------------
# Summaries


def seed_means(table: pd.DataFrame) -> pd.DataFrame:
    """Mean and standard deviation of top1/top5 over the (SR seed, recognizer seed) cells per
    (method, recognizer, stream); PSNR/SSIM means; how many SR seeds and recognizer seeds."""
    g = table.groupby(["method", "recognizer", "stream"], sort=False)
    out = g.agg(top1=("top1", "mean"), top1_std=("top1", "std"), top5=("top5", "mean"),
                n_videos=("n_videos", "first"), psnr=("psnr", "mean"), ssim=("ssim", "mean"),
                seeds=("seed", "nunique"), recognizer_seeds=("recognizer_seed", "nunique"))
    return out.reset_index()


def _finite(x) -> float | None:
    return float(x) if x is not None and np.isfinite(x) else None


def eval_metrics(runs: EvalRuns) -> dict:
    """``reports/metrics/eval/<item>.json`` (without provenance): top1 (%) means over the (SR seed,
    recognizer seed) cells per recognizer and stream, PSNR/SSIM (null where not finite: hr,
    sosr+tosr; PSNR also per SR seed), videos, the colour shift where PSNR was measured (:func:`colour_shift_metrics`),
    seconds."""
    means = seed_means(runs.table)
    out: dict = {"method": runs.method, "seeds": sorted(int(s) for s in runs.table["seed"].unique()),
                 "recognizer_seeds": sorted(int(s) for s in runs.table["recognizer_seed"].unique())}
    for rec, part in means.groupby("recognizer", sort=False):
        out[rec] = {row.stream: _finite(row.top1) for row in part.itertuples()}
        out[f"{rec}_top5"] = {row.stream: _finite(row.top5) for row in part.itertuples()}
    per_seed = runs.table.groupby("seed")[["psnr", "ssim"]].first()
    quality = per_seed.mean()
    out["psnr"] = _finite(quality["psnr"])
    # each SR seed's: an experiment keeps its metrics only, and the PSNR target is per seed
    out["psnr_per_seed"] = {str(int(s)): _finite(v) for s, v in per_seed["psnr"].items()}
    out["ssim"] = _finite(quality["ssim"])
    out["n_videos"] = int(runs.table["n_videos"].max())
    if runs.channel_shift_abs:
        out["colour_shift"] = colour_shift_metrics(runs.channel_shift_abs, runs.channel_shift or {})
    out["seconds"] = runs.seconds
    return out


def colour_shift_metrics(shifts_abs: Mapping[int, Sequence[float]],
                         shifts: Mapping[int, Sequence[float]]) -> dict:
    """The metrics' ``colour_shift`` from seed -> ``(3,)`` mean |shift| per channel per video
    (``shifts_abs``) and the signed means (``shifts``): per seed the largest channel, the worst seed
    as ``layout.COLOUR_SHIFT_KEY`` (colours kept when <= 1 grey level), the RGB values of both."""
    # per seed: max_c mean_v |mean_frames(SR - HR)_vc|
    per_seed = {str(s): float(max(v)) for s, v in shifts_abs.items()}
    return {COLOUR_SHIFT_KEY: max(per_seed.values()), "per_seed": per_seed,
            "abs_rgb_per_seed": {str(s): list(v) for s, v in shifts_abs.items()},
            "signed_rgb_per_seed": {str(s): list(v) for s, v in shifts.items()}}


# ---------------------------------------------------------------------------------------------
# Figures


def plot_accuracy(table: pd.DataFrame, title: str = ""):
    """Top-1 accuracy per recognizer and stream (seed mean, error bar = std over seeds)."""
    import matplotlib.pyplot as plt

    means = seed_means(table)
    fig, ax = plt.subplots(figsize=(1.2 + 0.9 * len(means), 3.2))
    labels = [f"{r}\n{s}" for r, s in zip(means["recognizer"], means["stream"])]
    err = means["top1_std"].fillna(0).to_numpy()
    bars = ax.bar(labels, means["top1"], yerr=err if err.any() else None, color="tab:blue", capsize=3)
    ax.bar_label(bars, fmt="%.1f", fontsize=8)
    ax.set(ylabel="top-1 (%)", ylim=(0, 105), title=title)
    fig.tight_layout()
    return fig


def plot_samples(samples: Mapping[str, np.ndarray], dataset: PreparedDataset | None = None, title: str = ""):
    """The sample clips' frames t and t + 1 (and, given the dataset, the HR frame t beside them)."""
    import matplotlib.pyplot as plt

    n = len(samples["video_ids"])
    cols = 3 if dataset is not None else 2
    fig, axes = plt.subplots(n, cols, figsize=(3.0 * cols, 2.3 * n), squeeze=False)
    for i, (vid, t) in enumerate(zip(samples["video_ids"], samples["frames"])):
        panels = [(samples["sr"][i, 0], f"{title} t={t}"), (samples["sr"][i, 1], f"{title} t={t + 1}")]
        if dataset is not None:
            panels.append((np.asarray(dataset.video(str(vid)).hr[int(t)]), f"HR t={t}"))
        for ax, (img, label) in zip(axes[i], panels):
            ax.imshow(img)
            ax.set_title(label, fontsize=8)
            ax.set_xticks([])
            ax.set_yticks([])
        axes[i, 0].set_ylabel(str(vid).split("/")[-1][:26], fontsize=7)
    fig.tight_layout()
    return fig
