"""Tables that describe a prepared dataset (for reports)."""
from __future__ import annotations

import pandas as pd

from .store import SPLITS


def split_table(index: pd.DataFrame) -> pd.DataFrame:
    """One row per split: videos, classes, frames (total, min, mean, max), HR and LR size."""
    rows = []
    for split in SPLITS:
        part = index[index["split"] == split]
        if part.empty:
            continue
        rows.append({
            "split": split, "videos": len(part),
            "classes": part.loc[part["label"] >= 0, "label"].nunique(),
            "frames": int(part["n_frames"].sum()), "frames min": int(part["n_frames"].min()),
            "frames mean": round(float(part["n_frames"].mean()), 1),
            "frames max": int(part["n_frames"].max()),
            "HR (w x h)": _sizes(part, "width", "height"),
            "LR (w x h)": _sizes(part, "lr_width", "lr_height"),
        })
    return pd.DataFrame(rows).set_index("split")


def class_table(index: pd.DataFrame) -> pd.DataFrame:
    """Clips per class and split (labelled videos only)."""
    labelled = index[index["label"] >= 0]
    table = labelled.pivot_table(index=["label", "class_name"], columns="split", values="video_id",
                                 aggfunc="count", fill_value=0)
    table["total"] = table.sum(axis=1)
    return table.reset_index(level=0, drop=True)


def _sizes(part: pd.DataFrame, w: str, h: str) -> str:
    sizes = sorted({f"{a}x{b}" for a, b in zip(part[w], part[h])})
    return ", ".join(sizes[:3]) + (" ..." if len(sizes) > 3 else "")
