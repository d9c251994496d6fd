#!/usr/bin/env bash
# cli_test.sh SOMA PYTHON TESTS_DIR: the soma command as a user meets it.
# Bad arguments and unreadable data give a one-line error and a non-zero exit
# (2 for usage, 1 for failures) and write nothing to --save; a small run
# trains, saves, evaluates, predicts and resumes bit for bit; an independent
# Python forward pass over the saved checkpoint matches `soma predict`.
set -u
soma=$1 python=$2 tests=$3
export TESTS_DIR=$tests
. "$(dirname "$0")/test_lib.sh"


# a learnable CSV: label = x0 + x1 > x2 (+ 2 noise features), with a header
awk 'BEGIN { srand(7); print "a,b,c,d,e,label";
  for (i = 0; i < 300; i++) { a = rand(); b = rand(); c = rand() * 2; d = rand(); e = rand();
    printf "%.5f,%.5f,%.5f,%.5f,%.5f,%d\n", a, b, c, d, e, (a + b > c) } }' >"$work/train.csv"
printf 'a,b,c\n1,2,3\n4,oops,6\n' >"$work/bad.csv"

expect 2 "--data is required" -- "$soma" train --save "$work/none.st"
expect 2 "unknown option '--bogus'" -- "$soma" train --bogus
expect 2 "--lr needs a finite number (|x| <= 3.4e38), got 'abc'" -- "$soma" train --data mnist --lr abc
expect 2 "--lr needs a finite number (|x| <= 3.4e38), got '1e39'" -- "$soma" train --data mnist --lr 1e39
expect 2 "--seed needs a non-negative integer, got ' -5'" -- "$soma" train --data mnist --seed " -5"
expect 2 "--epochs needs an integer, got ' 3'" -- "$soma" train --data mnist --epochs " 3"
expect 2 "--gamma must be > 0" -- "$soma" train --data mnist --gamma -0.5
expect 2 "--min-lr must be >= 0" -- "$soma" train --data mnist --min-lr -1
expect 2 "--epochs needs a value" -- "$soma" train --data mnist --epochs
expect 2 "--act: .*unknown activation 'swish'" -- "$soma" train --data mnist --act swish
expect 2 "--val-split must be in \[0, 1)" -- "$soma" train --data mnist --val-split 1.5
expect 2 "--layers '5,x' is not a list" -- "$soma" train --data "csv:$work/train.csv" --layers 5,x
# sizes are plain digits: no sign, blank, empty item or trailing comma; no more than int32
for layers in "5,8,2," "5,+8,2" "5, 8,2" "5,,2" "5,0,2" "5,2147483648,2"; do
  expect 2 "--layers '$layers' is not a list of sizes from 1 to 2147483647" -- "$soma" train --data mnist --layers "$layers"
done
expect 2 "--layers needs 2 to .* sizes, inputs first, got '784'" -- "$soma" train --data mnist --layers 784
expect 2 "--layers has more than .* sizes" -- "$soma" train --data mnist --layers 784$(printf ',8%.0s' $(seq 40))
expect 2 "--layers starts with 7 inputs but the data has 5 features" -- "$soma" train --data "csv:$work/train.csv" --layers 7,3,2
expect 2 "unknown --data 'foo'" -- "$soma" train --data foo --save "$work/none.st"
expect 1 "missing.csv" -- "$soma" train --data "csv:$work/missing.csv" --save "$work/none.st"
expect 1 "bad.csv:3:2: 'oops' is not a number" -- "$soma" train --data "csv:$work/bad.csv" --save "$work/none.st"
expect 2 "label=4294967298: a column index counts from 0" -- "$soma" train --data "csv:$work/train.csv,label=4294967298" --save "$work/none.st"
expect 2 "label=-1: a column index counts from 0" -- "$soma" train --data "csv:$work/train.csv,label=-1" --save "$work/none.st"
expect 1 "no_such_model" -- "$soma" eval --model "$work/no_such_model.st" --data "csv:$work/train.csv"
expect 1 "not a soma checkpoint\|too short\|shorter\|malformed\|header" -- "$soma" summary --model "$work/train.csv"
# labels out of range for the output layer, in a real file
awk 'NR == 1 || NR > 2 { print } NR == 2 { sub(/,[01]$/, ",5"); print }' "$work/train.csv" >"$work/bad_label.csv"
expect 1 "target of row 0 is 5, not a class index in \[0, 2)" -- "$soma" train --data "csv:$work/bad_label.csv" \
  --layers 5,8,2 --loss xent --val-split 0 --save "$work/none.st"
# ... also when a validation split shuffled the rows: the message counts data rows of the file
awk 'NR != 152 { print } NR == 152 { sub(/,[01]$/, ",7"); print }' "$work/train.csv" >"$work/bad_label_150.csv"
expect 1 "target of row 150 is 7, not a class index in \[0, 2)" -- "$soma" train --data "csv:$work/bad_label_150.csv" \
  --layers 5,8,2 --loss xent --val-split 0.2 --save "$work/none.st"
[ -e "$work/none.st" ] && fail "a failed run wrote --save"

# a real run: train, evaluate, predict, summarize
if ! "$soma" train --data "csv:$work/train.csv" --layers 5,16,2 --epochs 30 --batch 16 --lr 0.01 \
     --device cpu --save "$work/model.st" --log "$work/metrics.csv" >"$work/train.log" 2>&1; then
  fail "training failed: $(tail -3 "$work/train.log")"
fi
grep -q "^epoch 30/30" "$work/train.log" || fail "no epoch 30 line"
[ "$(wc -l <"$work/metrics.csv")" = 31 ] || fail "metrics.csv should have a header and 30 rows"
"$soma" eval --model "$work/model.st" --data "csv:$work/train.csv" --device cpu --json >"$work/eval.json" ||
  fail "eval failed"
"$python" -c "import json,sys; r=json.load(open('$work/eval.json')); sys.exit(0 if r['accuracy'] > 0.85 else 1)" ||
  fail "accuracy too low: $(cat "$work/eval.json")"
"$soma" summary --model "$work/model.st" | grep -q "total parameters: 130" || fail "summary"
"$soma" predict --model "$work/model.st" --data "csv:$work/train.csv" --device cpu >"$work/classes.txt" ||
  fail "predict failed"
[ "$(wc -l <"$work/classes.txt")" = 300 ] || fail "predict should print 300 lines"
"$soma" predict --model "$work/model.st" --data "csv:$work/train.csv" --device cpu --raw >"$work/raw.txt"
"$python" "$tests/checkpoint_forward.py" "$work/model.st" "$work/train.csv" "$work/raw.txt" ||
  fail "an independent forward pass disagrees with soma predict"
"$python" "$tests/read_safetensors.py" "$work/model.st" --shape layers.0.weight=16x5 \
  --shape layers.0.bias=16 --shape layers.1.weight=2x16 --meta format=soma.mlp.v2 >/dev/null ||
  fail "the Python reader rejects the checkpoint"

# --profile: after every epoch, a line with the time of every part
"$soma" train --data "csv:$work/train.csv" --layers 5,16,2 --epochs 2 --batch 16 --dropout 0.2 --device cpu \
  --profile >"$work/profile.log" 2>&1 || fail "a --profile run failed: $(tail -3 "$work/profile.log")"
[ "$(grep -c '^  profile: ' "$work/profile.log")" = 2 ] || fail "--profile: not one profile line per epoch"
for part in gemm elementwise dropout loss optimizer data validation other; do
  grep '^  profile: ' "$work/profile.log" | grep -q " $part [0-9.]*s ([0-9]*%)" || fail "--profile: no '$part' part"
done

# --log-every: the running loss every N steps (300 rows, 240 for training, batch 16: 15 steps,
# lines after steps 4, 8 and 12 of each epoch); the GPU options are refused when out of range
# and change nothing on the CPU
"$soma" train --data "csv:$work/train.csv" --layers 5,16,2 --epochs 2 --batch 16 --val-split 0.2 --device cpu \
  --log-every 4 --no-graph --data-budget 1 >"$work/log_every.log" 2>&1 ||
  fail "a --log-every run failed: $(tail -3 "$work/log_every.log")"
[ "$(grep -c '^  step [0-9]*  train_loss [0-9.]*$' "$work/log_every.log")" = 6 ] ||
  fail "--log-every 4: not 3 step lines per epoch: $(grep step "$work/log_every.log")"
expect 2 "--log-every must be >= 0" -- "$soma" train --data mnist --log-every -1
expect 2 "--data-budget must be a size in MiB" -- "$soma" train --data mnist --data-budget -2

# --precision: bf16 GEMM operands train too, say so, and go into the checkpoint;
# a resume keeps it; an unknown precision is refused by name
"$soma" train --data "csv:$work/train.csv" --layers 5,16,2 --epochs 3 --batch 16 --lr 0.01 --device cpu \
  --precision bf16 --save "$work/bf16.st" >"$work/bf16.log" 2>&1 || fail "a --precision bf16 run failed: $(tail -3 "$work/bf16.log")"
grep -q "^precision bf16: GEMM operands rounded" "$work/bf16.log" || fail "--precision bf16: no precision line"
"$python" "$tests/read_safetensors.py" "$work/bf16.st" --meta train.precision=bf16 >/dev/null ||
  fail "--precision bf16: the checkpoint does not say train.precision=bf16"
"$soma" train --data "csv:$work/train.csv" --resume "$work/bf16.st" --epochs 4 --device cpu \
  --save "$work/bf16.st" >"$work/bf16_resume.log" 2>&1 || fail "resuming a bf16 run failed: $(tail -3 "$work/bf16_resume.log")"
grep -q "^precision bf16" "$work/bf16_resume.log" || fail "a resumed bf16 run did not keep its precision"
expect 2 "--precision: soma_precision_parse: unknown precision 'fp16' (expected fp32, tf32 or bf16)" -- "$soma" train \
  --data "csv:$work/train.csv" --precision fp16

# a checkpoint of another shape is refused by --init, both shapes named
expect 1 "tensor 'layers.0.weight' has shape \[16, 5\] but the model needs \[8, 5\]" -- "$soma" train \
  --data "csv:$work/train.csv" --layers 5,8,2 --init "$work/model.st" --epochs 1 --save "$work/none.st"
[ -e "$work/none.st" ] && fail "a failed --init wrote --save"

# resume: 2 epochs straight == 1 epoch, save, resume, 1 more (bit for bit).
# Here with a constant schedule, whose plan does not depend on --epochs; with
# the default (cosine) one a run resumed with more epochs is re-planned over
# the new total (below), and tests/hostile.sh (c5) resumes an interrupted run
# bit for bit with it.
common=(--data "csv:$work/train.csv" --layers 5,16,2 --batch 16 --dropout 0.2 --device cpu --seed 3
        --schedule constant)
"$soma" train "${common[@]}" --epochs 2 --save "$work/straight.st" >/dev/null 2>&1 || fail "straight run"
"$soma" train "${common[@]}" --epochs 1 --save "$work/half.st" >/dev/null 2>&1 || fail "first half"
"$soma" train "${common[@]}" --epochs 2 --resume "$work/half.st" --save "$work/resumed.st" >/dev/null 2>&1 ||
  fail "resumed run"
"$python" - "$work/straight.st" "$work/resumed.st" <<'PY' || fail "resumed weights differ from the straight run"
import sys, os
sys.path.insert(0, os.environ.get("TESTS_DIR", "."))
from read_safetensors import load
a, b = load(sys.argv[1])[3], load(sys.argv[2])[3]
keys = [k for k in a if k.startswith("layers.")]
sys.exit(0 if keys and all(a[k] == b[k] for k in keys) else 1)
PY

# the default schedule, resumed with more epochs: epoch 2 runs at the learning
# rate a 2-epoch run has there (the plan of the first run, 1 epoch, ended at 0)
cosine=(--data "csv:$work/train.csv" --layers 5,16,2 --batch 16 --device cpu)
"$soma" train "${cosine[@]}" --epochs 2 --log "$work/two.csv" >/dev/null 2>&1 || fail "cosine: straight run"
"$soma" train "${cosine[@]}" --epochs 1 --save "$work/one.st" --log "$work/one.csv" >/dev/null 2>&1 || fail "cosine: one epoch"
"$soma" train "${cosine[@]}" --epochs 2 --resume "$work/one.st" --log "$work/one.csv" >"$work/resumed.log" 2>&1 ||
  fail "cosine: resumed run: $(tail -2 "$work/resumed.log")"
grep -q "re-planned over 2 epochs (it was planned for 1)" "$work/resumed.log" || fail "cosine: the header does not say it re-planned"
[ "$(sed -n 3p "$work/one.csv" | cut -d, -f5)" = "$(sed -n 3p "$work/two.csv" | cut -d, -f5)" ] ||
  fail "cosine: epoch 2's learning rate $(sed -n 3p "$work/one.csv" | cut -d, -f5) is not the 2-epoch run's $(sed -n 3p "$work/two.csv" | cut -d, -f5)"

finish cli "all CLI checks passed"
