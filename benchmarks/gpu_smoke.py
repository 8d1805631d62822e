"""The Python steps of ``benchmarks/gpu_smoke.sh`` (run that; never run by CI).

    python benchmarks/gpu_smoke.py stages --work DIR   (a) every stage of the study, a few iterations
    python benchmarks/gpu_smoke.py flow                (b) tvl1_torch on CUDA vs the CPU
    python benchmarks/gpu_smoke.py evaluation --work DIR   (c) the default study's evaluation, timed
    torchrun --nproc_per_node=N benchmarks/gpu_smoke.py ddp --work DIR   (d) DDP training

(a) runs the study's own stage functions (``arsr.study``: recognisers, SR training of every method
with its base models and feature network, the evaluation of every row of Table 2) on the real
clip of the reference data and variants of it (``benchmarks/clips.py``), with the published
sizes of ``profiles/paper.yaml`` and a handful of iterations; the trainers use bf16 autocast on
CUDA (their ``amp`` setting), the evaluation float32. (b) times ``tvl1_torch`` on 320x240 pairs
on CUDA and on every CPU core and compares the flows (median end-point difference, also against
OpenCV's TV-L1). (c) runs the evaluation stage of one method (``--method``, VDSR) at the sizes of
``--default-profile`` (params.yaml: its synthetic dataset, generated in the working folder, its
flow, snippets and crops) on the device, once with the flow and PSNR/SSIM in the stage's process
and once with a pool of every core, and prints where the time went per video (``arsr.evaluate``'s
``timings``: SR, flow, quality, waiting for the pool, scoring, writes) and the CPU side's share:
on a GPU the CPU work must not dominate. Its models are trained a few iterations: the timings do
not depend on the weights. (d) trains an image and a video SR model and a TSN stream under torchrun.

Every step prints what it measured and stops with a non-zero status at the first failure (an
exception, a non-finite loss, a flow beyond the tolerance). ``--device cpu --profile
profiles/tiny.yaml`` (and ``--default-profile profiles/tiny.yaml`` for (c)) runs the same code on
the CPU at tiny sizes: a check of this script, not of the GPU paths.
"""
from __future__ import annotations

import argparse
import math
import os
import shutil
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from clips import make_clips, reference_clip  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
EPE_TOLERANCE = 0.15  # px, median end-point difference (issue 9's accuracy target for tvl1_torch)


def say(*parts) -> None:
    print("gpu_smoke:", *parts, flush=True)


def fail(message: str) -> None:
    raise SystemExit(f"gpu_smoke: FAILED: {message}")


# ---------------------------------------------------------------------------------------------
# Settings


def smoke_profile(path: str, iterations: int, device: str, world: int = 1) -> dict:
    """The params of ``path`` shrunk to a few iterations: recognisers of one seed, 2 epochs of batches of
    2 per process, SR ``iterations`` per phase on the training split, evaluation in this
    process, prepare with DIS (it has no device option: ``tvl1_torch`` would run on the CPU)."""
    from arsr.mapping import merged
    from arsr.params_file import load_params

    p = Path(path)
    params = load_params(p if p.is_absolute() else ROOT / p)
    rec = params["recognition"]
    rec["device"] = "cuda" if device == "cuda" else "cpu"
    rec.update(seeds=[0], st_resnet_seeds=1)
    for name in ("tsn_rgb", "tsn_flow", "st_resnet"):
        rec[name].update(epochs=2, batch_size=2 * world, workers=2, log_every=1, checkpoint_every=0)
    params["sr"]["common"] = merged(params["sr"].get("common") or {}, {
        "iterations": iterations, "log_every": 1, "checkpoint_every": iterations,
        "data": {"splits": ["train"]}})
    params["evaluate"].update(max_videos=None, workers=1)
    params["prepare"].update(flow_method="dis", workers=0)
    params["seeds"] = [0]
    return params


def store_path(work: Path) -> Path:
    return work / "store"


def peak_memory() -> str:
    import torch

    if not torch.cuda.is_available():
        return "n/a"
    gib = torch.cuda.max_memory_allocated() / 2**30
    torch.cuda.reset_peak_memory_stats()
    return f"{gib:.2f} GiB"


def finite(values, what: str) -> None:
    bad = {k: v for k, v in values.items() if not (isinstance(v, (int, float)) and math.isfinite(v))}
    if bad:
        fail(f"{what}: non-finite {bad}")


def describe_device(device: str) -> None:
    import torch

    if device == "cuda":
        if not torch.cuda.is_available():
            fail("--device cuda but torch.cuda.is_available() is False")
        say(f"device: {torch.cuda.get_device_name()} x{torch.cuda.device_count()}, torch {torch.__version__}, "
            f"CUDA {torch.version.cuda}, cuDNN {torch.backends.cudnn.version()}, "
            f"bf16 {'supported' if torch.cuda.is_bf16_supported() else 'NOT supported (float16 + scaler)'}")
    else:
        say(f"device: CPU ({os.cpu_count()} cores), torch {torch.__version__}: a check of this script only")


# ---------------------------------------------------------------------------------------------
# Steps


def prepare(args) -> None:
    """Real-size clips (half train, half test, 2 classes) into today's store, if not there."""
    from arsr.data.prepare import PrepareSettings, prepare_dataset

    store = store_path(args.work)
    if (store / "index.csv").is_file():
        return
    records, source = make_clips(args.clips, args.frames, args.work / "clips", splits=("train", "test"))
    say(f"clips: {len(records)} x {args.frames} frames: {source}")
    t = time.perf_counter()
    prepare_dataset(records, store, PrepareSettings(flow_method="dis", max_frames=args.frames), workers=0,
                    progress=False)
    say(f"prepare: {len(records)} videos in {time.perf_counter() - t:.1f} s (CPU, flow dis)")


def train_recognizers_briefly(params: dict, store: Path, models: Path, device: str, features: bool = True) -> None:
    """The recognisers of ``params`` (:func:`smoke_profile`'s few iterations) into ``models/recognizers``,
    with ``features`` the feature network's streams into ``models/feature_net``."""
    import torch

    from arsr.study.recognizers import train_recognizers

    rec = params["recognition"]
    t = time.perf_counter()
    runs = train_recognizers(rec, rec["seeds"], store, models / "recognizers", progress=False,
                             **({"feature_dir": models / "feature_net", "feature_seed": rec["feature_seed"]}
                                if features else {}))
    for name, m in runs.metrics.items():
        if isinstance(m, dict):
            finite({"train_loss": m["train_loss"]}, f"recogniser {name}")
            say(f"train recogniser {name}: {m['iterations']} iterations, {m['seconds']:.2f} s, "
                f"loss {m['train_loss']:.3f}")
    say(f"train recognisers: {time.perf_counter() - t:.1f} s in all, peak memory {peak_memory()}, "
        f"autocast {'bf16' if device == 'cuda' and torch.cuda.is_bf16_supported() else 'off'}")


def train_sr_briefly(method: str, params: dict, store: Path, models: Path, device: str) -> None:
    """SR ``method`` (its phases, :func:`smoke_profile`'s iterations) into ``models/sr/<method>``."""
    from arsr.study.sr import train_sr_seeds

    t = time.perf_counter()
    out = train_sr_seeds(method, params["sr"], params["seeds"], store, models / "sr" / method,
                         recognizers_dir=models / "feature_net", feature_seed=params["recognition"]["feature_seed"],
                         sr_models_dir=models / "sr", progress=False, device=device)
    m = out.metrics
    for phase, losses in m["final_losses"].items():
        finite(losses, f"SR {method} phase {phase}")
    its = sum(p["iterations"] for p in m["phases"])
    say(f"train SR {method}: {m['arch']} {m['parameters']:,} parameters, {its} iterations in "
        f"{len(m['phases'])} phase(s), {time.perf_counter() - t:.1f} s, "
        f"{sum(m['train_seconds_per_seed'].values()) / max(its, 1):.3f} s/iteration, peak memory {peak_memory()}, "
        "final loss " + ", ".join(f"{ph} {v['loss']:.4g}" for ph, v in m["final_losses"].items()))


def stages(args) -> None:
    """(a) The study's stages at published sizes, a few iterations each."""
    from arsr.study.evaluation import COMBINED, REFERENCE_METHODS, evaluate_stage, sr_method, stage_recognizers

    describe_device(args.device)
    prepare(args)
    params = smoke_profile(args.profile, args.iterations, args.device)
    store, models = store_path(args.work), args.work / "models"
    rec, sr, seeds = params["recognition"], params["sr"], params["seeds"]

    train_recognizers_briefly(params, store, models, args.device)
    for method in [*sr["train"], *sr["finetune"]]:
        train_sr_briefly(method, params, store, models, args.device)

    ev = params["evaluate"]
    for method in [*REFERENCE_METHODS, *sr["methods"], COMBINED]:
        t = time.perf_counter()
        result = evaluate_stage(method, ev, seeds, params["prepare"], store, models / "recognizers",
                                models / "sr", args.work / "eval", recognizer_seeds=rec["seeds"], n_samples=0,
                                progress=False, device=args.device)
        table = result.table
        if table.empty or not table["top1"].between(0, 100).all():
            fail(f"evaluate {method}: no rows or an accuracy outside 0-100%")
        say(f"evaluate {method}: {time.perf_counter() - t:.1f} s for {int(table['n_videos'].iloc[0])} videos "
            f"({ev['num_frames']} snippets x {ev['crops']} crops), {len(table)} rows, "
            f"PSNR {table['psnr'].iloc[0]:.2f} dB, peak memory {peak_memory()}")

    from arsr.data.store import PreparedDataset
    from arsr.evaluate import evaluate

    recs = stage_recognizers(models / "recognizers", rec["seeds"][0], ev["recognizers"], device=args.device)
    method = sr_method(sr["methods"][-1], models / "sr", seeds[0], params["prepare"]["scale"], device=args.device)
    video = PreparedDataset(store).split("test")["video_id"].iloc[0]
    t = time.perf_counter()
    result = evaluate(method, recs, store, flow_method="tvl1_torch", flow_options={"device": args.device},
                      num_frames=ev["num_frames"], crops=ev["crops"], workers=1, videos=[video], progress=False)
    finite({"psnr": float(result.table["psnr"].iloc[0])}, "evaluation with tvl1_torch")
    say(f"evaluate {method.name} with tvl1_torch on {args.device} (the evaluator's flow on the device): "
        f"{time.perf_counter() - t:.1f} s for 1 video, peak memory {peak_memory()}")


def flow(args) -> None:
    """(b) tvl1_torch throughput on the device vs every CPU core; flows compared."""
    import numpy as np
    import torch

    from arsr.data.video import read_video
    from arsr.flow import compute_flow, compute_flows

    describe_device(args.device)
    source = reference_clip()
    if source is not None:
        frames = read_video(source, max_frames=args.pairs + 1)
        what = f"the real clip {source.name}"
    else:
        records, what = make_clips(1, args.pairs + 1, Path(args.work or ".") / "flow_clip")
        frames = read_video(records[0].path)
    k = min(args.pairs, len(frames) - 1)
    dev = torch.device(args.device)

    def sync():
        if dev.type == "cuda":
            torch.cuda.synchronize(dev)

    compute_flows(frames[:3], "tvl1_torch", device=args.device)  # warm-up: kernels, allocator
    sync()
    t = time.perf_counter()
    on_device = compute_flows(frames[:k + 1], "tvl1_torch", device=args.device)
    sync()
    device_rate = k / (time.perf_counter() - t)
    q = min(args.cpu_pairs, k)
    torch.set_num_threads(os.cpu_count() or 1)
    t = time.perf_counter()
    on_cpu = compute_flows(frames[:q + 1], "tvl1_torch")
    cpu_rate = q / (time.perf_counter() - t)
    opencv = np.stack([compute_flow(frames[i], frames[i + 1], "tvl1") for i in range(q)])

    def median_epe(a, b):
        return float(np.median(np.linalg.norm(a - b, axis=-1)))

    device_cpu, device_cv, cpu_cv = (median_epe(on_device[:q], on_cpu), median_epe(on_device[:q], opencv),
                                     median_epe(on_cpu, opencv))
    say(f"tvl1_torch on {what}, {frames.shape[2]}x{frames.shape[1]}: {args.device} {device_rate:.2f} pairs/s "
        f"({k} pairs), CPU ({torch.get_num_threads()} threads) {cpu_rate:.2f} pairs/s ({q} pairs): "
        f"{device_rate / cpu_rate:.1f}x")
    say(f"median end-point difference on {q} pairs: {args.device} vs CPU {device_cpu:.4f} px, "
        f"{args.device} vs OpenCV tvl1 {device_cv:.4f} px, CPU vs OpenCV tvl1 {cpu_cv:.4f} px "
        f"(tolerance {EPE_TOLERANCE} px)")
    if max(device_cpu, device_cv) > EPE_TOLERANCE:
        fail(f"tvl1_torch on {args.device} differs from the CPU / OpenCV flow by more than {EPE_TOLERANCE} px")


#: the parts of ``arsr.evaluate``'s timings done on the CPU whatever the device
CPU_PARTS = ("flow", "quality", "pool", "write")


def evaluation(args) -> None:
    """(c) The default study's evaluation stage of ``--method`` on the device, timed per part."""
    from arsr.data.prepare import PrepareSettings, list_dataset, prepare_dataset
    from arsr.evaluate import TIMING_PARTS
    from arsr.study.evaluation import evaluate_stage
    from arsr.workers import worker_count

    describe_device(args.device)
    params = smoke_profile(args.default_profile, args.iterations, args.device)
    work = args.work / "default"
    store, models = work / "store", work / "models"
    if not (store / "index.csv").is_file():
        t = time.perf_counter()
        records, _ = list_dataset({**params["data"], "root": str(work / "synthetic"), "sr_root": None}, workers=0,
                                  progress=False)
        prepare_dataset(records, store, PrepareSettings.from_params(params["prepare"]), workers=0, progress=False)
        say(f"default dataset ({args.default_profile}): {len(records)} videos generated and prepared in "
            f"{time.perf_counter() - t:.1f} s (flow {params['prepare']['flow_method']})")
    train_recognizers_briefly(params, store, models, args.device, features=False)
    train_sr_briefly(args.method, params, store, models, args.device)
    # warm-up (kernels, allocator, the recognisers' first shapes), untimed; then each way, timed: the
    # pool's start-up is part of its time, as in the stage
    for workers, folder in ((1, "eval_warmup"), (1, "eval_workers1"), (0, "eval_workers0")):
        ev = {**params["evaluate"], "workers": workers, "max_videos": args.videos}
        shutil.rmtree(work / folder, ignore_errors=True)  # a cached video would not be timed
        timings: dict[str, float] = {}
        t = time.perf_counter()
        runs = evaluate_stage(args.method, ev, params["seeds"], params["prepare"], store, models / "recognizers",
                              models / "sr", work / folder, recognizer_seeds=params["recognition"]["seeds"],
                              n_samples=0, progress=False, device=args.device, timings=timings)
        seconds = time.perf_counter() - t
        if folder == "eval_warmup":
            continue
        n = int(runs.table["n_videos"].max())
        timed = sum(timings.values())
        if n == 0 or timed <= 0:
            fail(f"evaluate {args.method}: no video was evaluated")
        cpu = sum(timings.get(p, 0.0) for p in CPU_PARTS)
        say(f"evaluate {args.method} (default profile: {n} videos, {ev['num_frames']} snippets x {ev['crops']} crop, "
            f"flow {params['prepare']['flow_method']}, recognisers {', '.join(ev['recognizers'])}) on {args.device}, "
            f"{worker_count(workers)} flow process(es): {seconds:.1f} s, {1000 * seconds / n:.0f} ms/video; per video "
            + ", ".join(f"{part} {1000 * timings.get(part, 0.0) / n:.0f} ms" for part in TIMING_PARTS)
            + f"; CPU side ({', '.join(CPU_PARTS)}) {cpu / timed:.0%} of the timed parts"
            + (" (it dominates)" if cpu > timed / 2 else ""))


def ddp(args) -> None:
    """(d) SR (an image and a video model) and TSN training under torchrun, every process; the
    bicubic row's evaluation sharded over them (equal to step (a)'s single-process run)."""
    import torch.distributed as dist

    from arsr.recognition.train import train_recognizer
    from arsr.study.sr import method_overrides
    from arsr.train import distributed
    from arsr.train.phases import train_phases
    from arsr.train.presets import method_phases

    info = distributed.setup(None)  # NCCL on CUDA (cuda:LOCAL_RANK), Gloo on the CPU
    try:
        store = store_path(args.work)
        if not (store / "index.csv").is_file():
            fail(f"{store} has no prepared store: run `gpu_smoke.py stages --work {args.work}` first")
        params = smoke_profile(args.profile, args.iterations, info.device.type, world=info.world_size)
        if info.is_main:
            backend = dist.get_backend() if dist.is_initialized() else "none (one process)"
            say(f"DDP: {info.world_size} process(es), backend {backend}, rank 0 on {info.device}")
            if info.world_size == 1:
                say("DDP: one visible device, so one process: DistributedDataParallel itself was not exercised")
        out = args.work / "ddp"
        for method in ("vdsr", "duf16"):
            extra = {"data": {"batch_size": 4 * info.world_size}}
            phases = method_phases(method, method_overrides(params["sr"], method, 0, extra=extra), out / method)
            t = time.perf_counter()
            train_phases(phases, out / method, method=method, dataset=store, progress=False)
            distributed.barrier()
            if info.is_main:
                say(f"DDP SR {method}: {phases[-1].config['iterations']} iterations, global batch "
                    f"{4 * info.world_size}, {time.perf_counter() - t:.1f} s")
        t = time.perf_counter()
        result = train_recognizer(params["recognition"]["tsn_rgb"], store, out / "tsn_rgb", progress=False)
        if info.is_main:
            loss = float(result.log["loss"].iloc[-1]) if len(result.log) else float("nan")
            finite({"loss": loss}, "DDP TSN rgb")
            say(f"DDP TSN rgb: {result.iteration} iterations, global batch {2 * info.world_size}, "
                f"{time.perf_counter() - t:.1f} s, loss {loss:.3f}")
        # the evaluation sharded over the processes (arsr.study.sharded), merged on rank 0, vs step (a)'s
        from arsr.shards import Shard
        from arsr.study.evaluation import evaluate_stage
        from arsr.study.sharded import evaluate_sharded

        models = args.work / "models"
        dirs = {"interim": store, "recognizers": models / "recognizers", "models": models / "sr",
                "eval": out / "eval"}
        t = time.perf_counter()
        runs = evaluate_sharded("bicubic", params, dirs, Shard(info.rank, info.world_size), device=info.device,
                                progress=False)
        if info.is_main:
            seconds = time.perf_counter() - t
            single = evaluate_stage("bicubic", params["evaluate"], params["seeds"], params["prepare"], store,
                                    dirs["recognizers"], dirs["models"], args.work / "eval",
                                    recognizer_seeds=params["recognition"]["seeds"], n_samples=0, progress=False,
                                    device=info.device)
            a, b = (r.per_video.sort_values(["recognizer", "stream", "video_id"])["prediction"].to_numpy()
                    for r in (runs, single))
            if not (a == b).all():
                fail(f"sharded evaluation: {(a != b).sum()} per-video predictions differ from one process")
            say(f"sharded evaluate bicubic: {int(runs.table['n_videos'].max())} videos over {info.world_size} "
                f"process(es) in {seconds:.1f} s, predictions equal to step (a)'s single process")
    finally:
        distributed.cleanup()


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python benchmarks/gpu_smoke.py", description=__doc__.split("\n\n")[0])
    p.add_argument("step", choices=("stages", "flow", "evaluation", "ddp"))
    p.add_argument("--work", type=Path, default=None, help="working folder (stages, evaluation, ddp: required)")
    p.add_argument("--device", default="cuda", help="cuda (default) or cpu (a check of this script)")
    p.add_argument("--profile", default="profiles/paper.yaml", help="sizes (default profiles/paper.yaml)")
    p.add_argument("--clips", type=int, default=8, help="clips, half train, half test (default 8)")
    p.add_argument("--frames", type=int, default=24, help="frames per clip (default 24)")
    p.add_argument("--iterations", type=int, default=3, help="SR iterations per phase (default 3)")
    p.add_argument("--pairs", type=int, default=64, help="flow pairs timed on the device (default 64)")
    p.add_argument("--cpu-pairs", type=int, default=4, help="flow pairs timed on the CPU (default 4)")
    p.add_argument("--default-profile", default="params.yaml", help="evaluation: the study's sizes (params.yaml)")
    p.add_argument("--method", default="vdsr", help="evaluation: the method timed (default vdsr)")
    p.add_argument("--videos", type=int, default=48, help="evaluation: test videos, spread over classes (default 48)")
    args = p.parse_args(argv)
    if args.step in ("stages", "evaluation", "ddp") and args.work is None:
        p.error(f"{args.step} needs --work")
    {"stages": stages, "flow": flow, "evaluation": evaluation, "ddp": ddp}[args.step](args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
