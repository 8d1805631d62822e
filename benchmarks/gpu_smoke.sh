#!/usr/bin/env bash
# GPU smoke test of the paper profile (issue 9); never run by CI, which has no GPU.
#
#   bash benchmarks/gpu_smoke.sh          # from anywhere; PYTHON=/path/to/python to pick the interpreter
#
# On a machine with CUDA it runs, in order, and stops at the first failure:
#   (a) every stage of the study at the published sizes (profiles/paper.yaml) on a few real-size
#       clips, a few iterations each: recognisers and SR training on CUDA with bf16 autocast (the
#       trainers' amp setting), the evaluation of every row of Table 2 (float32), the evaluator
#       with tvl1_torch on CUDA;
#   (b) tvl1_torch throughput on CUDA vs every CPU core on 320x240 pairs, and the median
#       end-point difference between them (and against OpenCV's TV-L1);
#   (c) the default study's evaluation of one method (params.yaml's synthetic dataset and sizes,
#       VDSR) on CUDA, with the flow in the stage's process and with a pool of every core: seconds
#       per video by part (SR, flow, PSNR/SSIM, waiting for the pool, scoring, writes) and the CPU
#       side's share, which must not dominate;
#   (d) DDP: SR and TSN training under torchrun, one process per visible GPU, and the evaluation
#       sharded over those processes (arsr.study.sharded), equal to the single-process run.
# Each step prints what it measured (lines starting "gpu_smoke:"). The Python side is
# benchmarks/gpu_smoke.py. GPU_SMOKE_WORK=DIR keeps the working files there (default: a
# temporary folder, removed at the end).
#
# Exit status: 0 = every step passed; 2 = no CUDA, nothing was tested (a smoke test that did
# nothing must not look like a pass); anything else = the status of the first failing step.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

PYTHON=${PYTHON:-.venv/bin/python}
if [ ! -x "$PYTHON" ]; then
    PYTHON=$(command -v python3 || true)
fi
if [ -z "$PYTHON" ]; then
    echo "gpu_smoke: no Python found (make test creates .venv; or set PYTHON=...)" >&2
    exit 1
fi
if ! cuda=$("$PYTHON" -c 'import torch; print(int(torch.cuda.is_available()))'); then
    echo "gpu_smoke: $PYTHON cannot import torch (run make test first, or set PYTHON=...)" >&2
    exit 1
fi
if [ "$cuda" != 1 ]; then
    echo "gpu_smoke: CUDA is not available (torch.cuda.is_available() is False for $PYTHON): nothing was tested" >&2
    exit 2
fi

if [ -n "${GPU_SMOKE_WORK:-}" ]; then
    WORK=$GPU_SMOKE_WORK
    mkdir -p "$WORK"
else
    WORK=$(mktemp -d -t arsr_gpu_smoke.XXXXXX)
    trap 'rm -rf "$WORK"' EXIT
fi
export PYTHONUNBUFFERED=1
start=$SECONDS

echo "== (a) every stage on CUDA (bf16 autocast in the trainers), published sizes, a few iterations"
"$PYTHON" benchmarks/gpu_smoke.py stages --work "$WORK"

echo "== (b) tvl1_torch on CUDA vs the CPU"
"$PYTHON" benchmarks/gpu_smoke.py flow --work "$WORK"

echo "== (c) the default study's evaluation of one method on CUDA, timed by part"
"$PYTHON" benchmarks/gpu_smoke.py evaluation --work "$WORK"

# The GPUs this process may use (CUDA_VISIBLE_DEVICES respected, unlike `nvidia-smi -L | wc -l`).
NGPU=$("$PYTHON" -c 'import torch; print(torch.cuda.device_count())')
echo "== (d) DDP: torchrun --nproc_per_node=$NGPU"
"$PYTHON" -m torch.distributed.run --standalone --nproc_per_node="$NGPU" \
    benchmarks/gpu_smoke.py ddp --work "$WORK"

echo "gpu_smoke: all steps passed in $((SECONDS - start)) s"
