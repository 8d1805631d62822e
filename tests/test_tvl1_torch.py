"""TV-L1 flow in PyTorch: a known translation, identical frames, batching, OpenCV's building
blocks, and agreement with OpenCV's DualTVL1OpticalFlow on real UCF101 frames."""
from __future__ import annotations

import cv2
import numpy as np
import pytest
import torch

from arsr.data.video import read_video
from arsr.flow import compute_flow, compute_flows
from arsr import flow as flow_module
from arsr.ops.tvl1 import _median_blur, _resize_linear, _warp_bicubic, tvl1_flow

SHIFT = (1.3, -0.7)  # (dx, dy) pixels
UCF_CLIP = "ucf101_sample/v_Basketball_g01_c01.avi"
# Two pairs (t, t + 1) with the most motion in the first 60 frames: a player moving in front of a
# static camera, 3-4 % of the pixels moving by more than half a pixel; many other pairs are
# near-duplicates.
UCF_PAIRS = (43, 55)


def _texture(h=96, w=128, seed=0) -> np.ndarray:
    """Smooth, periodic random texture on 0..255 (band-limited noise)."""
    rng = np.random.default_rng(seed)
    ky, kx = np.fft.fftfreq(h)[:, None], np.fft.fftfreq(w)[None, :]
    spec = np.fft.fft2(rng.standard_normal((h, w))) * np.exp(-(kx ** 2 + ky ** 2) / (2 * 0.06 ** 2))
    img = np.real(np.fft.ifft2(spec))
    return 255.0 * (img - img.min()) / (img.max() - img.min())


def _translate(img: np.ndarray, dx: float, dy: float) -> np.ndarray:
    """Exact sub-pixel translation of a periodic image: out(p) = img(p - (dx, dy))."""
    h, w = img.shape
    ky, kx = np.fft.fftfreq(h)[:, None], np.fft.fftfreq(w)[None, :]
    return np.real(np.fft.ifft2(np.fft.fft2(img) * np.exp(-2j * np.pi * (kx * dx + ky * dy))))


def _t(*imgs: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.stack(imgs).astype(np.float32))


def _epe(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """End-point difference of two (..., 2) flows."""
    return np.hypot(a[..., 0] - b[..., 0], a[..., 1] - b[..., 1])


def test_recovers_subpixel_translation():
    img = _texture()
    flow = tvl1_flow(_t(img), _t(_translate(img, *SHIFT)))
    assert flow.shape == (1, 2, 96, 128) and flow.dtype == torch.float32
    inner = flow[0, :, 16:-16, 16:-16].permute(1, 2, 0).numpy()
    err = _epe(inner, np.array(SHIFT))
    # TV-L1 shrinks the motion a little: OpenCV's own median error here is 0.058 px
    assert np.median(err) < 0.1, f"median end-point error {np.median(err):.3f} px"
    assert np.percentile(err, 95) < 0.1, f"95th percentile {np.percentile(err, 95):.3f} px"


def test_identical_frames_give_zero_flow():
    img = _texture(64, 80, seed=1)
    flow = tvl1_flow(_t(img), _t(img))
    assert flow.abs().max() < 1e-3


def test_batch_equals_pairs_one_by_one():
    imgs = [_texture(64, 80, seed=s) for s in range(3)]
    shifts = [(1.3, -0.7), (-2.1, 0.4), (0.0, 0.0)]  # the last pair stops iterating first
    prev = _t(*imgs)
    nxt = _t(*(_translate(a, *d) for a, d in zip(imgs, shifts)))
    options = dict(nscales=3, warps=3)  # fewer iterations; the stopping rule still acts per pair
    batch = tvl1_flow(prev.unsqueeze(1), nxt.unsqueeze(1), **options)  # (n, 1, h, w) input
    for i in range(3):
        alone = tvl1_flow(prev[i:i + 1], nxt[i:i + 1], **options)
        torch.testing.assert_close(batch[i:i + 1], alone, atol=1e-5, rtol=0)


def test_building_blocks_match_opencv():
    rng = np.random.default_rng(0)
    img = (rng.random((41, 67)) * 255).astype(np.float32)
    as_t = lambda a: torch.from_numpy(a)[None, None]  # noqa: E731
    # pyramid: resize by the factor (OpenCV rounds 41 * 0.8 = 32.8 to 33)
    down = cv2.resize(img, None, fx=0.8, fy=0.8, interpolation=cv2.INTER_LINEAR)
    ours = _resize_linear(as_t(img), down.shape, (1 / 0.8, 1 / 0.8))[0, 0].numpy()
    np.testing.assert_allclose(ours, down, atol=1e-3)
    # flow upsampling: resize to the finer level's size
    up = cv2.resize(down, (67, 41), interpolation=cv2.INTER_LINEAR)
    ours = _resize_linear(as_t(down), (41, 67), (33 / 41, 54 / 67))[0, 0].numpy()
    np.testing.assert_allclose(ours, up, atol=1e-2)
    # warping: bicubic remap, zero outside
    flow = (rng.standard_normal((2, 41, 67)) * 3).astype(np.float32)
    map_x = np.arange(67, dtype=np.float32)[None] + flow[0]
    map_y = np.arange(41, dtype=np.float32)[:, None] + flow[1]
    remapped = cv2.remap(img, map_x, map_y, cv2.INTER_CUBIC)
    ours = _warp_bicubic(as_t(img), torch.from_numpy(flow)[None])[0, 0].numpy()
    np.testing.assert_allclose(ours, remapped, atol=0.05)
    # median filter of the flow
    for size in (3, 5):
        np.testing.assert_array_equal(_median_blur(as_t(flow[0]), size)[0, 0].numpy(),
                                      cv2.medianBlur(flow[0], size))


def test_matches_opencv_on_real_frames(refdata):
    frames = read_video(refdata / UCF_CLIP, max_frames=max(UCF_PAIRS) + 2)
    grey = np.stack([cv2.cvtColor(f, cv2.COLOR_RGB2GRAY) for f in frames])
    assert grey.shape[1:] == (240, 320)
    prev, nxt = grey[list(UCF_PAIRS)], grey[[t + 1 for t in UCF_PAIRS]]
    ours = tvl1_flow(_t(*prev), _t(*nxt)).permute(0, 2, 3, 1).numpy()  # both pairs in one batch
    for i, t in enumerate(UCF_PAIRS):
        ref = compute_flow(prev[i], nxt[i], "tvl1")
        epe = _epe(ours[i], ref)
        moving = np.hypot(ref[..., 0], ref[..., 1]) > 0.5
        assert moving.sum() > 1000, f"frames {t}-{t + 1}: {moving.sum()} moving pixels; pick other frames"
        # the target first; the clip moves so little that zero flow would meet it, so
        # the mean and the moving pixels are checked too (measured: ~0.01 px or less)
        assert np.median(epe) <= 0.15, f"frames {t}-{t + 1}: median EPE {np.median(epe):.3f} px"
        assert epe.mean() <= 0.05, f"frames {t}-{t + 1}: mean EPE {epe.mean():.3f} px"
        assert np.median(epe[moving]) <= 0.1, (
            f"frames {t}-{t + 1}: median EPE {np.median(epe[moving]):.3f} px where |flow| > 0.5")


def test_compute_flow_options_and_errors(monkeypatch):
    img = _texture(48, 64, seed=2).astype(np.uint8)
    flow = compute_flow(img, img, "tvl1_torch", device="cpu", nscales=2, warps=1, median_filtering=1)
    assert flow.shape == (48, 64, 2) and flow.dtype == np.float32 and flow.flags.c_contiguous
    clip = np.stack([img, np.roll(img, 1, axis=1), np.roll(img, 2, axis=0)])
    options = dict(nscales=2, warps=2)
    flows = compute_flows(clip, "tvl1_torch", **options)  # the two pairs in one batch
    assert flows.shape == (2, 48, 64, 2) and flows.dtype == np.float32
    for i in range(2):
        alone = compute_flow(clip[i], clip[i + 1], "tvl1_torch", **options)
        np.testing.assert_allclose(flows[i], alone, atol=1e-5)
    # a long clip goes in batches of TVL1_TORCH_BATCH pairs: the same flows
    monkeypatch.setattr(flow_module, "TVL1_TORCH_BATCH", 1)
    np.testing.assert_allclose(compute_flows(clip, "tvl1_torch", **options), flows, atol=1e-5)
    with pytest.raises(ValueError, match="allowed"):
        compute_flow(img, img, "tvl1_torch", preset="fast")
    with pytest.raises(ValueError, match="odd"):
        tvl1_flow(_t(img), _t(img), median_filtering=4)
    with pytest.raises(ValueError, match="differ"):
        tvl1_flow(_t(img), _t(img[:-1]))
    with pytest.raises(ValueError, match="grey"):
        tvl1_flow(_t(img)[:, None, None], _t(img)[:, None, None])


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")
def test_cuda_matches_cpu():
    img = _texture(seed=3)
    prev, nxt = _t(img), _t(_translate(img, *SHIFT))
    on_gpu = tvl1_flow(prev.cuda(), nxt.cuda())
    assert on_gpu.device.type == "cuda"
    diff = _epe(on_gpu.cpu()[0].permute(1, 2, 0).numpy(), tvl1_flow(prev, nxt)[0].permute(1, 2, 0).numpy())
    assert np.median(diff) < 1e-3
