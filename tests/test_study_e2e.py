"""The whole study end to end on the tiny profile: `dvc repro` in a fresh copy of the repository
makes reports/study.html with every table filled in; a second `dvc repro` does nothing; changing
one SR method's knob re-runs that method's training and evaluation and the report, nothing else.

Several minutes on two CPU cores (every stage starts a Jupyter kernel)."""
from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from arsr.study.layout import AA_EVAL_STAGE, AA_TRAIN_STAGE, LR_BASELINES, LR_RECOGNIZERS_STAGE, lr_baseline_stage
from arsr.study.variants import ALIASES, KINDS
from test_report import check_study_html  # tests/ is on sys.path under pytest

ROOT = Path(__file__).resolve().parents[1]
TINY = yaml.safe_load((ROOT / "profiles/tiny.yaml").read_text())
BIN = Path(sys.executable).parent
RAN = re.compile(r"Running stage '([^']+)'")


def _kernel_registered() -> bool:
    from jupyter_client.kernelspec import KernelSpecManager

    return "arsr" in KernelSpecManager().find_kernel_specs()


def _repository_files() -> list[str]:
    """Tracked files, plus untracked code not yet committed (never data, results or dvc.lock)."""
    def ls(*args):
        out = subprocess.run(["git", "ls-files", "-z", *args], cwd=ROOT, capture_output=True, text=True, check=True)
        return [p for p in out.stdout.split("\0") if p]

    tracked = ls("--cached")
    untracked = [p for p in ls("--others", "--exclude-standard")
                 if not p.startswith(("data/", "reports/")) and p != "dvc.lock"]
    return sorted({p for p in tracked + untracked if p != "dvc.lock" and (ROOT / p).is_file()})


def _env() -> dict:
    env = {k: v for k, v in os.environ.items() if k != "ARSR_ROOT"}
    env["PATH"] = f"{BIN}{os.pathsep}{env.get('PATH', '')}"
    env["DVC_NO_ANALYTICS"] = "1"
    env["PYTHONUNBUFFERED"] = "1"
    return env


def _failed_cells(repo: Path) -> str:
    """The errors recorded in the executed notebooks of failed stages (``*.failed.ipynb``)."""
    import nbformat

    lines = []
    for path in sorted(repo.glob("reports/**/*.failed.ipynb")):
        for cell in nbformat.read(path, as_version=4).cells:
            for out in cell.get("outputs", []):
                if out.get("output_type") == "error":
                    lines.append(f"{path.relative_to(repo)}: {out['ename']}: {out['evalue'][:1500]}")
    return "\n".join(lines)


def _run(cmd: list[str], cwd: Path, timeout: float = 1500) -> subprocess.CompletedProcess:
    proc = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=timeout, env=_env())
    assert proc.returncode == 0, (f"{' '.join(cmd)} failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-5000:]}\n"
                                  f"{_failed_cells(cwd)}")
    return proc


@pytest.fixture(scope="module")
def study(tmp_path_factory):
    if not _kernel_registered() and not os.environ.get("CI"):
        pytest.skip("Jupyter kernel 'arsr' not registered: run `make test` (it registers it)")
    repo = tmp_path_factory.mktemp("study")
    for rel in _repository_files():
        (repo / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / rel, repo / rel)
    shutil.copy(ROOT / "profiles/tiny.yaml", repo / "params.yaml")
    git = ["git", "-c", "user.name=arsr-test", "-c", "user.email=arsr-test@example.invalid"]
    _run(["git", "init", "-q"], repo)
    _run([*git, "add", "-A"], repo)
    _run([*git, "commit", "-q", "-m", "study under test"], repo)
    if not (repo / ".dvc/config").is_file():
        _run([str(BIN / "dvc"), "init", "-q"], repo)
    t0 = time.perf_counter()
    proc = _run([str(BIN / "dvc"), "repro"], repo)
    seconds = time.perf_counter() - t0
    print(f"\nfirst `dvc repro` of the tiny study: {seconds:.0f} s, {len(RAN.findall(proc.stdout))} stages")
    return repo, proc, seconds


@pytest.mark.slow
def test_study_runs_end_to_end(study):
    repo, proc, seconds = study
    ran = set(RAN.findall(proc.stdout))
    sr, ablation = TINY["sr"], TINY["ablation"]
    expected = {"prepare", "train_recognizers", "evaluate_combined", "report",
                *(f"train_sr@{m}" for m in sr["train"]), *(f"finetune_sr@{m}" for m in sr["finetune"]),
                *(f"evaluate@{m}" for m in sr["methods"]),
                "evaluate_reference@hr", "evaluate_reference@bicubic",
                *(f"ablate_{kind}@{v}" for kind in KINDS for v in ablation[kind]),
                LR_RECOGNIZERS_STAGE, *(lr_baseline_stage(b) for b in LR_BASELINES), AA_TRAIN_STAGE, AA_EVAL_STAGE}
    # rdsr (beyond the paper): trained from rrdb_psnr, evaluated, its ablation's own rows
    assert {"finetune_sr@rdsr", "evaluate@rdsr", "ablate_rdsr@pixel", "ablate_rdsr@spatial"} <= expected
    assert ran == expected, f"stages run: {sorted(ran)}"
    text = (repo / "reports/study.html").read_text()
    # the ablation tables: the variants the profile ran and the main-study rows they read
    check_study_html(text, methods=sr["methods"],
                     ablation={kind: [*ablation[kind], *ALIASES[kind]] for kind in KINDS})
    for needle in ("Spearman", "data:image/png", "Provenance", "Seconds per stage"):
        assert needle in text, f"{needle!r} missing from study.html"
    head = json.loads((repo / "reports/metrics/study.json").read_text())
    assert set(head["tsn_top1"]["fusion"]) == {"hr", "bicubic", "sosr", "tosr", "sosr+tosr", "rdsr"}
    assert {"rdsr_beats_sosr_tosr", "aa_control", "hr_is_the_ceiling"} <= {c["name"] for c in head["claims"]}
    assert head["recognizer_seeds"] == len(TINY["recognition"]["seeds"])
    # rdsr's teachers: the TSN streams of recognition.feature_seed, beside (not among) the scoring ones
    teachers = json.loads((repo / "reports/metrics/train_sr/rdsr.json").read_text())["task_teachers"]
    assert teachers == {"spatial": f"data/models/feature_net/seed{TINY['recognition']['feature_seed']}/tsn_rgb",
                        "temporal": f"data/models/feature_net/seed{TINY['recognition']['feature_seed']}/tsn_flow"}
    assert head["total_seconds"] > 0 and head["provenance"]["dataset"] == "synthetic"
    points = (repo / "reports/plots/psnr_vs_accuracy.csv").read_text().splitlines()
    # bicubic and the 10 SR rows (rdsr among them) x 2 recognizers x 3 streams
    assert points[0] == "method,recognizer,stream,psnr,top1" and len(points) == 1 + 11 * 2 * 3
    for name in ("psnr_vs_accuracy", "visual_comparison", "wmse_weights", "flow_comparison", "sr_training",
                 "recognizer_training"):
        assert (repo / f"reports/figures/study/{name}.png").stat().st_size > 5_000, name


@pytest.mark.slow
def test_second_repro_is_a_no_op(study):
    repo, _, _ = study
    proc = _run([str(BIN / "dvc"), "repro"], repo)
    assert not RAN.findall(proc.stdout), proc.stdout[-3000:]
    status = _run([str(BIN / "dvc"), "status"], repo)
    assert "up to date" in status.stdout, status.stdout


@pytest.mark.slow
def test_bicubic_row_psnr_is_the_metric_of_bicubic_frames(study):
    """A number with a known answer: the table's bicubic PSNR is, recomputed here from the prepared
    store with the library's pieces (TSN's test frame positions, MATLAB bicubic x4 in float64 rounded
    once to 8 bits, as the evaluation's bicubic row makes its frames; PSNR on Y with the border shave),
    the mean over test videos of each video's mean over its measured frames."""
    import numpy as np
    import pandas as pd

    from arsr.data.store import PreparedDataset
    from arsr.metrics import psnr_y
    from arsr.ops import imresize
    from arsr.recognition.sampling import uniform_offsets

    repo, _, _ = study
    store = PreparedDataset(repo / "data/interim")
    num, shave, scale = TINY["evaluate"]["num_frames"], TINY["evaluate"]["shave"], TINY["prepare"]["scale"]
    per_video = []
    for _, row in store.split("test").iterrows():
        video = store.video(row)
        frames = [int(t) for t in uniform_offsets(video.n_frames, num)]
        values = []
        for t in frames:
            up = imresize(np.asarray(video.lr[t]).astype(np.float64) / 255.0, scale)
            sr = np.clip(np.round(up * 255.0), 0, 255).astype(np.uint8)
            values.append(psnr_y(sr, np.asarray(video.hr[t]), shave))
        per_video.append(np.mean(values))
    table = pd.read_csv(repo / "reports/eval/bicubic.csv")
    assert len(per_video) == table["n_videos"].max()
    assert np.allclose(table["psnr"], np.mean(per_video), rtol=0, atol=1e-3), (table["psnr"].unique(), per_video)


@pytest.mark.slow
def test_one_method_knob_reruns_only_its_stages(study):
    repo, _, _ = study
    params = yaml.safe_load((repo / "params.yaml").read_text())
    # rcan: no ablation reads sr.rcan (they read sr.vdsr, sr.sosr, sr.duf16, sr.tosr)
    params["sr"]["rcan"]["arch_kwargs"]["num_feat"] += 4
    (repo / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    status = json.loads(_run([str(BIN / "dvc"), "status", "--json"], repo).stdout)
    # the report reads every sr knob (its "departures from the paper's recipe" paragraph)
    assert set(status) == {"train_sr@rcan", "report"}, status
    proc = _run([str(BIN / "dvc"), "repro"], repo)
    assert set(RAN.findall(proc.stdout)) == {"train_sr@rcan", "evaluate@rcan", "report"}, proc.stdout[-3000:]


@pytest.mark.slow
def test_dvc_deps_follow_the_code(study):
    """An edit of a module the evaluation imports (arsr/metrics.py: PSNR/SSIM) marks every stage
    that evaluates out of date (the recognisers' too: they score validation videos for TSN's fusion
    weight), and no SR training stage."""
    repo, _, _ = study
    metrics = repo / "arsr" / "metrics.py"
    original = metrics.read_text()
    try:
        metrics.write_text(original + "\n# edited by test_dvc_deps_follow_the_code\n")
        status = set(json.loads(_run([str(BIN / "dvc"), "status", "--json"], repo).stdout))
    finally:
        metrics.write_text(original)
    evaluating = {f"evaluate@{m}" for m in TINY["sr"]["methods"]} | {
        "evaluate_reference@hr", "evaluate_reference@bicubic", "evaluate_combined", AA_EVAL_STAGE,
        *(f"ablate_{kind}@{v}" for kind in KINDS for v in TINY["ablation"][kind])}
    assert evaluating <= status, sorted(evaluating - status)
    # the recognisers' stages choose TSN's fusion weight on validation videos scored by the evaluator, so they
    # re-run (their models are found finished, not retrained); no SR training stage and no prepare does
    assert {s for s in status if s.startswith(("train_", "finetune_", "prepare"))} == {
        "train_recognizers", "train_recognizers_lr"}, sorted(status)
