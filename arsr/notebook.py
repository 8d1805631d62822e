"""Run a stage notebook with papermill and render it to HTML: the command behind dvc.yaml.

    python -m arsr.notebook notebooks/10_prepare_data.ipynb -g data -g prepare \
        -p interim_dir=data/interim -p reports_dir=reports

Params groups (``-g``) are read from params.yaml, validated *before* the kernel starts, and
injected as dicts of the same names; ``-p key=value`` injects plain values (YAML-parsed). The
executed notebook and its HTML land in ``--out`` (default ``reports/``), both written atomically.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

# jsonschema (under nbformat, papermill and nbconvert) imports the optional rfc3987_syntax, which
# builds a parser at import: ~3 s of every stage's start-up for a URI format check that notebook
# validation never needs. Marking it absent makes jsonschema skip that one format.
sys.modules.setdefault("rfc3987_syntax", None)

import yaml

from .io import atomic_path, write_text
from .params import ParamError, load_params, validate
from .paths import repo_root

KERNEL = "arsr"


def _check_kernel(name: str) -> None:
    from jupyter_client.kernelspec import KernelSpecManager

    if name not in KernelSpecManager().find_kernel_specs():
        raise SystemExit(
            f"Jupyter kernel {name!r} is not registered in this environment: run `make setup` "
            f"(or `python -m ipykernel install --sys-prefix --name {name}`)"
        )


def render_html(ipynb: Path, html: Path) -> None:
    """nbconvert ``ipynb`` to a standalone HTML page (figures embedded)."""
    import nbformat
    from nbconvert import HTMLExporter

    nb = nbformat.read(ipynb, as_version=4)
    body, _ = HTMLExporter(template_name="lab").from_notebook_node(nb)
    write_text(html, body)


def run_notebook(notebook: str | Path, *, groups: list[str] = (), extra: dict | None = None,
                 out_dir: str | Path = "reports", name: str | None = None,
                 kernel: str = KERNEL, params_file: str | Path | None = None) -> Path:
    """Execute ``notebook`` with the validated params ``groups`` and ``extra`` values injected.

    Returns the executed notebook's path. On a failing cell the executed notebook is still
    written (so the traceback can be read) and the papermill error propagates.
    """
    import papermill as pm

    root = repo_root()
    notebook = (root / notebook) if not Path(notebook).is_absolute() else Path(notebook)
    if not notebook.is_file():
        raise FileNotFoundError(f"notebook {notebook} not found")
    params = load_params(params_file)
    parameters = dict(validate(params, groups))
    parameters.update(extra or {})
    out_dir = root / out_dir
    out_dir.mkdir(parents=True, exist_ok=True)
    stem = name or notebook.stem
    out_nb, out_html = out_dir / f"{stem}.ipynb", out_dir / f"{stem}.html"
    _check_kernel(kernel)
    t0 = time.perf_counter()
    with atomic_path(out_nb, suffix=".ipynb") as tmp:
        try:
            pm.execute_notebook(str(notebook), str(tmp), parameters=parameters, kernel_name=kernel,
                                cwd=str(root), progress_bar=False, log_output=False,
                                stdout_file=sys.stdout, stderr_file=sys.stderr)
        except pm.PapermillExecutionError:
            failed = out_dir / f"{stem}.failed.ipynb"
            tmp.replace(failed)
            print(f"\n{notebook.name} failed; the executed notebook is in {failed}", file=sys.stderr)
            raise
    render_html(out_nb, out_html)
    print(f"{notebook.name}: {time.perf_counter() - t0:.1f} s -> {out_nb.relative_to(root)}, "
          f"{out_html.relative_to(root)}", file=sys.stderr)
    return out_nb


def _parse_extra(items: list[str]) -> dict:
    extra = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise SystemExit(f"-p expects key=value, got {item!r}")
        extra[key] = yaml.safe_load(value)
    return extra


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m arsr.notebook", description=__doc__.split("\n")[0])
    ap.add_argument("notebook")
    ap.add_argument("-g", "--group", action="append", default=[], help="params.yaml group to inject")
    ap.add_argument("-p", "--param", action="append", default=[], help="extra key=value to inject")
    ap.add_argument("--out", default="reports", help="folder for the executed notebook and HTML")
    ap.add_argument("--name", help="file stem of the outputs (default: the notebook's)")
    ap.add_argument("--params-file", help="params file (default: params.yaml at the study root)")
    args = ap.parse_args(argv)
    try:
        run_notebook(args.notebook, groups=args.group, extra=_parse_extra(args.param),
                     out_dir=args.out, name=args.name, params_file=args.params_file)
    except ParamError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    except Exception as err:  # papermill's error already printed the failing cell
        if type(err).__name__ != "PapermillExecutionError":
            raise
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
