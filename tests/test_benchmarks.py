"""benchmarks/: the scale benchmark's smallest run prints the tables it promises; the GPU smoke
script parses and, without CUDA, refuses with status 2 instead of passing having done nothing."""
from __future__ import annotations

import os
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
    run = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "scale.py"), "--quick", "--gpu-frames-per-s", "100"],
                         cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr[-3000:]
    return run.stdout


def test_scale_measured_table(quick_run):
    header, rows = markdown_table(quick_run, "Measured")
    assert header == ["quantity", "value", "unit", "ratio", "reference"]
    by_name = {r[0]: r for r in rows}
    expected = {"store: source video (HR, decoded on demand)": "bytes/frame", "store hr.pack": "bytes/frame",
                "store lr.pack": "bytes/frame", "store flow.pack": "bytes/frame",
                "store total (folder + source)": "bytes/frame", "flow dis": "pairs/s",
                "loader: HR frame, random (video, frame)": "frames/s", "loader: LR frame, random (video, frame)": "frames/s",
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


@pytest.mark.skipif(shutil.which("bash") is None, reason="bash not installed")
def test_gpu_smoke_script_parses():
    assert subprocess.run(["bash", "-n", str(SMOKE)], capture_output=True).returncode == 0


@pytest.mark.skipif(torch.cuda.is_available(), reason="CUDA is available: the smoke script would really run")
@pytest.mark.skipif(shutil.which("bash") is None, reason="bash not installed")
def test_gpu_smoke_refuses_without_cuda():
    run = subprocess.run(["bash", str(SMOKE)], env={**os.environ, "PYTHON": sys.executable},
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 2, run.stderr
    assert run.stdout == ""
    lines = run.stderr.strip().splitlines()
    assert len(lines) == 1 and "CUDA is not available" in lines[0] and "nothing was tested" in lines[0]
