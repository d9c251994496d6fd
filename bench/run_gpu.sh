#!/usr/bin/env bash
# run_gpu.sh: builds bench_gpu (Release, for this machine's GPU) and runs
# soma's GPU benchmark beside PyTorch eager and torch.compile
# (bench/run_gpu.py; arguments go there: --only mnist|large, --quick,
# --synthetic, --modes eager, --device cpu). Needs MNIST at
# $SOMA_DATA/mnist or ~/.cache/soma/mnist for the mnist cases (or
# --synthetic), and PyTorch 2 with CUDA for $PYTHON (python3). The build goes
# to $SOMA_BENCH_BUILD (build-gpu-bench).
#
# Checked without a GPU by: bench/run_gpu.sh --device cpu --quick --synthetic
# (PyTorch 1.13 from Debian has no torch.compile: that column then fails).
set -euo pipefail
cd "$(dirname "$0")/.."
build="${SOMA_BENCH_BUILD:-build-gpu-bench}"
export PATH="/usr/local/cuda/bin:$PATH"
arch=()
if cap=$(nvidia-smi --query-gpu=compute_cap --format=csv,noheader 2>/dev/null | head -1 | tr -d .) && [ -n "$cap" ]; then
  arch=(-DCMAKE_CUDA_ARCHITECTURES="$cap")
fi
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Release -DSOMA_BUILD_BENCH=ON -DSOMA_BUILD_EXAMPLES=OFF "${arch[@]}" \
  ${CUDNN_ROOT:+-DCUDNN_ROOT=$CUDNN_ROOT} >/dev/null
cmake --build "$build" -j"$(nproc)" --target bench_gpu >/dev/null
exec "${PYTHON:-python3}" bench/run_gpu.py --build "$build" "$@"
