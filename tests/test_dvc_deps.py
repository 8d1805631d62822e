"""The house's import graph: ``arsr`` has no import cycle, and every dvc.yaml stage lists as deps
the arsr code it runs (its notebook's imports and the ``python -m`` runner, transitively), so a
code edit makes ``dvc status`` say which results are stale.

Imports are read statically with ``ast``; function-level (lazy) imports count, because they run
as soon as the function does. Importing ``arsr.a.b`` runs ``arsr/__init__.py`` and
``arsr/a/__init__.py`` too, so those are part of a closure.
"""
from __future__ import annotations

import ast
import json
import re
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = "arsr"


# --------------------------------------------------------------------------------------------
# The module graph of a source tree (``root/arsr/...``).

def module_file(root: Path, module: str) -> Path | None:
    """The file of a dotted module name under ``root`` (a package's ``__init__.py``), or None."""
    base = root.joinpath(*module.split("."))
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def with_parents(module: str) -> list[str]:
    """``arsr.a.b`` -> ``arsr``, ``arsr.a``, ``arsr.a.b``: what importing it runs."""
    parts = module.split(".")
    return [".".join(parts[:i]) for i in range(1, len(parts) + 1)]


def imported_modules(source: str, package: str, root: Path) -> set[str]:
    """The ``arsr`` modules (with their parent packages) that ``source`` imports anywhere, its
    relative imports read from inside ``package``."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(anchor + ([node.module] if node.module else []))
            else:
                base = node.module or ""
            # ``from pkg import name``: name is a submodule, or an attribute of pkg
            names = [base] + [f"{base}.{alias.name}" for alias in node.names
                              if module_file(root, f"{base}.{alias.name}")]
        else:
            continue
        for name in names:
            if name.split(".")[0] == PACKAGE:
                found.update(m for m in with_parents(name) if module_file(root, m))
    return found


def module_graph(root: Path) -> dict[str, set[str]]:
    """{module: the arsr modules it imports} for every ``.py`` under ``root/arsr``."""
    graph = {}
    for path in sorted((root / PACKAGE).rglob("*.py")):
        parts = list(path.relative_to(root).with_suffix("").parts)
        is_package = parts[-1] == "__init__"
        module = ".".join(parts[:-1] if is_package else parts)
        package = module if is_package else module.rpartition(".")[0]
        graph[module] = imported_modules(path.read_text(), package, root) - {module}
    return graph


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


def closure(graph: dict[str, set[str]], modules: set[str]) -> set[str]:
    seen: set[str] = set()
    todo = list(modules)
    while todo:
        module = todo.pop()
        if module not in seen and module in graph:
            seen.add(module)
            todo.extend(graph[module])
    return seen


# --------------------------------------------------------------------------------------------
# dvc.yaml stages and what they run.

def stage_definitions(root: Path) -> dict[str, dict]:
    """{stage name: its definition}; ``foreach``/``matrix`` stages keep their template (deps of
    ``arsr`` code never depend on the item)."""
    stages = yaml.safe_load((root / "dvc.yaml").read_text())["stages"]
    return {name: stage.get("do", stage) for name, stage in stages.items()}


def notebook_source(path: Path) -> str:
    """The code cells of a notebook, without IPython magics and shell lines."""
    lines = []
    for cell in json.loads(path.read_text())["cells"]:
        if cell["cell_type"] == "code":
            source = "".join(cell["source"])
            lines += [line for line in source.splitlines() if not line.lstrip().startswith(("%", "!"))]
    return "\n".join(lines)


def stage_code(root: Path, stage: dict, graph: dict[str, set[str]]) -> set[Path]:
    """The arsr files a stage runs: the closure of its notebooks' imports and of the module its
    command runs with ``python -m``, as paths relative to ``root``."""
    command = " ".join(str(stage.get("cmd", "")).split())
    modules: set[str] = set()
    for runner in re.findall(r"-m\s+(\S+)", command):
        if runner.split(".")[0] == PACKAGE:
            modules.update(m for m in with_parents(runner) if module_file(root, m))
    for word in command.split():
        if word.endswith(".ipynb") and (root / word).is_file():
            modules |= imported_modules(notebook_source(root / word), PACKAGE, root)
    return {module_file(root, m).relative_to(root) for m in closure(graph, modules)}


def covered(path: Path, deps: list[str]) -> bool:
    """Whether a dep lists ``path`` itself or a folder above it."""
    return any(path == Path(dep) or Path(dep) in path.parents for dep in deps)


def missing_deps(root: Path) -> dict[str, list[str]]:
    """{stage: arsr files it runs but does not list as deps} for every stage of root/dvc.yaml."""
    graph = module_graph(root)
    out = {}
    for name, stage in stage_definitions(root).items():
        deps = [dep if isinstance(dep, str) else next(iter(dep)) for dep in stage.get("deps", [])]
        missing = sorted(str(p) for p in stage_code(root, stage, graph) if not covered(p, deps))
        if missing:
            out[name] = missing
    return out


def extra_deps(root: Path) -> dict[str, list[str]]:
    """{stage: arsr deps (files or folders) that cover none of the code it runs}: an edit there
    would re-run the stage for nothing."""
    graph = module_graph(root)
    out = {}
    for name, stage in stage_definitions(root).items():
        code = stage_code(root, stage, graph)
        deps = [dep if isinstance(dep, str) else next(iter(dep)) for dep in stage.get("deps", [])]
        extra = sorted(d for d in deps if d.split("/")[0] == PACKAGE and not any(covered(p, [d]) for p in code))
        if extra:
            out[name] = extra
    return out


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


def test_every_stage_lists_the_code_it_runs():
    missing = missing_deps(ROOT)
    assert not missing, "dvc.yaml stages miss deps on code they run (add them under deps): " + "; ".join(
        f"{stage}: {', '.join(files)}" for stage, files in missing.items())


def test_no_stage_lists_code_it_does_not_run():
    extra = extra_deps(ROOT)
    assert not extra, "dvc.yaml stages list deps on code they do not run (remove them): " + "; ".join(
        f"{stage}: {', '.join(files)}" for stage, files in extra.items())


def test_every_stage_runs_a_notebook_the_check_can_read():
    # a stage whose notebook is not found would pass the deps check vacuously
    for name, stage in stage_definitions(ROOT).items():
        notebooks = [w for w in str(stage.get("cmd", "")).split() if w.endswith(".ipynb")]
        assert notebooks and all((ROOT / nb).is_file() for nb in notebooks), name


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


def _tree(tmp_path: Path, deps: list[str]) -> Path:
    _write(tmp_path, {
        "arsr/__init__.py": "",
        "arsr/leaf.py": "import os\n",
        "arsr/middle.py": "def f():\n    from .low import g  # lazy\n",
        "arsr/low/__init__.py": "from .deep import g  # a package re-exporting its child\n",
        "arsr/low/deep.py": "from .. import leaf\ndef g():\n    pass\n",
        "arsr/runner.py": "from arsr.leaf import *\n",
        "nb.ipynb": _notebook("%matplotlib inline\nimport numpy", "from arsr.middle import f"),
        "dvc.yaml": yaml.safe_dump({"stages": {
            "plain": {"cmd": "python -m arsr.runner nb.ipynb", "deps": deps},
            "grid": {"foreach": [1, 2], "do": {"cmd": "python -m arsr.runner nb.ipynb -p x=${item}",
                                               "deps": deps}}}}),
    })
    return tmp_path


def test_closure_follows_relative_lazy_and_package_imports(tmp_path):
    root = _tree(tmp_path, deps=["nb.ipynb"])
    code = stage_code(root, stage_definitions(root)["plain"], module_graph(root))
    assert {str(p) for p in code} == {"arsr/__init__.py", "arsr/middle.py", "arsr/low/__init__.py",
                                      "arsr/low/deep.py", "arsr/leaf.py", "arsr/runner.py"}


def test_missing_deps_are_reported_and_folders_cover_their_files(tmp_path):
    root = _tree(tmp_path, deps=["nb.ipynb", "arsr/__init__.py", "arsr/middle.py", "arsr/runner.py",
                                 "arsr/leaf.py", "arsr/low/__init__.py"])
    assert missing_deps(root) == {"plain": ["arsr/low/deep.py"], "grid": ["arsr/low/deep.py"]}
    root = _tree(tmp_path, deps=["nb.ipynb", "arsr/__init__.py", "arsr/middle.py", "arsr/runner.py",
                                 "arsr/leaf.py", "arsr/low"])
    assert missing_deps(root) == {}


def test_cycles_are_found_even_through_lazy_imports(tmp_path):
    root = _tree(tmp_path, deps=[])
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
    root = _tree(tmp_path, deps=[])
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


def test_extra_deps_are_reported(tmp_path):
    code = ["nb.ipynb", "arsr/__init__.py", "arsr/middle.py", "arsr/runner.py", "arsr/leaf.py", "arsr/low"]
    assert extra_deps(_tree(tmp_path, deps=code)) == {}
    _write(tmp_path, {"arsr/unused.py": ""})
    extra = extra_deps(_tree(tmp_path, deps=[*code, "arsr/unused.py"]))
    assert extra == {"plain": ["arsr/unused.py"], "grid": ["arsr/unused.py"]}
