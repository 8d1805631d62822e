"""The recognizers' training settings: :class:`TrainConfig` (a ``params.yaml``-style mapping, its
defaults and checks) and the TSN crop geometry it defaults to. No torch: ``arsr.study.schema`` checks the
``recognition`` group with it; :mod:`arsr.recognition.train` runs it (and re-exports it)."""
from __future__ import annotations

import copy
import json
from dataclasses import asdict, dataclass, field, fields
from typing import Any, Mapping

from ..params import ParamError, check_keys

__all__ = ["TrainConfig", "SCHEDULE_DEFAULTS", "MULTISCALE_SCALES", "STREAMS", "RECOGNIZER_TYPES", "default_scale_size"]

MULTISCALE_SCALES = (1.0, 0.875, 0.75, 0.66)  # TSN's GroupMultiScaleCrop scales


def default_scale_size(input_size: int) -> int:
    """TSN's 256 : 224 ratio of the rescaled short side to the crop side, for any ``input_size``."""
    return int(round(input_size * 256 / 224))


#: The recognizers the study trains and scores with (TrainConfig ``model.type``, ``evaluate.recognizers``).
RECOGNIZER_TYPES = ("tsn", "st_resnet")
#: What a two-stream recognizer scores: each stream alone and their fusion (tables, caches, report).
STREAMS = ("spatial", "temporal", "fusion")

# Optimiser defaults: TSN's Caffe solvers (lr, clip) and tsn-pytorch's epochs/steps.
SCHEDULE_DEFAULTS = {
    "rgb": {"lr": 0.001, "epochs": 80, "lr_steps": (30, 60), "clip_grad": 40.0},
    "flow": {"lr": 0.005, "epochs": 340, "lr_steps": (190, 300), "clip_grad": 20.0},
    "st_resnet": {"lr": 0.001, "epochs": 80, "lr_steps": (30, 60), "clip_grad": 40.0},
}


@dataclass
class TrainConfig:
    """Everything a training run depends on (``params.yaml``-style mapping via ``from_dict``).

    model: ``build_recognizer`` keywords: ``type`` ("tsn" | "st_resnet") and the constructor's
        (TSN: modality, backbone, width, dropout, partial_bn, pretrained, ...; ST-ResNet: depth,
        width, flow_channels, ..., and ``pretrained``, a torchvision ImageNet file for both
        streams). ``num_classes`` is taken from the dataset.
    epochs, lr, lr_steps (epochs), clip_grad (max gradient norm; 0 = off): None = the defaults
        of ``SCHEDULE_DEFAULTS`` for the stream. lr_gamma, momentum, weight_decay: SGD.
    batch_size: videos per iteration over all ranks. num_segments: None = 3 (TSN), 5 (ST-ResNet).
    input_size: crop side fed to the network; scale_size: the short side the frames are
        (virtually) rescaled to before cropping, None = input_size·256/224. scales, max_distort:
        TSN's multi-scale crop. flip: random horizontal flips. flow_bound: quantisation bound.
    st_loss_weights: ST-ResNet loss weights (appearance, motion, fused).
    split: the store's split to train on. workers: loading processes, as everywhere
        (:mod:`arsr.workers`: 1 = batches made in the training process, 0 = one per core).
        seed: model init, sampling and augmentation. log_every: iterations per log row.
        checkpoint_every: iterations between ``last.pt`` saves (0 = at each epoch's end).
        val_every: every this many epochs (and at the end), the loss and top-1 of the held-out
        ``val_split`` (0 = never): the same fixed snippets each time (no flips, one scale, the
        augmentation draw of epoch 0), in eval mode, logged as ``val_loss``/``val_accuracy`` in
        ``log.csv``; it changes no weight. A store without that split logs none.
        amp: autocast (bfloat16, or float16 with loss scaling) when training on CUDA.
    """

    model: dict = field(default_factory=lambda: {"type": "tsn", "modality": "rgb", "backbone": "bninception"})
    split: str = "train"
    epochs: int | None = None
    batch_size: int = 256
    lr: float | None = None
    lr_steps: tuple[int, ...] | None = None
    lr_gamma: float = 0.1
    momentum: float = 0.9
    weight_decay: float = 5e-4
    clip_grad: float | None = None
    num_segments: int | None = None
    input_size: int = 224
    scale_size: int | None = None
    scales: tuple[float, ...] = MULTISCALE_SCALES
    max_distort: int = 1
    flip: bool = True
    flow_bound: float = 20.0
    st_loss_weights: tuple[float, float, float] = (1.0, 1.0, 0.0)
    workers: int = 4
    seed: int = 0
    log_every: int = 20
    checkpoint_every: int = 0
    val_every: int = 0
    val_split: str = "val"
    amp: bool = True

    @classmethod
    def from_dict(cls, values: Mapping[str, Any] | "TrainConfig" | None, key: str = "recognition") -> "TrainConfig":
        """Build from a mapping; keys not given keep their defaults, an unknown key is an error
        naming ``<key>.<name>``."""
        if isinstance(values, TrainConfig):
            return copy.deepcopy(values)
        values = dict(values or {})
        check_keys(values, sorted(f.name for f in fields(cls)), "TrainConfig", prefix=key)
        cfg = cls(**values)
        for name in ("lr_steps", "scales", "st_loss_weights"):
            if getattr(cfg, name) is not None:
                setattr(cfg, name, tuple(getattr(cfg, name)))
        cfg.model = {"type": "tsn", **dict(cfg.model)}  # a model mapping without `type` is a TSN stream
        cfg._check(key)
        return cfg

    def _check(self, key: str) -> None:
        kind = self.model.get("type")
        if kind not in RECOGNIZER_TYPES:
            raise ParamError(f"{key}.model.type = {kind!r}: use 'tsn' or 'st_resnet'")
        if kind == "tsn" and self.model.get("modality", "rgb") not in ("rgb", "flow"):
            raise ParamError(f"{key}.model.modality = {self.model.get('modality')!r}: use 'rgb' or 'flow'")
        for name in ("batch_size", "input_size", "log_every"):
            if not isinstance(getattr(self, name), int) or getattr(self, name) < 1:
                raise ParamError(f"{key}.{name} = {getattr(self, name)!r}: a positive integer")
        if not isinstance(self.val_every, int) or self.val_every < 0:
            raise ParamError(f"{key}.val_every = {self.val_every!r}: epochs between validations, 0 = none")
        if self.epochs is not None and self.epochs < 1:
            raise ParamError(f"{key}.epochs = {self.epochs}: at least 1 (or null for the default)")
        if self.num_segments is not None and self.num_segments < 1:
            raise ParamError(f"{key}.num_segments = {self.num_segments}: at least 1")
        if self.scale_size is not None and self.scale_size < self.input_size:
            raise ParamError(f"{key}.scale_size = {self.scale_size} is below input_size = "
                             f"{self.input_size}: crops would not fit; use null for the TSN ratio")

    @property
    def kind(self) -> str:
        return self.model["type"]

    @property
    def stream(self) -> str:
        """"rgb", "flow" (TSN streams) or "st_resnet": selects the schedule defaults."""
        return self.model.get("modality", "rgb") if self.kind == "tsn" else "st_resnet"

    def resolved(self) -> "TrainConfig":
        """A copy with every None default filled in for this stream."""
        cfg = copy.deepcopy(self)
        defaults = SCHEDULE_DEFAULTS[cfg.stream]
        for name in ("lr", "epochs", "lr_steps", "clip_grad"):
            if getattr(cfg, name) is None:
                setattr(cfg, name, defaults[name])
        cfg.lr_steps = tuple(cfg.lr_steps)
        if cfg.num_segments is None:
            cfg.num_segments = 3 if cfg.kind == "tsn" else 5
        if cfg.scale_size is None:
            cfg.scale_size = default_scale_size(cfg.input_size)
        return cfg

    def to_dict(self) -> dict:
        d = asdict(self)
        return json.loads(json.dumps(d))  # tuples -> lists: comparable with a reloaded checkpoint
