#!/usr/bin/env bash
# pytorch_interop_test.sh SOMA EXAMPLE PYTHON...: examples/pytorch_interop.py
# against soma itself. Trains small models on a generated CSV (one per hidden
# activation, and a regression), predicts with `soma predict --raw`, and has
# the example rebuild each model in PyTorch and match those outputs to 1e-5.
# The first PYTHON that can import torch runs it; with none, exit 77 (skipped).
set -u
soma=$1 example=$2
shift 2
python=
for candidate in "$@" /usr/bin/python3 python3; do
  if "$candidate" -c "import torch" >/dev/null 2>&1; then
    python=$candidate
    break
  fi
done
if [ -z "$python" ]; then
  echo "SKIP: PyTorch is not installed for any of: $* /usr/bin/python3 python3 (apt-get install python3-torch)"
  exit 77
fi
echo "using $python (torch $("$python" -c 'import torch; print(torch.__version__)'))"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
failures=0

# label = a + b > c, plus a real-valued target for the regression
awk 'BEGIN { srand(11); print "a,b,c,d,e,label,price";
  for (i = 0; i < 200; i++) { a = rand(); b = rand(); c = rand() * 2; d = rand() * 10; e = rand() - 0.5;
    printf "%.5f,%.5f,%.5f,%.5f,%.5f,%d,%.4f\n", a, b, c, d, e, (a + b > c), 3 * a - b + 0.1 * d } }' >"$work/data.csv"
cut -d, -f1-6 "$work/data.csv" >"$work/classes.csv"
cut -d, -f1-5,7 "$work/data.csv" >"$work/prices.csv"

# case NAME DATA LABEL TRAIN-OPTIONS...
case_() {
  local name=$1 data=$2 label=$3
  shift 3
  if ! "$soma" train --data "csv:$work/$data,label=$label" --epochs 3 --batch 32 --device cpu \
       --save "$work/$name.safetensors" "$@" >"$work/$name.train" 2>&1; then
    echo "FAIL: $name: soma train: $(tail -2 "$work/$name.train")"
    failures=$((failures + 1))
    return
  fi
  "$soma" predict --model "$work/$name.safetensors" --data "csv:$work/$data,label=$label" --device cpu --raw \
    >"$work/$name.txt" || { echo "FAIL: $name: soma predict"; failures=$((failures + 1)); return; }
  if "$python" "$example" "$work/$name.safetensors" "$work/$data" --label "$label" --compare "$work/$name.txt" \
       --show 2 >"$work/$name.out" 2>&1; then
    echo "ok: $name: $(tail -1 "$work/$name.out")"
  else
    echo "FAIL: $name:"
    cat "$work/$name.out"
    failures=$((failures + 1))
  fi
}

for act in relu leaky_relu sigmoid tanh gelu gelu_tanh silu; do
  case_ "$act" classes.csv label --layers 5,16,8,2 --act "$act"
done
case_ dropout classes.csv label --layers 5,12,2 --dropout 0.3
case_ regression prices.csv price --layers 5,16,1 --act silu --loss mse
"$python" "$example" "$work/relu.safetensors" "$work/classes.csv" --show 3 | sed 's/^/  /'

if [ "$failures" -ne 0 ]; then
  echo "pytorch_interop: $failures failure(s)"
  exit 1
fi
echo "pytorch_interop: PyTorch reproduces soma predict to 1e-5 for every case"
