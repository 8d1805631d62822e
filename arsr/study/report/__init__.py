"""The study's report (``notebooks/60_report.ipynb`` -> ``reports/study.html``): every stage's
results loaded, the paper's tables recomputed from them, its claims decided, the figures and the
headline metrics. Everything here is a plain function of files the earlier stages wrote (see
``dvc.yaml``).

Its modules, in the report's order:

* :mod:`~arsr.study.report.inputs` -- the stages' files, read and checked (:func:`load_study`);
  a missing one raises :class:`MissingInputError` naming the file and the stage that writes it;
* :mod:`~arsr.study.report.names` -- row and column labels, the accuracy table's rows in order;
* :mod:`~arsr.study.report.tables` -- the paper's tables for our results (accuracy, ablations,
  PSNR/SSIM), cells "mean ± std" over seeds, and a table as HTML;
* :mod:`~arsr.study.report.scores` -- per-video correctness as the bootstrap's arrays, and the
  digits their spread allows;
* :mod:`~arsr.study.report.claims` -- the paper's claims, decided by paired bootstrap intervals;
* :mod:`~arsr.study.report.verdicts` -- the claims as the report shows them: table and prose;
* :mod:`~arsr.study.report.recipe` -- where this run departs from the paper's recipe;
* :mod:`~arsr.study.report.costs` -- beyond the paper: SR against the TSN retrained on LR video;
* :mod:`~arsr.study.report.psnr_accuracy` -- does PSNR predict recognition accuracy?
* :mod:`~arsr.study.report.figures` -- frames, the WMSE weight map, optical flow of each method;
* :mod:`~arsr.study.report.training_curves` -- training losses and whether they flattened;
* :mod:`~arsr.study.report.provenance` -- the opening line and the stages' provenance;
* :mod:`~arsr.study.report.study_metrics` -- the headline numbers of ``reports/metrics/study.json``.

The names below are re-exported here (``from arsr.study import report``; ``report.claims_table``),
so a caller need not know which module holds a function.
"""
from __future__ import annotations

from ...methods import COMBINED, IMAGE_SR, VIDEO_SR
from ..variants import STREAM as ABLATION_STREAM
from .claims import ABLATION_CLAIMS, AA_CLAIM, CLAIM_COLUMNS, HR_CEILING_CLAIM, RHO_MARGIN, claims_table
from .costs import cost_prose, cost_table, retry_prose, training_costs
from .figures import flow_comparison_figure, visual_comparison_figure, wmse_weight_figure
from .inputs import (ABLATION_RECOGNIZER, RENAMED_COLUMNS, MissingInputError, StudyResults, ablation_sources,
                     flow_method_of, load_study, metrics_files, read_ablation, read_ablation_per_video,
                     read_aa_control, read_curves, read_eval, read_lr_baselines, read_metrics, read_per_video,
                     read_samples, trained_methods)
from .names import DASH, RECOGNIZER_LABELS, ROW_LABELS, ROW_ORDER, STREAM_LABELS, eval_methods
from .provenance import dataset_summary, provenance_summary, stage_seconds
from .psnr_accuracy import (psnr_accuracy_figure, psnr_vs_accuracy, spearman, spearman_by_stream,
                            write_psnr_vs_accuracy)
from .recipe import PAPER_PROTOCOL, evaluation_settings, fusion_rule, recipe_deviations
from .scores import accuracy_digits, aligned_scores, correctness_table
from .study_metrics import headline, method_summary, write_study_metrics
from .tables import (BICUBIC_MARGIN_DB, CELLS, NOTE_BEYOND, NOTE_COMBINED, NOTE_LR_NOT_IN_PAPER, NOTE_LR_TSN_ONLY,
                     NOTE_NOT_REPORTED, OURS, ablation_table, accuracy_table, bicubic_margins, colour_shifts,
                     format_mean_std, quality_table, seed_summary, table_html)
from .training_curves import (recognizer_training_figure, sr_training_figure, training_trends, trends_display,
                              trends_prose)
from .verdicts import VERDICT_LABELS, claims_display, claims_prose

__all__ = [
    "MissingInputError", "ABLATION_STREAM", "COMBINED",
    "StudyResults", "load_study", "read_eval", "read_ablation", "read_metrics", "read_curves",
    "read_samples", "flow_method_of", "eval_methods",
    "seed_summary", "format_mean_std", "accuracy_table", "ablation_table", "quality_table", "colour_shifts",
    "table_html", "psnr_vs_accuracy", "spearman", "spearman_by_stream", "write_psnr_vs_accuracy",
    "psnr_accuracy_figure", "visual_comparison_figure", "wmse_weight_figure", "flow_comparison_figure",
    "sr_training_figure", "recognizer_training_figure", "trends_display", "stage_seconds", "provenance_summary",
    "headline", "write_study_metrics", "read_per_video",
    "ablation_sources", "read_ablation_per_video", "read_aa_control", "trained_methods", "IMAGE_SR", "VIDEO_SR",
    "ABLATION_CLAIMS", "RHO_MARGIN", "CLAIM_COLUMNS", "correctness_table", "aligned_scores", "claims_table",
    "claims_display", "claims_prose", "dataset_summary", "accuracy_digits", "PAPER_PROTOCOL", "evaluation_settings",
    "recipe_deviations", "method_summary", "ROW_ORDER", "ROW_LABELS", "read_lr_baselines", "training_costs",
    "cost_table", "cost_prose", "retry_prose", "fusion_rule", "bicubic_margins", "BICUBIC_MARGIN_DB",
]
