"""BT.601 RGB <-> YCbCr with MATLAB rgb2ycbcr semantics, torch and numpy."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from arsr.metrics import y_channel
from arsr.ops import rgb_to_y, rgb_to_ycbcr, ycbcr_to_rgb


@pytest.mark.parametrize("rgb,ycbcr", [
    ((0, 0, 0), (16, 128, 128)),
    ((1, 1, 1), (235, 128, 128)),
    ((1, 0, 0), (16 + 65.481, 128 - 37.797, 128 + 112.0)),
    ((0, 1, 0), (16 + 128.553, 128 - 74.203, 128 - 93.786)),
    ((0, 0, 1), (16 + 24.966, 128 + 112.0, 128 - 18.214)),
])
def test_matlab_values(rgb, ycbcr):
    x = np.array(rgb, dtype=np.float64).reshape(1, 1, 3)
    np.testing.assert_allclose(rgb_to_ycbcr(x)[0, 0] * 255, ycbcr, atol=1e-9)
    t = torch.tensor(rgb, dtype=torch.float64).reshape(1, 3, 1, 1)
    np.testing.assert_allclose(rgb_to_ycbcr(t)[0, :, 0, 0].numpy() * 255, ycbcr, atol=1e-9)


def test_round_trip_and_layouts():
    rng = np.random.default_rng(0)
    x = rng.random((5, 6, 3))
    np.testing.assert_allclose(ycbcr_to_rgb(rgb_to_ycbcr(x)), x, atol=1e-12)
    t = torch.from_numpy(rng.random((2, 4, 3, 5, 6)))  # (b, t, c, h, w)
    np.testing.assert_allclose(ycbcr_to_rgb(rgb_to_ycbcr(t)).numpy(), t.numpy(), atol=1e-12)
    # numpy channel-last and torch channel-first give the same numbers
    tn = torch.from_numpy(x.transpose(2, 0, 1).copy())
    np.testing.assert_allclose(rgb_to_ycbcr(tn).numpy().transpose(1, 2, 0), rgb_to_ycbcr(x), atol=1e-12)


def test_rgb_to_y_shapes_and_consistency():
    rng = np.random.default_rng(1)
    t = torch.rand(2, 3, 7, 5)
    y = rgb_to_y(t)
    assert y.shape == (2, 1, 7, 5) and y.dtype == torch.float32
    torch.testing.assert_close(y, rgb_to_ycbcr(t)[:, :1])
    assert 16 / 255 - 1e-6 <= y.min() and y.max() <= 235 / 255 + 1e-6
    x32 = rng.random((7, 5, 3)).astype(np.float32)
    yn = rgb_to_y(x32)
    assert yn.shape == (7, 5) and yn.dtype == np.float32
    # the metrics' Y of uint8 frames is the same transform on the 0-255 scale
    u8 = rng.integers(0, 256, (7, 5, 3), dtype=np.uint8)
    np.testing.assert_allclose(rgb_to_y(u8 / 255.0) * 255, y_channel(u8), atol=1e-9)


def test_gradient_flows():
    t = torch.rand(1, 3, 4, 4, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda a: ycbcr_to_rgb(rgb_to_ycbcr(a) ** 2), (t,))
    rgb_to_y(t).sum().backward()
    np.testing.assert_allclose(t.grad[0, :, 0, 0].numpy(), np.array([65.481, 128.553, 24.966]) / 255)


def test_bad_inputs():
    with pytest.raises(TypeError, match="255"):
        rgb_to_y(np.zeros((4, 4, 3), dtype=np.uint8))
    with pytest.raises(ValueError, match=r"\(h, w, 3\)"):
        rgb_to_ycbcr(np.zeros((3, 4, 4)))
    with pytest.raises(ValueError, match=r"\(\.\.\., 3, h, w\)"):
        rgb_to_ycbcr(torch.zeros(1, 4, 4, 3))
    with pytest.raises(TypeError, match="numpy array or torch tensor"):
        ycbcr_to_rgb([0.5, 0.5, 0.5])
