#!/usr/bin/env bash
# pytorch_interop_test.sh SOMA EXAMPLE PYTHON...: examples/pytorch_interop.py
# against soma itself. Trains small models on a generated CSV (one per hidden
# activation, a regression, and architectures with batchnorm, layernorm and
# residual blocks), predicts with `soma predict --raw`, and has the example
# load each checkpoint into SomaNet strictly and match those outputs to 1e-5.
# Then the other way: a state dict SomaNet wrote is accepted by `soma train
# --init` for its architecture and refused, naming a key, for another. And
# the SomaNet code shown in docs/checkpoints.md is a verbatim part of the
# example, and runs.
# The first PYTHON that can import torch runs it; with none, exit 77 (skipped).
set -u
soma=$1 example=$2
shift 2
. "$(dirname "$0")/test_lib.sh"
torch_python "$@"
echo "using $python (torch $("$python" -c 'import torch; print(torch.__version__)'))"

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
case_ batchnorm classes.csv label --arch 5,dense:16,batchnorm:relu,dense:8:tanh,bn:gelu,dense:2
case_ layernorm classes.csv label --arch 5,dense:16,layernorm:silu,dense:8,ln:leaky_relu,dense:2
case_ residual classes.csv label --arch 5,dense:16,res:32:gelu,res:8:relu:12,layernorm:gelu_tanh,dense:2
case_ res_regression prices.csv price --arch 5,res:16:sigmoid,bn,res:4:tanh:3,dense:1 --loss mse

# PyTorch -> soma: a plain state dict (no metadata) is soma's --init
arch=5,dense:16,batchnorm:relu,res:8:gelu:12,layernorm,dense:2
if ! "$python" "$example" --arch "$arch" --write-init "$work/init.safetensors" --seed 3 >"$work/init.out" 2>&1; then
  echo "FAIL: --write-init: $(tail -3 "$work/init.out")"
  failures=$((failures + 1))
elif ! "$soma" train --data "csv:$work/classes.csv,label=label" --arch "$arch" --init "$work/init.safetensors" \
       --epochs 1 --device cpu --quiet --save "$work/from_torch.safetensors" >"$work/init.train" 2>&1; then
  echo "FAIL: soma train --init a PyTorch state dict: $(tail -3 "$work/init.train")"
  failures=$((failures + 1))
else
  echo "ok: soma train --arch $arch --init (PyTorch's state dict)"
  # the same file for another width: refused, naming the first mis-shaped key
  if "$soma" train --data "csv:$work/classes.csv,label=label" --arch "${arch/dense:16/dense:15}" \
       --init "$work/init.safetensors" --epochs 1 --device cpu --quiet >"$work/bad.train" 2>&1; then
    echo "FAIL: --init accepted a state dict of another architecture"
    failures=$((failures + 1))
  elif grep -q "layers\.0\.weight" "$work/bad.train"; then
    echo "ok: another architecture refused: $(grep -m1 'layers\.0\.weight' "$work/bad.train")"
  else
    echo "FAIL: the refusal does not name layers.0.weight: $(cat "$work/bad.train")"
    failures=$((failures + 1))
  fi
fi

# docs/checkpoints.md shows SomaNet: the same code as the example's, and it runs
docs=$(dirname "$example")/../docs/checkpoints.md
if "$python" - "$docs" "$example" "$work/from_torch.safetensors" >"$work/docs.out" 2>&1 <<'PY'
import re, sys
doc, example, checkpoint = sys.argv[1:]
block = re.search(r"```python\n(.*?)```", open(doc).read(), re.S).group(1)
assert block in open(example).read(), "the SomaNet block of docs/checkpoints.md is not the example's code"
namespace = {}
exec(block, namespace)
sys.path.insert(0, example.rsplit("/", 1)[0])
from pytorch_interop import load_safetensors
meta, tensors = load_safetensors(checkpoint)
net = namespace["SomaNet"](meta["arch"])
net.load_state_dict({k: v for k, v in tensors.items() if k.startswith("layers.")}, strict=True)
print(f"the docs' SomaNet({meta['arch']}) loads soma's checkpoint strictly")
PY
then
  echo "ok: $(tail -1 "$work/docs.out")"
else
  echo "FAIL: docs/checkpoints.md's SomaNet: $(tail -3 "$work/docs.out")"
  failures=$((failures + 1))
fi
"$python" "$example" "$work/relu.safetensors" "$work/classes.csv" --show 3 | sed 's/^/  /'

finish pytorch_interop "PyTorch reproduces soma predict to 1e-5 for every case"
