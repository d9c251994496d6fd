#!/usr/bin/env bash
# cuda_module_test.sh SOMA LIBSOMA MODULE CC INCLUDE_DIR: the CUDA backend as a
# module (src/core/cuda_module.c), for a build with SOMA_CUDA_MODULE=ON.
#   a. libsoma.so and the soma CLI need no CUDA library (readelf -d NEEDED),
#      the module does;
#   b. with the module found, `soma train --device auto` trains on the CPU and
#      says why in a line after "device:" (no driver here), or takes the GPU
#      where one is usable;
#   c. with the module missing (SOMA_CUDA_MODULE naming no file; a soma copied
#      away from it), it trains on the CPU and names the module and where it
#      was looked for; --device cuda fails with the same reason, exit 1;
#   d. a module whose libcudart cannot be found: the loader's error is the reason;
#   e. a module built for another soma (ABI text) is refused, saying both;
#   f. a program linking libsoma.so finds the module beside libsoma.so.
# Every check prints ok or FAIL; exit 1 on any FAIL.
set -u
soma=$1 libsoma=$2 module=$3 cc=$4 include=$5
. "$(dirname "$0")/test_lib.sh"
cuda_libs='libcudart|libcublas|libcublasLt|libcudnn|libcuda\.|libnvrtc|libnccl'

# ---- a. NEEDED entries ---------------------------------------------------------
for f in "$libsoma" "$soma"; do
  needed=$(readelf -d "$f" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p' | tr '\n' ' ')
  if echo "$needed" | grep -Eq "$cuda_libs"; then
    fail "$(basename "$f") needs a CUDA library: $needed"
  else
    ok "$(basename "$f") NEEDED: $needed"
  fi
done
needed=$(readelf -d "$module" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p' | tr '\n' ' ')
echo "$needed" | grep -q libcudart && ok "$(basename "$module") NEEDED: $needed" ||
  fail "$(basename "$module") does not need libcudart (is it the CUDA module?): $needed"

# ---- a tiny training set: XOR, 8 rows -------------------------------------------
printf 'a,b,label\n0,0,0\n0,1,1\n1,0,1\n1,1,0\n0,0,0\n0,1,1\n1,0,1\n1,1,0\n' >"$work/xor.csv"
# train NAME [ENV=VALUE...]: soma train --device auto, stdout and stderr apart
train() {
  local name=$1
  shift
  env "$@" "$soma" train --data "csv:$work/xor.csv" --epochs 1 --layers 2,4,2 --device auto \
    >"$work/$name.out" 2>"$work/$name.err"
}
# expect_cpu NAME REASON: trained, on the CPU, with one line giving REASON
expect_cpu() {
  local name=$1 reason=$2 rc=$3
  if [ "$rc" != 0 ]; then
    fail "$name: soma train exited $rc: $(cat "$work/$name.err")"
  elif ! grep -q "^device: cpu" "$work/$name.out"; then
    fail "$name: not on the CPU: $(grep '^device' "$work/$name.out")"
  elif ! grep -q "^--device auto: using the CPU: .*$reason" "$work/$name.out"; then
    fail "$name: the output does not say '$reason': $(cat "$work/$name.out")"
  else
    ok "$name: $(grep -- '^--device auto' "$work/$name.out")"
  fi
}
# expect_cuda_error NAME REASON [ENV=VALUE...]: --device cuda fails, exit 1, giving REASON
expect_cuda_error() {
  local name=$1 reason=$2
  shift 2
  env "$@" "$soma" train --data "csv:$work/xor.csv" --epochs 1 --layers 2,4,2 --device cuda \
    >/dev/null 2>"$work/$name.err"
  local rc=$?
  if [ $rc = 1 ] && grep -q "cannot open 'cuda': .*$reason" "$work/$name.err"; then
    ok "$name: exit $rc, $(cat "$work/$name.err")"
  else
    fail "$name: exit $rc (expected 1) or no '$reason' in: $(cat "$work/$name.err")"
  fi
}

# ---- b. the module beside soma -----------------------------------------------------
train present SOMA_CUDA_MODULE=
rc=$?
if [ $rc = 0 ] && grep -q "^device: cuda" "$work/present.out"; then
  ok "present: a GPU is usable: $(grep '^device' "$work/present.out")"
else
  expect_cpu present "no usable CUDA device" $rc # the module loaded, the driver said no
  expect_cuda_error present_cuda "no usable CUDA device" SOMA_CUDA_MODULE=
fi

# ---- c. no module --------------------------------------------------------------------
train env_missing SOMA_CUDA_MODULE="$work/nowhere/libsoma-cuda.so"
expect_cpu env_missing "SOMA_CUDA_MODULE=$work/nowhere/libsoma-cuda.so does not exist" $?
expect_cuda_error env_missing_cuda "SOMA_CUDA_MODULE=$work/nowhere/libsoma-cuda.so does not exist" \
  SOMA_CUDA_MODULE="$work/nowhere/libsoma-cuda.so"
# soma alone in a directory, without the RUNPATH that leads back to the build
# (patchelf), so that no step of the search finds a module
if command -v patchelf >/dev/null; then
  mkdir "$work/alone"
  cp "$soma" "$work/alone/soma"
  runpath=$(readelf -d "$soma" | sed -n 's/.*(RUNPATH).*\[\(.*\)\]/\1/p' | tr ':' '\n' |
            grep -vx "$(dirname "$(readlink -f "$module")")" | paste -sd: -)
  patchelf --set-rpath "$runpath" "$work/alone/soma"
  soma_saved=$soma soma=$work/alone/soma
  train alone SOMA_CUDA_MODULE=
  expect_cpu alone "the CUDA module libsoma-cuda.so was not found (tried $work/alone/libsoma-cuda.so, " $?
  soma=$soma_saved
else
  echo "skipped: soma copied away from the module (patchelf is not installed)"
fi

# ---- d. a module whose CUDA runtime is missing ------------------------------------------
# A stand-in library with the SONAME libcudart.so.99, linked into a module and
# then removed: loading the module fails the way it does on a machine without CUDA.
mkdir "$work/nocudart"
echo 'int soma_test_runtime_stub;' >"$work/stub.c"
echo 'extern int soma_test_runtime_stub; int *soma_test_use(void) { return &soma_test_runtime_stub; }' >"$work/mod.c"
if "$cc" -shared -fPIC -o "$work/libcudart.so.99" -Wl,-soname,libcudart.so.99 "$work/stub.c" &&
   "$cc" -shared -fPIC -o "$work/nocudart/libsoma-cuda.so" "$work/mod.c" -Wl,--no-as-needed "$work/libcudart.so.99"; then
  rm "$work/libcudart.so.99"
  train nocudart SOMA_CUDA_MODULE="$work/nocudart/libsoma-cuda.so"
  expect_cpu nocudart "the CUDA module $work/nocudart/libsoma-cuda.so does not load: libcudart.so.99: cannot open shared object file" $?
  expect_cuda_error nocudart_cuda "libcudart.so.99: cannot open shared object file" \
    SOMA_CUDA_MODULE="$work/nocudart/libsoma-cuda.so"
else
  fail "could not build the stand-in module with $cc"
fi

# ---- e. a module of another soma ----------------------------------------------------------
cat >"$work/other.c" <<'EOF'
const char *soma_cuda_module_abi(void) { return "ABI 0, soma 0.0.1"; }
const void *soma_cuda_backend_entry(const char *abi, const void *host) { (void)abi, (void)host; return 0; }
EOF
mkdir "$work/other"
if "$cc" -shared -fPIC -o "$work/other/libsoma-cuda.so" "$work/other.c"; then
  train other SOMA_CUDA_MODULE="$work/other/libsoma-cuda.so"
  expect_cpu other "belongs to another soma: it was built for \[ABI 0, soma 0.0.1\], this libsoma is \[ABI " $?
else
  fail "could not build the foreign module with $cc"
fi

# ---- f. libsoma.so finds the module beside it ------------------------------------------------
# libsoma.so (under its SONAME) and a program in a directory of their own,
# with the module or without it.
cat >"$work/probe.c" <<'EOF'
#include <stdio.h>
#include <soma.h>
int main(void) {
    const char *why = NULL;
    int n = soma_cuda_device_count(&why);
    printf("%d %s\n", n, n > 0 ? "" : why);
    return 0;
}
EOF
soname=$(readelf -d "$libsoma" | sed -n 's/.*Library soname: \[\(.*\)\]/\1/p')
mkdir "$work/lib"
cp "$(readlink -f "$libsoma")" "$work/lib/$soname"
ln -s "$soname" "$work/lib/libsoma.so"
if "$cc" -I"$include" "$work/probe.c" -o "$work/lib/probe" -L"$work/lib" -lsoma -Wl,-rpath,"$work/lib"; then
  got=$(SOMA_CUDA_MODULE= "$work/lib/probe")
  case $got in
    "0 the CUDA module libsoma-cuda.so was not found (tried $work/lib/libsoma-cuda.so, "*) ok "libsoma.so without a module beside it: $got" ;;
    *) fail "libsoma.so without a module beside it: '$got'" ;;
  esac
  cp "$module" "$work/lib/libsoma-cuda.so"
  got=$(SOMA_CUDA_MODULE= "$work/lib/probe")
  case $got in
    "0 no usable CUDA device"* | [1-9]*) ok "libsoma.so with the module beside it: $got" ;;
    *) fail "libsoma.so with the module beside it: '$got'" ;;
  esac
else
  fail "could not build a program against $libsoma"
fi

finish cuda_module "the core links no CUDA library and --device auto says why it uses the CPU"
