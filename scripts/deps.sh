#!/usr/bin/env bash
# deps.sh: make sure the system packages soma builds with are present.
# Installs what is missing with apt-get when run as root on Debian/Ubuntu;
# otherwise names the packages and stops. Needed: a C compiler, make, CMake
# >= 3.24, pkg-config, Check and python3 (tests). Optional: OpenBLAS (CPU GEMM fast path),
# a CUDA toolkit (GPU backend; never installed here: use NVIDIA's packages).
set -euo pipefail

missing=()
command -v cc >/dev/null 2>&1 || missing+=(build-essential)
command -v make >/dev/null 2>&1 || missing+=(make)
command -v pkg-config >/dev/null 2>&1 || missing+=(pkg-config)
if ! command -v cmake >/dev/null 2>&1; then
  missing+=(cmake)
fi
pkg-config --exists check 2>/dev/null || missing+=(check)
command -v python3 >/dev/null 2>&1 || missing+=(python3)   # the independent checkpoint reader in the tests
if [ ! -e /usr/include/x86_64-linux-gnu/cblas.h ] && [ ! -e /usr/include/cblas.h ] &&
   [ ! -e /usr/include/openblas/cblas.h ]; then
  missing+=(libopenblas-dev)
fi

if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "deps: installing ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  else
    echo "deps: missing packages: ${missing[*]}" >&2
    echo "deps: install them with: sudo apt-get install ${missing[*]}" >&2
    exit 1
  fi
fi

cmake_version=$(cmake --version | head -n1 | awk '{print $3}')
if [ "$(printf '%s\n3.24\n' "$cmake_version" | sort -V | head -n1)" != "3.24" ]; then
  echo "deps: CMake $cmake_version is older than 3.24; install a newer one (pip install cmake, or Kitware's apt repository)" >&2
  exit 1
fi
if ! command -v nvcc >/dev/null 2>&1 && [ ! -x /usr/local/cuda/bin/nvcc ]; then
  echo "deps: no CUDA toolkit found: soma builds the CPU backend only"
fi
