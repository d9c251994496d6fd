#!/usr/bin/env bash
# sanitize.sh: the test suite and the CLI under the sanitizers and valgrind.
#  1. build-asan/: a second build with AddressSanitizer + UBSan
#     (-DSOMA_SANITIZE=address,undefined: the library, the tests, the
#     examples and the CLI; all but the float64 reference ops, see below)
#     whose CUDA backend is the CPU emulation (-DSOMA_CUDA_EMULATION=ON:
#     kernels, src/cuda and the stand-ins under the sanitizers too), and the
#     whole ctest suite on it; any invalid access, leak (LeakSanitizer) or
#     undefined behaviour fails its test.
#  2. build-valgrind/: a plain build of the CLI without CUDA (RelWithDebInfo,
#     so reports have lines), and a small training session under valgrind:
#     train, resume, eval, predict, summary, and two runs that fail on bad
#     input (their error paths must not leak either). No suppressions.
#  3. When build/soma exists with the CUDA backend (its module
#     build/libsoma-cuda.so, or linked in; scripts/test.sh built it on a
#     machine with nvcc), the same session on it, with
#     tests/valgrind.supp: suppressions for the CUDA libraries' own reports,
#     each explained there.
# Updates the sanitizer rows of TESTING.md; exits 1 if anything failed.
# Logs: build-asan/sanitize-ctest.log, build-valgrind/logs/.
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1
scripts/deps.sh sanitize || exit 1
jobs=$(nproc)
today=$(date -u +%Y-%m-%d)
failed=0

# update_row KEY ROW: replace the line of TESTING.md that carries <!-- KEY -->
update_row() {
  [ -f TESTING.md ] || return 0
  KEY="<!-- $1 -->" ROW=$2 awk 'index($0, ENVIRON["KEY"]) { print ENVIRON["ROW"]; next } { print }' \
    TESTING.md >TESTING.md.tmp && mv TESTING.md.tmp TESTING.md
}

# ---- 1. ASan + UBSan ---------------------------------------------------------------
start=$(date +%s)
mkdir -p build-asan
# One file is built without the sanitizers: src/ref/reference.c, the float64
# reference ops that the op tests compare against (the oracle, not code a
# user's data goes through). Its GEMM is more than half of test_ops' time
# under ASan + UBSan, and test_ops runs four times (per ISA, odd thread count).
cat >build-asan/sanitize-exclude.cmake <<'EOF'
# written by scripts/sanitize.sh (CMAKE_PROJECT_INCLUDE): the test oracle without sanitizers
set_source_files_properties(src/ref/reference.c PROPERTIES COMPILE_OPTIONS -fno-sanitize=all)
EOF
echo "sanitize: building build-asan/ (ASan + UBSan, CUDA emulated on the CPU)"
if PATH="/usr/local/cuda/bin:$PATH" cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=RelWithDebInfo \
     -DSOMA_SANITIZE=address,undefined -DSOMA_CUDA_EMULATION=ON \
     -DCMAKE_PROJECT_INCLUDE="$PWD/build-asan/sanitize-exclude.cmake" >build-asan/sanitize-build.log 2>&1 &&
   cmake --build build-asan -j "$jobs" >>build-asan/sanitize-build.log 2>&1; then
  built=$(($(date +%s) - start))
  echo "sanitize: built in $built s; running ctest"
  start=$(date +%s)
  # LSan runs in every process, Check's forked test children included, with
  # tests/lsan.supp (other libraries' own leaks, explained there). UBSan stops
  # at the first report (gcc's UBSan would otherwise print and go on).
  # allocator_may_return_null: test_faults asks for a 10^6 x 10^6 layer and
  # expects an error, not ASan's "allocation-size-too-big" abort.
  # CK_TIMEOUT_MULTIPLIER: Check's per-test timeouts, for code running
  # several times slower under the sanitizers.
  ASAN_OPTIONS=detect_leaks=1:allocator_may_return_null=1 \
  LSAN_OPTIONS=suppressions=$PWD/tests/lsan.supp:print_suppressions=0 \
  UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
  CK_TIMEOUT_MULTIPLIER=${CK_TIMEOUT_MULTIPLIER:-5} \
    ctest --test-dir build-asan --output-on-failure -j "$jobs" >build-asan/sanitize-ctest.log 2>&1
  rc=$?
  took=$(($(date +%s) - start))
  summary=$(grep -E "tests passed|tests failed" build-asan/sanitize-ctest.log | tail -1)
  skipped=$(grep -cE "\*\*\*Skipped|Not Run" build-asan/sanitize-ctest.log || true)
  reports=$(grep -cE "ERROR: AddressSanitizer|ERROR: LeakSanitizer|runtime error:" build-asan/sanitize-ctest.log || true)
  echo "sanitize: ctest: $summary ($skipped skipped, $reports sanitizer reports, $took s)"
  if [ $rc = 0 ] && [ "$reports" = 0 ]; then
    outcome="$today: $summary ($skipped skipped), **0 sanitizer reports**; build ${built} s, tests ${took} s"
  else
    failed=1
    outcome="$today: **FAILED**: $summary, $reports sanitizer reports (build-asan/sanitize-ctest.log)"
    grep -E -B2 -A25 "ERROR: AddressSanitizer|ERROR: LeakSanitizer|runtime error:" build-asan/sanitize-ctest.log | head -150
    grep -E "\*\*\*Failed|\*\*\*Exception|\*\*\*Timeout" build-asan/sanitize-ctest.log
  fi
else
  failed=1
  tail -40 build-asan/sanitize-build.log
  outcome="$today: **FAILED**: the build failed (build-asan/sanitize-build.log)"
fi
update_row "auto:asan" "| Whole test suite under AddressSanitizer + LeakSanitizer + UBSan, CUDA emulated | \`scripts/sanitize.sh\`: build-asan/ (\`-DSOMA_SANITIZE=address,undefined -DSOMA_CUDA_EMULATION=ON\`, gcc; not src/ref nor the emulated GEMM's arithmetic), every ctest test | $outcome <!-- auto:asan --> |"

# ---- 2 and 3. valgrind on the CLI --------------------------------------------------
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# the data of tests/cli_test.sh: label = x0 + x1 > x2, 2 noise features
awk 'BEGIN { srand(7); print "a,b,c,d,e,label";
  for (i = 0; i < 300; i++) { a = rand(); b = rand(); c = rand() * 2; d = rand(); e = rand();
    printf "%.5f,%.5f,%.5f,%.5f,%.5f,%d\n", a, b, c, d, e, (a + b > c) } }' >"$work/train.csv"
printf 'a,b,c\n1,2,3\n4,oops,6\n' >"$work/bad.csv"

# The valgrind runs: NAME|EXPECTED EXIT|soma's arguments, expanded when run
# ($m: the model's path prefix).
# shellcheck disable=SC2016
runs='train|0|train --data csv:$work/train.csv --layers 5,16,2 --epochs 2 --batch 32 --device auto --save $m.st --log $m.csv
resume|0|train --data csv:$work/train.csv --layers 5,16,2 --epochs 3 --batch 32 --device cpu --resume $m.st --save $m-resumed.st
eval|0|eval --model $m.st --data csv:$work/train.csv --device auto --json
predict|0|predict --model $m.st --data csv:$work/train.csv --device cpu --raw
summary|0|summary --model $m-resumed.st
bad_csv|1|train --data csv:$work/bad.csv --epochs 1 --device cpu --save $m-none.st
bad_model|1|eval --model $work/train.csv --data csv:$work/train.csv --device cpu'

# session SOMA LOGDIR "NAME..." [valgrind options...]: those runs under
# valgrind; prints "runs errors lost-bytes failed-runs"
session() {
  local soma=$1 logs=$2 names=" $3 "
  shift 3
  # shellcheck disable=SC2054
  local vg=(valgrind --leak-check=full --errors-for-leak-kinds=definite,indirect --show-leak-kinds=definite,indirect
            --error-exitcode=9 --track-origins=yes --num-callers=30 "$@")
  local count=0 errors=0 lost=0 bad=0 name want cmd got e l
  local m
  # shellcheck disable=SC2034 # used by the eval of each run's arguments
  m=$work/model-$(basename "$logs")
  rm -rf "$logs"
  mkdir -p "$logs"
  while IFS='|' read -r name want cmd; do
    [[ $names == *" $name "* ]] || continue
    eval "set -- $cmd"
    # OPENBLAS_NUM_THREADS=1: soma would start itself again to set it
    # (tools/openblas_env.c), and valgrind does not follow into the new program
    OMP_NUM_THREADS=2 OPENBLAS_NUM_THREADS=1 "${vg[@]}" --log-file="$logs/$name.vg" "$soma" "$@" >"$logs/$name.out" 2>"$logs/$name.err"
    got=$?
    count=$((count + 1))
    e=$(sed -n 's/.*ERROR SUMMARY: \([0-9,]*\) errors.*/\1/p' "$logs/$name.vg" | tail -1 | tr -d ,)
    l=$(awk '/definitely lost:|indirectly lost:/ { gsub(",", "", $4); s += $4 } END { print s + 0 }' "$logs/$name.vg")
    errors=$((errors + ${e:-1}))
    lost=$((lost + l))
    if [ "$got" != "$want" ] || [ "${e:-1}" != 0 ] || [ "$l" != 0 ]; then
      bad=$((bad + 1))
      echo "sanitize: valgrind $name: exit $got (expected $want), ${e:-?} errors, $l bytes lost" >&2
      grep -v "^==[0-9]*== *$" "$logs/$name.vg" | head -80 >&2
      tail -5 "$logs/$name.err" >&2
    fi
  done <<<"$runs"
  echo "$count $errors $lost $bad"
}

valgrind_row() { # KEY WHAT HOW RUNS RESULT(count errors lost bad)
  local count errors lost bad outcome
  read -r count errors lost bad <<<"$5"
  if [ "$bad" = 0 ]; then
    outcome="$today: $count runs ($4), **0 errors, 0 bytes definitely/indirectly lost**"
  else
    failed=1
    outcome="$today: **FAILED**: $bad of $count runs, $errors errors, $lost bytes lost"
  fi
  update_row "$1" "| $2 | $3 | $outcome <!-- $1 --> |"
}

echo "sanitize: building build-valgrind/ (the CLI, no CUDA, RelWithDebInfo)"
start=$(date +%s)
mkdir -p build-valgrind
if cmake -S . -B build-valgrind -DCMAKE_BUILD_TYPE=RelWithDebInfo -DSOMA_CUDA=OFF -DSOMA_BUILD_TESTS=OFF \
     -DSOMA_BUILD_EXAMPLES=OFF >build-valgrind/sanitize-build.log 2>&1 &&
   cmake --build build-valgrind -j "$jobs" --target soma_cli >>build-valgrind/sanitize-build.log 2>&1; then
  echo "sanitize: built in $(($(date +%s) - start)) s; valgrind session"
  start=$(date +%s)
  all_runs="train resume eval predict summary bad_csv bad_model"
  result=$(session build-valgrind/soma build-valgrind/logs "$all_runs")
  echo "sanitize: valgrind (no CUDA): runs/errors/bytes lost/failed runs: $result ($(($(date +%s) - start)) s)"
  valgrind_row auto:valgrind "CLI session under valgrind memcheck (CPU build)" \
    "\`scripts/sanitize.sh\`: build-valgrind/soma, \`--leak-check=full --errors-for-leak-kinds=definite,indirect\`, no suppressions" \
    "train, resume, eval, predict, summary; bad CSV and bad model failing" "$result"
else
  failed=1
  tail -40 build-valgrind/sanitize-build.log
  update_row auto:valgrind "| CLI session under valgrind memcheck (CPU build) | \`scripts/sanitize.sh\` | $today: **FAILED**: the build failed <!-- auto:valgrind --> |"
fi

# a CUDA build: its module beside it (SOMA_CUDA_MODULE=ON), or linked in
if [ -x build/soma ] && { [ -e build/libsoma-cuda.so ] || ldd build/soma 2>/dev/null | grep -q libcudart; }; then
  echo "sanitize: valgrind session on build/soma (with the CUDA backend), with tests/valgrind.supp"
  start=$(date +%s)
  # two runs (about 20 s each: valgrind reads the CUDA libraries' symbols),
  # both through --device auto, the CUDA-only path (probe, fall back to the CPU)
  result=$(session build/soma build-valgrind/logs-cuda "train eval" --suppressions=tests/valgrind.supp \
           --track-origins=no)
  echo "sanitize: valgrind (CUDA build): runs/errors/bytes lost/failed runs: $result ($(($(date +%s) - start)) s)"
  valgrind_row auto:valgrind-cuda "CLI session under valgrind memcheck (CUDA build, no GPU)" \
    "\`scripts/sanitize.sh\`: build/soma as scripts/test.sh built it, suppressions in tests/valgrind.supp" \
    "train and eval with --device auto" "$result"
else
  echo "sanitize: build/soma is missing or not linked to CUDA: no valgrind session on a CUDA build"
fi

if [ "$failed" != 0 ]; then
  echo "sanitize: FAILED"
  exit 1
fi
echo "sanitize: all passed"
