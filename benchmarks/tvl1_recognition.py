"""Does the TSN temporal stream see a difference between OpenCV's TV-L1 and ``tvl1_torch``?

    python benchmarks/tvl1_recognition.py                     # the study's store and recognisers
    python benchmarks/tvl1_recognition.py --max-videos 48 --methods tvl1 tvl1_torch dis

Scores the HR test videos of a prepared store (``data/interim``, made by ``dvc repro prepare``)
with the study's TSN temporal stream (``data/models/recognizers/seed<k>/tsn_flow``), computing
the flow of the test frames with each ``--methods`` entry, and prints per method the top-1 and,
against the first method, the paired per-video bootstrap 95% interval of the difference
(:func:`arsr.stats.paired_bootstrap`) and how many predictions changed. The paper-scale issue's
target: ``tvl1_torch`` loses at most 1 point against OpenCV's ``tvl1``.

The recogniser was trained on the flow of ``prepare.flow_method`` (the default profile: DIS), so
both TV-L1 rows score a flow it was not trained on; the comparison that matters is the paired one
between them (same videos, same snippets, same weights). Flow runs in this process (``--workers``
1) or a pool of single-threaded workers.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path



def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--interim", default="data/interim", help="prepared store (default data/interim)")
    p.add_argument("--recognizers", default="data/models/recognizers", help="trained recognisers")
    p.add_argument("--seed", type=int, default=0, help="recogniser seed (default 0, the study's)")
    p.add_argument("--methods", nargs="+", default=["tvl1", "tvl1_torch"],
                   help="flow methods; the first is the reference (default: tvl1 tvl1_torch)")
    p.add_argument("--num-frames", type=int, default=10, help="TSN snippets per video (default 10)")
    p.add_argument("--max-videos", type=int, default=None, help="at most this many test videos (balanced)")
    p.add_argument("--workers", type=int, default=1, help="flow processes (arsr.workers; default 1)")
    p.add_argument("--json", default=None, help="also write the results here")
    args = p.parse_args(argv)

    from arsr.data.store import PreparedDataset
    from arsr.evaluate import evaluate
    from arsr.sr_methods import hr_method
    from arsr.stats import paired_bootstrap
    from arsr.study.evaluation import balanced_subset, stage_recognizers

    if not (Path(args.interim) / "index.csv").is_file():
        print(f"error: {args.interim}/index.csv not found: run `dvc repro prepare` first (or pass --interim)",
              file=sys.stderr)
        return 2
    dataset = PreparedDataset(args.interim)
    subset = balanced_subset(dataset, args.max_videos)
    recs = stage_recognizers(args.recognizers, args.seed, ("tsn",), tsn_streams=("flow",))
    correct, seconds = {}, {}
    for method in args.methods:
        t0 = time.perf_counter()
        result = evaluate(hr_method(), recs, dataset, name=f"hr_{method}", flow_method=method,
                          num_frames=args.num_frames, psnr=False, workers=args.workers, videos=subset)
        seconds[method] = time.perf_counter() - t0
        pred = result.predictions
        pred = pred[pred["stream"] == "temporal"].sort_values("video_id")
        correct[method] = (pred["video_id"].to_numpy(), (pred["prediction"] == pred["label"]).to_numpy(int),
                           pred["prediction"].to_numpy())
    ref = args.methods[0]
    ids, ref_ok, ref_pred = correct[ref]
    rows = []
    print(f"TSN temporal stream, HR test videos: {len(ids)}; recogniser seed {args.seed}; "
          f"{args.num_frames} snippets; reference {ref}\n")
    print("| flow | top-1 % | vs " + ref + " (pp, 95% CI) | predictions changed | seconds |")
    print("|---|---|---|---|---|")
    for method in args.methods:
        m_ids, ok, pred = correct[method]
        assert (m_ids == ids).all(), "methods scored different videos"
        diff = paired_bootstrap(ok, ref_ok, rng=0)
        changed = int((pred != ref_pred).sum())
        rows.append({"method": method, "top1": 100.0 * ok.mean(), "difference": diff.difference,
                     "ci_low": diff.ci_low, "ci_high": diff.ci_high, "changed": changed,
                     "seconds": seconds[method], "n_videos": int(len(ids))})
        vs = "—" if method == ref else f"{diff.difference:+.1f} [{diff.ci_low:+.1f}, {diff.ci_high:+.1f}]"
        print(f"| {method} | {100.0 * ok.mean():.1f} | {vs} | {changed} of {len(ids)} | {seconds[method]:.0f} |")
    if args.json:
        from arsr.io import write_json
        write_json(args.json, {"reference": ref, "rows": rows})
    return 0


if __name__ == "__main__":
    sys.exit(main())
