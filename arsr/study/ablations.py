"""Stages ``ablate_sosr`` / ``ablate_tosr``: the paper's ablations (poster Tables 3 and 4, paper
Tables 2 and 3), each variant trained per seed and scored by ONE TSN stream (spatial for SoSR's,
temporal for ToSR's), as the paper scores them. Stage ``ablate_rdsr`` (beyond the paper): rdsr's
task terms, scored by TSN's fusion (rdsr's frames feed both streams).

The variants (presets, sizes, loss overrides, and which are rows of the main study) are
:mod:`arsr.study.variants`' table; this module trains and scores them.
"""
from __future__ import annotations

import math
from pathlib import Path
from typing import Mapping, Sequence

import pandas as pd

from ..mapping import merged
from ..paths import resolve
from ..shards import Shard
from .layout import ABLATION_COLUMNS, ABLATION_PER_VIDEO_COLUMNS, ablation_cache
from .variants import (ALIASES, KINDS, LABEL_COLUMNS, STREAM, VARIANTS, Variant, _variant,  # noqa: F401
                       alias_of, variant_name)

__all__ = ["Variant", "VARIANTS", "ALIASES", "alias_of", "KINDS", "STREAM", "LABEL_COLUMNS", "variant_phases",
           "variant_name", "train_variant", "evaluate_variant", "ablation_rows", "ablation_metrics"]


def variant_phases(kind: str, variant: str, sr: Mapping, seed: int = 0, out_dir: str | Path | None = None,
                   sr_models_dir: str | Path | None = None) -> list:
    """The resolved trainer phases (``arsr.train.presets.Phase``) of a variant for ``seed``; with
    ``out_dir`` each later phase starts from ``out_dir/<previous phase>/model.pt``; with
    ``sr_models_dir`` a variant with a ``base`` copies ``sr_models_dir/<base>/seed<k>``'s final
    model in as its first phase instead of training it again."""
    from ..train.presets import PRESETS, RECIPES, Phase, base_overrides, method_phases
    from ..train.config import resolve_config
    from .sr import method_overrides

    v = _variant(kind, variant)
    trained = method_phases(v.preset, method_overrides(sr, v.sizes, seed, extra=v.overrides), out_dir)
    phases = trained
    if v.base is not None and sr_models_dir is not None:
        base_file = resolve(sr_models_dir) / v.base / f"seed{seed}" / PRESETS[v.base][-1].name / "model.pt"
        extra = merged(v.overrides, base_overrides(v.preset, base_file, phase=RECIPES[v.preset][0].name))
        phases = method_phases(v.preset, method_overrides(sr, v.sizes, seed, extra=extra), out_dir)
    if v.finetune is not None:
        finetune = v.finetune() if callable(v.finetune) else v.finetune
        # the fine-tuning phase has the schedule of the preset's last phase as trained, not as copied
        cfg = merged(trained[-1].config, finetune)
        cfg["init_from"] = str(Path(out_dir) / phases[-1].name / "model.pt") if out_dir is not None else None
        phases.append(Phase(v.finetune_name, resolve_config(cfg)))
    return phases


def train_variant(kind: str, variant: str, sr: Mapping, seeds: Sequence[int], interim_dir: str | Path,
                  models_dir: str | Path, *, recognizers_dir: str | Path | None = None,
                  feature_seed: int | None = None, sr_models_dir: str | Path | None = None,
                  progress: bool = True, device=None, processes: int | None = 1):
    """Train a variant per seed into ``models_dir/<kind>_<variant>/seed<k>`` (its ``base``, if
    any, copied from ``sr_models_dir``); returns :class:`arsr.study.sr.SRRuns` (metrics and
    tidy log). ``recognizers_dir``/``feature_seed``: the feature network and rdsr's teachers;
    ``processes``: the seeds side by side (see ``train_sr_seeds``)."""
    from .sr import train_sr_seeds

    v = _variant(kind, variant)
    name = variant_name(kind, variant)
    runs = train_sr_seeds(v.preset, sr, seeds, interim_dir, resolve(models_dir) / name,
                          recognizers_dir=recognizers_dir, feature_seed=feature_seed, label=name,
                          progress=progress, device=device, processes=processes,
                          phases_for=lambda seed, out: variant_phases(kind, variant, sr, seed, out,
                                                                      sr_models_dir))
    runs.metrics.update({"kind": kind, "variant": variant, **v.label})
    return runs


def evaluate_variant(kind: str, variant: str, evaluate: Mapping, seeds: Sequence[int], prepare: Mapping,
                     interim_dir: str | Path, recognizers_dir: str | Path, models_dir: str | Path,
                     eval_dir: str | Path, *, recognizer_seeds: Sequence[int] = (0,), progress: bool = True,
                     device=None, processes: int | None = 1, shard: Shard | None = None) -> pd.DataFrame | None:
    """Score a trained variant (SR seeds ``seeds``) with the one TSN stream of its kind of every
    recognizer seed (``recognizers_dir/seed<k>`` for ``recognizer_seeds``; only that stream loaded,
    so only the frames it reads are super-resolved, once for all seeds; rdsr's: both streams and
    their fusion), on the test split (or the ``evaluate.max_videos`` subset); cache in
    ``eval_dir/ablation_<kind>_<variant>/seed<k>``. Returns the tidy rows
    (``layout.ABLATION_COLUMNS``); ``.attrs["per_video"]`` holds one row per video, SR seed and
    recognizer seed (``layout.ABLATION_PER_VIDEO_COLUMNS``). ``processes`` and ``shard``: the
    videos split over processes as in :func:`arsr.study.evaluation.evaluate_stage` (a shard's
    pass returns None)."""
    from ..data.store import PreparedDataset
    from ..evaluate import evaluate as run_evaluation
    from ..flow import flow_options
    from ..shards import is_split, run_sharded
    from ..workers import worker_count
    from .evaluation import balanced_subset, flow_workers, per_video_rows, prune_cache, seeded_recognizers
    from .sr import load_sr_method

    if shard is None and worker_count(processes) > 1:
        return run_sharded(evaluate_variant, kind, variant, evaluate, seeds, prepare, interim_dir, recognizers_dir,
                           models_dir, eval_dir, processes=processes, desc=f"evaluate {variant_name(kind, variant)}",
                           progress=progress, recognizer_seeds=recognizer_seeds, device=device)
    sharded = is_split(shard)
    v = _variant(kind, variant)
    name = variant_name(kind, variant)
    dataset = PreparedDataset(interim_dir)
    subset = balanced_subset(dataset, evaluate["max_videos"])
    rows = dataset.split("test")
    keys = rows["key"].tolist() if subset is None else rows.set_index("video_id").loc[subset, "key"].tolist()
    cache = resolve(eval_dir) / ablation_cache(kind, variant)
    stream = STREAM[kind]
    out, per_video = [], []
    streams = {"spatial": ("rgb",), "temporal": ("flow",), "fusion": ("rgb", "flow")}[stream]
    recs, names = seeded_recognizers(recognizers_dir, recognizer_seeds, ("tsn",), tsn_streams=streams,
                                     device=device)
    for seed in seeds:
        if not sharded or shard.is_main:  # once: here, or in the set-up pass before the pool
            prune_cache(cache / f"seed{seed}", keys)
        method = load_sr_method(models_dir, name, seed, device=device)
        result = run_evaluation(method, recs, dataset, name=f"seed{seed}", cache_dir=cache,
                                flow_method=prepare["flow_method"],
                                flow_options=flow_options(prepare["flow_method"], prepare.get("flow_device", "cpu")),
                                num_frames=evaluate["num_frames"],
                                crops=evaluate["crops"], workers=flow_workers(evaluate, shard),
                                shave=evaluate["shave"], videos=subset, progress=progress,
                                **({"shard": shard} if sharded else {}))
        if sharded:
            continue
        table = result.table[result.table["stream"] == stream]
        for row in table.itertuples():
            out.append({"kind": kind, "variant": variant, **v.label, "seed": int(seed),
                        "recognizer_seed": names[row.recognizer][1], "stream": stream,
                        "top1": row.top1, "top5": row.top5, "psnr": row.psnr, "ssim": row.ssim})
        videos = per_video_rows(result, seed, names)
        videos = videos[videos["stream"] == stream].drop(columns=["method", "recognizer"])
        per_video.append(videos.assign(kind=kind, variant=variant))
    if sharded:
        return None
    rows = pd.DataFrame(out, columns=ABLATION_COLUMNS)
    rows.attrs["per_video"] = pd.concat(per_video, ignore_index=True)[ABLATION_PER_VIDEO_COLUMNS]
    return rows


def ablation_rows(table: pd.DataFrame) -> pd.DataFrame:
    """Means of a variant's rows over its (SR seed, recognizer seed) cells (top1 std over the cells
    beside), in the paper's layout."""
    keys = ["kind", "variant", *LABEL_COLUMNS, "stream"]
    g = table.groupby(keys, sort=False)
    return g.agg(top1=("top1", "mean"), top1_std=("top1", "std"), top5=("top5", "mean"),
                 psnr=("psnr", "mean"), ssim=("ssim", "mean"), seeds=("seed", "nunique"),
                 recognizer_seeds=("recognizer_seed", "nunique")).reset_index()


def _plain(value):
    """JSON-friendly scalar: numpy scalars unwrapped, NaN/inf -> None."""
    if hasattr(value, "item"):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def ablation_metrics(rows: pd.DataFrame, train_metrics: Mapping) -> dict:
    """``reports/metrics/ablation/<kind>_<variant>.json`` (without seconds and provenance): the
    label columns, the seed means (``top1_std`` over seeds), the per-seed rows and a summary of
    the training (``train_variant``'s metrics)."""
    summary = ablation_rows(rows)
    if len(summary) != 1:
        raise ValueError(f"ablation rows hold {len(summary)} variants/streams; expected one")
    out = {k: _plain(v) for k, v in summary.iloc[0].to_dict().items()}
    out["per_seed"] = [{k: _plain(v) for k, v in r.items()} for r in rows[ABLATION_COLUMNS].to_dict(orient="records")]
    out["training"] = {k: train_metrics[k] for k in ("preset", "arch", "arch_kwargs", "parameters", "phases",
                                                     "final_losses", "feature_network", "seconds_per_seed")}
    return out
