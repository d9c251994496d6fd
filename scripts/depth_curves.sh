#!/usr/bin/env bash
# depth_curves.sh [SOMA] [OUT_DIR]: a 20-layer plain MLP against the same depth
# built of pre-norm residual blocks, on MNIST, with ReLU and with sigmoid.
#
#   plain-A:    784, 19 x dense:64:A, dense:10                      (20 dense layers)
#   residual-A: 784, dense:64, 9 x res:64:A, layernorm, dense:10    (1 + 9*2 + 1 = 20 dense layers)
#
# Same data (the whole MNIST training set, 10% held out for validation), seed,
# optimizer (soma's defaults: Adam lr 1e-3, cosine schedule, batch 128) and
# epochs (EPOCHS, default 10); no dropout. Writes OUT_DIR/depth_metrics.csv
# (every run's `soma train --log` rows with a `run` column) and
# OUT_DIR/depth_curves.svg (scripts/plot_runs.py), and prints a table of test
# accuracy and seconds per epoch. OUT_DIR defaults to docs/. About 2 minutes
# on 2 cores.
set -euo pipefail
soma=${1:-build/soma}
out=${2:-docs}
epochs=${EPOCHS:-10}
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

arch() { # arch KIND ACT
  if [ "$1" = plain ]; then
    printf '784'; for _ in $(seq 19); do printf ',dense:64:%s' "$2"; done; printf ',dense:10\n'
  else
    printf '784,dense:64'; for _ in $(seq 9); do printf ',res:64:%s' "$2"; done; printf ',layernorm,dense:10\n'
  fi
}

echo "run,epoch,train_loss,val_loss,val_accuracy,lr,seconds" >"$work/all.csv"
printf '| run | test accuracy | s/epoch |\n|---|---|---|\n' >"$work/table.md"
for act in relu sigmoid; do
  for kind in plain residual; do
    run=$kind-$act
    echo "== $run: soma train --data mnist --arch $(arch $kind $act) --epochs $epochs --seed 1 --device cpu" >&2
    "$soma" train --data mnist --arch "$(arch $kind $act)" --epochs "$epochs" --seed 1 --device cpu \
      --log "$work/$run.csv" >"$work/$run.out" 2>&1
    tail -n +2 "$work/$run.csv" | sed "s/^/$run,/" >>"$work/all.csv"
    acc=$(awk '/^test:/ { for (i = 1; i < NF; i++) if ($i == "accuracy") print $(i + 1) }' "$work/$run.out")
    sec=$(awk -F, 'NR > 1 { s += $NF; n++ } END { printf "%.2f", s / n }' "$work/$run.csv")
    printf '| %s | %s | %s |\n' "$run" "$acc" "$sec" >>"$work/table.md"
  done
done
mkdir -p "$out"
cp "$work/all.csv" "$out/depth_metrics.csv"
/usr/bin/env python3 "$here/plot_runs.py" "$out/depth_metrics.csv" "$out/depth_curves.svg" \
  --title "20 dense layers on MNIST: plain against residual + layernorm"
cat "$work/table.md"
echo "wrote $out/depth_metrics.csv and $out/depth_curves.svg" >&2
