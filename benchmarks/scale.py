"""What the study costs at the paper's scale, measured on a few real-size clips (CPU, minutes).

    python benchmarks/scale.py                      # 2 clips x 40 frames, bicubic and VDSR
    python benchmarks/scale.py --quick              # 1 clip x 6 frames, bicubic, DIS only (tests)
    python benchmarks/scale.py --gpu-frames-per-s 400 --json scale.json

It prepares the clips with today's store (``arsr.data.prepare``, store format 2: HR decoded on
demand from the source video, lr.pack and flow.pack of PNGs per video), times random access to it
(the loaders' reads), times optical flow (OpenCV TV-L1, DIS, ``tvl1_torch``), SR and the evaluation
(``arsr.evaluate``) of each method, and prints two markdown tables:

* **Measured**: bytes per frame of the store (the source video counted for HR, from the real
  UCF101 clip where present: the variants of it are written losslessly, far larger than XviD);
  random (video, frame) reads/s of HR, LR, flow and of an SR training sample; frames/s of
  prepare; flow pairs/s; SR frames/s;
  recogniser scoring and evaluation videos/s. Each rate has a ratio against a reference row
  measured in the same run (the house rule: speed claims are ratios, never absolute timings
  compared with a constant).
* **Extrapolation** to UCF101 and HMDB51 split 1 (video counts from the official split lists,
  frames per video from published frame lists): disk of today's store, CPU-hours of prepare and
  of evaluation per method with each flow method, and GPU-hours at ``--gpu-frames-per-s``.

Everything runs in this process on one thread (torch and OpenCV), so rates are per core and
CPU-hours are core-hours (a pool of single-threaded workers, as ``prepare.workers`` and
``evaluate.workers`` run them, scales them across cores); the one exception is the row of
``tvl1_torch`` on all threads. Networks have the sizes of ``--profile`` (default params.yaml, the
default profile; ``profiles/paper.yaml`` for the published ones) and random weights: throughput
does not depend on the weights. The evaluation follows TSN's protocol (``--num-frames`` 25
snippets x ``--crops`` ten), PSNR/SSIM included.

How the evaluation extrapolates: a video of n frames costs ``sr(n) / SR rate + pairs(n) / flow
rate + scoring + rest``, where sr(n) and pairs(n) are the frames and flow pairs the recognisers'
snippets need (computed as ``arsr.evaluate`` asks for them, and checked against what it asked
for here), scoring is timed on its own and ``rest`` (PSNR/SSIM, reading, bookkeeping) is what
the end-to-end run took beyond the other three. Prepare: ``n x (decode + LR + write per frame) +
(n - 1) / flow rate``.
"""
from __future__ import annotations

import argparse
import datetime
import json
import math
import os
import platform
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from clips import REFDATA, make_clips, reference_clip  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
FLOW_METHODS = ("tvl1", "dis", "tvl1_torch")
GB = 1e9

# Official split-1 video counts, used only where the split lists of the reference data are absent.
SPLIT_COUNTS = {"UCF101": {"train": 9537, "test": 3783}, "HMDB51": {"train": 3570, "test": 1530}}
# Mean frames per video of split 1: the frame counts of mmaction2's extracted raw frames as
# published in vt-vl-lab/video-data-aug @ 01667cd, data/ucf101/ucf101_{train,val}_split_1_rawframes.txt
# (9,537 videos, 1,786,079 frames; 3,783 videos, 697,216 frames) and
# data/hmdb51/hmdb51_val_split_1_rawframes.txt (1,530 videos, 143,463 frames; used for both splits).
FRAMES_PER_VIDEO = {"UCF101": {"train": 1786079 / 9537, "test": 697216 / 3783},
                    "HMDB51": {"train": 143463 / 1530, "test": 143463 / 1530}}
FRAMES_SOURCE = ("frames/video: mmaction2 raw-frame lists published in vt-vl-lab/video-data-aug @ 01667cd "
                 "(UCF101 split 1: train 187.3, test 184.3; HMDB51 split 1 test: 93.8, used for train too)")


# ---------------------------------------------------------------------------------------------
# Settings


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog="python benchmarks/scale.py", description=__doc__.split("\n\n")[0],
        epilog="Rates are per core (one thread) unless a row says otherwise; ratios are against a "
               "reference row of the same run.")
    p.add_argument("--clips", type=int, default=2, help="real-size clips to prepare and evaluate (default 2)")
    p.add_argument("--frames", type=int, default=40, help="frames per clip (default 40; the reference clip has 141)")
    p.add_argument("--methods", default="bicubic,vdsr",
                   help="comma-separated methods to evaluate: bicubic, hr or an SR method of arsr.methods "
                        "(vdsr, rcan, srgan, esrgan, sosr, spmc, duf16, duf52, tosr, rrdb_psnr); default bicubic,vdsr")
    p.add_argument("--flow", default="dis", choices=FLOW_METHODS,
                   help="flow method of the prepare and evaluation runs (default dis; the others are "
                        "timed on their own and extrapolated)")
    p.add_argument("--flow-methods", default=",".join(FLOW_METHODS),
                   help=f"flow methods to time (default {','.join(FLOW_METHODS)})")
    p.add_argument("--flow-pairs", type=int, default=3, help="320x240 frame pairs timed per flow method (default 3)")
    p.add_argument("--threads", type=int, default=os.cpu_count() or 1,
                   help="threads of the extra tvl1_torch row (default: all cores)")
    p.add_argument("--profile", default="params.yaml",
                   help="params file giving the networks' sizes (sr, recognition, evaluate.recognizers, "
                        "prepare.scale); default params.yaml, e.g. profiles/paper.yaml")
    p.add_argument("--num-frames", type=int, default=25, help="test snippets per video (default 25, TSN's)")
    p.add_argument("--crops", default="ten", choices=("center", "ten"), help="test crops (default ten, TSN's)")
    p.add_argument("--gpu-frames-per-s", type=float, default=None,
                   help="frames (prepare) or SR frames (evaluation) one GPU processes per second: adds "
                        "GPU-hour columns to the extrapolation (default: none)")
    p.add_argument("--json", default=None, help="also write every number to this JSON file")
    p.add_argument("--work", default=None, help="working folder (default: a temporary one, removed)")
    p.add_argument("--quick", action="store_true",
                   help="smallest run, for tests: defaults --clips 1 --frames 6 --methods bicubic --flow dis "
                        "--flow-methods dis --flow-pairs 1 --num-frames 3 --crops center")
    args = p.parse_args(argv)
    if args.quick:  # new defaults: options given on the command line still win
        p.set_defaults(clips=1, frames=6, methods="bicubic", flow="dis", flow_methods="dis", flow_pairs=1,
                       num_frames=3, crops="center")
        args = p.parse_args(argv)
    args.methods = [m.strip() for m in args.methods.split(",") if m.strip()]
    args.flow_methods = [m.strip() for m in args.flow_methods.split(",") if m.strip()]
    bad = sorted(set(args.flow_methods) - set(FLOW_METHODS))
    if bad:
        p.error(f"--flow-methods: unknown {bad}; choose from {', '.join(FLOW_METHODS)}")
    if args.flow not in args.flow_methods:
        args.flow_methods.append(args.flow)  # its rate feeds the model of the end-to-end runs
    if args.clips < 1 or args.frames < 6:
        p.error("--clips must be at least 1 and --frames at least 6 (a flow snippet spans 6 frames)")
    if args.flow_pairs < 1 or args.threads < 1:
        p.error("--flow-pairs and --threads must be at least 1")
    return args


# ---------------------------------------------------------------------------------------------
# The measured table


@dataclass
class Row:
    quantity: str
    value: float
    unit: str
    reference: str | None = None  # quantity of the row this one is a ratio of


class Table:
    def __init__(self):
        self.rows: list[Row] = []

    def add(self, quantity: str, value: float, unit: str, reference: str | None = None) -> float:
        self.rows.append(Row(quantity, float(value), unit, reference))
        return float(value)

    def value(self, quantity: str) -> float:
        return next(r.value for r in self.rows if r.quantity == quantity)

    def ratio(self, row: Row) -> float | None:
        return row.value / self.value(row.reference) if row.reference else None


def fmt(x: float | None) -> str:
    if x is None:
        return ""
    if not math.isfinite(x):
        return str(x)
    a = abs(x)
    if a >= 100:
        return f"{x:,.0f}"
    if a >= 10:
        return f"{x:.1f}"
    if a >= 1:
        return f"{x:.2f}"
    return f"{x:.3g}"


def markdown(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(lines)


class Timer:
    def __enter__(self):
        self.t0 = time.perf_counter()
        return self

    def __exit__(self, *exc):
        self.seconds = time.perf_counter() - self.t0


# ---------------------------------------------------------------------------------------------
# Building what is measured


def load_profile(path: str) -> dict:
    from arsr.params_file import load_params

    p = Path(path)
    return load_params(p if p.is_absolute() else ROOT / p)


def build_sr_method(name: str, profile: dict):
    """``name``'s SR method at the profile's sizes, random weights, on the CPU."""
    import torch

    from arsr.sr_methods import bicubic_method, hr_method, method_from_model

    scale = int(profile["prepare"]["scale"])
    if name == "bicubic":
        return bicubic_method(scale, device="cpu")
    if name == "hr":
        return hr_method()
    from arsr.methods import SR_TRAINABLE
    from arsr.study.sr import method_overrides
    from arsr.train.presets import method_phases
    from arsr.train.networks import build_generator

    if name not in SR_TRAINABLE:
        raise SystemExit(f"--methods: {name!r} is not bicubic, hr or one of {', '.join(SR_TRAINABLE)}")
    phases = method_phases(name, method_overrides(profile["sr"], name, seed=0))
    torch.manual_seed(0)
    return method_from_model(build_generator(phases[-1].config), name, device="cpu")


def build_recognisers(profile: dict, num_classes: int) -> dict:
    """The profile's test-time recognisers (``evaluate.recognizers``), random weights, on the CPU."""
    import torch

    from arsr.recognition.config import TrainConfig
    from arsr.recognition.inference import STResNetRecognizer, TwoStreamTSN, build_model

    rec = profile["recognition"]
    cfgs = {k: TrainConfig.from_dict(rec[k], key=f"recognition.{k}").resolved()
            for k in ("tsn_rgb", "tsn_flow", "st_resnet")}
    models = {k: build_model(c.model, num_classes, c.num_segments, load_pretrained=False)
              for k, c in cfgs.items()}
    torch.manual_seed(0)
    out = {}
    if "tsn" in profile["evaluate"]["recognizers"]:
        out["tsn"] = TwoStreamTSN(
            models["tsn_rgb"], models["tsn_flow"],
            input_size={"rgb": cfgs["tsn_rgb"].input_size, "flow": cfgs["tsn_flow"].input_size},
            scale_size={"rgb": cfgs["tsn_rgb"].scale_size, "flow": cfgs["tsn_flow"].scale_size},
            flow_bound=cfgs["tsn_flow"].flow_bound, device="cpu")
    if "st_resnet" in profile["evaluate"]["recognizers"]:
        c = cfgs["st_resnet"]
        out["st_resnet"] = STResNetRecognizer(models["st_resnet"], input_size=c.input_size,
                                              scale_size=c.scale_size, flow_bound=c.flow_bound, device="cpu")
    return out


class Counting:
    """An SR method that counts the frames the evaluation asks it for."""

    def __init__(self, inner):
        self.inner, self.name, self.frames_asked = inner, inner.name, 0

    def frames(self, video, indices):
        self.frames_asked += len(indices)
        return self.inner.frames(video, indices)

    def fingerprint(self):
        return self.inner.fingerprint()


def evaluation_work(recognisers: dict, n_frames: int, num_frames: int) -> tuple[int, int]:
    """(SR frames, flow pairs) that ``arsr.evaluate`` needs for one video of ``n_frames``: the
    union of the recognisers' snippet frames, the frames of their flow fields and the
    ``num_frames`` PSNR frames; the fields' count."""
    import numpy as np

    from arsr.recognition.sampling import needed_frames, uniform_offsets

    plans = [r.plan(n_frames, num_frames) for r in recognisers.values()]
    rgb = [p.rgb.ravel() for p in plans if p.rgb is not None]
    fields = [p.flow.ravel() for p in plans if p.flow is not None]
    rgb = np.unique(np.concatenate(rgb)) if rgb else np.zeros(0, np.int64)
    fields = np.unique(np.concatenate(fields)) if fields else np.zeros(0, np.int64)
    frames = np.concatenate([needed_frames(rgb_frames=rgb), needed_frames(flow_fields=fields),
                             uniform_offsets(n_frames, num_frames)])
    return int(np.unique(frames).size), int(fields.size)


def dataset_sizes() -> tuple[dict, str]:
    """Split-1 video counts per dataset and split, from the official lists where present."""
    from arsr.data.datasets import list_hmdb51, list_ucf101

    splits = REFDATA / "splits"
    try:
        ucf = list_ucf101(Path("UCF101"), 1, splits_dir=splits / "ucfTrainTestlist", check_files=False)
        hmdb = list_hmdb51(Path("HMDB51"), 1, splits_dir=splits / "hmdb51" / "testTrainMulti_7030_splits",
                           check_files=False)
    except Exception as err:  # noqa: BLE001 - any failure: the published counts instead
        return SPLIT_COUNTS, f"video counts: published split-1 sizes (split lists unreadable: {err})"
    counts = {name: {s: sum(r.split == s for r in records) for s in ("train", "test")}
              for name, records in (("UCF101", ucf), ("HMDB51", hmdb))}
    return counts, f"video counts: the official split-1 lists in {splits}"


# ---------------------------------------------------------------------------------------------
# The measurements (each adds rows to the table and returns what the extrapolation needs)


@dataclass
class Costs:
    """Per-core costs measured in this run."""

    unit_bytes: dict[str, float]       # store bytes per HR frame, LR frame, flow field, video (meta)
    flow_rate: dict[str, float]        # pairs/s per flow method
    prepare_per_frame: float           # s/frame of prepare without its flow (decode, LR, write)
    sr_rate: dict[str, float]          # frames/s per SR method
    score_seconds: float               # recognisers' scoring of one video
    eval_rest: dict[str, float]        # s/video of the evaluation beyond SR, flow and scoring


STORE_FILES = ("hr.pack", "lr.pack", "flow.pack")


def measure_store(store, index, records, table: Table) -> dict[str, float]:
    """Bytes of today's prepared store per frame: per file, the source video HR is decoded from
    (its bytes per frame, on the real clip where present), and all together."""
    from arsr.data.video import probe_video

    sizes = [{p.name: p.stat().st_size for p in (store.root / "videos" / k).iterdir() if p.is_file()}
             for k in index["key"]]
    frames, pairs = int(index["n_frames"].sum()), int((index["n_frames"] - 1).sum())
    per_file = {f: sum(s.get(f, 0) for s in sizes) for f in STORE_FILES}
    other = sum(v for s in sizes for f, v in s.items() if f not in per_file)
    # HR kept as the source: bytes of the source file per frame of it (of the real clip if any)
    from_source = [(r, n) for r, n, k in zip(records, index["n_frames"], index["key"])
                   if (store.root / "videos" / k / "hr.pack").exists() is False]
    real = [(r, n) for r, n in from_source if reference_clip() and Path(r.path) == reference_clip()]
    sample = real or from_source
    source_per_frame = (sum(Path(r.path).stat().st_size / probe_video(r.path)["n_frames"] for r, _ in sample)
                        / len(sample)) if sample else 0.0
    source_frames = sum(int(n) for _, n in from_source)
    table.add("store: source video (HR, decoded on demand)", source_per_frame * source_frames / frames,
              "bytes/frame")
    for f, v in per_file.items():
        table.add(f"store {f}", v / (pairs if f == "flow.pack" else frames), "bytes/frame")
    total = source_per_frame * source_frames + sum(per_file.values()) + other
    table.add("store total (folder + source)", total / frames, "bytes/frame")
    return {"source": source_per_frame * source_frames / frames, "hr.pack": per_file["hr.pack"] / frames,
            "lr.pack": per_file["lr.pack"] / frames, "flow.pack": per_file["flow.pack"] / pairs,
            "other": other / len(index)}


def measure_loader(store, index, records, table: Table, reads: int = 60, window: int = 5) -> None:
    """Random (video, frame) reads/s of HR, LR and flow from the store (one thread), and of one
    SR training sample: an LR window of ``window`` frames, the HR frame and its flow (what
    ``arsr.train.patches`` reads). On the real XviD clip where present: HR is decoded from the
    source, and the lossless FFV1 variants seek far slower (~14 against ~450 frames/s)."""
    import numpy as np

    rng = np.random.default_rng(0)
    rows = [row for (_, row), r in zip(index.iterrows(), records) if Path(r.path) == reference_clip()]
    videos = [store.video(row) for row in rows or [row for _, row in index.iterrows()]]
    picks = [(int(rng.integers(len(videos))), float(rng.random())) for _ in range(reads)]

    def frame_of(v, u, n):
        return int(u * n)
    label = "loader: HR frame, random (video, frame)"
    for name, get in (("HR frame", lambda v, t: v.hr[t]), ("LR frame", lambda v, t: v.lr[t]),
                      ("flow field", lambda v, t: v.flow[t])):
        with Timer() as t:
            for k, u in picks:
                v = videos[k]
                get(v, frame_of(v, u, v.n_frames - 1))
        table.add(f"loader: {name}, random (video, frame)", reads / t.seconds, "frames/s", label)
    r = window // 2
    with Timer() as t:
        for k, u in picks:
            v = videos[k]
            f = frame_of(v, u, v.n_frames - 1)
            v.lr[np.clip(np.arange(f - r, f + r + 1), 0, v.n_frames - 1)]
            v.hr[f], v.flow[f]
    table.add(f"loader: SR sample ({window} LR + HR + flow)", reads / t.seconds, "samples/s", label)


def measure_flow(hr, args, table: Table, notes: list[str]) -> tuple[dict[str, float], dict]:
    """Pairs/s of each flow method on the first ``--flow-pairs`` pairs of ``hr`` (one thread;
    ``tvl1_torch`` batched as ``compute_flows`` runs it, and once more on ``--threads``)."""
    import numpy as np
    import torch

    from arsr.flow import compute_flow, compute_flows

    k = min(args.flow_pairs, len(hr) - 1)
    rate, flows = {}, {}
    for method in args.flow_methods:
        if method == "tvl1_torch":
            compute_flows(hr[:2], method)  # warm-up
            with Timer() as t:
                flows[method] = compute_flows(hr[:k + 1], method)
        else:
            compute_flow(hr[0], hr[1], method)  # warm-up: builds the OpenCV object
            with Timer() as t:
                flows[method] = np.stack([compute_flow(hr[i], hr[i + 1], method) for i in range(k)])
        rate[method] = k / t.seconds
    label = {m: "flow tvl1 (OpenCV)" if m == "tvl1" else f"flow {m}" for m in args.flow_methods}
    reference = label["tvl1"] if "tvl1" in rate else label[args.flow_methods[0]]
    for method in args.flow_methods:
        table.add(label[method], rate[method], "pairs/s", reference)
    if "tvl1_torch" in rate and args.threads > 1:
        torch.set_num_threads(args.threads)
        try:
            compute_flows(hr[:2], "tvl1_torch")
            with Timer() as t:
                compute_flows(hr[:k + 1], "tvl1_torch")
        finally:
            torch.set_num_threads(1)
        table.add(f"flow tvl1_torch, {args.threads} threads", k / t.seconds, "pairs/s", label["tvl1_torch"])
    if "tvl1" in flows and "tvl1_torch" in flows:
        epe = np.linalg.norm(flows["tvl1_torch"] - flows["tvl1"], axis=-1)
        notes.append(f"tvl1_torch vs OpenCV tvl1 on the {k} timed pairs: median end-point difference "
                     f"{np.median(epe):.4f} px")
    return rate, flows


def measure_prepare(records, index, prepare_seconds: float, flow_rate: dict, args, table: Table) -> float:
    """Frames/s of prepare and of its parts: decoding timed alone, flow from its measured rate,
    LR + write + the rest what remains. Returns prepare's seconds per frame without the flow."""
    from arsr.data.video import read_video

    frames, pairs = int(index["n_frames"].sum()), int((index["n_frames"] - 1).sum())
    with Timer() as t_decode:
        for r in records:
            read_video(r.path, max_frames=args.frames)
    flow_seconds = pairs / flow_rate[args.flow]
    rest = max(prepare_seconds - t_decode.seconds - flow_seconds, 1e-9)
    label = f"prepare (decode + LR + flow {args.flow} + write)"
    table.add(label, frames / prepare_seconds, "frames/s", label)
    table.add("prepare: decode", frames / t_decode.seconds, "frames/s", label)
    table.add(f"prepare: flow {args.flow}", frames / flow_seconds, "frames/s", label)
    table.add("prepare: LR + write + rest", frames / rest, "frames/s", label)
    return max(prepare_seconds - flow_seconds, 0.0) / frames


def measure_evaluation(store, index, flows: dict, flow_rate: dict, recognisers: dict, methods: list, args,
                       table: Table, notes: list[str]) -> tuple[dict, float, dict]:
    """SR frames/s per method, the recognisers' scoring of a video, and the end-to-end evaluation
    (videos/s) of each method; returns the SR rates, the scoring seconds and each method's rest
    (end-to-end time per video beyond SR, flow and scoring)."""
    import numpy as np

    from arsr.evaluate import evaluate
    from arsr.flow import quantize

    video = store.video(index.iloc[0])
    hr = np.asarray(video.hr)
    idx = np.arange(min(len(hr), 16))
    sr_rate = {}
    for m in methods:
        m.frames(video, idx[:2])  # warm-up
        with Timer() as t:
            m.frames(video, idx)
        sr_rate[m.name] = len(idx) / t.seconds
        table.add(f"SR {m.name}", sr_rate[m.name], "frames/s", f"SR {methods[0].name}")

    fields = {i: quantize(flows[args.flow][0]) for i in range(len(hr) - 1)}
    with Timer() as t_score:
        for rec in recognisers.values():
            rec.score(dict(enumerate(hr)), fields, rec.plan(len(hr), args.num_frames), args.crops)
    table.add(f"scoring ({' + '.join(recognisers)}; {args.num_frames} snippets x {args.crops})",
              1 / t_score.seconds, "videos/s")

    work = [evaluation_work(recognisers, int(n), args.num_frames) for n in index["n_frames"]]
    sr_frames, pairs = sum(w[0] for w in work), sum(w[1] for w in work)
    rest = {}
    for m in methods:
        counting = Counting(m)
        with Timer() as t:
            evaluate(counting, recognisers, store, flow_method=args.flow, num_frames=args.num_frames,
                     crops=args.crops, workers=1, psnr=True, progress=False)
        per_video = t.seconds / len(index)
        table.add(f"evaluate {m.name}", 1 / per_video, "videos/s", f"evaluate {methods[0].name}")
        if counting.frames_asked != sr_frames:
            notes.append(f"WARNING: the evaluation asked {m.name} for {counting.frames_asked} frames where "
                         f"{sr_frames} were expected: the extrapolation's frame count is off")
        modelled = (sr_frames / sr_rate[m.name] + pairs / flow_rate[args.flow]) / len(index) + t_score.seconds
        rest[m.name] = max(per_video - modelled, 0.0)
    notes.append(f"evaluation on the measured clips: {sr_frames} SR frames and {pairs} flow pairs in all; "
                 "rest per video (PSNR/SSIM, reading, bookkeeping): "
                 + ", ".join(f"{k} {v:.2f} s" for k, v in rest.items()))
    return sr_rate, t_score.seconds, rest


def extrapolate(costs: Costs, recognisers: dict, args, notes: list[str]) -> list[dict]:
    """One row per dataset and flow method: disk, CPU-hours (and GPU-hours) at split-1 size."""
    counts, counts_source = dataset_sizes()
    notes += [counts_source, FRAMES_SOURCE]
    rows, work_at_mean = [], []
    for dataset, per_split in counts.items():
        fpv = FRAMES_PER_VIDEO[dataset]
        videos, n_test = sum(per_split.values()), per_split["test"]
        frames = sum(per_split[s] * fpv[s] for s in per_split)
        pairs = frames - videos
        b = costs.unit_bytes
        disk = (frames * (b["source"] + b["hr.pack"] + b["lr.pack"]) + pairs * b["flow.pack"]
                + videos * b["other"]) / GB
        # prepare is linear in the length (the mean is exact); the evaluation's snippets saturate
        # with it, so it is taken at the mean test length
        length = int(round(fpv["test"]))
        sr_n, pairs_n = evaluation_work(recognisers, length, args.num_frames)
        work_at_mean.append(f"{dataset} {length} frames: {sr_n} SR frames, {pairs_n} flow pairs")
        for flow in args.flow_methods:
            rate = costs.flow_rate[flow]
            row = {"dataset": f"{dataset} split 1", "flow": flow, "videos": videos, "test videos": n_test,
                   "frames": frames, "store GB": disk,
                   "prepare CPU-h": (frames * costs.prepare_per_frame + pairs / rate) / 3600}
            for m, sr_rate in costs.sr_rate.items():
                per_video = sr_n / sr_rate + pairs_n / rate + costs.score_seconds + costs.eval_rest[m]
                row[f"eval CPU-h {m}"] = n_test * per_video / 3600
            if args.gpu_frames_per_s:
                row["prepare GPU-h"] = frames / args.gpu_frames_per_s / 3600
                row["eval GPU-h per method"] = n_test * sr_n / args.gpu_frames_per_s / 3600
            rows.append(row)
    notes += [
        "evaluation work per test video at the mean length: " + "; ".join(work_at_mean),
        f"store: {fmt(costs.unit_bytes['source'])} B of source video per HR frame (decoded on demand), "
        f"{fmt(costs.unit_bytes['hr.pack'])} B of stored HR, {fmt(costs.unit_bytes['lr.pack'])} B per LR "
        f"frame, {fmt(costs.unit_bytes['flow.pack'])} B per flow field, {fmt(costs.unit_bytes['other'])} B of "
        "meta per video; GB = 1e9 bytes",
        "eval CPU-h: the test split, one method (one row of the study's table, one SR seed)"]
    if args.gpu_frames_per_s:
        notes.append(f"GPU-h at {args.gpu_frames_per_s:g} frames/s: prepare = every frame, evaluation = the SR "
                     "frames the test split needs, per method")
    return rows


# ---------------------------------------------------------------------------------------------
# The run


def main(argv=None) -> int:
    args = parse_args(argv)
    import cv2
    import numpy as np
    import torch

    torch.set_num_threads(1)
    cv2.setNumThreads(1)
    from arsr.data.prepare import PrepareSettings, prepare_dataset
    from arsr.data.store import PreparedDataset

    profile = load_profile(args.profile)
    load_start, started = os.getloadavg(), datetime.datetime.now()
    work = Path(args.work) if args.work else Path(tempfile.mkdtemp(prefix="arsr_scale_"))
    work.mkdir(parents=True, exist_ok=True)
    table, notes = Table(), []
    try:
        records, source = make_clips(args.clips, args.frames, work / "clips", splits=("test",))
        # the paper profile's compact store (HR from the source, PNG packs), whatever --profile says
        settings = PrepareSettings(scale=int(profile["prepare"]["scale"]), flow_method=args.flow,
                                   max_frames=args.frames, hr_frames="source", frame_codec="png")
        with Timer() as t_prepare:
            index, _ = prepare_dataset(records, work / "store", settings, workers=1, progress=False)
        store = PreparedDataset(work / "store")
        unit_bytes = measure_store(store, index, records, table)
        measure_loader(store, index, records, table)
        flow_rate, flows = measure_flow(np.asarray(store.video(index.iloc[0]).hr), args, table, notes)
        prepare_per_frame = measure_prepare(records, index, t_prepare.seconds, flow_rate, args, table)
        recognisers = build_recognisers(profile, num_classes=101)
        methods = [build_sr_method(m, profile) for m in args.methods]
        sr_rate, score_seconds, rest = measure_evaluation(store, index, flows, flow_rate, recognisers, methods,
                                                          args, table, notes)
    finally:
        if args.work is None:
            shutil.rmtree(work, ignore_errors=True)
    costs = Costs(unit_bytes, flow_rate, prepare_per_frame, sr_rate, score_seconds, rest)
    rows = extrapolate(costs, recognisers, args, notes)
    load_end = os.getloadavg()

    height, width = int(index["height"].iloc[0]), int(index["width"].iloc[0])
    print(f"# arsr scale benchmark, {started:%Y-%m-%d %H:%M}")
    print(f"clips: {len(records)} x {args.frames} frames of {width}x{height}: {source}")
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, load average {load_start[0]:.1f} at the "
          f"start and {load_end[0]:.1f} at the end; torch {torch.__version__}; one thread (torch, OpenCV) "
          "unless a row says otherwise")
    print(f"networks: sizes of {args.profile}, random weights; evaluation: {args.num_frames} snippets x "
          f"{args.crops} crops, PSNR/SSIM, flow {args.flow}, recognisers {' + '.join(recognisers)}")
    print("\n## Measured\n")
    print(markdown(["quantity", "value", "unit", "ratio", "reference"],
                   [[r.quantity, fmt(r.value), r.unit, fmt(table.ratio(r)), r.reference or ""]
                    for r in table.rows]))
    print("\n## Extrapolation (today's store; CPU-hours are single-core hours)\n")
    header = list(rows[0])
    print(markdown(header, [[f"{v:,}" if isinstance(v, int) else v if isinstance(v, str) else fmt(v)
                             for v in r.values()] for r in rows]))
    print()
    for n in notes:
        print(f"- {n}")
    if args.json:
        Path(args.json).write_text(json.dumps({
            "date": started.isoformat(timespec="seconds"), "clips": source,
            "settings": {k: v for k, v in vars(args).items() if k not in ("json", "work")},
            "load_average": [load_start[0], load_end[0]],
            "measured": [{"quantity": r.quantity, "value": r.value, "unit": r.unit, "ratio": table.ratio(r),
                          "reference": r.reference} for r in table.rows],
            "extrapolation": rows, "notes": notes}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
