"""``processes``: a pool of single-threaded processes against one process with torch's threads.

    python benchmarks/processes.py /tmp/bench                   # both parts, 5 interleaved repeats
    python benchmarks/processes.py /tmp/bench --only evaluate --sr-seeds 0 1 2

On a reduced default profile (the synthetic set with 8 clips per class; default network sizes):

* train: the recognisers of 2 seeds (TSN rgb and flow 20 epochs, ST-ResNet 8: 6 jobs) into a fresh
  folder (``arsr.study.recognizers.train_recognizers``);
* evaluate: VDSR (50 iterations per SR seed, trained once) on every test video with the
  recognisers of 2 seeds (``arsr.study.evaluation.evaluate_stage``, default ``evaluate`` group)
  into a fresh cache.

Each repeat runs three modes in rotating order: ``1`` (processes: 1, this process with torch's
threads: the stages before ``processes``), ``2`` (processes: 2, a pool) and ``1t`` (processes: 1
on one thread). Run it without ``OMP_NUM_THREADS`` so that mode ``1`` has torch's default
threads. Prints each time with the load average around it, then the ratios per repeat: on a shared
machine trust the ratios of one run, not the absolute times.
"""
from __future__ import annotations

import argparse
import copy
import json
import os
import shutil
import statistics
import time
from contextlib import contextmanager, nullcontext
from pathlib import Path

MODES = ("1", "2", "1t")


@contextmanager
def threads(mode: str):
    """Mode ``1t``: one torch and one OpenCV thread in this process for the block."""
    from arsr.workers import one_thread

    with one_thread() if mode == "1t" else nullcontext():
        yield


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("root", type=Path, help="working folder (the prepared set is kept and reused)")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--only", choices=("train", "evaluate"), default=None)
    parser.add_argument("--sr-seeds", type=int, nargs="+", default=[0], help="SR seeds evaluated (default 0)")
    parser.add_argument("--params", default=None, help="params file (default: the study's params.yaml)")
    args = parser.parse_args()

    import torch

    from arsr.data.prepare import PrepareSettings, list_dataset, prepare_dataset
    from arsr.data.store import PreparedDataset
    from arsr.params import load_params
    from arsr.study.evaluation import evaluate_stage
    from arsr.study.recognizers import train_recognizers
    from arsr.study.schema import validate
    from arsr.study.sr import train_sr_seeds

    root = args.root.resolve()
    params = load_params(args.params)
    params["data"]["root"] = str(root / "raw")
    params["data"]["synthetic"].update(clips_per_class=8, n_unlabelled=8)
    p = validate(params, ["data", "prepare", "recognition", "sr", "evaluate"])
    interim = root / "interim"
    if not (interim / "index.csv").is_file():
        records, _ = list_dataset(p["data"], workers=0, progress=False)
        prepare_dataset(records, interim, PrepareSettings.from_params(p["prepare"]), workers=0, progress=False)
    rec = copy.deepcopy(p["recognition"])
    for name, epochs in (("tsn_rgb", 20), ("tsn_flow", 20), ("st_resnet", 8)):
        rec[name].update(epochs=epochs, lr_steps=[])
    sr = copy.deepcopy(p["sr"])
    sr["common"]["iterations"] = 50
    parts = [args.only] if args.only else ["train", "evaluate"]
    if "evaluate" in parts:  # what the evaluation scores with (not timed)
        train_recognizers(rec, [0, 1], interim, root / "recognizers", progress=False, processes=2)
        train_sr_seeds("vdsr", sr, args.sr_seeds, interim, root / "sr" / "vdsr", progress=False, processes=2)
    print(f"torch threads here: {torch.get_num_threads()}, cores: {os.cpu_count()}, "
          f"test videos: {len(PreparedDataset(interim).split('test'))}", flush=True)

    def train(out, processes):
        train_recognizers(rec, [0, 1], interim, out, progress=False, processes=processes)

    def evaluate(out, processes):
        evaluate_stage("vdsr", p["evaluate"], args.sr_seeds, p["prepare"], interim, root / "recognizers", root / "sr",
                       out, recognizer_seeds=[0, 1], n_samples=0, progress=False, processes=processes)

    seconds = {part: {m: [] for m in MODES} for part in parts}
    for rep in range(args.repeats):
        order = MODES[rep % 3:] + MODES[:rep % 3]
        for part, run in (("train", train), ("evaluate", evaluate)):
            for mode in order if part in parts else ():
                out = root / f"{part}_{rep}_{mode}"
                shutil.rmtree(out, ignore_errors=True)
                before, t = os.getloadavg()[0], time.perf_counter()
                with threads(mode):
                    run(out, 2 if mode == "2" else 1)
                seconds[part][mode].append(time.perf_counter() - t)
                print(f"repeat {rep} {part} mode {mode}: {seconds[part][mode][-1]:.1f} s "
                      f"(load {before:.1f} -> {os.getloadavg()[0]:.1f})", flush=True)
                shutil.rmtree(out, ignore_errors=True)
    for part, times in seconds.items():
        for ref in ("1", "1t"):
            ratios = [a / b for a, b in zip(times[ref], times["2"])]
            print(f"{part}: mode {ref} / pool of 2 per repeat {[round(r, 2) for r in ratios]}, median "
                  f"{statistics.median(ratios):.2f}, of the sums {sum(times[ref]) / sum(times['2']):.2f}")
    (root / "processes.json").write_text(json.dumps(seconds, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
