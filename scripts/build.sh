#!/usr/bin/env bash
# build.sh: configure and build soma into build/ (extra arguments go to CMake).
set -euo pipefail
cd "$(dirname "$0")/.."
# Let CMake find nvcc where NVIDIA installs it even when it is not on PATH.
if ! command -v nvcc >/dev/null 2>&1 && [ -x /usr/local/cuda/bin/nvcc ]; then
  export PATH="/usr/local/cuda/bin:$PATH"
fi
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release "$@"
cmake --build build -j "$(nproc)"
