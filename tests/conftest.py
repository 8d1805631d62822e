"""Shared fixtures. Reference data lives outside the repository, in ../shared/refdata."""
from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parents[1]
REFDATA = Path(os.environ.get("ARSR_REFDATA", ROOT.parent / "shared" / "refdata"))

torch.set_num_threads(min(2, torch.get_num_threads()))


@pytest.fixture(scope="session")
def refdata() -> Path:
    """The folder of public reference files; tests that need it skip where it is absent."""
    if not (REFDATA / "README.md").is_file():
        pytest.skip(
            f"reference data not found at {REFDATA} (it sits in ../shared/refdata beside the "
            "repository on the project's machines and CI; set ARSR_REFDATA to point elsewhere)"
        )
    return REFDATA
