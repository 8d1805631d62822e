"""ST-ResNet's temporal convolutions: ``F.conv3d`` against the same convolution as one 2-D conv.

    python benchmarks/st_resnet_speed.py              # params.yaml's ST-ResNet, 7 repeats, 1 thread
    python benchmarks/st_resnet_speed.py --threads 2 --repeats 11
    python benchmarks/st_resnet_speed.py --quick      # tiny network and input (the test)

``arsr.recognition.st_resnet`` has two forms of its temporal convolutions: ``temporal_conv_3d``
(``F.conv3d`` over the clips) and ``temporal_conv_2d`` (the frames stacked with their temporal
neighbours along channels, the 3-D kernel reshaped to a 2-D one). ``TemporalConv2d`` runs the 2-D
form for a single clip on CPU, where ``F.conv3d`` falls to PyTorch's slow reference kernel, and
``F.conv3d`` (oneDNN) for several clips (``runs_as_2d``). This times both forms on the same model,
weights and input, alternating within each repeat:

* **eval**: forward under ``inference_mode`` as ``STResNetRecognizer`` runs it (channels-last
  convs; a batch of one clip of ``evaluate.num_frames`` frames per centre crop, of two clips with
  ten crops: its ``batch_size``); the row of ``evaluate.crops`` is marked as the study's;
* **train**: forward + backward of the trainer's loss (``recognition.st_resnet``: ``batch_size``
  clips of ``num_segments`` frames, ``st_loss_weights``), channels-last convs as one process trains.

Sizes come from ``params.yaml`` (``recognition.st_resnet``: model, ``input_size``, ``batch_size``;
``evaluate``); weights are random (speed does not depend on them), the temporal ones re-drawn so
that every tap counts. It prints a markdown table: median seconds per call of each form, the median
over repeats of the paired ratio conv3d / conv2d, which form the model runs there and so its
speed-up over the conv3d-only model, and the relative difference (Frobenius) between the forms of
the fused scores (a sanity check: tests/test_recognition_models.py compares the forms' outputs and
gradients layer by layer). Timings are noisy on shared cores: read the ratios, not the seconds.
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time
from contextlib import contextmanager
from pathlib import Path
from unittest import mock

ROOT = Path(__file__).resolve().parents[1]
EVAL_CLIPS_PER_BATCH = 2  # STResNetRecognizer's batch_size (crops per forward)


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python benchmarks/st_resnet_speed.py", description=__doc__.split("\n\n")[0])
    p.add_argument("--params", default=str(ROOT / "params.yaml"), help="params file (default: the study's)")
    p.add_argument("--repeats", type=int, default=7, help="timed repeats per form and case (default 7)")
    p.add_argument("--threads", type=int, default=1, help="torch threads (default 1: rates per core)")
    p.add_argument("--classes", type=int, default=12, help="classes of the classifier (default 12, synthetic)")
    p.add_argument("--quick", action="store_true", help="a tiny ST-ResNet and input, 2 repeats (tests)")
    return p.parse_args(argv)


def settings(args: argparse.Namespace) -> dict:
    """Model keywords, loss weights and the timed cases ``(mode, (clips, frames, size), label)``,
    from the params."""
    from arsr.params_file import load_params
    from arsr.recognition.config import TrainConfig

    params = load_params(args.params)
    cfg = TrainConfig.from_dict(params["recognition"]["st_resnet"], key="recognition.st_resnet").resolved()
    model = {k: v for k, v in cfg.model.items() if k != "pretrained"}
    frames, size, crops = params["evaluate"]["num_frames"], cfg.input_size, params["evaluate"]["crops"]
    cases = [("eval", (1, frames, size), "centre crop" + (" (study)" if crops == "center" else "")),
             ("eval", (EVAL_CLIPS_PER_BATCH, frames, size), "ten crops" + (" (study)" if crops == "ten" else "")),
             ("train", (cfg.batch_size, cfg.num_segments, size), "trainer")]
    if args.quick:
        model = {**model, "depth": 18, "width": 8}
        cases = [("eval", (1, 4, 32), "centre crop"), ("train", (2, 3, 32), "trainer")]
    return {"model": model, "loss_weights": cfg.st_loss_weights, "cases": cases}


@contextmanager
def form(name: str):
    """Run every ``TemporalConv2d`` of the model as ``conv3d`` (``temporal_conv_3d``) or ``conv2d``
    (``temporal_conv_2d``), whatever ``runs_as_2d`` would choose."""
    from arsr.recognition import st_resnet

    conv = {"conv3d": st_resnet.temporal_conv_3d, "conv2d": st_resnet.temporal_conv_2d}[name]

    def forward(self, x, frames):
        return conv(x, self.weight, frames, self.stride[1:], self.padding[1:])

    with mock.patch.object(st_resnet.TemporalConv2d, "forward", forward):
        yield


def inputs(shape: tuple[int, int, int], flow_channels: int, seed: int):
    """uint8 rgb ``(b, t, 3, s, s)`` and flow ``(b, t, 2L, s, s)`` laid out as ``STResNetRecognizer``
    gives them (channels-last per frame: its crops permuted)."""
    import torch

    b, t, s = shape
    g = torch.Generator().manual_seed(seed)
    rgb = torch.randint(0, 256, (b, t, s, s, 3), generator=g, dtype=torch.uint8).permute(0, 1, 4, 2, 3)
    flow = torch.randint(0, 256, (b, t, s, s, flow_channels), generator=g, dtype=torch.uint8).permute(0, 1, 4, 2, 3)
    return rgb, flow


def run_eval(model, rgb, flow):
    """One evaluation forward -> fused scores ``(b, classes)``."""
    import torch

    from arsr.recognition.inference import normalize_inputs

    with torch.inference_mode():
        r, f = normalize_inputs(model, rgb, flow)
        return model(r, f).fused.clone()


def run_train(model, rgb, flow, weights):
    """One training forward + backward -> fused scores ``(b, classes)``."""
    import torch
    import torch.nn.functional as F

    from arsr.recognition.inference import normalize_inputs

    model.zero_grad(set_to_none=True)
    r, f = normalize_inputs(model, rgb, flow)
    out = model(r, f)
    labels = torch.arange(out.fused.shape[0]) % out.fused.shape[1]
    loss = sum(w * F.cross_entropy(s, labels) for w, s in zip(weights, (out.appearance, out.motion, out.fused)) if w)
    loss.backward()
    return out.fused.detach()


def relative_difference(a, b) -> float:
    """||a - b|| / ||b|| (Frobenius)."""
    a, b = a.detach().double(), b.detach().double()
    return float((a - b).norm() / b.norm().clamp_min(1e-300))


def measure(mode: str, shape: tuple[int, int, int], cfg: dict, repeats: int) -> dict:
    """Seconds per call of each form (alternating, after one warm-up each), their paired ratios and
    the differences of the results."""
    import torch

    from arsr.ops.layout import channels_last_convs
    from arsr.recognition.models import build_recognizer
    from arsr.recognition.st_resnet import TemporalConv2d, runs_as_2d

    torch.manual_seed(0)
    model = channels_last_convs(build_recognizer({**cfg["model"], "num_classes": cfg["classes"]}))
    for m in model.modules():
        if isinstance(m, TemporalConv2d):  # every tap non-zero (the identity init zeroes all but one)
            torch.nn.init.kaiming_normal_(m.weight)
    model.train(mode == "train")
    rgb, flow = inputs(shape, model.flow_channels, seed=1)
    call = (lambda: run_eval(model, rgb, flow)) if mode == "eval" else \
        (lambda: run_train(model, rgb, flow, cfg["loss_weights"]))
    results, seconds = {}, {"conv3d": [], "conv2d": []}
    for name in seconds:
        with form(name):
            results[name] = call()  # warm-up, and the results compared
    for _ in range(repeats):
        for name in seconds:
            with form(name):
                t0 = time.perf_counter()
                call()
                seconds[name].append(time.perf_counter() - t0)
    ratios = [a / b for a, b in zip(seconds["conv3d"], seconds["conv2d"])]
    clips, frames, size = shape
    runs = "conv2d" if runs_as_2d(torch.empty(clips * frames, 1, 1, 1), frames) else "conv3d"
    ratio = statistics.median(ratios)
    return {"mode": mode, "batch": f"{clips}x{frames}x{size}",
            "conv3d": statistics.median(seconds["conv3d"]), "conv2d": statistics.median(seconds["conv2d"]),
            "ratio": ratio, "ratio_min": min(ratios), "ratio_max": max(ratios), "runs": runs,
            "speedup": ratio if runs == "conv2d" else 1.0,
            "rel_out": relative_difference(results["conv2d"], results["conv3d"])}


def main(argv=None) -> int:
    args = parse_args(argv)
    import torch

    torch.set_num_threads(args.threads)
    cfg = {**settings(args), "classes": args.classes}
    repeats = 2 if args.quick else args.repeats
    rows = [{**measure(mode, shape, cfg, repeats), "case": label} for mode, shape, label in cfg["cases"]]
    model = ", ".join(f"{k}={v}" for k, v in cfg["model"].items())
    print(f"# ST-ResNet temporal convs: conv3d vs conv2d ({model}; {args.threads} thread(s), {repeats} repeats)\n")
    print("## Speed\n")
    print("| mode | case | batch (clips x frames x px) | conv3d s | conv2d s | ratio | ratio range | model runs | "
          "model speed-up | rel. diff scores |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        cells = [r["mode"], r["case"], r["batch"], f"{r['conv3d']:.4f}", f"{r['conv2d']:.4f}", f"{r['ratio']:.2f}",
                 f"{r['ratio_min']:.2f}-{r['ratio_max']:.2f}", r["runs"], f"{r['speedup']:.2f}", f"{r['rel_out']:.1e}"]
        print("| " + " | ".join(cells) + " |")
    print("\nratio: median over repeats of conv3d / conv2d seconds, the two forms alternating in each repeat "
          "(eval: forward under inference_mode; train: forward + backward). model speed-up: the model "
          "(arsr.recognition.st_resnet.runs_as_2d picks the form) against conv3d everywhere.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
