"""Optical flow: convention, accuracy on a known translation, clips, 8-bit storage, figures."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from arsr import flow as F
from arsr.flow import compute_flow, compute_flows, dequantize, flow_magnitude, flow_to_rgb, quantize
from arsr.ops import warp

SHIFT = (1.3, -0.7)  # (dx, dy) pixels


def _texture(h=96, w=128, seed=0) -> np.ndarray:
    """Smooth, periodic random texture in [0, 1] (band-limited noise)."""
    rng = np.random.default_rng(seed)
    ky, kx = np.fft.fftfreq(h)[:, None], np.fft.fftfreq(w)[None, :]
    spec = np.fft.fft2(rng.standard_normal((h, w))) * np.exp(-(kx ** 2 + ky ** 2) / (2 * 0.06 ** 2))
    img = np.real(np.fft.ifft2(spec))
    return (img - img.min()) / (img.max() - img.min())


def _translate(img: np.ndarray, dx: float, dy: float) -> np.ndarray:
    """Exact sub-pixel translation of a periodic image: out(p) = img(p - (dx, dy))."""
    h, w = img.shape
    ky, kx = np.fft.fftfreq(h)[:, None], np.fft.fftfreq(w)[None, :]
    return np.real(np.fft.ifft2(np.fft.fft2(img) * np.exp(-2j * np.pi * (kx * dx + ky * dy))))


def _u8(img):
    return np.clip(np.rint(img * 255), 0, 255).astype(np.uint8)


@pytest.fixture(scope="module")
def pair():
    img = _texture()
    rgb = lambda a: np.repeat(_u8(a)[..., None], 3, axis=2)  # noqa: E731
    return rgb(img), rgb(_translate(img, *SHIFT))


@pytest.mark.parametrize("method,tol", [("tvl1", 0.2), ("dis", 0.2), ("farneback", 0.35)])
def test_recovers_subpixel_translation(pair, method, tol):
    prev, nxt = pair
    flow = compute_flow(prev, nxt, method)
    assert flow.shape == (96, 128, 2) and flow.dtype == np.float32
    inner = flow[16:-16, 16:-16]
    err = np.hypot(inner[..., 0] - SHIFT[0], inner[..., 1] - SHIFT[1])
    assert np.median(err) < tol, f"{method}: median end-point error {np.median(err):.3f} px"


def test_warping_next_by_flow_reproduces_prev(pair):
    prev, nxt = pair
    flow = compute_flow(prev, nxt, "dis")
    to_t = lambda a: torch.from_numpy(a.astype(np.float32)).permute(2, 0, 1)[None]  # noqa: E731
    warped = warp(to_t(nxt), torch.from_numpy(flow).permute(2, 0, 1)[None])
    inner = (slice(None), slice(None), slice(16, -16), slice(16, -16))
    before = (to_t(nxt) - to_t(prev))[inner].abs().mean()
    after = (warped - to_t(prev))[inner].abs().mean()
    assert after < 0.25 * before, (float(before), float(after))


def test_grey_input_and_options(pair):
    prev, nxt = pair
    np.testing.assert_array_equal(compute_flow(prev[..., 0], nxt[..., 0], "dis"),
                                  compute_flow(prev, nxt, "dis"))
    fast = compute_flow(prev, nxt, "dis", preset="ultrafast")
    assert fast.shape == (96, 128, 2)
    coarse = compute_flow(prev, nxt, "farneback", winsize=9, levels=2)
    assert np.isfinite(coarse).all()


def test_estimators_are_cached_per_process():
    a = F._estimator("dis", {"preset": "fast"})
    assert F._estimator("dis", {"preset": "fast"}) is a
    assert F._estimator("dis", {"preset": "medium"}) is not a
    t = F._estimator("tvl1", {"tau": 0.2})
    assert t.getTau() == pytest.approx(0.2)


def test_compute_flows_over_a_clip(pair):
    prev, nxt = pair
    clip = np.stack([prev, nxt, prev])
    flows = compute_flows(clip, "dis")
    assert flows.shape == (2, 96, 128, 2) and flows.dtype == np.float32
    np.testing.assert_array_equal(flows[1], compute_flow(nxt, prev, "dis"))
    # going back undoes going forward
    assert np.median(flows[1][16:-16, 16:-16, 0]) == pytest.approx(-SHIFT[0], abs=0.2)


def test_quantize_round_trip_and_tsn_values():
    bound = 20.0
    f = np.random.default_rng(0).uniform(-bound, bound, (16, 16, 2)).astype(np.float32)
    q = quantize(f, bound)
    assert q.dtype == np.uint8
    step = 2 * bound / 255
    assert np.abs(dequantize(q, bound) - f).max() <= step / 2 + 1e-5
    assert dequantize(q, bound).dtype == np.float32
    np.testing.assert_array_equal(quantize(np.array([-bound, 0.0, bound, -50.0, 50.0]), bound),
                                  [0, 128, 255, 0, 255])
    np.testing.assert_array_equal(quantize(dequantize(q, bound), bound), q)


def test_magnitude_and_colour_coding():
    flow = np.zeros((4, 5, 2), dtype=np.float32)
    flow[0, 0] = (3.0, 4.0)
    flow[1, 1] = (2.0, 0.0)  # pointing right: hue 0 = red
    mag = flow_magnitude(flow)
    assert mag.shape == (4, 5) and mag[0, 0] == pytest.approx(5.0)
    rgb = flow_to_rgb(flow)
    assert rgb.shape == (4, 5, 3) and rgb.dtype == np.uint8
    assert (rgb[2, 2] == 0).all()  # no motion: black
    assert tuple(rgb[0, 0]) != (0, 0, 0) and rgb[0, 0].max() == 255  # the largest is at full value
    r, g, b = (int(c) for c in flow_to_rgb(flow, max_mag=2.0)[1, 1])
    assert r == 255 and g == 0 and b == 0


def test_bad_inputs(pair):
    prev, nxt = pair
    with pytest.raises(ValueError, match="tvl1"):
        compute_flow(prev, nxt, "flownet")
    with pytest.raises(ValueError, match="same size"):
        compute_flow(prev, nxt[:-1], "dis")
    with pytest.raises(TypeError, match="uint8"):
        compute_flow(prev.astype(np.float32) / 255, nxt, "dis")
    with pytest.raises(ValueError, match="RGB"):
        compute_flow(prev[..., :2], nxt[..., :2], "dis")
    with pytest.raises(ValueError, match="allowed"):
        compute_flow(prev, nxt, "dis", winsize=5)
    with pytest.raises(ValueError, match="preset"):
        compute_flow(prev, nxt, "dis", preset="slow")
    with pytest.raises(ValueError, match="t >= 2"):
        compute_flows(prev[None], "dis")
    with pytest.raises(TypeError, match="uint8"):
        dequantize(np.zeros(3, dtype=np.float32))


def test_tvl1_keeps_its_scales_after_a_small_image(pair):
    """OpenCV's TV-L1 lowers its stored number of scales for good after a small image; the cached
    estimator must give the same flow before and after one."""
    prev, nxt = pair
    before = compute_flow(prev, nxt, "tvl1", warps=1, inner_iterations=5, outer_iterations=2)
    small = prev[:24, :24]
    compute_flow(small, small, "tvl1", warps=1, inner_iterations=5, outer_iterations=2)
    after = compute_flow(prev, nxt, "tvl1", warps=1, inner_iterations=5, outer_iterations=2)
    np.testing.assert_array_equal(before, after)


@pytest.mark.parametrize("options", [{}, {"preset": "fast"}, {"finest_scale": 2}])
def test_dis_keeps_its_finest_scale_after_a_small_image(pair, options):
    """OpenCV's DIS lowers its stored finest scale for good after a small image (medium: 1 -> 0
    after a 32x32 pair; found when a sharded prepare gave other flow than the single process that
    had scored 32x32 clips before); the cached estimator must give the same flow before and after."""
    prev, nxt = pair
    before = compute_flow(prev, nxt, "dis", **options)
    small = np.ascontiguousarray(prev[:32, :32])
    compute_flow(small, small, "dis", **options)
    after = compute_flow(prev, nxt, "dis", **options)
    np.testing.assert_array_equal(before, after)
