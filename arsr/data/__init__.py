"""Data: video files, dataset listings, the synthetic dataset, and the prepared-frame store.

- :mod:`arsr.data.video`: ``read_video`` / ``write_video`` / ``probe_video`` ((T, H, W, 3) uint8 RGB).
- :mod:`arsr.data.datasets`: ``list_ucf101``, ``list_hmdb51``, ``list_folder`` -> ``VideoList``
  of ``VideoRecord`` (official split files, labels, missing-file handling).
- :mod:`arsr.data.synthetic`: the embedded default dataset (``SyntheticConfig``, ``generate``).
- :mod:`arsr.data.prepare`, :mod:`arsr.data.store`: frames, LR and flow under ``data/interim``.

Submodules are imported on use, so that ``arsr.data.store`` does not pull in OpenCV.
"""
