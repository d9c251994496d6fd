#!/usr/bin/env bash
# fuzz.sh SECONDS [TARGET...]: build the libFuzzer targets of fuzz/ with clang
# (ASan + UBSan, into build-fuzz/) and run each for SECONDS seconds, starting
# from the seed corpus in tests/corpus/TARGET. Targets: idx csv safetensors
# checkpoint train_args checkpoint_meta specs npy (default: all), run FUZZ_JOBS at a time (default: the number of
# cores). Prints executions and crashes per target, updates the fuzz rows of
# TESTING.md, and exits 1 if any target crashed, leaked, hung or hit UB.
#
# The seeds are copied into build-fuzz/corpus/TARGET, which keeps what the
# runs find (a later run starts from there; the repository is not touched).
# A crashing input is kept in build-fuzz/artifacts/TARGET/ and printed; to
# reproduce it: FUZZ_VERBOSE=1 build-fuzz/fuzz_TARGET build-fuzz/artifacts/TARGET/crash-...
# Extra libFuzzer flags: FUZZ_FLAGS="-max_len=65536".
set -euo pipefail
cd "$(dirname "$0")/.."

usage() { echo "usage: scripts/fuzz.sh SECONDS [idx|csv|safetensors|checkpoint|train_args|checkpoint_meta|specs|npy ...]" >&2; exit 2; }
if [ $# -lt 1 ] || ! [[ $1 =~ ^[0-9]+$ ]] || [ "$1" -lt 1 ]; then usage; fi
seconds=$1
shift
all=(idx csv safetensors checkpoint train_args checkpoint_meta specs npy)
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=("${all[@]}")
for t in "${targets[@]}"; do
  [[ " ${all[*]} " == *" $t "* ]] || { echo "fuzz: unknown target '$t' (${all[*]})" >&2; usage; }
done

scripts/deps.sh fuzz
echo "fuzz: building the targets into build-fuzz/"
start=$(date +%s)
mkdir -p build-fuzz
CC=clang cmake -S fuzz -B build-fuzz >build-fuzz/build.log 2>&1 || { cat build-fuzz/build.log; exit 1; }
cmake --build build-fuzz -j "$(nproc)" >>build-fuzz/build.log 2>&1 || { tail -40 build-fuzz/build.log; exit 1; }
echo "fuzz: built in $(($(date +%s) - start)) s"

jobs=${FUZZ_JOBS:-$(nproc)}
# run_target T: fuzz T for $seconds; its log in build-fuzz/logs/T.log
run_target() {
  local t=$1 dict=() rc=0
  mkdir -p "build-fuzz/corpus/$t" "build-fuzz/artifacts/$t" build-fuzz/logs
  cp -n "tests/corpus/$t"/* "build-fuzz/corpus/$t/" 2>/dev/null || true
  [ -f "fuzz/$t.dict" ] && dict=(-dict="fuzz/$t.dict")
  # -timeout: one input taking 10 s is a hang; -rss_limit_mb: and 2 GB a memory bomb
  # (and `timeout` in case libFuzzer itself never stops)
  # shellcheck disable=SC2086
  timeout $((seconds + 300)) "build-fuzz/fuzz_$t" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
    -print_final_stats=1 -artifact_prefix="build-fuzz/artifacts/$t/" "${dict[@]}" ${FUZZ_FLAGS:-} \
    "build-fuzz/corpus/$t" >"build-fuzz/logs/$t.log" 2>&1 || rc=$?
  echo "$rc" >"build-fuzz/logs/$t.rc"
}

rm -f build-fuzz/logs/*.rc
echo "fuzz: ${targets[*]}, $seconds s each, $jobs at a time"
running=0
for t in "${targets[@]}"; do
  rm -f "build-fuzz/artifacts/$t"/* 2>/dev/null || true
  run_target "$t" &
  running=$((running + 1))
  if [ "$running" -ge "$jobs" ]; then
    wait -n || true
    running=$((running - 1))
  fi
done
wait

# update_row KEY ROW: replace the line of TESTING.md that carries <!-- KEY -->
update_row() {
  [ -f TESTING.md ] || return 0
  KEY="<!-- $1 -->" ROW=$2 awk 'index($0, ENVIRON["KEY"]) { print ENVIRON["ROW"]; next } { print }' \
    TESTING.md >TESTING.md.tmp && mv TESTING.md.tmp TESTING.md
}

today=$(date -u +%Y-%m-%d)
declare -A descr=(
  [idx]="Arbitrary IDX image + label files"
  [csv]="Arbitrary CSV text, with header/label/delimiter options"
  [safetensors]="Arbitrary safetensors files (header JSON, offsets, data)"
  [checkpoint]="Arbitrary checkpoints loaded as models (metadata, shapes, normalizer, optimizer state)"
  [train_args]="Arbitrary \`soma train\` command lines"
  [checkpoint_meta]="Arbitrary checkpoint metadata (and tensor shapes and values), signed as v2"
  [specs]="Arbitrary \`--data\` and \`--layers\` specs"
  [npy]="Arbitrary NumPy .npy pairs and .npz archives"
)
failed=0
printf '\n%-12s %14s %10s %8s %8s  %s\n' target executions exec/s corpus cov result
for t in "${targets[@]}"; do
  log=build-fuzz/logs/$t.log
  rc=$(cat "build-fuzz/logs/$t.rc" 2>/dev/null || echo 1)
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  execs=${execs:-0}
  rate=$(sed -n 's/.*exec\/s: \([0-9]*\).*/\1/p' "$log" | tail -1)
  corpus=$(find "build-fuzz/corpus/$t" -type f | wc -l)
  cov=$(sed -n 's/.* cov: \([0-9]*\) .*/\1/p' "$log" | tail -1)
  crashes=$(find "build-fuzz/artifacts/$t" -type f | wc -l)
  if [ "$rc" = 0 ] && [ "$crashes" = 0 ]; then
    result="0 crashes"
  else
    failed=1
    [ "$crashes" -gt 0 ] || crashes=1
    result="FAILED (exit $rc)"
  fi
  printf '%-12s %14s %10s %8s %8s  %s\n' "$t" "$execs" "${rate:-?}" "$corpus" "${cov:-?}" "$result"
  if [ "$result" = "0 crashes" ]; then
    outcome="$today: $execs executions in $seconds s, **0 crashes** ($cov coverage edges, corpus $corpus inputs)"
  else
    outcome="$today: **FAILED** (exit $rc) after $execs executions; input in build-fuzz/artifacts/$t"
  fi
  update_row "auto:fuzz:$t" "| ${descr[$t]} | fuzz_$t, \`scripts/fuzz.sh $seconds $t\` | $outcome <!-- auto:fuzz:$t --> |"
done

if [ "$failed" = 1 ]; then
  for t in "${targets[@]}"; do
    [ "$(cat "build-fuzz/logs/$t.rc" 2>/dev/null || echo 1)" = 0 ] && continue
    echo
    echo "==== fuzz_$t: the report in build-fuzz/logs/$t.log"
    # from the first line of the report (sanitizer, invariant, timeout, memory), else the end
    grep -v '^#[0-9]' "build-fuzz/logs/$t.log" |
      sed -n '/ERROR: \|runtime error\|fuzz invariant failed\|deadly signal\|ALARM\|out-of-memory/,$p' |
      grep -v '^  0x\|^Shadow\|^  [A-Z][a-z].*: *[0-9a-f ]*$' | head -70
    grep -qE "ERROR: |runtime error|fuzz invariant failed|deadly signal|ALARM|out-of-memory" "build-fuzz/logs/$t.log" ||
      tail -40 "build-fuzz/logs/$t.log"
    for f in "build-fuzz/artifacts/$t"/*; do
      [ -f "$f" ] || continue
      echo "---- $f ($(wc -c <"$f") bytes; reproduce: FUZZ_VERBOSE=1 build-fuzz/fuzz_$t $f)"
      od -A d -c "$f" | head -40
    done
  done
  echo "fuzz: FAILED"
  exit 1
fi
echo "fuzz: all targets ran $seconds s without a crash"
