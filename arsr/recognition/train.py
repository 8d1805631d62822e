"""Training the study's action recognisers on the HR training split: TSN streams (Wang et al.,
ECCV 2016) and ST-ResNet (Feichtenhofer et al., NIPS 2016). Trained once, reused for every SR method.

* TSN spatial stream (``model.modality: rgb``): 1 RGB frame per segment; temporal stream
  (``flow``): 5 consecutive HR flow fields per segment, quantised with bound 20 to TSN's 8-bit
  images, stacked ``[x0, y0, ..., x4, y4]`` (10 channels); 3 segments, average consensus.
  Augmentation: TSN's multi-scale fixed-offset crops and horizontal flips (flipping flow inverts
  the x images, ``255 - q``). SGD with momentum, TSN's parameter groups (``TSN.optim_policies``),
  step learning rate at fixed epochs, gradient-norm clipping. Defaults are TSN's Caffe solvers
  (``models/ucf101/tsn_bn_inception_{rgb,flow}_solver.prototxt``): base lr 0.001 (rgb) / 0.005
  (flow), momentum 0.9, weight decay 5e-4, clip 40 (rgb) / 20 (flow), lr x0.1 at the steps; batch
  256 (the TSN paper). Epoch counts and steps are tsn-pytorch's (rgb 80 epochs, steps 30/60; flow
  340, steps 190/300).
* ST-ResNet (``model.type: st_resnet``): both streams fine-tuned jointly on aligned snippets
  (RGB frame t and the flow stack starting at t, the same crop and flip for both), 5 segments in
  temporal order; loss = cross-entropy of the appearance and of the motion scores (weights
  ``st_loss_weights``, the fused score's loss off by default; inferred from the authors' stage-2
  nets, which keep a loss on each stream). Same optimiser defaults as the TSN rgb stream (inferred).

Outputs in ``out_dir``: ``model.pt`` (state dict only), ``recognizer.json`` (what
``load_recognizer``, defined in ``arsr.recognition.inference``, needs to rebuild the model),
``last.pt`` (checkpoint: model, optimizer, iteration, RNG state, log window; a rerun resumes from
it), ``log.csv`` (iteration, epoch, loss, accuracy, lr, seconds; val_loss, val_accuracy on the rows
of the epochs ``val_every`` validates, empty elsewhere). A run is a pure function of its
config: a resumed run gives the uninterrupted run's weights (exactly, on the CPU). Ctrl-C or
SIGTERM lets the iteration under way finish, writes its ``last.pt`` and raises
:class:`arsr.interrupt.Interrupted`, whatever ``checkpoint_every`` says.

Several GPUs (DDP, one process per GPU; ``batch_size`` is the global batch)::

    torchrun --standalone --nproc_per_node=4 -m arsr.recognition.train \\
        --data data/interim --out data/models/tsn_rgb --set model.modality=rgb

Rank 0 logs and writes files; each rank draws its own share of every batch.
"""
from __future__ import annotations

import argparse
import contextlib
import copy
import math
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator, Mapping, Sequence

import numpy as np
import pandas as pd
import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch import nn
from torch.utils.data import DataLoader, Dataset, Sampler
from tqdm import tqdm

from ..checkpoint import check_settings, load_checkpoint, save_checkpoint
from ..data.store import PreparedDataset
from ..interrupt import Interrupted, stop_requests, stopped_at
from ..io import atomic_path, write_json, write_text
from ..ops.layout import channels_last_convs
from ..paths import resolve
from ..train import distributed
from ..workers import loader_workers, progress_bar
from .config import SCHEDULE_DEFAULTS, TrainConfig  # noqa: F401 (defined there; importable here too)
from .inference import TrainedRecognizer, build_model, load_recognizer, normalize_inputs
from .sampling import (MULTISCALE_SCALES, Box, crop_resize, default_scale_size, flip_horizontal,
                       multiscale_crop, num_positions, quantize_flow_stack, snippet_fields,
                       snippet_frames, train_offsets)
from .st_resnet import STResNet, STResNetOutput
from .tsn import TSN
from ..params_file import ParamError

__all__ = ["TrainConfig", "TrainResult", "TrainedRecognizer", "SnippetDataset", "BatchPlan",
           "train_recognizer", "load_recognizer", "normalize_inputs", "lr_at", "main"]

#: The layout of recognizer.json (the training checkpoint's: arsr.checkpoint.FORMAT_VERSION).
FORMAT_VERSION = 1
LOG_COLUMNS = ["iteration", "epoch", "loss", "accuracy", "lr", "seconds", "val_loss", "val_accuracy"]

# Keys that may change between a run and its resumption without changing the result.
_RESUMABLE_KEYS = ("workers", "log_every", "checkpoint_every", "val_every", "val_split")


@dataclass
class TrainResult:
    """What a (possibly stopped) run left: ``finished`` is False after ``stop_after``."""

    out_dir: Path
    model_path: Path | None
    iteration: int
    total_iterations: int
    finished: bool
    log: pd.DataFrame


# ---------------------------------------------------------------------------------------------
# Data


class SnippetDataset(Dataset):
    """Augmented training snippets of one split of a prepared store.

    ``dataset[(epoch, i)]`` -> ``{"label": int, "rgb": (S, 3·L_rgb, size, size) uint8,
    "flow": (S, 2·L_flow, size, size) uint8}`` (only the requested ``streams``), S = num_segments.
    The augmentation is drawn from ``numpy.random.default_rng([seed, epoch, i])``, so a sample does
    not depend on worker processes or on where a run was resumed.

    ``aligned=True`` (ST-ResNet): both streams share the snippet starts (RGB frame t with the flow
    fields t..t+L-1), the crop and the flip. Otherwise each stream samples its own starts over its
    own positions (TSN).
    """

    def __init__(self, dataset: PreparedDataset, *, split: str = "train", streams: Sequence[str] = ("rgb",),
                 new_length: Mapping[str, int] | None = None, num_segments: int = 3, aligned: bool = False,
                 input_size: int = 224, scale_size: int | None = None,
                 scales: Sequence[float] = MULTISCALE_SCALES, max_distort: int = 1, flip: bool = True,
                 flow_bound: float = 20.0, seed: int = 0):
        rows = dataset.split(split)
        if rows.empty:
            raise ValueError(f"split {split!r} of {dataset.root / 'index.csv'} has no videos: "
                             "prepare the dataset with a training split or set the config's `split`")
        self.videos = [dataset.video(r) for _, r in rows.iterrows()]
        self.labels = rows["label"].astype(int).tolist()
        self.streams = tuple(streams)
        self.new_length = {"rgb": 1, "flow": 5, **(new_length or {})}
        self.num_segments = num_segments
        self.aligned = aligned
        self.input_size = input_size
        self.scale_size = scale_size or default_scale_size(input_size)
        self.scales = tuple(scales)
        self.max_distort = max_distort
        self.flip = flip
        self.flow_bound = flow_bound
        self.seed = seed

    def __len__(self) -> int:
        return len(self.videos)

    def __getitem__(self, key: tuple[int, int]) -> dict:
        epoch, i = key
        rng = np.random.default_rng([self.seed, epoch, i])
        video = self.videos[i]
        hr = video.hr
        t, h, w = hr.shape[:3]
        starts = {}
        if self.aligned:
            s = train_offsets(num_positions(t, "flow", self.new_length["flow"]), self.num_segments, rng)
            starts = {m: s for m in self.streams}
        else:
            for m in self.streams:
                starts[m] = train_offsets(num_positions(t, m, self.new_length[m]), self.num_segments, rng)
        box = multiscale_crop(rng, h, w, self.input_size, self.scale_size, self.scales, self.max_distort)
        flip = bool(self.flip and rng.random() < 0.5)
        x0, y0, x1, y1 = box.pixels(h, w)
        whole = Box(0, 0, x1 - x0, y1 - y0)
        sample: dict[str, Any] = {"label": self.labels[i]}
        for m in self.streams:
            n = self.new_length[m]
            if m == "rgb":
                idx = snippet_frames(starts[m], n, t)
                part = np.asarray(hr[idx.ravel(), y0:y1, x0:x1])
            else:
                idx = snippet_fields(starts[m], n, t)
                part = quantize_flow_stack(np.asarray(video.flow[idx.ravel(), y0:y1, x0:x1]), self.flow_bound)
            c = part.shape[-1]
            # (S·L, h', w', c) -> (S, h', w', L·c): channels [a0, b0, (c0), a1, b1, ...]
            snip = part.reshape(idx.shape[0], n, *part.shape[1:3], c).transpose(0, 2, 3, 1, 4)
            snip = crop_resize(snip.reshape(*snip.shape[:3], n * c), whole, self.input_size)
            if flip:
                snip = flip_horizontal(snip, m)
            sample[m] = torch.from_numpy(np.ascontiguousarray(snip.transpose(0, 3, 1, 2)))
        return sample


class BatchPlan(Sampler):
    """The batches of iterations ``start .. stop-1`` for one rank, as lists of ``(epoch, index)``.

    Epoch ``e`` visits the ``n`` videos in the order ``default_rng([seed, e]).permutation(n)``,
    padded by wrapping to a multiple of ``world_size``, cut into global batches of ``batch_size``;
    rank ``r`` takes every ``world_size``-th video of each batch starting at ``r``.
    """

    def __init__(self, n: int, batch_size: int, seed: int, start: int, stop: int,
                 rank: int = 0, world_size: int = 1):
        if batch_size % world_size:
            raise ParamError(f"batch_size {batch_size} is not divisible by the {world_size} processes: "
                             "set the config's batch_size to a multiple of the GPU count")
        self.n, self.batch_size, self.seed = n, batch_size, seed
        self.start, self.stop, self.rank, self.world_size = start, stop, rank, world_size
        self.padded = math.ceil(n / world_size) * world_size
        self.iterations_per_epoch = math.ceil(self.padded / batch_size)

    def epoch_order(self, epoch: int) -> np.ndarray:
        order = np.random.default_rng([self.seed, epoch]).permutation(self.n)
        return np.resize(order, self.padded)  # wraps around

    def __iter__(self) -> Iterator[list[tuple[int, int]]]:
        order, order_epoch = None, -1
        for it in range(self.start, self.stop):
            epoch, b = divmod(it, self.iterations_per_epoch)
            if epoch != order_epoch:
                order, order_epoch = self.epoch_order(epoch), epoch
            chunk = order[b * self.batch_size:(b + 1) * self.batch_size]
            yield [(epoch, int(i)) for i in chunk[self.rank::self.world_size]]

    def __len__(self) -> int:
        return max(0, self.stop - self.start)


# ---------------------------------------------------------------------------------------------
# Model, inputs, optimiser


def _new_lengths(model: nn.Module) -> dict[str, int]:
    if isinstance(model, STResNet):
        return {"rgb": 1, "flow": model.flow_channels // 2}
    return {model.modality: model.new_length}


def _param_groups(model: nn.Module, cfg: TrainConfig) -> list[dict]:
    if isinstance(model, TSN):
        policies = model.optim_policies()
    else:  # ST-ResNet: weights decay, biases and BatchNorm parameters do not
        decay = [p for p in model.parameters() if p.requires_grad and p.dim() > 1]
        no_decay = [p for p in model.parameters() if p.requires_grad and p.dim() <= 1]
        policies = [{"params": decay, "lr_mult": 1, "decay_mult": 1, "name": "weights"},
                    {"params": no_decay, "lr_mult": 1, "decay_mult": 0, "name": "biases and BN"}]
    return [{"params": g["params"], "lr": cfg.lr * g["lr_mult"], "weight_decay": cfg.weight_decay * g["decay_mult"],
             "lr_mult": g["lr_mult"], "name": g["name"]} for g in policies if g["params"]]


def lr_at(iteration: int, iterations_per_epoch: int, lr: float, lr_steps: Sequence[int], gamma: float) -> float:
    """Step schedule: ``lr · gamma^k``, k = the number of ``lr_steps`` (epochs) already reached at
    the epoch of ``iteration``."""
    from ..train.config import lr_at as multistep

    return multistep(lr, sorted(lr_steps), gamma, iteration // iterations_per_epoch)


# ---------------------------------------------------------------------------------------------
# Checkpoints and logs


def _essential(config: dict) -> dict:
    return {k: v for k, v in config.items() if k not in _RESUMABLE_KEYS}


def _save_checkpoint(path: Path, model: nn.Module, optimizer, scaler, iteration: int, seconds: float,
                     window: dict, config: dict, ipe: int) -> None:
    save_checkpoint(path, {
        "model": distributed.unwrap(model).state_dict(),
        "optimizer": optimizer.state_dict(),
        "scheduler": {"type": "step", "lr": config["lr"], "lr_steps": list(config["lr_steps"]),
                      "gamma": config["lr_gamma"], "iterations_per_epoch": ipe},
        "scaler": scaler.state_dict(),
        "iteration": iteration,
        "epoch": iteration // ipe,
        "seconds": seconds,
        "window": window,
        "rng": torch.get_rng_state(),
        "cuda_rng": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
        "config": config,
    })


def _load_checkpoint(path: Path, config: dict) -> dict:
    """last.pt (arsr.checkpoint's format), refused when a setting other than the schedule's
    length differs."""
    state = load_checkpoint(path)
    check_settings(path, _essential(state["config"]), _essential(config))
    return state


def _read_log(path: Path) -> pd.DataFrame:
    if not path.is_file():
        return pd.DataFrame(columns=LOG_COLUMNS)
    try:  # a log of before the validation columns gets them, empty
        return pd.read_csv(path).reindex(columns=LOG_COLUMNS)
    except (pd.errors.EmptyDataError, pd.errors.ParserError):
        return pd.DataFrame(columns=LOG_COLUMNS)


def _append_log(path: Path, row: dict) -> None:
    new = not path.is_file() or path.stat().st_size == 0
    with open(path, "a") as f:
        if new:
            f.write(",".join(LOG_COLUMNS) + "\n")
        f.write(",".join(repr(row[c]) if isinstance(row[c], float) else str(row[c]) for c in LOG_COLUMNS) + "\n")
        f.flush()


def _recognizer_info(cfg: TrainConfig, model: nn.Module, dataset: PreparedDataset, total: int) -> dict:
    model_cfg = {k: v for k, v in cfg.model.items() if k != "pretrained"}
    model_cfg["num_classes"] = len(dataset.class_names)
    if cfg.kind == "tsn":
        model_cfg["num_segments"] = cfg.num_segments
    return {
        "format": FORMAT_VERSION,
        "model": model_cfg,
        "new_length": _new_lengths(model),
        "input_size": cfg.input_size,
        "scale_size": cfg.scale_size,
        "flow_bound": cfg.flow_bound,
        "num_segments": cfg.num_segments,
        "class_names": dataset.class_names,
        "iterations": total,
        "epochs": cfg.epochs,
        "dataset": str(dataset.root),
        "config": cfg.to_dict(),
    }


# ---------------------------------------------------------------------------------------------
# Training


def _forward_loss(model: nn.Module, batch: dict, cfg: TrainConfig, device: torch.device):
    """One batch -> (loss, scores used for the accuracy ``(b, num_classes)``)."""
    labels = batch["label"].to(device, non_blocking=True)
    rgb = batch["rgb"].to(device, non_blocking=True) if "rgb" in batch else None
    flow = batch["flow"].to(device, non_blocking=True) if "flow" in batch else None
    rgb, flow = normalize_inputs(model, rgb, flow)
    if cfg.kind == "tsn":
        scores = model(rgb if rgb is not None else flow)
        return F.cross_entropy(scores.float(), labels), scores
    out: STResNetOutput = model(rgb, flow)
    w_a, w_m, w_f = cfg.st_loss_weights
    loss = sum(w * F.cross_entropy(s.float(), labels)
               for w, s in ((w_a, out.appearance), (w_m, out.motion), (w_f, out.fused)) if w)
    return loss, out.fused


def validation_data(dataset: PreparedDataset, cfg: TrainConfig, streams: Sequence[str],
                    new_length: Mapping[str, int]) -> SnippetDataset | None:
    """The held-out snippets ``val_every`` scores (None when off or the store has no ``val_split``):
    no flips, one scale, no distortion, and always the draw of epoch 0, so that every validation
    sees the same inputs and a change of its loss is the model's."""
    if cfg.val_every <= 0 or dataset.split(cfg.val_split).empty:
        return None
    return SnippetDataset(dataset, split=cfg.val_split, streams=streams, new_length=new_length,
                          num_segments=cfg.num_segments, aligned=cfg.kind == "st_resnet",
                          input_size=cfg.input_size, scale_size=cfg.scale_size, scales=(1.0,), max_distort=0,
                          flip=False, flow_bound=cfg.flow_bound, seed=cfg.seed)


def validate(model: nn.Module, data: SnippetDataset, cfg: TrainConfig, device: torch.device) -> tuple[float, float]:
    """(mean loss, top-1 fraction) of ``model`` on every snippet of ``data``, in eval mode and
    without gradients; the model's mode is restored. Draws no random number (the training that
    calls it gives the weights it gives without it)."""
    from torch.utils.data import default_collate

    was_training = model.training
    model.eval()
    loss_sum, correct = 0.0, 0
    try:
        with torch.no_grad():
            for start in range(0, len(data), cfg.batch_size):
                batch = default_collate([data[(0, i)] for i in range(start, min(start + cfg.batch_size, len(data)))])
                loss, scores = _forward_loss(model, batch, cfg, device)
                n = int(batch["label"].numel())
                loss_sum += float(loss) * n
                correct += int((scores.argmax(1).cpu() == batch["label"]).sum())
    finally:
        model.train(was_training)
    return loss_sum / len(data), correct / len(data)


def train_recognizer(config: Mapping[str, Any] | TrainConfig, dataset: PreparedDataset | str | os.PathLike,
                     out_dir: str | os.PathLike, *, progress: bool = True,
                     device: str | torch.device | None = None, stop_after: int | None = None,
                     init_weights: str | os.PathLike | None = None) -> TrainResult:
    """Train (or resume, or just return) the recogniser that ``config`` describes on ``dataset``'s
    training split; write ``model.pt``, ``recognizer.json``, ``last.pt`` and ``log.csv`` in ``out_dir``.

    ``init_weights``: a ``model.pt`` of a recogniser of the same architecture and classes to start
    from instead of the initialisation (fine-tuning); loaded strictly. A resumed run continues
    from ``last.pt`` as always (the caller keeps the folder only for the same starting weights).

    ``stop_after``: stop once the run reaches this iteration (a checkpoint is written; a later
    call resumes). A finished run is not repeated: the call returns its result. Under ``torchrun``
    (``WORLD_SIZE`` > 1) every process calls this; rank 0 writes.
    """
    cfg = TrainConfig.from_dict(config).resolved()
    if not isinstance(dataset, PreparedDataset):
        dataset = PreparedDataset(dataset)
    out_dir = resolve(out_dir)
    info = distributed.setup(device)
    device = info.device
    config_dict = cfg.to_dict()
    num_classes = len(dataset.class_names)

    torch.manual_seed(cfg.seed)
    model = build_model(cfg.model, num_classes, cfg.num_segments).to(device)
    if init_weights is not None:
        model.load_state_dict(torch.load(resolve(init_weights), map_location=device, weights_only=True))
    if not info.distributed:
        # channels-last convs (faster on one process). Not under DDP: the 1x1 convs' gradients come
        # out channels-last while DDP's buckets keep the default strides (a stride-mismatch warning
        # on every step), and a 2-process CPU run was seen to crash in backward (double free)
        channels_last_convs(model)
    new_length = _new_lengths(model)
    streams = ("rgb", "flow") if cfg.kind == "st_resnet" else (model.modality,)
    data = SnippetDataset(dataset, split=cfg.split, streams=streams, new_length=new_length,
                          num_segments=cfg.num_segments, aligned=cfg.kind == "st_resnet",
                          input_size=cfg.input_size, scale_size=cfg.scale_size, scales=cfg.scales,
                          max_distort=cfg.max_distort, flip=cfg.flip, flow_bound=cfg.flow_bound, seed=cfg.seed)
    val_data = validation_data(dataset, cfg, streams, new_length)
    probe = BatchPlan(len(data), cfg.batch_size, cfg.seed, 0, 0, info.rank, info.world_size)
    ipe = probe.iterations_per_epoch
    total = cfg.epochs * ipe

    optimizer = torch.optim.SGD(_param_groups(model, cfg), lr=cfg.lr, momentum=cfg.momentum)
    use_amp = cfg.amp and device.type == "cuda"
    amp_dtype = torch.bfloat16 if use_amp and torch.cuda.is_bf16_supported() else torch.float16
    scaler = torch.amp.GradScaler(device.type, enabled=use_amp and amp_dtype == torch.float16)

    last_path, log_path, model_path = out_dir / "last.pt", out_dir / "log.csv", out_dir / "model.pt"
    iteration, seconds = 0, 0.0
    window = {"loss": 0.0, "correct": 0, "count": 0, "batches": 0}
    if last_path.is_file():
        state = _load_checkpoint(last_path, config_dict)
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        scaler.load_state_dict(state["scaler"])
        iteration, seconds, window = state["iteration"], state["seconds"], dict(state["window"])
        torch.set_rng_state(state["rng"])
        if torch.cuda.is_available() and len(state["cuda_rng"]) == torch.cuda.device_count():
            torch.cuda.set_rng_state_all(state["cuda_rng"])
        if info.is_main:  # drop rows logged after the checkpoint (a killed run)
            log = _read_log(log_path)
            write_text(log_path, log[log["iteration"] <= iteration].to_csv(index=False, columns=LOG_COLUMNS))
    elif info.is_main:
        out_dir.mkdir(parents=True, exist_ok=True)
        write_text(log_path, ",".join(LOG_COLUMNS) + "\n")
    if iteration >= total and model_path.is_file():
        return TrainResult(out_dir, model_path, iteration, total, True, _read_log(log_path))

    net = model
    if info.distributed:
        net = nn.parallel.DistributedDataParallel(
            model, device_ids=[device.index] if device.type == "cuda" else None)
    end = total if stop_after is None else min(total, max(stop_after, iteration))
    plan = BatchPlan(len(data), cfg.batch_size, cfg.seed, iteration, end, info.rank, info.world_size)
    loader = DataLoader(
        data,
        batch_sampler=plan,
        num_workers=loader_workers(cfg.workers),
        pin_memory=device.type == "cuda",
        generator=torch.Generator(),
        persistent_workers=False,
    )
    trainable = [p for p in model.parameters() if p.requires_grad]
    bar = progress_bar(tqdm, total=total, initial=iteration, unit="it", desc=f"train {cfg.stream}",
                       disable=not (progress and info.is_main), mininterval=1.0)
    epoch_end = ipe if cfg.checkpoint_every == 0 else cfg.checkpoint_every
    net.train()
    # Ctrl-C / SIGTERM: the iteration under way finishes, its checkpoint is written, then Interrupted
    with stop_requests() as stop, contextlib.closing(bar):
        tic = time.perf_counter()
        for batch in loader:
            lr = lr_at(iteration, ipe, cfg.lr, cfg.lr_steps, cfg.lr_gamma)
            for g in optimizer.param_groups:
                g["lr"] = lr * g["lr_mult"]
            optimizer.zero_grad(set_to_none=True)
            with torch.autocast(device.type, dtype=amp_dtype, enabled=use_amp):
                loss, scores = _forward_loss(net, batch, cfg, device)
            scaler.scale(loss).backward()
            if cfg.clip_grad:
                scaler.unscale_(optimizer)
                nn.utils.clip_grad_norm_(trainable, cfg.clip_grad)
            scaler.step(optimizer)
            scaler.update()
            iteration += 1
            n = int(batch["label"].numel())
            window["loss"] += float(loss.detach()) * n
            window["correct"] += int((scores.detach().argmax(1).cpu() == batch["label"]).sum())
            window["count"] += n
            window["batches"] += 1
            bar.update(1)
            validating = val_data is not None and (
                iteration == total or (iteration % ipe == 0 and (iteration // ipe) % cfg.val_every == 0))
            if iteration % cfg.log_every == 0 or iteration == total or validating:
                now = time.perf_counter()
                seconds, tic = seconds + now - tic, now
                totals = _all_reduce(window, device, info.distributed)
                row = {"iteration": iteration, "epoch": round(iteration / ipe, 4),
                       "loss": totals["loss"] / max(totals["count"], 1),
                       "accuracy": totals["correct"] / max(totals["count"], 1), "lr": lr,
                       "seconds": round(seconds, 3), "val_loss": "", "val_accuracy": ""}
                if validating:  # not counted in `seconds` (training time)
                    row["val_loss"], row["val_accuracy"] = validate(model, val_data, cfg, device)
                    tic = time.perf_counter()
                if info.is_main:
                    _append_log(log_path, row)
                    bar.set_postfix(loss=f"{row['loss']:.3f}", acc=f"{row['accuracy']:.3f}", lr=f"{lr:.2g}")
                window = {"loss": 0.0, "correct": 0, "count": 0, "batches": 0}
            if iteration % epoch_end == 0 or iteration == end or iteration == total or stop:
                now = time.perf_counter()
                seconds, tic = seconds + now - tic, now
                if info.is_main:
                    _save_checkpoint(last_path, model, optimizer, scaler, iteration, seconds, window,
                                     config_dict, ipe)
                if iteration < end:
                    stop.stop_here(stopped_at(iteration, total, last_path))
        bar.close()
        distributed.barrier()
        finished = iteration >= total
        if finished and info.is_main:
            with atomic_path(model_path, suffix=".pt") as tmp:
                torch.save(model.state_dict(), tmp)
            write_json(out_dir / "recognizer.json", _recognizer_info(cfg, model, dataset, total))
        distributed.barrier()
        stop.stop_here(stopped_at(iteration, total, model_path if finished else last_path))
    return TrainResult(out_dir, model_path if finished else None, iteration, total, finished,
                       _read_log(log_path))


def _all_reduce(window: dict, device: torch.device, active: bool) -> dict:
    if not active:
        return window
    t = torch.tensor([window["loss"], window["correct"], window["count"]], dtype=torch.float64, device=device)
    dist.all_reduce(t)
    return {"loss": t[0].item(), "correct": t[1].item(), "count": t[2].item()}


# ---------------------------------------------------------------------------------------------
# Command line


def _set(config: dict, dotted: str, value: Any) -> None:
    keys = dotted.split(".")
    node = config
    for k in keys[:-1]:
        node = node.setdefault(k, {})
        if not isinstance(node, dict):
            raise ParamError(f"--set {dotted}: {k} is not a group")
    node[keys[-1]] = value


def main(argv: Sequence[str] | None = None) -> int:
    import yaml

    parser = argparse.ArgumentParser(
        prog="python -m arsr.recognition.train",
        description="Train a TSN stream or ST-ResNet on a prepared store (torchrun for several GPUs).")
    parser.add_argument("--data", default="data/interim", help="prepared store (default data/interim)")
    parser.add_argument("--out", required=True, help="output folder (model.pt, last.pt, log.csv)")
    parser.add_argument("--config", help="YAML/JSON file with the TrainConfig mapping")
    parser.add_argument("--params", help="dotted key of params.yaml holding the mapping, e.g. recognition.rgb")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help="override one setting (YAML value), e.g. model.modality=flow, repeatable")
    parser.add_argument("--stop-after", type=int, help="stop at this iteration (resumable)")
    parser.add_argument("--device", help="cpu, cuda, cuda:1 (default: CUDA when available)")
    parser.add_argument("--no-progress", action="store_true")
    args = parser.parse_args(argv)

    config: dict = {}
    if args.params:
        from ..params_file import load_params
        node: Any = load_params()
        for k in args.params.split("."):
            if not isinstance(node, dict) or k not in node:
                parser.error(f"--params {args.params}: params.yaml has no key {k!r}")
            node = node[k]
        config = copy.deepcopy(node)
    if args.config:
        config.update(yaml.safe_load(Path(args.config).read_text()) or {})
    for item in args.set:
        if "=" not in item:
            parser.error(f"--set {item!r}: use KEY=VALUE")
        key, value = item.split("=", 1)
        _set(config, key, yaml.safe_load(value))
    try:
        result = train_recognizer(config, args.data, args.out, progress=not args.no_progress,
                                  device=args.device, stop_after=args.stop_after)
    except Interrupted as stopped:
        print(f"{stopped}; run the same command again to resume", file=sys.stderr)
        return stopped.exit_code
    finally:
        distributed.cleanup()
    if int(os.environ.get("RANK", "0")) == 0:
        state = "finished" if result.finished else "stopped"
        print(f"{state} at iteration {result.iteration}/{result.total_iterations}: {result.out_dir}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
