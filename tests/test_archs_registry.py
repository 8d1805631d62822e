"""build_arch: every architecture of the paper's tables by name, at tiny sizes."""
from __future__ import annotations

import pytest
import torch

from arsr.archs import ARCHS, build_arch, count_parameters, is_video_arch

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
