"""Backward warping by a pixel flow: convention, sub-pixel accuracy, mask and gradients."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from arsr.ops import warp


def _const_flow(b, h, w, u, v, dtype=torch.float64):
    flow = torch.empty(b, 2, h, w, dtype=dtype)
    flow[:, 0], flow[:, 1] = u, v
    return flow


def _bilinear_reference(img: np.ndarray, flow: np.ndarray) -> np.ndarray:
    """Plain per-pixel bilinear sampling with edge clamping; img (h, w), flow (2, h, w)."""
    h, w = img.shape
    out = np.empty_like(img)
    for y in range(h):
        for x in range(w):
            sx = min(max(x + flow[0, y, x], 0.0), w - 1.0)
            sy = min(max(y + flow[1, y, x], 0.0), h - 1.0)
            x0, y0 = int(np.floor(sx)), int(np.floor(sy))
            x1, y1 = min(x0 + 1, w - 1), min(y0 + 1, h - 1)
            ax, ay = sx - x0, sy - y0
            out[y, x] = ((1 - ay) * ((1 - ax) * img[y0, x0] + ax * img[y0, x1])
                         + ay * ((1 - ax) * img[y1, x0] + ax * img[y1, x1]))
    return out


def test_zero_and_integer_flows_are_exact():
    x = torch.rand(2, 3, 9, 11, dtype=torch.float64)
    torch.testing.assert_close(warp(x, torch.zeros(2, 2, 9, 11, dtype=torch.float64)), x)
    out = warp(x, _const_flow(2, 9, 11, 2.0, -1.0))  # out(y, x) = x(y - 1, x + 2)
    torch.testing.assert_close(out[..., 1:, :-2], x[..., :-1, 2:])


def test_subpixel_translation_of_linear_image_is_exact_inside():
    h, w = 12, 16
    yy, xx = torch.meshgrid(torch.arange(h, dtype=torch.float64),
                            torch.arange(w, dtype=torch.float64), indexing="ij")
    img = (0.3 * xx + 0.2 * yy + 1.0)[None, None]
    out = warp(img, _const_flow(1, h, w, 0.4, -0.7))
    expected = img + 0.3 * 0.4 + 0.2 * (-0.7)
    torch.testing.assert_close(out[..., 1:, :-1], expected[..., 1:, :-1])


def test_matches_plain_bilinear_with_border_clamping():
    rng = np.random.default_rng(0)
    img = rng.random((7, 8))
    flow = rng.uniform(-2.5, 2.5, (2, 7, 8))
    out = warp(torch.from_numpy(img)[None, None], torch.from_numpy(flow)[None])
    np.testing.assert_allclose(out[0, 0].numpy(), _bilinear_reference(img, flow), atol=1e-12)


def test_mask_marks_samples_inside_the_image():
    h, w = 6, 8
    flow = _const_flow(1, h, w, 1.5, 0.0)
    flow[0, 1, 0, 0] = -0.5  # pixel (0, 0) samples y = -0.5: outside
    out, mask = warp(torch.ones(1, 2, h, w, dtype=torch.float64), flow, return_mask=True)
    assert mask.shape == (1, 1, h, w)
    # columns 0..5 sample x = 1.5..6.5 (inside), columns 6 and 7 sample 7.5 and 8.5 (outside)
    expected = torch.ones(h, w, dtype=torch.float64)
    expected[:, w - 2:] = 0
    expected[0, 0] = 0
    torch.testing.assert_close(mask[0, 0], expected)
    torch.testing.assert_close(out, torch.ones_like(out))  # border mode repeats the edge
    out0 = warp(torch.ones(1, 1, h, w, dtype=torch.float64), flow, padding_mode="zeros")
    assert out0[0, 0, 3, w - 1] == 0 and out0[0, 0, 3, 2] == 1


def test_gradients_reach_image_and_flow():
    torch.manual_seed(0)
    x = torch.rand(1, 2, 5, 6, dtype=torch.float64, requires_grad=True)
    flow = (torch.rand(1, 2, 5, 6, dtype=torch.float64) * 0.8 + 0.1).requires_grad_(True)
    assert torch.autograd.gradcheck(lambda a, f: warp(a, f, padding_mode="zeros"), (x, flow))
    out = warp(x, flow)
    out.sum().backward()
    assert x.grad.abs().sum() > 0 and flow.grad.abs().sum() > 0


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")
def test_cuda_matches_cpu():
    x, flow = torch.rand(2, 3, 16, 16), torch.randn(2, 2, 16, 16)
    torch.testing.assert_close(warp(x.cuda(), flow.cuda()).cpu(), warp(x, flow), atol=1e-5, rtol=0)


def test_bad_inputs():
    x = torch.rand(1, 3, 8, 8)
    with pytest.raises(ValueError, match=r"\(b, 2, h, w\)"):
        warp(x, torch.zeros(1, 8, 8, 2))
    with pytest.raises(ValueError, match="match"):
        warp(x, torch.zeros(1, 2, 8, 9))
    with pytest.raises(ValueError, match="padding_mode"):
        warp(x, torch.zeros(1, 2, 8, 8), padding_mode="wrap")
    with pytest.raises(ValueError, match=r"\(b, c, h, w\)"):
        warp(x[0], torch.zeros(1, 2, 8, 8))


def test_bf16_image_keeps_subpixel_positions():
    """A bf16 image is sampled at float32 positions (bf16 would round 100.3 to 100.5)."""
    import torch

    from arsr.ops import warp

    x = (torch.arange(128) % 2).float().repeat(1, 1, 4, 1)  # columns 0, 1, 0, 1, ...
    flow = torch.zeros(1, 2, 4, 128)
    flow[:, 0] = 0.3
    out = warp(x.to(torch.bfloat16), flow)
    assert out.dtype == torch.bfloat16
    ref = warp(x, flow).to(torch.bfloat16)
    assert torch.equal(out[..., 1:-2], ref[..., 1:-2])
