#!/usr/bin/env bash
# run.sh: the main job. Installs what is missing, builds, fetches MNIST into
# the cache (scripts/fetch-mnist.sh) and trains the default MLP
# (784-256-128-10, ReLU, Adam, the default 15 epochs) on the best device: a GPU when one
# is usable, else the CPU. Extra arguments go to `soma train`.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh
scripts/build.sh >/dev/null
scripts/fetch-mnist.sh >/dev/null
./build/soma train --data mnist --device auto --save build/mnist.safetensors "$@"
