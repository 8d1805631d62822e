"""Check the whole params.yaml before a run: ``python -m arsr.study.check [params.yaml]``.

Each stage validates only its own groups when it starts, so a wrong value in a late group (say
``evaluate.num_frames: 0``) would otherwise stop the study after every earlier stage had run.
``make study`` calls this first: every group against its schema (``arsr.study.schema.SCHEMA``) and the
cross-checks between groups, torch-free, in about a second. Exit status 0 when valid; 2 with one
line naming the key, the value and what is allowed when not.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ..params import ParamError, check_keys, load_params
from .schema import SCHEMA, validate

__all__ = ["check_params", "main"]


def check_params(params: dict) -> dict:
    """Validate every group of ``params``; a group the schema does not know is an error too
    (a typo such as ``evalute:`` would otherwise be ignored by every stage)."""
    check_keys(params, SCHEMA, "params", what="group")
    return validate(params, list(SCHEMA))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m arsr.study.check", description=__doc__.splitlines()[0])
    parser.add_argument("params", nargs="?", default=None, help="params file (default: the study's params.yaml)")
    args = parser.parse_args(argv)
    try:
        params = load_params(args.params)
        check_params(params)
    except ParamError as err:
        where = args.params or "params.yaml"
        print(f"{where}: {err}", file=sys.stderr)
        return 2
    name = Path(args.params).name if args.params else "params.yaml"
    print(f"{name}: every group valid ({', '.join(SCHEMA)})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
