"""The ``prepare`` and ``evaluate`` stages' heavy part, sharded over processes, GPUs and nodes.

    torchrun --standalone --nproc_per_node=4 -m arsr.study.sharded prepare
    torchrun --standalone --nproc_per_node=4 -m arsr.study.sharded evaluate sosr [tosr ...]
    torchrun --nnodes=2 --node_rank=R --rdzv-endpoint=HOST:29500 --nproc_per_node=8 \\
        -m arsr.study.sharded evaluate bicubic
    dvc repro                   # the stages' notebooks find every video done and only merge

Each rank takes a disjoint, deterministic slice of the videos (:class:`arsr.shards.Shard`: every
``world``-th one of the store's index, or of the dataset listing) and writes each finished video
to the stage's per-video output as the single-process stage does (a prepared folder; the score
and quality caches under ``data/eval/<method>``), so a killed run resumes at video granularity,
with any process count. Rank 0 then merges: it runs the stage's library call without a shard,
which finds every video done (prepare: writes the index; evaluate: prints the seed means). The
results are those of the single-process run: the same per-video computation on the same inputs.
On one machine the evaluation stages do the same by themselves, over a pool of single-threaded
processes (params.yaml's ``processes``, :func:`arsr.shards.run_sharded`); this module is for
torchrun launches (GPUs, nodes).

Params come from ``params.yaml`` (``--params`` another file, e.g. a profile), folders default to
the ones ``dvc.yaml`` passes. Each process runs on ``cuda:<LOCAL_RANK>``
when CUDA is visible (NCCL), else on the CPU (Gloo); torchrun gives each CPU process one thread
unless ``OMP_NUM_THREADS`` says otherwise.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Sequence

from ..params_file import ParamError, load_params
from ..shards import Shard, barrier, rank_ordered
from .schema import validate

__all__ = ["prepare_sharded", "evaluate_sharded", "main"]


def prepare_sharded(params: dict, interim_dir: str | Path, shard: Shard, *, progress: bool = True) -> dict:
    """``prepare``'s videos of this rank (after rank 0 has listed or generated the dataset); rank
    0 then writes the index of all of them. Returns this rank's stats (rank 0: the merge's)."""
    from ..data.prepare import PrepareSettings, list_dataset, prepare_dataset

    data, prepare = params["data"], params["prepare"]
    with rank_ordered(shard):  # the synthetic set is generated once, by rank 0
        records, _ = list_dataset(data, workers=prepare["workers"], progress=progress and shard.is_main)
    settings = PrepareSettings.from_params(prepare)
    kw = dict(workers=prepare["workers"], on_bad_video=data["on_bad_video"], progress=progress)
    _, stats = prepare_dataset(records, interim_dir, settings, shard=shard, **kw)
    barrier(shard)
    if shard.is_main:
        _, stats = prepare_dataset(records, interim_dir, settings, **kw)
    barrier(shard)
    return stats


def evaluate_sharded(method: str, params: dict, dirs: dict, shard: Shard, *, device=None,
                     progress: bool = True):
    """``evaluate_stage`` of ``method``: this rank's videos into the caches; rank 0 then merges
    and returns the stage's ``EvalRuns`` (the other ranks return None)."""
    from .evaluation import evaluate_stage

    args = (method, params["evaluate"], params["seeds"], params["prepare"], dirs["interim"], dirs["recognizers"],
            dirs["models"], dirs["eval"])
    kw = dict(recognizer_seeds=params["recognition"]["seeds"], st_resnet_seeds=params["recognition"]["st_resnet_seeds"],
              device=device, progress=progress)
    evaluate_stage(*args, shard=shard, **kw)
    barrier(shard)
    runs = evaluate_stage(*args, **kw) if shard.is_main else None
    barrier(shard)
    return runs


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m arsr.study.sharded", description=__doc__.split("\n\n")[0])
    p.add_argument("--params", default=None, help="params file (default: the study's params.yaml)")
    p.add_argument("--interim", default="data/interim", help="prepared store (default data/interim)")
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    sub = p.add_subparsers(dest="stage", required=True)
    sub.add_parser("prepare", help="prepare the dataset's videos (data, prepare groups)")
    ev = sub.add_parser("evaluate", help="evaluate SR methods (evaluate, seeds, prepare groups)")
    ev.add_argument("methods", nargs="+", help="rows: hr, bicubic, sr.methods entries, sosr+tosr, LR baselines")
    ev.add_argument("--recognizers", default="data/models/recognizers", help="(default data/models/recognizers)")
    ev.add_argument("--models", default="data/models/sr", help="trained SR models (default data/models/sr)")
    ev.add_argument("--eval", default="data/eval", help="per-video caches (default data/eval)")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    from ..train import distributed

    args = _parser().parse_args(argv)
    groups = ["data", "prepare"] if args.stage == "prepare" else ["evaluate", "seeds", "prepare", "recognition"]
    try:
        params = validate(load_params(args.params), groups)
    except (ParamError, FileNotFoundError) as err:
        print(f"arsr.study.sharded: {err}", file=sys.stderr)
        return 2
    info = distributed.setup()
    shard = Shard(info.rank, info.world_size)
    progress = not args.quiet
    try:
        if args.stage == "prepare":
            stats = prepare_sharded(params, args.interim, shard, progress=progress)
            if shard.is_main:
                print(f"prepared {stats['videos']} videos into {args.interim} ({stats['prepared']} now, "
                      f"{stats['reused']} reused, {stats['skipped_unreadable']} unreadable) "
                      f"with {shard.world} process(es)")
        else:
            dirs = {"interim": args.interim, "recognizers": args.recognizers, "models": args.models,
                    "eval": args.eval}
            for method in args.methods:
                runs = evaluate_sharded(method, params, dirs, shard, device=info.device, progress=progress)
                if runs is not None:
                    from .evaluation import seed_means

                    means = seed_means(runs.table)
                    print(f"{method}: {int(runs.table['n_videos'].max())} videos, {shard.world} process(es)")
                    print(means[["recognizer", "stream", "top1", "top1_std", "psnr"]].to_string(index=False))
    finally:
        distributed.cleanup()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
