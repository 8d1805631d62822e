"""Run a stage notebook with papermill and render it to HTML: the command behind dvc.yaml.

    python -m arsr.notebook notebooks/10_prepare_data.ipynb -g data -g prepare \
        -p interim_dir=data/interim -p reports_dir=reports

Params groups (``-g``) are read from params.yaml, validated *before* the kernel starts, and
injected as dicts of the same names; ``-p key=value`` injects plain values (YAML-parsed);
``-k name=dotted.key`` injects the value of one params.yaml key under another name (DVC cannot
interpolate a list into a command: ``-k recognizer_seeds=recognition.seeds``). The
executed notebook and its HTML land in ``--out`` (default ``reports/``), both written atomically:
the notebook complete (code included, for JupyterLab), the HTML for readers (markdown and
outputs, and the parameters the stage ran with; no code).

Ctrl-C or SIGTERM stops a stage in order (:class:`arsr.interrupt.KernelStop`): the kernel is
interrupted, a training loop writes the checkpoint of its iteration and an evaluation keeps the
videos it scored, and the runner prints one line saying where it stopped and exits with 130
(SIGINT) or 143 (SIGTERM); ``dvc repro`` resumes from there.

A stage notebook's parameters cell holds no settings of its own: its groups default to ``None``
and ``stage_params`` / ``study_param`` read those from the study's params.yaml when the notebook
is run by hand, so the settings live in params.yaml and the profiles only.
"""
from __future__ import annotations

import argparse
import ast
import html as _html
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

# jsonschema (under nbformat, papermill and nbconvert) imports the optional rfc3987_syntax, which
# builds a parser at import: ~3 s of every stage's start-up for a URI format check that notebook
# validation never needs. Marking it absent makes jsonschema skip that one format.
sys.modules.setdefault("rfc3987_syntax", None)

import yaml

from .interrupt import Interrupted, KernelStop
from .io import atomic_path, write_text
from .params import ParamError, load_params
from .study.schema import validate
from .paths import repo_root

KERNEL = "arsr"


def _check_kernel(name: str) -> None:
    from jupyter_client.kernelspec import KernelSpecManager

    if name not in KernelSpecManager().find_kernel_specs():
        raise SystemExit(
            f"Jupyter kernel {name!r} is not registered in this environment: run `make setup` "
            f"(or `python -m ipykernel install --sys-prefix --name {name}`)"
        )


def stage_params(**groups: Any) -> dict:
    """The params.yaml groups a stage notebook runs with, validated (``stage_params(sr=sr, seeds=seeds)``).

    ``dvc repro`` injects every group its stage declares (``run_notebook``); a group left ``None``
    (the parameters cell's default: the notebook run by hand) is read from the study's params.yaml.
    """
    study = load_params() if None in groups.values() else {}
    values = {group: study[group] if value is None else value
              for group, value in groups.items() if value is not None or group in study}
    return validate(values, list(groups))  # names a group missing from params.yaml


def study_param(key: str, value: Any = None) -> Any:
    """``value`` as injected, or, where it is ``None`` (the notebook run by hand), the value of the
    dotted ``key`` in the study's params.yaml (``study_param("recognition.seeds", recognizer_seeds)``)."""
    if value is not None:
        return value
    return params_key(load_params(), key)


def params_key(params: dict, key: str) -> Any:
    """The value of the dotted ``key`` in ``params`` (``"recognition.seeds"``), or a ``ParamError``
    naming the missing part."""
    found: Any = params
    for i, part in enumerate(key.split(".")):
        if not isinstance(found, dict) or part not in found:
            raise ParamError(f"params: {'.'.join(key.split('.')[:i + 1])} is missing from params.yaml "
                             "(see the repository's params.yaml for the defaults)")
        found = found[part]
    return found


#: Cells the HTML leaves out: the notebook's defaults and papermill's injected values (shown once,
#: as a table, instead).
PARAMETER_TAGS = ("parameters", "injected-parameters")


def _assignments(source: str) -> dict[str, Any]:
    """``{name: value}`` of a parameters cell's top-level assignments (the source text of a value
    that is not a literal)."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return {}
    out = {}
    for node in tree.body:
        if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
            try:
                out[node.targets[0].id] = ast.literal_eval(node.value)
            except (ValueError, TypeError, SyntaxError):
                out[node.targets[0].id] = ast.get_source_segment(source, node.value)
    return out


def ran_with(nb) -> dict[str, tuple[Any, bool]]:
    """``{name: (value, injected)}``: the parameters an executed notebook ran with, its parameters
    cell's defaults overridden by papermill's injected values."""
    defaults, injected = {}, {}
    for cell in nb.cells:
        tags = cell.metadata.get("tags", [])
        if cell.cell_type == "code" and "parameters" in tags:
            defaults.update(_assignments(cell.source))
        elif cell.cell_type == "code" and "injected-parameters" in tags:
            injected.update(_assignments(cell.source))
    return {**{k: (v, False) for k, v in defaults.items()}, **{k: (v, True) for k, v in injected.items()}}


def _plain(value: Any) -> str:
    """A value as one line: strings as they are, the rest in YAML's flow style (``[0, 1]``, ``null``)."""
    if isinstance(value, str):
        return value
    return yaml.safe_dump(value, default_flow_style=True, width=10**6).strip().removesuffix("...").strip()


def parameters_html(parameters: dict[str, tuple[Any, bool]]) -> str:
    """One collapsed block: a line with the plain values and the groups' names, and a table of
    every parameter (groups as YAML)."""
    plain = [f"{k} = {_plain(v)}" for k, (v, _) in parameters.items()
             if not isinstance(v, dict) and not k.endswith("_dir")]  # folders: in the table only
    groups = [k for k, (v, _) in parameters.items() if isinstance(v, dict)]
    summary = " · ".join(plain + ([f"groups {', '.join(groups)}"] if groups else []))
    rows = []
    for name, (value, injected) in parameters.items():
        if isinstance(value, dict) and value:
            shown = (f'<pre style="margin:0">'
                     f'{_html.escape(yaml.safe_dump(value, sort_keys=False, width=100).rstrip())}</pre>')
        else:
            shown = f"<code>{_html.escape(_plain(value))}</code>"
        note = "" if injected else " <em>(the notebook's default)</em>"
        rows.append(f'<tr><th style="text-align:left;vertical-align:top">{_html.escape(name)}</th>'
                    f'<td style="text-align:left">{shown}{note}</td></tr>')
    return (f'<details class="arsr-parameters"><summary><strong>Parameters</strong> this page ran with: '
            f'{_html.escape(summary)}</summary>\n'
            f'<table style="font-size:0.85em"><tbody>{"".join(rows)}</tbody></table>\n'
            '<p style="font-size:0.85em">Injected by papermill: params.yaml\'s groups and the values of '
            "the stage's command in dvc.yaml. The executed notebook beside this page holds the code.</p>"
            "</details>")


def made_html(executed: str, source: str | None = None) -> str:
    """The page's closing "How this was made" section: the source notebook, how it ran, and a link
    to the executed notebook ``executed`` (a file name beside the page) that holds the code."""
    ran = (f"the notebook <code>{_html.escape(source)}</code>" if source else "a stage notebook")
    return (f'<section class="arsr-made"><h2 id="how-this-was-made">How this was made</h2>\n'
            f"<p>This page is {ran}, executed by papermill with the parameters shown at the top (the "
            "stage's command in <code>dvc.yaml</code>; <code>dvc repro</code> runs it again) and rendered "
            f'without its code. The executed notebook, code and outputs, is <a href="{_html.escape(executed)}">'
            f"{_html.escape(executed)}</a> beside this page.</p></section>")


def _source_of(nb) -> str | None:
    """The notebook papermill ran (its ``input_path``), relative to the study root where inside it."""
    path = (nb.metadata.get("papermill") or {}).get("input_path")
    if not path:
        return None
    try:
        return str(Path(path).resolve().relative_to(repo_root()))
    except ValueError:
        return Path(path).name


def reader_notebook(nb, executed: str | None = None):
    """A copy of ``nb`` for readers: markdown and outputs (a failed cell's traceback is an output),
    the parameters cells replaced by ``parameters_html``, code cells without outputs dropped, and
    a progress bar's updates reduced to its last state, as JupyterLab shows it. With ``executed``
    (the executed notebook's file name, beside the page) a last "How this was made" section
    (``made_html``) links to it."""
    import copy

    import nbformat
    from nbconvert.preprocessors import CoalesceStreamsPreprocessor

    parameters = ran_with(nb)
    out, _ = CoalesceStreamsPreprocessor().preprocess(copy.deepcopy(nb), {})
    cells, placed = [], not parameters
    for cell in out.cells:
        if set(cell.metadata.get("tags", [])) & set(PARAMETER_TAGS):
            if not placed:
                # an output, not a raw cell: nbconvert passes outputs' HTML through unsanitised
                cells.append(nbformat.v4.new_code_cell(outputs=[nbformat.v4.new_output(
                    "display_data", data={"text/html": parameters_html(parameters)})]))
                placed = True
            continue
        if cell.cell_type == "code" and not cell.get("outputs"):
            continue
        cells.append(cell)
    if executed:
        cells.append(nbformat.v4.new_code_cell(outputs=[nbformat.v4.new_output(
            "display_data", data={"text/html": made_html(executed, _source_of(nb))})]))
    out.cells = cells
    return out


def render_html(ipynb: Path, html: Path) -> None:
    """nbconvert ``ipynb`` to a standalone HTML page for readers (figures embedded): markdown and
    outputs, no code, the parameters once near the top and a link to ``ipynb`` at the end
    (``reader_notebook``)."""
    import nbformat
    from nbconvert import HTMLExporter

    nb = reader_notebook(nbformat.read(ipynb, as_version=4), executed=Path(ipynb).name)
    exporter = HTMLExporter(template_name="lab", exclude_input=True, exclude_input_prompt=True,
                            exclude_output_prompt=True)
    body, _ = exporter.from_notebook_node(nb)
    write_text(html, body)


def _kernel_manager(folder: str, started: list) -> dict:
    """papermill keywords that start the kernel on local IPC sockets in ``folder`` (POSIX): no TCP
    port is opened, so the kernel has no unencrypted-TCP warning to print on every stage. Each
    kernel manager made is appended to ``started`` (:class:`arsr.interrupt.KernelStop` signals
    its kernel)."""
    if os.name != "posix":
        return {}
    from jupyter_client import AsyncKernelManager

    class IpcKernelManager(AsyncKernelManager):
        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            self.transport = "ipc"
            self.ip = os.path.join(folder, "kernel")
            started.append(self)

        async def _async_interrupt_kernel(self):
            # jupyter_client interrupts the kernel before every shutdown; ours come after the last
            # cell ended, where the interrupt can only land in the kernel's own message handling
            # and print "[IPKernelApp] ERROR | KeyboardInterrupt caught in kernel" (seen under load,
            # after a stop's one line). The shutdown request and its timeout still end the kernel.
            if self.shutting_down:
                return
            await super()._async_interrupt_kernel()

    return {"kernel_manager_class": IpcKernelManager}


def run_notebook(notebook: str | Path, *, groups: list[str] = (), extra: dict | None = None,
                 keys: dict[str, str] | None = None, out_dir: str | Path = "reports", name: str | None = None,
                 kernel: str = KERNEL, params_file: str | Path | None = None) -> Path:
    """Execute ``notebook`` with the validated params ``groups``, ``extra`` values and ``keys``
    (injected name -> dotted params.yaml key, its group validated) injected.

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
    for injected, key in (keys or {}).items():
        group = key.split(".")[0]
        parameters[injected] = params_key(validate(params, [group]), key)
    parameters.update(extra or {})
    out_dir = root / out_dir
    out_dir.mkdir(parents=True, exist_ok=True)
    stem = name or notebook.stem
    out_nb, out_html = out_dir / f"{stem}.ipynb", out_dir / f"{stem}.html"
    _check_kernel(kernel)
    t0 = time.perf_counter()
    stopping = KernelStop()
    with atomic_path(out_nb, suffix=".ipynb") as tmp, tempfile.TemporaryDirectory(prefix="arsr-kernel-") as sockets:
        try:
            with stopping.handling():
                pm.execute_notebook(str(notebook), str(tmp), parameters=parameters, kernel_name=kernel,
                                    cwd=str(root), progress_bar=False, log_output=False,
                                    stdout_file=sys.stdout, stderr_file=sys.stderr,
                                    on_cell_start=stopping.before_cell,
                                    **_kernel_manager(sockets, stopping.kernels))
        except BaseException as err:
            stopped = stopping.interrupted(err)
            if stopped is not None:  # the partial notebook is dropped: the stage is not done
                raise stopped from None
            if not isinstance(err, pm.PapermillExecutionError):
                raise
            failed = out_dir / f"{stem}.failed.ipynb"
            tmp.replace(failed)
            print(f"\nerror: {notebook.name} failed at In [{err.exec_count}]: {err.ename}: {err.evalue}\n"
                  f"  the executed notebook, with the traceback: {failed.relative_to(root)}", file=sys.stderr)
            raise
    render_html(out_nb, out_html)
    print(f"{notebook.name}: {time.perf_counter() - t0:.1f} s -> {out_nb.relative_to(root)}, "
          f"{out_html.relative_to(root)}", file=sys.stderr)
    return out_nb


def _parse_extra(items: list[str], flag: str = "-p", parse=yaml.safe_load) -> dict:
    extra = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise SystemExit(f"{flag} expects key=value, got {item!r}")
        extra[key] = parse(value)
    return extra


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m arsr.notebook", description=__doc__.split("\n")[0])
    ap.add_argument("notebook")
    ap.add_argument("-g", "--group", action="append", default=[], help="params.yaml group to inject")
    ap.add_argument("-p", "--param", action="append", default=[], help="extra key=value to inject")
    ap.add_argument("-k", "--key", action="append", default=[],
                    help="name=dotted.key: inject a params.yaml value under another name")
    ap.add_argument("--out", default="reports", help="folder for the executed notebook and HTML")
    ap.add_argument("--name", help="file stem of the outputs (default: the notebook's)")
    ap.add_argument("--params-file", help="params file (default: params.yaml at the study root)")
    args = ap.parse_args(argv)
    try:
        run_notebook(
            args.notebook,
            groups=args.group,
            extra=_parse_extra(args.param),
            keys=_parse_extra(args.key, "-k", str),
            out_dir=args.out,
            name=args.name,
            params_file=args.params_file,
        )
    except ParamError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt as err:  # Interrupted from the kernel, or Ctrl-C before it started
        stopped = err if isinstance(err, Interrupted) else Interrupted("stopped")
        print(f"\n{Path(args.notebook).name}: {stopped}; `dvc repro` resumes from there", file=sys.stderr)
        return stopped.exit_code
    except Exception as err:  # papermill's error already printed the failing cell
        if type(err).__name__ != "PapermillExecutionError":
            raise
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
