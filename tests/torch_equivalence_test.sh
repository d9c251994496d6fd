#!/usr/bin/env bash
# torch_equivalence_test.sh SOMA EXAMPLE PYTHON...: soma and PyTorch 1.13 train
# a network with batchnorm, layernorm and residual blocks alike (5 SGD steps,
# 5 Adam steps, evaluation), from weights PyTorch wrote; tests/torch_equivalence.py
# says how. The first PYTHON that can import torch runs it; with none, exit 77.
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
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
"$python" "$(dirname "$0")/torch_equivalence.py" "$soma" "$example" "$work"
