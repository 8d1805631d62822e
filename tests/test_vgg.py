"""VGG19 feature extractor: torchvision's layout, loading a vgg19-*.pth, freezing, truncation."""
from __future__ import annotations

import warnings

import pytest
import torch
from torch import nn

from arsr.archs.arch_util import count_parameters
from arsr.archs.vgg_arch import VGG19_LAYERS, VGGFeatureExtractor, vgg19_features


def _extractor(**kw) -> VGGFeatureExtractor:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return VGGFeatureExtractor(**kw)


def _fake_torchvision_vgg19(seed: int = 0) -> dict[str, torch.Tensor]:
    """A state dict with every key of torchvision's vgg19() (features at their real shapes; the
    classifier, which the extractor ignores, with real names but small shapes)."""
    torch.manual_seed(seed)
    sd = {f"features.{k}": v.clone() for k, v in vgg19_features("pool5").state_dict().items()}
    for i, (o, n) in {0: (8, 16), 3: (8, 8), 6: (10, 8)}.items():
        sd[f"classifier.{i}.weight"] = torch.randn(o, n)
        sd[f"classifier.{i}.bias"] = torch.randn(o)
    return sd


def test_torchvision_layout():
    features = vgg19_features("pool5")
    assert len(features) == 37 == len(VGG19_LAYERS)
    sd = features.state_dict()
    convs = [k for k in sd if k.endswith(".weight")]
    assert convs == [f"{i}.weight" for i in (0, 2, 5, 7, 10, 12, 14, 16, 19, 21, 23, 25, 28, 30, 32, 34)]
    assert sd["34.weight"].shape == (512, 512, 3, 3)  # conv5_4
    assert sd["0.weight"].shape == (64, 3, 3, 3)
    assert sd["19.weight"].shape == (512, 256, 3, 3)  # conv4_1
    assert isinstance(features[36], nn.MaxPool2d) and isinstance(features[35], nn.ReLU)


def test_truncates_at_the_requested_layer():
    assert len(vgg19_features("conv5_4")) == 35
    assert isinstance(vgg19_features("conv5_4", before_relu=False)[-1], nn.ReLU)
    assert len(vgg19_features("relu2_2")) == 9
    extractor = _extractor()
    assert list(extractor.state_dict())[-1] == "features.34.bias"
    assert count_parameters(extractor) == 20_024_384  # all 16 convs of VGG19
    with pytest.raises(ValueError, match="conv6_1"):
        vgg19_features("conv6_1")


def test_without_weights_warns_and_says_not_pretrained():
    with pytest.warns(UserWarning, match="RANDOM VGG19 weights"):
        extractor = VGGFeatureExtractor(layer="conv1_2")
    assert extractor.pretrained is False


def test_missing_weights_file_says_where_to_get_one(tmp_path):
    path = tmp_path / "vgg19-dcbb9e9d.pth"
    with pytest.raises(FileNotFoundError) as err:
        VGGFeatureExtractor(weights_path=path)
    assert str(path) in str(err.value) and "download.pytorch.org/models/vgg19" in str(err.value)


def test_full_torchvision_state_dict_loads(tmp_path):
    sd = _fake_torchvision_vgg19()
    path = tmp_path / "vgg19-fake.pth"
    torch.save(sd, path)
    extractor = VGGFeatureExtractor(weights_path=path)
    assert extractor.pretrained is True
    got = extractor.state_dict()
    assert set(got) == {k for k in sd if k.startswith("features.") and int(k.split(".")[1]) <= 34}
    assert all(torch.equal(got[k], sd[k]) for k in got)
    out = extractor(torch.rand(1, 3, 32, 32))
    assert out.shape == (1, 512, 2, 2)
    assert (out < 0).any()  # before the ReLU

    short = VGGFeatureExtractor(layer="relu2_2", weights_path=path)  # ignores features.9+ too
    assert torch.equal(short.features[7].weight, sd["features.7.weight"])
    assert short(torch.rand(1, 3, 16, 16)).shape == (1, 128, 8, 8)


def test_wrong_weights_file_names_file_and_keys(tmp_path):
    sd = _fake_torchvision_vgg19()
    sd["features.34.weight"] = torch.zeros(512, 256, 3, 3)
    del sd["features.2.bias"]
    path = tmp_path / "vgg19-broken.pth"
    torch.save(sd, path)
    with pytest.raises(ValueError) as err:
        VGGFeatureExtractor(weights_path=path)
    msg = str(err.value)
    assert str(path) in msg and "features.2.bias" in msg and "features.34.weight" in msg


def test_frozen_and_always_in_eval_mode():
    extractor = _extractor(layer="conv2_1")
    assert not any(p.requires_grad for p in extractor.parameters())
    extractor.train()
    assert not extractor.training and not any(m.training for m in extractor.modules())
    x = torch.rand(1, 3, 8, 8, requires_grad=True)
    extractor(x).square().sum().backward()
    assert x.grad is not None and x.grad.abs().sum() > 0  # the loss still reaches the SR image
    assert all(p.grad is None for p in extractor.parameters())


def test_input_normalisation_and_relu_option():
    torch.manual_seed(0)
    extractor = _extractor(layer="conv1_2")
    raw = _extractor(layer="conv1_2", use_input_norm=False)
    raw.load_state_dict(extractor.state_dict())
    x = torch.rand(2, 3, 8, 8)
    mean = torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1)
    std = torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1)
    torch.testing.assert_close(extractor(x), raw((x - mean) / std))

    after = _extractor(layer="conv1_2", before_relu=False)
    after.load_state_dict(extractor.state_dict())
    torch.testing.assert_close(after(x), extractor(x).clamp_min(0))
