#!/usr/bin/env bash
# gpu-check.sh: what needs a real GPU, in one call that fits a short loan of
# a fresh GPU machine (the device tool: about 10 minutes a call). Each stage
# prints one "== stage: result" line the moment it ends, and the summary
# is repeated at the end and written to $OUT/summary.txt (full logs beside
# it; OUT defaults to ./gpu-logs).
#
#   1. driver:    nvidia-smi, and the driver's CUDA version: CUDA 13 needs
#                 driver R580 or newer. A missing or too-old driver, or no
#                 usable GPU, is a FAILURE, never a skip: this script only
#                 runs where a GPU was promised.
#   2. build:     only what the checks need (soma, test_cuda,
#                 test_cuda_train), for the GPU's own architecture.
#   3. soma check --device cuda, test_cuda, test_cuda_train.
#   4. compute-sanitizer memcheck on a reduced set: `soma check --device
#      cuda --quick` (no 1024x1024 or 10^6 shapes) and test_cuda_train.
#   5. one timed MNIST epoch on the GPU, when the IDX files are at
#      $SOMA_DATA/mnist (carry data/ along and set SOMA_DATA=$PWD/data).
#   --full adds racecheck and synccheck on test_cuda, memcheck on the whole
#   test_cuda, a default 15-epoch MNIST run, and 6. the GPU benchmark
#   (bench/run_gpu.sh: soma beside PyTorch eager and torch.compile; its
#   table in $OUT/bench-gpu.txt; synthetic data when MNIST is absent).
# Exit status: 0 when every stage passed, 1 otherwise.
set -uo pipefail
cd "$(dirname "$0")/.."
full=0
[ "${1:-}" = "--full" ] && full=1
out=${OUT:-$PWD/gpu-logs}
mkdir -p "$out"
summary=()
failed=0
t0=$(date +%s)
stage() { # NAME RESULT [fail]
  local line="== $1: $2 ($(($(date +%s) - t0)) s)"
  summary+=("$line")
  echo "$line"
  [ "${3:-}" = fail ] && failed=1
  return 0
}
finish() {
  echo
  echo "==================== summary ===================="
  printf '%s\n' "${summary[@]}" | tee "$out/summary.txt"
  exit "$failed"
}

# ---- 1. the driver ----------------------------------------------------------------
if ! nvidia-smi >"$out/nvidia-smi.txt" 2>&1; then
  stage driver "FAILED: nvidia-smi does not run ($(head -1 "$out/nvidia-smi.txt"))" fail
  finish
fi
gpu=$(nvidia-smi --query-gpu=name,driver_version,memory.total,compute_cap --format=csv,noheader | head -1)
driver=$(nvidia-smi --query-gpu=driver_version --format=csv,noheader | head -1)
cap=$(nvidia-smi --query-gpu=compute_cap --format=csv,noheader | head -1 | tr -d .)
if [ "${driver%%.*}" -lt 580 ] 2>/dev/null; then
  stage driver "FAILED: driver $driver is older than R580, which CUDA 13 needs ($gpu)" fail
  finish
fi
stage driver "ok: $gpu"

# ---- 2. the build -----------------------------------------------------------------
export PATH="/usr/local/cuda/bin:$PATH"
if ! cmake -S . -B build-gpu -DCMAKE_BUILD_TYPE=Release -DSOMA_CUDA=ON -DCMAKE_CUDA_ARCHITECTURES="${cap:-90}" \
     -DSOMA_BUILD_EXAMPLES=OFF -DSOMA_BUILD_BENCH=OFF ${CUDNN_ROOT:+-DCUDNN_ROOT=$CUDNN_ROOT} \
     >"$out/configure.log" 2>&1; then
  stage build "FAILED: configure ($(tail -3 "$out/configure.log" | tr '\n' ' '))" fail
  finish
fi
if ! cmake --build build-gpu -j "$(nproc)" --target soma_cli test_cuda test_cuda_train >"$out/build.log" 2>&1; then
  stage build "FAILED: $(grep -m3 -E 'error' "$out/build.log" | tr '\n' ' ')" fail
  finish
fi
warnings=$(grep -ciE "warning" "$out/build.log" || true)
stage build "ok: sm_${cap:-90}, $warnings warnings; $(grep -E 'cuDNN ' "$out/configure.log" | sed 's/^-- *//' | head -1)"

# ---- 3. the checks ----------------------------------------------------------------
# run NAME SECONDS COMMAND...: one stage, its output in $out/NAME.txt
run() {
  local name=$1 limit=$2
  shift 2
  timeout "$limit" "$@" >"$out/$name.txt" 2>&1
  local rc=$?
  local tail_line
  tail_line=$(grep -E "passed|Checks:|ERROR SUMMARY|^test:|trained" "$out/$name.txt" | tail -2 | tr '\n' ' ')
  if [ $rc = 0 ]; then
    stage "$name" "ok: $tail_line"
  elif [ $rc = 124 ]; then
    stage "$name" "FAILED: timed out after $limit s" fail
  else
    stage "$name" "FAILED (exit $rc): $tail_line $(grep -m3 -E 'FAIL|:F:|:E:|error' "$out/$name.txt" | tr '\n' ' ')" fail
  fi
}
run soma-check 240 build-gpu/soma check --device cuda
run test_cuda 240 build-gpu/tests/test_cuda
run test_cuda_train 120 build-gpu/tests/test_cuda_train

# ---- 4. compute-sanitizer -----------------------------------------------------------
if command -v compute-sanitizer >/dev/null 2>&1; then
  cs=(compute-sanitizer --error-exitcode 9 --print-limit 20)
  run memcheck-soma-check-quick 300 "${cs[@]}" --tool memcheck build-gpu/soma check --device cuda --quick
  run memcheck-test_cuda_train 180 "${cs[@]}" --tool memcheck build-gpu/tests/test_cuda_train
  if [ $full = 1 ]; then
    run memcheck-test_cuda 600 "${cs[@]}" --tool memcheck build-gpu/tests/test_cuda
    run racecheck-test_cuda 600 "${cs[@]}" --tool racecheck build-gpu/tests/test_cuda
    run synccheck-test_cuda 600 "${cs[@]}" --tool synccheck build-gpu/tests/test_cuda
  fi
else
  stage compute-sanitizer "FAILED: not found on this machine" fail
fi

# ---- 5. MNIST -----------------------------------------------------------------------
mnist=${SOMA_DATA:-$HOME/.cache/soma}/mnist
if [ -e "$mnist/t10k-labels-idx1-ubyte" ]; then
  run mnist-1-epoch 120 build-gpu/soma train --data mnist --device cuda --epochs 1
  [ $full = 1 ] && run mnist-15-epochs 300 build-gpu/soma train --data mnist --device cuda
else
  stage mnist "not run: no IDX files in $mnist (carry data/mnist and set SOMA_DATA=\$PWD/data)" fail
fi

# ---- 6. the GPU benchmark (--full) ---------------------------------------------------
if [ $full = 1 ]; then
  synthetic=()
  [ -e "$mnist/t10k-labels-idx1-ubyte" ] || synthetic=(--synthetic)
  run bench-gpu 900 env SOMA_BENCH_BUILD=build-gpu-bench bench/run_gpu.sh "${synthetic[@]}"
fi
finish
