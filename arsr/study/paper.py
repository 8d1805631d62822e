"""The paper's published numbers, kept as labelled reference data for the study's report.

Source: H. Zhang, D. Liu, Z. Xiong, "Two-Stream Action Recognition-Oriented Video
Super-Resolution", ICCV 2019, transcribed by hand from the authors' poster (the text of its tables):

* :func:`accuracy` — poster "Table2" = the paper's Table 4: top-1 recognition accuracy (%) of x4
  super-resolved test videos of UCF101 and HMDB51 (split 1) under TSN and ST-ResNet, for the
  spatial (RGB) stream, the temporal (optical-flow) stream and their fusion. The paper's "/"
  (SoSR+ToSR has no single-stream numbers: it *is* a fusion of SoSR's spatial stream and ToSR's
  temporal stream) is NaN here.
* :func:`sosr_ablation` — poster "Table3" = the paper's Table 2: SoSR structure x loss ablation,
  TSN spatial stream, HMDB51.
* :func:`tosr_ablation` — poster "Table4" = the paper's Table 3: ToSR structure x warp-loss
  ablation, TSN temporal stream, HMDB51.
* :func:`quality` — poster "Table5" (from the supplementary material): PSNR / SSIM of the Y
  channel on UCF101 and HMDB51, for five of the methods only.

Our method keys and the paper's row names (:data:`METHOD_LABELS`)::

    bicubic   -> Bicubic          spmc      -> SPMC
    vdsr      -> VDSR             duf16     -> VSR-DUF-16
    rcan      -> RCAN             duf52     -> VSR-DUF-52
    srgan     -> SRGAN            tosr      -> ToSR
    esrgan    -> ESRGAN           sosr+tosr -> SoSR+ToSR
    sosr      -> SoSR             hr        -> HR

Ablation variants are keyed by the names of ``params.yaml``'s ``ablation`` group (e.g.
``esrgan_wmse_feat_adv`` = ESRGAN structure, WMSE, feature and adversarial losses = SoSR).

These numbers are never results of this study: the report shows them only in columns labelled
"paper (UCF101, split 1, x4)" / "paper (HMDB51, split 1, x4)".
"""
from __future__ import annotations

import math

import pandas as pd

from ..methods import LABELS, PAPER_ORDER
from ..params_file import ParamError
from ..recognition.config import RECOGNIZER_TYPES, STREAMS  # noqa: F401 (STREAMS re-exported: the report reads paper.STREAMS)

__all__ = ["METHOD_ORDER", "METHOD_LABELS", "DATASETS", "DATASET_LABELS", "PAPER_DATA", "paper_caveat", "RECOGNIZERS",
           "STREAMS",
           "accuracy", "accuracy_wide", "sosr_ablation", "tosr_ablation", "quality", "reference_dataset"]

#: Rows of the poster's Table 2 (the paper's Table 4), in its order, by our method keys (the registry's
#: rows of the paper, ``arsr.methods.PAPER_ORDER``: the study's rows beyond the paper have no numbers here).
METHOD_ORDER = PAPER_ORDER
METHOD_LABELS = {m: LABELS[m] for m in PAPER_ORDER}
DATASETS = ("hmdb51", "ucf101")
DATASET_LABELS = {"hmdb51": "HMDB51", "ucf101": "UCF101"}
#: What the paper's numbers were measured on: split 1 of each dataset, x4 bicubic LR (classes and
#: test videos of split 1: the official lists, ../shared/refdata/splits).
PAPER_DATA = {"ucf101": {"classes": 101, "split": 1, "test_videos": 3783, "scale": 4},
              "hmdb51": {"classes": 51, "split": 1, "test_videos": 1530, "scale": 4}}
RECOGNIZERS = RECOGNIZER_TYPES

_ = math.nan  # the paper's "/"

# Poster Table2 (paper Table 4), top-1 %. Columns: HMDB51 TSN (spatial, temporal, fusion),
# HMDB51 ST-ResNet (s, t, f), UCF101 TSN (s, t, f), UCF101 ST-ResNet (s, t, f).
_TABLE4 = {
    "bicubic":   (42.81, 56.54, 63.53, 43.59, 53.76, 59.48, 71.25, 81.08, 87.87, 72.01, 78.28, 84.62),
    "vdsr":      (46.60, 55.10, 63.59, 49.18, 54.44, 60.20, 67.09, 79.81, 86.84, 72.27, 79.43, 84.48),
    "rcan":      (48.76, 56.80, 66.21, 51.76, 55.72, 62.61, 67.18, 82.12, 88.00, 72.23, 80.52, 85.01),
    "srgan":     (48.82, 49.87, 63.01, 51.41, 47.22, 60.85, 81.33, 75.45, 87.55, 83.31, 70.16, 86.97),
    "esrgan":    (52.48, 51.50, 63.40, 53.79, 49.72, 61.83, 82.97, 75.32, 87.75, 83.81, 70.64, 86.62),
    "sosr":      (53.59, 50.26, 64.51, 54.77, 48.27, 63.01, 83.11, 74.10, 86.63, 83.92, 69.68, 85.77),
    "spmc":      (48.95, 56.41, 64.31, 53.14, 53.53, 63.66, 70.42, 80.19, 87.15, 74.45, 77.44, 84.09),
    "duf16":     (48.37, 59.48, 66.08, 50.62, 55.07, 61.11, 68.56, 84.89, 89.36, 72.11, 80.06, 83.90),
    "duf52":     (48.50, 60.52, 66.86, 52.84, 57.61, 65.23, 70.54, 85.09, 89.85, 74.49, 80.16, 84.88),
    "tosr":      (47.45, 61.50, 66.08, 51.54, 58.92, 64.77, 64.79, 85.29, 88.46, 70.88, 81.07, 83.82),
    "sosr+tosr": (_, _, 68.30, _, _, 67.32, _, _, 92.13, _, _, 90.19),
    "hr":        (54.58, 62.16, 69.28, 56.01, 59.41, 68.10, 86.02, 87.63, 93.49, 88.01, 85.71, 92.94),
}

# Poster Table3 (paper Table 2): SoSR ablation, TSN spatial stream top-1 % on HMDB51.
_SOSR_ABLATION = [
    # variant,               structure, pixel,  feature, adversarial, top1
    ("vdsr_mse",             "vdsr",   "mse",  False, False, 46.60),
    ("vdsr_wmse",            "vdsr",   "wmse", False, False, 47.91),
    ("vdsr_wmse_feat",       "vdsr",   "wmse", True,  False, 50.39),
    ("esrgan_wmse_feat",     "esrgan", "wmse", True,  False, 52.55),
    ("esrgan_mse_feat_adv",  "esrgan", "mse",  True,  True,  52.48),
    ("esrgan_wmse_feat_adv", "esrgan", "wmse", True,  True,  53.59),
]

# Poster Table4 (paper Table 3): ToSR ablation, TSN temporal stream top-1 % on HMDB51.
_TOSR_ABLATION = [
    # variant,     structure, warp,  top1
    ("vdsr",       "vdsr",    False, 55.10),
    ("vdsr_warp",  "vdsr",    True,  58.76),
    ("duf16",      "duf16",   False, 59.48),
    ("duf16_warp", "duf16",   True,  61.50),
]

# Poster Table5 (supplementary): PSNR (dB) / SSIM of the Y channel.
_QUALITY = {
    #            UCF101 psnr, ssim   HMDB51 psnr, ssim
    "rcan":     (30.9208, 0.6983, 33.0629, 0.6826),
    "esrgan":   (29.5580, 0.5959, 31.2243, 0.5711),
    "sosr":     (28.7279, 0.5493, 29.6327, 0.5464),
    "duf52":    (31.9657, 0.7297, 33.7269, 0.7067),
    "tosr":     (30.8365, 0.6935, 32.8421, 0.6718),
}


def accuracy() -> pd.DataFrame:
    """Poster Table 2 (the paper's Table 4), tidy: columns method, dataset, recognizer, stream, top1 (%; NaN = "/")."""
    rows = []
    for method, values in _TABLE4.items():
        it = iter(values)
        for dataset in DATASETS:
            for recognizer in RECOGNIZERS:
                for stream in STREAMS:
                    rows.append({"method": method, "dataset": dataset, "recognizer": recognizer,
                                 "stream": stream, "top1": next(it)})
    return pd.DataFrame(rows)


def accuracy_wide(dataset: str) -> pd.DataFrame:
    """Poster Table 2 (the paper's Table 4) for one dataset: index = method keys (paper order), columns =
    (recognizer, stream)."""
    _check_dataset(dataset)
    tidy = accuracy()
    tidy = tidy[tidy["dataset"] == dataset]
    wide = tidy.pivot(index="method", columns=["recognizer", "stream"], values="top1")
    cols = pd.MultiIndex.from_product([RECOGNIZERS, STREAMS], names=["recognizer", "stream"])
    return wide.reindex(index=list(METHOD_ORDER), columns=cols)


def sosr_ablation() -> pd.DataFrame:
    """Poster Table 3 (the paper's Table 2; TSN spatial, HMDB51): variant, structure, pixel, feature,
    adversarial, top1."""
    return pd.DataFrame(_SOSR_ABLATION,
                        columns=["variant", "structure", "pixel", "feature", "adversarial", "top1"])


def tosr_ablation() -> pd.DataFrame:
    """Poster Table 4 (the paper's Table 3; TSN temporal, HMDB51): variant, structure, warp, top1."""
    return pd.DataFrame(_TOSR_ABLATION, columns=["variant", "structure", "warp", "top1"])


def quality() -> pd.DataFrame:
    """Poster Table 5: method, dataset, psnr (dB), ssim (Y channel); five methods only."""
    rows = []
    for method, (u_psnr, u_ssim, h_psnr, h_ssim) in _QUALITY.items():
        rows.append({"method": method, "dataset": "ucf101", "psnr": u_psnr, "ssim": u_ssim})
        rows.append({"method": method, "dataset": "hmdb51", "psnr": h_psnr, "ssim": h_ssim})
    return pd.DataFrame(rows)


def reference_dataset(paper_reference: str, dataset: str) -> str | None:
    """Which of the paper's datasets to show beside our numbers, or None for none.

    ``paper_reference``: "off" -> None; "auto" -> ``dataset`` when it is one of the paper's
    (ucf101 / hmdb51), else None; "on" -> ``dataset`` when it is one of the paper's, else
    "ucf101" (the paper's headline dataset), e.g. to set synthetic results beside it.
    """
    if paper_reference not in ("auto", "on", "off"):
        raise ParamError(f"report.paper_reference = {paper_reference!r}: use auto, on or off")
    if paper_reference == "off":
        return None
    if dataset in DATASETS:
        return dataset
    return "ucf101" if paper_reference == "on" else None


def paper_caveat(reference: str | None, dataset: str, classes: int, test_videos: int, split: int | None) -> str:
    """The line a report prints beside the paper's columns when this run's data differ from what
    they were measured on (another dataset, e.g. synthetic; another class count; a subset of the
    test split; another split); "" when no paper column is shown or the data are the same."""
    if reference is None:
        return ""
    ref = PAPER_DATA[reference]
    differs = []
    if dataset != reference:
        differs.append(f"the {dataset} dataset, not {DATASET_LABELS[reference]}")
    if classes != ref["classes"]:
        differs.append(f"{classes} classes, not {ref['classes']}")
    if test_videos != ref["test_videos"]:
        differs.append(f"{test_videos} test videos, not {ref['test_videos']}")
    if dataset == reference and split is not None and int(split) != ref["split"]:
        differs.append(f"split {split}, not {ref['split']}")
    if not differs:
        return ""
    return (f"The paper's columns are its numbers on {DATASET_LABELS[reference]} (split {ref['split']}, "
            f"{ref['classes']} classes, {ref['test_videos']} test videos, x{ref['scale']} bicubic); this run "
            f"differs ({'; '.join(differs)}), so compare the methods' ordering with the paper's, not the values.")


def _check_dataset(dataset: str) -> None:
    if dataset not in DATASETS:
        raise ValueError(f"the paper reports {', '.join(DATASETS)}, not {dataset!r}")
