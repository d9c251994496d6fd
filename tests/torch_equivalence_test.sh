#!/usr/bin/env bash
# torch_equivalence_test.sh SOMA EXAMPLE PYTHON...: soma and PyTorch 1.13 train
# a network with batchnorm, layernorm and residual blocks alike (5 SGD steps,
# 5 Adam steps, evaluation), from weights PyTorch wrote; tests/torch_equivalence.py
# says how. The first PYTHON that can import torch runs it; with none, exit 77.
set -u
soma=$1 example=$2
shift 2
. "$(dirname "$0")/test_lib.sh"
torch_python "$@"
"$python" "$(dirname "$0")/torch_equivalence.py" "$soma" "$example" "$work"
