#!/usr/bin/env bash
# test.sh: install what is missing, build, and run the whole test suite.
# GPU tests report "Skipped" (with the reason in their output) on machines
# without a usable CUDA device.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh
scripts/build.sh "$@"
cd build
ctest --output-on-failure -j 2
echo "--- why skipped tests were skipped:"
grep -h "^SKIP:" Testing/Temporary/LastTest.log || echo "(none skipped)"
