"""The study's methods, in one place: each row of the paper's Table 2 with its label, kind and
training recipe, the rows the study adds beyond the paper, and the models trained only to start
others from. Adding an SR method is a row here (plus its architecture and its params.yaml block:
docs/adding-a-method.md).

No torch: params validation, the training presets (``arsr.train.presets``, which resolve the
recipes), the evaluation, the report and the paper's numbers (``arsr.study.paper``) all read it.
Kinds: ``reference`` (bicubic, HR: no training), ``image`` (single-image SR, frame by frame),
``video`` (several LR frames per output frame), ``combined`` (SoSR frames for the spatial stream,
ToSR's for the temporal one). Order = the paper's row order, with the rows beyond the paper
(``paper=False``: no published numbers, no part in the paper's claims) before HR.
"""
from __future__ import annotations

from dataclasses import dataclass

from .train import recipes
from .train.recipes import Phase

__all__ = ["Method", "METHODS", "BASE_MODELS", "ORDER", "PAPER_ORDER", "LABELS", "SR_METHODS", "PAPER_SR_METHODS",
           "BEYOND_PAPER", "IMAGE_SR", "VIDEO_SR", "FIDELITY_SR", "SR_BASE_MODELS", "SR_TRAINABLE", "REFERENCE",
           "COMBINED"]


@dataclass(frozen=True)
class Method:
    name: str    # key in params.yaml, file names and tables
    label: str   # the paper's row name
    kind: str    # reference | image | video | combined (| base: BASE_MODELS)
    paper: bool = True  # a row of the paper's Table 2 (False: beyond the paper, no published numbers)
    fidelity: bool = False  # trained for pixel fidelity only (pixel / warp losses): expected above bicubic PSNR
    recipe: tuple[Phase, ...] = ()  # its training phases (arsr.train.recipes); () = nothing to train
    base: tuple[str, str] | None = None  # (the trained model it starts from, the phase that model replaces)


METHODS: tuple[Method, ...] = (
    Method("bicubic", "Bicubic", "reference"),
    Method("vdsr", "VDSR", "image", fidelity=True, recipe=recipes.VDSR),
    Method("rcan", "RCAN", "image", fidelity=True, recipe=recipes.RCAN),
    Method("srgan", "SRGAN", "image", recipe=recipes.SRGAN),
    Method("esrgan", "ESRGAN", "image", recipe=recipes.ESRGAN, base=("rrdb_psnr", "psnr")),
    Method("sosr", "SoSR", "image", recipe=recipes.SOSR, base=("rrdb_psnr", "psnr")),
    Method("spmc", "SPMC", "video", fidelity=True, recipe=recipes.SPMC),
    Method("duf16", "VSR-DUF-16", "video", fidelity=True, recipe=recipes.DUF16),
    Method("duf52", "VSR-DUF-52", "video", fidelity=True, recipe=recipes.DUF52),
    Method("tosr", "ToSR", "video", fidelity=True, recipe=recipes.TOSR, base=("duf16", "duf")),
    Method("sosr+tosr", "SoSR+ToSR", "combined"),
    # recognition-driven SR: RRDBNet trained through frozen TSN streams; one network for both streams
    Method("rdsr", "RDSR (beyond the paper)", "image", paper=False, recipe=recipes.RDSR, base=("rrdb_psnr", "psnr")),
    Method("hr", "HR", "reference"),
)

#: Models trained only to start other methods from, as the papers do (ESRGAN, SoSR and RDSR start
#: from one PSNR-oriented RRDBNet): no row of any table.
BASE_MODELS: tuple[Method, ...] = (
    Method("rrdb_psnr", "RRDBNet-PSNR (ESRGAN's, SoSR's and RDSR's first phase)", "base", recipe=recipes.RRDB_PSNR),
)

#: Every row, in the paper's order (the rows beyond the paper before HR).
ORDER: tuple[str, ...] = tuple(m.name for m in METHODS)
#: The rows of the paper's Table 2, in its order.
PAPER_ORDER: tuple[str, ...] = tuple(m.name for m in METHODS if m.paper)
#: The SR rows beyond the paper: trained and scored like the others, never in the paper's comparisons.
BEYOND_PAPER: tuple[str, ...] = tuple(m.name for m in METHODS if not m.paper)
LABELS: dict[str, str] = {m.name: m.label for m in METHODS}
#: The rows without SR (no training, no seed).
REFERENCE: tuple[str, ...] = tuple(m.name for m in METHODS if m.kind == "reference")
#: The combined row (two SR methods, one per stream).
COMBINED: str = next(m.name for m in METHODS if m.kind == "combined")
#: The SR methods proposed by the paper (SoSR, ToSR) are compared with the other methods of their
#: kind in its Table 2 (the rows beyond the paper take no part).
IMAGE_SR: tuple[str, ...] = tuple(m.name for m in METHODS if m.paper and m.kind == "image" and m.name != "sosr")
VIDEO_SR: tuple[str, ...] = tuple(m.name for m in METHODS if m.paper and m.kind == "video" and m.name != "tosr")
#: The nine SR methods of the paper's Table 2, in its order.
PAPER_SR_METHODS: tuple[str, ...] = tuple(m.name for m in METHODS if m.paper and m.kind in ("image", "video"))
#: Every SR method the study can train and score (what ``sr.methods`` may list): the paper's nine,
#: then those beyond the paper.
SR_METHODS: tuple[str, ...] = PAPER_SR_METHODS + BEYOND_PAPER
#: The SR rows trained for pixel fidelity only (no feature, adversarial or task loss): each should
#: be above bicubic PSNR in every SR seed, else the report calls it bicubic-equivalent.
FIDELITY_SR: tuple[str, ...] = tuple(m.name for m in METHODS if m.fidelity)
#: Models trained only to start other methods from (the shared PSNR-oriented RRDBNet of ESRGAN/SoSR).
SR_BASE_MODELS: tuple[str, ...] = tuple(m.name for m in BASE_MODELS)
#: Every SR training the study knows: its methods (the paper's and beyond) and the shared starting models.
SR_TRAINABLE: tuple[str, ...] = SR_METHODS + SR_BASE_MODELS
