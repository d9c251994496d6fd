#!/usr/bin/env bash
# run.sh BUILD_DIR [CC]: installs the soma of BUILD_DIR into a temporary
# prefix, checks what landed there, then builds tests/consumer/main.c against
# it four ways and runs each:
#   CMake       find_package(soma): soma::soma (static) and soma::soma_shared
#   pkg-config  pkg-config soma (shared) and pkg-config --static soma (static)
# Exit 0 when all of that works, 1 with a FAIL line for each thing that did not.
set -u
build=$(cd "$1" && pwd)
cc=${2:-cc}
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
prefix=$work/prefix
failures=0
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }
step() { echo "--- $*"; }

step "cmake --install $build --prefix $prefix"
if ! cmake --install "$build" --prefix "$prefix" >"$work/install.log" 2>&1; then
  cat "$work/install.log"
  echo "FAIL: cmake --install failed"
  exit 1
fi

libdir=$prefix/lib
for f in include/soma.h include/soma/ops.h include/soma/train.h lib/libsoma.a lib/libsoma.so \
         lib/cmake/soma/somaConfig.cmake lib/cmake/soma/somaConfigVersion.cmake \
         lib/cmake/soma/somaTargets.cmake lib/pkgconfig/soma.pc bin/soma; do
  [ -e "$prefix/$f" ] || fail "$f was not installed"
done
soname=$(readelf -d "$libdir/libsoma.so" 2>/dev/null | sed -n 's/.*Library soname: \[\(.*\)\]/\1/p')
case $soname in
  libsoma.so.[0-9]*) echo "ok: SONAME $soname" ;;
  *) fail "libsoma.so has SONAME '$soname', expected libsoma.so.<version>" ;;
esac
[ -e "$libdir/$soname" ] || fail "$soname (the SONAME) is not in $libdir"
version=$("$prefix/bin/soma" --version) || fail "the installed soma --version failed"
echo "ok: installed CLI says '$version'"

# the CUDA module (a CUDA build with SOMA_CUDA_MODULE=ON): installed beside
# libsoma.so, and the installed soma finds it (bin/../lib): --device auto
# then trains on a GPU, or on the CPU for want of a device, not of the module
if [ -e "$build/libsoma-cuda.so" ]; then
  if [ -e "$libdir/libsoma-cuda.so" ]; then
    printf 'a,b,y\n0,0,0\n0,1,1\n1,0,1\n1,1,0\n' >"$work/xor.csv"
    if SOMA_CUDA_MODULE= "$prefix/bin/soma" train --data "csv:$work/xor.csv" --epochs 1 --layers 2,4,2 \
         --device auto >"$work/auto.out" 2>"$work/auto.err"; then
      if grep -Eq "module .*(was not found|does not load|another soma)" "$work/auto.out"; then
        fail "the installed soma does not use the installed CUDA module: $(grep -- '^--device' "$work/auto.out")"
      else
        echo "ok: the installed soma loads lib/libsoma-cuda.so: $(grep -- '^device' "$work/auto.out") $(grep -- '^--device' "$work/auto.out")"
      fi
    else
      fail "the installed soma train --device auto failed: $(cat "$work/auto.err")"
    fi
  else
    fail "lib/libsoma-cuda.so (the CUDA module) was not installed"
  fi
fi

# the CLI's companions: man pages, bash completion, and the script `soma fetch`
# finds from bin/soma (replaced here by one that names itself: no download)
for f in share/man/man1/soma.1 share/man/man1/soma-train.1 share/man/man1/soma-fetch.1 \
         share/bash-completion/completions/soma share/soma/fetch-mnist.sh; do
  [ -e "$prefix/$f" ] || fail "$f was not installed"
done
if cmp -s "$prefix/share/soma/fetch-mnist.sh" "$here/../../scripts/fetch-mnist.sh"; then
  printf '#!/bin/sh\necho "installed fetch-mnist.sh $*"\n' >"$prefix/share/soma/fetch-mnist.sh"
  got=$(SOMA_FETCH_MNIST= "$prefix/bin/soma" fetch mnist "$work/mnist" 2>&1)
  [ "$got" = "installed fetch-mnist.sh $work/mnist" ] && echo "ok: soma fetch mnist runs the installed script" ||
    fail "soma fetch mnist DIR printed '$got', not the installed script's line"
else
  fail "share/soma/fetch-mnist.sh differs from scripts/fetch-mnist.sh"
fi

# run NAME BINARY: runs a consumer; a shared one must load the installed libsoma.
run() {
  local name=$1 exe=$2
  if ! "$exe" >"$work/$name.out" 2>&1; then
    fail "$name exited non-zero: $(cat "$work/$name.out")"
    return
  fi
  grep -q "^xor: .*accuracy 1.00" "$work/$name.out" || fail "$name printed: $(cat "$work/$name.out")"
  local loaded
  loaded=$(ldd "$exe" | awk '/libsoma/ { print $3 }')
  case $name in
    *shared*) [ "$loaded" = "$libdir/$soname" ] || fail "$name loads libsoma from '$loaded', not $libdir/$soname" ;;
    *static*) [ -z "$loaded" ] || fail "$name is linked statically but loads $loaded" ;;
  esac
  echo "ok: $name: $(tr '\n' ' ' <"$work/$name.out")"
}

step "CMake: find_package(soma) with CMAKE_PREFIX_PATH=$prefix"
if cmake -S "$here" -B "$work/cmake" -DCMAKE_PREFIX_PATH="$prefix" -DCMAKE_C_COMPILER="$cc" \
     -DCMAKE_BUILD_TYPE=Release >"$work/configure.log" 2>&1 &&
   cmake --build "$work/cmake" >"$work/build.log" 2>&1; then
  grep "soma .* from" "$work/configure.log"
  run cmake_static "$work/cmake/consumer_static"
  run cmake_shared "$work/cmake/consumer_shared"
else
  cat "$work/configure.log" "$work/build.log" 2>/dev/null | tail -30
  fail "the CMake consumer did not configure or build"
fi

step "pkg-config with PKG_CONFIG_PATH=$libdir/pkgconfig"
export PKG_CONFIG_PATH=$libdir/pkgconfig
if ! pkg-config --exists soma; then
  fail "pkg-config does not find soma: $(pkg-config --print-errors soma 2>&1)"
else
  echo "ok: pkg-config soma $(pkg-config --modversion soma): $(pkg-config --cflags --libs soma)"
  # shellcheck disable=SC2046
  if "$cc" "$here/main.c" -o "$work/pc_shared" $(pkg-config --cflags --libs soma) -Wl,-rpath,"$libdir"; then
    run pkgconfig_shared "$work/pc_shared"
  else
    fail "cc main.c \$(pkg-config --cflags --libs soma) failed"
  fi
  static_libs=$(pkg-config --static --libs soma)
  # shellcheck disable=SC2046,SC2086
  if "$cc" "$here/main.c" -o "$work/pc_static" $(pkg-config --cflags soma) ${static_libs/-lsoma/-l:libsoma.a}; then
    run pkgconfig_static "$work/pc_static"
  else
    fail "cc main.c \$(pkg-config --static --libs soma) failed"
  fi
fi

if [ "$failures" -ne 0 ]; then
  echo "consumer: $failures failure(s)"
  exit 1
fi
echo "consumer: installed soma builds and runs with CMake and pkg-config, static and shared"
