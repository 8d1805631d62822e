"""``python -m arsr``: the ``arsr`` command line (:mod:`arsr.cli`)."""
import sys

from .cli import main

sys.exit(main())
