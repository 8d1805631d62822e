"""One training loop for every SR method of the study, driven by a config dict.

A config (one training *phase*; :mod:`arsr.train.presets` chains phases into a method) is a
mapping whose keys and defaults are :data:`DEFAULTS`; :func:`resolve_config` fills the defaults
and rejects unknown keys and values (both live in :mod:`arsr.train.config`, which needs no torch,
and are importable from here). The generator loss is the weighted sum of the terms that
are on::

    pixel    weight · {mse | l1 | charbonnier | huber | wmse}(SR, HR)   (wmse: SoSR, paper Eq. 1)
    colour   weight · L1 of the per-channel means of SR and HR (off in the papers' recipes)
    feature  weight · L1(f(SR), f(HR)), f frozen (VGG19 conv5_4, or any module passed in)
    gan      weight · {vanilla (SRGAN) | ragan (ESRGAN)} adversarial loss, D updated every step
    warp     weight · ToSR's loss on frames t, t+gap (paper Eq. 3; alpha, beta, gamma, norm)
    spatial  task.spatial_weight · distillation from a frozen RGB TSN stream, SR vs HR frames
    temporal task.temporal_weight · distillation from a frozen flow TSN stream fed the
             differentiable (unrolled TV-L1) flow of consecutive SR vs HR frames (rdsr; see
             arsr.losses)

The task terms' teachers are recogniser folders (``task.spatial_teacher``,
``task.temporal_teacher``: recognizer.json + model.pt of ``arsr.recognition``), loaded frozen (eval
mode, no gradients) or passed in as ``teachers=``. With the temporal term (or ``data.clip``) a
sample is a clip of consecutive frames t..t+k-1 (k = the flow stream's ``new_length`` + 1): every
clip frame goes through the generator, and every term but the temporal one averages over all of
them.

Adam (ESRGAN's betas 0.9, 0.99 by default) with a multi-step learning rate (a pure function of
the iteration, so a resumed run follows it exactly), optional gradient-norm clipping, bf16
autocast on CUDA. ``init_from`` starts from a weight file (e.g. the PSNR-oriented phase); with
``iterations: 0`` the phase just copies it into ``model.pt``.

Files written (atomically) into ``out_dir``::

    config.json   the resolved config of the latest start
    last.pt       generator, discriminator, optimizers, iteration, elapsed time, config: all a
                  resume needs (loads with ``torch.load(..., weights_only=True)``)
    model.pt      the final generator ``state_dict`` (written when ``iterations`` are done)
    log.csv       iteration, each loss term, total, (d_loss), lr, seconds; one row per logged
                  iteration, kept free of duplicates across resumes

Calling :func:`train_sr` again on the same ``out_dir`` resumes from ``last.pt`` (on the CPU the
result is bitwise the one of an uninterrupted run: batches are a function of (seed, iteration,
rank), see :mod:`arsr.train.patches`). A ``last.pt`` made for another model (``arch``,
``arch_kwargs``, ``scale``, the discriminator) stops with :class:`arsr.checkpoint.CheckpointError`
instead of resuming (the format of last.pt: :mod:`arsr.checkpoint`). Ctrl-C or SIGTERM lets the
iteration under way finish, writes its ``last.pt`` and raises :class:`arsr.interrupt.Interrupted`
(:mod:`arsr.interrupt`), so that a run stopped long before its next ``checkpoint_every`` resumes
where it stopped.

Command line (single process, or several GPUs with torchrun)::

    python -m arsr.train.sr_trainer --config phase.yaml --out data/models/esrgan/gan
    torchrun --nproc_per_node=4 -m arsr.train.sr_trainer --config phase.yaml --out DIR

Under torchrun (``WORLD_SIZE`` > 1) each process joins the process group (NCCL on CUDA, Gloo on
the CPU), wraps the networks in ``DistributedDataParallel``, draws its own batches (its rank is
part of the sampling seed) of ``data.batch_size / WORLD_SIZE`` samples, so the global batch stays
the configured one; rank 0 alone logs and writes files. BatchNorm statistics stay per process.
"""
from __future__ import annotations

import argparse
import contextlib
import csv
import io
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

import torch
import torch.nn as nn

from .. import losses
from ..archs import is_video_arch
from ..archs.arch_util import load_weights
from ..checkpoint import check_settings, load_checkpoint, save_checkpoint
from ..data.store import PreparedDataset
from ..interrupt import Interrupted, stop_requests, stopped_at
from ..io import atomic_path, write_json, write_text
from ..ops.layout import channels_last_convs
from ..paths import resolve
from ..workers import progress_bar
from . import distributed
# the config's keys, defaults and checks: arsr.train.config's, importable from here as before
from .config import (DEFAULTS, FEATURE_NETWORKS, GAN_TYPES, LOSS_TERMS, PIXEL_TYPES,  # noqa: F401
                     RANDOM_VGG, ConfigError, _terms, lr_at, model_signature, read_config_file,
                     resolve_config)
from .networks import (_build_discriminator, _build_feature_extractor, _freeze, _load_teacher,
                       _set_requires_grad, build_generator)
from .patches import PatchSampler

__all__ = ["DEFAULTS", "PIXEL_TYPES", "GAN_TYPES", "TrainResult", "resolve_config", "train_sr",
           "model_signature", "lr_at"]

# -------------------------------------------------------------------------------------------
# Files

def _save(obj: Any, path: Path) -> None:
    with atomic_path(path, suffix=".pt") as tmp:
        torch.save(obj, tmp)


def _cpu_state(module: nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().cpu().clone() for k, v in distributed.unwrap(module).state_dict().items()}


def _load_checkpoint(path: Path, cfg: Mapping) -> dict:
    """last.pt (arsr.checkpoint's format), refused when it was made for another model."""
    ckpt = load_checkpoint(path)
    check_settings(path, model_signature(ckpt["config"]), model_signature(cfg), "model settings")
    return ckpt


class _Log:
    """log.csv of one phase: rows past the checkpoint are dropped on resume, new columns added."""

    def __init__(self, path: Path, columns: list[str], resume_at: int):
        self.path = path
        self.columns = columns
        if path.is_file():
            with path.open(newline="") as f:
                reader = csv.DictReader(f)
                old_columns = list(reader.fieldnames or [])
                rows = [r for r in reader if r.get("iteration") and int(r["iteration"]) <= resume_at]
            self.columns = old_columns + [c for c in columns if c not in old_columns]
        else:
            rows = []
        buf = io.StringIO()
        writer = csv.DictWriter(buf, fieldnames=self.columns, restval="", lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
        write_text(path, buf.getvalue())

    def append(self, row: Mapping[str, Any]) -> None:
        with self.path.open("a", newline="") as f:
            csv.DictWriter(f, fieldnames=self.columns, restval="", lineterminator="\n").writerow(row)


@dataclass
class TrainResult:
    """What a call of :func:`train_sr` achieved."""

    out_dir: Path
    iteration: int                      # iterations done so far
    finished: bool                      # all ``iterations`` done and model.pt written
    model_path: Path | None             # out_dir/model.pt when finished
    resumed_from: int | None = None     # the checkpoint iteration this call started from
    losses: dict[str, float] = field(default_factory=dict)  # last logged terms (rank 0)


# -------------------------------------------------------------------------------------------
# Training

def train_sr(config: Mapping, out_dir: str | Path, *, feature_extractor: nn.Module | None = None,
             teachers: Mapping[str, nn.Module] | None = None,
             dataset: PreparedDataset | str | Path | None = None, progress: bool = True,
             device: str | torch.device | None = None, stop_after: int | None = None) -> TrainResult:
    """Train (or resume, or find finished) one phase into ``out_dir``.

    Args:
        config: a phase config (keys of :data:`DEFAULTS`).
        out_dir: folder of last.pt / model.pt / log.csv / config.json (relative paths resolve
            from the study root).
        feature_extractor: frozen module ``(b, 3, H, W) -> features`` for the feature loss;
            default built from ``config.feature`` (VGG19).
        teachers: ``{"spatial": TSN rgb, "temporal": TSN flow}`` for the task terms (frozen
            here); default loaded from ``config.task``'s folders. The flow bound of a temporal
            teacher passed in is its ``flow_bound`` attribute, else 20.
        dataset: the prepared store (or its folder); default ``config.data.root``.
        progress: tqdm bar on rank 0.
        device: default CUDA when available, else CPU.
        stop_after: stop cleanly after this iteration (checkpoint written, no model.pt), as a
            kill after a checkpoint would; the next call resumes.

    Returns:
        :class:`TrainResult`.
    """
    cfg = resolve_config(config)
    dist = distributed.setup(device)
    dev = dist.device
    out_dir = resolve(out_dir)
    last_path, model_path, log_path = out_dir / "last.pt", out_dir / "model.pt", out_dir / "log.csv"
    total = cfg["iterations"]
    end = total if stop_after is None else max(0, min(total, stop_after))

    ckpt = _load_checkpoint(last_path, cfg) if last_path.is_file() else None
    start = int(ckpt["iteration"]) if ckpt else 0
    if ckpt is not None and start >= total:
        if dist.is_main and not model_path.is_file():
            _save(ckpt["model"], model_path)
        distributed.barrier()
        return TrainResult(out_dir, start, True, model_path, resumed_from=start)

    torch.manual_seed(cfg["seed"])
    terms = _terms(cfg)
    gen = build_generator(cfg)
    disc = _build_discriminator(cfg) if terms["gan"] else None
    if ckpt is not None:
        gen.load_state_dict(ckpt["model"])
        if disc is not None:
            disc.load_state_dict(ckpt["disc"])
    elif cfg["init_from"] is not None:
        source = resolve(cfg["init_from"])
        if not source.is_file():
            raise FileNotFoundError(f"config: init_from = {cfg['init_from']!r}: {source} not found; "
                                    "train the previous phase first or fix the path")
        load_weights(gen, source)
    channels_last_convs(gen.to(dev))  # same values and keys; oneDNN convs without reordering
    if disc is not None:
        channels_last_convs(disc.to(dev))

    if dist.is_main:
        write_json(out_dir / "config.json", cfg)
    if start >= end:  # nothing to train in this call (e.g. iterations: 0, or stop_after <= start)
        return _finish(cfg, gen, disc, None, None, ckpt, start, start, 0.0, out_dir, dist, {})

    extractor = None
    if terms["feature"]:
        extractor = feature_extractor if feature_extractor is not None else _build_feature_extractor(cfg)
        extractor = _freeze(channels_last_convs(extractor.to(dev)))
    task = _task_teachers(cfg, teachers, dev)

    sampler = _make_sampler(cfg, dataset, gen, dist, task["clip"])
    opt_g, opt_d = _make_optimizers(cfg, gen, disc, ckpt)

    if dist.distributed:
        ids = [dev.index] if dev.type == "cuda" else None
        gen = nn.parallel.DistributedDataParallel(gen, device_ids=ids)
        if disc is not None:
            disc = nn.parallel.DistributedDataParallel(disc, device_ids=ids)

    use_amp = bool(cfg["amp"]) and dev.type == "cuda" and torch.cuda.is_bf16_supported()
    if dev.type == "cuda":
        torch.backends.cudnn.benchmark = True
    step = _Step(cfg, gen, disc, opt_g, opt_d, extractor, use_amp, task)

    log = None
    if dist.is_main:
        columns = ["iteration"] + [k for k in LOSS_TERMS if terms[k]] \
            + ["total"] + (["d_loss"] if disc is not None else []) + ["lr", "seconds"]
        log = _Log(log_path, columns, start)

    d = cfg["data"]
    iterations = range(start + 1, end + 1)
    if d["fixed_batch"]:
        fixed = sampler.batch(1)
        batches = ((it, fixed) for it in iterations)
    else:
        batches = sampler.iterate(iterations, prefetch=d["prefetch"], pin_memory=dev.type == "cuda")

    bar = None
    if progress and dist.is_main:
        from tqdm import tqdm  # the text bar: in a notebook the automatic choice wants ipywidgets (warns without)
        bar = progress_bar(tqdm, total=end, initial=start, desc=out_dir.name, unit="it", dynamic_ncols=True)

    elapsed0 = float(ckpt["elapsed_s"]) if ckpt else 0.0
    t0 = time.perf_counter()
    values: dict[str, float] = {}
    it = start
    # Ctrl-C / SIGTERM: the iteration under way finishes, its checkpoint is written, then Interrupted
    with stop_requests() as stop:
        try:
            for it, batch in batches:
                lr_g = _set_learning_rates(cfg, opt_g, opt_d, done=it - 1)
                batch = {k: v.to(dev, non_blocking=True) for k, v in batch.items()}
                terms_out = step(batch)
                elapsed = elapsed0 + time.perf_counter() - t0
                if dist.is_main and (it == 1 or it % cfg["log_every"] == 0 or it == total):
                    values = {k: float(v) for k, v in terms_out.items()}
                    log.append({"iteration": it, **{k: repr(v) for k, v in values.items()},
                                "lr": repr(lr_g), "seconds": f"{elapsed:.3f}"})
                    if bar is not None:
                        bar.set_postfix({k: f"{v:.4g}" for k, v in values.items()}, refresh=False)
                if it != end and (it % cfg["checkpoint_every"] == 0 or stop):
                    _checkpoint(cfg, gen, disc, opt_g, opt_d, it, elapsed, last_path, dist)
                    stop.stop_here(stopped_at(it, total, last_path))
                if bar is not None:
                    bar.update(1)
        finally:
            if bar is not None:
                bar.close()
            close = getattr(batches, "close", None)
            if close is not None:
                close()
        elapsed = elapsed0 + time.perf_counter() - t0
        result = _finish(cfg, gen, disc, opt_g, opt_d, ckpt, start, it, elapsed, out_dir, dist, values)
        stop.stop_here(stopped_at(it, total, model_path if result.finished else last_path))
    return result


def _task_teachers(cfg: Mapping, teachers: Mapping[str, nn.Module] | None, dev: torch.device) -> dict:
    """The frozen teachers of the task terms that are on, the temporal one's flow bound, and
    the clip length of a sample (``None``: single frames)."""
    terms, given = _terms(cfg), dict(teachers or {})
    out: dict[str, Any] = {}
    bad = sorted(set(given) - {"spatial", "temporal"})
    if bad:
        raise ValueError(f"train_sr: teachers has unknown key(s) {bad}; use 'spatial' and 'temporal'")
    for stream in ("spatial", "temporal"):
        if not terms[stream]:
            continue
        if stream in given:
            model, bound = given[stream], float(getattr(given[stream], "flow_bound", 20.0))
        else:
            model, info = _load_teacher(cfg, stream, dev)
            bound = float(info.get("flow_bound", 20.0))
        out[stream] = _freeze(model.to(dev))
        if stream == "temporal":
            out["flow_bound"] = bound
    clip = cfg["data"]["clip"] or None
    if "temporal" in out:
        need = int(getattr(out["temporal"], "new_length", 1)) + 1
        if clip is not None and clip != need:
            raise ConfigError(f"config: data.clip = {clip} but the temporal teacher stacks {need - 1} "
                              f"flow fields (clips of {need} frames); set data.clip to 0 or {need}")
        clip = need
    out["clip"] = clip
    return out


def _make_sampler(cfg: Mapping, dataset, gen: nn.Module, dist: distributed.DistInfo,
                  clip: int | None = None) -> PatchSampler:
    """The patch sampler of a config for this rank (its share of the global batch)."""
    if dataset is None or isinstance(dataset, (str, Path)):
        dataset = PreparedDataset(dataset if dataset is not None else cfg["data"]["root"])
    d = cfg["data"]
    if d["batch_size"] % dist.world_size:
        raise ConfigError(f"config: data.batch_size = {d['batch_size']} is not divisible by the "
                          f"{dist.world_size} torchrun processes")
    return PatchSampler(
        dataset, splits=d["splits"], hr_patch=d["hr_patch"], scale=cfg["scale"],
        batch_size=d["batch_size"] // dist.world_size,
        num_frames=int(getattr(gen, "num_frames", 1)) if is_video_arch(cfg["arch"]) else 1,
        gap=cfg["warp"]["gap"] if _terms(cfg)["warp"] else None, clip=clip, augment=d["augment"],
        motion_top_k=d["motion_top_k"], motion_candidates=d["motion_candidates"],
        seed=cfg["seed"], rank=dist.rank)


def _make_optimizers(cfg: Mapping, gen: nn.Module, disc: nn.Module | None, ckpt: dict | None):
    """Adam for G (and D), restored from the checkpoint when there is one."""
    opt_g = torch.optim.Adam(gen.parameters(), lr=cfg["optimizer"]["lr"],
                             betas=tuple(cfg["optimizer"]["betas"]),
                             weight_decay=cfg["optimizer"]["weight_decay"])
    opt_d = None
    if disc is not None:
        opt_d = torch.optim.Adam(disc.parameters(), lr=cfg["gan"]["d_lr"],
                                 betas=tuple(cfg["gan"]["d_betas"]))
    if ckpt is not None and ckpt.get("opt_g") is not None:  # None: saved before any update
        opt_g.load_state_dict(ckpt["opt_g"])
        if opt_d is not None and ckpt.get("opt_d") is not None:
            opt_d.load_state_dict(ckpt["opt_d"])
    return opt_g, opt_d


def _set_learning_rates(cfg: Mapping, opt_g, opt_d, done: int) -> float:
    """Set the multi-step learning rates for the iteration after ``done``; return G's."""
    sched = cfg["scheduler"]
    lr_g = lr_at(cfg["optimizer"]["lr"], sched["milestones"], sched["gamma"], done)
    for group in opt_g.param_groups:
        group["lr"] = lr_g
    if opt_d is not None:
        lr_d = lr_at(cfg["gan"]["d_lr"], sched["milestones"], sched["gamma"], done)
        for group in opt_d.param_groups:
            group["lr"] = lr_d
    return lr_g


def _checkpoint(cfg, gen, disc, opt_g, opt_d, iteration, elapsed, path, dist) -> None:
    if not dist.is_main:
        return
    save_checkpoint(path, {
        "iteration": iteration,
        "elapsed_s": float(elapsed),
        "config": cfg,
        "model": _cpu_state(gen),
        "disc": _cpu_state(disc) if disc is not None else None,
        "opt_g": opt_g.state_dict() if opt_g is not None else None,
        "opt_d": opt_d.state_dict() if opt_d is not None else None,
        "schedule": {"milestones": cfg["scheduler"]["milestones"], "gamma": cfg["scheduler"]["gamma"],
                     "lr": cfg["optimizer"]["lr"], "d_lr": cfg["gan"]["d_lr"]},
        "world_size": dist.world_size,
    })


def _finish(cfg, gen, disc, opt_g, opt_d, ckpt, start, reached, elapsed, out_dir, dist,
            values) -> TrainResult:
    """Write last.pt (and model.pt when all iterations are done) on rank 0; wait for all."""
    total = cfg["iterations"]
    last_path, model_path = out_dir / "last.pt", out_dir / "model.pt"
    if opt_g is not None or ckpt is None:  # else nothing was trained: keep the checkpoint
        _checkpoint(cfg, gen, disc, opt_g, opt_d, reached, elapsed, last_path, dist)
    finished = reached >= total
    if finished and dist.is_main:
        _save(_cpu_state(gen), model_path)
    distributed.barrier()
    return TrainResult(out_dir, reached, finished, model_path if finished else None,
                       resumed_from=start if ckpt is not None else None, losses=values)


class _Step:
    """One generator update (and one discriminator update when a GAN term is on)."""

    def __init__(self, cfg, gen, disc, opt_g, opt_d, extractor, use_amp, task=None):
        self.cfg, self.gen, self.disc = cfg, gen, disc
        self.opt_g, self.opt_d, self.extractor = opt_g, opt_d, extractor
        self.task = task or {}
        self.terms = _terms(cfg)
        self.autocast = (lambda: torch.autocast("cuda", dtype=torch.bfloat16)) if use_amp \
            else contextlib.nullcontext
        pix = cfg["pixel"]
        if pix["type"] == "wmse":
            self.pixel = lambda sr, b: losses.wmse(sr, b["hr"], b["flow"], pix["normalize"], pix["floor"])
        elif pix["type"] == "huber":
            self.pixel = lambda sr, b: losses.huber(sr, b["hr"], pix["delta"])
        elif pix["type"] == "charbonnier":
            self.pixel = lambda sr, b: losses.charbonnier(sr, b["hr"], pix["eps"])
        elif pix["type"] != "none":
            fn = losses.PIXEL_LOSSES[pix["type"]]
            self.pixel = lambda sr, b: fn(sr, b["hr"])

    def _clip(self, module: nn.Module) -> None:
        if self.cfg["grad_clip"] is not None:
            torch.nn.utils.clip_grad_norm_(module.parameters(), self.cfg["grad_clip"])

    def __call__(self, batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """batch: ``lr (b, c, h, w)`` or ``(b, t, c, h, w)``, ``hr (b, c, H, W)``, ``flow
        (b, 2, H, W)`` (and ``lr_next``, ``hr_next``, ``flow_pair`` for the warp loss;
        ``lr_clip (b, k, [t,] c, h, w)``, ``hr_clip (b, k, c, H, W)`` for clips), on the device.
        Returns the detached weighted terms, ``total`` and ``d_loss`` (0-dim tensors)."""
        cfg, terms = self.cfg, self.terms
        clip_shape = None
        if "lr_clip" in batch:  # every clip frame is a training frame; hr = their HR frames
            clip_shape = batch["hr_clip"].shape
            batch = {"lr": batch["lr_clip"].flatten(0, 1), "hr": batch["hr_clip"].flatten(0, 1)}
        out: dict[str, torch.Tensor] = {}
        self.gen.train()
        plain_disc = distributed.unwrap(self.disc) if self.disc is not None else None
        if plain_disc is not None:
            # G step reads D through the plain module with frozen weights: no D gradients and
            # no DDP reduction for D outside its own step
            _set_requires_grad(plain_disc, False)
            self.disc.train()
        with self.autocast():
            if terms["warp"]:
                # one forward for both frames (one DDP pass; BN sees both)
                both = self.gen(torch.cat((batch["lr"], batch["lr_next"]), dim=0))
                sr, sr_next = both.float().chunk(2, dim=0)
            else:
                sr = self.gen(batch["lr"]).float()
        # pixel and warp terms in float32: bf16 would round warp sampling positions to ~1 px
        if terms["pixel"]:
            out["pixel"] = cfg["pixel"]["weight"] * self.pixel(sr, batch)
        if terms["colour"]:
            out["colour"] = cfg["colour"]["weight"] * losses.colour_loss(sr, batch["hr"])
        # task terms in float32 too: TV-L1's bicubic sampling positions, small KL values
        task = cfg["task"]
        if terms["spatial"]:
            out["spatial"] = task["spatial_weight"] * losses.spatial_task_loss(
                self.task["spatial"], sr, batch["hr"], task["temperature"], task["feature_weight"])
        if terms["temporal"]:
            out["temporal"] = task["temporal_weight"] * losses.temporal_task_loss(
                self.task["temporal"], sr.reshape(clip_shape), batch["hr"].reshape(clip_shape),
                self.task["flow_bound"], task["temperature"], task["feature_weight"], task["flow"])
        if terms["warp"]:
            w = cfg["warp"]
            out["warp"] = w["weight"] * losses.warp_loss(
                sr, sr_next, batch["hr"], batch["hr_next"], batch["flow_pair"], w["alpha"],
                w["beta"], w["gamma"], w["norm"], w["delta"])
        with self.autocast():
            if terms["feature"]:
                out["feature"] = cfg["feature"]["weight"] * losses.feature_loss(
                    sr, batch["hr"], self.extractor)
            if terms["gan"]:
                fake_pred = plain_disc(sr)
                if cfg["gan"]["type"] == "ragan":
                    with torch.no_grad():
                        real_pred = plain_disc(batch["hr"])
                    adv = losses.ragan_g_loss(real_pred.float(), fake_pred.float())
                else:
                    adv = losses.gan_loss(fake_pred.float(), True)
                out["gan"] = cfg["gan"]["weight"] * adv
        total = torch.stack([t.float() for t in out.values()]).sum()
        self.opt_g.zero_grad(set_to_none=True)
        total.backward()
        self._clip(self.gen)
        self.opt_g.step()
        out = {k: v.detach() for k, v in out.items()}
        out["total"] = total.detach()

        if self.disc is not None:
            _set_requires_grad(plain_disc, True)
            fake = sr.detach()
            with self.autocast():
                real_pred = self.disc(batch["hr"]).float()
                fake_pred = self.disc(fake).float()
                if cfg["gan"]["type"] == "ragan":
                    d_loss = losses.ragan_d_loss(real_pred, fake_pred)
                else:
                    d_loss = losses.gan_loss(real_pred, True) + losses.gan_loss(fake_pred, False)
            self.opt_d.zero_grad(set_to_none=True)
            d_loss.float().backward()
            self._clip(self.disc)
            self.opt_d.step()
            out["d_loss"] = d_loss.detach()
        return out


# -------------------------------------------------------------------------------------------
# Command line

def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m arsr.train.sr_trainer",
        description="Train one SR phase (resumes from OUT/last.pt). Several GPUs: "
                    "torchrun --nproc_per_node=N -m arsr.train.sr_trainer --config ... --out ...")
    parser.add_argument("--config", required=True, help="phase config, YAML or JSON")
    parser.add_argument("--out", required=True, help="output folder")
    parser.add_argument("--data", default=None, help="prepared data folder (default: config data.root)")
    parser.add_argument("--stop-after", type=int, default=None, help="stop after this iteration")
    parser.add_argument("--no-progress", action="store_true")
    args = parser.parse_args(argv)
    try:
        result = train_sr(read_config_file(args.config), args.out, dataset=args.data,
                          progress=not args.no_progress, stop_after=args.stop_after)
    except Interrupted as stopped:
        print(f"{stopped}; run the same command again to resume", file=sys.stderr)
        return stopped.exit_code
    finally:
        distributed.cleanup()
    if distributed.is_main_process():
        if result.finished:
            print(f"done: {result.model_path}")
        else:
            print(f"stopped at iteration {result.iteration}; run again to resume")
    return 0


if __name__ == "__main__":
    sys.exit(main())
