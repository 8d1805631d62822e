"""The command line: `arsr upscale` gives what the library gives, streamed into a lossless file;
`arsr recognize` prints the TSN's top classes; bad inputs end with one line and exit status 2."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from arsr.archs import build_arch
from arsr.cli import main, upscale_frames
from arsr.data.video import LOSSLESS_FOURCCS, read_video, write_video
from arsr.recognition.inference import build_model
from arsr.sr_methods import VideoMethod, bicubic_method, method_from_arch
from arsr.train.presets import method_phases
from test_video_io import _DroppingWriter  # tests/ is on sys.path under pytest

ROOT = Path(__file__).resolve().parents[1]
TINY_VDSR = {"num_feat": 8, "num_conv": 3}
TINY_DUF = {"num_layer": 16, "num_feat": 8, "num_block": 1, "num_grow_ch": 4, "num_mid": 8,
            "num_filter_hidden": 16}
CLASSES = ["Alpha", "Bravo", "Charlie", "Delta", "Echo", "Foxtrot", "Golf"]


def _clip(t=8, h=24, w=32, seed=0) -> np.ndarray:
    """(t, h, w, 3) uint8: a moving grating plus noise."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[:h, :w]
    frames = [np.stack([127 + 80 * np.cos(2 * np.pi * (x + 2 * i) / 5.0), 100 + 0.0 * x,
                        127 + 60 * np.sin(2 * np.pi * (y - i) / 7.0)], -1) + rng.normal(0, 8, (h, w, 3))
              for i in range(t)]
    return np.clip(np.round(frames), 0, 255).astype(np.uint8)


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    """The clip (.mkv, lossless) and tiny random-init weights: vdsr as a bare file (sizes from a
    params file), duf16 in a trainer's phase folder (sizes from its config.json)."""
    folder = tmp_path_factory.mktemp("cli")
    frames = _clip()
    assert write_video(folder / "clip.mkv", frames) in LOSSLESS_FOURCCS
    torch.manual_seed(0)
    torch.save(build_arch("vdsr", **TINY_VDSR).state_dict(), folder / "vdsr.pt")
    torch.save(build_arch("vdsr", num_feat=4, num_conv=3).state_dict(), folder / "vdsr_other_size.pt")
    (folder / "params.yaml").write_text(json.dumps({"sr": {"common": {}, "vdsr": {"arch_kwargs": TINY_VDSR}}}))
    phase = folder / "duf16" / "sr"
    phase.mkdir(parents=True)
    torch.save(build_arch("duf", **TINY_DUF).state_dict(), phase / "model.pt")
    (phase / "config.json").write_text(json.dumps(method_phases("duf16", {"arch_kwargs": TINY_DUF})[-1].config))
    return {"dir": folder, "frames": frames, "clip": folder / "clip.mkv", "vdsr": folder / "vdsr.pt",
            "duf16": phase / "model.pt", "params": folder / "params.yaml"}


def _run(capsys, *argv) -> tuple[int, str, str]:
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


# ---------------------------------------------------------------------------------------------
# upscale


@pytest.mark.parametrize("method", ["vdsr", "duf16"])
def test_upscale_equals_the_library_call(files, tmp_path, capsys, method):
    out = tmp_path / "x4.mkv"
    extra = ["--params", files["params"]] if method == "vdsr" else []
    code, stdout, _ = _run(capsys, "upscale", files["clip"], out, "--method", method, "--weights", files[method],
                           "--device", "cpu", "--quiet", *extra)
    assert code == 0 and "8 frames 128x96" in stdout and "lossless" in stdout
    got = read_video(out)
    assert got.shape == (8, 96, 128, 3)
    arch, kwargs = ("vdsr", TINY_VDSR) if method == "vdsr" else ("duf", {**TINY_DUF, "scale": 4})
    want = method_from_arch(arch, files[method], device="cpu", **kwargs).sr(files["frames"], range(8))
    np.testing.assert_array_equal(got, want)
    assert [p.name for p in tmp_path.iterdir()] == ["x4.mkv"]  # no temporary file left


@pytest.mark.parametrize("chunk", [1, 3])
def test_upscale_frames_streams_a_window_at_a_time(chunk):
    torch.manual_seed(1)
    method = VideoMethod(build_arch("duf", **TINY_DUF), batch_size=1, device="cpu")  # batch 1: same sums
    frames = _clip(t=9, h=8, w=8)
    consumed = []

    def source():
        for i, frame in enumerate(frames):
            consumed.append(i)
            yield frame

    got = []
    for out in upscale_frames(method, source(), chunk=chunk):
        got.append(out)
        assert len(consumed) <= len(got) + chunk + 3  # the chunk plus half a window ahead
    np.testing.assert_array_equal(np.stack(got), method.sr(frames, range(9)))


def test_console_script(files, tmp_path):
    script = shutil.which("arsr", path=str(Path(sys.executable).parent))
    command = [script] if script else [sys.executable, "-m", "arsr"]
    out = tmp_path / "bicubic.avi"
    done = subprocess.run([*command, "upscale", str(files["clip"]), str(out), "--method", "bicubic", "--quiet"],
                          capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert done.returncode == 0, done.stderr
    np.testing.assert_array_equal(read_video(out), bicubic_method(4, device="cpu").sr(files["frames"], range(8)))


def _one_line(err: str, *names: str) -> None:
    lines = [line for line in err.splitlines() if line.startswith("arsr ")]
    assert len(lines) == 1 and "Traceback" not in err, err
    for name in names:
        assert name in lines[0], (name, lines[0])


def test_upscale_refuses_bad_inputs(files, tmp_path, capsys, monkeypatch):
    out = tmp_path / "out" / "x4.mkv"
    clip = files["clip"]
    weights = ["--weights", files["vdsr"], "--params", files["params"]]
    cases = {
        "missing input": (["nope.avi", out, "--method", "bicubic"], ["nope.avi", "no such file"]),
        "missing weights": ([clip, out, "--method", "vdsr", "--weights", "none.pt"], ["none.pt"]),
        "wrong size": ([clip, out, "--method", "vdsr", "--weights", files["dir"] / "vdsr_other_size.pt",
                        "--params", files["params"]], ["vdsr_other_size.pt", "--params",
                                                       "its tensors fit sr.vdsr.arch_kwargs {num_feat: 4}"]),
        "wrong architecture": ([clip, out, "--method", "vdsr", "--weights", files["duf16"]],
                               ["model.pt", "config.json", "'duf'"]),
        "bare file of another architecture": ([clip, out, "--method", "duf16", "--weights", files["vdsr"],
                                               "--params", files["params"]], ["vdsr.pt", "duf16"]),
        "unwritable output": ([clip, clip / "x4.mkv", "--method", "bicubic"], ["clip.mkv is a file, not a folder"]),
    }
    empty = tmp_path / "empty.avi"
    writer = cv2.VideoWriter(str(empty), cv2.CAP_FFMPEG, cv2.VideoWriter_fourcc(*"FFV1"), 25, (32, 24))
    writer.release()  # a container without frames
    cases["zero frames"] = ([empty, out, "--method", "bicubic"], ["empty.avi"])
    single = tmp_path / "single.mkv"
    write_video(single, files["frames"][:1])
    cases["one frame, video method"] = ([single, out, "--method", "duf16", "--weights", files["duf16"]],
                                        ["single.mkv", "video method"])
    for name, (argv, expect) in cases.items():
        code, _, err = _run(capsys, "upscale", *argv, "--quiet", "--device", "cpu")
        assert code == 2, (name, err)
        _one_line(err, *expect)
    assert not out.parent.exists()  # refused runs leave nothing behind, not even the folder
    code, _, err = _run(capsys, "upscale", single, out, "--method", "vdsr", "--quiet", *weights)
    assert code == 0 and read_video(out).shape == (1, 96, 128, 3)  # one frame suits an image method

    # no trained model in the study: the error names the stage that trains it
    root = tmp_path / "study"
    root.mkdir()
    for marker in ("dvc.yaml", "params.yaml"):
        (root / marker).write_text("{}\n")
    monkeypatch.setenv("ARSR_ROOT", str(root))
    for method, stage in (("vdsr", "dvc repro train_sr@vdsr"), ("tosr", "dvc repro finetune_sr@tosr")):
        code, _, err = _run(capsys, "upscale", clip, out, "--method", method, "--quiet")
        assert code == 2
        _one_line(err, "method.json", stage, "--weights")


def test_upscale_defaults_to_a_method_quick_on_a_cpu_and_says_when_one_is_slow(files, tmp_path, capsys,
                                                                               monkeypatch):
    from arsr import cli
    from arsr.cli import build_parser

    assert build_parser().parse_args(["upscale", "a.avi", "b.mkv"]).method == "vdsr"
    monkeypatch.setattr(cli, "SLOW_S", 0.0)  # every method is "slow": the estimate is printed
    argv = ["upscale", files["clip"], tmp_path / "x4.mkv", "--method", "duf16", "--weights", files["duf16"],
            "--device", "cpu"]
    code, _, err = _run(capsys, *argv)
    line = next(x for x in err.splitlines() if "s per frame" in x)
    assert code == 0 and line.startswith("arsr upscale: duf16 takes ~") and "for 8 frames" in line
    assert "--method vdsr is quicker" in line
    code, _, err = _run(capsys, *argv, "--quiet")
    assert code == 0 and "per frame" not in err


def test_published_vdsr_weights_load_without_a_params_file(refdata, files, tmp_path, capsys):
    """The released pytorch-vdsr weights (Y channel, no biases) fit no default VDSR: their sizes are
    read from the tensors and said, and the result is VDSR(in_ch=1, bias=False)'s."""
    weights = refdata / "weights" / "vdsr_y_twtygqyy_epoch50.pt"
    out = tmp_path / "x4.mkv"
    code, stdout, err = _run(capsys, "upscale", files["clip"], out, "--weights", weights, "--max-frames", 2,
                             "--device", "cpu", "--quiet")
    assert code == 0, err
    assert "in_ch: 1" in err and "bias: false" in err and "arch_kwargs" in err
    want = method_from_arch("vdsr", weights, device="cpu", in_ch=1, bias=False).sr(files["frames"], range(2))
    np.testing.assert_array_equal(read_video(out), want)


def test_upscale_fails_when_frames_could_not_be_written(files, tmp_path, capsys, monkeypatch):
    import arsr.data.video as video

    real = video._open_writer
    monkeypatch.setattr(video, "_open_writer",
                        lambda *a: (lambda w: w and _DroppingWriter(w, keep=3))(real(*a)))
    out = tmp_path / "out" / "x4.mkv"
    code, stdout, err = _run(capsys, "upscale", files["clip"], out, "--method", "bicubic", "--quiet")
    assert code == 2 and stdout == ""
    _one_line(err, str(out), "only 3 of the 8 frames could be written", "free on")
    assert list((tmp_path / "out").iterdir()) == []  # no partial file, no temporary one


_SLOW_UPSCALE = """
import sys, time
import arsr.cli as cli
real = cli.upscale_frames
def slow(method, frames, chunk=None):
    for frame in real(method, frames, chunk=1):
        time.sleep(0.2)
        yield frame
cli.upscale_frames = slow
sys.exit(cli.main(sys.argv[1:]))
"""


def test_sigterm_leaves_no_partial_or_temporary_file(tmp_path):
    import signal
    import time

    frames = _clip(t=60)
    clip = tmp_path / "long.mkv"
    write_video(clip, frames)
    (tmp_path / "slow.py").write_text(_SLOW_UPSCALE)
    folder = tmp_path / "out"
    folder.mkdir()
    proc = subprocess.Popen([sys.executable, str(tmp_path / "slow.py"), "upscale", str(clip), str(folder / "x4.mkv"),
                             "--method", "bicubic", "--quiet"], cwd=ROOT, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env={**os.environ, "PYTHONPATH": str(ROOT)})
    try:
        deadline = time.monotonic() + 120
        while not list(folder.glob(".x4.mkv.*.tmp.mkv")) and time.monotonic() < deadline and proc.poll() is None:
            time.sleep(0.05)
        assert list(folder.glob(".x4.mkv.*.tmp.mkv")), "the writer never started"
        time.sleep(0.5)  # a few frames in
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=60)
    finally:
        proc.kill()
    assert proc.returncode == 128 + signal.SIGTERM, err
    _one_line(err, "terminated (SIGTERM)")
    assert list(folder.iterdir()) == []


def test_upscale_refdata_clip_bicubic(refdata, tmp_path, capsys):
    clip = refdata / "ucf101_sample" / "v_Basketball_g01_c01.avi"
    out = tmp_path / "basketball_x4.mkv"
    code, stdout, _ = _run(capsys, "upscale", clip, out, "--method", "bicubic", "--max-frames", 8, "--quiet",
                           "--device", "cpu")
    assert code == 0 and "8 frames 1280x960 at 29.97 fps" in stdout
    want = bicubic_method(4, device="cpu").sr(read_video(clip, max_frames=8), range(8))
    np.testing.assert_array_equal(read_video(out), want)


# ---------------------------------------------------------------------------------------------
# recognize


def _recognizer(folder: Path, modality: str, classes: int, names=CLASSES, seed=0) -> Path:
    """A tiny trained-recogniser folder as ``train_recognizer`` leaves it."""
    cfg = {"type": "tsn", "modality": modality, "backbone": "resnet18", "width": 8, "num_classes": classes,
           "num_segments": 3}
    torch.manual_seed(seed)
    model = build_model(cfg, classes, 3, load_pretrained=False)
    folder.mkdir(parents=True)
    info = {"format": 1, "model": cfg, "input_size": 32, "scale_size": 36, "flow_bound": 20.0,
            "num_segments": 3, "class_names": list(names)}
    (folder / "recognizer.json").write_text(json.dumps(info))
    torch.save(model.state_dict(), folder / "model.pt")
    return folder


def test_recognize_prints_the_top_classes(files, tmp_path, capsys):
    recs = tmp_path / "recognizers"
    _recognizer(recs / "tsn_rgb", "rgb", 7)
    _recognizer(recs / "tsn_flow", "flow", 7, seed=1)
    common = ["--recognizers", recs, "--num-frames", 3, "--device", "cpu"]
    for extra in ([], ["--sr", "vdsr", "--weights", files["vdsr"], "--params", files["params"]]):
        code, out, err = _run(capsys, "recognize", files["clip"], *common, *extra)
        assert code == 0, err
        lines = out.strip().splitlines()
        assert "top 5 of 7" in lines[0] and len(lines) == 6
        names = [line.split()[1] for line in lines[1:]]
        probs = [float(line.split()[2]) for line in lines[1:]]
        assert len(set(names)) == 5 and set(names) <= set(CLASSES)
        assert probs == sorted(probs, reverse=True) and 0 < sum(probs) <= 1.0001
    assert "super-resolved x4 with vdsr" in lines[0]


def test_recognize_refuses_another_datasets_classes(files, tmp_path, capsys):
    recs = tmp_path / "recognizers"
    _recognizer(recs / "tsn_rgb", "rgb", 7)
    _recognizer(recs / "tsn_flow", "flow", 7)
    classes = tmp_path / "classes.csv"
    classes.write_text("label,class_name\n0,a\n1,b\n2,c\n")
    code, _, err = _run(capsys, "recognize", files["clip"], "--recognizers", recs, "--classes", classes)
    assert code == 2
    _one_line(err, str(recs / "tsn_rgb" / "model.pt"), "7 classes", "classes.csv names 3")

    other = tmp_path / "mixed"
    _recognizer(other / "tsn_rgb", "rgb", 7)
    _recognizer(other / "tsn_flow", "flow", 4, names=CLASSES[:4])
    code, _, err = _run(capsys, "recognize", files["clip"], "--recognizers", other)
    assert code == 2
    _one_line(err, str(other / "tsn_flow" / "model.pt"))

    code, _, err = _run(capsys, "recognize", files["clip"], "--recognizers", tmp_path / "untrained")
    assert code == 2
    _one_line(err, "untrained", "train_recognizers")
