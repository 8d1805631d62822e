"""Single-image SR networks and the discriminator: shapes, sizes, key names, weight files."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn
from torch.nn import functional as F

from arsr.archs.arch_util import Upsample, count_parameters, load_weights, read_state_dict
from arsr.archs.bicubic_arch import Bicubic
from arsr.archs.discriminator_arch import VGGStyleDiscriminator
from arsr.archs.rcan_arch import RCAN
from arsr.archs.rrdbnet_arch import RRDBNet
from arsr.archs.srresnet_arch import MSRResNet
from arsr.archs.vdsr_arch import VDSR
from arsr.ops.color import rgb_to_ycbcr
from arsr.ops.imresize import imresize

# Tiny profiles: same code paths as the full networks at a fraction of the cost.
TINY = {
    "bicubic": lambda **kw: Bicubic(**kw),
    "vdsr": lambda **kw: VDSR(num_feat=8, num_conv=3, **kw),
    "vdsr_y": lambda **kw: VDSR(in_ch=1, num_feat=8, num_conv=3, bias=False, **kw),
    "rcan": lambda **kw: RCAN(num_feat=16, num_group=1, num_block=1, squeeze_factor=4, **kw),
    "msrresnet": lambda **kw: MSRResNet(num_feat=8, num_block=1, **kw),
    "rrdbnet": lambda **kw: RRDBNet(num_feat=8, num_block=1, num_grow_ch=4, **kw),
}
LEARNED = [name for name in TINY if name != "bicubic"]


def _lr(b=2, h=6, w=5, seed=0):
    return torch.rand(b, 3, h, w, generator=torch.Generator().manual_seed(seed))


# ---------------------------------------------------------------- shapes


@pytest.mark.parametrize("name", list(TINY))
def test_forward_shape_x4(name):
    model = TINY[name]().eval()
    with torch.no_grad():
        out = model(_lr())
    assert out.shape == (2, 3, 24, 20)
    assert torch.isfinite(out).all()


@pytest.mark.parametrize("name,scale", [("rcan", 2), ("rcan", 3), ("msrresnet", 2), ("msrresnet", 3),
                                        ("rrdbnet", 2), ("rrdbnet", 1), ("vdsr", 3), ("bicubic", 2)])
def test_forward_shape_other_scales(name, scale):
    model = TINY[name](scale=scale).eval()
    with torch.no_grad():
        out = model(_lr(h=8, w=12))
    assert out.shape == (2, 3, 8 * scale, 12 * scale)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
@pytest.mark.parametrize("name", list(TINY))
def test_cuda_matches_cpu(name):
    torch.manual_seed(0)
    model = TINY[name]().eval()
    x = _lr()
    with torch.no_grad():
        expected = model(x)
        got = model.cuda()(x.cuda()).cpu()
    # loose: cuDNN may run fp32 convolutions in TF32
    torch.testing.assert_close(got, expected, atol=3e-3, rtol=3e-3)


def test_unsupported_scales_are_refused():
    with pytest.raises(ValueError, match="scale 5"):
        Upsample(5, 8)
    with pytest.raises(ValueError, match="scale 3"):
        RRDBNet(num_feat=8, num_block=1, scale=3)
    with pytest.raises(ValueError, match="scale 8"):
        MSRResNet(num_feat=8, num_block=1, scale=8)


def test_gradients_reach_every_parameter():
    for name in LEARNED:
        # a fixed init: with the global RNG left by earlier tests, RCAN's 4-channel attention
        # bottleneck could start all-negative behind its ReLU (no gradient, a flaky failure)
        torch.manual_seed(0)
        model = TINY[name]()
        model(_lr(b=1)).square().mean().backward()
        stale = [k for k, p in model.named_parameters() if p.grad is None or not p.grad.abs().sum() > 0]
        assert not stale, f"{name}: no gradient for {stale}"


# ---------------------------------------------------------------- behaviour


def test_bicubic_is_matlab_imresize_and_has_no_weights():
    x = _lr()
    assert torch.equal(Bicubic()(x), imresize(x, 4))
    assert Bicubic().state_dict() == {}


def test_vdsr_is_a_residual_on_the_bicubic_image():
    """With the last conv zeroed VDSR returns its bicubic input: RGB, and for in_ch=1 RGB rebuilt
    from the (unchanged) YCbCr of the bicubic image."""
    x = _lr()
    for model in (TINY["vdsr"](), TINY["vdsr_y"]()):
        nn.init.zeros_(model.output.weight)
        torch.testing.assert_close(model(x), imresize(x, 4), atol=1e-5, rtol=0)


def test_vdsr_y_changes_only_luma():
    model = TINY["vdsr_y"]()
    x = _lr()
    with torch.no_grad():
        out, bic = rgb_to_ycbcr(model(x)), rgb_to_ycbcr(imresize(x, 4))
    torch.testing.assert_close(out[:, 1:], bic[:, 1:], atol=1e-5, rtol=0)
    assert (out[:, :1] - bic[:, :1]).abs().max() > 1e-3


def test_vdsr_rejects_wrong_channel_count():
    with pytest.raises(ValueError, match="in_ch=3"):
        TINY["vdsr"]()(torch.rand(1, 1, 4, 4))


def test_rcan_subtracts_and_restores_the_mean():
    """With conv_last zeroed RCAN outputs its rgb_mean everywhere; the mean is not saved."""
    model = TINY["rcan"](rgb_mean=(0.1, 0.5, 0.9))
    nn.init.zeros_(model.conv_last.weight)
    nn.init.zeros_(model.conv_last.bias)
    out = model(_lr())
    torch.testing.assert_close(out, torch.tensor([0.1, 0.5, 0.9]).view(1, 3, 1, 1).expand_as(out))
    assert "mean" not in model.state_dict()


def test_msrresnet_adds_bilinear_base():
    model = TINY["msrresnet"]()
    nn.init.zeros_(model.conv_last.weight)
    nn.init.zeros_(model.conv_last.bias)
    x = _lr()
    torch.testing.assert_close(model(x), F.interpolate(x, scale_factor=4, mode="bilinear"))


def test_rrdbnet_scale2_unshuffles_the_input():
    model = RRDBNet(num_feat=8, num_block=1, num_grow_ch=4, scale=2)
    assert model.conv_first.in_channels == 12
    with pytest.raises(RuntimeError):
        model(_lr(h=7, w=8))  # pixel-unshuffle needs even sizes


def test_discriminator_scores_each_image():
    for size in (128, 96):
        d = VGGStyleDiscriminator(num_feat=4, input_size=size).eval()
        x = torch.rand(3, 3, size, size)
        out = d(x)
        assert out.shape == (3, 1)
        # images are scored independently (eval-mode BatchNorm)
        torch.testing.assert_close(d(x[1:2]), out[1:2])
    assert VGGStyleDiscriminator(num_feat=4, input_size=96).linear1.in_features == 32 * 3 * 3
    with pytest.raises(ValueError, match="128x128"):
        VGGStyleDiscriminator(num_feat=4)(torch.rand(1, 3, 96, 96))


# ---------------------------------------------------------------- global residual (bicubic skip)

GLOBAL_RESIDUAL = ["rcan", "msrresnet", "rrdbnet"]


def _matlab_bicubic(x: torch.Tensor, scale: int = 4) -> torch.Tensor:
    """The study's bicubic baseline through imresize's float64 numpy path, image by image."""
    frames = [imresize(img.permute(1, 2, 0).double().numpy(), scale) for img in x]
    return torch.from_numpy(np.stack(frames)).permute(0, 3, 1, 2).float()


@pytest.mark.parametrize("name", GLOBAL_RESIDUAL)
def test_global_residual_starts_at_the_bicubic_baseline(name):
    torch.manual_seed(0)
    x = _lr()
    bicubic = _matlab_bicubic(x)
    with torch.no_grad():
        torch.testing.assert_close(TINY[name](global_residual=True)(x), bicubic, atol=1e-5, rtol=0)
        # off, the published networks start elsewhere (mean colour, noise, bilinear + noise)
        assert (TINY[name]()(x) - bicubic).abs().max() > 1e-2


@pytest.mark.parametrize("name,scale", [("rcan", 2), ("msrresnet", 3), ("rrdbnet", 2), ("rrdbnet", 1)])
def test_global_residual_at_other_scales(name, scale):
    x = _lr(h=8, w=12)
    with torch.no_grad():
        out = TINY[name](scale=scale, global_residual=True)(x)
    expected = x if scale == 1 else _matlab_bicubic(x, scale)
    torch.testing.assert_close(out, expected, atol=1e-5, rtol=0)


@pytest.mark.parametrize("name", GLOBAL_RESIDUAL)
def test_global_residual_zero_init_is_not_a_dead_end(name):
    """Step 1 moves only the zeroed last conv; from step 2 every parameter gets a gradient."""
    torch.manual_seed(0)
    model = TINY[name](global_residual=True)
    x, target = _lr(b=1), torch.rand(1, 3, 24, 20, generator=torch.Generator().manual_seed(1))
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    with torch.no_grad():
        start = model(x)
    for step in range(2):
        opt.zero_grad()
        F.mse_loss(model(x), target).backward()
        no_grad = {k for k, p in model.named_parameters() if p.grad is None or not p.grad.abs().sum() > 0}
        if step == 0:
            assert "conv_last.weight" not in no_grad and "conv_first.weight" in no_grad
        else:
            assert not no_grad, f"{name}: no gradient after the first step for {sorted(no_grad)}"
        opt.step()
    with torch.no_grad():
        assert (model(x) - start).abs().max() > 1e-4


@pytest.mark.parametrize("name", GLOBAL_RESIDUAL)
def test_global_residual_keeps_the_published_keys(name, tmp_path):
    off, on = TINY[name](), TINY[name](global_residual=True)
    assert {k: v.shape for k, v in on.state_dict().items()} == {k: v.shape for k, v in off.state_dict().items()}
    torch.save(off.state_dict(), tmp_path / "off.pth")
    torch.save(on.state_dict(), tmp_path / "on.pth")
    x = _lr()
    with torch.no_grad():
        torch.testing.assert_close(load_weights(TINY[name](), tmp_path / "off.pth")(x), off(x), rtol=0, atol=0)
        load_weights(TINY[name](global_residual=True), tmp_path / "off.pth")  # strict: same layout
        load_weights(TINY[name](), tmp_path / "on.pth")


def test_global_residual_needs_as_many_output_as_input_channels():
    with pytest.raises(ValueError, match="num_in_ch"):
        RCAN(num_in_ch=1, num_feat=8, num_group=1, num_block=1, squeeze_factor=4, rgb_mean=(0.5,),
             global_residual=True)
    with pytest.raises(ValueError, match="num_in_ch"):
        RRDBNet(num_in_ch=1, num_feat=8, num_block=1, num_grow_ch=4, global_residual=True)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_global_residual_skip_stays_float32_under_autocast():
    model = TINY["rrdbnet"](global_residual=True).cuda()
    x = _lr().cuda()
    with torch.autocast("cuda", dtype=torch.bfloat16):
        out = model(x)
    assert out.dtype == torch.float32
    torch.testing.assert_close(out.cpu(), _matlab_bicubic(x.cpu()), atol=1e-5, rtol=0)


# ---------------------------------------------------------------- sizes at the paper's defaults


@pytest.mark.parametrize("make,reference", [
    (Bicubic, 0),
    (lambda: VDSR(in_ch=1, bias=True), 665_000),
    (RCAN, 15.59e6),
    (MSRResNet, 1.52e6),
    (RRDBNet, 16.70e6),
])
def test_parameter_counts_match_the_references(make, reference):
    n = count_parameters(make())
    assert abs(n - reference) <= 0.01 * reference, n


def test_exact_parameter_counts():
    # each number counted by hand from the published layer list, not read off the code:
    # VDSR: 3x3 convs 1->64, 18 x 64->64, 64->1: 576 + 18 * 36,864 + 576 = 664,704 (= the released
    # file's tensors); with biases + 19 * 64 + 1 = 665,921
    assert count_parameters(VDSR(in_ch=1, bias=False)) == 664_704
    assert count_parameters(VDSR(in_ch=1, bias=True)) == 665_921
    # MSRResNet: conv_first 1,792 + 16 blocks x 2 x 36,928 + 2 upconvs x 147,712 + conv_hr 36,928
    # + conv_last 1,731 = 1,517,571
    assert count_parameters(MSRResNet()) == 1_517_571
    # VGG-style discriminator (num_feat 64): 10 convs and their BNs 13,680,000, then linear
    # 512*4*4 -> 100 (819,300) and 100 -> 1 (101); at 96 px the map is 3x3: 512*9*100 + 100 = 460,900
    assert count_parameters(VGGStyleDiscriminator()) == 13_680_000 + 819_300 + 101
    assert count_parameters(VGGStyleDiscriminator(input_size=96)) == 13_680_000 + 460_900 + 101


# ---------------------------------------------------------------- key names of the references


def _tiny_keys(model):
    return set(model.state_dict())


def test_rrdbnet_keys_are_basicsr():
    keys = _tiny_keys(RRDBNet(num_feat=8, num_block=2, num_grow_ch=4))
    for k in ("conv_first.weight", "body.0.rdb1.conv1.weight", "body.1.rdb3.conv5.bias",
              "conv_body.weight", "conv_up1.weight", "conv_up2.weight", "conv_hr.weight",
              "conv_last.weight", "conv_last.bias"):
        assert k in keys, k
    assert len(keys) == 2 + 2 * 3 * 5 * 2 + 5 * 2


def test_rcan_keys_are_basicsr():
    model = RCAN(num_feat=16, num_group=2, num_block=2, squeeze_factor=4)
    sd = model.state_dict()
    for k in ("conv_first.weight", "body.0.residual_group.0.rcab.0.weight",
              "body.0.residual_group.1.rcab.2.bias", "body.1.residual_group.0.rcab.3.attention.1.weight",
              "body.1.residual_group.0.rcab.3.attention.3.bias", "body.1.conv.weight",
              "conv_after_body.weight", "upsample.0.weight", "upsample.2.weight", "conv_last.weight"):
        assert k in sd, k
    assert sd["body.0.residual_group.0.rcab.3.attention.1.weight"].shape == (4, 16, 1, 1)
    assert sd["upsample.0.weight"].shape == (64, 16, 3, 3)


def test_msrresnet_keys_are_basicsr():
    keys = _tiny_keys(MSRResNet(num_feat=8, num_block=2))
    assert keys == {"conv_first.weight", "conv_first.bias", "upconv1.weight", "upconv1.bias",
                    "upconv2.weight", "upconv2.bias", "conv_hr.weight", "conv_hr.bias",
                    "conv_last.weight", "conv_last.bias"} | {
        f"body.{i}.conv{j}.{p}" for i in range(2) for j in (1, 2) for p in ("weight", "bias")}
    assert "upconv2.weight" not in _tiny_keys(MSRResNet(num_feat=8, num_block=1, scale=2))


def test_discriminator_keys_are_basicsr():
    sd = VGGStyleDiscriminator(num_feat=4).state_dict()
    assert "conv0_0.bias" in sd and "conv0_1.bias" not in sd
    for i in range(5):
        assert f"conv{i}_1.weight" in sd and f"bn{i}_1.running_mean" in sd
    assert "conv5_0.weight" not in sd
    assert sd["linear1.weight"].shape == (100, 32 * 4 * 4)
    assert sd["linear2.weight"].shape == (1, 100)
    assert "conv5_1.weight" in VGGStyleDiscriminator(num_feat=4, input_size=256).state_dict()


def test_vdsr_keys_are_pytorch_vdsr():
    sd = VDSR(in_ch=1, bias=False).state_dict()
    assert list(sd) == ["input.weight"] + [f"residual_layer.{i}.conv.weight" for i in range(18)] + [
        "output.weight"]
    assert sd["input.weight"].shape == (64, 1, 3, 3)
    assert sd["output.weight"].shape == (1, 64, 3, 3)
    assert "residual_layer.17.conv.bias" in VDSR().state_dict()


# ---------------------------------------------------------------- weight files


@pytest.mark.parametrize("name", LEARNED)
def test_save_load_round_trip(name, tmp_path):
    torch.manual_seed(0)
    model = TINY[name]().eval()
    path = tmp_path / f"{name}.pth"
    torch.save(model.state_dict(), path)
    torch.manual_seed(1)
    fresh = load_weights(TINY[name]().eval(), path)
    x = _lr()
    with torch.no_grad():
        torch.testing.assert_close(fresh(x), model(x), rtol=0, atol=0)


def test_basicsr_wrapped_and_dataparallel_files_load(tmp_path):
    model = TINY["rrdbnet"]()
    wrapped = {"params": {f"module.{k}": v for k, v in model.state_dict().items()}}
    torch.save(wrapped, tmp_path / "net_g.pth")
    fresh = load_weights(TINY["rrdbnet"](), tmp_path / "net_g.pth")
    assert all(torch.equal(a, b) for a, b in zip(fresh.state_dict().values(), model.state_dict().values()))


def test_wrong_shape_file_names_the_file_and_keys(tmp_path):
    path = tmp_path / "rrdb_feat8.pth"
    torch.save(RRDBNet(num_feat=8, num_block=1, num_grow_ch=4).state_dict(), path)
    with pytest.raises(ValueError) as err:
        load_weights(RRDBNet(num_feat=16, num_block=1, num_grow_ch=4), path)
    msg = str(err.value)
    assert str(path) in msg and "shape differs" in msg and "conv_first.weight" in msg


def test_missing_and_extra_keys_are_named(tmp_path):
    path = tmp_path / "rrdb_2blocks.pth"
    torch.save(RRDBNet(num_feat=8, num_block=2, num_grow_ch=4).state_dict(), path)
    with pytest.raises(ValueError, match=r"not in the model: body\.1\.rdb1\.conv1\.weight"):
        load_weights(RRDBNet(num_feat=8, num_block=1, num_grow_ch=4), path)
    with pytest.raises(ValueError, match="missing from the file: input.weight"):
        load_weights(VDSR(num_feat=8, num_conv=3), path)


def test_missing_file_and_pickled_objects_are_refused(tmp_path):
    with pytest.raises(FileNotFoundError, match="nowhere.pth"):
        load_weights(TINY["vdsr"](), tmp_path / "nowhere.pth")
    path = tmp_path / "pickled_model.pth"
    torch.save({"model": TINY["vdsr"]()}, path)  # a whole pickled module, as pytorch-vdsr saved it
    with pytest.raises(ValueError, match="pickled_model.pth holds pickled Python objects"):
        read_state_dict(path)


# ---------------------------------------------------------------- the released VDSR on Set5


def _read_rgb(path: Path) -> np.ndarray:
    import cv2

    img = cv2.imread(str(path), cv2.IMREAD_COLOR)
    assert img is not None, path
    return np.ascontiguousarray(img[:, :, ::-1])


def test_released_vdsr_reproduces_set5_x4(refdata):
    """twtygqyy/pytorch-vdsr's model on MATLAB-bicubic LR: Y-PSNR 31.44 dB (bicubic 28.43)."""
    from arsr.metrics import psnr_y

    path = refdata / "weights" / "vdsr_y_twtygqyy_epoch50.pt"
    state = torch.load(path, map_location="cpu", weights_only=True)
    assert len(state) == 20 and sum(v.numel() for v in state.values()) == 664_704
    model = load_weights(VDSR(in_ch=1, bias=False), path).eval()

    def to_uint8(t):
        return (t[0].permute(1, 2, 0).numpy() * 255).round().clip(0, 255).astype(np.uint8)

    sr_psnr, bic_psnr = [], []
    for hr_path in sorted((refdata / "set5" / "HR").glob("*.png")):
        hr = _read_rgb(hr_path)
        lr = _read_rgb(refdata / "set5" / "LR_bicubic_x4" / hr_path.name)
        x = torch.from_numpy(lr).permute(2, 0, 1)[None].float() / 255
        with torch.inference_mode():
            sr = to_uint8(model(x))
            bic = to_uint8(imresize(x, 4))
        assert sr.shape == hr.shape
        sr_psnr.append(psnr_y(sr, hr, shave=4))
        bic_psnr.append(psnr_y(bic, hr, shave=4))
    assert np.mean(bic_psnr) == pytest.approx(28.43, abs=0.02)
    assert np.mean(sr_psnr) == pytest.approx(31.44, abs=0.05)
