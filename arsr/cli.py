"""The command line ``arsr``: a video super-resolved x4 by one of the study's methods, and the
classes the study's two-stream TSN sees in a video.

    arsr upscale clip.avi clip_x4.mkv                        # the study's trained VDSR (seed 0): quick on a CPU
    arsr upscale clip.avi clip_x4.mkv --method tosr          # the study's ToSR: ~1 min per frame on a CPU
    arsr upscale clip.avi clip_x4.mkv --method vdsr --weights vdsr_y.pt   # published weights: sizes read from the file
    arsr upscale clip.avi clip_x4.mkv --method bicubic       # MATLAB bicubic, no weights
    arsr recognize clip.avi                                  # an HR video
    arsr recognize clip_lr.avi --sr sosr                     # an LR video, super-resolved first

``upscale`` streams: frames are decoded, super-resolved (video methods with their window of
frames around each one) and encoded a few at a time (:func:`upscale_frames`), into a lossless
file (FFV1 in .mkv/.avi; ``arsr.data.video.VideoWriter``) written under a temporary name and
renamed at the end. A method's weights (:mod:`arsr.cli_sr`) are the study's trained model
(``data/models/sr/<method>/seed<k>``) unless ``--weights`` names a file; its sizes come from the
``config.json`` the trainer writes beside each ``model.pt``, else from ``params.yaml``'s
``sr.<method>`` (``--params`` for another file, e.g. ``profiles/paper.yaml`` for the published
sizes); a bare file that fits neither is read for the sizes its tensors fix
(:mod:`arsr.archs.fit`: VDSR's channels, width, depth and biases), and the line says which it used.
Before a slow method starts, ``upscale`` times one frame and says how long the clip will take.
Every written file is counted again before it takes its name (a full disk fails with its free
space); Ctrl-C and SIGTERM end the run without a partial or temporary file. ``recognize`` scores
the video as ``arsr.evaluate`` scores a test video (TSN's test protocol, the study's
``evaluate.num_frames`` and ``evaluate.crops``, flow with ``prepare.flow_method``) and prints the
top classes of the two-stream fusion, with their softmax probabilities.

A bad input (a missing or empty video, weights of another architecture or size, an output that
cannot be written) ends with one line on stderr naming the file and the fix, and exit status 2;
an interrupt, status 130 (Ctrl-C), 143 (SIGTERM) or 129 (SIGHUP), with no output file.
"""
from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import signal
import sys
import tempfile
import threading
from itertools import chain, islice
from pathlib import Path
from typing import Iterable, Iterator, Sequence

# FFmpeg's own messages ("File ended prematurely", ...) only when fatal: the command names a file it
# cannot read or write in its own one line. Read when OpenCV first opens a file; a value set by the
# user is kept.
os.environ.setdefault("OPENCV_FFMPEG_LOGLEVEL", "8")

import numpy as np  # noqa: E402

from .cli_sr import SCALE, SR_MODELS, CLIError, load_method, one_line, read_params, study_root  # noqa: E402
from .data.video import VideoReader, VideoReadError, VideoWriteError, VideoWriter, read_video  # noqa: E402
from .methods import IMAGE_SR, SR_TRAINABLE  # noqa: E402

__all__ = ["main", "build_parser", "load_method", "upscale_frames", "CLIError"]

#: Where the study keeps its trained recognisers and class names, relative to its root (``dvc.yaml``'s
#: outs; the SR models: ``arsr.cli_sr.SR_MODELS``).
RECOGNIZERS = "data/models/recognizers"
CLASSES = "data/interim/classes.csv"
#: Used where no params.yaml is at hand: ``arsr.evaluate``'s defaults (TSN's test protocol).
DEFAULT_NUM_FRAMES, DEFAULT_CROPS, DEFAULT_FLOW = 25, "center", "dis"


def _device(name: str):
    import torch

    if name == "auto":
        return None
    try:
        device = torch.device(name)
    except RuntimeError:
        raise CLIError(f"--device {name}: not a device; use auto, cpu, cuda or cuda:<k>") from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise CLIError(f"--device {name}: this machine has no CUDA GPU; use --device cpu (or auto)")
    return device


# ---------------------------------------------------------------------------------------------
# SR methods


def upscale_frames(method, frames: Iterable[np.ndarray], chunk: int | None = None) -> Iterator[np.ndarray]:
    """SR frames of a clip that arrives one ``(h, w, 3)`` uint8 frame at a time, in order.

    Output frame t equals ``method.sr(clip, [t])`` on the whole clip (video methods: the window
    around t, padded at the clip's ends), while only ``chunk`` frames (default: the method's
    batch, ``arsr.sr_methods.auto_batch``) plus one window are held. Yields ``(s·h, s·w, 3)`` uint8.
    """
    from .sr_methods import auto_batch

    window = int(getattr(method, "num_frames", 1))
    if getattr(method, "pad", "zeros") == "reflect":
        raise ValueError(f"{method.name}: pad='reflect' reads frames outside the window; stream with "
                         "pad='zeros' or 'replicate', or call method.sr on the whole clip")
    before, after = window // 2, window - window // 2 - 1
    buffer: list[np.ndarray] = []
    base = done = 0  # buffer[0] is frame ``base``; frames before ``done`` are out

    def run(count: int) -> np.ndarray:
        nonlocal buffer, base, done
        out = method.sr(np.stack(buffer), np.arange(done - base, done - base + count))
        done += count
        keep = max(0, done - before)
        buffer, base = buffer[keep - base:], keep
        return out

    for frame in frames:
        buffer.append(frame)
        if chunk is None:
            chunk = auto_batch(method.batch_size, frame.shape[0] * frame.shape[1] * method.scale ** 2)
        if base + len(buffer) >= done + chunk + after:
            yield from run(chunk)
    while done < base + len(buffer):
        yield from run(min(chunk, base + len(buffer) - done))


# ---------------------------------------------------------------------------------------------
# Commands


def _input_video(path: str) -> Path:
    src = Path(path)
    if not src.exists():
        raise CLIError(f"{src}: no such file; check the input path")
    if not src.is_file():
        raise CLIError(f"{src}: not a file; give a video file")
    return src


def _check_output(dst: Path, src: Path) -> None:
    if dst.exists() and dst.resolve() == src.resolve():
        raise CLIError(f"{dst}: the output would overwrite the input; choose another output name")
    if dst.is_dir():
        raise CLIError(f"{dst} is a folder; give an output file name, e.g. {dst / (src.stem + '_x4.mkv')}")
    if not dst.suffix:
        raise CLIError(f"{dst}: give the output a video extension (.mkv or .avi: lossless FFV1)")
    existing = next(p for p in dst.absolute().parents if p.exists())  # the writer makes the rest
    if not existing.is_dir():
        raise CLIError(f"{dst}: cannot write there, {existing} is a file, not a folder; choose another "
                       "output path")
    try:
        fd, probe = tempfile.mkstemp(prefix=f".{dst.name}.", suffix=".check", dir=existing)
        os.close(fd)
        os.unlink(probe)
    except OSError as err:
        raise CLIError(f"{dst}: cannot write into {existing} ({err.strerror}); choose a writable "
                       "output folder") from None


#: Above this many seconds for the whole clip, ``upscale`` says how long it will take before it starts.
SLOW_S = 10.0
#: Methods that run at interactive speed on a CPU (the default among them), offered when another is slow.
FAST_METHODS = ("vdsr", "bicubic")


def _duration(seconds: float) -> str:
    if seconds < 90:
        return f"{seconds:.0f} s"
    return f"{seconds / 60:.0f} min" if seconds < 5400 else f"{seconds / 3600:.1f} h"


def _time_estimate(method, head: list[np.ndarray], total: int, name: str) -> str | None:
    """A line on how long the clip will take, measured on one frame (the first, super-resolved from
    the frames read so far), or None when it is quick. The probe's frame is not kept: the clip's
    frames are made in the method's own batches, as the library makes them."""
    import time

    start = time.perf_counter()
    method.sr(np.stack(head), [0])
    per_frame = time.perf_counter() - start
    whole = per_frame * total if total else None
    if (whole if whole is not None else per_frame) < SLOW_S:
        return None
    faster = "" if name in FAST_METHODS else f"; --method {FAST_METHODS[0]} is quicker on a CPU"
    where = f"about {_duration(whole)} for {total} frames" if whole is not None else "frame count unknown"
    return f"arsr upscale: {name} takes ~{per_frame:.1f} s per frame here ({where}){faster}"


def cmd_upscale(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    src, dst = _input_video(args.input), Path(args.output)
    _check_output(dst, src)
    device = _device(args.device)
    method = load_method(args.method, args.weights, seed=args.seed, params=args.params, device=device)
    window = int(getattr(method, "num_frames", 1))
    with VideoReader(src, args.max_frames) as video:
        frames = iter(video)
        head = list(islice(frames, 2))
        if not head:
            raise CLIError(f"{src}: no frame could be decoded (empty or damaged video); re-encode it, "
                           f"e.g. `ffmpeg -i {src.name} -c:v ffv1 fixed.mkv`")
        if len(head) == 1 and window > 1:
            raise CLIError(f"{src} has 1 frame, but {args.method} is a video method (a window of {window} "
                           f"frames); give a clip of 2 frames or more, or an image method "
                           f"(bicubic, {', '.join(IMAGE_SR)})")
        fps = video.fps if math.isfinite(video.fps) and video.fps > 0 else 25.0
        total = video.announced if args.max_frames is None else min(video.announced, args.max_frames)
        if not args.quiet:
            estimate = _time_estimate(method, head, total, args.method)
            if estimate:
                print(estimate, file=sys.stderr, flush=True)
        bar = tqdm(total=total or None, unit="frame", desc=f"upscale {args.method}", disable=args.quiet,
                   mininterval=1.0)
        try:
            with VideoWriter(dst, fps=fps) as out:
                for frame in upscale_frames(method, chain(head, frames)):
                    out.write(frame)
                    bar.update(1)
        finally:
            bar.close()
    w, h = out.size
    kind = "lossless" if out.lossless else "lossy: this container takes no lossless codec; use .mkv"
    # out.written: the frames that close() counted again in the file it renamed onto dst
    print(f"{dst}: {out.written} frames {w}x{h} at {fps:g} fps, {out.fourcc.strip()} ({kind})")
    return 0


def _recognizer_dir(args: argparse.Namespace, params: dict | None) -> Path:
    if args.recognizers:
        return Path(args.recognizers)
    root = study_root()
    if root is None:
        raise CLIError("no trained recogniser: not inside the arsr study; run from the study's root, or pass "
                       "--recognizers DIR (a folder with tsn_rgb/ and tsn_flow/)")
    seeds = ((params or {}).get("recognition") or {}).get("seeds") or [0]
    return root / RECOGNIZERS / f"seed{int(seeds[0])}"


def _class_names(args: argparse.Namespace, rgb_dir: Path) -> tuple[list[str] | None, str]:
    """The class names (label order) and the file they came from: ``--classes``, the recogniser's
    ``recognizer.json``, else the study's prepared store."""
    import pandas as pd

    if args.classes is None:
        names = json.loads((rgb_dir / "recognizer.json").read_text()).get("class_names")
        if names:
            return list(names), str(rgb_dir / "recognizer.json")
    root = study_root()
    path = Path(args.classes) if args.classes else (root / CLASSES if root else None)
    if path is None or not path.is_file():
        if args.classes:
            raise CLIError(f"{path}: no such file; give a classes.csv (columns label, class_name)")
        return None, "(no class names)"
    try:
        table = pd.read_csv(path, keep_default_na=False)
        return list(table.sort_values("label")["class_name"].astype(str)), str(path)
    except (KeyError, ValueError, pd.errors.ParserError):
        raise CLIError(f"{path}: not a classes.csv (columns label, class_name); give the prepared "
                       "store's data/interim/classes.csv") from None


def cmd_recognize(args: argparse.Namespace) -> int:
    import torch

    from .flow import compute_flow, quantize
    from .recognition.inference import load_recognizers
    from .study.fusion import PAPER_WEIGHTS, weights_in

    src = _input_video(args.video)
    params, _ = read_params(args.params)
    evaluate = (params or {}).get("evaluate") or {}
    num_frames = args.num_frames or int(evaluate.get("num_frames", DEFAULT_NUM_FRAMES))
    crops = args.crops or evaluate.get("crops", DEFAULT_CROPS)
    flow_method = args.flow or ((params or {}).get("prepare") or {}).get("flow_method", DEFAULT_FLOW)
    device = _device(args.device)
    folder = _recognizer_dir(args, params)
    streams = {s: folder / f"tsn_{s}" for s in ("rgb", "flow")}
    for part in streams.values():
        for name in ("recognizer.json", "model.pt"):
            if not (part / name).is_file():
                raise CLIError(f"{part / name} not found: the study's TSN is not trained; run `dvc repro "
                               "train_recognizers`, or pass --recognizers DIR (a folder with tsn_rgb/ and tsn_flow/)")
    try:
        tsn = load_recognizers(tsn_rgb=streams["rgb"], tsn_flow=streams["flow"], device=device,
                               fusion_weights=weights_in(folder) or PAPER_WEIGHTS)["tsn"]
    except ValueError as err:
        if "different numbers of classes" in str(err):
            raise CLIError(f"{streams['flow'] / 'model.pt'} scores another number of classes than "
                           f"{streams['rgb'] / 'model.pt'}: the streams were trained on different datasets; "
                           "pass --recognizers DIR with both streams of one training") from None
        raise CLIError(f"{one_line(err, folder)}; retrain with `dvc repro train_recognizers`") from None
    names, source = _class_names(args, streams["rgb"])
    if names is None:
        names = [f"class {k}" for k in range(tsn.num_classes)]
    elif len(names) != tsn.num_classes:
        raise CLIError(
            f"{streams['rgb'] / 'model.pt'} scores {tsn.num_classes} classes but {source} names "
            f"{len(names)}: the recogniser was trained on another dataset's classes; pass "
            f"--recognizers DIR trained on these classes, or --classes FILE with its {tsn.num_classes} class names"
        )
    sr = load_method(args.sr, args.weights, seed=args.seed, params=args.params, device=device) if args.sr else None
    frames = read_video(src, max_frames=args.max_frames)
    if len(frames) < 2:
        raise CLIError(f"{src} has {len(frames)} frame: the temporal stream needs optical flow between "
                       "frames; give a clip of 2 frames or more")
    plan = tsn.plan(len(frames), num_frames)
    needed = plan.frames()
    pictures = sr.sr(frames, needed) if sr is not None else frames[needed]
    by_index = dict(zip(needed.tolist(), pictures))
    fields = {int(k): quantize(compute_flow(by_index[int(k)], by_index[int(k) + 1], flow_method), tsn.flow_bound)
              for k in np.unique(plan.flow)}
    scores = tsn.score(by_index, fields, plan, crops)
    probs = torch.softmax(torch.from_numpy(scores["fusion"]).double(), 0).numpy()
    top = np.argsort(-probs, kind="stable")[:max(1, args.top)]
    what = f"super-resolved x{SCALE} with {sr.name}" if sr is not None else "as HR"
    print(f"{src} ({len(frames)} frames, {what}): TSN two-stream fusion, top {len(top)} of {tsn.num_classes}")
    width = max(len(names[k]) for k in top)
    for rank, k in enumerate(top, 1):
        print(f"{rank:>3}  {names[k]:<{width}}  {probs[k]:.3f}")
    return 0


# ---------------------------------------------------------------------------------------------
# Parser


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="arsr", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    methods = ["bicubic", *SR_TRAINABLE]

    def sr_options(p: argparse.ArgumentParser, flag: str, default: str | None) -> None:
        p.add_argument(flag, default=default, choices=methods, metavar="METHOD",
                       help=f"SR method: {', '.join(methods)}" + (f" (default {default})" if default else ""))
        p.add_argument("--weights", help="SR weight file (default: the study's trained model, "
                       f"{SR_MODELS}/<method>/seed<k>/<last phase>/model.pt)")
        p.add_argument("--seed", type=int, default=0, help="SR seed of the study's model (default 0)")
        p.add_argument("--params", help="params file giving the sizes of --weights when no config.json "
                       "sits beside it (default: the study's params.yaml)")
        p.add_argument("--device", default="auto", help="auto (CUDA if present), cpu, cuda, cuda:<k>")
        p.add_argument("--max-frames", type=int, default=None, help="read at most this many frames")

    up = sub.add_parser("upscale", help="super-resolve a video x4, frame by frame, into a lossless file")
    up.add_argument("input", help="any video OpenCV reads (the LR video)")
    up.add_argument("output", help="the x4 video (.mkv or .avi: lossless FFV1)")
    sr_options(up, "--method", "vdsr")
    up.add_argument("--quiet", action="store_true", help="no progress bar")
    up.set_defaults(run=cmd_upscale)

    rec = sub.add_parser("recognize", help="top classes of the study's two-stream TSN for a video")
    rec.add_argument("video", help="the video (HR; LR with --sr)")
    sr_options(rec, "--sr", None)
    rec.add_argument("--top", type=int, default=5, help="classes to print (default 5)")
    rec.add_argument("--recognizers", help="folder with tsn_rgb/ and tsn_flow/ (default: the study's, "
                     f"{RECOGNIZERS}/seed<the first of recognition.seeds>)")
    rec.add_argument("--classes", help="classes.csv (label, class_name) when the recogniser holds no names")
    rec.add_argument("--num-frames", type=int, help="test snippets (default: params evaluate.num_frames)")
    rec.add_argument("--crops", choices=("center", "ten"), help="default: params evaluate.crops")
    rec.add_argument("--flow", help="flow method (default: params prepare.flow_method)")
    rec.set_defaults(run=cmd_recognize)
    return parser


class Terminated(BaseException):
    """SIGTERM (or SIGHUP), raised where the program is, so that every ``finally`` and ``with``
    block runs (the writer's temporary file is removed) before the process ends."""

    def __init__(self, signum: int):
        super().__init__(signum)
        self.signum = signum


#: Signals that end the process at once by default, leaving temporary files behind (SIGINT is
#: Python's KeyboardInterrupt already; SIGKILL cannot be caught).
_ENDING_SIGNALS = tuple(getattr(signal, name) for name in ("SIGTERM", "SIGHUP") if hasattr(signal, name))


@contextlib.contextmanager
def _ending_signals_raise() -> Iterator[None]:
    """SIGTERM and SIGHUP raise :class:`Terminated` inside the block. Only in the main thread,
    where Python runs signal handlers (a caller in another thread keeps the defaults)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum, frame):
        raise Terminated(signum)

    before = {signum: signal.signal(signum, handler) for signum in _ENDING_SIGNALS}
    try:
        yield
    finally:
        for signum, previous in before.items():
            signal.signal(signum, previous)


_NOTHING_WRITTEN = {"upscale": "; no output file was written"}


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.max_frames is not None and args.max_frames < 1:
        print(f"arsr {args.command}: error: --max-frames {args.max_frames}: give 1 or more", file=sys.stderr)
        return 2
    try:
        with _ending_signals_raise():
            return args.run(args)
    except (CLIError, VideoReadError, VideoWriteError) as err:
        print(f"arsr {args.command}: error: {' '.join(str(err).split())}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"arsr {args.command}: interrupted{_NOTHING_WRITTEN.get(args.command, '')}", file=sys.stderr)
        return 130
    except Terminated as stop:
        print(f"arsr {args.command}: terminated ({signal.Signals(stop.signum).name})"
              f"{_NOTHING_WRITTEN.get(args.command, '')}", file=sys.stderr)
        return 128 + stop.signum


if __name__ == "__main__":
    sys.exit(main())
