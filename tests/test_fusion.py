"""The validation split (arsr.data.validation) and TSN's fusion weight chosen on it (arsr.study.fusion)."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from arsr.data.datasets import VideoRecord
from arsr.data.validation import clip_group, hold_out_validation
from arsr.study.fusion import (FUSION_FILE, PAPER_WEIGHTS, choose_weight, clear_fusion_weights, fit_fusion_weights,
                               fusion_weights, stage_fusion)


def _ucf(classes=("A", "B"), groups=range(1, 5), test_groups=(1,)) -> list[VideoRecord]:
    return [VideoRecord(Path(f"{c}/v_{c}_g{g:02d}_c01.avi"), f"{c}/v_{c}_g{g:02d}_c01", k, c,
                        "test" if g in test_groups else "train")
            for k, c in enumerate(classes) for g in groups]


def test_the_last_training_groups_are_held_out():
    records = _ucf()
    assert clip_group("A/v_A_g08_c02") == 8 and clip_group("unlabelled/clip_0001") is None
    out = hold_out_validation(records, 1)
    assert [r.split for r in out] == ["test", "train", "train", "val"] * 2  # group 4 of each class
    assert [r.split for r in hold_out_validation(records, 2)] == ["test", "train", "val", "val"] * 2
    assert hold_out_validation(records, 0) == records
    with pytest.raises(ValueError, match="leaves no training video for class.*A, B"):
        hold_out_validation(records, 3)


def test_without_groups_each_class_holds_out_its_last_sevenths():
    records = [VideoRecord(Path(f"{c}/{c}_{i:02d}.avi"), f"{c}/{c}_{i:02d}", k, c, "train")
               for k, c in enumerate(("run", "walk")) for i in range(14)]
    out = hold_out_validation(records, 1)
    val = [r.video_id for r in out if r.split == "val"]
    assert val == ["run/run_12", "run/run_13", "walk/walk_12", "walk/walk_13"]  # 2 of 14 = one seventh


def test_choose_weight_takes_the_best_and_breaks_ties_towards_the_paper():
    labels = np.array([0, 1, 2, 0])
    # the spatial stream is confidently wrong on videos 1 and 2; the temporal stream right everywhere
    spatial = np.array([[5.0, 0, 0], [5.0, 0, 0], [0, 5.0, 0], [5.0, 0, 0]])
    temporal = np.array([[1.0, 0, 0], [0, 1.0, 0], [0, 0, 1.0], [1.0, 0, 0]])
    w, accuracy = choose_weight(spatial, temporal, labels)
    assert w == 8.0 and accuracy[8.0] == 100.0 and accuracy[1.5] == 50.0  # only w > 5 overrules the spatial 5
    # every weight equally good: the paper's 1.5
    w, accuracy = choose_weight(temporal, temporal, labels)
    assert w == PAPER_WEIGHTS[1] and set(accuracy.values()) == {100.0}
    with pytest.raises(ValueError, match="no validation videos"):
        choose_weight(spatial[:0], temporal[:0], labels[:0])


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A toy store with a validation split and tiny TSN streams of seeds 0 and 1."""
    from test_study_stages import TINY_RECOGNITION
    from test_recognition_train import write_toy_store
    from arsr.study.recognizers import train_recognizers

    root = tmp_path_factory.mktemp("fusion")
    store = write_toy_store(root / "interim", train_per_class=2, test_per_class=1, frames=10, val_per_class=2)
    train_recognizers(TINY_RECOGNITION, [0, 1], store.root, root / "recognizers", names=("tsn_rgb", "tsn_flow"),
                      progress=False)
    return {"root": root, "store": store, "recognizers": root / "recognizers"}


def test_weights_are_chosen_on_the_validation_videos_and_score_every_method(trained):
    from arsr.evaluate import evaluate
    from arsr.sr_methods import hr_method
    from arsr.study.evaluation import seeded_recognizers

    store, models = trained["store"], trained["recognizers"]
    assert len(store.split("val")) == 6 and fusion_weights(models, 0) is None  # nothing chosen yet: the paper's
    fits = fit_fusion_weights(models, [0, 1], store.root, num_frames=2, crops="center", flow_method="dis",
                              progress=False)
    # the chosen weight is the best of the candidates on the validation videos, recomputed here by hand
    recs, names = seeded_recognizers(models, [0, 1], ("tsn",))
    for key, (_, seed) in names.items():
        saved = json.loads((models / f"seed{seed}" / FUSION_FILE).read_text())
        assert saved == {**fits[seed], "val_top1": saved["val_top1"]} and saved["val_videos"] == 6
        assert recs[key].fusion_weights == tuple(saved["weights"]) == fusion_weights(models, seed)
        val = evaluate(hr_method(), {key: recs[key]}, store, split="val", num_frames=2, progress=False, workers=1)
        w, accuracy = choose_weight(val.scores[(key, "spatial")], val.scores[(key, "temporal")], val.labels)
        assert saved["weights"] == [1.0, w] and saved["val_top1"] == {str(k): v for k, v in accuracy.items()}
        # and the test videos are fused with it
        test = evaluate(hr_method(), {key: recs[key]}, store, num_frames=2, progress=False, workers=1)
        np.testing.assert_allclose(test.scores[(key, "fusion")],
                                   (test.scores[(key, "spatial")] + w * test.scores[(key, "temporal")]) / (1 + w),
                                   rtol=1e-5, atol=1e-6)
    # recognition.fusion: paper removes them: every TSN fuses 1 : 1.5 again
    assert stage_fusion({"fusion": "paper"}, models, [0, 1], store.root, num_frames=2, crops="center",
                        flow_method="dis") is None
    assert fusion_weights(models, 0) is None and seeded_recognizers(models, [0], ("tsn",))[0]["tsn_r0"].fusion_weights \
        == PAPER_WEIGHTS
    assert clear_fusion_weights(models, [0]) == 0


def test_a_store_without_validation_videos_says_how_to_get_them(tmp_path, trained):
    from test_recognition_train import write_toy_store

    store = write_toy_store(tmp_path / "interim", train_per_class=1, test_per_class=1, frames=6)
    with pytest.raises(
        ValueError, match="no validation videos.*data.validation_groups >= 1.*recognition.fusion: paper"
    ):
        fit_fusion_weights(trained["recognizers"], [0], store.root, num_frames=2, crops="center", flow_method="dis",
                           progress=False)
