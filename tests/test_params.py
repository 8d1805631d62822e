"""params.yaml validation: a wrong knob stops a stage at once, naming the key and the fix."""
from __future__ import annotations

import copy
from pathlib import Path

import pytest

from arsr.params import ParamError, load_params, merged, params_hash
from arsr.study.schema import validate

ROOT = Path(__file__).resolve().parents[1]
GROUPS = ["data", "prepare"]


@pytest.fixture
def params(default_params):
    return default_params


def _with(params, dotted, value):
    out = copy.deepcopy(params)
    *path, last = dotted.split(".")
    node = out
    for key in path:
        node = node[key]
    node[last] = value
    return out


@pytest.mark.parametrize("key, value, needle", [
    ("data.dataset", "ucf", "data.dataset = 'ucf' is not allowed; expected one of synthetic"),
    ("prepare.workers", -1, "prepare.workers = -1"),
    ("prepare.workers", "4", "an integer"),
    ("prepare.flow_method", "flownet2", "tvl1, tvl1_torch, dis, farneback"),
    ("prepare.scale", 5, "prepare.scale"),
    ("prepare.hr_size", [130, 96], "divisible by prepare.scale"),
    ("prepare.max_frames", 1, "prepare.max_frames"),
    ("data.on_bad_video", "ignore", "error, skip"),
    ("data.split", 4, "data.split"),
])
def test_bad_values_name_the_key(params, key, value, needle):
    with pytest.raises(ParamError, match=None) as err:
        validate(_with(params, key, value), GROUPS)
    assert needle in str(err.value)


def test_unknown_and_missing_keys(params):
    with pytest.raises(ParamError, match=r"unknown key\(s\) prepare.wrokers"):
        validate(_with(params, "prepare.wrokers", 2), GROUPS)
    broken = copy.deepcopy(params)
    del broken["prepare"]["scale"]
    with pytest.raises(ParamError, match="missing key.*prepare.scale"):
        validate(broken, GROUPS)
    with pytest.raises(ParamError, match="data.synthetic"):
        validate(_with(params, "data.synthetic.n_clases", 3), GROUPS)


def test_paths_must_exist_for_real_datasets(params, tmp_path):
    bad = _with(_with(params, "data.dataset", "ucf101"), "data.root", str(tmp_path / "nope"))
    with pytest.raises(ParamError, match=r"data.root = .*does not exist"):
        validate(bad, GROUPS)
    ok = _with(_with(params, "data.dataset", "ucf101"), "data.root", str(tmp_path))
    assert validate(ok, GROUPS)["data"]["root"] == str(tmp_path)
    with pytest.raises(ParamError, match="data.splits_dir"):
        validate(_with(params, "data.splits_dir", str(tmp_path / "lists")), GROUPS)


def test_default_params_validate_and_hash_is_stable(params):
    checked = validate(params, GROUPS)
    # the documented format: sha256 of the key-sorted JSON, 12 hex digits; key order is irrelevant
    import hashlib
    assert params_hash({"b": [1, 2], "a": 0.5}) == hashlib.sha256(b'{"a": 0.5, "b": [1, 2]}').hexdigest()[:12]
    assert params_hash({"a": 0.5, "b": [1, 2]}) == params_hash({"b": [1, 2], "a": 0.5})
    assert params_hash(checked) != params_hash(merged(checked, {"prepare": {"workers": 3}}))
    with pytest.raises(ParamError, match="no schema for group"):
        validate(params, ["nonsense"])


def test_malformed_yaml_names_the_file(tmp_path):
    bad = tmp_path / "params.yaml"
    bad.write_text("data: [unclosed\n")
    with pytest.raises(ParamError, match="params.yaml is not valid YAML"):
        load_params(bad)


STUDY_GROUPS = ["processes", "seeds", "recognition", "sr", "evaluate", "report"]


@pytest.mark.parametrize("key, value, needle", [
    ("seeds", [], "seeds"),
    ("seeds", [0, -1], "seeds[1] = -1"),
    ("sr.methods", ["vdsr", "edsr"], "sr.methods[1] = 'edsr' is not allowed; expected one of vdsr"),
    ("sr.feature_network", "alexnet", "recognizer, vgg19"),
    ("sr.vdsr", {"optimizer": {"lr": "fast"}}, "sr.common / sr.vdsr"),
    ("sr.tosr", {"warp": {"norm": "l1"}}, "sr.common / sr.tosr"),
    ("sr.common", {"iterations": -5}, "sr.common"),
    ("recognition.tsn_rgb", {"epochz": 3}, "recognition.tsn_rgb.epochz"),
    ("evaluate.crops", "five", "center, ten"),
    ("evaluate.num_frames", 0, "evaluate.num_frames = 0"),
    ("report.paper_reference", "maybe", "auto, on, off"),
    ("processes", -1, "processes = -1 is not allowed; expected an integer: 0 (one process per core), 1 (the stage's"),
    ("processes", True, "processes = True"),
])
def test_study_groups_name_the_bad_key(params, key, value, needle):
    with pytest.raises(ParamError) as err:
        validate(_with(params, key, value), STUDY_GROUPS)
    assert needle in str(err.value)


def test_unknown_sr_method_overrides_and_missing_vgg_weights(params, tmp_path):
    with pytest.raises(ParamError, match=r"unknown key\(s\) sr.edsr"):
        validate(_with(params, "sr.edsr", {}), ["sr"])
    vgg = _with(_with(params, "sr.feature_network", "vgg19"), "sr.vgg_weights", str(tmp_path / "v.pth"))
    with pytest.raises(ParamError, match="nothing is downloaded"):
        validate(vgg, ["sr"])
    (tmp_path / "v.pth").write_bytes(b"x")
    assert validate(vgg, ["sr"])["sr"]["feature_network"] == "vgg19"


@pytest.mark.parametrize("key, value, needle", [
    ("recognition.feature_seed", 2, "is one of recognition.seeds"),
    ("recognition.seeds", [0, 0], "distinct seeds"),
    ("recognition.seeds", [], "a list of items"),
    ("aa_control.method", "rrdb_psnr", "must be in sr.train (trained from scratch"),
    ("aa_control.method", "sosr", "must be in sr.train (trained from scratch"),
    ("aa_control.seeds", [2, 3], "shares SR seeds with seeds"),
    ("ablation.sosr", ["vdsr_mse"], "vdsr_mse is the vdsr row"),
    ("ablation.tosr", ["duf16_warp"], "duf16_warp is the tosr row"),
    ("sr.finetune", {"sosr": "duf16", "esrgan": "rrdb_psnr", "tosr": "duf16"}, "starts from 'rrdb_psnr'"),
    ("sr.finetune", {"rcan": "rrdb_psnr"}, "in both"),
    ("sr.train", ["vdsr", "rcan", "srgan", "spmc", "duf16", "duf52"], "rrdb_psnr is not in sr.train"),
    ("sr.train", ["vdsr", "rcan", "srgan", "spmc", "duf16", "duf52", "rrdb_psnr", "sosr"], "in both"),
    ("sr.methods", ["vdsr", "sosr"], None),  # a subset of the trained methods is fine
    ("recognition.feature_streams", ["rgb"], r"lacks ['flow'].*rdsr's teachers"),  # rdsr is in sr.methods
    ("recognition.feature_streams", ["flow"], r"lacks ['rgb']"),
    ("recognition.feature_streams", [], "recognition.feature_streams"),
    ("recognition.feature_streams", ["depth"], "recognition.feature_streams"),
])
def test_study_plan_cross_checks(params, key, value, needle):
    """Seeds of the instrument vs the feature network, ablation rows that are main methods, and the
    SR training plan (sr.train / sr.finetune / sr.methods) are checked before anything runs."""
    bad = _with(params, key, value)
    groups = ["recognition", "sr", "ablation", "aa_control", "seeds"]
    if needle is None:
        validate(bad, groups)
        return
    with pytest.raises(ParamError, match=needle.replace("(", r"\(").replace(")", r"\)").replace("[", r"\[")):
        validate(bad, groups)


@pytest.mark.parametrize("value, needle", [
    ({"tsn_rgbb": {"epochs": 9}}, r"unknown key\(s\) recognition_lr.retrained.tsn_rgbb"),
    ({"tsn_rgb": {"epochs": 9, "lr": 0.1}}, r"unknown key\(s\) recognition_lr.retrained.tsn_rgb.lr; "),
    ({"tsn_rgb": {"epochs": 0}}, r"recognition_lr.retrained.tsn_rgb.epochs = 0"),
    ({"tsn_rgb": {"epochs": 50, "lr_steps": [60]}}, r"lr_steps = \[60\] has a step at or after the last epoch"),
    ({"tsn_rgb": {"lr_steps": [80]}}, r"at or after the last epoch \(70, recognition.tsn_rgb with "),
    ({"tsn_flow": {"lr_steps": [9, 5]}}, r"increasing epochs"),
    ({"tsn_rgb": [100]}, r"a mapping with epochs, lr_steps and/or weight_decay"),
    ({"tsn_rgb": {"weight_decay": -0.001}}, r"recognition_lr.retrained.tsn_rgb.weight_decay = -0.001"),
])
def test_the_lr_retrained_schedule_is_checked_against_the_recipe(params, value, needle):
    """recognition_lr.retrained overrides the HR recipe's schedule only, and the result must be a
    schedule the trainer can run (a step at or after the last epoch would silently never happen)."""
    with pytest.raises(ParamError, match=needle):
        validate(_with(params, "recognition_lr.retrained", value), ["recognition", "recognition_lr"])
    ok = validate(_with(params, "recognition_lr.retrained", {"tsn_flow": {"epochs": 40, "lr_steps": [30],
                                                                          "weight_decay": 0.005}}),
                  ["recognition", "recognition_lr"])
    assert ok["recognition_lr"]["retrained"] == {"tsn_flow": {"epochs": 40, "lr_steps": [30], "weight_decay": 0.005}}
    assert validate(_with(params, "recognition_lr.retrained", None), ["recognition_lr"])["recognition_lr"][
        "retrained"] == {}


@pytest.mark.parametrize("value, needle", [
    ({"below_x_chance": -1, "times": 2}, r"recognition_lr.retry.below_x_chance = -1"),
    ({"below_x_chance": 3, "times": -1}, r"recognition_lr.retry.times = -1"),
    ({"below_x_chance": 3, "times": 1.5}, r"recognition_lr.retry.times = 1.5"),
    ({"below_x_chance": 3}, r"missing key\(s\) recognition_lr.retry.times"),
    ({"below_x_chance": 3, "times": 2, "below": 0.2}, r"unknown key\(s\) recognition_lr.retry.below"),
])
def test_the_lr_retry_rule_is_checked(params, value, needle):
    with pytest.raises(ParamError, match=needle):
        validate(_with(params, "recognition_lr.retry", value), ["recognition_lr"])
    ok = validate(params, ["recognition_lr"])["recognition_lr"]["retry"]
    assert ok == {"below_x_chance": 3, "times": 2}


def test_the_one_recognizer_seed_of_older_params_files_is_named(params):
    old = copy.deepcopy(params)
    del old["recognition"]["seeds"]
    old["recognition"]["seed"] = 0
    with pytest.raises(ParamError, match=r"recognition.seed = 0 is now recognition.seeds, a list"):
        validate(old, ["recognition"])
    assert validate(params, ["recognition"])["recognition"]["seeds"] == [0, 1, 2]


def test_feature_streams_follow_the_methods(params):
    """Without rdsr the flow teacher is not needed (the paper profile trains the rgb one only)."""
    no_rdsr = _with(_with(params, "sr.methods", ["vdsr", "sosr"]), "recognition.feature_streams", ["rgb"])
    assert validate(no_rdsr, ["recognition", "sr"])["recognition"]["feature_streams"] == ["rgb"]


def test_finetuned_methods_take_their_base_sizes(params):
    bad = _with(params, "sr.sosr", {"arch_kwargs": {"num_feat": 8}})
    with pytest.raises(ParamError, match="sr.sosr.arch_kwargs: sosr starts from the trained rrdb_psnr"):
        validate(bad, ["sr"])


# ---------------------------------------------------------------------------------------------
# `python -m arsr.study.check`: the whole file before `dvc repro` (make study)


def test_check_validates_every_group_before_the_run(tmp_path, capsys):
    from arsr.study.check import main

    tiny = Path(__file__).resolve().parents[1] / "profiles" / "tiny.yaml"
    assert main([str(tiny)]) == 0
    text = tiny.read_text()
    # a late group's wrong value stops the run at once, naming key, value and what is allowed
    bad = tmp_path / "bad.yaml"
    bad.write_text(text.replace("num_frames: 2", "num_frames: 0"))
    assert bad.read_text() != text
    assert main([str(bad)]) == 2
    err = capsys.readouterr().err
    assert "evaluate.num_frames = 0" in err and "integer >= 1" in err
    # a misspelt group would be ignored by every stage: refused here
    typo = tmp_path / "typo.yaml"
    typo.write_text(text + "\nevalute: {num_frames: 3}\n")
    assert main([str(typo)]) == 2
    assert "unknown group(s) evalute" in capsys.readouterr().err


def test_check_imports_no_torch():
    import subprocess
    import sys

    code = "import sys, arsr.study.check; sys.exit('torch' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code]).returncode == 0


def test_the_tiny_profile_runs_every_method_of_params_yaml():
    """The end-to-end test runs profiles/tiny.yaml: a method added to params.yaml's sr lists must be
    in the tiny profile's too (docs/adding-a-method.md, step 3), or nothing tests it end to end."""
    import yaml

    root = Path(__file__).resolve().parents[1]
    study = yaml.safe_load((root / "params.yaml").read_text())["sr"]
    tiny = yaml.safe_load((root / "profiles" / "tiny.yaml").read_text())["sr"]
    for key in ("methods", "train"):
        missing = [m for m in study[key] if m not in tiny[key]]
        assert not missing, f"profiles/tiny.yaml: sr.{key} lacks {missing}, which params.yaml's sr.{key} lists"
    missing = {m: b for m, b in study["finetune"].items() if tiny["finetune"].get(m) != b}
    assert not missing, f"profiles/tiny.yaml: sr.finetune lacks {missing}, which params.yaml's lists"
