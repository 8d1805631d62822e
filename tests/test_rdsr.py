"""Recognition-driven SR (rdsr, beyond the paper): its task losses on tiny shapes against
hand-computed values, gradients through the differentiable flow, frozen teachers, and a short
training run of its recipe on a toy store with tiny recognisers (CPU, a few seconds)."""
from __future__ import annotations

import csv
import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn as nn

from arsr import losses
from arsr.flow import quantize
from arsr.recognition.tsn import TSN
from arsr.train.config import ConfigError, resolve_config
from arsr.train.patches import PatchSampler
from arsr.train.presets import BASES, PRESETS, RDSR_ABLATION, RECIPES, method_phases, train_method
from arsr.train.networks import _freeze
from arsr.train.sr_trainer import train_sr

# tests/ is on sys.path under pytest; one_thread is test_train_sr's autouse fixture, used here too
from test_train_sr import TINY_ARCH, one_thread, shift_video, tiny, write_store  # noqa: F401


def tiny_tsn(modality: str, new_length: int | None = None, seed: int = 0) -> TSN:
    torch.manual_seed(seed)
    model = TSN(2, modality=modality, backbone="resnet18", num_segments=1, new_length=new_length,
                width=4, dropout=0.5)
    nn.init.normal_(model.new_fc.weight, 0.0, 0.5)  # TSN's 0.001 init would give ~equal scores
    return model


def frozen(model: nn.Module) -> nn.Module:
    return _freeze(model)


def moving_clip(n: int = 1, frames: int = 3, size: int = 32, d=(1, 1), seed: int = 0) -> torch.Tensor:
    """``(n, frames, 3, size, size)`` in [0, 1]: a smooth texture moving by d px per frame."""
    g = torch.Generator().manual_seed(seed)
    pad = abs(d[0]) * frames + abs(d[1]) * frames + 4
    big = torch.rand(n, 3, size + 2 * pad, size + 2 * pad, generator=g)
    big = torch.nn.functional.avg_pool2d(big, 5, 1, 2)
    out = [big[..., pad - k * d[1]: pad - k * d[1] + size, pad - k * d[0]: pad - k * d[0] + size]
           for k in range(frames)]
    return torch.stack(out, dim=1).contiguous()


# ---------------------------------------------------------------------------------------------
# Loss terms


def test_distillation_is_zero_for_equal_logits_and_the_hand_computed_kl_on_two_classes():
    z = torch.tensor([[0.3, -1.2], [2.0, 0.5]])
    assert losses.distillation_loss(z, z.clone(), 2.0).item() == pytest.approx(0.0, abs=1e-7)
    # teacher (ln 3, 0) -> p = (3/4, 1/4); student (0, 0) -> q = (1/2, 1/2)
    teacher, student = torch.tensor([[math.log(3.0), 0.0]]), torch.zeros(1, 2)
    kl = 0.75 * math.log(0.75 / 0.5) + 0.25 * math.log(0.25 / 0.5)
    assert losses.distillation_loss(student, teacher, 1.0).item() == pytest.approx(kl, rel=1e-5)
    # T = 2: p = softmax(ln 3 / 2, 0) = (sqrt 3, 1) / (sqrt 3 + 1), times T^2 = 4
    s3 = math.sqrt(3.0)
    p = (s3 / (s3 + 1), 1 / (s3 + 1))
    kl2 = 4 * (p[0] * math.log(p[0] / 0.5) + p[1] * math.log(p[1] / 0.5))
    assert losses.distillation_loss(student, teacher, 2.0).item() == pytest.approx(kl2, rel=1e-5)
    # batch mean: a second, identical pair leaves the value unchanged
    both = losses.distillation_loss(student.repeat(2, 1), teacher.repeat(2, 1), 1.0)
    assert both.item() == pytest.approx(kl, rel=1e-5)


def test_flow_to_tsn_is_the_8_bit_flow_image_without_the_rounding():
    flow = torch.linspace(-25, 25, 101)
    q = torch.from_numpy(quantize(flow.numpy(), 20.0).astype(np.float32)) / 255.0
    cont = losses.flow_to_tsn(flow, 20.0)
    assert (cont - q).abs().max().item() <= 0.5 / 255 + 1e-6
    assert cont.min().item() == 0.0 and cont.max().item() == 1.0  # saturates like quantize


def test_rgb_to_grey255_is_bt601_luma():
    x = torch.tensor([1.0, 0.0, 0.0]).view(1, 3, 1, 1)
    assert losses.rgb_to_grey255(x).item() == pytest.approx(0.299 * 255)


def test_differentiable_flow_finds_the_motion_and_passes_gradients():
    clip = moving_clip(n=2, frames=2, d=(1, 1))
    prev, nxt = clip[:, 0], clip[:, 1].clone().requires_grad_(True)
    flow = losses.differentiable_flow(prev, nxt)
    # frame 1 = frame 0 moved by (1, 1): prev(p) = next(p + (1, 1)); interior away from borders
    inner = flow[..., 6:-6, 6:-6].detach()
    assert torch.allclose(inner.mean(dim=(0, 2, 3)), torch.tensor([1.0, 1.0]), atol=0.15)
    flow.square().mean().backward()
    assert torch.isfinite(nxt.grad).all() and nxt.grad.abs().sum() > 0


def test_spatial_task_loss_is_zero_at_hr_and_trains_only_the_sr_frames():
    teacher = frozen(tiny_tsn("rgb"))
    hr = moving_clip(n=3, frames=1)[:, 0]
    assert losses.spatial_task_loss(teacher, hr, hr.clone()).item() == pytest.approx(0.0, abs=1e-7)
    sr = (hr + 0.2 * torch.randn_like(hr)).clamp(0, 1).requires_grad_(True)
    loss = losses.spatial_task_loss(teacher, sr, hr, temperature=2.0, feature_weight=1.0)
    assert loss.item() > 0
    loss.backward()
    assert sr.grad.abs().sum() > 0
    assert all(p.grad is None for p in teacher.parameters())
    assert not teacher.training


def test_task_losses_refuse_a_teacher_that_is_not_frozen():
    hr = moving_clip(n=1, frames=1)[:, 0]
    training = tiny_tsn("rgb")  # train mode, trainable
    with pytest.raises(ValueError, match="training mode"):
        losses.spatial_task_loss(training, hr, hr)
    with pytest.raises(ValueError, match="trainable parameters"):
        losses.spatial_task_loss(tiny_tsn("rgb").eval(), hr, hr)
    # the trainer's freeze: eval first (TSN's partial BN re-enables its first BN in train(False))
    teacher = frozen(tiny_tsn("rgb"))
    assert not teacher.training and not any(p.requires_grad for p in teacher.parameters())


class TinySR(nn.Module):
    """A residual conv on the bicubic upscale: a stand-in SR network with parameters."""

    def __init__(self):
        super().__init__()
        torch.manual_seed(3)
        self.conv = nn.Conv2d(3, 3, 3, padding=1)

    def forward(self, lr):
        up = torch.nn.functional.interpolate(lr, scale_factor=4, mode="bicubic", align_corners=False)
        return (up + 0.1 * self.conv(up)).clamp(0, 1)


def test_temporal_task_loss_is_zero_at_hr_and_its_gradient_reaches_the_sr_network_through_the_flow():
    teacher = frozen(tiny_tsn("flow", new_length=2))
    hr = moving_clip(n=2, frames=3, d=(2, 1))
    assert losses.temporal_task_loss(teacher, hr, hr.clone()).item() == pytest.approx(0.0, abs=1e-7)

    net = TinySR()
    lr = torch.nn.functional.avg_pool2d(hr.flatten(0, 1), 4)
    sr = net(lr).view(hr.shape)
    loss = losses.temporal_task_loss(teacher, sr, hr, bound=20.0, temperature=1.0)
    assert loss.item() > 0
    loss.backward()
    # the SR frames reach this loss only as flow (differentiable_flow -> flow_to_tsn -> teacher)
    for p in net.parameters():
        assert p.grad is not None and torch.isfinite(p.grad).all() and p.grad.abs().sum() > 0
    assert all(p.grad is None for p in teacher.parameters()) and not teacher.training
    with pytest.raises(ValueError, match="needs 3 frames"):
        losses.temporal_task_loss(teacher, hr[:, :2], hr[:, :2])


# ---------------------------------------------------------------------------------------------
# Recipe, config, sampler


def test_rdsr_recipe_is_beyond_the_papers_table_and_starts_from_the_shared_psnr_model():
    assert "rdsr" not in PRESETS and "rdsr" in RECIPES and BASES["rdsr"] == ("rrdb_psnr", "psnr")
    psnr, task = method_phases("rdsr")
    assert psnr.config == method_phases("rrdb_psnr")[0].config
    t = task.config
    assert t["arch"] == "rrdbnet" and t["gan"]["type"] == "none" and t["feature"]["weight"] == 0
    assert t["task"]["spatial_weight"] > 0 and t["task"]["temporal_weight"] > 0
    phases = {k: method_phases("rdsr", v)[1].config for k, v in RDSR_ABLATION.items()}
    assert [(c["task"]["spatial_weight"] > 0, c["task"]["temporal_weight"] > 0) for c in phases.values()] \
        == [(False, False), (True, False), (True, True)]
    assert {c["data"]["clip"] for k, c in phases.items() if k != "temporal"} == {6}


def test_config_refuses_clips_with_the_warp_loss_or_wmse():
    base = {"arch": "rrdbnet", "task": {"temporal_weight": 1.0}}
    with pytest.raises(ConfigError, match="warp.weight"):
        resolve_config({**base, "warp": {"weight": 1.0}})
    with pytest.raises(ConfigError, match="wmse"):
        resolve_config({**base, "pixel": {"type": "wmse"}})
    with pytest.raises(ConfigError, match="data.clip"):
        resolve_config({"arch": "vdsr", "data": {"clip": 1}})
    with pytest.raises(ConfigError, match="task.flow.bogus"):
        resolve_config({**base, "task": {"flow": {"bogus": 1}}})


@pytest.fixture(scope="module")
def moving_store(tmp_path_factory):
    rng = np.random.default_rng(2)
    return write_store(tmp_path_factory.mktemp("rdsr"), [shift_video(rng, "s/a", d=(1, 2), t=6),
                                                         shift_video(rng, "s/b", d=(-2, 1), t=5)])


def test_sampler_clips_are_consecutive_frames(moving_store):
    for num_frames in (1, 3):
        b = PatchSampler(moving_store, hr_patch=16, batch_size=2, num_frames=num_frames, clip=3,
                         augment=False).batch(1)
        assert b["hr_clip"].shape == (2, 3, 3, 16, 16)
        assert b["lr_clip"].shape == ((2, 3, 3, 4, 4) if num_frames == 1 else (2, 3, 3, 3, 4, 4))
        torch.testing.assert_close(b["hr_clip"][:, 0], b["hr"])
        centre = b["lr_clip"] if num_frames == 1 else b["lr_clip"][:, :, num_frames // 2]
        torch.testing.assert_close(centre[:, 0], b["lr"] if num_frames == 1 else b["lr"][:, 1])
    sampler = PatchSampler(moving_store, hr_patch=16, batch_size=1, clip=4)
    assert len(sampler) == (6 - 3) + (5 - 3)  # a clip t..t+3 must fit in the video


# ---------------------------------------------------------------------------------------------
# Training


def save_teacher(folder: Path, model: TSN) -> Path:
    """A recogniser folder as arsr.recognition.train writes it (the keys load_recognizer reads)."""
    folder.mkdir(parents=True)
    model_cfg = {"type": "tsn", "modality": model.modality, "backbone": "resnet18", "width": 4,
                 "num_classes": 2, "new_length": model.new_length, "dropout": 0.5}
    (folder / "recognizer.json").write_text(json.dumps(
        {"model": model_cfg, "num_segments": 1, "flow_bound": 20.0, "input_size": 32, "scale_size": 36}))
    torch.save(model.state_dict(), folder / "model.pt")
    return folder


def test_rdsr_recipe_trains_three_iterations_and_logs_every_term(moving_store, tmp_path):
    spatial = save_teacher(tmp_path / "teachers" / "rgb", tiny_tsn("rgb", seed=1))
    temporal = save_teacher(tmp_path / "teachers" / "flow", tiny_tsn("flow", new_length=2, seed=2))
    overrides = tiny("rrdbnet", iterations=3)
    overrides["data"].update(hr_patch=32, batch_size=1)
    overrides["phases"] = {"task": {"task": {"spatial_teacher": str(spatial),
                                             "temporal_teacher": str(temporal), "feature_weight": 0.5}}}
    final = train_method("rdsr", tmp_path / "rdsr", overrides, dataset=moving_store, progress=False)
    assert final == tmp_path / "rdsr" / "task" / "model.pt" and final.is_file()
    with (tmp_path / "rdsr" / "task" / "log.csv").open(newline="") as f:
        rows = list(csv.DictReader(f))
    assert [int(r["iteration"]) for r in rows] == [1, 2, 3]
    for r in rows:
        terms = [float(r[k]) for k in ("pixel", "spatial", "temporal")]
        assert all(math.isfinite(v) and v > 0 for v in terms)
        assert float(r["total"]) == pytest.approx(sum(terms), rel=1e-5)


def test_task_terms_need_their_teacher(moving_store, tmp_path):
    cfg = {"arch": "vdsr", "arch_kwargs": TINY_ARCH["vdsr"], "iterations": 1,
           "data": {"hr_patch": 16, "batch_size": 1, "prefetch": 0}, "task": {"spatial_weight": 1.0}}
    with pytest.raises(ConfigError, match="task.spatial_teacher"):
        train_sr(cfg, tmp_path / "a", dataset=moving_store, progress=False)
    # passed in: a flow teacher of new_length 2 sets clips of 3 frames; data.clip must agree
    cfg2 = {**cfg, "task": {"temporal_weight": 1.0}, "data": {**cfg["data"], "clip": 4}}
    with pytest.raises(ConfigError, match="data.clip = 4"):
        train_sr(cfg2, tmp_path / "b", dataset=moving_store, progress=False,
                 teachers={"temporal": tiny_tsn("flow", new_length=2)})
    cfg2["data"]["clip"] = 0
    teacher = tiny_tsn("flow", new_length=2)
    result = train_sr(cfg2, tmp_path / "c", dataset=moving_store, progress=False,
                      teachers={"temporal": teacher})
    assert result.finished and "temporal" in result.losses
    assert not teacher.training and not any(p.requires_grad for p in teacher.parameters())
