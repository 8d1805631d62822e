"""Video SR architectures: VSR-DUF (duf_arch) and SPMC (spmc_arch)."""
from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from arsr.archs.arch_util import load_weights
from arsr.archs.duf_arch import (DUF, FILTER_INIT_FLOOR, bilinear_filter_taps, duf_video, dynamic_upsampling,
                                 sliding_window_sr)
from arsr.archs.spmc_arch import SPMC, ConvLSTMCell, MotionEstimation, spmc_splat
from arsr.ops.color import rgb_to_ycbcr
from arsr.ops.imresize import imresize


def n_params(model: torch.nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def tiny_duf(**kw) -> DUF:
    kw = {"num_layer": 16, "num_feat": 8, "num_grow_ch": 4, "num_mid": 8, "num_filter_hidden": 8, **kw}
    return DUF(**kw)


def tiny_spmc(**kw) -> SPMC:
    kw = {"num_feat": 4, "me_feat": 4, **kw}
    return SPMC(**kw)


# ----------------------------------------------------------------------------------------- DUF

@pytest.mark.parametrize("num_layer, exact, reference", [
    (16, 1_900_640, 1.90e6),
    (28, 2_118_432, 2.12e6),
    (52, 5_821_952, 5.82e6),
])
def test_duf_parameter_count(num_layer, exact, reference):
    n = n_params(DUF(num_layer=num_layer))
    assert n == exact  # what BasicSR's DUF structure gives
    assert abs(n - reference) / reference < 0.01


def test_duf_keys_and_shapes_match_basicsr():
    sd = DUF(num_layer=16).state_dict()
    # names and shapes as in BasicSR basicsr/archs/duf_arch.py (16 layers: 3 dense blocks, growth 32)
    expected = {
        "conv3d1.weight": (64, 3, 1, 3, 3),
        "dense_block1.dense_blocks.0.0.running_mean": (64,),
        "dense_block1.dense_blocks.0.2.weight": (64, 64, 1, 1, 1),
        "dense_block1.dense_blocks.2.3.weight": (128,),
        "dense_block1.dense_blocks.2.5.weight": (32, 128, 3, 3, 3),
        "dense_block2.temporal_reduce1.2.weight": (160, 160, 1, 1, 1),
        "dense_block2.temporal_reduce3.5.weight": (32, 224, 3, 3, 3),
        "bn3d2.running_var": (256,),
        "conv3d2.weight": (256, 256, 1, 3, 3),
        "conv3d_r1.weight": (256, 256, 1, 1, 1),
        "conv3d_r2.weight": (48, 256, 1, 1, 1),
        "conv3d_f1.weight": (512, 256, 1, 1, 1),
        "conv3d_f2.weight": (400, 512, 1, 1, 1),
        "conv3d_f2.bias": (400,),
    }
    for key, shape in expected.items():
        assert tuple(sd[key].shape) == shape, key
    # BasicSR keeps the im2col filter as a plain attribute: no extra key may appear
    assert len(sd) == 101
    assert all(k.split(".")[0] in {"conv3d1", "dense_block1", "dense_block2", "bn3d2", "conv3d2",
                                   "conv3d_r1", "conv3d_r2", "conv3d_f1", "conv3d_f2"} for k in sd)


def test_duf_bn_settings_for_official_weights():
    bn = DUF(num_layer=16, adapt_official_weights=True, num_feat=8, num_grow_ch=4).bn3d2
    assert bn.eps == pytest.approx(1e-3) and bn.momentum == pytest.approx(1e-3)


def test_duf_forward_shape_and_frame_check():
    model = tiny_duf()
    out = model(torch.rand(2, 7, 3, 8, 8))
    assert out.shape == (2, 3, 32, 32)
    with pytest.raises(ValueError, match="7 frames"):
        model(torch.rand(1, 5, 3, 8, 8))
    with pytest.raises(ValueError, match="num_layer"):
        DUF(num_layer=20)


def test_dynamic_upsampling_matches_explicit_loop():
    torch.manual_seed(0)
    b, c, h, w, s = 1, 2, 4, 5, 2
    x = torch.rand(b, c, h, w)
    filters = torch.rand(b, 25, s * s, h, w)
    out = dynamic_upsampling(x, filters)
    padded = F.pad(x, (2, 2, 2, 2))
    expected = torch.zeros(b, c * s * s, h, w)
    for ch in range(c):
        for sub in range(s * s):
            for i in range(h):
                for j in range(w):
                    window = padded[0, ch, i:i + 5, j:j + 5].reshape(25)  # row-major taps
                    expected[0, ch * s * s + sub, i, j] = (window * filters[0, :, sub, i, j]).sum()
    torch.testing.assert_close(out, expected)


def _set_delta_filters(model: DUF, tap: int, residual_bias: torch.Tensor | None = None) -> None:
    """Every sub-pixel filter = delta at ``tap`` (softmax of a large logit), residual = bias."""
    s2 = model.scale ** 2
    with torch.no_grad():
        model.conv3d_f2.weight.zero_()
        model.conv3d_f2.bias.fill_(-50.0)
        model.conv3d_f2.bias[tap * s2:(tap + 1) * s2] = 50.0  # channel = tap * s^2 + sub-pixel
        model.conv3d_r2.weight.zero_()
        model.conv3d_r2.bias.zero_()
        if residual_bias is not None:
            model.conv3d_r2.bias.copy_(residual_bias)


def test_duf_centre_delta_filters_give_nearest_upsampling():
    torch.manual_seed(0)
    model = tiny_duf().eval()
    _set_delta_filters(model, tap=12)  # centre of the 5x5 window
    x = torch.rand(1, 7, 3, 6, 5)
    out = model(x)
    torch.testing.assert_close(out, F.interpolate(x[:, 3], scale_factor=4, mode="nearest"))


def test_duf_shifted_delta_and_residual_layout():
    torch.manual_seed(0)
    model = tiny_duf().eval()
    bias = torch.zeros(3 * 16)
    bias[1 * 16 + 0 * 4 + 1] = 0.5  # channel 1 (G), sub-pixel (dy=0, dx=1): pixel_shuffle order
    _set_delta_filters(model, tap=13, residual_bias=bias)  # tap 13 = row 2, column 3: x + 1
    x = torch.rand(1, 7, 3, 6, 5)
    out = model(x)
    centre = x[:, 3]
    shifted = torch.cat((centre[..., 1:], torch.zeros_like(centre[..., :1])), dim=-1)
    expected = F.interpolate(shifted, scale_factor=4, mode="nearest")
    expected[:, 1, 0::4, 1::4] += 0.5
    torch.testing.assert_close(out, expected)


def test_duf_state_dict_round_trip(tmp_path):
    torch.manual_seed(0)
    model = tiny_duf()
    model(torch.rand(2, 7, 3, 8, 8))  # update BN running stats so they differ from init
    model.eval()
    path = tmp_path / "duf.pth"
    torch.save(model.state_dict(), path)
    clone = tiny_duf()
    clone.load_state_dict(torch.load(path, weights_only=True))
    clone.eval()
    x = torch.rand(1, 7, 3, 8, 8)
    torch.testing.assert_close(clone(x), model(x))


def test_sliding_window_returns_every_frame_with_zero_padding():
    torch.manual_seed(0)
    model = tiny_duf().eval()
    clip = torch.rand(5, 3, 8, 8)
    out = duf_video(model, clip)
    assert out.shape == (5, 3, 32, 32)
    # frame 0 sees three black frames, then frames 0..3 (the authors' test script)
    window = torch.cat((torch.zeros(3, 3, 8, 8), clip[:4]))[None]
    with torch.no_grad():
        torch.testing.assert_close(out[0], model(window)[0])
        black = torch.zeros(1, 3, 8, 8)
        torch.testing.assert_close(out[2], model(torch.cat((black, clip, black))[None])[0])
    batched = duf_video(model, clip[None].repeat(2, 1, 1, 1, 1), batch_size=3)
    assert batched.shape == (2, 5, 3, 32, 32)
    torch.testing.assert_close(batched[1], out)


def test_sliding_window_replicate_and_reflect_padding():
    torch.manual_seed(0)
    model = tiny_duf().eval()
    clip = torch.rand(4, 3, 8, 8)
    rep = sliding_window_sr(model, clip, 7, pad="replicate")
    ref = sliding_window_sr(model, clip, 7, pad="reflect")
    with torch.no_grad():
        torch.testing.assert_close(rep[0], model(torch.cat((clip[:1].repeat(3, 1, 1, 1), clip))[None])[0])
        torch.testing.assert_close(ref[0], model(torch.cat((clip[1:4].flip(0), clip))[None])[0])
    with pytest.raises(ValueError, match="pad"):
        sliding_window_sr(model, clip, 7, pad="wrap")


# ----------------------------------------------------------------------- global residual (init)

def _bilinear_zero_padded(x: torch.Tensor, scale: int = 4) -> torch.Tensor:
    """Bilinear x``scale`` (align_corners=False) with zeros outside the image: pad one black LR
    pixel, upscale, crop the ``scale`` HR pixels that belong to the padding."""
    up = F.interpolate(F.pad(x, (1, 1, 1, 1)), scale_factor=scale, mode="bilinear", align_corners=False)
    return up[..., scale:-scale, scale:-scale]


def _matlab_bicubic(x: torch.Tensor, scale: int = 4) -> torch.Tensor:
    """The study's bicubic baseline through imresize's float64 numpy path, image by image."""
    frames = [imresize(img.permute(1, 2, 0).double().numpy(), scale) for img in x]
    return torch.from_numpy(np.stack(frames)).permute(0, 3, 1, 2).float()


def test_bilinear_filter_taps_by_hand():
    taps = bilinear_filter_taps(4)
    assert taps.shape == (25, 16)
    torch.testing.assert_close(taps.sum(0), torch.ones(16, dtype=torch.float64))
    # sub-pixel (0, 3) sits at (-0.375, +0.375) LR pixels from its centre: rows -1/0, columns 0/+1
    sub = 0 * 4 + 3
    expected = {(1, 2): 0.375 * 0.625, (1, 3): 0.375 * 0.375, (2, 2): 0.625 * 0.625, (2, 3): 0.625 * 0.375}
    for tap in range(25):
        assert taps[tap, sub].item() == pytest.approx(expected.get(divmod(tap, 5), 0.0))


# Softmax mass left on the 21 taps bilinear does not use: the start's distance from bilinear.
DUF_INIT_TOL = 21 * FILTER_INIT_FLOOR / (1 + 21 * FILTER_INIT_FLOOR)


def test_duf_global_residual_starts_at_bilinear():
    torch.manual_seed(0)
    x = torch.rand(2, 7, 3, 6, 5)
    for train in (True, False):  # BatchNorm's mode does not matter: the filter logits are constant
        model = tiny_duf(global_residual=True).train(train)
        with torch.no_grad():
            out = model(x)
        expected = _bilinear_zero_padded(x[:, 3])
        torch.testing.assert_close(out, expected, atol=DUF_INIT_TOL, rtol=0)
        # the interior is plain bilinear upscaling
        interior = F.interpolate(x[:, 3], scale_factor=4, mode="bilinear", align_corners=False)
        torch.testing.assert_close(out[..., 2:-2, 2:-2], interior[..., 2:-2, 2:-2], atol=DUF_INIT_TOL, rtol=0)
    with torch.no_grad():
        assert (tiny_duf()(x) - expected).abs().max() > 1e-2


def _assert_learns_past_zero_init(model, x, target, first_layer: str, last_layers: tuple[str, ...],
                                  first_from: int = 1):
    """Step 0 moves only the zeroed last layers; from step ``first_from`` (1: the second step)
    ``first_layer`` gets a gradient too."""
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    with torch.no_grad():
        start = model(x)
    grads = dict(model.named_parameters())
    for step in range(first_from + 1):
        opt.zero_grad()
        F.mse_loss(model(x), target).backward()
        for name in last_layers:
            assert grads[name].grad.abs().sum() > 0, (step, name)
        assert (grads[first_layer].grad.abs().sum() > 0) == (step >= first_from), step
        opt.step()
    with torch.no_grad():
        assert (model(x) - start).abs().max() > 1e-4


def test_duf_global_residual_zero_init_is_not_a_dead_end():
    torch.manual_seed(0)
    model = tiny_duf(global_residual=True)
    _assert_learns_past_zero_init(model, torch.rand(2, 7, 3, 8, 8), torch.rand(2, 3, 32, 32), "conv3d1.weight",
                                  ("conv3d_r2.weight", "conv3d_f2.weight", "conv3d_f2.bias"))


def test_duf_global_residual_keeps_the_published_keys_and_forward(tmp_path):
    torch.manual_seed(0)
    off = tiny_duf().eval()
    on = tiny_duf(global_residual=True)
    assert {k: v.shape for k, v in on.state_dict().items()} == {k: v.shape for k, v in off.state_dict().items()}
    torch.save(off.state_dict(), tmp_path / "off.pth")
    x = torch.rand(1, 7, 3, 8, 8)
    with torch.no_grad():
        # only the initialisation differs: the same weights give the same output either way
        torch.testing.assert_close(load_weights(on, tmp_path / "off.pth").eval()(x), off(x), rtol=0, atol=0)
        torch.testing.assert_close(load_weights(tiny_duf(), tmp_path / "off.pth").eval()(x), off(x), rtol=0, atol=0)


@pytest.mark.parametrize("color", ["y", "rgb"])
def test_spmc_global_residual_starts_at_the_bicubic_baseline(color):
    torch.manual_seed(0)
    x = torch.rand(2, 3, 3, 6, 10)  # padded to 8 x 12 inside
    model = tiny_spmc(color=color, global_residual=True)
    with torch.no_grad():
        steps, _ = model.forward_steps(x)
        off = tiny_spmc(color=color)(x)
    bicubic = _matlab_bicubic(x[:, 1])
    for i in range(3):  # every time step, not just the last one
        torch.testing.assert_close(steps[:, i], bicubic, atol=1e-5, rtol=0)
    assert (off - bicubic).abs().max() > 1e-2


def test_spmc_global_residual_starts_from_zero_motion():
    # random flows (tanh x flow_gain) scattered the LR pixels off the HR grid and the decoder
    # learned nothing: trained flows saturated at 32 px on 32 x 24 frames, PSNR = bicubic
    torch.manual_seed(0)
    x = torch.rand(2, 3, 3, 8, 12)
    with torch.no_grad():
        _, flows = tiny_spmc(global_residual=True).forward_steps(x)
        _, random = tiny_spmc().forward_steps(x)
    assert flows.abs().max() == 0
    assert random.abs().max() > 0.1  # published default: the initialisation is untouched


@pytest.mark.parametrize("color", ["y", "rgb"])
def test_spmc_global_residual_zero_init_is_not_a_dead_end(color):
    torch.manual_seed(0)
    model = tiny_spmc(color=color, global_residual=True)
    x, target = torch.rand(1, 3, 3, 8, 8), torch.rand(1, 3, 32, 32)
    _assert_learns_past_zero_init(model, x, target, "detail_fusion.enc1.0.weight",
                                  ("detail_fusion.dec3.2.weight", "detail_fusion.dec3.2.bias"))
    # the zeroed flow convs move at step 1 (once the decoder passes a gradient back), the motion
    # estimator's first layer at step 2
    torch.manual_seed(0)
    model = tiny_spmc(color=color, global_residual=True)
    _assert_learns_past_zero_init(model, x, target, "motion_estimation.coarse.0.weight",
                                  ("detail_fusion.dec3.2.weight",), first_from=2)


def test_spmc_under_bf16_autocast_keeps_a_float32_bicubic_start():
    torch.manual_seed(0)
    x = torch.rand(1, 3, 3, 80, 72)  # HR 320 x 288: coordinates past bf16's exact integers (256)
    for color in ("y", "rgb"):
        model = tiny_spmc(color=color, global_residual=True)
        with torch.autocast("cpu", dtype=torch.bfloat16):
            out = model(x)
        assert out.dtype == torch.float32
        torch.testing.assert_close(out, imresize(x[:, 1], 4), atol=1e-5, rtol=0)


def test_spmc_splat_of_bf16_input_is_computed_in_float32():
    torch.manual_seed(0)
    x, flow = torch.rand(1, 2, 80, 80).bfloat16(), (0.4 * torch.rand(1, 2, 80, 80)).bfloat16()
    out = spmc_splat(x, flow, 4)
    assert out.dtype == torch.float32
    torch.testing.assert_close(out, spmc_splat(x.float(), flow.float(), 4), rtol=0, atol=0)


def test_spmc_global_residual_keeps_the_keys(tmp_path):
    off, on = tiny_spmc(), tiny_spmc(global_residual=True)
    assert {k: v.shape for k, v in on.state_dict().items()} == {k: v.shape for k, v in off.state_dict().items()}
    torch.save(off.state_dict(), tmp_path / "off.pth")
    load_weights(tiny_spmc(global_residual=True), tmp_path / "off.pth")
    load_weights(tiny_spmc(), tmp_path / "off.pth")


# --------------------------------------------------------------------------------- SPMC layer

def test_spmc_zero_flow_places_pixels_on_scale_grid():
    torch.manual_seed(0)
    x = torch.rand(2, 3, 4, 5)
    out = spmc_splat(x, torch.zeros(2, 2, 4, 5), scale=4)
    assert out.shape == (2, 3, 16, 20)
    torch.testing.assert_close(out[..., ::4, ::4], x)
    mask = torch.ones_like(out, dtype=torch.bool)
    mask[..., ::4, ::4] = False
    assert torch.count_nonzero(out[mask]) == 0


def test_spmc_integer_flow_shifts_and_drops_outside():
    torch.manual_seed(0)
    x = torch.rand(1, 1, 4, 5)
    flow = torch.zeros(1, 2, 4, 5)
    flow[:, 0] = 1.0   # one LR pixel to the right
    flow[:, 1] = -1.0  # one LR pixel up
    out = spmc_splat(x, flow, scale=4)
    expected = torch.zeros(1, 1, 16, 20)
    expected[..., 0:12:4, 4::4] = x[..., 1:, :-1]  # last column and first row leave the grid
    torch.testing.assert_close(out, expected)


def test_spmc_fractional_flow_splits_bilinearly_and_conserves_mass():
    x = torch.rand(1, 2, 3, 3)
    flow = torch.zeros(1, 2, 3, 3)
    flow[:, 0] = 0.1  # HR x = 4j + 0.4: 0.6 to column 4j, 0.4 to 4j + 1
    out = spmc_splat(x, flow, scale=4)
    torch.testing.assert_close(out[..., ::4, 0::4], 0.6 * x)
    torch.testing.assert_close(out[..., ::4, 1::4], 0.4 * x)
    torch.testing.assert_close(out.sum(dim=(2, 3)), x.sum(dim=(2, 3)))


def test_spmc_gradients_reach_image_and_flow():
    torch.manual_seed(0)
    x = torch.rand(1, 2, 3, 4, dtype=torch.float64, requires_grad=True)
    # fractional parts of 4 * (p + flow) stay in (0.2, 0.8): away from the floor's jumps
    flow = (0.05 + 0.1 * torch.rand(1, 2, 3, 4, dtype=torch.float64)).requires_grad_()
    out = spmc_splat(x, flow, scale=4)
    out.pow(2).sum().backward()
    assert x.grad.abs().sum() > 0 and flow.grad.abs().sum() > 0
    assert torch.autograd.gradcheck(lambda a, f: spmc_splat(a, f, 4), (x, flow))


# --------------------------------------------------------------------------------- SPMC model

def _conv(cin, cout, k):
    return cin * cout * k * k + cout


def test_spmc_parameter_count_follows_paper_table():
    # motion estimation (VESPCN coarse + fine), detail fusion net (SPMC paper Table 1), Y channel
    coarse = _conv(2, 24, 5) + _conv(24, 24, 3) + _conv(24, 24, 5) + _conv(24, 24, 3) + _conv(24, 32, 3)
    fine = _conv(5, 24, 5) + 3 * _conv(24, 24, 3) + _conv(24, 8, 3)
    encoder = _conv(1, 32, 5) + _conv(32, 64, 3) + _conv(64, 64, 3) + _conv(64, 128, 3)
    lstm = _conv(128 + 128, 4 * 128, 3)
    decoder = (_conv(128, 128, 3) + _conv(128, 64, 4) + _conv(64, 64, 3) + _conv(64, 32, 4)
               + _conv(32, 32, 3) + _conv(32, 1, 5))
    model = SPMC()
    assert n_params(model.motion_estimation) == coarse + fine == 53_392
    assert n_params(model.detail_fusion) == encoder + lstm + decoder == 1_668_769
    assert n_params(model) == 1_722_161
    assert n_params(SPMC(color="rgb")) == 1_731_363


def test_spmc_forward_shapes_and_padding():
    torch.manual_seed(0)
    model = tiny_spmc()
    assert model(torch.rand(2, 3, 3, 8, 8)).shape == (2, 3, 32, 32)
    steps, flows = model.forward_steps(torch.rand(1, 3, 3, 6, 10))  # padded to 8 x 12 inside
    assert steps.shape == (1, 3, 3, 24, 40)
    assert flows.shape == (1, 3, 2, 6, 10)
    assert model.forward_steps(torch.rand(1, 3, 3, 6, 10))[0].shape == steps.shape
    assert tiny_spmc(color="rgb")(torch.rand(1, 3, 3, 8, 8)).shape == (1, 3, 32, 32)
    with pytest.raises(ValueError, match="num_frames"):
        model(torch.rand(1, 5, 3, 8, 8))


def test_spmc_y_mode_keeps_bicubic_chroma_of_reference():
    torch.manual_seed(0)
    model = tiny_spmc()
    x = torch.rand(1, 3, 3, 8, 8)
    with torch.no_grad():
        out = model(x)
    expected = imresize(rgb_to_ycbcr(x[:, 1]), 4)[:, 1:]
    torch.testing.assert_close(rgb_to_ycbcr(out)[:, 1:], expected, atol=1e-5, rtol=1e-5)


def test_spmc_end_to_end_gradients_and_recurrence():
    torch.manual_seed(0)
    model = tiny_spmc()
    x = torch.rand(1, 3, 3, 8, 8)
    model(x).mean().backward()
    assert model.motion_estimation.coarse[0].weight.grad.abs().sum() > 0  # through the SPMC layer
    assert model.detail_fusion.lstm.conv.weight.grad.abs().sum() > 0
    # the ConvLSTM carries the first frame into the last time step's output
    y = x.clone()
    y[:, 0] = torch.rand(1, 3, 8, 8)
    with torch.no_grad():
        assert not torch.allclose(model(x), model(y))


def test_motion_estimation_flow_range_and_convlstm_state():
    torch.manual_seed(0)
    me = MotionEstimation(in_ch=1, num_feat=4, gain=2.0)
    flow = me(torch.rand(2, 1, 8, 12), torch.rand(2, 1, 8, 12))
    assert flow.shape == (2, 2, 8, 12) and flow.abs().max() <= 4.0  # gain * (|tanh| + |tanh|)
    with pytest.raises(ValueError, match="divisible by 4"):
        me(torch.rand(1, 1, 6, 8), torch.rand(1, 1, 6, 8))
    cell = ConvLSTMCell(3, 5, 3)
    h, c = cell(torch.rand(2, 3, 4, 4))
    assert h.shape == c.shape == (2, 5, 4, 4) and h.abs().max() < 1


def test_spmc_state_dict_round_trip_and_sliding_window(tmp_path):
    torch.manual_seed(0)
    model = tiny_spmc().eval()
    path = tmp_path / "spmc.pth"
    torch.save(model.state_dict(), path)
    clone = tiny_spmc().eval()
    clone.load_state_dict(torch.load(path, weights_only=True))
    clip = torch.rand(4, 3, 8, 8)
    out = sliding_window_sr(clone, clip, clone.num_frames, pad="replicate")
    assert out.shape == (4, 3, 32, 32)
    with torch.no_grad():
        torch.testing.assert_close(out[1], model(clip[None, 0:3])[0])


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_video_archs_on_gpu():
    duf = tiny_duf().cuda()
    assert duf(torch.rand(1, 7, 3, 8, 8, device="cuda")).shape == (1, 3, 32, 32)
    spmc = tiny_spmc().cuda()
    assert spmc(torch.rand(1, 3, 3, 8, 8, device="cuda")).shape == (1, 3, 32, 32)
