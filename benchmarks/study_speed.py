"""Is a commit's study slower than another's? The same DVC stages, run at two commits, one after the other.

    python benchmarks/study_speed.py --ref 34c69f6                         # vs HEAD, default targets
    python benchmarks/study_speed.py --ref 34c69f6 --targets prepare train_recognizers \\
        --set head:recognition.feature_streams=[rgb]

Clones this repository twice into ``--workdir`` (a temporary folder unless given), checks out
``--ref`` and ``--head``, applies the ``--set`` edits to each clone's ``params.yaml`` (so both
sides do the same work when the newer commit added knobs or stages), creates each clone's venv
(``make setup``), then runs ``dvc repro TARGETS`` in the ref clone and afterwards in the head
clone, never both at once, and prints per stage the papermill seconds of its executed notebook,
the ratio head/ref and the wall time of each ``dvc repro``. It then says which result files the
two runs wrote differently (``reports/eval/*.csv`` and ``reports/metrics/**/*.json``, provenance
left out): a speed-up that changes results is not a speed-up.

Run it on an otherwise idle machine: the sides run in sequence, so load that comes and goes
between them shows up in the ratio. Nothing is downloaded beyond what ``make setup`` installs.
"""
from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_TARGETS = ("evaluate@vdsr", "evaluate@duf16")
SIDES = ("ref", "head")


def notebook_seconds(root: Path) -> dict[str, float]:
    """Papermill seconds of every executed notebook under ``root/reports`` (failed copies left
    out), keyed by the notebook's path relative to ``root``, in the order they ran."""
    rows = []
    for nb in sorted((root / "reports").rglob("*.ipynb")):
        if ".failed." in nb.name:
            continue
        meta = json.loads(nb.read_text()).get("metadata", {}).get("papermill", {})
        if not meta.get("start_time") or meta.get("duration") is None:
            continue
        start = dt.datetime.fromisoformat(meta["start_time"].replace("Z", "+00:00"))
        rows.append((start, nb.relative_to(root).as_posix(), float(meta["duration"])))
    return {name: seconds for _, name, seconds in sorted(rows)}


def stage_table(
    ref: dict[str, float], head: dict[str, float]
) -> list[tuple[str, float | None, float | None, float | None]]:
    """(notebook, ref s, head s, head/ref) for every notebook either side ran, ref's order first,
    then a ``total`` row over the notebooks both ran (None where a side did not run it)."""
    names = list(ref) + [n for n in head if n not in ref]
    rows = []
    for name in names:
        r, h = ref.get(name), head.get(name)
        rows.append((name, r, h, h / r if r and h is not None else None))
    both = [n for n in names if n in ref and n in head]
    r_tot, h_tot = sum(ref[n] for n in both), sum(head[n] for n in both)
    rows.append(("total (stages both ran)", r_tot, h_tot, h_tot / r_tot if r_tot else None))
    return rows


def _cell(x: float | None, fmt: str) -> str:
    return "—" if x is None else format(x, fmt)


def markdown(rows) -> str:
    lines = ["| stage notebook | ref s | head s | head/ref |", "|---|---|---|---|"]
    lines += [f"| {n} | {_cell(r, '.1f')} | {_cell(h, '.1f')} | {_cell(q, '.3f')} |" for n, r, h, q in rows]
    return "\n".join(lines)


def leaves(obj, prefix: str = "") -> dict[str, object]:
    """A JSON value as {dotted path: scalar}, leaving out provenance and every timing (a key
    with "seconds" in it): what a run computed, not when or how fast."""
    out: dict[str, object] = {}
    if isinstance(obj, dict):
        for k, v in obj.items():
            if k != "provenance" and "seconds" not in str(k):
                out.update(leaves(v, f"{prefix}.{k}" if prefix else str(k)))
    elif isinstance(obj, list):
        for i, v in enumerate(obj):
            out.update(leaves(v, f"{prefix}[{i}]"))
    else:
        out[prefix] = obj
    return out


def result_files(root: Path) -> dict[str, dict[str, object]]:
    """What a run computed, comparable across commits, as {file: {place: value}}: evaluation CSVs
    by row and column position (``"row 3 col 4"``; the header row is left out, since its names
    may be renamed between commits, e.g. recogniser -> recognizer), metrics JSON by :func:`leaves`."""
    import csv

    out: dict[str, dict[str, object]] = {}
    for f in sorted((root / "reports" / "eval").glob("*.csv")):
        rows = list(csv.reader(f.read_text().splitlines()))
        if rows:
            out[f.relative_to(root).as_posix()] = {f"row {i} col {j}": v for i, row in enumerate(rows[1:], 1)
                                                   for j, v in enumerate(row)}
    for f in sorted((root / "reports" / "metrics").rglob("*.json")):
        out[f.relative_to(root).as_posix()] = leaves(json.loads(f.read_text()))
    return out


def compare_results(ref: dict, head: dict) -> dict[str, tuple[list[str], int]]:
    """For each file both sides wrote: (the places whose values differ, how many places)."""
    out = {}
    for name in sorted(set(ref) & set(head)):
        places = sorted(set(ref[name]) | set(head[name]))
        out[name] = ([k for k in places if ref[name].get(k) != head[name].get(k)], len(places))
    return out


def parse_set(text: str) -> tuple[tuple[str, ...], list[str], object]:
    """``[ref:|head:]dotted.key=YAML value`` -> (sides, key path, value)."""
    import yaml

    side, _, rest = text.partition(":") if text.split("=", 1)[0].count(":") else ("", "", text)
    if side and side not in SIDES:
        raise SystemExit(f"--set {text!r}: the side before ':' is ref or head, not {side!r}")
    key, eq, value = rest.partition("=")
    if not eq or not key:
        raise SystemExit(f"--set {text!r}: write [ref:|head:]dotted.key=value, "
                         "e.g. head:recognition.feature_streams=[rgb]")
    return ((side,) if side else SIDES), key.split("."), yaml.safe_load(value)


def apply_sets(params_path: Path, edits: list[tuple[list[str], object]]) -> None:
    import yaml

    params = yaml.safe_load(params_path.read_text())
    for path, value in edits:
        node = params
        for part in path[:-1]:
            if not isinstance(node.get(part), dict):
                raise SystemExit(f"{params_path}: no group {'.'.join(path[:-1])!r} to set {'.'.join(path)} in")
            node = node[part]
        if path[-1] not in node:
            raise SystemExit(f"{params_path}: no key {'.'.join(path)!r} (a --set changes a knob the commit has)")
        node[path[-1]] = value
    params_path.write_text(yaml.safe_dump(params, sort_keys=False))


def _run(cmd: list[str], cwd: Path, log: Path) -> float:
    """Run ``cmd`` in ``cwd`` with that clone's venv first on PATH (as ``make study`` does: DVC's
    stage commands say ``python``); seconds, or exit naming the log on failure."""
    env = dict(os.environ, PATH=os.pathsep.join([str(cwd / ".venv" / "bin"), os.environ.get("PATH", "")]))
    env.pop("VIRTUAL_ENV", None)
    start = time.perf_counter()
    with log.open("w") as out:
        code = subprocess.call(cmd, cwd=cwd, stdout=out, stderr=subprocess.STDOUT, env=env)
    if code:
        raise SystemExit(f"{' '.join(cmd)} in {cwd} failed with status {code}; its output is in {log}")
    return time.perf_counter() - start


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--ref", required=True, help="the reference commit")
    p.add_argument("--head", default="HEAD", help="the commit measured against it (default HEAD)")
    p.add_argument("--targets", nargs="+", default=list(DEFAULT_TARGETS),
                   help=f"dvc repro targets, with what they need (default: {' '.join(DEFAULT_TARGETS)})")
    p.add_argument("--set", action="append", default=[], metavar="[SIDE:]KEY=VALUE",
                   help="a params.yaml edit in one clone (ref: / head:) or both, VALUE in YAML; repeatable")
    p.add_argument("--workdir", default=None, help="where the two clones go (default: a temporary folder, kept)")
    args = p.parse_args(argv)

    edits = {side: [] for side in SIDES}
    for text in args.set:
        sides, key, value = parse_set(text)
        for side in sides:
            edits[side].append((key, value))
    work = Path(args.workdir or tempfile.mkdtemp(prefix="study_speed_"))
    work.mkdir(parents=True, exist_ok=True)
    clones = {}
    for side, rev in (("ref", args.ref), ("head", args.head)):
        commit = subprocess.run(["git", "rev-parse", "--verify", f"{rev}^{{commit}}"], cwd=ROOT,
                                capture_output=True, text=True)
        if commit.returncode:
            raise SystemExit(f"--{side} {rev}: not a commit of {ROOT}")
        clone = work / side
        if clone.exists():
            raise SystemExit(f"{clone} exists: give an empty --workdir (the measurement needs fresh clones)")
        subprocess.run(["git", "clone", "-q", str(ROOT), str(clone)], check=True)
        subprocess.run(["git", "checkout", "-q", commit.stdout.strip()], cwd=clone, check=True)
        if edits[side]:
            apply_sets(clone / "params.yaml", edits[side])
        print(f"{side}: {rev} = {commit.stdout.strip()[:12]} in {clone}", flush=True)
        _run(["make", "setup"], clone, work / f"{side}_setup.log")
        clones[side] = clone

    walls = {}
    for side, clone in clones.items():
        dvc = str(clone / ".venv" / "bin" / "dvc")
        print(f"{side}: dvc repro {' '.join(args.targets)} ...", flush=True)
        walls[side] = _run([dvc, "repro", *args.targets], clone, work / f"{side}_repro.log")

    rows = stage_table(notebook_seconds(clones["ref"]), notebook_seconds(clones["head"]))
    print(f"\n## Stage seconds ({args.head} against {args.ref}; papermill time of each executed notebook)\n")
    print(markdown(rows))
    print(f"\ndvc repro wall: ref {walls['ref']:.0f} s, head {walls['head']:.0f} s, "
          f"head/ref {walls['head'] / walls['ref']:.3f}")
    diff = compare_results(result_files(clones["ref"]), result_files(clones["head"]))
    equal = [name for name, (d, _) in diff.items() if not d]
    print("\n## Results (timings and provenance left out)\n\n"
          f"{len(equal)} of {len(diff)} files both runs wrote are equal")
    for name, (d, n) in diff.items():
        if d:
            print(f"- {name}: {len(d)} of {n} values differ, e.g. {', '.join(d[:4])}")
    print(f"\nclones and logs kept in {work}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
