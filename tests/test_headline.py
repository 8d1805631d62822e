"""DVC's own view of the study: `dvc metrics show` reads one small file per method (the report's
headline, arsr.study.headline) and nothing else; the stages' metrics JSON are plain outputs."""
from __future__ import annotations

import json
from pathlib import Path

import yaml

from arsr.study import layout
from arsr.study.headline import HEADLINE_COLUMNS, headline_rows, write_headline
from arsr.study.report import write_study_metrics

ROOT = Path(__file__).resolve().parents[1]

STUDY = {"methods": {
    "bicubic": {"psnr": 24.123456, "tsn_top1": {"spatial": 40.0, "temporal": 35.0, "fusion": 45.6789},
                "training_seconds": None},
    "vdsr": {"psnr": 26.5, "tsn_top1": {"fusion": 50.0}, "training_seconds": 123.456},
    "hr": {"psnr": None, "tsn_top1": {"fusion": 80.0}},
    "sosr+tosr": {"psnr": None, "tsn_top1": {"spatial": None, "temporal": None, "fusion": 70.125}},
}, "claims": [{"name": "sr_beats_bicubic", "difference": 5.0}], "total_seconds": 9.0}


def test_one_small_row_per_method_without_missing_values():
    rows = headline_rows(STUDY)
    assert list(rows) == ["bicubic", "vdsr", "hr", "sosr+tosr"]  # study.json's order: the table's
    assert rows["bicubic"] == {"tsn_fusion_top1": 45.68, "psnr": 24.12}
    assert rows["vdsr"] == {"tsn_fusion_top1": 50.0, "psnr": 26.5, "train_seconds": 123.5}
    assert rows["hr"] == {"tsn_fusion_top1": 80.0} and rows["sosr+tosr"] == {"tsn_fusion_top1": 70.12}
    assert all(set(r) <= set(HEADLINE_COLUMNS) for r in rows.values())
    assert headline_rows({}) == {}


def test_the_report_writes_the_headline_beside_study_json(tmp_path):
    folder = tmp_path / layout.HEADLINE_METRICS
    folder.mkdir(parents=True)
    (folder / "dropped_method.json").write_text("{}")  # a method no longer studied
    path = write_study_metrics(tmp_path / layout.STUDY_METRICS, STUDY)
    assert json.loads(path.read_text())["claims"] == STUDY["claims"]  # study.json keeps everything
    assert sorted(p.name for p in folder.iterdir()) == ["bicubic.json", "hr.json", "sosr_tosr.json", "vdsr.json"]
    assert json.loads((folder / "sosr_tosr.json").read_text()) == {"tsn_fusion_top1": 70.12}
    write_headline(folder, {"methods": {}})  # replaced whole, no temporary folder left
    assert list(folder.iterdir()) == []
    assert sorted(p.name for p in folder.parent.iterdir()) == ["headline", "study.json"]


def test_dvc_metrics_are_the_headline_files_only():
    stages = yaml.safe_load((ROOT / "dvc.yaml").read_text())["stages"]
    declared = {name: [next(iter(m)) for m in stage.get("do", stage).get("metrics", [])]
                for name, stage in stages.items()}
    assert {k: v for k, v in declared.items() if v} == {"report": ["reports/" + layout.HEADLINE_METRICS]}
    outs = {next(iter(o)): o[next(iter(o))] for stage in stages.values() for o in stage.get("do", stage)["outs"]
            if isinstance(o, dict)}
    metrics_outs = {path: spec for path, spec in outs.items() if path.startswith("reports/metrics/")}
    # the stages' metrics JSON stay outputs, as they were: not in DVC's cache, visible to git
    assert "reports/" + layout.STUDY_METRICS in metrics_outs and "reports/" + layout.PREPARE_METRICS in metrics_outs
    assert len(metrics_outs) >= 14 and all(spec == {"cache": False} for spec in metrics_outs.values())
