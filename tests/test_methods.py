"""arsr.methods: the one registry of the study's methods; the modules that know methods agree with it."""
from __future__ import annotations

from arsr import methods
from arsr.study import paper
from arsr.train.presets import BASES, BEYOND_PAPER, PRESETS, RECIPES


def test_registry_is_the_papers_table_2():
    # the poster's Table 2 rows, top to bottom (../shared/paper/poster.txt)
    assert [methods.LABELS[m] for m in methods.PAPER_ORDER] == [
        "Bicubic", "VDSR", "RCAN", "SRGAN", "ESRGAN", "SoSR", "SPMC", "VSR-DUF-16", "VSR-DUF-52", "ToSR", "SoSR+ToSR",
        "HR"]
    assert set(methods.PAPER_SR_METHODS) == {m.name for m in methods.METHODS
                                             if m.paper and m.kind in ("image", "video")}
    assert set(methods.SR_METHODS) == {m.name for m in methods.METHODS if m.kind in ("image", "video")}
    # the paper's comparisons of SoSR and ToSR with the other methods of their kind: its rows only
    assert methods.IMAGE_SR == ("vdsr", "rcan", "srgan", "esrgan")
    assert methods.VIDEO_SR == ("spmc", "duf16", "duf52")
    assert methods.REFERENCE == ("bicubic", "hr") and methods.COMBINED == "sosr+tosr"


def test_rows_beyond_the_paper_are_labelled_so_and_sit_before_hr():
    assert methods.BEYOND_PAPER == ("rdsr",)
    assert methods.LABELS["rdsr"] == "RDSR (beyond the paper)"
    assert methods.ORDER[-2:] == ("rdsr", "hr") and "rdsr" not in methods.PAPER_ORDER
    assert "rdsr" in methods.SR_METHODS and "rdsr" not in methods.PAPER_SR_METHODS
    assert "rdsr" not in paper.METHOD_ORDER and "rdsr" not in set(paper.accuracy()["method"])


def test_presets_and_paper_numbers_cover_the_registry():
    # a training recipe for every trainable name, and nothing else; the paper's in PRESETS
    assert set(RECIPES) == set(methods.SR_TRAINABLE)
    assert set(BEYOND_PAPER) == set(methods.BEYOND_PAPER) and not set(PRESETS) & set(methods.BEYOND_PAPER)
    assert all(base in methods.SR_TRAINABLE for base, _ in BASES.values())
    # the paper's numbers: one row per registry row of the paper, in its order
    assert list(dict.fromkeys(paper.accuracy()["method"])) == list(methods.PAPER_ORDER)
    assert paper.METHOD_LABELS == {m: methods.LABELS[m] for m in methods.PAPER_ORDER}


def test_each_row_carries_its_recipe_and_base():
    """The registry's rows are where a method's recipe and base live: presets resolves those."""
    from arsr.train import recipes

    rows = {m.name: m for m in (*methods.METHODS, *methods.BASE_MODELS)}
    assert rows["sosr"].recipe == recipes.SOSR and rows["sosr"].base == ("rrdb_psnr", "psnr")
    assert rows["tosr"].base == ("duf16", "duf") and rows["rrdb_psnr"].kind == "base"
    assert not rows["bicubic"].recipe and not rows["hr"].recipe and not rows["sosr+tosr"].recipe
    assert {m: [p.name for p in r] for m, r in RECIPES.items()} == {
        n: [p.name for p in rows[n].recipe] for n in methods.SR_TRAINABLE}
    assert BASES == {n: r.base for n, r in rows.items() if r.base}
    # every recipe's architecture is one the trainer knows, and one of arsr.archs
    from arsr.archs import ARCHS
    from arsr.train.config import TRAINABLE_ARCHS

    assert {p.config["arch"] for r in RECIPES.values() for p in r} == set(TRAINABLE_ARCHS) <= set(ARCHS)
