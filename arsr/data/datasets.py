"""Listing the videos of UCF101, HMDB51 or a plain folder, with labels from the official splits.

Every reader returns a :class:`VideoList`: a ``list`` of :class:`VideoRecord` (train records
first, then test, each in list-file order) that also carries ``class_names``, ``skipped`` (how
many listed videos were absent on disk and dropped under ``on_missing="skip"``),
``skipped_files`` (their list-relative names) and ``dropped_classes`` (classes without a video,
left out under ``on_empty_class="drop"``; the labels stay dense, 0..K-1).
"""
from __future__ import annotations

import logging
import os
from dataclasses import dataclass, replace
from pathlib import Path

log = logging.getLogger(__name__)

VIDEO_EXTENSIONS = (".avi", ".mp4", ".mkv", ".mov", ".webm")
SPLIT_NUMBERS = (1, 2, 3)
UCF101_SPLITS_FOLDER = "ucfTrainTestlist"
HMDB51_SPLITS_FOLDER = "testTrainMulti_7030_splits"
_SHOW = 5  # how many missing files an error message names
EMPTY_CLASS_CHOICES = ("error", "drop")


class DatasetError(ValueError):
    """A dataset folder or split list is missing, malformed or disagrees with the disk.
    ``files``: every listed video found absent, where that is the fault (the message names a few)."""

    def __init__(self, message: str, files=()):
        super().__init__(message)
        self.files: list[str] = list(files)


@dataclass(frozen=True)
class VideoRecord:
    """One video of a dataset.

    ``video_id`` is unique within a dataset: ``"<class>/<file stem>"`` for UCF101 and HMDB51,
    the path relative to the root without extension for a plain folder. ``label`` is 0-based,
    -1 for unlabelled videos (``split == "unlabelled"``, ``class_name == ""``).
    """

    path: Path
    video_id: str
    label: int
    class_name: str
    split: str  # "train" | "test" | "unlabelled"


class VideoList(list):
    """A list of :class:`VideoRecord` with the listing's class names, skipped files and the
    classes dropped for having no video."""

    def __init__(self, records=(), class_names=(), skipped_files=(), dropped_classes=()):
        super().__init__(records)
        self.class_names: list[str] = list(class_names)
        self.skipped_files: list[str] = list(skipped_files)
        self.dropped_classes: list[str] = list(dropped_classes)

    @property
    def skipped(self) -> int:
        """How many listed videos were absent on disk and dropped (``on_missing="skip"``)."""
        return len(self.skipped_files)

    def split(self, name: str) -> list[VideoRecord]:
        """The records of one split ("train", "test" or "unlabelled")."""
        return [r for r in self if r.split == name]


# --------------------------------------------------------------------------------------------
# UCF101

def list_ucf101(root: str | os.PathLike, split: int = 1, splits_dir: str | os.PathLike | None = None,
                on_missing: str = "error", check_files: bool = True, on_empty_class: str = "error") -> VideoList:
    """UCF101 train and test records of official split ``split`` (1-3).

    ``root`` holds one folder per class (``root/ApplyEyeMakeup/v_ApplyEyeMakeup_g08_c01.avi``).
    The lists ``classInd.txt``, ``trainlist0<k>.txt`` and ``testlist0<k>.txt`` are read from
    ``splits_dir``, else ``root/ucfTrainTestlist``, else ``ucfTrainTestlist`` beside ``root``
    (where the official split zip extracts). CRLF or LF line ends and trailing blanks are fine.
    Class folders are matched case-insensitively and clips may also sit flat in ``root``, so
    the official lists' ``HandstandPushups/v_HandStandPushups_*.avi`` find their files however
    an extraction spelled the folder. Labels come from ``classInd.txt`` (1-based there, 0-based
    here); a train-list label that contradicts the class folder is an error.

    ``on_missing``: "error" raises :class:`DatasetError` if any listed clip is absent; "skip"
    drops them with a warning and counts them in ``VideoList.skipped``. ``check_files=False``
    only parses the lists (``root`` need not exist; paths are where the clips should be).

    ``on_empty_class``: a class of ``classInd.txt`` left without any video of the split (none
    listed, or all absent and skipped) raises :class:`DatasetError` naming it ("error"), or is
    left out ("drop"): the other classes are renumbered 0..K-1 in their order, the dropped ones
    named in ``VideoList.dropped_classes`` and logged. Never a gap in the labels.
    """
    _check_on_missing(on_missing)
    _check_on_empty_class(on_empty_class)
    split = _check_split(split)
    root = Path(root)
    if check_files:
        _check_root(root, "UCF101")
    lists = _find_splits_dir(root, splits_dir, UCF101_SPLITS_FOLDER,
                             ("classInd.txt", f"trainlist0{split}.txt", f"testlist0{split}.txt"))

    class_file = lists / "classInd.txt"
    class_names: list[str] = []
    for lineno, parts in _lines(class_file):
        if len(parts) != 2 or not parts[0].isdigit():
            raise DatasetError(f"{class_file}, line {lineno}: expected '<index> <ClassName>', got "
                               f"{' '.join(parts)!r}; restore the official classInd.txt")
        if int(parts[0]) != len(class_names) + 1:
            raise DatasetError(f"{class_file}, line {lineno}: class index {parts[0]} out of order "
                               f"(expected {len(class_names) + 1}); restore the official file")
        class_names.append(parts[1])
    if not class_names:
        raise DatasetError(f"{class_file} lists no classes; restore the official classInd.txt")
    by_lower = {c.lower(): i for i, c in enumerate(class_names)}

    entries: list[tuple[str, int, str, Path, int]] = []  # (relpath, label, split, list, line)
    for split_name, list_file in (("train", lists / f"trainlist0{split}.txt"),
                                  ("test", lists / f"testlist0{split}.txt")):
        for lineno, parts in _lines(list_file):
            if len(parts) not in (1, 2):
                raise DatasetError(f"{list_file}, line {lineno}: expected '<Class>/<file>.avi "
                                   f"[label]', got {' '.join(parts)!r}")
            rel = parts[0].replace("\\", "/")
            folder = rel.split("/")[0] if "/" in rel else _ucf_class_from_name(rel)
            label = by_lower.get(folder.lower())
            if label is None:
                raise DatasetError(f"{list_file}, line {lineno}: class {folder!r} is not in "
                                   f"{class_file}; use the classInd.txt of the same release")
            if len(parts) == 2 and (not parts[1].isdigit() or int(parts[1]) - 1 != label):
                raise DatasetError(
                    f"{list_file}, line {lineno}: label {parts[1]} says class "
                    f"{_name_of(parts[1], class_names)!r} but the clip is in {folder!r}; "
                    f"use the lists and classInd.txt of the same release")
            entries.append((rel, label, split_name, list_file, lineno))
    _check_duplicates(entries)

    records, missing = _locate(root, entries, class_names, check_files)
    found = _finish(records, class_names, missing, root, on_missing, "UCF101", "<root>/<Class>/<file>.avi")
    return _without_empty_classes(found, on_empty_class, root, split, lambda name: (
        f"put its clips under {root / name}/ as {lists}'s trainlist0{split}.txt and testlist0{split}.txt "
        "name them"))


def _ucf_class_from_name(filename: str) -> str:
    """'v_ApplyEyeMakeup_g08_c01.avi' -> 'ApplyEyeMakeup' (for lists without class folders)."""
    stem = Path(filename).stem
    return stem[2:].rsplit("_g", 1)[0] if stem.startswith("v_") else stem


def _name_of(label: str, class_names: list[str]) -> str:
    i = int(label) - 1 if label.isdigit() else -1
    return class_names[i] if 0 <= i < len(class_names) else f"<no class {label}>"


# --------------------------------------------------------------------------------------------
# HMDB51

def list_hmdb51(root: str | os.PathLike, split: int = 1, splits_dir: str | os.PathLike | None = None,
                on_missing: str = "error", check_files: bool = True, on_empty_class: str = "error") -> VideoList:
    """HMDB51 train and test records of official split ``split`` (1-3).

    ``root`` holds one folder per class (``root/brush_hair/<file>.avi``). The split files
    ``<class>_test_split<k>.txt`` (lines ``<file>.avi <0|1|2>``: 1 train, 2 test, 0 unused and
    left out) are read from ``splits_dir``, else ``root/testTrainMulti_7030_splits``, else that
    folder beside ``root``. Classes are the sorted class names of the split files, labels their
    0-based positions. Files are matched case-insensitively and may also sit flat in ``root``.
    ``on_missing``, ``check_files`` and ``on_empty_class`` as in :func:`list_ucf101` (a split file
    without a line marked 1 or 2 is an empty class).
    """
    _check_on_missing(on_missing)
    _check_on_empty_class(on_empty_class)
    split = _check_split(split)
    root = Path(root)
    if check_files:
        _check_root(root, "HMDB51")
    lists = _find_splits_dir(root, splits_dir, HMDB51_SPLITS_FOLDER, ())
    suffix = f"_test_split{split}.txt"
    split_files = sorted(p for p in lists.iterdir() if p.name.endswith(suffix))
    if not split_files:
        raise DatasetError(f"{lists} holds no '*{suffix}' files; point splits_dir at the "
                           f"extracted {HMDB51_SPLITS_FOLDER} folder of the official release")
    class_names = sorted(p.name[: -len(suffix)] for p in split_files)

    entries = []
    for label, (name, list_file) in enumerate(zip(class_names, split_files)):
        for lineno, parts in _lines(list_file):
            if len(parts) != 2 or parts[1] not in ("0", "1", "2"):
                raise DatasetError(f"{list_file}, line {lineno}: expected '<file>.avi <0|1|2>', "
                                   f"got {' '.join(parts)!r}; restore the official split file")
            if parts[1] == "0":
                continue
            split_name = "train" if parts[1] == "1" else "test"
            entries.append((f"{name}/{parts[0]}", label, split_name, list_file, lineno))
    _check_duplicates(entries)
    entries.sort(key=lambda e: e[2] != "train")  # train first, each in class then file order

    records, missing = _locate(root, entries, class_names, check_files)
    found = _finish(records, class_names, missing, root, on_missing, "HMDB51", "<root>/<class>/<file>.avi")
    return _without_empty_classes(found, on_empty_class, root, split, lambda name: (
        f"mark its clips 1 (train) or 2 (test) in {lists / (name + suffix)} and put them under "
        f"{root / name}/, or remove that split file"))


# --------------------------------------------------------------------------------------------
# A plain folder of videos

def list_folder(root: str | os.PathLike, on_missing: str = "error") -> VideoList:
    """Every video file under ``root`` (recursive, sorted by relative path) as unlabelled records.

    Video files end in .avi, .mp4, .mkv, .mov or .webm (any case); hidden files and folders
    (names starting with '.', e.g. unfinished temporary writes) are ignored. A broken symbolic
    link counts as a missing file. ``on_missing="error"`` raises :class:`DatasetError` for a
    missing root, a folder without videos or a broken link; ``"skip"`` logs a warning and
    returns what there is (possibly nothing), broken links counted in ``skipped``.
    """
    _check_on_missing(on_missing)
    root = Path(root)
    if not root.is_dir():
        message = (f"{root}: no such folder of videos; create it and put the videos there, or "
                   "point the root setting at the right place")
        if on_missing == "error":
            raise DatasetError(message)
        log.warning(message)
        return VideoList()
    records, broken = [], []
    for dirpath, dirnames, filenames in os.walk(root, followlinks=True):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        for name in filenames:
            if name.startswith(".") or not name.lower().endswith(VIDEO_EXTENSIONS):
                continue
            path = Path(dirpath) / name
            rel = path.relative_to(root).as_posix()
            if not path.is_file():
                broken.append(rel)
                continue
            records.append(VideoRecord(path, rel.rsplit(".", 1)[0], -1, "", "unlabelled"))
    records.sort(key=lambda r: r.path.relative_to(root).as_posix())
    if broken:
        message = (f"{len(broken)} video link(s) under {root} point at nothing, e.g. "
                   f"{', '.join(sorted(broken)[:_SHOW])}; fix or delete the links")
        if on_missing == "error":
            raise DatasetError(message + ", or set data.on_bad_video: skip in params.yaml "
                               "(on_missing='skip' from Python)")
        log.warning("skipping: %s", message)
    if not records:
        message = (f"{root} holds no video files ({', '.join(VIDEO_EXTENSIONS)}); put the videos "
                   "there or point the root setting at the folder that has them")
        if on_missing == "error":
            raise DatasetError(message)
        log.warning(message)
    return VideoList(records, [], sorted(broken))


# --------------------------------------------------------------------------------------------
# Shared helpers

def _check_on_missing(on_missing: str) -> None:
    if on_missing not in ("error", "skip"):
        raise ValueError(f"on_missing = {on_missing!r}: choose 'error' or 'skip'")


def _check_on_empty_class(on_empty_class: str) -> None:
    if on_empty_class not in EMPTY_CLASS_CHOICES:
        raise ValueError(f"on_empty_class = {on_empty_class!r} (params: data.on_empty_class): choose "
                         f"{' or '.join(map(repr, EMPTY_CLASS_CHOICES))}")


def _check_split(split) -> int:
    if isinstance(split, str) and split.strip().isdigit():
        split = int(split)
    if split not in SPLIT_NUMBERS or isinstance(split, bool):
        raise DatasetError(f"split = {split!r}: the official splits are numbered 1, 2 and 3")
    return int(split)


def _check_root(root: Path, dataset: str) -> None:
    if not root.is_dir():
        raise DatasetError(f"{root}: no such {dataset} folder; download and extract {dataset} "
                           "there (one sub-folder per class) or point the root setting at it")


def _find_splits_dir(root: Path, splits_dir, folder_name: str, needed: tuple[str, ...]) -> Path:
    candidates = [Path(splits_dir)] if splits_dir else [root / folder_name, root.parent / folder_name]
    for folder in candidates:
        if folder.is_dir():
            absent = [n for n in needed if not (folder / n).is_file()]
            if absent:
                raise DatasetError(
                    f"{folder} lacks {', '.join(absent)}; extract the official split lists "
                    f"({folder_name}) there in full, or point splits_dir at a folder that has them")
            return folder
    raise DatasetError(
        f"split lists not found (looked for the folder {' and '.join(map(str, candidates))}); "
        f"extract the official {folder_name} folder into the dataset root or set splits_dir")


def _lines(path: Path):
    """(line number, whitespace-split fields) of the non-blank lines; CRLF/LF/BOM tolerant."""
    try:
        text = path.read_text(encoding="utf-8-sig", errors="replace")
    except FileNotFoundError:
        raise DatasetError(f"{path}: split list missing; extract the official split lists "
                           "in full or point splits_dir at them") from None
    for lineno, line in enumerate(text.splitlines(), 1):
        parts = line.split()
        if parts:
            yield lineno, parts


def _check_duplicates(entries) -> None:
    seen: dict[str, tuple[Path, int]] = {}
    for rel, _, _, list_file, lineno in entries:
        key = rel.lower()
        if key in seen:
            first = seen[key]
            raise DatasetError(f"{list_file}, line {lineno}: {rel} is listed twice (first at "
                               f"{first[0]}, line {first[1]}); restore the official lists")
        seen[key] = (list_file, lineno)


class _FileFinder:
    """Finds a listed ``<class>/<file>`` under a root: exactly, then ignoring case, then flat."""

    def __init__(self, root: Path):
        self.root = root
        self._index: dict[str, Path] | None = None
        self._flat: dict[str, Path | None] | None = None

    def find(self, rel: str) -> Path | None:
        exact = self.root / rel
        if exact.is_file():
            return exact
        if self._index is None:
            self._build()
        hit = self._index.get(rel.lower())
        if hit is None:
            hit = self._flat.get(rel.rsplit("/", 1)[-1].lower())
        return hit

    def _build(self) -> None:
        self._index, self._flat = {}, {}
        for dirpath, dirnames, filenames in os.walk(self.root):
            dirnames[:] = [d for d in dirnames if not d.startswith(".")]
            for name in filenames:
                path = Path(dirpath) / name
                self._index.setdefault(path.relative_to(self.root).as_posix().lower(), path)
                key = name.lower()
                # a file name found in two folders is ambiguous: no flat match for it
                self._flat[key] = path if key not in self._flat else None


def _locate(root: Path, entries, class_names: list[str], check_files: bool):
    """Records for the split-list ``entries`` found under ``root``, and the missing files
    grouped by the list that names them."""
    records, missing = [], {}
    finder = _FileFinder(root) if check_files else None
    for rel, label, split_name, list_file, _ in entries:
        path = finder.find(rel) if finder else root / rel
        if path is None:
            missing.setdefault(list_file, []).append(rel)
            continue
        name = class_names[label]
        records.append(VideoRecord(path, f"{name}/{Path(rel).stem}", label, name, split_name))
    return records, missing


def _finish(records, class_names, missing: dict, root: Path, on_missing: str, dataset: str,
            layout: str) -> VideoList:
    skipped = [rel for rels in missing.values() for rel in rels]
    if skipped:
        total = len(skipped) + len(records)
        detail = "; ".join(f"{len(rels)} from {lf} (e.g. {', '.join(rels[:_SHOW])})"
                           for lf, rels in missing.items())
        message = (f"{len(skipped)} of {total} listed {dataset} videos are not under {root}: "
                   f"{detail}")
        if on_missing == "error":
            raise DatasetError(
                f"{message}. Download/extract the full dataset so that {layout} exists, point "
                "data.root at it, or set data.on_bad_video: skip in params.yaml to drop absent videos "
                "(on_missing='skip' from Python)", skipped)
        log.warning("skipping absent videos: %s", message)
    if not records:
        raise DatasetError(f"no {dataset} video of the split lists is under {root}; "
                           "point root at the extracted dataset")
    return VideoList(records, class_names, skipped)


def _without_empty_classes(found: VideoList, on_empty_class: str, root: Path, split: int, fix) -> VideoList:
    """``found`` without the classes that have no video (``on_empty_class="drop"``), labels
    renumbered densely in class order; a :class:`DatasetError` naming the first empty class
    and ``fix(name)`` under ``"error"``."""
    counts = {}
    for r in found:
        counts[r.label] = counts.get(r.label, 0) + 1
    empty = [name for label, name in enumerate(found.class_names) if not counts.get(label)]
    if not empty:
        return found
    more = empty[1:]
    others = (f" (and {len(more)} more: {', '.join(more[:_SHOW])}{', ...' if len(more) > _SHOW else ''})"
              if more else "")
    if on_empty_class == "error":
        raise DatasetError(
            f"class {empty[0]!r}{others} has no video in split {split} under {root}: {fix(empty[0])}; or set "
            "data.on_empty_class: drop in params.yaml to leave empty classes out (the others renumbered "
            "0..K-1)")
    kept = [label for label in range(len(found.class_names)) if counts.get(label)]
    new_label = {old: new for new, old in enumerate(kept)}
    log.warning("data.on_empty_class: drop: %d class(es) without a video in split %d under %s left out: %s; "
                "the other %d classes are labelled 0..%d", len(empty), split, root, ", ".join(empty),
                len(kept), len(kept) - 1)
    records = [replace(r, label=new_label[r.label]) for r in found]
    return VideoList(records, [found.class_names[k] for k in kept], found.skipped_files, empty)
