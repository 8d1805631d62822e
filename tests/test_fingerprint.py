"""The dataset fingerprint (arsr.data.fingerprint): equal for equal data, different for other data,
and carried by every saved model and cache, so that nothing made from other data survives a data
change (models retrained, scores recomputed, provenance hashes apart)."""
from __future__ import annotations

import dataclasses
import json
import logging
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from arsr.data.degraded import derive_lr_store
from arsr.data.fingerprint import dataset_fingerprint
from arsr.data.prepare import PrepareSettings, list_dataset, prepare_dataset
from arsr.data.store import DATASET_FILE, PreparedDataset, StoreFormatError
from arsr.provenance import provenance
from arsr.study.evaluation import evaluate_stage
from arsr.study.layout import eval_item
from arsr.study.recognizers import train_recognizers
from arsr.study.sr import train_sr_seeds

from test_study_stages import EVALUATE, PREPARE, TINY_RECOGNITION, TINY_SR

ROOT = Path(__file__).resolve().parents[1]
SYNTHETIC = {"n_classes": 3, "clips_per_class": 2, "n_unlabelled": 1, "frames_min": 6, "frames_max": 7,
             "width": 64, "height": 48, "seed": 0}
SETTINGS = PrepareSettings(scale=4, flow_method="dis", frame_codec="raw")
RECOGNIZERS = ("tsn_rgb", "tsn_flow")  # TSN is what the evaluation below scores with
METHODS = ("bicubic", "vdsr")  # the same method on any data (its cache key had no data in it), and a trained one


def _records(root: Path, seed: int = 0):
    data = {"dataset": "synthetic", "root": str(root), "split": 1, "splits_dir": None, "sr_root": None,
            "on_bad_video": "error", "synthetic": {**SYNTHETIC, "seed": seed}}
    records, _ = list_dataset(data, workers=1, progress=False)
    return records


def _prepare(records, out: Path, settings: PrepareSettings = SETTINGS) -> PreparedDataset:
    prepare_dataset(records, out, settings, workers=1, progress=False)
    return PreparedDataset(out)


@pytest.fixture(scope="module")
def raw(tmp_path_factory):
    """Two synthetic datasets of other generator seeds (dataset 1, dataset 2)."""
    root = tmp_path_factory.mktemp("raw")
    return {1: _records(root / "one", seed=0), 2: _records(root / "two", seed=1)}


@pytest.fixture(scope="module")
def one_thread():
    """Bit-identical training on the CPU needs one thread (and tiny nets gain nothing from more)."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


# ---------------------------------------------------------------------------------------------
# The fingerprint


def test_fingerprint_is_a_property_of_the_data_not_of_the_folder_or_the_run(raw, tmp_path):
    a = _prepare(raw[1], tmp_path / "a")
    meta = json.loads((a.root / "videos" / a.index["key"].iloc[0] / "meta.json").read_text())
    assert len(meta["hr_digest"]) == 16 and len(a.fingerprint) == 16
    # the same data generated afresh elsewhere (other paths, other modification times), prepared elsewhere
    again = _prepare(_records(tmp_path / "clone", seed=0), tmp_path / "b")
    assert again.fingerprint == a.fingerprint
    # a resumed prepare: one video killed, redone; the rest kept
    shutil.rmtree(a.root / "videos" / a.index["key"].iloc[1])
    _, stats = prepare_dataset(raw[1], a.root, SETTINGS, workers=1, progress=False)
    assert (stats["prepared"], stats["reused"]) == (1, len(raw[1]) - 1)
    assert PreparedDataset(a.root).fingerprint == a.fingerprint


def test_fingerprint_differs_for_other_frames_labels_splits_or_settings(raw, tmp_path):
    base = _prepare(raw[1], tmp_path / "base").fingerprint
    assert _prepare(raw[2], tmp_path / "seed").fingerprint != base  # another generator seed
    first = next(i for i, r in enumerate(raw[1]) if r.split == "test")
    relabelled = list(raw[1])
    other_class = next(r for r in raw[1] if 0 <= r.label != raw[1][first].label)  # the video moved to its class
    relabelled[first] = dataclasses.replace(raw[1][first], label=other_class.label, class_name=other_class.class_name)
    assert _prepare(relabelled, tmp_path / "label").fingerprint != base
    moved = list(raw[1])
    moved[first] = dataclasses.replace(raw[1][first], split="train")
    assert _prepare(moved, tmp_path / "split").fingerprint != base
    other = dataclasses.replace(SETTINGS, flow_method="farneback")  # the same HR frames, other flow
    assert _prepare(raw[1], tmp_path / "settings", other).fingerprint != base


def test_each_field_enters_the_fingerprint():
    video = ["A/v_1", "A", 0, "test", 6, "0123456789abcdef"]
    same = dataset_fingerprint("s", [[0, "A"]], [video])
    assert same == dataset_fingerprint("s", [(0, "A")], [tuple(video)])
    assert dataset_fingerprint("t", [[0, "A"]], [video]) != same
    assert dataset_fingerprint("s", [[0, "B"]], [video]) != same
    for i, changed in enumerate(["A/v_2", "B", 1, "train", 7, "fedcba9876543210"]):
        assert dataset_fingerprint("s", [[0, "A"]], [[*video[:i], changed, *video[i + 1:]]]) != same, video[i]


def test_a_store_prepared_before_fingerprints_is_refused_until_prepare_adds_them(raw, tmp_path):
    store = _prepare(raw[1], tmp_path)
    want = store.fingerprint
    for meta_file in (tmp_path / "videos").glob("*/meta.json"):  # what an older prepare wrote
        meta = json.loads(meta_file.read_text())
        del meta["hr_digest"]
        meta_file.write_text(json.dumps(meta))
    (tmp_path / DATASET_FILE).unlink()
    with pytest.raises(StoreFormatError, match=rf"{DATASET_FILE} not found.*dvc repro prepare"):
        PreparedDataset(tmp_path).fingerprint
    # prepare keeps every video and adds the digests from the stored frames: the same fingerprint
    _, stats = prepare_dataset(raw[1], tmp_path, SETTINGS, workers=1, progress=False)
    assert (stats["prepared"], stats["reused"]) == (0, len(raw[1]))
    assert PreparedDataset(tmp_path).fingerprint == want
    # an index changed after prepare wrote the fingerprint is refused, not misnamed
    index = pd.read_csv(tmp_path / "index.csv")
    index.loc[0, "split"] = "unlabelled"
    index.to_csv(tmp_path / "index.csv", index=False)
    with pytest.raises(StoreFormatError, match=r"another .*index.csv.*dvc repro prepare"):
        PreparedDataset(tmp_path).fingerprint


def test_provenance_records_the_numeric_packages():
    import cv2
    import numpy

    from arsr.provenance import provenance

    prov = provenance({"a": 1})
    assert prov["numpy"] == numpy.__version__ and prov["opencv"] == cv2.__version__
    assert {"python", "torch", "numpy", "opencv"} <= set(prov)


def test_provenance_hashes_the_dataset_fingerprint():
    params = {"evaluate": {"num_frames": 25}, "seeds": [0]}
    a, b = provenance(params, dataset_fingerprint="a" * 16), provenance(params, dataset_fingerprint="b" * 16)
    assert a["dataset_fingerprint"] == "a" * 16 and a["params_hash"] != b["params_hash"]
    assert provenance(params, dataset_fingerprint="a" * 16)["params_hash"] == a["params_hash"]


def test_every_stage_notebook_stamps_its_metrics_with_the_fingerprint():
    for path in sorted((ROOT / "notebooks").glob("*.ipynb")):
        cells = ["".join(c["source"]) for c in json.loads(path.read_text())["cells"] if c["cell_type"] == "code"]
        stamping = [c for c in cells if "provenance(" in c.replace("provenance_summary(", "")]
        assert stamping, f"{path.name} writes no provenance"
        for cell in stamping:
            assert "dataset_fingerprint=" in cell, f"{path.name}: provenance(...) without dataset_fingerprint"


# ---------------------------------------------------------------------------------------------
# Nothing made from other data is reused


def _stages(interim: Path, work: Path) -> dict:
    """The recognizer, SR and evaluation stage functions on ``interim``, into ``work``; returns
    the trained weights and the evaluation's tables and cached scores."""
    train_recognizers(TINY_RECOGNITION, [0], interim, work / "recognizers", names=RECOGNIZERS, progress=False)
    train_sr_seeds("vdsr", TINY_SR, [0], interim, work / "sr" / "vdsr", progress=False)
    evaluate = {**EVALUATE, "recognizers": ["tsn"]}
    runs = {m: evaluate_stage(m, evaluate, [0], PREPARE, interim, work / "recognizers", work / "sr", work / "eval",
                              n_samples=0, progress=False) for m in METHODS}
    weights = {name: torch.load(work / "recognizers" / "seed0" / name / "model.pt", weights_only=True)
               for name in RECOGNIZERS}
    weights["vdsr"] = torch.load(work / "sr" / "vdsr" / "seed0" / "sr" / "model.pt", weights_only=True)
    scores = {}
    for m in METHODS:
        for path in sorted((work / "eval" / eval_item(m)).rglob("*.npz")):
            with np.load(path) as z:
                scores[f"{m}/{path.relative_to(work / 'eval' / eval_item(m))}"] = {k: z[k] for k in z.files}
    return {"weights": weights, "tables": {m: r.table for m, r in runs.items()}, "scores": scores}


@pytest.fixture(scope="module")
def runs(raw, tmp_path_factory, one_thread):
    """Dataset 1, then dataset 2 prepared into one interim folder, the stages run on each into
    one set of model and cache folders; and dataset 2 alone, in folders of its own."""
    root = tmp_path_factory.mktemp("invalidation")
    shared, fresh = root / "shared", root / "fresh"
    old = _prepare(raw[1], shared / "interim").fingerprint
    first = _stages(shared / "interim", shared)
    new = _prepare(raw[2], shared / "interim").fingerprint
    logger = logging.getLogger("arsr")
    handler = _Lines()
    logger.addHandler(handler)
    try:
        second = _stages(shared / "interim", shared)
    finally:
        logger.removeHandler(handler)
    alone = _stages(_prepare(raw[2], fresh / "interim").root, fresh)
    return {"first": first, "second": second, "alone": alone, "log": handler.lines, "shared": shared,
            "fingerprints": (old, new)}


class _Lines(logging.Handler):
    def __init__(self):
        super().__init__(logging.WARNING)
        self.lines: list[str] = []

    def emit(self, record):
        self.lines.append(record.getMessage())


def test_models_of_other_data_are_trained_again_as_on_fresh_folders(runs):
    first, second, alone = runs["first"]["weights"], runs["second"]["weights"], runs["alone"]["weights"]
    for name in (*RECOGNIZERS, "vdsr"):
        assert first[name].keys() == second[name].keys() == alone[name].keys()
        assert any(not torch.equal(first[name][k], second[name][k]) for k in first[name]), f"{name} was reused"
        for k in second[name]:  # bit-identical to a run that never saw dataset 1
            assert torch.equal(second[name][k], alone[name][k]), f"{name}: {k}"


def test_scores_of_other_data_are_computed_again_as_on_fresh_folders(runs):
    first, second, alone = runs["first"], runs["second"], runs["alone"]
    for m in METHODS:
        pd.testing.assert_frame_equal(second["tables"][m], alone["tables"][m])
    assert second["tables"]["bicubic"]["psnr"].iloc[0] != first["tables"]["bicubic"]["psnr"].iloc[0]
    assert second["scores"].keys() == alone["scores"].keys()
    for key, arrays in second["scores"].items():
        for name, value in arrays.items():
            np.testing.assert_array_equal(value, alone["scores"][key][name], err_msg=f"{key}: {name}")
    common = first["scores"].keys() & second["scores"].keys()  # the same video names in both datasets
    assert common
    for key in common:  # none of dataset 1's scores is left
        assert any(not np.array_equal(v, second["scores"][key][name]) for name, v in first["scores"][key].items()
                   if name not in ("label", "video_id")), key


def test_the_log_says_in_one_line_why_a_folder_was_emptied(runs):
    old, new = runs["fingerprints"]
    assert old != new
    folder = runs["shared"] / "recognizers" / "seed0" / "tsn_rgb"
    assert f"{folder} was made with other settings (dataset: {old} -> {new}): emptying it to make it again" \
        in runs["log"]
    assert any(line.startswith(f"cache {runs['shared'] / 'eval'}") and f"(dataset: {old} -> {new})" in line
               and line.endswith("rebuilding it") for line in runs["log"])
    assert all("\n" not in line for line in runs["log"])


def test_the_derived_lr_store_follows_its_source(raw, tmp_path):
    out = tmp_path / "interim_lr"
    first = _prepare(raw[1], tmp_path / "one")
    derive_lr_store(first.root, out, scale=4, flow_method="dis", workers=1, progress=False)
    before = PreparedDataset(out).fingerprint
    second = _prepare(raw[2], tmp_path / "two")
    stats = derive_lr_store(second.root, out, scale=4, flow_method="dis", workers=1, progress=False)
    assert stats["derived"] == stats["videos"] and stats["reused"] == 0  # same names, other videos: derived again
    after = PreparedDataset(out).fingerprint
    alone = tmp_path / "alone"
    derive_lr_store(second.root, alone, scale=4, flow_method="dis", workers=1, progress=False)
    assert after != before and after == PreparedDataset(alone).fingerprint
