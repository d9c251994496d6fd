#!/usr/bin/env bash
# architectures.sh [SOMA]: MNIST with a plain MLP, with batchnorm, and with
# pre-norm residual blocks + layernorm; test accuracy and seconds per epoch.
#
# Every run: the whole MNIST training set (10% held out for validation), the
# 10000 test images for the accuracy, soma's defaults otherwise (Adam lr 1e-3,
# cosine schedule, batch 128, no dropout in these architecture strings),
# EPOCHS epochs (10) and each seed of SEEDS ("1 2 3"), on the CPU. Prints a
# markdown table (docs/architectures.md holds one): the mean test accuracy
# with the lowest and highest over the seeds, and the mean seconds per epoch
# (training and validation, from `soma train --log`). About 5 minutes on 2 cores.
set -euo pipefail
soma=${1:-build/soma}
epochs=${EPOCHS:-10}
seeds=${SEEDS:-1 2 3}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

names=(plain batchnorm residual+layernorm)
archs=(784,dense:256:relu,dense:128:relu,dense:10
       784,dense:256,batchnorm:relu,dense:128,batchnorm:relu,dense:10
       784,dense:256,res:256:relu,res:256:relu,layernorm,dense:10)

printf '| model | --arch | parameters | test accuracy, mean (min-max) | s/epoch |\n|---|---|---|---|---|\n'
for i in "${!names[@]}"; do
  : >"$work/acc" && : >"$work/sec"
  for seed in $seeds; do
    echo "== soma train --data mnist --arch ${archs[$i]} --epochs $epochs --seed $seed --device cpu" >&2
    "$soma" train --data mnist --arch "${archs[$i]}" --epochs "$epochs" --seed "$seed" --device cpu \
      --log "$work/log.csv" --save "$work/model.safetensors" >"$work/out" 2>&1
    awk '/^test:/ { for (i = 1; i < NF; i++) if ($i == "accuracy") print $(i + 1) }' "$work/out" >>"$work/acc"
    awk -F, 'NR > 1 { print $NF }' "$work/log.csv" >>"$work/sec"
  done
  params=$("$soma" summary "$work/model.safetensors" --json | grep -o '"parameters": [0-9]*' | head -1 | grep -o '[0-9]*$')
  acc=$(awk '{ s += $1; n++; if (n == 1 || $1 < lo) lo = $1; if (n == 1 || $1 > hi) hi = $1 }
             END { printf "%.4f (%.4f-%.4f)", s / n, lo, hi }' "$work/acc")
  sec=$(awk '{ s += $1; n++ } END { printf "%.2f", s / n }' "$work/sec")
  printf '| %s | `%s` | %s | %s | %s |\n' "${names[$i]}" "${archs[$i]}" "$params" "$acc" "$sec"
done
