"""SPMC video SR: Tao, Gao, Liao, Wang, Jia, "Detail-revealing Deep Video Super-resolution", ICCV 2017."""
from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from arsr.ops.color import rgb_to_ycbcr, ycbcr_to_rgb
from arsr.ops.warp import warp

from .arch_util import bicubic_upscale, zero_init_

__all__ = ["SPMC", "spmc_splat", "SubPixelMotionCompensation", "MotionEstimation",
           "ConvLSTMCell", "DetailFusionNet"]


def spmc_splat(x: torch.Tensor, flow: torch.Tensor, scale: int) -> torch.Tensor:
    """Sub-pixel motion compensation: forward-map an LR image onto the HR grid (paper Eq. 4-5).

    LR pixel p (integer coordinates, pixel centres) lands at ``scale * (p + flow(p))`` on the HR
    grid and is splatted there with bilinear weights M(d) = max(0, 1 - |d|); HR pixels nothing
    lands on stay 0 (zero-filling), contributions are summed, not normalised. With zero flow,
    LR pixel (y, x) goes to HR pixel (scale*y, scale*x) exactly. Differentiable w.r.t. ``x`` and
    ``flow`` (through the bilinear weights). Uses ``scatter_add``, so it is not bit-deterministic
    on CUDA. Half-precision input is computed in float32: bf16 holds integers exactly only up to
    256, so HR coordinates beyond it would land on the wrong pixel (or outside the image).

    x: (b, c, h, w); flow: (b, 2, h, w) in LR pixels, channel 0 = x, 1 = y.
    Returns (b, c, scale*h, scale*w), float32 for half/bf16 input.
    """
    if x.dim() != 4 or flow.dim() != 4 or flow.shape[1] != 2:
        raise ValueError(f"spmc_splat: x must be (b, c, h, w) and flow (b, 2, h, w), "
                         f"got {tuple(x.shape)} and {tuple(flow.shape)}")
    if flow.shape[0] != x.shape[0] or flow.shape[2:] != x.shape[2:]:
        raise ValueError(f"spmc_splat: flow {tuple(flow.shape)} must match x {tuple(x.shape)} "
                         "in batch and size")
    dtype = torch.promote_types(torch.promote_types(x.dtype, flow.dtype), torch.float32)
    x, flow = x.to(dtype), flow.to(dtype)
    b, c, h, w = x.shape
    hh, ww = scale * h, scale * w
    ys = torch.arange(h, dtype=flow.dtype, device=flow.device).view(1, h, 1)
    xs = torch.arange(w, dtype=flow.dtype, device=flow.device).view(1, 1, w)
    tx = scale * (xs + flow[:, 0])  # (b, h, w) target HR coordinates
    ty = scale * (ys + flow[:, 1])
    x0, y0 = torch.floor(tx.detach()), torch.floor(ty.detach())
    ax, ay = tx - x0, ty - y0  # fractional parts carry the gradient w.r.t. the flow
    out = x.new_zeros(b, c, hh * ww)
    for dx, dy, weight in ((0, 0, (1 - ax) * (1 - ay)), (1, 0, ax * (1 - ay)),
                           (0, 1, (1 - ax) * ay), (1, 1, ax * ay)):
        xi, yi = x0 + dx, y0 + dy
        inside = (xi >= 0) & (xi <= ww - 1) & (yi >= 0) & (yi <= hh - 1)
        index = (yi.clamp(0, hh - 1).long() * ww + xi.clamp(0, ww - 1).long()).view(b, 1, h * w)
        src = (x * (weight * inside).unsqueeze(1)).reshape(b, c, h * w)
        out = out.scatter_add(2, index.expand(b, c, h * w), src)
    return out.view(b, c, hh, ww)


class SubPixelMotionCompensation(nn.Module):
    """The parameter-free SPMC layer (see ``spmc_splat``).

    x: (b, c, h, w), flow: (b, 2, h, w) -> (b, c, scale*h, scale*w).
    """

    def __init__(self, scale: int = 4):
        super().__init__()
        self.scale = scale

    def forward(self, x: torch.Tensor, flow: torch.Tensor) -> torch.Tensor:
        return spmc_splat(x, flow, self.scale)


def _conv(in_ch: int, out_ch: int, kernel: int, stride: int = 1) -> nn.Conv2d:
    return nn.Conv2d(in_ch, out_ch, kernel, stride=stride, padding=kernel // 2)


class MotionEstimation(nn.Module):
    """Coarse-to-fine flow network of VESPCN (Caballero et al. CVPR 2017), as SPMC uses it.

    Coarse: 5x5/2, 3x3, 5x5/2, 3x3 convs (``num_feat`` ch, ReLU), 3x3 conv to 32 ch, tanh,
    x4 pixel shuffle -> flow. Fine: the neighbour, the reference, the coarse flow and the
    reference warped by it go through 5x5/2, 3 x 3x3 convs, 3x3 conv to 8 ch, tanh, x2 pixel
    shuffle -> flow increment. Flow in pixels = ``gain`` * (coarse + fine).

    The flow F lives on the neighbour's grid and points into the reference:
    ``neighbour(p) ~ reference(p + F(p))``, i.e. ``arsr.ops.warp(reference, F) ~ neighbour``
    (the unsupervised ME loss) and the SPMC layer forward-maps the neighbour by F.

    neighbour, reference: (b, c, h, w) with h, w divisible by 4 -> flow (b, 2, h, w).
    """

    def __init__(self, in_ch: int = 1, num_feat: int = 24, gain: float = 32.0):
        super().__init__()
        self.gain = gain
        self.coarse = nn.Sequential(
            _conv(2 * in_ch, num_feat, 5, 2), nn.ReLU(inplace=True),
            _conv(num_feat, num_feat, 3), nn.ReLU(inplace=True),
            _conv(num_feat, num_feat, 5, 2), nn.ReLU(inplace=True),
            _conv(num_feat, num_feat, 3), nn.ReLU(inplace=True),
            _conv(num_feat, 2 * 4 ** 2, 3), nn.Tanh(),
            nn.PixelShuffle(4))
        self.fine = nn.Sequential(
            _conv(3 * in_ch + 2, num_feat, 5, 2), nn.ReLU(inplace=True),
            _conv(num_feat, num_feat, 3), nn.ReLU(inplace=True),
            _conv(num_feat, num_feat, 3), nn.ReLU(inplace=True),
            _conv(num_feat, num_feat, 3), nn.ReLU(inplace=True),
            _conv(num_feat, 2 * 2 ** 2, 3), nn.Tanh(),
            nn.PixelShuffle(2))

    def forward(self, neighbour: torch.Tensor, reference: torch.Tensor) -> torch.Tensor:
        if neighbour.shape[-2] % 4 or neighbour.shape[-1] % 4:
            raise ValueError(f"MotionEstimation needs h, w divisible by 4, got {tuple(neighbour.shape)}")
        coarse = self.coarse(torch.cat((neighbour, reference), dim=1))
        warped = warp(reference, coarse * self.gain, padding_mode="border")
        fine = self.fine(torch.cat((neighbour, reference, coarse, warped), dim=1))
        return (coarse + fine) * self.gain


class ConvLSTMCell(nn.Module):
    """Convolutional LSTM cell (Shi et al. 2015), one conv over [input, h] for the 4 gates.

    Gate order i, g, f, o and ``forget_bias`` added to f, as TF's BasicConvLSTMCell that the
    SPMC code base uses. x: (b, in_ch, h, w), state (h, c) each (b, hidden, h, w) or None
    (zeros) -> new (h, c).
    """

    def __init__(self, in_ch: int = 128, hidden: int = 128, kernel: int = 3, forget_bias: float = 1.0):
        super().__init__()
        self.hidden = hidden
        self.forget_bias = forget_bias
        self.conv = nn.Conv2d(in_ch + hidden, 4 * hidden, kernel, padding=kernel // 2)

    def forward(self, x: torch.Tensor, state=None):
        if state is None:
            zeros = x.new_zeros(x.shape[0], self.hidden, *x.shape[2:])
            state = (zeros, zeros)
        h, c = state
        i, g, f, o = self.conv(torch.cat((x, h), dim=1)).chunk(4, dim=1)
        c = c * torch.sigmoid(f + self.forget_bias) + torch.sigmoid(i) * torch.tanh(g)
        h = torch.tanh(c) * torch.sigmoid(o)
        return h, c


class DetailFusionNet(nn.Module):
    """Encoder - ConvLSTM - decoder with additive skip connections (SPMC paper Table 1).

    Encoder: 5x5 conv f; 3x3/2 conv 2f, 3x3 conv 2f; 3x3/2 conv 4f (ReLU). ConvLSTM 3x3, 4f.
    Decoder: 3x3 conv 4f, 4x4/2 deconv 2f (+ encoder 2f skip); 3x3 conv 2f, 4x4/2 deconv f
    (+ encoder f skip); 3x3 conv f, 5x5 conv to ``out_ch`` (linear). f = ``num_feat`` = 32.

    x: (b, in_ch, H, W) with H, W divisible by 4, state from the previous time step or None
    -> (image (b, out_ch, H, W), state).
    """

    def __init__(self, in_ch: int = 1, out_ch: int = 1, num_feat: int = 32, forget_bias: float = 1.0):
        super().__init__()
        f = num_feat
        relu = nn.ReLU(inplace=True)
        self.enc1 = nn.Sequential(_conv(in_ch, f, 5), relu)
        self.enc2 = nn.Sequential(_conv(f, 2 * f, 3, 2), relu, _conv(2 * f, 2 * f, 3), relu)
        self.enc3 = nn.Sequential(_conv(2 * f, 4 * f, 3, 2), relu)
        self.lstm = ConvLSTMCell(4 * f, 4 * f, 3, forget_bias)
        self.dec1 = nn.Sequential(_conv(4 * f, 4 * f, 3), relu,
                                  nn.ConvTranspose2d(4 * f, 2 * f, 4, stride=2, padding=1), relu)
        self.dec2 = nn.Sequential(_conv(2 * f, 2 * f, 3), relu,
                                  nn.ConvTranspose2d(2 * f, f, 4, stride=2, padding=1), relu)
        self.dec3 = nn.Sequential(_conv(f, f, 3), relu, _conv(f, out_ch, 5))

    def forward(self, x: torch.Tensor, state=None):
        skip1 = self.enc1(x)
        skip2 = self.enc2(skip1)
        state = self.lstm(self.enc3(skip2), state)
        y = self.dec1(state[0])
        y = self.dec2(y + skip2)
        return self.dec3(y + skip1), state


class SPMC(nn.Module):
    """SPMC video SR: motion estimation -> SPMC layer -> detail fusion net over the frames.

    Each frame i (the reference included) gets a flow to the reference (centre) frame, is
    forward-mapped onto the HR grid by the SPMC layer and fed, in temporal order, to the
    encoder-ConvLSTM-decoder; the decoder output of the last time step is the HR reference
    frame (as the official test script reads it).

    ``color="y"`` (default) runs the networks on the BT.601 Y channel as the paper and its
    released model do and puts back the MATLAB-bicubic-upscaled CbCr of the reference frame;
    ``color="rgb"`` runs them on all three channels (more input/output channels, otherwise the
    same). LR sizes that are not multiples of 4 are edge-padded (as the official script) and
    the output cropped. Key names are ours: no PyTorch checkpoint of SPMC was published (the
    official release is a frozen TensorFlow graph).

    Args:
        num_frames: frames per window (3 in the released x4 model).
        scale: upscaling factor.
        color: "y" or "rgb".
        num_feat: base width f of the detail fusion net (32, 64, 128 channels).
        me_feat: width of the motion estimation convs (24).
        flow_gain: pixels per unit of the tanh flow output (not given in the paper; 32 as the
            LoSealL/VideoSuperResolution re-implementation).
        forget_bias: added to the ConvLSTM forget gate (TF BasicConvLSTMCell default 1.0).
        global_residual: add the MATLAB-bicubic upscaled reference (Y or RGB) to the decoder
            output and zero-initialise the decoder's last conv, so an untrained model returns
            the bicubic baseline, and the motion estimator's flow convs, so training starts from
            zero motion (not in the paper; off by default; same state-dict keys).

    x: (b, num_frames, 3, h, w) RGB in [0, 1] -> (b, 3, scale*h, scale*w).
    """

    def __init__(self, num_frames: int = 3, scale: int = 4, color: str = "y", num_feat: int = 32,
                 me_feat: int = 24, flow_gain: float = 32.0, forget_bias: float = 1.0,
                 global_residual: bool = False):
        super().__init__()
        if color not in ("y", "rgb"):
            raise ValueError(f"SPMC color must be 'y' or 'rgb', got {color!r}")
        self.num_frames = num_frames
        self.scale = scale
        self.color = color
        self.global_residual = global_residual
        ch = 1 if color == "y" else 3
        self.motion_estimation = MotionEstimation(ch, me_feat, flow_gain)
        self.spmc = SubPixelMotionCompensation(scale)
        self.detail_fusion = DetailFusionNet(ch, ch, num_feat, forget_bias)
        if global_residual:
            zero_init_(self.detail_fusion.dec3[-1])
            # zero motion at initialisation: random flows (tanh x flow_gain) scatter the LR pixels
            # off the HR grid and the decoder learns nothing (measured: flows saturated at 32 px)
            zero_init_(self.motion_estimation.coarse[-3])
            zero_init_(self.motion_estimation.fine[-3])

    def forward_steps(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """All time steps, for the paper's per-step loss and the ME loss.

        x: (b, t, 3, h, w) RGB -> (HR estimates after each time step (b, t, 3, s*h, s*w) RGB,
        flows (b, t, 2, h, w) of each frame to the reference, on the working channel(s)).
        """
        b, t, c, h, w = x.shape
        if t != self.num_frames or c != 3:
            raise ValueError(f"SPMC(num_frames={self.num_frames}) takes (b, {self.num_frames}, 3, h, w) RGB, "
                             f"got {tuple(x.shape)}; build it with num_frames={t} for other windows")
        ref_rgb = x[:, t // 2]
        frames = rgb_to_ycbcr(x)[:, :, :1] if self.color == "y" else x
        pad_h, pad_w = -h % 4, -w % 4
        if pad_h or pad_w:
            frames = F.pad(frames.flatten(0, 1), (0, pad_w, 0, pad_h), mode="replicate").unflatten(0, (b, t))
        hp, wp = frames.shape[-2:]
        reference = frames[:, t // 2]

        flat = frames.flatten(0, 1)  # (b*t, ch, hp, wp)
        flows = self.motion_estimation(flat, reference.repeat_interleave(t, dim=0))
        sparse = self.spmc(flat, flows).unflatten(0, (b, t))

        state, steps = None, []
        for i in range(t):
            out, state = self.detail_fusion(sparse[:, i], state)
            steps.append(out)
        steps = torch.stack(steps, dim=1)[..., :self.scale * h, :self.scale * w]
        flows = flows.unflatten(0, (b, t))[..., :h, :w]
        return self._to_rgb(steps, ref_rgb), flows

    def _to_rgb(self, steps: torch.Tensor, ref_rgb: torch.Tensor) -> torch.Tensor:
        """steps: (b, t, ch, H, W) in the working space -> RGB (b, t, 3, H, W)."""
        if self.color == "y":
            # float32 even under autocast: bf16 colour conversions would move the bicubic parts
            # (chroma, and the luma skip) by up to 0.015
            with torch.autocast(steps.device.type, enabled=False):
                dtype = torch.promote_types(steps.dtype, torch.float32)
                ref_up = bicubic_upscale(rgb_to_ycbcr(ref_rgb.to(dtype)), self.scale)  # (b, 3, H, W) YCbCr
                steps = steps.to(dtype)
                if self.global_residual:
                    steps = steps + ref_up[:, None, :1]
                ycbcr = torch.cat((steps, ref_up[:, None, 1:].expand(-1, steps.shape[1], -1, -1, -1)), dim=2)
                return ycbcr_to_rgb(ycbcr)
        if self.global_residual:
            steps = steps + bicubic_upscale(ref_rgb, self.scale)[:, None]
        return steps

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x: (b, num_frames, 3, h, w) RGB in [0, 1] -> HR reference frame (b, 3, s*h, s*w)."""
        return self.forward_steps(x)[0][:, -1]
