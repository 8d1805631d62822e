"""SR methods' batching and memory order: how frames go through a model must not change them."""
import numpy as np
import pytest
import torch

from arsr.archs import build_arch
from arsr.sr_methods import (PIXEL_BUDGET, ImageMethod, VideoMethod, auto_batch, channels_last_convs,
                             method_from_model)


def _lr(n=7, h=12, w=16, seed=0):
    return np.random.default_rng(seed).integers(0, 256, (n, h, w, 3), dtype=np.uint8)


def test_auto_batch_fits_the_pixel_budget():
    assert auto_batch("auto", 128 * 96) == 32
    assert auto_batch(None, 320 * 240) == PIXEL_BUDGET // (320 * 240) == 5
    assert auto_batch("auto", 10 ** 9) == 1  # a huge frame still goes through, one at a time
    assert auto_batch(3, 128 * 96) == 3


@pytest.mark.parametrize("bad", [0, -2, "all", 1.5])
def test_bad_batch_size_is_refused(bad):
    with pytest.raises(ValueError, match="batch_size"):
        ImageMethod(build_arch("bicubic", scale=4), bad)


def test_channels_last_keeps_values_and_fingerprint():
    torch.manual_seed(0)
    model = build_arch("vdsr", num_feat=8, num_conv=3)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    x = torch.rand(2, 3, 12, 16)
    with torch.no_grad():
        ref = model(x)
        channels_last_convs(model)
        convs = [m for m in model.modules() if isinstance(m, torch.nn.Conv2d)]
        assert convs and all(m.weight.is_contiguous(memory_format=torch.channels_last) for m in convs)
        out = model(x.contiguous(memory_format=torch.channels_last))
    for k, v in model.state_dict().items():
        assert torch.equal(v, before[k]), k
    torch.testing.assert_close(out, ref, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("arch, kwargs", [("vdsr", {"num_feat": 8, "num_conv": 3}),
                                          ("rrdbnet", {"num_feat": 8, "num_block": 1, "num_grow_ch": 4})])
def test_image_method_batching_gives_the_model_output(arch, kwargs):
    torch.manual_seed(1)
    model = build_arch(arch, **kwargs).eval()
    lr = _lr()
    idx = [6, 0, 3, 3, 5]
    with torch.no_grad():
        x = torch.from_numpy(lr[idx]).permute(0, 3, 1, 2).float() / 255
        want = (model(x).clamp(0, 1) * 255).round().to(torch.uint8).permute(0, 2, 3, 1).numpy()
    fingerprints = set()
    for batch in ("auto", 1, 2):
        method = ImageMethod(build_arch(arch, **kwargs), batch, device="cpu")
        method.model.load_state_dict(model.state_dict())
        got = method.sr(lr, idx)
        assert got.shape == want.shape and got.dtype == np.uint8
        diff = np.abs(got.astype(int) - want.astype(int))
        assert diff.max() <= 1 and (diff > 0).mean() < 1e-3  # float reassociation only flips a rounding
        fingerprints.add(ImageMethod(model, batch, device="cpu").fingerprint())
    assert len(fingerprints) == 1  # the batch size is not part of what a method computes


def test_video_method_auto_batch_equals_one_by_one():
    torch.manual_seed(2)
    model = build_arch("duf", num_layer=16, num_feat=8, num_block=1, num_grow_ch=4, num_mid=8,
                       num_filter_hidden=16).eval()
    lr = _lr(n=6)
    a = VideoMethod(model, batch_size=1, device="cpu").sr(lr, range(6))
    b = method_from_model(model, "duf", device="cpu").sr(lr, range(6))
    assert isinstance(method_from_model(model, "duf"), VideoMethod)
    assert np.abs(a.astype(int) - b.astype(int)).max() <= 1
