"""Loading trained recognisers for test time: the round trip, the errors, the import direction."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from arsr.recognition.inference import TwoStreamTSN, build_model, load_recognizer, load_recognizers
from test_dvc_deps import ROOT, closure, module_graph  # tests/ is on sys.path under pytest

TINY_TSN = {"type": "tsn", "modality": "rgb", "backbone": "resnet18", "width": 8, "num_classes": 3,
            "num_segments": 3}


def write_trained(folder: Path, model_cfg: dict, weights: dict[str, torch.Tensor]) -> Path:
    """A training folder as ``train_recognizer`` leaves it: ``recognizer.json`` + ``model.pt``."""
    folder.mkdir(parents=True)
    info = {"format": 1, "model": model_cfg, "input_size": 32, "scale_size": 36, "flow_bound": 20.0,
            "num_segments": 3}
    (folder / "recognizer.json").write_text(json.dumps(info))
    torch.save(weights, folder / "model.pt")
    return folder


def test_load_recognizer_round_trip(tmp_path):
    torch.manual_seed(0)
    model = build_model(TINY_TSN, 3, 3, load_pretrained=False)
    folder = write_trained(tmp_path / "tsn_rgb", TINY_TSN, model.state_dict())
    trained = load_recognizer(folder, device="cpu")
    assert trained.kind == "tsn" and not trained.model.training
    for key, value in model.state_dict().items():
        assert torch.equal(trained.model.state_dict()[key], value), key
    recs = load_recognizers(tsn_rgb=folder, device="cpu")
    assert isinstance(recs["tsn"], TwoStreamTSN) and recs["tsn"].streams == ("spatial",)
    assert (recs["tsn"].input_size, recs["tsn"].scale_size) == ({"rgb": 32}, {"rgb": 36})


def test_load_recognizer_names_the_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"recognizer\.json not found: train the recogniser"):
        load_recognizer(tmp_path / "never_trained", device="cpu")


def test_load_recognizer_rejects_weights_of_another_model(tmp_path):
    other = build_model({**TINY_TSN, "num_classes": 4}, 4, 3, load_pretrained=False)
    folder = write_trained(tmp_path / "tsn_rgb", TINY_TSN, other.state_dict())
    with pytest.raises(ValueError, match=r"model\.pt does not fit the model described in .*recognizer\.json"):
        load_recognizer(folder, device="cpu")


def test_load_recognizers_checks_the_stream(tmp_path):
    model = build_model(TINY_TSN, 3, 3, load_pretrained=False)
    folder = write_trained(tmp_path / "tsn_rgb", TINY_TSN, model.state_dict())
    with pytest.raises(ValueError, match="not a TSN flow stream"):
        load_recognizers(tsn_flow=folder, device="cpu")
    with pytest.raises(ValueError, match="not an ST-ResNet"):
        load_recognizers(st_resnet=folder, device="cpu")


def test_inference_does_not_import_training():
    # training imports the test-time code (loading, input normalisation), never the reverse
    reached = closure(module_graph(ROOT), {"arsr.recognition.inference"})
    assert "arsr.recognition.train" not in reached
