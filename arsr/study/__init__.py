"""The study's stages as library calls: each stage notebook (``notebooks/*.ipynb``) reads its
parameters, calls one of these modules and shows what comes back.

* :mod:`arsr.study.recognizers` -- stage ``train_recognizers`` (TSN streams, ST-ResNet, per seed)
* :mod:`arsr.study.sr` -- stage ``train_sr`` (one SR method per seed; the recognizer feature loss)
* :mod:`arsr.study.evaluation` -- stages ``evaluate*`` (recognition accuracy of SR video)
* :mod:`arsr.study.ablations` -- stages ``ablate_sosr`` / ``ablate_tosr`` (poster Tables 3 and 4)
* :mod:`arsr.study.report` (a package, a module per part of the report) / :mod:`arsr.study.paper` -- the
  report stage

Modules are imported on demand (``from arsr.study.sr import ...``): importing this package loads
nothing heavy.
"""
