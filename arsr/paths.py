"""Where things live: the repository root and paths resolved against it."""
from __future__ import annotations

import os
from pathlib import Path

_MARKERS = ("dvc.yaml", "params.yaml")


def repo_root(start: str | os.PathLike | None = None) -> Path:
    """The study's root: ``$ARSR_ROOT`` if set, else the nearest folder at or above ``start``
    (default: the working directory) holding ``dvc.yaml`` and ``params.yaml``.

    Resolving from the working directory, not from this file, lets a notebook run the same from
    JupyterLab (cwd ``notebooks/``), papermill and a test's temporary copy of the repository.
    """
    env = os.environ.get("ARSR_ROOT")
    if env:
        return Path(env).resolve()
    here = Path(start or os.getcwd()).resolve()
    for folder in (here, *here.parents):
        if all((folder / m).is_file() for m in _MARKERS):
            return folder
    raise FileNotFoundError(
        f"no study root (a folder with {' and '.join(_MARKERS)}) at or above {here}: "
        "run from inside the arsr repository or set ARSR_ROOT"
    )


def resolve(path: str | os.PathLike, root: Path | None = None) -> Path:
    """``path`` as given if absolute (or ``~``-prefixed), else relative to the study root."""
    p = Path(path).expanduser()
    return p if p.is_absolute() else (root or repo_root()) / p


def shown_path(path: str | os.PathLike) -> str:
    """``path`` for a message: relative to the study root when it lies inside it, else as given."""
    try:
        return str(Path(path).resolve().relative_to(repo_root()))
    except (ValueError, FileNotFoundError):
        return str(path)
