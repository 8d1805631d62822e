"""The house's import graph and what the pipeline re-runs: ``arsr`` has no import cycle and no
import goes up a layer of docs/architecture.md; every dvc.yaml stage lists its notebook's digest
(``data/code/<notebook>.txt``, written by the stage ``code``: :mod:`arsr.codegraph`) as a dep, so
an edit re-runs exactly the stages whose code it changes.

The graph itself (static ``ast`` reading: lazy imports and parent packages count) is tested on a
tiny hand-made tree below, where the answers are known; on the project, the digests are checked
against hand-stated facts (what only the report runs, what every stage runs) and by real DVC.
"""
from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from arsr.codegraph import (DIGEST_DIR, PACKAGE, closure, digest_name, imported_modules, module_graph,
                            program_files, write_digests)

ROOT = Path(__file__).resolve().parents[1]
DVC = Path(sys.executable).parent / "dvc"


# --------------------------------------------------------------------------------------------
# The module graph (arsr/codegraph.py) and its cycles.

def import_cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan, iterative). A module's
    edge to its own package is left out: Python has begun that package's ``__init__`` before
    the module runs, so a package re-exporting its children is no cycle; a cycle that passes
    through a package's ``__init__`` from outside still is."""
    def edges(v):
        return [w for w in sorted(graph.get(v, ())) if not v.startswith(w + ".")]

    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    cycles = []
    for start in sorted(graph):
        if start in index:
            continue
        work = [(start, iter(edges(start)))]
        index[start] = low[start] = len(index)
        stack.append(start)
        on_stack.add(start)
        while work:
            v, children = work[-1]
            w = next(children, None)
            if w is not None:
                if w not in index:
                    index[w] = low[w] = len(index)
                    stack.append(w)
                    on_stack.add(w)
                    work.append((w, iter(edges(w))))
                elif w in on_stack:
                    low[v] = min(low[v], index[w])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[v])
            if low[v] == index[v]:
                component = []
                while True:
                    w = stack.pop()
                    on_stack.discard(w)
                    component.append(w)
                    if w == v:
                        break
                if len(component) > 1:
                    cycles.append(sorted(component))
    return cycles


# --------------------------------------------------------------------------------------------
# dvc.yaml stages and what they run.

def stage_definitions(root: Path) -> dict[str, dict]:
    """{stage name: its definition}; ``foreach``/``matrix`` stages keep their template (deps of
    ``arsr`` code never depend on the item)."""
    stages = yaml.safe_load((root / "dvc.yaml").read_text())["stages"]
    return {name: stage.get("do", stage) for name, stage in stages.items()}


# --------------------------------------------------------------------------------------------
# The layers of docs/architecture.md: no import goes upward.

def read_layers(doc: Path) -> dict[str, int]:
    """{module or package: layer} from the table of ``docs/architecture.md`` (rows ``| 0 | name |
    `arsr.a`, `arsr.b` | ... |``; a package stands for its submodules)."""
    layers = {}
    for line in doc.read_text().splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) >= 3 and cells[0].isdigit():
            for name in re.findall(r"`(arsr[\w.]*)`", cells[2]):
                layers[name] = int(cells[0])
    return layers


def layer_of(module: str, layers: dict[str, int]) -> int | None:
    """The layer of ``module``: that of the longest listed name it is or lies under."""
    names = [n for n in layers if module == n or module.startswith(n + ".")]
    return layers[max(names, key=len)] if names else None


def layer_violations(graph: dict[str, set[str]], layers: dict[str, int]) -> tuple[list[str], list[str]]:
    """(imports that go to a higher layer, as "a (L) -> b (L')"; modules the table does not place)."""
    upward, unplaced = [], sorted(m for m in graph if m != PACKAGE and layer_of(m, layers) is None)
    for a, targets in sorted(graph.items()):
        la = layer_of(a, layers)
        for b in sorted(targets):
            lb = layer_of(b, layers)
            if la is not None and lb is not None and lb > la:
                upward.append(f"{a} ({la}) -> {b} ({lb})")
    return upward, unplaced


def layer_graph(graph: dict[str, set[str]], layers: dict[str, int]) -> str:
    """The imports between the table's entries, one line per entry, by layer."""
    def entry(m):
        names = [n for n in layers if m == n or m.startswith(n + ".")]
        return max(names, key=len) if names else None
    edges: dict[str, set[str]] = {n: set() for n in layers}
    for a, targets in graph.items():
        for b in targets:
            ea, eb = entry(a), entry(b)
            if ea and eb and ea != eb:
                edges[ea].add(eb)
    return "\n".join(f"{layers[n]} {n} -> {', '.join(sorted(edges[n])) or '-'}"
                     for n in sorted(layers, key=lambda n: (layers[n], n)))


# --------------------------------------------------------------------------------------------
# The project.

def test_no_import_goes_up_a_layer_of_docs_architecture():
    layers = read_layers(ROOT / "docs" / "architecture.md")
    assert len(set(layers.values())) >= 5, "docs/architecture.md: its layer table was not found"
    graph = module_graph(ROOT)
    upward, unplaced = layer_violations(graph, layers)
    print("\n" + layer_graph(graph, layers))
    assert not unplaced, f"modules docs/architecture.md does not place in a layer (add them): {unplaced}"
    assert not upward, "imports that go up a layer of docs/architecture.md: " + "; ".join(upward)


def test_arsr_has_no_import_cycle():
    cycles = import_cycles(module_graph(ROOT))
    assert not cycles, "import cycles in arsr (an arrow points up; move the shared piece into a leaf " \
                       "module): " + "; ".join(" <-> ".join(c) for c in cycles)


def _notebook_of(stage: dict) -> str | None:
    """The notebook a stage runs with ``python -m arsr.notebook <notebook>``, else None."""
    found = re.match(r"python -m arsr\.notebook (\S+\.ipynb)\b", " ".join(str(stage.get("cmd", "")).split()))
    return found.group(1) if found else None


def _deps(stage: dict) -> list[str]:
    return [dep if isinstance(dep, str) else next(iter(dep)) for dep in stage.get("deps", [])]


def test_every_stage_lists_its_notebook_and_that_notebooks_code_digest():
    stages = stage_definitions(ROOT)
    assert "code" in stages, "dvc.yaml: the stage `code` (python -m arsr.codegraph) is missing"
    for name, stage in stages.items():
        if name == "code":
            continue
        notebook = _notebook_of(stage)
        assert notebook and (ROOT / notebook).is_file(), \
            f"dvc.yaml stage {name}: runs no notebook with `python -m arsr.notebook` (the digests cover only those)"
        deps = _deps(stage)
        assert notebook in deps and f"{DIGEST_DIR}/{digest_name(notebook)}" in deps, \
            f"dvc.yaml stage {name}: list {notebook} and {DIGEST_DIR}/{digest_name(notebook)} under deps"
        listed = [d for d in deps if d.split("/")[0] == PACKAGE]
        assert not listed, f"dvc.yaml stage {name}: lists arsr code ({listed}); its digest covers it"


def test_the_code_stage_reads_all_code_and_writes_the_digests():
    code = stage_definitions(ROOT)["code"]
    assert code["cmd"].split()[:3] == ["python", "-m", "arsr.codegraph"] and DIGEST_DIR in code["cmd"]
    assert sorted(_deps(code)) == [PACKAGE, "notebooks"]
    assert [next(iter(o)) if isinstance(o, dict) else o for o in code["outs"]] == [DIGEST_DIR]


@pytest.fixture(scope="module")
def digests(tmp_path_factory):
    """A copy of the project's code and notebooks with its digests written: (root, {name: text})."""
    root = tmp_path_factory.mktemp("project")
    shutil.copytree(ROOT / PACKAGE, root / PACKAGE, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copytree(ROOT / "notebooks", root / "notebooks", ignore=shutil.ignore_patterns(".ipynb_checkpoints"))
    write_digests(root)
    return root, {p.name: p.read_text() for p in (root / DIGEST_DIR).glob("*.txt")}


def _changed_by_edit(root: Path, before: dict[str, str], path: str) -> set[str]:
    """The digests (notebook stems) that change when ``path`` gets a comment line appended."""
    target = root / path
    original = target.read_text()
    try:
        target.write_text(original + "\n# an edit\n")
        write_digests(root)
        after = {p.name: p.read_text() for p in (root / DIGEST_DIR).glob("*.txt")}
    finally:
        target.write_text(original)
        write_digests(root)
    return {Path(name).stem for name in after if after[name] != before.get(name)}


ALL_NOTEBOOKS = {p.stem for p in (ROOT / "notebooks").glob("*.ipynb")}


@pytest.mark.parametrize("path, expected", [
    ("arsr/io.py", ALL_NOTEBOOKS),                                   # atomic writes: every stage
    ("arsr/notebook.py", ALL_NOTEBOOKS),                             # the runner itself
    ("arsr/study/report/claims.py", {"60_report"}),                  # only the report reads the claims
    ("arsr/stats.py", {"60_report"}),                                # the bootstrap: the report's
    ("arsr/data/prepare.py", {"10_prepare_data"}),                   # writing the store: prepare only
    ("arsr/study/ablations.py", {"50_ablation"}),
    ("arsr/archs/vdsr_arch.py", ALL_NOTEBOOKS - {"10_prepare_data"}),  # an SR model: not the data
    ("arsr/cli.py", set()),                                          # the command line: no stage
    ("arsr/codegraph.py", set()),                                    # the code stage's own code: no stage
])
def test_an_edit_changes_exactly_the_digests_of_the_notebooks_that_run_it(digests, path, expected):
    root, before = digests
    assert set(before) == {f"{n}.txt" for n in ALL_NOTEBOOKS}
    assert _changed_by_edit(root, before, path) == expected


def test_a_digest_is_sha256sum_of_the_files_the_notebook_runs(digests):
    root, before = digests
    lines = before["40_evaluate.txt"].splitlines()
    assert lines[0].startswith("# ") and "notebooks/40_evaluate.ipynb" in lines[0]
    files = [line.split("  ", 1)[1] for line in lines[1:]]
    assert files == sorted(files) and "arsr/evaluate.py" in files and "arsr/data/prepare.py" not in files
    check = subprocess.run(["sha256sum", "--check", "--quiet", f"{DIGEST_DIR}/40_evaluate.txt"], cwd=root,
                           capture_output=True, text=True)
    assert check.returncode == 0, check.stdout + check.stderr


# --------------------------------------------------------------------------------------------
# The checks themselves, on a tiny synthetic tree: they can fail.

def _write(root: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)


def _notebook(*sources: str) -> str:
    cells = [{"cell_type": "code", "metadata": {}, "source": s, "outputs": [], "execution_count": None}
             for s in sources]
    return json.dumps({"cells": cells, "metadata": {}, "nbformat": 4, "nbformat_minor": 5})


def _tree(tmp_path: Path) -> Path:
    _write(tmp_path, {
        "arsr/__init__.py": "",
        "arsr/leaf.py": "import os\n",
        "arsr/middle.py": "def f():\n    from .low import g  # lazy\n",
        "arsr/low/__init__.py": "from .deep import g  # a package re-exporting its child\n",
        "arsr/low/deep.py": "from .. import leaf\ndef g():\n    pass\n",
        "arsr/notebook.py": "from arsr.leaf import *\n",       # the runner
        "arsr/other.py": "X = 1\n",
        "arsr/unused.py": "",
        "notebooks/nb.ipynb": _notebook("%matplotlib inline\nimport numpy", "from arsr.middle import f"),
        "notebooks/other.ipynb": _notebook("!ls", "import arsr.other"),
    })
    return tmp_path


def test_closure_follows_relative_lazy_and_package_imports(tmp_path):
    root = _tree(tmp_path)
    assert {str(p) for p in program_files(root, Path("notebooks/nb.ipynb"))} == {
        "arsr/__init__.py", "arsr/middle.py", "arsr/low/__init__.py", "arsr/low/deep.py", "arsr/leaf.py",
        "arsr/notebook.py"}
    assert {str(p) for p in program_files(root, Path("notebooks/other.ipynb"))} == {
        "arsr/__init__.py", "arsr/leaf.py", "arsr/notebook.py", "arsr/other.py"}
    assert closure(module_graph(root), {"arsr.low.deep"}) == {"arsr", "arsr.leaf", "arsr.low.deep"}


def test_digests_follow_the_notebooks_folder(tmp_path):
    root = _tree(tmp_path)
    assert [p.name for p in write_digests(root)] == ["nb.txt", "other.txt"]
    (root / "notebooks" / "other.ipynb").unlink()
    write_digests(root)
    assert sorted(p.name for p in (root / DIGEST_DIR).iterdir()) == ["nb.txt"]  # the gone notebook's too
    shutil.rmtree(root / "notebooks")
    with pytest.raises(FileNotFoundError, match="no notebook"):
        write_digests(root)


@pytest.mark.skipif(not DVC.is_file(), reason=f"dvc is not installed beside {sys.executable}")
def test_dvc_reruns_exactly_the_stages_whose_code_an_edit_changes(tmp_path):
    """Real DVC on the tiny tree: a stage depends on a digest, a file inside the code stage's
    output folder; an edit re-runs the code stage and the stages whose digest changed, no other."""
    root = _tree(tmp_path)
    # the tiny tree's own ``arsr`` package would shadow the project's on the code stage's path: ours first
    codegraph = (f"{sys.executable} -c \"import sys; sys.path.insert(0, {str(ROOT)!r}); "
                 f"from arsr.codegraph import main; sys.exit(main())\"")
    _write(root, {"dvc.yaml": yaml.safe_dump({"stages": {
        "code": {"cmd": f"{codegraph} --out {DIGEST_DIR}", "deps": ["arsr", "notebooks"],
                 "outs": [{DIGEST_DIR: {"cache": False}}]},
        **{name: {"cmd": f"cp {DIGEST_DIR}/{name}.txt {name}.out",
                  "deps": [f"notebooks/{name}.ipynb", f"{DIGEST_DIR}/{name}.txt"], "outs": [f"{name}.out"]}
           for name in ("nb", "other")}}}), ".dvcignore": "__pycache__/\n"})
    env = {**os.environ, "DVC_NO_ANALYTICS": "1"}

    def repro() -> set[str]:
        proc = subprocess.run([str(DVC), "repro"], cwd=root, capture_output=True, text=True, env=env)
        assert proc.returncode == 0, proc.stdout + proc.stderr
        return set(re.findall(r"Running stage '([^']+)'", proc.stdout))

    for args in (["git", "init", "-q"], [str(DVC), "init", "-q"]):
        subprocess.run(args, cwd=root, check=True, capture_output=True, env=env)
    assert repro() == {"code", "nb", "other"}
    assert repro() == set()
    _write(root, {"arsr/other.py": "X = 2\n"})
    assert repro() == {"code", "other"}
    _write(root, {"arsr/unused.py": "# no notebook runs this\n"})
    assert repro() == {"code"}
    _write(root, {"arsr/leaf.py": "import os  # the runner imports it: every stage\n"})
    assert repro() == {"code", "nb", "other"}


def test_cycles_are_found_even_through_lazy_imports(tmp_path):
    root = _tree(tmp_path)
    assert import_cycles(module_graph(root)) == []  # arsr.low -> arsr.low.deep -> arsr.low is no cycle
    _write(root, {"arsr/leaf.py": "def h():\n    from arsr.middle import f\n"})
    assert import_cycles(module_graph(root)) == [["arsr.leaf", "arsr.low", "arsr.low.deep", "arsr.middle"]]


@pytest.mark.parametrize("text, expected", [
    ("import arsr.low.deep as d", {"arsr", "arsr.low", "arsr.low.deep"}),
    ("from arsr.low import deep", {"arsr", "arsr.low", "arsr.low.deep"}),
    ("from arsr.low import g", {"arsr", "arsr.low"}),
    ("import numpy\nfrom os import path", set()),
])
def test_imported_modules(tmp_path, text, expected):
    root = _tree(tmp_path)
    assert imported_modules(text, PACKAGE, root) == expected


def test_upward_imports_and_unplaced_modules_are_found(tmp_path):
    doc = tmp_path / "architecture.md"
    doc.write_text("| layer | name | modules | what |\n|---|---|---|---|\n"
                   "| 0 | base | `arsr.low` | x |\n| 1 | top | `arsr.middle`, `arsr.top` | y |\n")
    layers = read_layers(doc)
    assert layers == {"arsr.low": 0, "arsr.middle": 1, "arsr.top": 1}
    assert layer_of("arsr.low.deep", layers) == 0 and layer_of("arsr.lower", layers) is None
    graph = {"arsr.low": {"arsr.low.deep"}, "arsr.low.deep": set(), "arsr.middle": {"arsr.low"},
             "arsr.top": {"arsr.middle"}, "arsr.stray": set()}
    assert layer_violations(graph, layers) == ([], ["arsr.stray"])
    graph["arsr.low.deep"] = {"arsr.top"}  # a lazy import from the bottom to the top
    assert layer_violations(graph, layers)[0] == ["arsr.low.deep (0) -> arsr.top (1)"]
    assert "0 arsr.low -> arsr.top" in layer_graph(graph, layers)
