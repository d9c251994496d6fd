#!/usr/bin/env bash
# run.sh: the main job. Installs what is missing, builds, and trains a small
# MLP on the two-spirals problem on the best device (a GPU when one is usable),
# printing the loss as it falls.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh
scripts/build.sh >/dev/null
./build/examples/spirals --device auto
