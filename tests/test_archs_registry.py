"""build_arch: every architecture of the paper's tables by name, at tiny sizes."""
from __future__ import annotations

import pytest
import torch
from torch.nn import functional as F

from arsr.archs import ARCHS, build_arch, count_parameters, is_video_arch
from arsr.ops.imresize import imresize

TINY = {
    "bicubic": {},
    "vdsr": {"num_feat": 8, "num_conv": 4},
    "rcan": {"num_feat": 8, "num_group": 1, "num_block": 1, "squeeze_factor": 4},
    "srresnet": {"num_feat": 8, "num_block": 1},
    "rrdbnet": {"num_feat": 8, "num_block": 1, "num_grow_ch": 4},
    "spmc": {},  # default size: its forward is cheap at 8x8 LR
    "duf": {"num_layer": 16},
}


@pytest.mark.parametrize("name", [n for n in ARCHS if n != "vgg_discriminator"])
def test_every_sr_arch_builds_and_upscales_x4(name):
    torch.manual_seed(0)
    kwargs = TINY.get(name) or {}
    model = build_arch(name, **kwargs).eval()
    if is_video_arch(name):
        x = torch.rand(1, model.num_frames, 3, 8, 8)
    else:
        x = torch.rand(1, 3, 8, 8)
    with torch.no_grad():
        y = model(x)
    assert y.shape == (1, 3, 32, 32)
    assert torch.isfinite(y).all()


def test_unknown_arch_and_bad_keyword():
    with pytest.raises(ValueError, match="unknown architecture 'edsr'; choose one of bicubic"):
        build_arch("edsr")
    with pytest.raises(TypeError, match="vdsr"):
        build_arch("vdsr", num_blocks=3)


def test_published_sizes_by_name():
    assert count_parameters(build_arch("vdsr", in_ch=1)) == 665_921
    assert count_parameters(build_arch("bicubic")) == 0
    assert abs(count_parameters(build_arch("srresnet")) - 1.52e6) / 1.52e6 < 0.01


# Bicubic and VDSR upscale bicubically by construction; the discriminator is no SR network.
GLOBAL_RESIDUAL_ARCHS = [n for n in ARCHS if n not in ("bicubic", "vdsr", "vgg_discriminator")]


@pytest.mark.parametrize("name", GLOBAL_RESIDUAL_ARCHS)
def test_global_residual_by_name_starts_at_the_baseline_with_the_same_keys(name):
    """``arch_kwargs: {global_residual: true}`` reaches every SR network without a bicubic skip:
    untrained, it returns MATLAB bicubic x4 (DUF: bilinear x4, softmax filters have no negative
    taps), and its state dict has the published keys and shapes."""
    torch.manual_seed(0)
    kwargs = TINY.get(name) or {}
    model = build_arch(name, global_residual=True, **kwargs).eval()
    plain = build_arch(name, **kwargs)
    assert {k: v.shape for k, v in model.state_dict().items()} == {k: v.shape for k, v in plain.state_dict().items()}
    clip = torch.rand(1, 7, 3, 8, 8)
    if is_video_arch(name):
        x, centre = clip[:, 3 - model.num_frames // 2:4 + model.num_frames // 2], clip[:, 3]
    else:
        x = centre = clip[:, 3]
    with torch.no_grad():
        y = model(x)
    if name == "duf":
        padded = F.interpolate(F.pad(centre, (1, 1, 1, 1)), scale_factor=4, mode="bilinear", align_corners=False)
        torch.testing.assert_close(y, padded[..., 4:-4, 4:-4], atol=2.5e-3, rtol=0)
    else:
        torch.testing.assert_close(y, imresize(centre, 4), atol=1e-5, rtol=0)


@pytest.mark.parametrize("name, kwargs", [
    ("vdsr", {"in_ch": 1, "num_feat": 8, "num_conv": 4, "bias": False}),
    ("vdsr", {"in_ch": 3, "num_feat": 6, "num_conv": 2, "bias": True}),
    ("rrdbnet", {"num_feat": 8, "num_block": 2, "num_grow_ch": 4, "num_out_ch": 3}),
    ("srresnet", {"num_in_ch": 3, "num_feat": 8, "num_block": 3, "num_out_ch": 3}),
])
def test_fitting_kwargs_read_the_sizes_from_the_tensors(name, kwargs):
    from arsr.archs.fit import fitting_kwargs, format_kwargs

    state = build_arch(name, **kwargs).state_dict()
    assert fitting_kwargs(name, state) == kwargs
    build_arch(name, **fitting_kwargs(name, state)).load_state_dict(state)  # strict: they fit
    assert fitting_kwargs("duf", build_arch("duf", num_layer=16).state_dict()) is None  # no reader
    assert fitting_kwargs(name, {"something.else": torch.zeros(1)}) is None  # not one of this arch
    assert format_kwargs({"in_ch": 1, "bias": False}) == "{in_ch: 1, bias: false}"
