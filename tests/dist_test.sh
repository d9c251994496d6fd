#!/usr/bin/env bash
# dist_test.sh SOMA PYTHON HAVE_MPI [DEVICE [REDUCER]]: `mpirun -np 2 soma train`
# (issue 17), on DEVICE (cpu; cuda in the CUDA emulation), the gradients
# reduced by REDUCER ("host buffer over MPI"; "NCCL" for GPU ranks where the
# build has NCCL: the emulation's stand-in, tests/emu/nccl.cpp).
#  1. two ranks reach the weights of one process with the same global batch,
#     up to the reduction order (tolerance below), also with a last batch that
#     splits unevenly (13 + 12 rows) and with SGD and Adam;
#  2. the ranks' weights are bit-identical after every step (SOMA_DIST_CHECK
#     compares a CRC-32 of every rank's weights after each step);
#  3. a checkpoint written by two ranks resumes on one and ends where one
#     process running throughout ends;
#  4. a bad file that only rank 1 reads stops both ranks with its message and
#     a non-zero exit within seconds; so does a batch that does not split;
#     other data on rank 1 is refused before the first step (the ranks
#     compare a CRC-32 of data and weights); a step that fails on rank 1
#     alone (SOMA_DIST_FAIL_AT_STEP) ends both (MPI_Abort) within seconds;
#  5. SIGTERM to one rank stops both after the same step; rank 0 saves, and
#     its checkpoint loads.
# Skipped (77) without mpirun or without MPI in this build.
#
# The tolerance: with two ranks a step's gradient is (sum of 32 rows' terms)
# * 1/2 + (sum of the other 32) * 1/2 where one process sums the 64 terms in
# one GEMM; the scaling by 1/2 and 1/64 are exact (powers of two), so only
# the order of the float additions differs: about one unit in the last place
# (6e-8 relative) per step, which 30-40 optimizer steps carry into weights
# that differ by ~2e-7 relative (measured: 2.0e-7 Adam, 1.1e-7 SGD). 1e-5
# leaves a factor of 50; a wrong shard, a missing average or a gradient
# counted twice moves the weights by more than 1e-2.
set -u
soma=$1 python=$2 have_mpi=$3 device=${4:-cpu} reducer=${5:-host buffer over MPI}
export device # the sh -c of the ranks below read it
if [ "$have_mpi" != ON ]; then echo "SKIP: this soma was built without MPI (SOMA_MPI)"; exit 77; fi
if ! command -v mpirun >/dev/null 2>&1; then echo "SKIP: mpirun not found (apt-get install openmpi-bin)"; exit 77; fi
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1
mpi=(mpirun --oversubscribe -np 2)
work=$(mktemp -d)
trap "rm -rf $work" EXIT
failures=0
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }
ok() { echo "ok: $*"; }

# 601 rows (a last batch of 25 = 12 + 13 rows), 7 features, 3 classes; seed 7
"$python" - "$work/d.csv" "$work/bad.csv" <<'EOF'
import random, sys
random.seed(7)
with open(sys.argv[1], "w") as f:
    f.write(",".join("f%d" % i for i in range(7)) + ",label\n")
    for _ in range(601):
        x = [random.gauss(0, 1) for _ in range(7)]
        y = (x[0] + x[1] > 0) + (x[2] * x[3] > 0.3)
        f.write(",".join("%.5f" % v for v in x) + ",%d\n" % y)
with open(sys.argv[2], "w") as f:
    f.write("f0,f1,label\n1,2,0\n3,oops,1\n")
EOF
cat >"$work/compare.py" <<'EOF'
import json, struct, sys
def load(p):
    b = open(p, "rb").read(); n = struct.unpack("<Q", b[:8])[0]; h = json.loads(b[8:8 + n]); d = b[8 + n:]
    return {k: struct.unpack("<%df" % ((v["data_offsets"][1] - v["data_offsets"][0]) // 4),
                             d[v["data_offsets"][0]:v["data_offsets"][1]])
            for k, v in h.items() if k.startswith("layers.")}
a, b, tol = load(sys.argv[1]), load(sys.argv[2]), float(sys.argv[3])
worst = max(max(abs(x - y) for x, y in zip(a[k], b[k])) / (max(abs(x) for x in a[k]) or 1) for k in a)
print("largest difference %.3g of the tensor's largest weight (tolerance %g)" % (worst, tol))
sys.exit(0 if worst <= tol and set(a) == set(b) else 1)
EOF
compare() { "$python" "$work/compare.py" "$@"; }
common=(--data csv:"$work/d.csv" --val-split 0 --layers 7,32,16,3 --dropout 0 --device "$device")

# 1 and 2: the same global batch on one process and on two ranks
for optim in adam sgd; do
  "$soma" train "${common[@]}" --batch 64 --optim $optim --epochs 3 --save "$work/one_$optim.st" >"$work/out1" 2>&1 ||
    fail "one process ($optim): $(cat "$work/out1")"
  SOMA_DIST_CHECK=1 "${mpi[@]}" "$soma" train "${common[@]}" --batch 64 --optim $optim --epochs 3 \
    --save "$work/two_$optim.st" >"$work/out2" 2>&1 || fail "two ranks ($optim): $(cat "$work/out2")"
  grep -q "ranks: 2 (MPI" "$work/out2" && grep -q "batch 64 = 2 x 32 rows per step" "$work/out2" &&
    ok "the header names the ranks and the split" || fail "no ranks line in: $(cat "$work/out2")"
  [ "$(grep -c '^epoch ' "$work/out2")" = 3 ] && ok "only rank 0 prints progress" ||
    fail "expected 3 epoch lines: $(cat "$work/out2")"
  # 10 steps per epoch (601 rows / 64), 3 epochs
  grep -q "SOMA_DIST_CHECK: the weights of all 2 ranks were bit-identical after each of 30 steps (gradients reduced by $reducer" "$work/out2" &&
    ok "$optim: ranks bit-identical after each of 30 steps, reduced by $reducer" ||
    fail "$optim: no step check or another reducer: $(cat "$work/out2")"
  compare "$work/one_$optim.st" "$work/two_$optim.st" 1e-5 && ok "$optim: two ranks match one process" ||
    fail "$optim: two ranks differ from one process"
done

# 2b: batchnorm's running statistics are each rank's own within an epoch
# (each normalizes its share of the batch) and the ranks' mean after it, so
# that validation and early stopping agree: SOMA_DIST_CHECK compares them at
# every epoch's end with the weights
SOMA_DIST_CHECK=1 "${mpi[@]}" "$soma" train --data csv:"$work/d.csv" --val-split 0.2 --patience 1 \
  --arch 7,dense:32,batchnorm:relu,dense:3 --device "$device" --batch 64 --epochs 3 --save "$work/bn.st" \
  >"$work/out_bn" 2>&1 || fail "two ranks with batchnorm: $(cat "$work/out_bn")"
grep -q "SOMA_DIST_CHECK: the weights of all 2 ranks were bit-identical" "$work/out_bn" && [ -s "$work/bn.st" ] &&
  ok "batchnorm on two ranks: weights and running statistics the same on both after every epoch" ||
  fail "batchnorm on two ranks: $(cat "$work/out_bn")"

# 3: two ranks for 2 epochs, then one process for 2 more; against 4 epochs in
# one process (a constant learning rate: a resumed cosine is re-planned)
resume=(--batch 64 --schedule constant)
"$soma" train "${common[@]}" "${resume[@]}" --epochs 4 --save "$work/four.st" >/dev/null 2>&1 || fail "4 epochs on one process"
"${mpi[@]}" "$soma" train "${common[@]}" "${resume[@]}" --epochs 2 --save "$work/half.st" >/dev/null 2>&1 || fail "2 epochs on 2 ranks"
"$soma" train --data csv:"$work/d.csv" --device "$device" --epochs 4 --resume "$work/half.st" --save "$work/resumed.st" \
  >"$work/out3" 2>&1 || fail "resume on one process: $(cat "$work/out3")"
grep -q "^epoch 3/4" "$work/out3" && compare "$work/four.st" "$work/resumed.st" 1e-5 &&
  ok "a 2-rank checkpoint resumed on one process ends as 4 epochs of one process" ||
  fail "resume across rank counts: $(cat "$work/out3")"

# 4: a bad file only rank 1 reads; a batch that does not split
start=$(date +%s)
timeout 60 "${mpi[@]}" sh -c 'if [ "$OMPI_COMM_WORLD_RANK" = 1 ]; then d=$1; else d=$2; fi
  exec "$0" train --data csv:"$d" --device "$device" --epochs 2 --save "$3"' "$soma" "$work/bad.csv" "$work/d.csv" \
  "$work/never.st" >"$work/out4" 2>&1
code=$? took=$(($(date +%s) - start))
if [ $code != 0 ] && [ $code != 124 ] && [ $took -le 20 ] && grep -q "rank 1 of 2: .*bad.csv:3:.*oops" "$work/out4" &&
   [ ! -e "$work/never.st" ]; then
  ok "a bad file on rank 1 stops both ranks in ${took}s, exit $code, with its message"
else
  fail "bad file on rank 1: exit $code after ${took}s: $(cat "$work/out4")"
fi
timeout 60 "${mpi[@]}" "$soma" train "${common[@]}" --batch 63 --epochs 1 >"$work/out5" 2>&1
code=$?
[ $code != 0 ] && [ $code != 124 ] && grep -q "global batch: it must split over the 2 ranks" "$work/out5" &&
  ok "--batch 63 on 2 ranks refused, exit $code" || fail "--batch 63: exit $code: $(cat "$work/out5")"

# 4b: rank 1 loads other data (its first 600 rows); a step that fails on rank 1 alone
head -n 601 "$work/d.csv" >"$work/d600.csv"
timeout 60 "${mpi[@]}" sh -c 'if [ "$OMPI_COMM_WORLD_RANK" = 1 ]; then d=$1; else d=$2; fi
  exec "$0" train --data csv:"$d" --val-split 0 --device "$device" --epochs 2 --batch 64' "$soma" "$work/d600.csv" \
  "$work/d.csv" >"$work/out8" 2>&1
code=$?
[ $code != 0 ] && [ $code != 124 ] && grep -q "rank 1's training data (600 rows x 7 features" "$work/out8" &&
  ok "other data on rank 1 refused before the first step, exit $code" || fail "other data on rank 1: $(cat "$work/out8")"
start=$(date +%s)
timeout 60 "${mpi[@]}" sh -c 'if [ "$OMPI_COMM_WORLD_RANK" = 1 ]; then export SOMA_DIST_FAIL_AT_STEP=5; fi
  exec "$0" train --data csv:"$1" --val-split 0 --device "$device" --epochs 2 --batch 64 --save "$2"' "$soma" "$work/d.csv" \
  "$work/never2.st" >"$work/out9" 2>&1
code=$? took=$(($(date +%s) - start))
if [ $code != 0 ] && [ $code != 124 ] && [ $took -le 20 ] && [ ! -e "$work/never2.st" ] &&
   grep -q "rank 1 of 2: soma_train: step 5: SOMA_DIST_FAIL_AT_STEP" "$work/out9"; then
  ok "a step failing on rank 1 alone (rank 0 waits in the all-reduce) ends both in ${took}s, exit $code"
else
  fail "a step failing on rank 1: exit $code after ${took}s: $(cat "$work/out9")"
fi

# 5: SIGTERM to rank 1 alone: both stop after the same step, rank 0 saves mid-run, and it resumes
"${mpi[@]}" sh -c 'if [ "$OMPI_COMM_WORLD_RANK" = 1 ]; then echo $$ >"$1.pid"; fi
  exec "$0" train --data csv:"$2" --val-split 0 --device "$device" --epochs 100000 --batch 22 --save "$1"' \
  "$soma" "$work/stopped.st" "$work/d.csv" >"$work/out6" 2>&1 &
launcher=$!
for _ in $(seq 100); do [ -s "$work/stopped.st.pid" ] && grep -q "^epoch 1/" "$work/out6" && break; sleep 0.1; done
kill -TERM "$(cat "$work/stopped.st.pid" 2>/dev/null)" 2>/dev/null
start=$(date +%s)
wait $launcher
code=$? took=$(($(date +%s) - start))
if [ $code != 0 ] && [ $took -le 20 ] && grep -q "interrupted by SIGTERM after .*; saved" "$work/out6" &&
   "$soma" summary --model "$work/stopped.st" >/dev/null 2>&1; then
  ok "SIGTERM to rank 1: both stopped in ${took}s (exit $code), rank 0 saved: $(grep -o 'interrupted by SIGTERM after [^;]*' "$work/out6")"
else
  fail "SIGTERM to rank 1: exit $code after ${took}s: $(tail -5 "$work/out6")"
fi

echo "$failures failure(s)"
[ $failures = 0 ]
