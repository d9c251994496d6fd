#!/usr/bin/env bash
# regression_targets_test.sh SOMA PYTHON SOURCE_DIR: target standardization
# for regression (issue 16 item 3). examples/data/houses.csv has prices in
# dollars (mean 287k, std 123k): trained with the default
# --normalize-target auto, eval's RMSE and predict's outputs are in dollars
# and sensible; with --normalize-target none the MSE stays near 1e10-1e11
# (the failure this fixes). The checkpoint's metadata and tensors hold the
# standardization; a checkpoint without it (none) loads and predicts the
# network's outputs as they are; misuse is exit 2 naming the option.
set -u
soma=$1 python=$2 src=$3
. "$(dirname "$0")/test_lib.sh"
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-2}
houses="csv:$src/examples/data/houses.csv,label=price"
json() { "$python" -c "import json,sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])" "$@"; }

# seed fixed (the default 1); 200 epochs of batch 16 over 450 rows: 0.1 s
"$soma" train --data "$houses" --layers 4,32,32,1 --epochs 200 --batch 16 --save "$work/std.st" >"$work/train.out" 2>&1 ||
  fail "train: $(tail -3 "$work/train.out")"
grep -q '^targets standardized (mean 2[0-9]*\.*[0-9]*, std 1[0-9]*' "$work/train.out" &&
  ok "the header: $(grep '^targets' "$work/train.out")" || fail "no 'targets standardized' header line"
"$soma" eval --model "$work/std.st" --data "$houses" --json >"$work/std.json" || fail "eval (standardized)"
rmse=$(json "$work/std.json" rmse) r2=$(json "$work/std.json" r2) loss=$(json "$work/std.json" loss)
mse=$(json "$work/std.json" mse)
echo "standardized targets: rmse $rmse dollars, r2 $r2, loss $loss"
"$python" -c "import sys; r, q, l, m = map(float, sys.argv[1:]); sys.exit(not (r < 25000 and q > 0.95 and l == m))" \
  "$rmse" "$r2" "$loss" "$mse" && ok "rmse below 25000 dollars, r2 above 0.95, loss = mse" ||
  fail "rmse $rmse, r2 $r2, loss $loss, mse $mse"

"$soma" train --data "$houses" --layers 4,32,32,1 --epochs 200 --batch 16 --normalize-target none \
  --save "$work/raw.st" >/dev/null 2>&1 || fail "train --normalize-target none"
"$soma" eval --model "$work/raw.st" --data "$houses" --json >"$work/raw.json" || fail "eval (none)"
raw_mse=$(json "$work/raw.json" mse)
echo "targets as they are: mse $raw_mse"
"$python" -c "import sys; sys.exit(not float(sys.argv[1]) > 1e10)" "$raw_mse" &&
  ok "without standardization the MSE stays above 1e10 ($raw_mse)" || fail "raw mse $raw_mse"

# predict: dollars, the mean of the outputs near the prices' mean; --raw the network's outputs
"$soma" predict --model "$work/std.st" --data "$houses" >"$work/pred.txt" || fail "predict"
"$soma" predict --model "$work/std.st" --data "$houses" --raw >"$work/pred_raw.txt" || fail "predict --raw"
"$python" - "$work" "$src/examples/data/houses.csv" <<'PY' && ok "predict prints dollars; --raw the standardized outputs" || fail "predict outputs"
import csv, json, struct, sys
work, data = sys.argv[1], sys.argv[2]
prices = [float(r['price']) for r in csv.DictReader(open(data))]
pred = [float(l) for l in open(work + '/pred.txt')]
raw = [float(l) for l in open(work + '/pred_raw.txt')]
# the standardization as the checkpoint stores it
b = open(work + '/std.st', 'rb').read()
n = struct.unpack('<Q', b[:8])[0]
head = json.loads(b[8:8 + n])
meta = head['__metadata__']
assert meta['target_normalizer'] == 'standardize', meta.get('target_normalizer')
def tensor(name):
    t = head[name]
    lo, hi = t['data_offsets']
    return struct.unpack('<%df' % ((hi - lo) // 4), b[8 + n + lo:8 + n + hi])
off, scale = tensor('target_normalizer.offset'), tensor('target_normalizer.scale')
assert len(off) == 1 and len(scale) == 1
assert 250000 < off[0] < 320000 and 1e-6 < scale[0] < 1e-5, (off, scale)
assert len(pred) == len(prices) == 500
mean = sum(pred) / len(pred)
assert abs(mean - sum(prices) / len(prices)) < 20000, mean
worst = max(abs(p - (r / scale[0] + off[0])) for p, r in zip(pred, raw))
assert worst < 1.0, worst   # dollars: predict prints 9 significant digits
print('offset %.1f, std %.1f, mean prediction %.0f, largest |predict - undo(raw)| %.3g' % (off[0], 1 / scale[0], mean, worst))
PY

# a checkpoint without the key (none) reads as none: predict equals --raw
"$python" - "$work/raw.st" <<'PY' && ok "a file without target_normalizer" || fail "raw.st has target_normalizer"
import json, struct, sys
b = open(sys.argv[1], 'rb').read()
head = json.loads(b[8:8 + struct.unpack('<Q', b[:8])[0]])
sys.exit('target_normalizer' in head['__metadata__'] or 'target_normalizer.offset' in head)
PY
"$soma" predict --model "$work/raw.st" --data "$houses" >"$work/a.txt" &&
  "$soma" predict --model "$work/raw.st" --data "$houses" --raw >"$work/b.txt" && cmp -s "$work/a.txt" "$work/b.txt" &&
  ok "no standardization: predict = predict --raw" || fail "predict of a checkpoint without target_normalizer"

# --arch: the outputs come from the architecture (once read from --layers' sizes only)
"$soma" train --data "$houses" --arch 4,dense:32:relu,dense:32:relu,dense:1 --epochs 100 --batch 16 \
  --save "$work/arch.st" >"$work/arch.out" 2>&1 && grep -q '^targets standardized' "$work/arch.out" &&
  ok "--arch: targets standardized" || fail "--arch with a regression: $(tail -3 "$work/arch.out")"

# misuse: exit 2, one line naming the option
printf '0.5,1\n0.25,0\n0.75,1\n0.1,0\n0.9,1\n0.3,0\n0.6,1\n' >"$work/cls.csv"
expect 2 "--normalize-target standardize is for regression (loss mse), not xent" \
  "$soma" train --data "csv:$work/cls.csv" --epochs 1 --normalize-target standardize
# --loss mse on class labels 0..2 trains one-hot outputs: never standardized (auto), refused (standardize)
printf '0.5,1\n0.25,0\n0.75,2\n0.1,0\n0.9,2\n0.3,0\n0.6,1\n' >"$work/three.csv"
"$soma" train --data "csv:$work/three.csv" --loss mse --epochs 1 --save "$work/onehot.st" >/dev/null 2>&1 &&
  "$soma" summary --json "$work/onehot.st" | grep -q '"outputs": 3, .*"normalize_target": "none"' &&
  ok "--loss mse on 3 classes (one-hot outputs): targets left alone" ||
  fail "one-hot mse: $("$soma" summary --json "$work/onehot.st" 2>&1)"
expect 2 "needs one output per target column, but the model has 3 outputs for 1" \
  "$soma" train --data "csv:$work/three.csv" --loss mse --epochs 1 --normalize-target standardize
expect 2 "unknown --normalize-target 'scale01'" \
  "$soma" train --data "$houses" --epochs 1 --normalize-target scale01
expect 2 "--normalize-target" \
  "$soma" train --data "$houses" --epochs 201 --batch 16 --resume "$work/std.st" --normalize-target none

finish regression_targets
