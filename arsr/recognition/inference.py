"""Trained action recognisers at test time. ``load_recognizer`` rebuilds a recogniser from the
folder its training wrote (``recognizer.json`` + ``model.pt``) and ``normalize_inputs`` turns
uint8 snippets into its input; ``load_recognizers`` wraps the trained TSN streams and ST-ResNet
in ``TwoStreamTSN`` and ``STResNetRecognizer``, which say which frames and flow fields a video's
snippets need (``SnippetPlan``) and score those snippets under TSN's test protocol (snippets
spread uniformly, centre or ten crops, class scores averaged), for ``arsr.evaluate`` to run over
every SR method. Training (``arsr.recognition.train``) imports from here, never the reverse.
"""
from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from typing import Any, Mapping, Sequence

import numpy as np
import torch
from torch import nn

from ..ops.layout import channels_last_convs
from ..ops.modules import default_device, module_fingerprint
from ..params_file import ParamError
from ..paths import resolve
from ..train import distributed
from .config import STREAMS
from .models import build_recognizer
from .sampling import (crop_resize, default_scale_size, flip_horizontal, inference_crops, needed_frames,
                       num_positions, snippet_fields, snippet_frames, stack_flow, uniform_offsets)
from .st_resnet import STResNet
from .tsn import TSN, fuse_scores, normalize

__all__ = ["STREAMS", "TrainedRecognizer", "build_model", "load_recognizer", "normalize_inputs",
           "SnippetPlan", "TwoStreamTSN", "STResNetRecognizer", "load_recognizers"]



# ---------------------------------------------------------------------------------------------
# Loading a trained recogniser


@dataclass
class TrainedRecognizer:
    """A trained model in eval mode and the settings it was trained with (``recognizer.json``)."""

    model: nn.Module
    info: dict

    @property
    def kind(self) -> str:
        return self.info["model"]["type"]


def build_model(model_cfg: Mapping[str, Any], num_classes: int, num_segments: int,
                load_pretrained: bool = True) -> nn.Module:
    """The recogniser ``model_cfg`` describes (the config's ``model`` group) for ``num_classes``
    classes and, for TSN, ``num_segments`` segments; ``load_pretrained=False`` skips the ImageNet
    weights (they are about to be overwritten by trained ones)."""
    cfg = dict(model_cfg)
    if cfg.get("num_classes", num_classes) != num_classes:
        raise ParamError(f"model.num_classes = {cfg['num_classes']} but the dataset has {num_classes} "
                         "classes: remove model.num_classes (it is taken from the dataset)")
    cfg["num_classes"] = num_classes
    pretrained = cfg.pop("pretrained", None) if cfg["type"] == "st_resnet" else None
    if cfg["type"] == "tsn":
        cfg["num_segments"] = num_segments
        if not load_pretrained:
            cfg["pretrained"] = None
    model = build_recognizer(cfg)
    if pretrained is not None and load_pretrained:
        model.load_imagenet(pretrained, params_key="recognition.model.pretrained")
    return model


def load_recognizer(path: str | os.PathLike, device: str | torch.device | None = None) -> TrainedRecognizer:
    """Rebuild a trained recogniser from its ``out_dir`` (``recognizer.json`` + ``model.pt``), on
    ``device`` (CUDA if available), in eval mode."""
    folder = resolve(path)
    info_path, weights = folder / "recognizer.json", folder / "model.pt"
    for p in (info_path, weights):
        if not p.is_file():
            raise FileNotFoundError(f"{p} not found: train the recogniser first "
                                    f"(arsr.recognition.train.train_recognizer or its CLI) into {folder}")
    info = json.loads(info_path.read_text())
    model = build_model(info["model"], info["model"]["num_classes"], info.get("num_segments", 3),
                        load_pretrained=False)
    state = torch.load(weights, map_location="cpu", weights_only=True)
    try:
        model.load_state_dict(state)
    except RuntimeError as err:
        raise ValueError(f"{weights} does not fit the model described in {info_path}: {err}") from None
    dev = torch.device(device) if device is not None else \
        torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return TrainedRecognizer(model.to(dev).eval(), info)


def normalize_inputs(model: nn.Module, rgb: torch.Tensor | None = None,
                     flow: torch.Tensor | None = None) -> tuple[torch.Tensor | None, torch.Tensor | None]:
    """uint8 network input ``(b, S, C, h, w)`` -> normalised float, as ``arsr.recognition.normalize``
    for the model's backbone (ST-ResNet: ResNet statistics for both streams); a DDP-wrapped model
    (training) is unwrapped first."""
    model = distributed.unwrap(model)
    backbone = model.backbone if isinstance(model, TSN) else "resnet"
    out = []
    for x, modality in ((rgb, "rgb"), (flow, "flow")):
        out.append(None if x is None else normalize(x.float().div_(255.0), modality, backbone))
    return out[0], out[1]


# ---------------------------------------------------------------------------------------------
# Recognisers at test time


@dataclass(frozen=True)
class SnippetPlan:
    """What a recogniser reads from one video: RGB snippet frames ``(n, L_rgb)`` and flow snippet
    fields ``(n, L_flow)`` (field i = frames i -> i+1); either may be None."""

    rgb: np.ndarray | None
    flow: np.ndarray | None

    def frames(self) -> np.ndarray:
        """Every frame the plan needs (sorted, unique)."""
        return needed_frames(self.rgb, self.flow)


def _images_to_input(images: np.ndarray, device: torch.device) -> torch.Tensor:
    """``(N, S, S, C)`` uint8 -> ``(N, 1, C, S, S)`` uint8 on ``device`` (one segment each)."""
    return torch.from_numpy(np.ascontiguousarray(images)).to(device).permute(0, 3, 1, 2).unsqueeze(1)


def _crop_all(snippets: np.ndarray, modality: str, input_size: int, scale_size: int, crops: str) -> np.ndarray:
    """``(n, H, W, C)`` snippets -> ``(n_crops, n, S, S, C)`` test crops (flipped ones mirrored)."""
    h, w = snippets.shape[1:3]
    out = []
    for box, flip in inference_crops(h, w, input_size, scale_size, crops):
        c = crop_resize(snippets, box, input_size)
        out.append(flip_horizontal(c, modality) if flip else c)
    return np.stack(out)


def _weights_fingerprint(*models: torch.nn.Module, **extra) -> str:
    return hashlib.sha256("|".join(module_fingerprint(m) for m in models).encode()
                          + repr(sorted(extra.items())).encode()).hexdigest()[:16]


class TwoStreamTSN:
    """TSN's two streams at test time (either may be None; fusion needs both).

    rgb, flow: trained ``TSN`` models (moved to ``device``, eval mode). input_size/scale_size:
    per stream as trained (``{"rgb": 224, "flow": 224}`` or one int for both). Each snippet is
    scored alone and the scores averaged over snippets and crops (TSN's test protocol, whatever
    the training consensus). ``batch_size`` snippet crops per forward pass.
    """

    kind = "tsn"

    def __init__(self, rgb: TSN | None, flow: TSN | None, *, input_size: int | Mapping[str, int] = 224,
                 scale_size: int | Mapping[str, int] | None = None, flow_bound: float = 20.0,
                 fusion_weights: Sequence[float] = (1.0, 1.5), batch_size: int = 64,
                 device: str | torch.device | None = None):
        if rgb is None and flow is None:
            raise ValueError("TwoStreamTSN needs at least one of the rgb and flow models")
        for m, name in ((rgb, "rgb"), (flow, "flow")):
            if m is not None and m.modality != name:
                raise ValueError(f"TwoStreamTSN: the {name} model is a {m.modality} TSN")
        self.device = default_device(device)
        self.models = {k: channels_last_convs(m.to(self.device)).eval()
                       for k, m in (("rgb", rgb), ("flow", flow)) if m is not None}
        sizes = input_size if isinstance(input_size, Mapping) else {"rgb": input_size, "flow": input_size}
        scales = scale_size if isinstance(scale_size, Mapping) else {"rgb": scale_size, "flow": scale_size}
        self.input_size = {k: int(sizes[k]) for k in self.models}
        self.scale_size = {k: int(scales.get(k) or default_scale_size(self.input_size[k])) for k in self.models}
        self.flow_bound = flow_bound
        self.fusion_weights = tuple(fusion_weights)
        self.batch_size = batch_size
        first = next(iter(self.models.values()))
        self.num_classes = first.new_fc.out_features
        if len({m.new_fc.out_features for m in self.models.values()}) != 1:
            raise ValueError("TwoStreamTSN: the rgb and flow models have different numbers of classes")
        self._fingerprint: str | None = None

    @property
    def streams(self) -> tuple[str, ...]:
        names = [s for s, m in (("spatial", "rgb"), ("temporal", "flow")) if m in self.models]
        return tuple(names + (["fusion"] if len(names) == 2 else []))

    @property
    def coupled(self) -> bool:
        """False: the streams are independent, so streams of different methods may be fused."""
        return False

    def plan(self, n_frames: int, num_frames: int) -> SnippetPlan:
        rgb = flow = None
        if "rgb" in self.models:
            n = self.models["rgb"].new_length
            rgb = snippet_frames(uniform_offsets(num_positions(n_frames, "rgb", n), num_frames), n, n_frames)
        if "flow" in self.models:
            n = self.models["flow"].new_length
            flow = snippet_fields(uniform_offsets(num_positions(n_frames, "flow", n), num_frames), n, n_frames)
        return SnippetPlan(rgb, flow)

    def _stream_scores(self, modality: str, snippets: np.ndarray, crops: str) -> np.ndarray:
        model = self.models[modality]
        images = _crop_all(snippets, modality, self.input_size[modality], self.scale_size[modality], crops)
        images = images.reshape(-1, *images.shape[2:])
        total = torch.zeros(self.num_classes, dtype=torch.float64)
        with torch.inference_mode():
            for start in range(0, images.shape[0], self.batch_size):
                x = _images_to_input(images[start:start + self.batch_size], self.device)
                x = model.normalize(x.float().div_(255.0))
                total += model(x).double().sum(0).cpu()
        return (total / images.shape[0]).numpy().astype(np.float32)

    def score(self, frames: Mapping[int, np.ndarray], fields: Mapping[int, np.ndarray], plan: SnippetPlan,
              crops: str = "center") -> dict[str, np.ndarray]:
        """frames: frame number -> ``(H, W, 3)`` uint8 (the spatial method's); fields: field
        number -> ``(H, W, 2)`` uint8 quantised flow. Returns stream -> ``(num_classes,)`` float32."""
        out = {}
        if plan.rgb is not None:
            snippets = np.stack([np.concatenate([frames[int(i)] for i in row], axis=-1) for row in plan.rgb])
            out["spatial"] = self._stream_scores("rgb", snippets, crops)
        if plan.flow is not None:
            out["temporal"] = self._stream_scores("flow", stack_flow(fields, plan.flow), crops)
        if "spatial" in out and "temporal" in out:
            out["fusion"] = fuse_scores(torch.from_numpy(out["spatial"]), torch.from_numpy(out["temporal"]),
                                        self.fusion_weights).numpy()
        return out

    def fingerprint(self) -> str:
        if self._fingerprint is None:
            self._fingerprint = _weights_fingerprint(
                *self.models.values(), kind=self.kind, streams=tuple(self.models),
                input_size=tuple(self.input_size.items()), scale_size=tuple(self.scale_size.items()),
                bound=self.flow_bound, fusion=self.fusion_weights)
        return self._fingerprint


class STResNetRecognizer:
    """ST-ResNet at test time: the ``num_frames`` aligned snippets (RGB frame t, flow fields
    t..t+L-1) of a video form one clip ``(1, num_frames, C, S, S)`` per crop (inferred: the
    paper's test feeds the sampled frames through the temporal convolutions together). Streams:
    appearance -> "spatial", motion -> "temporal", the model's fused score -> "fusion"; each
    averaged over crops. ``batch_size`` crops (clips) per forward pass."""

    kind = "st_resnet"

    def __init__(self, model: STResNet, *, input_size: int = 224, scale_size: int | None = None,
                 flow_bound: float = 20.0, batch_size: int = 2, device: str | torch.device | None = None):
        self.device = default_device(device)
        self.model = channels_last_convs(model.to(self.device)).eval()
        self.new_length = model.flow_channels // 2
        self.input_size = int(input_size)
        self.scale_size = int(scale_size or default_scale_size(input_size))
        self.flow_bound = flow_bound
        self.batch_size = batch_size
        self.num_classes = model.appearance.fc.out_features
        self._fingerprint: str | None = None

    streams = STREAMS

    @property
    def coupled(self) -> bool:
        """True: the motion stream feeds the appearance stream, so the streams of two methods
        cannot be fused from caches (evaluate with ``temporal_method`` instead)."""
        return True

    def plan(self, n_frames: int, num_frames: int) -> SnippetPlan:
        starts = uniform_offsets(num_positions(n_frames, "flow", self.new_length), num_frames)
        return SnippetPlan(snippet_frames(starts, 1, n_frames), snippet_fields(starts, self.new_length, n_frames))

    def score(self, frames: Mapping[int, np.ndarray], fields: Mapping[int, np.ndarray], plan: SnippetPlan,
              crops: str = "center") -> dict[str, np.ndarray]:
        rgb = np.stack([frames[int(i)] for i in plan.rgb[:, 0]])
        rgb = _crop_all(rgb, "rgb", self.input_size, self.scale_size, crops)  # (k, n, S, S, 3)
        flow = _crop_all(stack_flow(fields, plan.flow), "flow", self.input_size, self.scale_size, crops)
        sums = {s: torch.zeros(self.num_classes, dtype=torch.float64) for s in STREAMS}
        with torch.inference_mode():
            for start in range(0, rgb.shape[0], self.batch_size):
                r = torch.from_numpy(rgb[start:start + self.batch_size]).to(self.device).permute(0, 1, 4, 2, 3)
                f = torch.from_numpy(flow[start:start + self.batch_size]).to(self.device).permute(0, 1, 4, 2, 3)
                r, f = normalize_inputs(self.model, r, f)
                out = self.model(r, f)
                for s, v in zip(STREAMS, (out.appearance, out.motion, out.fused)):
                    sums[s] += v.double().sum(0).cpu()
        return {s: (v / rgb.shape[0]).numpy().astype(np.float32) for s, v in sums.items()}

    def fingerprint(self) -> str:
        if self._fingerprint is None:
            self._fingerprint = _weights_fingerprint(
                self.model, kind=self.kind, input_size=self.input_size, scale_size=self.scale_size,
                bound=self.flow_bound)
        return self._fingerprint


def load_recognizers(*, tsn_rgb: str | os.PathLike | None = None, tsn_flow: str | os.PathLike | None = None,
                     st_resnet: str | os.PathLike | None = None, fusion_weights: Sequence[float] = (1.0, 1.5),
                     device: str | torch.device | None = None) -> dict[str, Any]:
    """Test-time recognisers from training output folders (``train_recognizer``'s ``out_dir``):
    ``{"tsn": TwoStreamTSN, "st_resnet": STResNetRecognizer}`` for those given."""
    out: dict[str, Any] = {}
    if tsn_rgb or tsn_flow:
        parts = {k: load_recognizer(p, device) for k, p in (("rgb", tsn_rgb), ("flow", tsn_flow)) if p}
        for k, part in parts.items():
            if part.kind != "tsn" or part.model.modality != k:
                raise ValueError(f"{(tsn_rgb, tsn_flow)[k == 'flow']} holds a {part.kind} "
                                 f"{getattr(part.model, 'modality', '')} model, not a TSN {k} stream")
        out["tsn"] = TwoStreamTSN(
            parts["rgb"].model if "rgb" in parts else None, parts["flow"].model if "flow" in parts else None,
            input_size={k: p.info["input_size"] for k, p in parts.items()},
            scale_size={k: p.info["scale_size"] for k, p in parts.items()},
            flow_bound=next(iter(parts.values())).info["flow_bound"], fusion_weights=fusion_weights,
            device=device)
    if st_resnet:
        part = load_recognizer(st_resnet, device)
        if part.kind != "st_resnet":
            raise ValueError(f"{st_resnet} holds a {part.kind} model, not an ST-ResNet")
        out["st_resnet"] = STResNetRecognizer(part.model, input_size=part.info["input_size"],
                                              scale_size=part.info["scale_size"],
                                              flow_bound=part.info["flow_bound"], device=device)
    return out
