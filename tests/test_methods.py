"""arsr.methods: the one registry of the study's methods; the modules that know methods agree with it."""
from __future__ import annotations

from arsr import methods
from arsr.study import paper
from arsr.train.presets import BASES, PRESETS


def test_registry_is_the_papers_table_2():
    # the poster's Table 2 rows, top to bottom (../shared/paper/poster.txt)
    assert [m.label for m in methods.METHODS] == ["Bicubic", "VDSR", "RCAN", "SRGAN", "ESRGAN", "SoSR", "SPMC",
                                                  "VSR-DUF-16", "VSR-DUF-52", "ToSR", "SoSR+ToSR", "HR"]
    assert set(methods.SR_METHODS) == {m.name for m in methods.METHODS if m.kind in ("image", "video")}
    assert methods.IMAGE_SR == ("vdsr", "rcan", "srgan", "esrgan")
    assert methods.VIDEO_SR == ("spmc", "duf16", "duf52")
    assert methods.REFERENCE == ("bicubic", "hr") and methods.COMBINED == "sosr+tosr"


def test_presets_and_paper_numbers_cover_the_registry():
    # a training recipe for every trainable name, and nothing else
    assert set(PRESETS) == set(methods.SR_TRAINABLE)
    assert all(base in methods.SR_TRAINABLE for base, _ in BASES.values())
    # the paper's numbers: one row per registry row, in its order
    assert list(dict.fromkeys(paper.accuracy()["method"])) == list(methods.ORDER)
    assert paper.METHOD_LABELS == methods.LABELS
