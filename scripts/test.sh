#!/usr/bin/env bash
# test.sh: install what is missing, build, and run the whole test suite.
#  1. build/: the real build (the CUDA backend compiled by nvcc when there is
#     one), every test. GPU tests report "Skipped" (with the reason in their
#     output) on machines without a usable CUDA device; the MNIST example is
#     skipped when MNIST cannot be fetched.
#  2. build-emu/: the CUDA backend emulated on the CPU (-DSOMA_CUDA_EMULATION=ON,
#     tests/emu; needs the CUDA headers, no GPU): test_cuda, test_cuda_train
#     and `soma check --device cuda` (ctest label "emulated"). Skipped, and
#     said so, where no CUDA headers are installed.
# Extra arguments go to CMake (both builds).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh
scripts/build.sh "$@"
scripts/fetch-mnist.sh >/dev/null 2>&1 || echo "test: MNIST could not be fetched; its example test will be skipped"
(cd build && ctest --output-on-failure -j 2)
echo "--- why skipped tests were skipped:"
grep -h "^SKIP:" build/Testing/Temporary/LastTest.log | sort -u || echo "(none skipped)"

echo "--- the CUDA backend on the CPU emulation (build-emu/, tests/emu)"
if ! ls /usr/local/cuda/include/cuda_runtime_api.h "${CUDA_HOME:-/nonexistent}/include/cuda_runtime_api.h" \
     >/dev/null 2>&1 && ! command -v nvcc >/dev/null 2>&1; then
  echo "test: no CUDA toolkit headers: the emulated CUDA tests are skipped"
  exit 0
fi
PATH="/usr/local/cuda/bin:$PATH" cmake -S . -B build-emu -DCMAKE_BUILD_TYPE=Release -DSOMA_CUDA_EMULATION=ON \
  -DSOMA_BUILD_EXAMPLES=OFF -DSOMA_BUILD_BENCH=OFF "$@" >/dev/null
cmake --build build-emu -j "$(nproc)" --target test_cuda test_cuda_train soma_cli
(cd build-emu && ctest -L emulated --output-on-failure -j 2)
