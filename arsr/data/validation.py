"""The validation split: training videos held out from the recognizers' training, on which the
study chooses what it must not choose on the test videos (the TSN fusion weight).

UCF101 and the synthetic set name their clips ``v_<Class>_g<gg>_c<cc>``; a group's clips come from
one source (one actor, one look), so the held-out videos are whole groups: the last
``groups`` groups of the training split (``g25`` for UCF101's split 1, the synthetic set's last
training group). A dataset without groups in its names (HMDB51, a plain folder) holds out the
last ``groups`` sevenths of each class's training videos in id order (neighbouring HMDB51 clips
mostly share their source video, so they stay on one side).
"""
from __future__ import annotations

import math
import re
from dataclasses import replace
from typing import Sequence

from .datasets import VideoRecord
from .store import VAL_SPLIT

__all__ = ["VAL_SPLIT", "clip_group", "hold_out_validation"]

_GROUP = re.compile(r"_g(\d+)_c\d+$")


def clip_group(video_id: str) -> int | None:
    """The group number of a UCF101-style clip id (``SlideRight/v_SlideRight_g08_c02`` -> 8), else None."""
    found = _GROUP.search(video_id)
    return int(found.group(1)) if found else None


def hold_out_validation(records: Sequence[VideoRecord], groups: int) -> list[VideoRecord]:
    """``records`` with the training videos of the last ``groups`` training groups (or, without
    groups in the names, the last ``groups`` sevenths of each class) moved to the split
    ``"val"``; ``groups`` 0 changes nothing. At least one training video of every class stays."""
    if groups < 0:
        raise ValueError(f"validation groups = {groups}: 0 (no validation split) or more")
    records = list(records)
    train = [r for r in records if r.split == "train"]
    if groups == 0 or not train:
        return records
    numbers = {r.video_id: clip_group(r.video_id) for r in train}
    if all(g is not None for g in numbers.values()):
        held = set(sorted(set(numbers.values()))[-groups:])
        val = {vid for vid, g in numbers.items() if g in held}
    else:
        val = set()
        for label in sorted({r.label for r in train}):
            ids = sorted(r.video_id for r in train if r.label == label)
            val.update(ids[len(ids) - min(len(ids) - 1, math.ceil(groups * len(ids) / 7)):])
    by_class = {}
    for r in train:
        by_class.setdefault(r.label, []).append(r.video_id not in val)
    empty = sorted(label for label, kept in by_class.items() if not any(kept))
    if empty:
        names = sorted({r.class_name for r in train if r.label in empty})
        raise ValueError(f"data.validation_groups = {groups} leaves no training video for class(es) "
                         f"{', '.join(names)}: lower it (or 0: no validation split, the paper's fixed fusion)")
    return [replace(r, split=VAL_SPLIT) if r.video_id in val else r for r in records]
