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


def test_torch_pinned_and_opencv_contrib_only():
    deps = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    names = [re.split(r"[=<>!~ ]", d)[0] for d in deps]
    assert "torch==2.13.0" in deps
    assert "opencv-contrib-python-headless" in names
    assert not {"opencv-python", "opencv-contrib-python", "opencv-python-headless"} & set(names)
    assert "torchvision" not in names


def test_readme_starts_with_the_two_commands_and_ci_runs_the_test_one():
    readme = (ROOT / "README.md").read_text().splitlines()
    block = "\n".join(readme[:8])
    assert "make study" in block and "make test" in block
    ci = [ln.strip() for ln in (ROOT / ".ci/run").read_text().splitlines()
          if ln.strip() and not ln.startswith("#")]
    assert ci[-1] == "make test"
    assert not any("pytest" in ln or "||" in ln for ln in ci), "CI must not mask pytest's exit code"
    makefile = (ROOT / "Makefile").read_text()
    assert re.search(r"^test: setup\n\t\$\(PY\) -m pytest$", makefile, re.M)
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
        assert str(nb_path.relative_to(ROOT)) in stage["deps"]
