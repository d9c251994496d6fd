#!/usr/bin/env bash
# gpu-check.sh: everything that needs a GPU, in one call, for the lent GPU
# machine (see the device tool): builds for sm_90, runs the whole ctest suite
# (GPU suites included), `soma check` on every device, the CPU-vs-GPU
# training-curve test, compute-sanitizer memcheck and racecheck over the GPU
# tests, and MNIST on the GPU; prints a short summary last. Full logs go to
# $OUT (default ./gpu-logs).
#   scripts/gpu-check.sh [--quick]   (--quick: skip the sanitizers and MNIST)
set -uo pipefail
cd "$(dirname "$0")/.."
out=${OUT:-$PWD/gpu-logs}
mkdir -p "$out"
quick=0
[ "${1:-}" = "--quick" ] && quick=1
summary=()
note() { summary+=("$1"); echo "== $1"; }

nvidia-smi >"$out/nvidia-smi.txt" 2>&1 && note "GPU: $(nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader | head -1)"
py_cudnn=$(python3 -c "import nvidia.cudnn, os; print(os.path.dirname(nvidia.cudnn.__file__))" 2>/dev/null || true)
cmake -S . -B build-gpu -DCMAKE_BUILD_TYPE=Release -DCMAKE_CUDA_ARCHITECTURES=90 -DSOMA_CUDA=ON \
  ${CUDNN_ROOT:+-DCUDNN_ROOT=$CUDNN_ROOT} >"$out/configure.log" 2>&1 || { note "configure FAILED"; tail -30 "$out/configure.log"; }
note "cuDNN: $(grep -E 'cuDNN ' "$out/configure.log" | sed 's/^-- *//' | head -1) (pip cuDNN at: ${py_cudnn:-none})"
cmake --build build-gpu -j "$(nproc)" >"$out/build.log" 2>&1 && note "build: ok" || { note "build FAILED"; tail -40 "$out/build.log"; }
grep -iE "warning" "$out/build.log" | head -20 >"$out/build-warnings.txt"
note "build warnings: $(wc -l <"$out/build-warnings.txt")"

(cd build-gpu && ctest --output-on-failure -j 4 >"$out/ctest.log" 2>&1)
note "ctest: $(grep -E 'tests passed|tests failed' "$out/ctest.log" | tail -1)"
grep -E "Skipped|Failed" "$out/ctest.log" | head -10

./build-gpu/soma check >"$out/soma-check.txt" 2>&1
note "soma check: $(tail -1 "$out/soma-check.txt")"
grep -E "FAIL|ERROR" "$out/soma-check.txt" | head -20

./build-gpu/tests/test_cuda_train >"$out/cuda-train.txt" 2>&1
note "CPU-vs-GPU training curves: rc $? $(grep -E '^loss|Checks' "$out/cuda-train.txt" | tr '\n' ' ')"

if [ $quick = 0 ]; then
  if command -v compute-sanitizer >/dev/null; then
    for tool in memcheck racecheck; do
      for t in test_cuda test_cuda_train; do
        compute-sanitizer --tool $tool --error-exitcode 9 ./build-gpu/tests/$t >"$out/sanitizer-$tool-$t.txt" 2>&1
        note "compute-sanitizer $tool $t: rc $? $(grep -E 'ERROR SUMMARY' "$out/sanitizer-$tool-$t.txt" | tail -1)"
      done
    done
  else
    note "compute-sanitizer: not found"
  fi
  if scripts/fetch-mnist.sh >/dev/null 2>&1 || [ -e "${SOMA_DATA:-$HOME/.cache/soma}/mnist/t10k-labels-idx1-ubyte" ]; then
    ./build-gpu/soma train --data mnist --device cuda >"$out/mnist-cuda.txt" 2>&1
    note "MNIST on cuda: $(grep -E '^test:|trained' "$out/mnist-cuda.txt" | tr '\n' ' ')"
  else
    note "MNIST: not available on this machine (copy the IDX files into \$SOMA_DATA/mnist)"
  fi
fi

echo
echo "==================== summary ===================="
printf '%s\n' "${summary[@]}" | tee "$out/summary.txt"
