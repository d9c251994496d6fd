#!/usr/bin/env bash
# dist_scaling.sh [BUILD] [RUNS]: data-parallel scaling on the CPU (issue 17):
# `soma train` on MNIST as one process with one thread, then as two MPI
# ranks with one thread each (mpirun -np 2, one core per rank), the same
# global batch (128), no validation split (the epoch is training alone).
# Two models: soma's default 784-256-128-10 (235k parameters, 0.9 MB of
# gradients per all-reduce) and a larger 784-1024-1024-10 (1.86M, 7.4 MB).
# Prints, per model, the median epoch time (epochs 2-3 of each run, from
# --log; the first epoch warms caches) over RUNS runs, the speed-up and the
# efficiency speed-up / 2. Needs MNIST (scripts/fetch-mnist.sh) and mpirun;
# MPIRUN_ARGS adds options to mpirun (e.g. "--mca mpi_yield_when_idle 1": a
# waiting rank yields its core instead of spinning, kinder on a busy machine).
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
runs=${2:-3}
soma=$build/soma
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# median of the seconds column (6th) of epochs 2.. of every log given
median() { awk -F, 'FNR > 2 { print $6 }' "$@" | sort -g | awk '{ v[NR] = $1 } END {
  print (NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2) }'; }

echo "cpu: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(nproc --all) cores; load before: $(cut -d' ' -f1-3 /proc/loadavg)"
for layers in 784,256,128,10 784,1024,1024,10; do
  args=(train --data mnist --device cpu --layers "$layers" --batch 128 --epochs 3 --val-split 0 --seed 1)
  for r in $(seq "$runs"); do
    "$soma" "${args[@]}" --log "$work/one_$r.csv" >/dev/null
    mpirun --oversubscribe -np 2 --bind-to core ${MPIRUN_ARGS:-} "$soma" "${args[@]}" --log "$work/two_$r.csv" >/dev/null 2>&1
  done
  t1=$(median "$work"/one_*.csv) t2=$(median "$work"/two_*.csv)
  awk -v l="$layers" -v a="$t1" -v b="$t2" -v n="$runs" 'BEGIN {
    printf "%-18s 1 rank %.3f s/epoch   2 ranks %.3f s/epoch   speed-up %.2f   efficiency %.0f%%   (median of %d epochs each)\n",
           l, a, b, a / b, 50 * a / b, 2 * n }'
  rm -f "$work"/*.csv
done
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"
