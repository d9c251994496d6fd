#!/usr/bin/env bash
# arch_cli_test.sh SOMA PYTHON SOURCE_DIR: `soma train --arch` as a user meets
# it (issue 14): the contract's example architecture trains, saves, is
# summarized in canonical form and resumes; --arch beside --layers/--act is
# refused; a bad token is named with its position; a plain safetensors state
# dict (no soma metadata, as PyTorch saves one) initializes a model of its
# architecture with --init, and a mismatch names the key.
set -u
soma=$1 python=$2 src=$3
. "$(dirname "$0")/test_lib.sh"


data="csv:$src/examples/data/iris.csv"
arch="4,dense:16,batchnorm:relu,res:16:relu,res:16:relu,dense:3"
canonical="4,dense:16:identity:drop=0,batchnorm:relu:drop=0,res:16:relu:16,res:16:relu:16,dense:3:identity:drop=0"

expect 2 "give it without --layers" -- "$soma" train --data "$data" --arch "$arch" --layers 4,8,3
expect 2 "give it without --act" -- "$soma" train --data "$data" --arch "$arch" --act tanh
expect 2 "--arch: architecture '4,dense:16,batchnrom,dense:3': token 3 'batchnrom' (character 12): unknown layer kind" -- \
  "$soma" train --data "$data" --arch "4,dense:16,batchnrom,dense:3"
expect 2 "--arch starts with 5 inputs but the data has 4 features" -- "$soma" train --data "$data" --arch "5,dense:3"

"$soma" train --data "$data" --arch "$arch" --epochs 2 --batch 16 --device cpu --quiet --save "$work/m.st" ||
  fail "training the contract's architecture"
"$soma" summary "$work/m.st" >"$work/summary" || fail "summary"
grep -q "^arch: $canonical\$" "$work/summary" || fail "summary does not print the canonical arch: $(cat "$work/summary")"
"$soma" summary --json "$work/m.st" | grep -q "\"arch\": \"$canonical\"" || fail "summary --json lacks the arch"
"$soma" eval --model "$work/m.st" --data "$data" --json >/dev/null || fail "eval"
"$soma" train --resume "$work/m.st" --data "$data" --epochs 3 --quiet --device cpu --save "$work/r.st" ||
  fail "resume"
"$soma" train --resume "$work/m.st" --data "$data" --arch "$arch" --epochs 3 --quiet --device cpu --save "$work/r.st" ||
  fail "resume with the same --arch"
expect 2 "--arch differs from the resumed run's" -- "$soma" train --resume "$work/m.st" --data "$data" \
  --arch "4,dense:16,dense:3" --epochs 3

# the weights alone as PyTorch's save_file writes them: no metadata, no
# optimizer state, no normalizer (written here with the standard library)
"$python" - "$work/m.st" "$work/plain.st" "$work/extra.st" <<'PY'
import json, struct, sys
src, plain, extra = sys.argv[1:4]
raw = open(src, "rb").read()
n = struct.unpack("<Q", raw[:8])[0]
header = json.loads(raw[8:8 + n])
data = raw[8 + n:]
def write(path, keep, more=None):
    out, blobs, at = {}, [], 0
    for name, t in header.items():
        if name == "__metadata__" or not keep(name):
            continue
        b = data[t["data_offsets"][0]:t["data_offsets"][1]]
        out[name] = {"dtype": t["dtype"], "shape": t["shape"], "data_offsets": [at, at + len(b)]}
        blobs.append(b)
        at += len(b)
    if more:
        out[more] = {"dtype": "F32", "shape": [1], "data_offsets": [at, at + 4]}
        blobs.append(struct.pack("<f", 1.0))
    h = json.dumps(out).encode()
    open(path, "wb").write(struct.pack("<Q", len(h)) + h + b"".join(blobs))
write(plain, lambda k: k.startswith("layers."))
write(extra, lambda k: k.startswith("layers."), "layers.9.weight")
PY
"$soma" train --data "$data" --arch "$arch" --init "$work/plain.st" --epochs 1 --quiet --device cpu ||
  fail "--init from a plain state dict"
expect 1 "tensor 'layers.9.weight' of the state dict is not in the architecture .* (extra key)" -- \
  "$soma" train --data "$data" --arch "$arch" --init "$work/extra.st" --epochs 1 --device cpu
expect 1 "the state dict has no tensor 'layers.2.weight' \[16\], which the architecture .* needs (missing key)" -- \
  "$soma" train --data "$data" --arch "4,dense:16,layernorm:relu,batchnorm,res:16:relu,res:16:relu,dense:3" \
  --init "$work/plain.st" --epochs 1 --device cpu
expect 1 "tensor 'layers.0.weight' has shape \[16, 4\] but the architecture .* needs \[8, 4\] (mis-shaped key)" -- \
  "$soma" train --data "$data" --arch "4,dense:8,batchnorm:relu,res:16:relu,res:16:relu,dense:3" \
  --init "$work/plain.st" --epochs 1 --device cpu
expect 1 "a plain state dict loads into a model of its architecture" -- "$soma" eval --model "$work/plain.st" --data "$data"

finish arch_cli
