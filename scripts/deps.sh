#!/usr/bin/env bash
# deps.sh: make sure the system packages soma builds with are present.
# Installs what is missing with apt-get when run as root on Debian/Ubuntu;
# otherwise names the packages and stops. Needed: a C compiler, make, CMake
# >= 3.24, pkg-config, Check and python3 (tests), and OpenBLAS, a threaded
# build (the CPU GEMM fast path; soma builds without it). Optional:
# cairo (the figures of `soma plot`), Doxygen (the API reference, checked in CI),
# OpenMPI (data-parallel training over ranks, and its tests),
# a CUDA toolkit (GPU backend; never installed here: use NVIDIA's packages).
# Optional packages are installed when we are root, and only named otherwise:
# soma builds without them.
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
# OpenBLAS, a threaded build (cmake/openblas.cmake says why not the serial
# one). Another package's cblas.h (netlib's) does not count: it left CI
# without OpenBLAS.
if ! compgen -G "/usr/lib/*/openblas-pthread/libopenblas.so" >/dev/null &&
   ! compgen -G "/usr/lib*/libopenblasp.so" >/dev/null; then
  missing+=(libopenblas-pthread-dev)
fi
optional=()
pkg-config --exists cairo 2>/dev/null || optional+=(libcairo2-dev)   # soma plot
command -v doxygen >/dev/null 2>&1 || optional+=(doxygen)             # the API reference
python3 -c 'import numpy' 2>/dev/null || /usr/bin/python3 -c 'import numpy' 2>/dev/null ||
  optional+=(python3-numpy)                                          # tests/npy_numpy_test.py
# data-parallel training over ranks (SOMA_MPI) and its tests (mpirun)
command -v mpicc >/dev/null 2>&1 || optional+=(libopenmpi-dev)
command -v mpirun >/dev/null 2>&1 || optional+=(openmpi-bin)

can_install=0
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then can_install=1; fi
if [ ${#missing[@]} -gt 0 ] && [ "$can_install" = 0 ]; then
  echo "deps: missing packages: ${missing[*]}" >&2
  echo "deps: install them with: sudo apt-get install ${missing[*]} ${optional[*]}" >&2
  exit 1
fi
if [ ${#optional[@]} -gt 0 ] && [ "$can_install" = 0 ]; then
  echo "deps: optional packages not installed: ${optional[*]} (soma plot needs cairo, the API reference doxygen, ranks OpenMPI)" >&2
  optional=()
fi
if [ $((${#missing[@]} + ${#optional[@]})) -gt 0 ]; then
  echo "deps: installing ${missing[*]} ${optional[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  if [ ${#optional[@]} -gt 0 ] &&
     ! apt-get install -y -qq --no-install-recommends "${optional[@]}" >/dev/null; then
    echo "deps: could not install ${optional[*]}; soma builds without them" >&2
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

# ---- extras: `scripts/deps.sh fuzz` (scripts/fuzz.sh), `scripts/deps.sh sanitize` (scripts/sanitize.sh)
# and `scripts/deps.sh bench` (PyTorch for bench/torch_mlp_*.py; Debian's is 1.13, without torch.compile)
# fuzz: clang with libFuzzer and the sanitizer runtimes (on Debian they are in
# libclang-rt-dev, which clang only recommends). sanitize: gcc's ASan/UBSan
# runtimes (libasan, libubsan: they come with gcc) and valgrind.
extra=()
probe=$(mktemp -d)
for what in "$@"; do
  case $what in
    fuzz)
      command -v clang >/dev/null 2>&1 || extra+=(clang)
      printf 'int LLVMFuzzerTestOneInput(const unsigned char *d, unsigned long n) { (void)d; (void)n; return 0; }\n' \
        >"$probe/f.c"
      clang -fsanitize=fuzzer,address,undefined "$probe/f.c" -o "$probe/f" >/dev/null 2>&1 || extra+=(libclang-rt-dev)
      ;;
    sanitize)
      command -v valgrind >/dev/null 2>&1 || extra+=(valgrind)
      printf 'int main(void) { return 0; }\n' >"$probe/s.c"
      cc -fsanitize=address,undefined "$probe/s.c" -o "$probe/s" >/dev/null 2>&1 || extra+=(libasan8 libubsan1)
      ;;
    bench)
      python3 -c 'import torch' >/dev/null 2>&1 || extra+=(python3-torch)
      ;;
    *) echo "deps: unknown extra '$what' (fuzz, sanitize, bench)" >&2; rm -rf "$probe"; exit 2 ;;
  esac
done
rm -rf "$probe"
if [ ${#extra[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "deps: installing ${extra[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${extra[@]}" >/dev/null
  else
    echo "deps: missing packages for $*: ${extra[*]}" >&2
    echo "deps: install them with: sudo apt-get install ${extra[*]}" >&2
    exit 1
  fi
fi
