"""Shared fixtures. Reference data lives outside the repository, in ../shared/refdata."""
from __future__ import annotations

import copy
import functools
import os
import signal
import subprocess
from pathlib import Path

import pytest
import torch
import yaml

ROOT = Path(__file__).resolve().parents[1]
#: Where the reference data are: ``ARSR_REFDATA`` when set (then it must be there), else ../shared/refdata.
REFDATA_SET = os.environ.get("ARSR_REFDATA") or None
REFDATA = Path(REFDATA_SET) if REFDATA_SET else ROOT.parent / "shared" / "refdata"

torch.set_num_threads(min(2, torch.get_num_threads()))

# A shell that starts a command in the background without job control (`make test &` in a script,
# `nohup ... &`) hands it Ctrl-C ignored, and Python then installs no KeyboardInterrupt handler: the
# tests that press Ctrl-C would wait for an interrupt that never comes (seen: test_interrupt hung).
# Python's own handler, as in a terminal; spawned processes inherit the default, not the ignore.
if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)


@pytest.fixture(scope="session")
def refdata() -> Path:
    """The folder of public reference files; tests that need it skip where it is absent, and fail
    where ``ARSR_REFDATA`` names a folder that is not it (a typo would otherwise pass as a skip)."""
    if not (REFDATA / "README.md").is_file():
        if REFDATA_SET:
            what = "no such folder" if not REFDATA.is_dir() else "a folder without the reference data's README.md"
            pytest.fail(f"ARSR_REFDATA={REFDATA_SET} is {what}: point it at the reference data folder (the "
                        "one with README.md, set5/, weights/ ...) or unset it to use ../shared/refdata",
                        pytrace=False)
        pytest.skip(
            f"reference data not found at {REFDATA} (it sits in ../shared/refdata beside the "
            "repository on the project's machines and CI; set ARSR_REFDATA to point elsewhere)"
        )
    return REFDATA


@functools.lru_cache(maxsize=None)
def _committed_params_text() -> str:
    """params.yaml as committed (``git show HEAD:params.yaml``); the working file where the
    repository is not a git checkout or params.yaml is not tracked."""
    try:
        proc = subprocess.run(["git", "show", "HEAD:params.yaml"], cwd=ROOT, capture_output=True, text=True,
                              timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        proc = None
    if proc is not None and proc.returncode == 0 and proc.stdout.strip():
        return proc.stdout
    return (ROOT / "params.yaml").read_text()


@pytest.fixture
def default_params() -> dict:
    """The shipped default params (a fresh copy): tests of default values read these, never the
    working params.yaml, which `dvc exp run -S key=value` edits in place."""
    return copy.deepcopy(yaml.safe_load(_committed_params_text()))
