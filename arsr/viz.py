"""Figures shared by the study's notebooks. Each function returns a matplotlib Figure."""
from __future__ import annotations

from pathlib import Path

import numpy as np


def save_figure(fig, path: str | Path, dpi: int = 90) -> Path:
    """Save ``fig`` as PNG atomically (figures are DVC outputs too)."""
    from .io import atomic_path

    with atomic_path(path, suffix=".png") as tmp:
        fig.savefig(tmp, dpi=dpi, bbox_inches="tight", format="png")
    return Path(path)


def hr_lr_flow_grid(videos, frame: int | None = None, scale: int = 4):
    """Rows = videos; columns: HR frame, LR frame (pixels shown as blocks), LR bicubic-upscaled,
    HR flow magnitude, HR flow colour-coded.

    ``videos``: :class:`~arsr.data.store.PreparedVideo` objects.
    """
    import matplotlib.pyplot as plt

    from .flow import flow_magnitude, flow_to_rgb
    from .ops import imresize

    cols = ["HR", f"LR (x1/{scale})", "LR bicubic x4", "|flow| (px)", "flow"]
    fig, axes = plt.subplots(len(videos), len(cols), figsize=(2.6 * len(cols), 2.1 * len(videos)),
                             squeeze=False)
    for row, video in zip(axes, videos):
        t = min(frame if frame is not None else video.n_frames // 2, video.n_frames - 2)
        hr, lr = np.asarray(video.hr[t]), np.asarray(video.lr[t])
        flow = np.asarray(video.flow[t], dtype=np.float32)
        mag = flow_magnitude(flow)
        row[0].imshow(hr)
        row[1].imshow(lr, interpolation="nearest")
        row[2].imshow(imresize(lr, scale))
        im = row[3].imshow(mag, cmap="magma")
        fig.colorbar(im, ax=row[3], fraction=0.046, pad=0.02)
        row[4].imshow(flow_to_rgb(flow))
        row[0].set_ylabel(video.video_id.split("/")[-1][:28], fontsize=7)
        for ax in row:
            ax.set_xticks([])
            ax.set_yticks([])
    for ax, title in zip(axes[0], cols):
        ax.set_title(title, fontsize=9)
    fig.tight_layout()
    return fig


def flow_magnitude_histogram(videos, max_videos: int = 50):
    """Distribution of HR flow magnitude over all pixels of some videos (log-count)."""
    import matplotlib.pyplot as plt

    mags = [np.linalg.norm(np.asarray(v.flow[::4], dtype=np.float32), axis=-1).ravel()
            for v in videos[:max_videos]]
    mags = np.concatenate(mags)
    fig, ax = plt.subplots(figsize=(6, 3))
    ax.hist(mags, bins=80, log=True, color="tab:blue")
    for thr in (0.5, 1.0):
        ax.axvline(thr, color="k", ls=":", lw=0.8)
    ax.set_xlabel("HR flow magnitude (px / frame)")
    ax.set_ylabel("pixels")
    share = (mags > 1.0).mean()
    ax.set_title(f"{100 * share:.1f}% of pixels move more than 1 px/frame", fontsize=9)
    fig.tight_layout()
    return fig, float(share)
