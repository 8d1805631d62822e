"""Recognition backbones and two-stream models: shapes, key names, parameter counts, loading, partial BN."""
from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from arsr.recognition import (RECOGNIZERS, STResNet, TSN, build_recognizer, fuse_scores, load_imagenet,
                              normalize, resnet18, resnet34, resnet50)
from arsr.recognition.bninception import BNInception, bninception
from arsr.recognition.bninception import load_imagenet as load_bninception
from arsr.recognition.st_resnet import TemporalConv2d, runs_as_2d, temporal_conv_2d, temporal_conv_3d


def n_params(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def randomised(state: dict[str, torch.Tensor], seed: int = 0) -> dict[str, torch.Tensor]:
    """A fake 'published' file: the same keys and shapes, random values (positive variances)."""
    g = torch.Generator().manual_seed(seed)
    out = {}
    for k, v in state.items():
        if v.is_floating_point():
            r = (
                torch.rand(v.shape, generator=g) + 0.5
                if k.endswith("running_var")
                else torch.randn(v.shape, generator=g)
            )
            out[k] = r
        else:
            out[k] = v.clone()
    return out


# ------------------------------------------------------------------------------------------ ResNet

@pytest.mark.parametrize("build, expected", [
    (resnet18, 11_689_512), (resnet34, 21_797_672), (resnet50, 25_557_032),
])
def test_resnet_param_counts_equal_torchvision(build, expected):
    assert n_params(build()) == expected


def _torchvision_resnet_keys(blocks: tuple[int, ...], bottleneck: bool) -> list[str]:
    """torchvision's state-dict keys, written out from the architecture description."""
    bn = ["weight", "bias", "running_mean", "running_var", "num_batches_tracked"]
    keys = ["conv1.weight"] + [f"bn1.{b}" for b in bn]
    convs = 3 if bottleneck else 2
    for stage, n in enumerate(blocks, start=1):
        for i in range(n):
            p = f"layer{stage}.{i}"
            for c in range(1, convs + 1):
                keys += [f"{p}.conv{c}.weight"] + [f"{p}.bn{c}.{b}" for b in bn]
            if i == 0 and (stage > 1 or bottleneck):  # projection shortcut
                keys += [f"{p}.downsample.0.weight"] + [f"{p}.downsample.1.{b}" for b in bn]
    return keys + ["fc.weight", "fc.bias"]


def test_resnet18_state_dict_keys_match_torchvision():
    expected = _torchvision_resnet_keys((2, 2, 2, 2), bottleneck=False)
    assert len(expected) == 122
    state = resnet18(width=8).state_dict()
    assert list(state) == expected
    assert state["layer2.0.downsample.0.weight"].shape == (16, 8, 1, 1)


def test_resnet50_state_dict_keys_match_torchvision():
    expected = _torchvision_resnet_keys((3, 4, 6, 3), bottleneck=True)
    assert len(expected) == 320
    state = resnet50(width=8, num_classes=7).state_dict()
    assert list(state) == expected
    assert state["fc.weight"].shape == (7, 8 * 8 * 4)
    assert state["layer1.0.conv3.weight"].shape == (32, 8, 1, 1)


@pytest.mark.parametrize("build, in_channels, features", [(resnet18, 10, 8 * 8), (resnet50, 3, 8 * 8 * 4)])
def test_resnet_forward_shapes(build, in_channels, features):
    model = build(num_classes=5, in_channels=in_channels, width=8).eval()
    x = torch.randn(2, in_channels, 64, 64)
    assert model.features(x).shape == (2, features)
    assert model(x).shape == (2, 5)


# ------------------------------------------------------------------------------ ImageNet loading

@pytest.fixture
def fake_resnet18_file(tmp_path):
    """A torchvision-format resnet18 (width 8, 1000 classes) file of random tensors."""
    path = tmp_path / "resnet18-imagenet.pth"
    torch.save(randomised(resnet18(width=8).state_dict()), path)
    return path


def test_load_imagenet_cross_modality_into_flow_model(fake_resnet18_file):
    source = torch.load(fake_resnet18_file, weights_only=True)
    model = resnet18(num_classes=5, in_channels=10, width=8)
    fc_before = model.fc.weight.detach().clone()
    report = load_imagenet(model, fake_resnet18_file)
    state = model.state_dict()

    rgb = source["conv1.weight"]  # (8, 3, 7, 7)
    assert state["conv1.weight"].shape == (8, 10, 7, 7)
    for c in range(10):  # every input channel carries the RGB kernel's channel mean
        torch.testing.assert_close(state["conv1.weight"][:, c], rgb.mean(1))
    torch.testing.assert_close(state["layer3.1.conv2.weight"], source["layer3.1.conv2.weight"])
    torch.testing.assert_close(state["layer4.0.downsample.1.running_var"],
                               source["layer4.0.downsample.1.running_var"])
    assert report == {"dropped": ["fc.bias", "fc.weight"], "adapted": ["conv1.weight"]}
    torch.testing.assert_close(model.fc.weight, fc_before)  # new classifier left as initialised


def test_load_imagenet_rgb_same_classes_loads_everything(fake_resnet18_file):
    model = resnet18(width=8)
    report = load_imagenet(model, fake_resnet18_file)
    source = torch.load(fake_resnet18_file, weights_only=True)
    assert report == {"dropped": [], "adapted": []}
    for k, v in model.state_dict().items():
        torch.testing.assert_close(v, source[k])


def test_load_imagenet_wrong_shape_names_file_and_key(tmp_path):
    path = tmp_path / "wide.pth"
    torch.save(randomised(resnet18(width=16).state_dict()), path)
    with pytest.raises(ValueError, match=r"wide\.pth.*layer1\.0\.conv1\.weight"):
        load_imagenet(resnet18(width=8), path)


def test_load_imagenet_unexpected_and_missing_keys(tmp_path, fake_resnet18_file):
    state = torch.load(fake_resnet18_file, weights_only=True)
    state["extra.weight"] = torch.zeros(3)
    del state["layer2.1.bn2.bias"]
    path = tmp_path / "odd.pth"
    torch.save(state, path)
    with pytest.raises(ValueError) as err:
        load_imagenet(resnet18(width=8), path)
    assert "odd.pth" in str(err.value)
    assert "missing keys: layer2.1.bn2.bias" in str(err.value)
    assert "unexpected keys: extra.weight" in str(err.value)


def test_load_imagenet_missing_file_names_path_and_params_key(tmp_path):
    path = tmp_path / "nowhere.pth"
    with pytest.raises(FileNotFoundError, match=r"nowhere\.pth.*`recognition\.tsn\.pretrained`"):
        load_imagenet(resnet18(width=8), path, params_key="recognition.tsn.pretrained")


# --------------------------------------------------------------------------------- BN-Inception

def test_bninception_layout_and_param_count():
    model = bninception()
    assert n_params(model) == 11_295_240
    state = model.state_dict()
    assert len(state) == 485  # 69 conv+BN pairs (weight, bias + 5 BN entries) and fc
    assert list(state)[:3] == ["conv1_7x7_s2.weight", "conv1_7x7_s2.bias", "conv1_7x7_s2_bn.weight"]
    # input channels of the reference's layers (Cadene's bninception.py / TSN's bn_inception.yaml)
    for name, cin, cout in [("inception_3a_pool_proj", 192, 32), ("inception_3c_3x3_reduce", 320, 128),
                            ("inception_4a_1x1", 576, 224), ("inception_4d_double_3x3_reduce", 608, 160),
                            ("inception_5a_1x1", 1056, 352), ("inception_5b_pool_proj", 1024, 128)]:
        assert state[f"{name}.weight"].shape[:2] == (cout, cin), name
    assert "inception_3c_1x1.weight" not in state and "inception_4e_pool_proj.weight" not in state
    assert state["fc.weight"].shape == (1000, 1024)


def test_bninception_forward_shapes_and_size_error():
    model = BNInception(num_classes=5, in_channels=10, width=16).eval()
    assert model(torch.randn(2, 10, 64, 64)).shape == (2, 5)
    assert model.num_features == 256
    with pytest.raises(ValueError, match="multiples of 32"):
        model(torch.randn(1, 10, 112, 112))


def test_bninception_loads_cadene_last_linear_file(tmp_path):
    state = randomised(BNInception(width=16).state_dict())
    state = {("last_linear." + k[3:] if k.startswith("fc.") else k): v for k, v in state.items()}
    path = tmp_path / "bn_inception.pth"
    torch.save(state, path)
    model = BNInception(num_classes=5, in_channels=10, width=16)
    report = load_bninception(model, path)
    assert report["dropped"] == ["fc.bias", "fc.weight"]
    torch.testing.assert_close(model.conv1_7x7_s2.weight,
                               state["conv1_7x7_s2.weight"].mean(1, keepdim=True).expand(-1, 10, -1, -1))
    torch.testing.assert_close(model.conv1_7x7_s2.bias, state["conv1_7x7_s2.bias"])


# ------------------------------------------------------------------------------------------- TSN

@pytest.mark.parametrize("modality, backbone, channels", [
    ("rgb", "resnet18", 3), ("flow", "resnet18", 10), ("rgb", "bninception", 3), ("flow", "bninception", 10),
])
def test_tsn_forward_shapes(modality, backbone, channels):
    model = TSN(7, modality=modality, backbone=backbone, width=16).eval()
    assert model.sample_channels == channels
    assert model.dropout == (0.8 if modality == "rgb" else 0.7)
    assert model(torch.randn(2, 3, channels, 64, 64)).shape == (2, 7)
    with pytest.raises(ValueError, match="input must be"):
        model(torch.randn(2, 3, channels + 1, 64, 64))


def test_tsn_average_consensus_of_segment_scores():
    model = TSN(4, modality="flow", backbone="resnet18", width=8, num_segments=3).eval()
    nn.init.normal_(model.new_fc.weight)  # TSN's std-0.001 init makes every score near zero
    x = torch.randn(2, 3, 10, 32, 32)
    per_segment = torch.stack([model.new_fc(model.base_model(x[:, s])) for s in range(3)], 1)
    torch.testing.assert_close(model(x), per_segment.mean(1))
    assert model(x[:, :1]).shape == (2, 4)  # any number of segments at test time
    assert model.new_fc.bias.abs().sum() == 0


def test_tsn_state_dict_round_trip_weights_only(tmp_path):
    model = TSN(5, modality="flow", backbone="bninception", width=16).eval()
    assert any(k.startswith("base_model.inception_3a_1x1.") for k in model.state_dict())
    assert {"new_fc.weight", "new_fc.bias"} <= set(model.state_dict())
    path = tmp_path / "tsn_flow.pt"
    torch.save(model.state_dict(), path)
    clone = TSN(5, modality="flow", backbone="bninception", width=16).eval()
    clone.load_state_dict(torch.load(path, weights_only=True))
    x = torch.randn(1, 2, 10, 64, 64)
    torch.testing.assert_close(clone(x), model(x))


def test_tsn_pretrained_flow_is_cross_modality(fake_resnet18_file):
    model = TSN(5, modality="flow", backbone="resnet18", width=8, pretrained=fake_resnet18_file)
    rgb = torch.load(fake_resnet18_file, weights_only=True)["conv1.weight"]
    torch.testing.assert_close(model.base_model.conv1.weight, rgb.mean(1, keepdim=True).expand(-1, 10, -1, -1))
    assert isinstance(model.base_model.fc, nn.Dropout) and model.base_model.fc.p == 0.7


def test_partial_bn_freezes_all_but_first_batchnorm():
    model = TSN(3, modality="flow", backbone="resnet18", width=8)
    model.train()
    bns = model.batchnorms()
    assert bns[0] is model.base_model.bn1 and len(bns) == 20
    assert bns[0].training and bns[0].weight.requires_grad
    assert all(not bn.training and not bn.weight.requires_grad and not bn.bias.requires_grad for bn in bns[1:])
    assert model.new_fc.weight.requires_grad and model.base_model.conv1.weight.requires_grad

    before = [bn.running_mean.clone() for bn in bns]
    model(torch.randn(2, 3, 10, 32, 32) + 3.0)
    assert not torch.equal(bns[0].running_mean, before[0])  # first BN re-estimates its statistics
    assert all(torch.equal(bn.running_mean, b) for bn, b in zip(bns[1:], before[1:]))

    full = TSN(3, modality="flow", backbone="resnet18", width=8, partial_bn=False).train()
    assert all(bn.training and bn.weight.requires_grad for bn in full.batchnorms())


def test_optim_policies_cover_trainable_parameters_once():
    model = TSN(3, modality="flow", backbone="bninception", width=16)
    groups = {g["name"]: g for g in model.optim_policies()}
    assert groups["first_conv_weight"]["params"] == [model.base_model.conv1_7x7_s2.weight]
    assert groups["first_conv_weight"]["lr_mult"] == 5 and groups["first_conv_bias"]["lr_mult"] == 10
    listed = [id(p) for g in groups.values() for p in g["params"]]
    assert len(listed) == len(set(listed))
    assert set(listed) == {id(p) for p in model.parameters() if p.requires_grad}


def test_normalize_per_backbone_and_modality():
    rgb = torch.tensor([0.485, 0.456, 0.406]).view(3, 1, 1).expand(3, 2, 2)
    assert normalize(rgb, "rgb", "resnet50").abs().max() < 1e-6
    x = torch.zeros(2, 1, 6, 2, 2)  # two stacked frames: r, g, b = 1, 0, 0
    x[..., 0, :, :] = 1.0
    x[..., 3, :, :] = 1.0
    y = normalize(x, "rgb", "bninception")  # BGR, [0, 255] minus (104, 117, 128)
    assert y[0, 0, :, 0, 0].tolist() == [-104.0, -117.0, 255.0 - 128.0] * 2
    flow = torch.full((1, 3, 10, 4, 4), 0.5)
    assert normalize(flow, "flow", "resnet18").abs().max() < 1e-6
    assert normalize(torch.full((10, 1, 1), 128 / 255), "flow", "bninception").abs().max() < 1e-4
    model = TSN(3, modality="flow", backbone="resnet18", width=8)
    torch.testing.assert_close(model.normalize(torch.ones(1, 10, 1, 1)), torch.full((1, 10, 1, 1), 0.5 / 0.226))


def test_fuse_scores_weighted_mean():
    rgb = torch.tensor([[1.0, 4.0, -2.0]])
    flow = torch.tensor([[3.0, 0.0, 2.0]])
    torch.testing.assert_close(fuse_scores(rgb, flow), (1.0 * rgb + 1.5 * flow) / 2.5)
    torch.testing.assert_close(fuse_scores(rgb, flow), torch.tensor([[2.2, 1.6, 0.4]]))
    torch.testing.assert_close(fuse_scores(rgb, flow, weights=(1, 0)), rgb)


# ------------------------------------------------------------------------------------- ST-ResNet

def _as_2d(stream: nn.Module, build, in_channels: int) -> nn.Module:
    """The 2D ResNet whose kernels are the centre taps of ``stream``'s temporal convs."""
    state = {k: (v[:, :, v.shape[2] // 2] if v.dim() == 5 else v) for k, v in stream.state_dict().items()}
    model = build(num_classes=5, in_channels=in_channels, width=8)
    model.load_state_dict(state)
    return model.eval()


def _scramble_bn(model: nn.Module, seed: int = 0) -> None:
    """Non-trivial BN statistics, so that eval-mode outputs are not near-constant."""
    g = torch.Generator().manual_seed(seed)
    for m in model.modules():
        if isinstance(m, nn.BatchNorm2d):
            m.running_mean.normal_(0, 0.1, generator=g)
            m.running_var.uniform_(0.5, 1.5, generator=g)
            m.bias.data.normal_(0, 0.1, generator=g)


@pytest.mark.parametrize("depth, build", [(18, resnet18), (50, resnet50)])
def test_st_resnet_starts_as_2d_resnet_per_frame(depth, build):
    torch.manual_seed(0)
    rgb, flow = torch.randn(2, 3, 3, 32, 32), torch.randn(2, 3, 10, 32, 32)
    st = STResNet(5, depth=depth, width=8, motion_links=False, temporal_pool="avg").eval()
    _scramble_bn(st)
    out = st(rgb, flow)
    assert [s.shape for s in out] == [(2, 5)] * 3
    app2d, mot2d = _as_2d(st.appearance, build, 3), _as_2d(st.motion, build, 10)
    per_frame_a = app2d(rgb.flatten(0, 1)).view(2, 3, 5).mean(1)
    per_frame_m = mot2d(flow.flatten(0, 1)).view(2, 3, 5).mean(1)
    torch.testing.assert_close(out.appearance, per_frame_a, atol=1e-5, rtol=1e-4)
    torch.testing.assert_close(out.motion, per_frame_m, atol=1e-5, rtol=1e-4)
    torch.testing.assert_close(out.fused, (per_frame_a + per_frame_m) / 2, atol=1e-5, rtol=1e-4)


def test_st_resnet_motion_links_feed_appearance_only():
    torch.manual_seed(0)
    st = STResNet(5, depth=18, width=8).eval()
    _scramble_bn(st)
    rgb, flow = torch.randn(1, 4, 3, 32, 32), torch.randn(1, 4, 10, 32, 32)
    a, m, _ = st(rgb, flow)
    a2, m2, _ = st(rgb, flow + 1.0)
    assert not torch.allclose(a, a2)  # appearance sees the motion stream
    a3, m3, _ = st(rgb + 1.0, flow)
    torch.testing.assert_close(m3, m)  # nothing flows from appearance to motion
    st.motion_links = False
    a4, _, _ = st(rgb, flow + 1.0)
    torch.testing.assert_close(a4, st(rgb, flow).appearance)


def test_st_resnet_temporal_convs_placement_and_init():
    st = STResNet(5, depth=50, width=8)
    inflated = sorted(k for k, v in st.state_dict().items() if v.dim() == 5)
    assert inflated == sorted(f"{s}.layer{i}.1.conv{c}.weight"
                              for s in ("appearance", "motion") for i in range(1, 5) for c in (1, 3))
    w = st.appearance.layer2[1].conv1.weight  # 1x1 reduce: 4·16 -> 16 channels, 3 taps
    assert w.shape == (16, 64, 3, 1, 1)
    assert w[:, :, 0].abs().sum() == 0 and w[:, :, 2].abs().sum() == 0 and w[:, :, 1].abs().sum() > 0
    assert isinstance(st.motion.layer4[1].conv3, TemporalConv2d)
    assert not isinstance(st.appearance.layer4[0].conv1, TemporalConv2d)
    conv2d = nn.Conv2d(4, 6, 1, bias=False)
    avg = TemporalConv2d(conv2d, init="average")  # the released code's W/3 per tap
    for tap in range(3):
        torch.testing.assert_close(avg.weight[:, :, tap], conv2d.weight / 3)


def _conv3d_reference(x: torch.Tensor, weight: torch.Tensor, frames: int, stride: int, padding: int) -> torch.Tensor:
    """``F.conv3d`` over the clips of ``x (b·t, c, h, w)``, written out here (not the library's)."""
    clips = x.view(-1, frames, *x.shape[1:]).transpose(1, 2)  # (b, c, t, h, w)
    y = F.conv3d(clips, weight, stride=(1, stride, stride), padding=(weight.shape[2] // 2, padding, padding))
    return y.transpose(1, 2).flatten(0, 1)


def _relative(a: torch.Tensor, b: torch.Tensor) -> float:
    # max |a - b| / max |b|
    return float((a - b).detach().abs().max() / b.detach().abs().max())


# (in, out, kernel, stride, padding, t_kernel, clips, frames): the model's BasicBlock 3x3 and
# Bottleneck 1x1 temporal convs at the trainer's and the evaluator's batches, a strided conv,
# and clips shorter than the temporal kernel
CONV_CASES = [(8, 8, 3, 1, 1, 3, 4, 5), (8, 8, 3, 1, 1, 3, 1, 10), (16, 4, 1, 1, 0, 3, 2, 5),
              (16, 4, 1, 1, 0, 3, 1, 3), (6, 10, 3, 2, 1, 3, 2, 4), (5, 7, 3, 1, 1, 5, 2, 2),
              (5, 7, 3, 1, 1, 3, 3, 1)]


@pytest.mark.parametrize("channels_last", [False, True])
@pytest.mark.parametrize("form", [temporal_conv_2d, temporal_conv_3d])
@pytest.mark.parametrize("c_in, c_out, k, stride, padding, t_kernel, clips, frames", CONV_CASES)
def test_temporal_conv_forms_equal_conv3d_forward_and_backward(c_in, c_out, k, stride, padding, t_kernel, clips,
                                                               frames, form, channels_last):
    g = torch.Generator().manual_seed(c_in * 100 + frames)
    x = torch.randn(clips * frames, c_in, 9, 11, generator=g)
    if channels_last:  # the layout the recognisers run in (channels_last_convs)
        x = x.contiguous(memory_format=torch.channels_last)
    w = torch.randn(c_out, c_in, t_kernel, k, k, generator=g)
    x1, w1 = x.clone().requires_grad_(), w.clone().requires_grad_()
    x2, w2 = x.clone().requires_grad_(), w.clone().requires_grad_()
    y = form(x1, w1, frames, (stride, stride), (padding, padding))
    ref = _conv3d_reference(x2, w2, frames, stride, padding)
    assert y.shape == ref.shape
    assert _relative(y, ref) < 1e-5
    upstream = torch.randn(ref.shape, generator=g)
    (y * upstream).sum().backward()
    (ref * upstream).sum().backward()
    assert _relative(x1.grad, x2.grad) < 1e-5
    assert _relative(w1.grad, w2.grad) < 1e-5


@pytest.mark.parametrize("clips", [1, 3])
def test_temporal_conv_module_equals_conv3d_with_its_weight(clips):
    """The module runs the 2D form for one clip on CPU, F.conv3d for several; either way the values
    and the gradient of its one 5-D parameter (state-dict key ``weight``) are conv3d's."""
    torch.manual_seed(clips)
    conv = TemporalConv2d(nn.Conv2d(6, 5, 3, padding=1, bias=False))
    nn.init.normal_(conv.weight)
    assert list(conv.state_dict()) == ["weight"] and conv.weight.shape == (5, 6, 3, 3, 3)
    x = torch.randn(clips * 4, 6, 8, 8)
    assert runs_as_2d(x, frames=4) == (clips == 1)
    y = conv(x, frames=4)
    ref_w = conv.weight.detach().clone().requires_grad_()
    ref = _conv3d_reference(x, ref_w, 4, 1, 1)
    assert _relative(y, ref) < 1e-5
    y.square().sum().backward()
    ref.square().sum().backward()
    assert _relative(conv.weight.grad, ref_w.grad) < 1e-5


def test_st_resnet_one_clip_scores_as_in_a_batch():
    """A clip alone (temporal convs as 2D convs) and in a batch of two (F.conv3d): the same scores."""
    torch.manual_seed(0)
    st = STResNet(5, depth=18, width=8).eval()
    _scramble_bn(st)
    for m in st.modules():
        if isinstance(m, TemporalConv2d):
            nn.init.kaiming_normal_(m.weight)
    rgb, flow = torch.randn(2, 4, 3, 32, 32), torch.randn(2, 4, 10, 32, 32)
    with torch.no_grad():
        batch, alone = st(rgb, flow), st(rgb[:1], flow[:1])
    for a, b in zip(alone, batch):
        assert _relative(a, b[:1]) < 1e-5


def test_temporal_conv_mixes_neighbouring_frames_only():
    conv = TemporalConv2d(nn.Conv2d(2, 3, 1, bias=False))
    nn.init.normal_(conv.weight)
    x = torch.randn(1 * 5, 2, 4, 4)  # one clip of 5 frames
    y = conv(x, frames=5)
    x2 = x.clone()
    x2[0] += 1.0
    changed = (conv(x2, frames=5) - y).abs().flatten(1).amax(1) > 0
    assert changed.tolist() == [True, True, False, False, False]


def test_st_resnet_load_imagenet_both_streams(fake_resnet18_file):
    source = torch.load(fake_resnet18_file, weights_only=True)
    st = STResNet(5, depth=18, width=8)
    st.load_imagenet(fake_resnet18_file)
    torch.testing.assert_close(st.appearance.conv1.weight, source["conv1.weight"])
    averaged = source["conv1.weight"].mean(1, keepdim=True).expand(-1, 10, -1, -1)
    torch.testing.assert_close(st.motion.conv1.weight, averaged)
    for stream in (st.appearance, st.motion):
        w = stream.layer3[1].conv1.weight
        torch.testing.assert_close(w[:, :, 1], source["layer3.1.conv1.weight"])
        assert w[:, :, [0, 2]].abs().sum() == 0
        torch.testing.assert_close(stream.layer3[1].conv2.weight, source["layer3.1.conv2.weight"])


def test_st_resnet_max_pool_over_time_and_errors():
    st = STResNet(5, depth=18, width=8, temporal_pool="max").eval()
    assert st(torch.randn(1, 7, 3, 32, 32), torch.randn(1, 7, 10, 32, 32)).fused.shape == (1, 5)
    assert st(torch.randn(1, 2, 3, 32, 32), torch.randn(1, 2, 10, 32, 32)).fused.shape == (1, 5)
    with pytest.raises(ValueError, match="equal b and t"):
        st(torch.randn(1, 3, 3, 32, 32), torch.randn(1, 2, 10, 32, 32))


def test_st_resnet50_default_param_count():
    # Each stream: ResNet-50 (101 classes) plus two extra taps on 8 inflated 1x1 convs per stream.
    st = STResNet(101)
    extra = 2 * sum(w.numel() for k, w in st.appearance.state_dict().items() if w.dim() == 5) // 3
    assert n_params(st.appearance) == n_params(resnet50(num_classes=101)) + extra
    assert n_params(st) == 58_593_034


def test_build_recognizer_from_config():
    model = build_recognizer({"type": "tsn", "num_classes": 4, "modality": "flow",
                              "backbone": "resnet18", "width": 8})
    assert isinstance(model, TSN) and model.modality == "flow"
    assert set(RECOGNIZERS) == {"tsn", "st_resnet"}
    with pytest.raises(ValueError, match="type"):
        build_recognizer({"num_classes": 4})


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")
def test_models_on_gpu_match_cpu():
    torch.manual_seed(0)
    st = STResNet(5, depth=18, width=8).eval()
    tsn = TSN(5, modality="flow", backbone="bninception", width=16).eval()
    rgb, flow = torch.randn(1, 3, 3, 32, 32), torch.randn(1, 3, 10, 64, 64)
    cpu = (st(rgb, flow[..., :32, :32]).fused, tsn(flow))
    st.cuda(), tsn.cuda()
    gpu = (st(rgb.cuda(), flow[..., :32, :32].cuda()).fused, tsn(flow.cuda()))
    for c, g in zip(cpu, gpu):
        torch.testing.assert_close(g.cpu(), c, atol=1e-4, rtol=1e-3)
