"""The prepare stage end to end: papermill runs the notebook on the tiny profile (with fewer,
shorter clips), HTML and metrics land in reports/; a wrong param stops it before the kernel starts;
run by hand (no injected parameters), the notebook reads params.yaml."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
# the tiny profile's dataset (10 classes, 64x48), fewer and shorter clips: 10 x 2 + 2 videos
FEWER_CLIPS = {"clips_per_class": 2, "n_unlabelled": 2, "frames_min": 6, "frames_max": 8}


def _kernel_registered() -> bool:
    from jupyter_client.kernelspec import KernelSpecManager

    return "arsr" in KernelSpecManager().find_kernel_specs()


@pytest.fixture
def study(tmp_path):
    if not _kernel_registered() and not os.environ.get("CI"):
        pytest.skip("Jupyter kernel 'arsr' not registered: run `make test` (it registers it)")
    for name in ("dvc.yaml", "notebooks"):
        src = ROOT / name
        (shutil.copytree if src.is_dir() else shutil.copy)(src, tmp_path / name)
    params = yaml.safe_load((ROOT / "profiles/tiny.yaml").read_text())
    params["data"]["synthetic"].update(FEWER_CLIPS)
    params["data"]["validation_groups"] = 0  # one training group per class: none to hold out
    params["prepare"]["workers"] = 2
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params))
    return tmp_path


def _run(study, *extra):
    cmd = [sys.executable, "-m", "arsr.notebook", "notebooks/10_prepare_data.ipynb", "-g", "data",
           "-g", "prepare", "-p", "interim_dir=data/interim", "-p", "reports_dir=reports", *extra]
    env = {k: v for k, v in os.environ.items() if k != "ARSR_ROOT"}
    return subprocess.run(cmd, cwd=study, capture_output=True, text=True, timeout=600, env=env)


def test_prepare_notebook_tiny_profile(study):
    proc = _run(study)
    assert proc.returncode == 0, proc.stderr[-3000:]
    html = (study / "reports/10_prepare_data.html").read_text()
    for needle in ("HR vs LR", "frames mean", "unlabelled", "data:image/png"):
        assert needle in html, f"{needle!r} missing from the HTML report"
    metrics = json.loads((study / "reports/metrics/prepare.json").read_text())
    assert metrics["videos"] == 10 * 2 + 2 and metrics["classes"] == 10
    assert metrics["prepared_now"] == 22 and metrics["provenance"]["params_hash"]
    assert (study / "reports/figures/prepare/hr_lr_flow.png").stat().st_size > 10_000
    assert (study / "data/interim/index.csv").is_file()
    # a second run reuses every video
    proc = _run(study)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert json.loads((study / "reports/metrics/prepare.json").read_text())["reused"] == 22


def test_wrong_param_stops_before_the_kernel(study):
    params = yaml.safe_load((study / "params.yaml").read_text())
    params["prepare"]["flow_method"] = "flownet"
    (study / "params.yaml").write_text(yaml.safe_dump(params))
    proc = _run(study)
    assert proc.returncode == 2
    assert "prepare.flow_method = 'flownet' is not allowed" in proc.stderr
    assert not (study / "reports/10_prepare_data.ipynb").exists()


def test_prepare_notebook_run_by_hand_reads_params_yaml(study):
    """As in JupyterLab: no parameters injected, the kernel in notebooks/; the groups come from the
    study's params.yaml and the results go to the parameters cell's folders (data/tiny, reports/tiny)."""
    env = {k: v for k, v in os.environ.items() if k != "ARSR_ROOT"}
    cmd = [sys.executable, "-m", "papermill", "notebooks/10_prepare_data.ipynb", "by_hand.ipynb", "-k", "arsr",
           "--cwd", "notebooks", "--no-progress-bar"]
    proc = subprocess.run(cmd, cwd=study, capture_output=True, text=True, timeout=600, env=env)
    assert proc.returncode == 0, proc.stderr[-3000:]
    metrics = json.loads((study / "reports/tiny/metrics/prepare.json").read_text())
    assert metrics["videos"] == 10 * 2 + 2 and metrics["prepared_now"] == 22
    assert (study / "data/tiny/interim/index.csv").is_file() and not (study / "data/interim").exists()
