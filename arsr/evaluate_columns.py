"""The columns of ``arsr.evaluate``'s result tables, defined once and without torch, so that the
study's file layout (``arsr.study.layout``) builds its own from them without loading the evaluator.
"""
from __future__ import annotations

__all__ = ["TABLE_COLUMNS", "PER_CLASS_COLUMNS", "PREDICTION_COLUMNS"]

#: ``EvaluationResult.table``: one row per (method, recognizer, stream).
TABLE_COLUMNS = ["method", "recognizer", "stream", "top1", "top5", "n_videos", "psnr", "ssim"]
#: ``EvaluationResult.per_class``: one row per (method, recognizer, stream, class).
PER_CLASS_COLUMNS = ["method", "recognizer", "stream", "label", "class_name", "n_videos", "top1"]
#: ``EvaluationResult.predictions``: one row per (method, recognizer, stream, video).
PREDICTION_COLUMNS = ["method", "recognizer", "stream", "video_id", "label", "prediction"]
