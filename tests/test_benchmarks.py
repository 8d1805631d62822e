"""benchmarks/: the scale benchmark's smallest run prints the tables it promises; the GPU smoke
script runs its four steps in order and stops at the first failure with its status (a stand-in
Python says CUDA is there), and, without CUDA, refuses with status 2 instead of passing having done
nothing; its evaluation step runs on the CPU at tiny sizes and accounts for its time; the ST-ResNet
speed benchmark's smallest run prints its table."""
from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parents[1]
SMOKE = ROOT / "benchmarks" / "gpu_smoke.sh"


def markdown_table(text: str, title: str) -> tuple[list[str], list[list[str]]]:
    """Header and rows of the first markdown table after the line ``## <title>``."""
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(f"## {title}"))
    table = []
    for line in lines[start + 1:]:
        if line.startswith("|"):
            table.append([cell.strip() for cell in line.strip().strip("|").split("|")])
        elif table:
            break
    assert len(table) >= 3 and set("".join(table[1])) <= set("-"), f"no table under '## {title}'"
    return table[0], table[2:]


def number(cell: str) -> float:
    return float(cell.replace(",", ""))


@pytest.fixture(scope="module")
def quick_run():
    run = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "scale.py"), "--quick", "--gpu-frames-per-s", "100"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    return run.stdout


def test_scale_measured_table(quick_run):
    header, rows = markdown_table(quick_run, "Measured")
    assert header == ["quantity", "value", "unit", "ratio", "reference"]
    by_name = {r[0]: r for r in rows}
    expected = {"store: source video (HR, decoded on demand)": "bytes/frame", "store hr.pack": "bytes/frame",
                "store lr.pack": "bytes/frame", "store flow.pack": "bytes/frame",
                "store total (folder + source)": "bytes/frame", "flow dis": "pairs/s",
                "loader: HR frame, random (video, frame)": "frames/s",
                "loader: LR frame, random (video, frame)": "frames/s",
                "loader: flow field, random (video, frame)": "frames/s",
                "loader: SR sample (5 LR + HR + flow)": "samples/s",
                "prepare (decode + LR + flow dis + write)": "frames/s", "prepare: decode": "frames/s",
                "SR bicubic": "frames/s", "evaluate bicubic": "videos/s"}
    for quantity, unit in expected.items():
        assert quantity in by_name, f"row {quantity!r} missing:\n{quick_run}"
        assert by_name[quantity][2] == unit
    assert all(number(r[1]) > 0 for r in rows if r[0] != "store hr.pack")
    # today's store: HR decoded from the source (nothing stored), LR losslessly compressed below
    # its 80x60x3 raw bytes, the whole well under the 40 KB per 320x240 frame of the target
    assert number(by_name["store hr.pack"][1]) == 0
    assert 0 < number(by_name["store lr.pack"][1]) < 14_400
    if "real UCF101 clip" in quick_run:
        assert number(by_name["store total (folder + source)"][1]) < 40_000
    # a row with a reference has its ratio; a reference row is 1 against itself
    for r in rows:
        if r[4]:
            assert number(r[3]) == pytest.approx(number(r[1]) / number(by_name[r[4]][1]), rel=0.02)
    assert by_name["evaluate bicubic"][3] == "1.00"


def test_scale_extrapolation_table(quick_run):
    header, rows = markdown_table(quick_run, "Extrapolation")
    assert header == ["dataset", "flow", "videos", "test videos", "frames", "store GB", "prepare CPU-h",
                      "eval CPU-h bicubic", "prepare GPU-h", "eval GPU-h per method"]
    assert [r[0] for r in rows] == ["UCF101 split 1", "HMDB51 split 1"] and {r[1] for r in rows} == {"dis"}
    for r in rows:
        assert all(number(c) > 0 for c in r[2:]), r
    ucf = dict(zip(header, rows[0]))
    assert number(ucf["videos"]) == 9537 + 3783 and number(ucf["test videos"]) == 3783  # official split 1
    assert 180 < number(ucf["frames"]) / number(ucf["videos"]) < 190
    # the disk column is today's store: source + LR + flow + meta, per frame as measured
    _, measured = markdown_table(quick_run, "Measured")
    per_frame = {r[0]: number(r[1]) for r in measured}
    assert number(ucf["store GB"]) * 1e9 / number(ucf["frames"]) == pytest.approx(
        per_frame["store total (folder + source)"], rel=0.25)
    assert number(ucf["prepare GPU-h"]) == pytest.approx(number(ucf["frames"]) / 100 / 3600, rel=0.01)
    assert "reference data was not found" in quick_run or "real UCF101 clip" in quick_run


#: A stand-in for Python that says CUDA is there (2 GPUs), logs every other call and fails the step
#: named by $FAIL_STEP with status 3: what gpu_smoke.sh does with each answer, without a GPU.
FAKE_PYTHON = """#!/usr/bin/env bash
case "$*" in
    *torch.cuda.is_available*) echo 1; exit 0 ;;
    *torch.cuda.device_count*) echo 2; exit 0 ;;
esac
echo "$*" >> "$SMOKE_LOG"
if [ -n "${FAIL_STEP:-}" ] && [[ "$*" == *"gpu_smoke.py $FAIL_STEP "* ]]; then
    exit 3
fi
"""


@pytest.mark.skipif(shutil.which("bash") is None, reason="bash not installed")
def test_gpu_smoke_runs_its_steps_in_order_and_stops_at_the_first_failure(tmp_path):
    fake = tmp_path / "python"
    fake.write_text(FAKE_PYTHON)
    fake.chmod(0o755)
    work, log = tmp_path / "work", tmp_path / "calls.log"

    def smoke(fail_step: str = "") -> tuple[subprocess.CompletedProcess, list[str]]:
        log.write_text("")
        env = {**os.environ, "PYTHON": str(fake), "GPU_SMOKE_WORK": str(work), "SMOKE_LOG": str(log),
               "FAIL_STEP": fail_step}
        run = subprocess.run(["bash", str(SMOKE)], env=env, capture_output=True, text=True, timeout=60)
        return run, log.read_text().splitlines()

    run, calls = smoke()
    assert run.returncode == 0, run.stderr
    assert calls == [f"benchmarks/gpu_smoke.py stages --work {work}",
                     f"benchmarks/gpu_smoke.py flow --work {work}",
                     f"benchmarks/gpu_smoke.py evaluation --work {work}",
                     "-m torch.distributed.run --standalone --nproc_per_node=2 benchmarks/gpu_smoke.py ddp "
                     f"--work {work}"]
    assert "torchrun --nproc_per_node=2" in run.stdout
    assert run.stdout.splitlines()[-1].startswith("gpu_smoke: all steps passed in ")
    # (b) fails: the script stops there, with its status, and never runs (c)
    run, calls = smoke("flow")
    assert run.returncode == 3
    assert [c.split()[1] for c in calls] == ["stages", "flow"]
    assert "all steps passed" not in run.stdout


@pytest.mark.skipif(torch.cuda.is_available(), reason="CUDA is available: the smoke script would really run")
@pytest.mark.skipif(shutil.which("bash") is None, reason="bash not installed")
def test_gpu_smoke_refuses_without_cuda():
    run = subprocess.run(["bash", str(SMOKE)], env={**os.environ, "PYTHON": sys.executable},
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 2, run.stderr
    assert run.stdout == ""
    lines = run.stderr.strip().splitlines()
    assert len(lines) == 1 and "CUDA is not available" in lines[0] and "nothing was tested" in lines[0]


def test_gpu_smoke_evaluation_step_times_the_stage_by_part_on_the_cpu(tmp_path):
    """The step that times the default study's evaluation on CUDA, run on the CPU at tiny sizes
    (the same code: the study's stage functions, whose signatures it must follow)."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    run = subprocess.run([sys.executable, "benchmarks/gpu_smoke.py", "evaluation", "--work", str(tmp_path),
                          "--device", "cpu", "--default-profile", "profiles/tiny.yaml", "--videos", "4",
                          "--iterations", "1"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-3000:]
    lines = [line for line in run.stdout.splitlines() if line.startswith("gpu_smoke: evaluate vdsr ")]
    assert [re.search(r"(\d+) flow process", line).group(1) for line in lines] == ["1", str(os.cpu_count())]
    for line in lines:
        assert "4 videos" in line
        per_video = float(re.search(r"(\d+) ms/video", line).group(1))
        parts = dict((k, float(v)) for k, v in re.findall(r"(frames|flow|quality|pool|recognise|write) (\d+) ms",
                                                          line))
        assert list(parts) == ["frames", "flow", "quality", "pool", "recognise", "write"]
        assert parts["frames"] > 0 and parts["recognise"] > 0
        assert sum(parts.values()) <= per_video + len(parts)  # the parts lie within the stage's time (rounding)
    # in one process the flow is computed there: nothing waits for a pool
    assert re.search(r"pool (\d+) ms", lines[0]).group(1) == "0"


def _study_speed():
    import importlib.util

    spec = importlib.util.spec_from_file_location("study_speed", ROOT / "benchmarks" / "study_speed.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _executed_notebook(path: Path, start: str, seconds: float) -> None:
    import json

    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"cells": [], "metadata": {"papermill": {"start_time": start, "duration": seconds}}}))


def test_study_speed_stage_table(tmp_path):
    """benchmarks/study_speed.py: papermill seconds per notebook in the order they ran (failed
    copies left out), ratios head/ref, a total over the stages both sides ran."""
    s = _study_speed()
    ref, head = tmp_path / "ref", tmp_path / "head"
    _executed_notebook(ref / "reports/20_train.ipynb", "2026-12-01T07:00:00Z", 40.0)
    _executed_notebook(ref / "reports/10_prepare.ipynb", "2026-12-01T06:00:00Z", 100.0)
    _executed_notebook(ref / "reports/10_prepare.failed.ipynb", "2026-12-01T05:00:00Z", 1.0)
    _executed_notebook(head / "reports/10_prepare.ipynb", "2026-12-01T08:00:00Z", 80.0)
    _executed_notebook(head / "reports/20_train.ipynb", "2026-12-01T08:10:00Z", 50.0)
    _executed_notebook(head / "reports/30_new.ipynb", "2026-12-01T08:20:00Z", 7.0)
    r, h = s.notebook_seconds(ref), s.notebook_seconds(head)
    assert list(r) == ["reports/10_prepare.ipynb", "reports/20_train.ipynb"]
    rows = s.stage_table(r, h)
    assert rows[0] == ("reports/10_prepare.ipynb", 100.0, 80.0, 0.8)
    assert rows[1] == ("reports/20_train.ipynb", 40.0, 50.0, 1.25)
    assert rows[2] == ("reports/30_new.ipynb", None, 7.0, None)
    assert rows[3] == ("total (stages both ran)", 140.0, 130.0, 130.0 / 140.0)
    assert "| reports/30_new.ipynb | — | 7.0 | — |" in s.markdown(rows)


def test_study_speed_results_and_sets(tmp_path):
    """Results compare values, not timings, provenance or renamed CSV headers; --set edits one
    side's params and refuses a key the commit does not have."""
    import json

    s = _study_speed()
    for side, (top1, secs, header) in {"ref": (70.0, 5.0, "recogniser"), "head": (71.0, 4.0, "recognizer")}.items():
        (tmp_path / side / "reports/eval").mkdir(parents=True)
        (tmp_path / side / "reports/metrics").mkdir(parents=True)
        (tmp_path / side / "reports/eval/vdsr.csv").write_text(f"method,{header},top1\nvdsr,tsn,{top1}\nvdsr,st,60\n")
        (tmp_path / side / "reports/metrics/x.json").write_text(
            json.dumps(
                {"psnr": 34.5, "seconds": secs, "per_seed": {"0": {"train_seconds": secs}}, "provenance": {"git": side}}
            )
        )
    diff = s.compare_results(s.result_files(tmp_path / "ref"), s.result_files(tmp_path / "head"))
    assert diff["reports/metrics/x.json"] == ([], 1)
    assert diff["reports/eval/vdsr.csv"] == (["row 1 col 2"], 6)
    assert s.parse_set("head:recognition.feature_streams=[rgb]") == (
        ("head",), ["recognition", "feature_streams"], ["rgb"])
    assert s.parse_set("sr.common.iterations=5") == (("ref", "head"), ["sr", "common", "iterations"], 5)
    with pytest.raises(SystemExit, match="ref or head"):
        s.parse_set("both:a=1")
    params = tmp_path / "params.yaml"
    params.write_text("sr:\n  common: {iterations: 200}\n")
    s.apply_sets(params, [(["sr", "common", "iterations"], 5)])
    assert "iterations: 5" in params.read_text()
    with pytest.raises(SystemExit, match="no key 'sr.common.nope'"):
        s.apply_sets(params, [(["sr", "common", "nope"], 1)])


def test_st_resnet_speed_quick_table():
    run = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "st_resnet_speed.py"), "--quick"],
                         cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr[-3000:]
    header, rows = markdown_table(run.stdout, "Speed")
    assert header == ["mode", "case", "batch (clips x frames x px)", "conv3d s", "conv2d s", "ratio", "ratio range",
                      "model runs", "model speed-up", "rel. diff scores"]
    by_mode = {r[0]: dict(zip(header, r)) for r in rows}
    assert set(by_mode) == {"eval", "train"}
    # one clip: the 2D form, several: F.conv3d; the forms agree on the scores
    assert by_mode["eval"]["model runs"] == "conv2d" and by_mode["train"]["model runs"] == "conv3d"
    assert by_mode["eval"]["model speed-up"] == by_mode["eval"]["ratio"]
    assert number(by_mode["train"]["model speed-up"]) == 1.0
    for r in by_mode.values():
        assert number(r["conv3d s"]) > 0 and number(r["conv2d s"]) > 0 and number(r["ratio"]) > 0
        assert number(r["rel. diff scores"]) < 1e-4
