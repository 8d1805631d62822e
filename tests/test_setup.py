"""The set-up itself: dependency lists agree, CI runs the README's test command, the pipeline's
params and notebooks are consistent."""
from __future__ import annotations

import json
import re
import tomllib
from pathlib import Path

import yaml

from arsr.study.schema import validate

ROOT = Path(__file__).resolve().parents[1]


def _norm(req: str) -> str:
    return re.sub(r"\s+", "", req).lower().replace("_", "-")


def test_environment_yml_mirrors_pyproject():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    wanted = {_norm(r) for r in project["dependencies"] + project["optional-dependencies"]["dev"]}
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    pip = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict) and "pip" in d)
    conda = {_norm(d) for d in pip}
    assert conda == wanted, (f"only in pyproject: {sorted(wanted - conda)}; "
                             f"only in environment.yml: {sorted(conda - wanted)}")


def _dependencies() -> dict[str, str]:
    """pyproject.toml's dependencies: distribution name -> its requirement as written."""
    deps = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    return {re.split(r"[=<>!~ ]", d)[0]: d for d in deps}


def test_torch_pinned_and_opencv_contrib_only():
    spec = _dependencies()
    deps, names = list(spec.values()), list(spec)
    assert "torch==2.13.0" in deps
    assert "opencv-contrib-python-headless" in names
    assert not {"opencv-python", "opencv-contrib-python", "opencv-python-headless"} & set(names)
    assert "torchvision" not in names


def test_the_packages_that_compute_the_numbers_are_pinned():
    """torch and the packages provenance records (arsr.provenance.NUMERIC_PACKAGES) are pinned to one
    release: a range lets two fresh clones compute different numbers (OpenCV's DIS flow changed
    between 4.14 and 5.x), and the provenance would only record the difference afterwards."""
    from arsr.provenance import NUMERIC_PACKAGES

    spec = _dependencies()
    dist = {"numpy": "numpy", "opencv": "opencv-contrib-python-headless"}
    assert set(dist) == set(NUMERIC_PACKAGES), "a package provenance records has no distribution name here"
    for name in ["torch", *dist.values()]:
        assert re.fullmatch(rf"{re.escape(name)}==[0-9][0-9.]*", spec[name]), f"{spec[name]!r} is not pinned with =="


def test_readme_starts_with_the_two_commands_and_ci_runs_the_test_one():
    readme = (ROOT / "README.md").read_text().splitlines()
    block = "\n".join(readme[:8])
    assert "make study" in block and "make test" in block
    ci = [ln.strip() for ln in (ROOT / ".ci/run").read_text().splitlines()
          if ln.strip() and not ln.startswith("#")]
    assert ci[-1] == "make test"
    assert not any("pytest" in ln or "||" in ln for ln in ci), "CI must not mask pytest's exit code"
    makefile = (ROOT / "Makefile").read_text()
    # the linter first (pyproject's [tool.ruff]), then pytest: either failing fails make test
    assert re.search(r"^test: setup\n\t\$\(PY\) -m ruff check \.\n\t\$\(PY\) -m pytest$", makefile, re.M)
    # the study: the whole params.yaml checked first, then dvc repro
    assert re.search(r"^study: setup\n\t\$\(PY\) -m arsr\.study\.check\n\tdvc repro$", makefile, re.M)


def _stages() -> dict:
    """dvc.yaml's stages, a ``foreach`` group by its ``do`` body."""
    stages = yaml.safe_load((ROOT / "dvc.yaml").read_text())["stages"]
    return {name: stage.get("do", stage) for name, stage in stages.items()}


def test_params_yaml_validates_for_every_stage(default_params):
    params = default_params
    for name, stage in _stages().items():
        declared = [p for p in stage.get("params", []) if isinstance(p, str)]
        groups = sorted({p.split(".")[0] for p in declared})
        validate(params, groups)
        for key in declared:  # each declared key reaches the notebook: a whole group, or one value
            group = key.split(".")[0]
            assert f"-g {group}" in stage["cmd"] or f"${{{key}}}" in stage["cmd"] or f"={key} " in f"{stage['cmd']} ", \
                f"stage {name} reads {key} without injecting it"


def test_stage_notebooks_are_clean_and_parameterized():
    for name, stage in _stages().items():
        nb_path = ROOT / stage["cmd"].split()[3]
        nb = json.loads(nb_path.read_text())
        tagged = [c for c in nb["cells"] if "parameters" in c.get("metadata", {}).get("tags", [])]
        assert len(tagged) == 1, f"{nb_path.name} needs exactly one cell tagged 'parameters'"
        outputs = [c for c in nb["cells"] if c.get("outputs") or c.get("execution_count")]
        assert not outputs, f"{nb_path.name} is committed with outputs: clear them"
        # nbformat 4.5 cells carry ids; a cell without one warns (MissingIDFieldWarning) and will be an error
        no_id = [i for i, c in enumerate(nb["cells"]) if not c.get("id")]
        assert (nb["nbformat"], nb["nbformat_minor"]) < (4, 5) or not no_id, f"{nb_path.name}: cells {no_id} lack an id"
        assert str(nb_path.relative_to(ROOT)) in stage["deps"]


def _dvc_outs() -> list[str]:
    """Every path of dvc.yaml's outs, metrics and plots (templated parts left as they are)."""
    paths = []
    for stage in _stages().values():
        for kind in ("outs", "metrics", "plots"):
            for out in stage.get(kind, []) or []:
                paths.append(out if isinstance(out, str) else next(iter(out)))
    return paths


def test_data_gitignore_covers_every_output_under_data():
    """DVC adds an output it finds unignored to the .gitignore beside it: a tracked data/.gitignore
    that lacked one came out of every study run modified (provenance then says +dirty)."""
    ignored = {line.strip() for line in (ROOT / "data" / ".gitignore").read_text().splitlines()}
    under = {Path(p).parts[1] for p in _dvc_outs() if Path(p).parts[0] == "data"}
    assert under and not {f"/{name}" for name in under} - ignored, sorted(under)


def test_clutter_of_tools_is_ignored_and_lab_runs_as_root():
    assert "/dvc_plots/" in (ROOT / ".gitignore").read_text().splitlines()  # `dvc plots show`
    recipe = re.search(r"^lab: setup\n\t(.*)$", (ROOT / "Makefile").read_text(), re.M).group(1)
    assert recipe.startswith("jupyter lab") and "--allow-root" in recipe and "id -u" in recipe


def test_make_gives_matplotlib_a_config_folder_of_its_own_environment():
    """A font list cached by another matplotlib install (~/.cache/matplotlib, shared by every
    install of the same version) lacked the bundled STIX fonts: 21 findfont warnings per report."""
    assert re.search(r"^export MPLCONFIGDIR := \$\(CURDIR\)/\$\(VENV\)/", (ROOT / "Makefile").read_text(), re.M)


def test_no_notebook_progress_bar():
    """tqdm.auto picks the notebook bar inside papermill's kernel, which warns "IProgress not
    found" without ipywidgets (not a dependency): arsr uses tqdm's text bar everywhere."""
    files = [*sorted((ROOT / "arsr").rglob("*.py")), *sorted((ROOT / "notebooks").glob("*.ipynb"))]
    offenders = [str(f.relative_to(ROOT)) for f in files
                 if re.search(r"tqdm\.(auto|notebook)|tqdm_notebook", f.read_text())]
    assert not offenders, offenders


def test_a_mistyped_refdata_folder_fails_the_tests_that_need_it(tmp_path):
    import os
    import subprocess
    import sys

    test = "tests/test_archs_image.py::test_released_vdsr_reproduces_set5_x4"
    env = {**os.environ, "ARSR_REFDATA": str(tmp_path / "refdaat")}
    done = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", test], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 1, done.stdout[-2000:]
    assert f"ARSR_REFDATA={tmp_path / 'refdaat'} is no such folder" in done.stdout and "1 error" in done.stdout
