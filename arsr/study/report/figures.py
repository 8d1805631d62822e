"""The report's pictures: crops of the same test frame across methods, SoSR's WMSE weight map and
the optical flow of each method's frames."""
from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np
import pandas as pd

from ...methods import COMBINED, LABELS, ORDER



def clip_label(video_id, frame: int) -> str:
    """A figure row's label that fits its row, never cut: a UCF101-style id ``v_<Class>_g01_c02``
    as "<Class>" over "g01 c02, frame t"; any other id whole over "frame t" (long ones wrapped)."""
    import re
    import textwrap

    name = str(video_id).split("/")[-1]
    m = re.fullmatch(r"v_(.+)_(g\d+)_(c\d+)", name)
    if m:
        return f"{m.group(1)}\n{m.group(2)} {m.group(3)}, frame {frame}"
    return "\n".join(textwrap.wrap(name, 16) or [name]) + f"\nframe {frame}"

def _motion_box(motion: np.ndarray, size: tuple[int, int]) -> tuple[int, int]:
    """Top-left (y, x) of the ``size`` window with the most ``motion`` (ties: nearest the centre)."""
    import cv2

    h, w = motion.shape
    ch, cw = size
    mean = cv2.boxFilter(np.ascontiguousarray(motion, dtype=np.float32), -1, (cw, ch), normalize=True,
                         borderType=cv2.BORDER_CONSTANT)
    # window centres that keep the window inside the frame
    valid = mean[ch // 2: h - (ch - ch // 2) + 1, cw // 2: w - (cw - cw // 2) + 1]
    if valid.size == 0 or float(valid.max()) <= 0:
        return (h - ch) // 2, (w - cw) // 2
    y, x = np.unravel_index(int(np.argmax(valid)), valid.shape)
    return int(y), int(x)


def _motion_of(hr_pair: np.ndarray) -> np.ndarray:
    a, b = (f.astype(np.float32).mean(axis=-1) for f in hr_pair)
    return np.abs(b - a)


def _no_ticks(ax) -> None:
    ax.set_xticks([])
    ax.set_yticks([])


def visual_comparison_figure(samples: Mapping[str, Mapping[str, np.ndarray]], methods: Sequence[str] | None = None,
                             n_videos: int = 4, crop_fraction: float = 0.5, dataset=None):
    """Crops of the same test frame across methods: rows = sample clips, columns = HR, Bicubic,
    then the SR methods (paper order). The crop (``crop_fraction`` of the frame's sides) sits where
    the HR frame moves most (HR flow from ``dataset``, a PreparedDataset, else frame differences)."""
    import matplotlib.pyplot as plt

    methods = list(methods or samples)
    cols = [m for m in ("hr", "bicubic") if m in methods] + \
           [m for m in ORDER if m in methods and m not in ("hr", "bicubic", COMBINED)]
    hr = samples["hr"]
    n = min(n_videos, len(hr["video_ids"]))
    h, w = hr["sr"].shape[2:4]
    size = (max(8, int(h * crop_fraction)), max(8, int(w * crop_fraction)))
    fig, axes = plt.subplots(n, len(cols), figsize=(1.7 * len(cols), 1.7 * n * size[0] / size[1] + 0.4),
                             squeeze=False)
    for i in range(n):
        vid, t = hr["video_ids"][i], int(hr["frames"][i])
        motion = _motion_of(hr["sr"][i])
        if dataset is not None:
            try:
                motion = np.linalg.norm(np.asarray(dataset.video(str(vid)).flow[t], np.float32), axis=-1)
            except (KeyError, IndexError, FileNotFoundError):
                pass
        y, x = _motion_box(motion, size)
        for j, method in enumerate(cols):
            ax = axes[i][j]
            ax.imshow(samples[method]["sr"][i, 0, y:y + size[0], x:x + size[1]], interpolation="nearest")
            _no_ticks(ax)
            if i == 0:
                ax.set_title(LABELS.get(method, method), fontsize=8)
            if j == 0:
                ax.set_ylabel(clip_label(vid, t), fontsize=6)
    fig.tight_layout(pad=0.3)
    return fig


def wmse_weight_figure(dataset, video_ids: Sequence[str], frames: Sequence[int]):
    """SoSR's WMSE weights (paper Eq. 1): per clip, the HR frame t and its per-pixel weight
    sqrt(u² + v²) of the HR flow t -> t+1 (``arsr.losses.flow_weights``), with the share of the
    loss that the 10% most-moving pixels carry."""
    import matplotlib.pyplot as plt
    import torch

    from ...losses import flow_weights

    n = len(video_ids)
    fig, axes = plt.subplots(n, 2, figsize=(6.4, 2.3 * n), squeeze=False)
    for row, vid, t in zip(axes, video_ids, frames):
        video = dataset.video(str(vid))
        t = min(int(t), video.n_frames - 2)
        flow = torch.from_numpy(np.asarray(video.flow[t], np.float32)).permute(2, 0, 1)[None]
        weights = flow_weights(flow)[0, 0].numpy()
        row[0].imshow(np.asarray(video.hr[t]))
        im = row[1].imshow(weights, cmap="magma")
        fig.colorbar(im, ax=row[1], fraction=0.046, pad=0.02)
        top = np.sort(weights.ravel())[::-1]
        share = top[: max(1, top.size // 10)].sum() / max(top.sum(), 1e-12)
        row[0].set_ylabel(clip_label(vid, t), fontsize=6)
        row[1].set_title(f"top 10% pixels carry {100 * share:.0f}% of the weight", fontsize=8)
        for ax in row:
            _no_ticks(ax)
    axes[0][0].set_title("HR frame", fontsize=9)
    axes[0][1].set_title("WMSE weight √(u²+v²) (px)\n" + axes[0][1].get_title(), fontsize=8)
    fig.tight_layout()
    return fig


def flow_comparison_figure(samples: Mapping[str, Mapping[str, np.ndarray]], flow_method: str = "dis",
                           methods: Sequence[str] = ("bicubic", "tosr", "hr"), n_videos: int = 4):
    """Optical flow (``arsr.flow.compute_flow`` with the study's method) between frames t and t+1
    of each method's output, colour-coded on one scale per clip; titles give the mean end-point
    error against the flow of the HR frames. Returns (figure, table: video_id, method, epe)."""
    import matplotlib.pyplot as plt

    from ...flow import compute_flow, flow_magnitude, flow_to_rgb

    methods = [m for m in methods if m in samples]
    if "hr" not in samples:
        raise ValueError("flow_comparison_figure needs the HR samples (method 'hr')")
    hr = samples["hr"]
    n = min(n_videos, len(hr["video_ids"]))
    fig, axes = plt.subplots(n, len(methods), figsize=(2.6 * len(methods), 2.1 * n), squeeze=False)
    rows = []
    for i in range(n):
        flows = {m: compute_flow(samples[m]["sr"][i, 0], samples[m]["sr"][i, 1], flow_method) for m in methods}
        ref = compute_flow(hr["sr"][i, 0], hr["sr"][i, 1], flow_method) if "hr" not in flows else flows["hr"]
        scale = max(float(flow_magnitude(ref).max()), 1e-3)
        for j, m in enumerate(methods):
            epe = float(flow_magnitude(flows[m] - ref).mean())
            rows.append({"video_id": str(hr["video_ids"][i]), "method": m, "epe": epe})
            ax = axes[i][j]
            ax.imshow(flow_to_rgb(flows[m], max_mag=scale))
            _no_ticks(ax)
            label = LABELS.get(m, m)
            ax.set_title(f"{label}: reference" if m == "hr" else f"{label}: EPE {epe:.2f} px", fontsize=8)
            if j == 0:
                ax.set_ylabel(clip_label(hr["video_ids"][i], int(hr["frames"][i])), fontsize=6)
    fig.suptitle(f"optical flow ({flow_method}) of each method's frames t -> t+1", fontsize=9)
    fig.tight_layout()
    return fig, pd.DataFrame(rows, columns=["video_id", "method", "epe"])
