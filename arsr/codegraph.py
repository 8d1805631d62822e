"""What code each stage runs: the import graph of ``arsr`` and, per stage notebook, a digest of
the ``arsr`` files it runs (its imports and the runner's, transitively).

dvc.yaml's stage ``code`` runs ``python -m arsr.codegraph`` whenever ``arsr/`` or
``notebooks/`` changes and writes ``data/code/<notebook>.txt``; every other stage lists its
notebook's digest as a dep, so an edit re-runs exactly the stages whose code it touches (a
digest that comes out the same leaves its stages alone), and dvc.yaml lists one line per stage
instead of every module. ``dvc repro code && dvc status`` shows which results an edit made stale.

Imports are read statically with ``ast``; function-level (lazy) imports count, because they run
as soon as the function does. Importing ``arsr.a.b`` runs ``arsr/__init__.py`` and
``arsr/a/__init__.py`` too, so those are part of a closure.

Standard library only (and no relative import): it runs as a script too.
"""
from __future__ import annotations

import argparse
import ast
import hashlib
import json
import os
import sys
import tempfile
from pathlib import Path

PACKAGE = "arsr"
RUNNER = "arsr.notebook"      # every stage runs its notebook with ``python -m arsr.notebook``
NOTEBOOKS_DIR = "notebooks"
DIGEST_DIR = "data/code"


def module_file(root: Path, module: str) -> Path | None:
    """The file of a dotted module name under ``root`` (a package's ``__init__.py``), or None."""
    base = Path(root).joinpath(*module.split("."))
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
    root = Path(root)
    graph = {}
    for path in sorted((root / PACKAGE).rglob("*.py")):
        parts = list(path.relative_to(root).with_suffix("").parts)
        is_package = parts[-1] == "__init__"
        module = ".".join(parts[:-1] if is_package else parts)
        package = module if is_package else module.rpartition(".")[0]
        graph[module] = imported_modules(path.read_text(), package, root) - {module}
    return graph


def closure(graph: dict[str, set[str]], modules: set[str]) -> set[str]:
    """``modules`` and every module they import, transitively (those of ``graph`` only)."""
    seen: set[str] = set()
    todo = list(modules)
    while todo:
        module = todo.pop()
        if module not in seen and module in graph:
            seen.add(module)
            todo.extend(graph[module])
    return seen


def notebook_source(path: Path) -> str:
    """The code cells of a notebook, without IPython magics and shell lines."""
    lines = []
    for cell in json.loads(Path(path).read_text())["cells"]:
        if cell["cell_type"] == "code":
            source = "".join(cell["source"])
            lines += [line for line in source.splitlines() if not line.lstrip().startswith(("%", "!"))]
    return "\n".join(lines)


def program_files(root: Path, notebook: Path, graph: dict[str, set[str]] | None = None,
                  runner: str = RUNNER) -> list[Path]:
    """The ``arsr`` files that running ``notebook`` with ``python -m <runner>`` runs, relative
    to ``root``, sorted."""
    root = Path(root)
    graph = module_graph(root) if graph is None else graph
    modules = {m for m in with_parents(runner) if module_file(root, m)}
    modules |= imported_modules(notebook_source(root / notebook), PACKAGE, root)
    return sorted(module_file(root, m).relative_to(root) for m in closure(graph, modules))


def digest_name(notebook: str | os.PathLike) -> str:
    """``notebooks/40_evaluate.ipynb`` -> ``40_evaluate.txt``: the file a stage lists as a dep."""
    return Path(notebook).stem + ".txt"


def digest(root: Path, notebook: Path, graph: dict[str, set[str]] | None = None) -> str:
    """The digest of what ``notebook`` runs: a comment line, then ``<sha256>  <path>`` per file
    (``sha256sum``'s format, so ``sha256sum -c`` checks it from the project's root)."""
    root = Path(root)
    lines = [f"# the arsr files `python -m {RUNNER} {Path(notebook).as_posix()}` runs "
             "(arsr/codegraph.py: its imports, transitively)"]
    for path in program_files(root, notebook, graph):
        lines.append(f"{hashlib.sha256((root / path).read_bytes()).hexdigest()}  {path.as_posix()}")
    return "\n".join(lines) + "\n"


def write_digests(root: Path, out: str | os.PathLike = DIGEST_DIR,
                  notebooks_dir: str = NOTEBOOKS_DIR) -> list[Path]:
    """Write one digest per ``notebooks_dir/*.ipynb`` into ``root/out`` (atomically, each file),
    remove digests of notebooks that are gone; returns the files written."""
    root = Path(root)
    out_dir = root / out
    notebooks = sorted((root / notebooks_dir).glob("*.ipynb"))
    if not notebooks:
        raise FileNotFoundError(f"{root / notebooks_dir}: no notebook (*.ipynb) found: run from the "
                                "project's root, or pass --root")
    out_dir.mkdir(parents=True, exist_ok=True)
    graph = module_graph(root)
    written = []
    for notebook in notebooks:
        target = out_dir / digest_name(notebook)
        text = digest(root, notebook.relative_to(root), graph)
        fd, tmp = tempfile.mkstemp(dir=out_dir, prefix=f".{target.name}.", suffix=".tmp")
        with os.fdopen(fd, "w") as f:
            f.write(text)
        os.replace(tmp, target)
        written.append(target)
    for stale in sorted(set(out_dir.glob("*.txt")) - set(written)):
        stale.unlink()
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m arsr.codegraph", description=__doc__.split("\n\n")[0])
    parser.add_argument("--root", default=".", help="the project's root (default: the current folder)")
    parser.add_argument("--out", default=DIGEST_DIR, help=f"folder of the digests, under root (default {DIGEST_DIR})")
    args = parser.parse_args(argv)
    try:
        written = write_digests(Path(args.root), args.out)
    except (FileNotFoundError, SyntaxError) as e:
        print(f"arsr.codegraph: {e}", file=sys.stderr)
        return 2
    print(f"{len(written)} digests in {Path(args.root) / args.out}: "
          + ", ".join(p.name for p in written))
    return 0


if __name__ == "__main__":
    sys.exit(main())
