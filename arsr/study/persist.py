"""Persisted stage outputs (DVC ``persist: true``) are reused only for the settings that made them.

A stage keeps its model folders between runs so that a killed run resumes. When the stage re-runs
because a knob changed, a folder trained under other settings must not be resumed (the trainers
refuse, rightly) nor reused: it is emptied and trained afresh. The settings of every model folder
hold the dataset fingerprint of the store it is trained on (``dataset``,
``arsr.data.store.PreparedDataset.fingerprint``), so a model of other data is never reused either.
"""
from __future__ import annotations

import hashlib
import json
import logging
import shutil
from pathlib import Path
from typing import Any, Mapping

from ..io import write_json
from ..mapping import changes

log = logging.getLogger(__name__)

MARKER = "settings.json"


def settings_blob(settings: Mapping[str, Any]) -> dict:
    """``settings`` as plain JSON data (paths and numpy values as text), for comparison."""
    return json.loads(json.dumps(settings, sort_keys=True, default=str))


def reuse_or_reset(folder: str | Path, settings: Mapping[str, Any]) -> bool:
    """Keep ``folder`` if it was made with ``settings``, else empty it; record ``settings`` in it.
    An emptied folder is logged in one line naming the settings that differ (e.g. ``dataset: 3fa1...
    -> 9b20...``, :func:`arsr.mapping.changes`).

    Returns True when the folder was emptied (or had no record of its settings)."""
    folder = Path(folder)
    blob = settings_blob(settings)
    marker = folder / MARKER
    reset = False
    if folder.exists():
        try:
            found = json.loads(marker.read_text())
            reset = found != blob
            differ = changes(found, blob) if isinstance(found, dict) else ["all"]
            why = f"was made with other settings ({'; '.join(differ)})"
        except (FileNotFoundError, json.JSONDecodeError):
            reset = any(folder.iterdir())
            why = f"has no readable {MARKER}"
        if reset:
            log.warning("%s %s: emptying it to make it again", folder, why)
            shutil.rmtree(folder)
    folder.mkdir(parents=True, exist_ok=True)
    write_json(marker, blob)
    return reset


def file_digest(path: str | Path) -> str:
    """sha256 of a file (e.g. the recognizer whose features a feature loss uses)."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()[:16]
