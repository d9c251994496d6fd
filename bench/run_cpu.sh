#!/usr/bin/env bash
# run_cpu.sh: builds soma (Release) and runs its CPU benchmarks side by side
# with OpenBLAS and PyTorch (bench/run_cpu.py; arguments go there, e.g.
# --runs 5, --only mnist, --quick). Needs MNIST (scripts/fetch-mnist.sh) and
# Debian's python3-torch. The build goes to $SOMA_BENCH_BUILD (build-bench).
set -euo pipefail
cd "$(dirname "$0")/.."
build="${SOMA_BENCH_BUILD:-build-bench}"
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Release -DSOMA_BUILD_BENCH=ON >/dev/null
cmake --build "$build" -j"$(nproc)" --target bench_gemm bench_mnist bench_mlp_large bench_dropout soma_cli >/dev/null
exec python3 bench/run_cpu.py --build "$build" "$@"
