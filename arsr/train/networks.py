"""The networks of an SR training phase (:mod:`arsr.train.sr_trainer`): the generator (built from
a resolved config, or loaded trained), the GAN discriminator, the frozen feature network and the
frozen recogniser streams that rdsr's task terms distil from."""
from __future__ import annotations

from pathlib import Path
from typing import Mapping

import torch
import torch.nn as nn

from ..archs import build_arch
from ..archs.arch_util import load_weights
from ..archs.discriminator_arch import VGGStyleDiscriminator
from ..paths import resolve
from .config import RANDOM_VGG, ConfigError, resolve_config

__all__ = ["build_generator", "load_generator"]


def build_generator(cfg: Mapping) -> nn.Module:
    """The generator of a resolved config (random initialisation)."""
    kwargs = dict(cfg["arch_kwargs"])
    kwargs["scale"] = cfg["scale"]
    return build_arch(cfg["arch"], **kwargs)


def load_generator(model_path: str | Path, config: Mapping,
                   device: str | torch.device = "cpu") -> nn.Module:
    """A trained generator: built from ``config`` (a phase config or ``config.json``), weights
    from ``model_path`` (strict), in eval mode on ``device``."""
    cfg = resolve_config(config)
    model = build_generator(cfg)
    load_weights(model, model_path)
    return model.to(device).eval()


def _build_discriminator(cfg: Mapping) -> nn.Module:
    try:
        return VGGStyleDiscriminator(num_in_ch=3, input_size=cfg["data"]["hr_patch"], **cfg["gan"]["disc"])
    except TypeError as err:
        raise ConfigError(f"config: gan.disc: {err}") from None


def _build_feature_extractor(cfg: Mapping) -> nn.Module:
    feat = cfg["feature"]
    if feat["vgg_weights"] is None:
        raise ConfigError(
            f"config: feature.weight = {feat['weight']} needs a feature network: set "
            "feature.vgg_weights to torchvision's vgg19-dcbb9e9d.pth (see "
            "arsr.archs.vgg_arch.VGG19_URL), or pass feature_extractor= to train_sr "
            "(e.g. the spatial-stream recogniser)")
    from ..archs.vgg_arch import VGGFeatureExtractor
    weights = None if feat["vgg_weights"] == RANDOM_VGG else resolve(feat["vgg_weights"])
    return VGGFeatureExtractor(layer=feat["layer"], weights_path=weights,
                               before_relu=feat["before_relu"])


def _freeze(module: nn.Module) -> nn.Module:
    # eval() first: TSN.train(False) re-enables its first BatchNorm's parameters (partial BN)
    module.eval()
    for p in module.parameters():
        p.requires_grad_(False)
    return module


def _load_teacher(cfg: Mapping, stream: str, device: torch.device) -> tuple[nn.Module, dict]:
    """The TSN stream of ``task.<stream>_teacher`` and its recognizer.json."""
    from ..recognition.inference import load_recognizer
    key = f"{stream}_teacher"
    path = cfg["task"][key]
    modality = "rgb" if stream == "spatial" else "flow"
    if path is None:
        raise ConfigError(f"config: task.{stream}_weight = {cfg['task'][stream + '_weight']} needs "
                          f"task.{key}: the folder of a trained TSN {modality} stream (recognizer.json "
                          "+ model.pt), trained with another seed than the recogniser that scores the "
                          "methods; or pass teachers= to train_sr")
    rec = load_recognizer(path, device)
    if rec.kind != "tsn" or getattr(rec.model, "modality", None) != modality:
        raise ConfigError(f"config: task.{key} = {path!r} holds a {rec.kind} "
                          f"{getattr(rec.model, 'modality', '')} model, not a TSN {modality} stream")
    return rec.model, rec.info


def _set_requires_grad(module: nn.Module, flag: bool) -> None:
    for p in module.parameters():
        p.requires_grad_(flag)
