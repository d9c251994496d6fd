#!/usr/bin/env bash
# test.sh: install what is missing, build, and run the whole test suite.
# GPU tests report "Skipped" (with the reason in their output) on machines
# without a usable CUDA device; the MNIST example is skipped when MNIST
# cannot be fetched. Extra arguments go to CMake.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh
scripts/build.sh "$@"
scripts/fetch-mnist.sh >/dev/null 2>&1 || echo "test: MNIST could not be fetched; its example test will be skipped"
cd build
ctest --output-on-failure -j 2
echo "--- why skipped tests were skipped:"
grep -h "^SKIP:" Testing/Temporary/LastTest.log | sort -u || echo "(none skipped)"
