"""Recogniser training: TSN sampling and augmentation, learning on a toy store, exact resumption."""
from __future__ import annotations

import json
import signal
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from arsr.checkpoint import CheckpointError

from arsr.data.fingerprint import write_fingerprint
from arsr.data.store import INDEX_COLUMNS, PreparedDataset, write_video_folder
from arsr.flow import quantize
from arsr.ops import imresize
from arsr.recognition import sampling
from arsr.recognition.train import (BatchPlan, SnippetDataset, TrainConfig, load_recognizer, lr_at,
                                    train_recognizer)

# Toy actions: a coloured square moving in a class-specific direction. Colour tells the spatial
# stream, direction the temporal one; no class is the mirror image of another, so flips keep labels.
TOY_CLASSES = [("RightRed", (1, 0), (220, 40, 40)), ("DownGreen", (0, 1), (40, 200, 40)),
               ("UpBlue", (0, -1), (40, 60, 230))]


def write_toy_store(root: Path, train_per_class: int = 4, test_per_class: int = 1, frames: int = 10,
                    size: int = 32, speed: int = 2, side: int = 10, seed: int = 0,
                    val_per_class: int = 0) -> PreparedDataset:
    """A prepared store (store.py layout) of toy clips: HR (frames, size, size, 3), LR x1/4 by
    MATLAB bicubic, exact HR flow (speed px/frame inside the square, 0 elsewhere); per class
    ``train_per_class`` training, ``val_per_class`` validation and ``test_per_class`` test clips."""
    rng = np.random.default_rng(seed)
    rows = []
    for label, (cname, (dx, dy), colour) in enumerate(TOY_CLASSES):
        for j in range(train_per_class + val_per_class + test_per_class):
            split = "train" if j < train_per_class else "val" if j < train_per_class + val_per_class else "test"
            vid = f"{cname}/v_{cname}_g{j:02d}_c01"
            key = vid.replace("/", "__")
            travel = speed * (frames - 1)
            lo_x, hi_x = (0, size - side - travel) if dx > 0 else (0, size - side)
            lo_y = travel if dy < 0 else 0
            hi_y = size - side - (travel if dy > 0 else 0)
            x0, y0 = int(rng.integers(lo_x, hi_x + 1)), int(rng.integers(lo_y, hi_y + 1))
            base = rng.normal(120, 12, (size, size, 3))
            hr = np.empty((frames, size, size, 3), np.uint8)
            flow = np.zeros((frames - 1, size, size, 2), np.float16)
            for t in range(frames):
                img = base + rng.normal(0, 3, base.shape)
                x, y = x0 + dx * speed * t, y0 + dy * speed * t
                img[y:y + side, x:x + side] = np.asarray(colour) + rng.normal(0, 5, 3)
                hr[t] = np.clip(np.rint(img), 0, 255).astype(np.uint8)
                if t < frames - 1:
                    flow[t, y:y + side, x:x + side] = (dx * speed, dy * speed)
            lr = np.stack([imresize(f, 0.25) for f in hr])
            folder = root / "videos" / key
            write_video_folder(folder, hr=hr, lr=lr, flow=flow)
            rows.append({"video_id": vid, "key": key, "class_name": cname, "label": label, "split": split,
                         "n_frames": frames, "height": size, "width": size, "lr_height": size // 4,
                         "lr_width": size // 4, "source": "toy"})
    pd.DataFrame(rows, columns=INDEX_COLUMNS).to_csv(root / "index.csv", index=False)
    pd.DataFrame({"label": range(len(TOY_CLASSES)), "class_name": [c[0] for c in TOY_CLASSES]}).to_csv(
        root / "classes.csv", index=False)
    write_fingerprint(root, f"toy seed {seed}")  # as prepare does, last
    return PreparedDataset(root)


@pytest.fixture(scope="module")
def toy(tmp_path_factory) -> PreparedDataset:
    return write_toy_store(tmp_path_factory.mktemp("toy_store"))


def tiny_config(modality: str, **overrides) -> dict:
    cfg = {"model": {"type": "tsn", "modality": modality, "backbone": "resnet18", "width": 8,
                     "dropout": 0.0, "partial_bn": False},
           "epochs": 24, "batch_size": 6, "lr": 0.02, "lr_steps": [18], "input_size": 32,
           "workers": 1, "log_every": 4, "seed": 1}
    cfg.update(overrides)
    return cfg


# ------------------------------------------------------------------------------------------------
# Sampling


def test_train_offsets_cover_every_segment():
    rng = np.random.default_rng(0)
    n, segments = 30, 3
    seen = np.zeros(n, bool)
    for _ in range(200):
        offsets = sampling.train_offsets(n, segments, rng)
        assert offsets.shape == (segments,)
        # one start in each third of the positions
        assert all(k * 10 <= o < (k + 1) * 10 for k, o in enumerate(offsets))
        seen[offsets] = True
    assert seen.all()
    # a clip shorter than the segment count: sorted starts inside the clip
    short = sampling.train_offsets(2, 3, rng)
    assert (np.diff(short) >= 0).all() and short.max() < 2
    assert (sampling.train_offsets(1, 3, rng) == 0).all()


def test_uniform_offsets_spread_over_the_clip():
    assert sampling.uniform_offsets(100, 4).tolist() == [12, 37, 62, 87]
    assert sampling.uniform_offsets(3, 5).tolist() == [0, 0, 1, 2, 2]  # repeats on short clips
    assert sampling.num_positions(10, "rgb", 1) == 10
    assert sampling.num_positions(10, "flow", 5) == 5  # 9 fields, starts 0..4
    assert sampling.num_positions(4, "flow", 5) == 1
    fields = sampling.snippet_fields([0, 4], 5, 10)
    assert fields.tolist() == [[0, 1, 2, 3, 4], [4, 5, 6, 7, 8]]
    assert sampling.snippet_fields([0], 5, 4).tolist() == [[0, 1, 2, 2, 2]]  # last field repeats
    assert sampling.needed_frames([[3]], [[0, 1]]).tolist() == [0, 1, 2, 3]


def test_flow_stack_order_and_flip():
    h, w = 4, 6
    fields = np.zeros((6, h, w, 2), np.float32)
    for i in range(6):
        fields[i, ..., 0], fields[i, ..., 1] = i + 1, -(i + 1)  # x = i+1, y = -(i+1)
    stack = sampling.stack_flow(fields, sampling.snippet_fields([1], 5, 7))
    assert stack.shape == (1, h, w, 10)
    assert stack[0, 0, 0].tolist() == [2, -2, 3, -3, 4, -4, 5, -5, 6, -6]  # [x0, y0, x1, y1, ...]

    q = quantize(stack, 20)
    q[..., 0, :] = 7  # mark the left column
    flipped = sampling.flip_horizontal(q, "flow")
    assert (flipped[..., :, 0::2] == 255 - q[..., ::-1, 0::2]).all()  # x inverted and mirrored
    assert (flipped[..., :, 1::2] == q[..., ::-1, 1::2]).all()  # y only mirrored
    assert (flipped[..., -1, 0] == 248).all()
    rgb = np.arange(2 * 3 * 4 * 3, dtype=np.uint8).reshape(2, 3, 4, 3)
    assert (sampling.flip_horizontal(rgb, "rgb") == rgb[:, :, ::-1]).all()


def test_crops_inside_the_frame():
    rng = np.random.default_rng(0)
    for _ in range(100):
        box = sampling.multiscale_crop(rng, 96, 128, 64, 73)
        x0, y0, x1, y1 = box.pixels(96, 128)
        assert 0 <= x0 < x1 <= 128 and 0 <= y0 < y1 <= 96
        assert min(x1 - x0, y1 - y0) >= int(0.66 * 96) - 2
    ten = sampling.inference_crops(96, 128, 64, 73, "ten")
    assert len(ten) == 10 and sum(f for _, f in ten) == 5
    (centre, flip), = sampling.inference_crops(96, 128, 64, 73, "center")
    assert not flip and centre.pixels(96, 128) == (21, 5, 105, 89)  # 64 px of the 97x73 rescaled frame
    frames = np.random.default_rng(1).integers(0, 255, (2, 3, 96, 128, 10), dtype=np.uint8)
    assert sampling.crop_resize(frames, centre, 64).shape == (2, 3, 64, 64, 10)


def test_snippet_dataset_samples(toy):
    rgb = SnippetDataset(toy, streams=("rgb",), num_segments=3, input_size=32)
    a, b = rgb[(0, 1)], rgb[(0, 1)]
    assert a["rgb"].shape == (3, 3, 32, 32) and a["rgb"].dtype == torch.uint8
    assert torch.equal(a["rgb"], b["rgb"])  # a pure function of (seed, epoch, index)
    flow = SnippetDataset(toy, streams=("flow",), num_segments=3, input_size=32)
    s = flow[(0, 0)]
    assert s["flow"].shape == (3, 10, 32, 32) and s["label"] == 0
    both = SnippetDataset(toy, streams=("rgb", "flow"), aligned=True, num_segments=5, input_size=32)
    s = both[(2, 5)]
    assert s["rgb"].shape == (5, 3, 32, 32) and s["flow"].shape == (5, 10, 32, 32)


def test_batch_plan_covers_each_epoch_and_splits_ranks():
    full = list(BatchPlan(10, 4, seed=0, start=0, stop=6))
    assert len(full) == 6  # 3 iterations per epoch
    first_epoch = [i for batch in full[:3] for e, i in batch]
    assert sorted(first_epoch) == list(range(10)) and {e for e, _ in full[3]} == {1}
    resumed = list(BatchPlan(10, 4, seed=0, start=4, stop=6))
    assert resumed == full[4:]
    ranks = [list(BatchPlan(10, 4, seed=0, start=0, stop=3, rank=r, world_size=2)) for r in (0, 1)]
    together = sorted(i for r in ranks for batch in r for _, i in batch)
    assert sorted(set(together)) == list(range(10))
    with pytest.raises(ValueError, match="batch_size"):
        BatchPlan(10, 3, 0, 0, 1, world_size=2)
    assert lr_at(0, 5, 0.1, (2, 4), 0.1) == 0.1
    assert lr_at(10, 5, 0.1, (2, 4), 0.1) == pytest.approx(0.01)
    assert lr_at(24, 5, 0.1, (2, 4), 0.1) == pytest.approx(0.001)


def test_config_errors_name_the_key():
    with pytest.raises(ValueError, match="recognition.epoch"):
        TrainConfig.from_dict({"epoch": 3})
    with pytest.raises(ValueError, match="model.type"):
        TrainConfig.from_dict({"model": {"type": "c3d"}})
    cfg = TrainConfig.from_dict({"model": {"type": "tsn", "modality": "flow"}}).resolved()
    assert (cfg.lr, cfg.clip_grad, cfg.epochs, cfg.lr_steps) == (0.005, 20.0, 340, (190, 300))
    cfg = TrainConfig.from_dict({}).resolved()
    assert (cfg.lr, cfg.clip_grad, cfg.num_segments, cfg.scale_size) == (0.001, 40.0, 3, 256)


# ------------------------------------------------------------------------------------------------
# Training


def _train_accuracy(folder: Path, toy: PreparedDataset, modality: str) -> float:
    """Top-1 of the trained stream on the training clips (centre crop, 5 test snippets)."""
    trained = load_recognizer(folder, device="cpu")
    model, info = trained.model, trained.info
    correct = 0
    rows = toy.split("train")
    for _, row in rows.iterrows():
        video = toy.video(row)
        t = video.n_frames
        if modality == "rgb":
            idx = sampling.snippet_frames(sampling.uniform_offsets(t, 5), 1, t)[:, 0]
            snippets = np.asarray(video.hr[idx])
        else:
            fields = sampling.snippet_fields(sampling.uniform_offsets(sampling.num_positions(t, "flow", 5), 5), 5, t)
            snippets = quantize(sampling.stack_flow(np.asarray(video.flow, np.float32), fields), 20)
        (box, _), = sampling.inference_crops(*snippets.shape[1:3], info["input_size"], info["scale_size"], "center")
        x = torch.from_numpy(sampling.crop_resize(snippets, box, info["input_size"])).permute(0, 3, 1, 2)
        with torch.no_grad():
            scores = model(model.normalize(x.float()[None] / 255))
        correct += int(scores.argmax(1).item() == row["label"])
    return correct / len(rows)


@pytest.mark.parametrize("modality", ["rgb", "flow"])
def test_tiny_tsn_learns_the_toy_classes(toy, tmp_path, modality):
    result = train_recognizer(tiny_config(modality), toy, tmp_path / modality, progress=False, device="cpu")
    assert result.finished and result.iteration == result.total_iterations == 24 * 2
    assert (tmp_path / modality / "model.pt").is_file()
    info = json.loads((tmp_path / modality / "recognizer.json").read_text())
    assert info["model"]["modality"] == modality and info["class_names"] == [c[0] for c in TOY_CLASSES]
    assert info["new_length"] == {modality: 1 if modality == "rgb" else 5}
    log = result.log
    assert list(log.columns) == ["iteration", "epoch", "loss", "accuracy", "lr", "seconds", "val_loss", "val_accuracy"]
    assert log["val_loss"].isna().all()  # val_every 0: no validation
    assert log["iteration"].tolist() == list(range(4, 49, 4))
    assert log["lr"].iloc[0] == pytest.approx(0.02) and log["lr"].iloc[-1] == pytest.approx(0.002)
    assert log["loss"].iloc[-2:].mean() < log["loss"].iloc[0]
    assert _train_accuracy(tmp_path / modality, toy, modality) > 2 / 3  # chance is 1/3


def test_resume_after_stop_gives_the_same_weights(toy, tmp_path):
    cfg = tiny_config("rgb", epochs=3, lr_steps=[2])
    cfg["model"] = {**cfg["model"], "dropout": 0.5}  # dropout draws from the restored RNG
    whole = train_recognizer(cfg, toy, tmp_path / "whole", progress=False, device="cpu")
    part = train_recognizer(cfg, toy, tmp_path / "split", progress=False, device="cpu", stop_after=3)
    assert not part.finished and part.iteration == 3 and part.model_path is None
    assert not (tmp_path / "split" / "model.pt").exists() and (tmp_path / "split" / "last.pt").is_file()
    rest = train_recognizer(cfg, toy, tmp_path / "split", progress=False, device="cpu")
    assert rest.finished and rest.iteration == whole.iteration == 6
    a = torch.load(tmp_path / "whole" / "model.pt", weights_only=True)
    b = torch.load(tmp_path / "split" / "model.pt", weights_only=True)
    assert a.keys() == b.keys()
    for k in a:
        assert torch.equal(a[k], b[k]), k
    cols = ["iteration", "epoch", "loss", "accuracy", "lr"]
    pd.testing.assert_frame_equal(whole.log[cols], rest.log[cols])
    # a finished run is returned, not repeated; a changed setting is refused
    again = train_recognizer(cfg, toy, tmp_path / "split", progress=False, device="cpu")
    assert again.finished and again.iteration == 6
    with pytest.raises(CheckpointError, match=r"last\.pt was written by a run with other settings \(lr: checkpoint"):
        train_recognizer({**cfg, "lr": 0.01}, toy, tmp_path / "split", progress=False, device="cpu")


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_a_signal_checkpoints_its_iteration_and_the_resume_is_bitwise(signum, toy, tmp_path, monkeypatch):
    """Ctrl-C / SIGTERM mid-iteration 3 (no checkpoint due before 1000): last.pt of iteration 3 with
    its RNG and log window, Interrupted saying so, the resumed run reaches the whole run's weights."""
    import arsr.recognition.train as training
    from arsr.interrupt import Interrupted

    cfg = tiny_config("rgb", epochs=3, lr_steps=[2], checkpoint_every=1000, log_every=4)
    cfg["model"] = {**cfg["model"], "dropout": 0.5}  # dropout draws from the restored RNG
    whole = train_recognizer(cfg, toy, tmp_path / "whole", progress=False, device="cpu")

    real = training.lr_at

    def signal_in_iteration_3(iteration, *args):
        if iteration == 2:
            signal.raise_signal(signum)  # before this iteration's update: it must still finish
        return real(iteration, *args)

    monkeypatch.setattr(training, "lr_at", signal_in_iteration_3)
    with pytest.raises(Interrupted) as info:
        train_recognizer(cfg, toy, tmp_path / "split", progress=False, device="cpu")
    assert str(info.value) == f"stopped at iteration 3 of 6 ({tmp_path / 'split' / 'last.pt'} written)"
    assert info.value.exit_code == 128 + signum
    assert torch.load(tmp_path / "split" / "last.pt", weights_only=True)["iteration"] == 3
    assert not (tmp_path / "split" / "model.pt").exists()

    monkeypatch.setattr(training, "lr_at", real)
    rest = train_recognizer(cfg, toy, tmp_path / "split", progress=False, device="cpu")
    assert rest.finished and rest.iteration == whole.iteration == 6
    a = torch.load(tmp_path / "whole" / "model.pt", weights_only=True)
    b = torch.load(tmp_path / "split" / "model.pt", weights_only=True)
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    cols = ["iteration", "epoch", "loss", "accuracy", "lr"]  # the log window crossed the stop
    pd.testing.assert_frame_equal(whole.log[cols], rest.log[cols])


@pytest.fixture(scope="module")
def toy_with_val(tmp_path_factory) -> PreparedDataset:
    return write_toy_store(tmp_path_factory.mktemp("toy_val_store"), val_per_class=2)


def test_validation_logs_the_held_out_loss_and_changes_no_weight(toy, toy_with_val, tmp_path):
    """val_every 2 over 5 epochs of 2 iterations: rows at epochs 2, 4 and the end carry the held-out
    loss and top-1 (of 6 videos: a multiple of 1/6); the weights and the training rows equal those
    of the same run without validation; resumed after a stop, the log and weights are the same."""
    cfg = tiny_config("rgb", epochs=5, lr_steps=[3], log_every=3)
    cfg["model"] = {**cfg["model"], "dropout": 0.5}  # dropout draws from the RNG: validation must not
    plain = train_recognizer(cfg, toy_with_val, tmp_path / "plain", progress=False, device="cpu")
    val = train_recognizer({**cfg, "val_every": 2}, toy_with_val, tmp_path / "val", progress=False, device="cpu")
    a = torch.load(tmp_path / "plain" / "model.pt", weights_only=True)
    b = torch.load(tmp_path / "val" / "model.pt", weights_only=True)
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert plain.log["iteration"].tolist() == [3, 6, 9, 10]
    assert val.log["iteration"].tolist() == [3, 4, 6, 8, 9, 10]  # + the epoch ends 4 and 8
    rows = val.log.dropna(subset=["val_loss"])
    assert rows["iteration"].tolist() == [4, 8, 10]
    assert (rows["val_loss"] > 0).all()
    six = rows["val_accuracy"] * 6
    assert np.allclose(six, np.round(six)) and rows["val_accuracy"].between(0, 1).all()
    # the same validation, by hand, on the finished model
    from arsr.recognition.config import TrainConfig as Config
    from arsr.recognition.train import validate, validation_data
    model = load_recognizer(tmp_path / "val", device="cpu").model
    config = Config.from_dict({**cfg, "val_every": 2}).resolved()
    data = validation_data(toy_with_val, config, ("rgb",), {"rgb": 1})
    assert len(data) == 6
    loss, accuracy = validate(model, data, config, torch.device("cpu"))
    assert loss == pytest.approx(rows["val_loss"].iloc[-1], rel=1e-5) and accuracy == rows["val_accuracy"].iloc[-1]
    # stopped after iteration 5 (checkpoint at 6), resumed: the same log and weights
    part = train_recognizer({**cfg, "val_every": 2}, toy_with_val, tmp_path / "split", progress=False, device="cpu",
                            stop_after=5)
    assert not part.finished
    rest = train_recognizer({**cfg, "val_every": 2}, toy_with_val, tmp_path / "split", progress=False, device="cpu")
    cols = ["iteration", "epoch", "loss", "accuracy", "lr", "val_loss", "val_accuracy"]
    pd.testing.assert_frame_equal(val.log[cols], rest.log[cols])
    # on a store without the split, nothing is validated
    none = train_recognizer({**cfg, "val_every": 1, "epochs": 1}, toy, tmp_path / "none", progress=False,
                            device="cpu")
    assert none.log["val_loss"].isna().all()


def test_st_resnet_validation(toy_with_val, tmp_path):
    cfg = {"model": {"type": "st_resnet", "depth": 18, "width": 8}, "epochs": 1, "batch_size": 6,
           "lr": 0.01, "input_size": 32, "workers": 1, "log_every": 1, "num_segments": 3, "val_every": 1}
    result = train_recognizer(cfg, toy_with_val, tmp_path / "st", progress=False, device="cpu")
    rows = result.log.dropna(subset=["val_loss"])
    assert rows["iteration"].tolist() == [2] and np.isfinite(rows["val_loss"]).all()


def test_st_resnet_trains_jointly(toy, tmp_path):
    cfg = {"model": {"type": "st_resnet", "depth": 18, "width": 8}, "epochs": 1, "batch_size": 6,
           "lr": 0.01, "input_size": 32, "workers": 1, "log_every": 1, "num_segments": 3}
    result = train_recognizer(cfg, toy, tmp_path / "st", progress=False, device="cpu")
    assert result.finished and len(result.log) == 2 and np.isfinite(result.log["loss"]).all()
    trained = load_recognizer(tmp_path / "st", device="cpu")
    assert trained.kind == "st_resnet" and not trained.model.training
    assert trained.info["new_length"] == {"rgb": 1, "flow": 5}


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_amp_training_runs(toy, tmp_path):
    result = train_recognizer(tiny_config("flow", epochs=2), toy, tmp_path / "gpu", progress=False)
    assert result.finished and np.isfinite(result.log["loss"]).all()


def test_torchrun_two_processes_on_cpu(toy, tmp_path):
    """Two gloo processes train one TSN (each its share of every batch); rank 0 writes the files.
    (With channels-last convs under DDP every step warned of a grad/bucket stride mismatch and a run
    was seen to crash in backward.)"""
    import os
    import subprocess
    import sys

    torchrun = Path(sys.executable).with_name("torchrun")
    if not torchrun.is_file():
        pytest.skip("torchrun not installed beside the Python interpreter")
    (tmp_path / "cfg.json").write_text(json.dumps(tiny_config("rgb", epochs=1, batch_size=4)))
    proc = subprocess.run(
        [str(torchrun), "--standalone", "--nproc_per_node=2", "-m", "arsr.recognition.train",
         "--config", str(tmp_path / "cfg.json"), "--out", str(tmp_path / "out"), "--data", str(toy.root),
         "--device", "cpu"],
        capture_output=True, text=True, env={**os.environ, "OMP_NUM_THREADS": "1"}, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert (tmp_path / "out" / "model.pt").is_file()
    assert "Grad strides do not match bucket view strides" not in proc.stderr
