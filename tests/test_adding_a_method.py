"""docs/adding-a-method.md, followed to the letter: each block it marks (``<!-- apply: ... -->``)
is applied to a copy of the project on the tiny profile, then the page's check and the new
method's `train_sr@` and `evaluate@` stages run, and the method is trained, scored and known to
the registry. A page that no longer works fails here. About two minutes on two CPU cores."""
from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest
import yaml

from test_study_e2e import BIN, ROOT, _kernel_registered, _repository_files, _run  # tests/ is on sys.path

DOC = ROOT / "docs" / "adding-a-method.md"
STEP = re.compile(r"<!-- apply: (?P<how>.+?) -->\s*```[a-z]*\n(?P<code>.*?)```", re.S)


def steps(text: str) -> list[tuple[str, str]]:
    """The page's marked blocks, in order: (directive, code)."""
    return [(m["how"].strip(), m["code"]) for m in STEP.finditer(text)]


def _merge(into: dict, extra: dict) -> dict:
    """params.yaml merge as the page says: lists appended to, mappings merged, other values set."""
    for key, value in extra.items():
        if isinstance(value, list) and isinstance(into.get(key), list):
            into[key] = into[key] + [v for v in value if v not in into[key]]
        elif isinstance(value, dict) and isinstance(into.get(key), dict):
            _merge(into[key], value)
        else:
            into[key] = value
    return into


def apply(repo: Path, how: str, code: str) -> None:
    """One step of the page on the project at ``repo``."""
    if how.startswith("new "):
        path = repo / how[4:].strip()
        assert not path.exists(), f"{path} exists already: the page would overwrite it"
        path.write_text(code)
        return
    if how == "params":
        path = repo / "params.yaml"
        path.write_text(yaml.safe_dump(_merge(yaml.safe_load(path.read_text()), yaml.safe_load(code)),
                                       sort_keys=False))
        return
    where, _, anchor = how.partition(" :: ")
    side, _, rel = where.partition(" ")
    path = repo / rel
    text = path.read_text()
    lines = text.splitlines(keepends=True)
    hits = [i for i, line in enumerate(lines) if line.strip() == anchor.strip()]
    assert len(hits) == 1, f"{rel}: the page's anchor {anchor!r} is on {len(hits)} lines, not one"
    at = hits[0] + 1 if side == "after" else hits[0]
    assert side in ("after", "before"), how
    path.write_text("".join(lines[:at]) + code + "".join(lines[at:]))


def test_the_page_marks_each_step():
    kinds = [how.split()[0] for how, _ in steps(DOC.read_text())]
    assert kinds == ["new", "after", "after", "before", "params"]


def test_merge_appends_lists_and_merges_mappings():
    params = {"sr": {"methods": ["vdsr"], "train": ["vdsr"], "vdsr": {"lr": 1}}}
    _merge(params, {"sr": {"methods": ["toy"], "toy": {"lr": 2}}})
    assert params == {"sr": {"methods": ["vdsr", "toy"], "train": ["vdsr"], "vdsr": {"lr": 1}, "toy": {"lr": 2}}}


@pytest.mark.slow
def test_a_method_added_as_the_page_says_trains_and_is_scored(tmp_path):
    import os

    if not _kernel_registered() and not os.environ.get("CI"):
        pytest.skip("Jupyter kernel 'arsr' not registered: run `make test` (it registers it)")
    repo = tmp_path / "project"
    for rel in _repository_files():
        (repo / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / rel, repo / rel)
    shutil.copy(ROOT / "profiles/tiny.yaml", repo / "params.yaml")
    for how, code in steps(DOC.read_text()):
        apply(repo, how, code)
    git = ["git", "-c", "user.name=arsr-test", "-c", "user.email=arsr-test@example.invalid"]
    _run(["git", "init", "-q"], repo)
    _run([*git, "add", "-A"], repo)
    _run([*git, "commit", "-q", "-m", "a method added as docs/adding-a-method.md says"], repo)
    python = str(BIN / "python")
    # the project copy's code, not this checkout's: the registry knows the method, the check passes
    known = _run([python, "-c", "from arsr import methods; print(methods.LABELS['nnres'], methods.BEYOND_PAPER)"],
                 repo)
    assert known.stdout.split("\n")[0].startswith("NN+Res (beyond the paper)") and "nnres" in known.stdout
    _run([python, "-m", "arsr.study.check"], repo)
    proc = _run([str(BIN / "dvc"), "repro", "train_sr@nnres", "evaluate@nnres"], repo)
    ran = set(re.findall(r"Running stage '([^']+)'", proc.stdout))
    assert {"train_sr@nnres", "evaluate@nnres"} <= ran and not any(s.startswith("train_sr@") and s != "train_sr@nnres"
                                                                   for s in ran), ran
    params = yaml.safe_load((repo / "params.yaml").read_text())
    for seed in params["seeds"]:
        phases = json.loads((repo / f"data/models/sr/nnres/seed{seed}/method.json").read_text())["phases"]
        # the page's recipe with its params block merged in: the architecture, its loss, the lr it set
        assert [p["config"]["arch"] for p in phases] == ["nnres"], phases
        assert phases[0]["config"]["pixel"]["type"] == "l1" and phases[0]["config"]["optimizer"]["lr"] == 0.001
        assert (repo / f"data/models/sr/nnres/seed{seed}/sr/model.pt").is_file()
    import pandas as pd

    table = pd.read_csv(repo / "reports/eval/nnres.csv")
    # every SR seed x recognizer seed x stream scored; TSN's three streams and ST-ResNet's of its seeds
    recognizers = params["recognition"]["seeds"]
    tsn = table[table["recognizer"] == "tsn"]
    assert set(tsn["seed"]) == set(params["seeds"]) and set(tsn["recognizer_seed"]) == set(recognizers)
    assert len(tsn) == len(params["seeds"]) * len(recognizers) * 3
    assert table["top1"].between(0, 100).all()
    # its frames start as nearest-neighbour upscaling (the residual convolution starts at zero) and
    # train two iterations: PSNR of real frames, not of an empty or garbled output
    assert table["psnr"].between(15, 60).all(), table["psnr"].describe()
