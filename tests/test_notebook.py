"""arsr.notebook: the HTML a reader gets (markdown and outputs, the parameters once, no code), and
the parameters cells of the stage notebooks, which hold no settings: the tiny profile lives in
profiles/tiny.yaml only, and a notebook run by hand reads its groups from params.yaml."""
from __future__ import annotations

import ast
import re
from pathlib import Path

import nbformat
import pytest
import yaml
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output

from arsr.notebook import PARAMETER_TAGS, ran_with, reader_notebook, render_html, stage_params, study_param
from arsr.params import ParamError
from arsr.study.schema import SCHEMA

from test_dvc_deps import stage_definitions  # tests/ is on sys.path under pytest

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))


def _executed_notebook(*, failed: bool = False):
    """What papermill leaves: the notebook's parameters cell, its injected one, code with outputs."""
    params = new_code_cell('# Parameters: defaults\nevaluate = None\nmethod = "bicubic"\nreports_dir = "reports/tiny"',
                           metadata={"tags": ["parameters"]})
    injected = new_code_cell('# Parameters\nevaluate = {"num_frames": 2, "crops": "center"}\nmethod = "sosr"\n'
                             'reports_dir = "reports"\n', metadata={"tags": ["injected-parameters"]})
    cells = [
        new_markdown_cell("# 40 · Evaluate\nThe study's *measurement*."),
        params, injected,
        new_code_cell("import secret_module_name\nsetup_done = True"),  # no output
        new_markdown_cell("## Accuracy"),
        new_code_cell("print(compute_the_table())", execution_count=3,
                      outputs=[new_output("stream", name="stderr", text="\rtraining:  50%|#####     | 1/2"),
                               new_output("stream", name="stderr", text="\rtraining: 100%|##########| 2/2\n"),
                               new_output("stream", name="stdout", text="top-1 = 42.5\n")]),
        new_code_cell("show_figure()", execution_count=4,
                      outputs=[new_output("display_data", data={"text/html": "<b>a figure caption</b>",
                                                                "text/plain": "<Figure>"})]),
    ]
    if failed:
        cells.append(new_code_cell("raise ValueError('broken')", execution_count=5, outputs=[new_output(
            "error", ename="ValueError", evalue="the cache is stale",
            traceback=["\x1b[0;31mValueError\x1b[0m: the cache is stale (evaluate@sosr)"])]))
    return new_notebook(cells=cells, metadata={"kernelspec": {"name": "arsr", "display_name": "arsr",
                                                              "language": "python"}})


def _render(tmp_path, nb) -> str:
    nbformat.write(nb, tmp_path / "executed.ipynb")
    render_html(tmp_path / "executed.ipynb", tmp_path / "executed.html")
    return (tmp_path / "executed.html").read_text()


def test_html_shows_markdown_and_outputs_not_code(tmp_path):
    text = _render(tmp_path, _executed_notebook())
    for shown in ("40 · Evaluate", "<em>measurement</em>", "Accuracy", "top-1 = 42.5", "<b>a figure caption</b>",
                  "training: 100%"):
        assert shown in text, shown
    assert "training:  50%" not in text  # a progress bar as JupyterLab shows it: its last state
    for hidden in ("secret_module_name", "compute_the_table", "show_figure", "# Parameters"):
        assert hidden not in text, hidden
    # the executed notebook itself keeps everything
    kept = nbformat.read(tmp_path / "executed.ipynb", as_version=4)
    assert "secret_module_name" in kept.cells[3].source and len(kept.cells) == 7


def test_html_shows_the_parameters_once_near_the_top(tmp_path):
    text = _render(tmp_path, _executed_notebook())
    assert text.count('class="arsr-parameters"') == 1
    block = text[text.index('class="arsr-parameters"'):text.index("</details>")]
    assert text.index("40 · Evaluate") < text.index('class="arsr-parameters"') < text.index("top-1 = 42.5")
    # the values it ran with: papermill's, not the notebook's defaults
    assert "method = sosr" in block and "groups evaluate" in block and "num_frames: 2" in block
    assert "bicubic" not in text and "reports/tiny" not in text
    assert "<code>reports</code>" in block


def test_parameters_are_the_defaults_overridden_by_the_injected_values():
    nb = _executed_notebook()
    assert ran_with(nb) == {"evaluate": ({"num_frames": 2, "crops": "center"}, True), "method": ("sosr", True),
                            "reports_dir": ("reports", True)}
    nb.cells = [c for c in nb.cells if "injected-parameters" not in c.metadata.get("tags", [])]
    assert ran_with(nb)["method"] == ("bicubic", False)  # never injected: the notebook's default
    reader = reader_notebook(_executed_notebook())
    assert not any(set(c.metadata.get("tags", [])) & set(PARAMETER_TAGS) for c in reader.cells)
    assert [c.cell_type for c in reader.cells] == ["markdown", "code", "markdown", "code", "code"]


def test_html_ends_with_how_it_was_made_linking_the_executed_notebook(tmp_path):
    nb = _executed_notebook()
    nb.metadata["papermill"] = {"input_path": str(ROOT / "notebooks/40_evaluate.ipynb")}
    text = _render(tmp_path, nb)
    assert text.count('class="arsr-made"') == 1 and text.index("top-1 = 42.5") < text.index("How this was made")
    made = text[text.index('class="arsr-made"'):]
    assert '<a href="executed.ipynb">executed.ipynb</a>' in made and "<code>notebooks/40_evaluate.ipynb</code>" in made


def test_html_of_a_failed_notebook_shows_the_traceback(tmp_path):
    text = _render(tmp_path, _executed_notebook(failed=True))
    assert "ValueError" in text and "the cache is stale (evaluate@sosr)" in text
    assert "raise ValueError" not in text  # the traceback, not the cell's code


# ---------------------------------------------------------------------------------------------
# The stage notebooks' parameters cells: no settings, one tiny profile (profiles/tiny.yaml)


def parameters_cell(path: Path) -> dict[str, ast.expr]:
    """``{name: value node}`` of the one cell tagged ``parameters`` in the notebook at ``path``."""
    nb = nbformat.read(path, as_version=4)
    cells = [c for c in nb.cells if "parameters" in c.metadata.get("tags", [])]
    assert len(cells) == 1, f"{path.name}: {len(cells)} cells tagged parameters, expected one"
    tree = ast.parse(cells[0].source)
    assigned = {}
    for node in tree.body:
        assert isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name), \
            f"{path.name}: the parameters cell holds only `name = value` lines, found {ast.unparse(node)!r}"
        assigned[node.targets[0].id] = node.value
    return assigned


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_parameters_cell_defines_no_settings(path):
    """A group or knob of params.yaml defaults to None (read from params.yaml when run by hand);
    the rest are strings (the stage's folders and its method or variant). A dict, list or number
    here would be a second copy of a profile."""
    for name, value in parameters_cell(path).items():
        assert isinstance(value, ast.Constant) and (value.value is None or isinstance(value.value, str)), (
            f"{path.name}: parameters cell sets {name} = {ast.unparse(value)}; settings live in params.yaml "
            "and profiles/ (leave it None: the notebook reads params.yaml when run by hand)")
        if name in SCHEMA:
            assert value.value is None, f"{path.name}: the params.yaml group {name} must default to None"


def _injected(command: str) -> set[str]:
    """The names a dvc.yaml command injects: its ``-g`` groups, ``-p`` and ``-k`` keys."""
    return (set(re.findall(r"-g\s+(\w+)", command)) | set(re.findall(r"-p\s+(\w+)=", command))
            | set(re.findall(r"-k\s+(\w+)=", command)))


def test_every_stage_injects_every_parameter_of_its_notebook():
    """Under dvc nothing may fall back to the notebook's default: a group left None would be read
    from params.yaml behind dvc's back (not a declared param of the stage)."""
    used = set()
    for stage, definition in stage_definitions(ROOT).items():
        command = " ".join(str(definition["cmd"]).split())
        (notebook,) = [w for w in command.split() if w.endswith(".ipynb")]
        used.add(notebook)
        assert _injected(command) == set(parameters_cell(ROOT / notebook)), stage
        # a params key injected under another name (-k) is a declared param of the stage
        declared = {str(p) for p in definition.get("params", [])}
        for key in re.findall(r"-k\s+\w+=([\w.]+)", command):
            assert key in declared or key.split(".")[0] in declared, (stage, key)
    assert {f"notebooks/{p.name}" for p in NOTEBOOKS} == used


# ---------------------------------------------------------------------------------------------
# A notebook run by hand: groups from params.yaml


@pytest.fixture
def study_root(tmp_path, monkeypatch):
    """A study root whose params.yaml is the tiny profile."""
    (tmp_path / "dvc.yaml").write_text("stages: {}\n")
    (tmp_path / "params.yaml").write_text((ROOT / "profiles/tiny.yaml").read_text())
    monkeypatch.setenv("ARSR_ROOT", str(tmp_path))
    return tmp_path


def test_stage_params_read_the_groups_left_none_from_params_yaml(study_root):
    tiny = yaml.safe_load((ROOT / "profiles/tiny.yaml").read_text())
    assert set(stage_params(**dict.fromkeys(SCHEMA))) == set(SCHEMA)  # the tiny profile is valid throughout
    given = {**tiny["prepare"], "flow_method": "farneback"}
    params = stage_params(data=None, prepare=given, seeds=None)
    assert params["data"] == tiny["data"] and params["seeds"] == tiny["seeds"]
    assert params["prepare"]["flow_method"] == "farneback"  # an injected group wins
    with pytest.raises(ParamError, match="prepare.flow_method = 'flownet'"):
        stage_params(prepare={**given, "flow_method": "flownet"})  # validated as before the kernel
    del tiny["report"]
    (study_root / "params.yaml").write_text(yaml.safe_dump(tiny))
    with pytest.raises(ParamError, match="'report' is missing from params.yaml"):
        stage_params(report=None)


def test_study_param_reads_a_dotted_key(study_root):
    assert study_param("recognition.feature_seed") == 2 and study_param("recognition.seeds", [7]) == [7]
    assert study_param("recognition.seeds") == [0, 1]  # the tiny profile's
    with pytest.raises(ParamError, match="recognition.nope is missing from params.yaml"):
        study_param("recognition.nope")


def test_a_failing_stage_says_what_failed_and_where(tmp_path, monkeypatch, capfd):
    """The console gets the exception's type and message and the failed notebook's path, and no
    warning about the kernel's transport (it talks over local IPC sockets, not TCP)."""
    from arsr.notebook import main

    (tmp_path / "dvc.yaml").write_text("stages: {}\n")
    (tmp_path / "params.yaml").write_text("seeds: [0]\n")
    nb = new_notebook(cells=[new_code_cell("x = 1", metadata={"tags": ["parameters"]}),
                             new_code_cell("raise KeyError('no such method: vdsr2')")],
                      metadata={"kernelspec": {"name": "arsr", "display_name": "arsr", "language": "python"}})
    nbformat.write(nb, tmp_path / "stage.ipynb")
    monkeypatch.setenv("ARSR_ROOT", str(tmp_path))
    assert main([str(tmp_path / "stage.ipynb"), "-p", "x=2", "--out", "reports"]) == 1
    err = capfd.readouterr().err
    assert "error: stage.ipynb failed at In [3]: KeyError: 'no such method: vdsr2'" in err
    assert "reports/stage.failed.ipynb" in err and (tmp_path / "reports/stage.failed.ipynb").is_file()
    assert not (tmp_path / "reports/stage.ipynb").exists()
    assert "without encryption" not in err


def test_a_params_list_is_injected_under_another_name(tmp_path, monkeypatch, capfd):
    """``-k name=dotted.key``: DVC cannot interpolate a list into a command, so the stage names the
    key (``-k recognizer_seeds=recognition.seeds``) and the runner injects its validated value."""
    from arsr.notebook import main

    (tmp_path / "dvc.yaml").write_text("stages: {}\n")
    (tmp_path / "params.yaml").write_text("seeds: [0, 4]\n")
    nb = new_notebook(cells=[new_code_cell("sr_seeds = None", metadata={"tags": ["parameters"]}),
                             new_code_cell("open('got.txt', 'w').write(repr(sr_seeds))")],
                      metadata={"kernelspec": {"name": "arsr", "display_name": "arsr", "language": "python"}})
    nbformat.write(nb, tmp_path / "stage.ipynb")
    monkeypatch.setenv("ARSR_ROOT", str(tmp_path))
    assert main([str(tmp_path / "stage.ipynb"), "-k", "sr_seeds=seeds", "--out", "reports"]) == 0
    assert (tmp_path / "got.txt").read_text() == "[0, 4]"
    assert main([str(tmp_path / "stage.ipynb"), "-k", "sr_seeds=recognition.seeds", "--out", "reports"]) == 2
    assert "group 'recognition' is missing from params.yaml" in capfd.readouterr().err


# ---------------------------------------------------------------------------------------------
# Ctrl-C and SIGTERM to a stage: one line, the kernel's checkpoint written, 130 / 143

_COUNTING_CELL = """\
import time
from pathlib import Path
from arsr.interrupt import stop_requests

with stop_requests() as stop:
    for it in range(1, 100_000):
        Path("running").write_text(str(it))
        time.sleep(0.05)
        if stop:
            Path("checkpoint.txt").write_text(str(it))
            stop.stop_here(f"stopped at iteration {it} of 99999 (checkpoint.txt written)")
"""

_SWALLOWING_CELL = """\
import time
from pathlib import Path

Path("running").write_text("1")
try:
    time.sleep(120)
except KeyboardInterrupt:
    pass  # a cell that goes on after an interrupt: the runner starts no further cell
"""


def _stop_a_stage(tmp_path, cell: str, signum: int):
    """Run a one-cell stage in a subprocess, send ``signum`` to the runner once the cell runs;
    (return code, stderr's non-empty lines)."""
    import os
    import subprocess
    import sys
    import time

    (tmp_path / "dvc.yaml").write_text("stages: {}\n")
    (tmp_path / "params.yaml").write_text("seeds: [0]\n")
    nb = new_notebook(cells=[new_code_cell("x = 1", metadata={"tags": ["parameters"]}), new_code_cell(cell),
                             new_code_cell("from pathlib import Path\nPath('next_cell_ran').touch()")],
                      metadata={"kernelspec": {"name": "arsr", "display_name": "arsr", "language": "python"}})
    nbformat.write(nb, tmp_path / "stage.ipynb")
    env = {**os.environ, "ARSR_ROOT": str(tmp_path), "PYTHONPATH": os.pathsep.join(
        [str(ROOT), *filter(None, [os.environ.get("PYTHONPATH")])])}
    proc = subprocess.Popen([sys.executable, "-m", "arsr.notebook", "stage.ipynb", "--out", "reports"],
                            cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    while not (tmp_path / "running").exists() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.1)
    time.sleep(0.3)
    proc.send_signal(signum)
    _, err = proc.communicate(timeout=120)
    return proc.returncode, [line for line in err.splitlines() if line.strip()]


def test_sigterm_stops_a_stage_at_a_checkpoint_with_one_line(tmp_path):
    import signal

    code, lines = _stop_a_stage(tmp_path, _COUNTING_CELL, signal.SIGTERM)
    n = (tmp_path / "checkpoint.txt").read_text()  # the kernel answered at its safe point
    assert lines == [f"stage.ipynb: stopped at iteration {n} of 99999 (checkpoint.txt written); "
                     "`dvc repro` resumes from there"]
    assert code == 143
    assert not (tmp_path / "next_cell_ran").exists() and not (tmp_path / "reports/stage.ipynb").exists()


def test_ctrl_c_starts_no_further_cell(tmp_path):
    import signal

    code, lines = _stop_a_stage(tmp_path, _SWALLOWING_CELL, signal.SIGINT)
    assert lines == ["stage.ipynb: stopped before its next cell; `dvc repro` resumes from there"]
    assert code == 130 and not (tmp_path / "next_cell_ran").exists()
