#!/bin/sh
# v1_checkpoint_test.sh SOMA SOURCE_DIR: a checkpoint written before the layer
# table (tests/data/v1_iris.safetensors, see tests/data/README.md) still
# loads, evaluates and predicts as it did then, and resumes to the same
# model. Numbers are compared within 1e-5 relative (+1e-6 absolute): the
# BLAS of another machine may sum in another order.
set -eu
soma=$1
src=$2
data="csv:$src/examples/data/iris.csv"
ckpt="$src/tests/data/v1_iris.safetensors"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# numbers_match EXPECTED ACTUAL: the same text once numbers are taken out,
# and every number within tolerance
numbers_match() {
    awk -v what="$3" '
        function nums(s, a,   n) { n = 0; while (match(s, /-?[0-9]+(\.[0-9]+)?([eE][-+]?[0-9]+)?/)) {
            a[++n] = substr(s, RSTART, RLENGTH) + 0; s = substr(s, RSTART + RLENGTH) } return n }
        NR == FNR { exp_line[FNR] = $0; n_exp = FNR; next }
        { got_line[FNR] = $0; n_got = FNR }
        END {
            if (n_exp != n_got) { printf "%s: %d lines expected, %d got\n", what, n_exp, n_got; exit 1 }
            for (i = 1; i <= n_exp; i++) {
                ne = nums(exp_line[i], e); ng = nums(got_line[i], g)
                if (ne != ng) { printf "%s line %d: expected \"%s\", got \"%s\"\n", what, i, exp_line[i], got_line[i]; exit 1 }
                for (k = 1; k <= ne; k++) {
                    d = e[k] - g[k]; if (d < 0) d = -d; r = e[k] < 0 ? -e[k] : e[k]
                    if (d > 1e-6 + 1e-5 * r) { printf "%s line %d: expected \"%s\", got \"%s\"\n", what, i, exp_line[i], got_line[i]; exit 1 }
                }
            }
        }' "$1" "$2"
}

"$soma" eval --model "$ckpt" --data "$data" --json > "$tmp/eval.json"
numbers_match "$src/tests/data/v1_iris.eval.json" "$tmp/eval.json" "soma eval"
"$soma" predict --model "$ckpt" --data "$data" --raw > "$tmp/predict.csv"
numbers_match "$src/tests/data/v1_iris.predict.csv" "$tmp/predict.csv" "soma predict --raw"
"$soma" train --resume "$ckpt" --data "$data" --epochs 3 --save "$tmp/resumed.safetensors" --quiet --device cpu
"$soma" eval --model "$tmp/resumed.safetensors" --data "$data" --json > "$tmp/resumed.json"
numbers_match "$src/tests/data/v1_iris.resume_eval.json" "$tmp/resumed.json" "soma eval after --resume"
echo "v1 checkpoint: eval, predict and resume as before"
