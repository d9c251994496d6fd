#!/usr/bin/env bash
# cli_manners_test.sh SOMA PYTHON HAVE_CAIRO: what every command owes a user:
# --help (exit 0, usage on stdout), --version, machine-readable --json from
# eval and check, and `soma plot` (figures when built with cairo, a clear
# one-line error without it).
set -u
soma=$1 python=$2 have_cairo=$3
. "$(dirname "$0")/test_lib.sh"

"$soma" --version | grep -Eq '^soma [0-9]+\.[0-9]+\.[0-9]+$' && ok "--version: $("$soma" --version)" ||
  fail "--version printed '$("$soma" --version)'"
for command in train eval predict summary check plot; do
  if "$soma" "$command" --help >"$work/help" 2>"$work/help.err" && grep -q "^usage: soma $command" "$work/help" &&
     [ ! -s "$work/help.err" ]; then
    ok "soma $command --help"
  else
    fail "soma $command --help: exit $?, stdout '$(head -1 "$work/help")', stderr '$(cat "$work/help.err")'"
  fi
done
"$soma" help train | grep -q "^usage: soma train" && ok "soma help train" || fail "soma help train"
"$soma" --help | grep -q "Exit status" && ok "soma --help documents the exit status" || fail "soma --help: no exit status"

# check --json: one JSON object whose rows agree with its counts
"$soma" check --device cpu --op relu --quick --json >"$work/check.json" 2>"$work/check.err"
code=$?
"$python" - "$work/check.json" "$code" <<'PY' && ok "check --json" || fail "check --json: $(head -c 300 "$work/check.json")"
import json, sys
r = json.load(open(sys.argv[1]))
rows = r["rows"]
assert rows and all(x["op"] == "relu" and x["device"] == "cpu" for x in rows), rows[:2]
assert r["passed"] == sum(x["passed"] for x in rows) and r["failed"] == len(rows) - r["passed"]
assert r["devices"][0]["name"] == "cpu" and r["devices"][0]["status"] == "checked"
assert int(sys.argv[2]) == (1 if r["failed"] else 0)
PY
"$soma" check --op nonsense >/dev/null 2>"$work/err"
[ $? = 2 ] && grep -q "unknown op 'nonsense'" "$work/err" && ok "check --op nonsense -> 2" || fail "check --op nonsense"

# a small real run, logged, to evaluate and plot
awk 'BEGIN { srand(5); print "x,y,z,label,price";
  for (i = 0; i < 240; i++) { x = rand(); y = rand(); z = rand();
    printf "%.5f,%.5f,%.5f,%d,%.4f\n", x, y, z, (x > y), x + 2 * y - z } }' >"$work/data.csv"
cut -d, -f1-4 "$work/data.csv" >"$work/classes.csv"
cut -d, -f1-3,5 "$work/data.csv" >"$work/prices.csv"
"$soma" train --data "csv:$work/classes.csv" --layers 3,8,2 --epochs 6 --batch 16 --lr 0.01 --device cpu \
  --save "$work/classes.st" --log "$work/metrics.csv" >"$work/train.out" 2>"$work/train.err" ||
  fail "train: $(cat "$work/train.err")"
"$soma" train --data "csv:$work/prices.csv" --layers 3,8,1 --epochs 2 --device cpu --val-split 0 \
  --save "$work/prices.st" --log "$work/prices_metrics.csv" >/dev/null 2>&1 || fail "regression train"
for model in classes prices; do
  "$soma" eval --model "$work/$model.st" --data "csv:$work/$model.csv" --device cpu --json >"$work/$model.json" ||
    fail "eval --json $model"
done
"$python" - "$work/classes.json" "$work/prices.json" <<'PY' && ok "eval --json (classification and regression)" ||
import json, sys
c, p = json.load(open(sys.argv[1])), json.load(open(sys.argv[2]))
assert 0 <= c["accuracy"] <= 1 and c["rows"] == 240 and c["loss_kind"] == "xent", c
assert p["accuracy"] is None and p["loss"] >= 0 and p["loss_kind"] == "mse", p
PY
  fail "eval --json: $(cat "$work/classes.json" "$work/prices.json")"

# soma plot
if [ "$have_cairo" = ON ] || [ "$have_cairo" = 1 ] || [ "$have_cairo" = TRUE ]; then
  for ext in svg png pdf; do
    if "$soma" plot "$work/metrics.csv" -o "$work/curves.$ext" >"$work/plot.out" 2>"$work/plot.err"; then
      ok "plot -> .$ext ($(wc -c <"$work/curves.$ext") bytes): $(cat "$work/plot.out")"
    else
      fail "plot -> .$ext: $(cat "$work/plot.err")"
    fi
  done
  head -c 8 "$work/curves.png" | od -An -tx1 | grep -q "89 50 4e 47 0d 0a 1a 0a" || fail "curves.png is not a PNG"
  grep -q "<svg" "$work/curves.svg" || fail "curves.svg is not SVG"
  head -c 5 "$work/curves.pdf" | grep -q "%PDF-" || fail "curves.pdf is not a PDF"
  "$soma" plot --title "prices" "$work/prices_metrics.csv" -o "$work/prices.svg" >/dev/null 2>&1 ||
    fail "plot of a run without validation data"
  # errors: one line on stderr, exit 2 for usage, 1 for failures, nothing written
  check_error() {
    local code=$1 pattern=$2
    shift 2
    "$@" >/dev/null 2>"$work/err"
    local got=$?
    if [ "$got" = "$code" ] && grep -q -- "$pattern" "$work/err" && [ "$(wc -l <"$work/err")" = 1 ]; then
      ok "${*:2} -> $got: $(cat "$work/err")"
    else
      fail "${*:2}: exit $got (expected $code), stderr '$(cat "$work/err")'"
    fi
  }
  check_error 2 "name it .svg, .png or .pdf" "$soma" plot "$work/metrics.csv" -o "$work/curves.jpg"
  check_error 2 "-o FILE is required" "$soma" plot "$work/metrics.csv"
  check_error 2 "which metrics file" "$soma" plot -o "$work/x.svg"
  check_error 1 "cannot open .*missing.csv" "$soma" plot "$work/missing.csv" -o "$work/x.svg"
  check_error 1 "data.csv:1: no 'epoch' and 'train_loss' columns" "$soma" plot "$work/data.csv" -o "$work/x.svg"
  check_error 1 "cannot create the temporary file" "$soma" plot "$work/metrics.csv" -o "$work/no/such/dir/x.svg"
  [ -e "$work/x.svg" ] && fail "a failed plot wrote a file"
else
  "$soma" plot "$work/metrics.csv" -o "$work/curves.svg" >/dev/null 2>"$work/err"
  code=$?
  if [ "$code" = 1 ] && grep -q "soma was built without cairo: apt-get install libcairo2-dev and rebuild" "$work/err"; then
    ok "plot without cairo -> 1: $(cat "$work/err")"
  else
    fail "plot without cairo: exit $code, stderr '$(cat "$work/err")'"
  fi
fi

finish cli_manners "all good"
