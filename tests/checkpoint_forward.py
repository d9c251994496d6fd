#!/usr/bin/env python3
"""checkpoint_forward.py: run a soma checkpoint with nothing but Python's
standard library, and compare with what soma predicted.

  checkpoint_forward.py MODEL.safetensors DATA.csv PREDICTIONS.txt [--tolerance T]

Reads the checkpoint with read_safetensors.load (an independent reader),
normalizes the CSV's features with the stored normalizer, applies each layer
z = x W^T + b and its activation (from __metadata__ 'layers'), and checks
every output against the rows of PREDICTIONS.txt (`soma predict --raw`).
Exit 0 when all agree within the tolerance, 1 otherwise.
"""
import argparse
import csv
import math
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from read_safetensors import load  # noqa: E402

ACTIVATIONS = {
    "identity": lambda x, p: x,
    "relu": lambda x, p: max(x, 0.0),
    "leaky_relu": lambda x, p: x if x > 0 else p * x,
    "sigmoid": lambda x, p: 1.0 / (1.0 + math.exp(-x)),
    "tanh": lambda x, p: math.tanh(x),
    "gelu_erf": lambda x, p: 0.5 * x * (1.0 + math.erf(x / math.sqrt(2.0))),
    "gelu_tanh": lambda x, p: 0.5 * x * (1.0 + math.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * x ** 3))),
    "silu": lambda x, p: x / (1.0 + math.exp(-x)),
}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("model")
    ap.add_argument("data")
    ap.add_argument("predictions")
    ap.add_argument("--tolerance", type=float, default=1e-4)
    args = ap.parse_args()
    _, _, meta, tensors = load(args.model)
    layers = [s.split(":") for s in meta["layers"].split(",")]
    rows = [r for r in csv.reader(open(args.data)) if r]
    try:
        [float(c) for c in rows[0]]
    except ValueError:
        rows = rows[1:]  # a header
    features = [[float(c) for c in r[:-1]] for r in rows]  # the label is the last column
    if meta["normalizer"] != "none":
        offset, scale = tensors["normalizer.offset"][2], tensors["normalizer.scale"][2]
        features = [[(v - o) * s for v, o, s in zip(r, offset, scale)] for r in features]
    predicted = [[float(v) for v in line.split(",")] for line in open(args.predictions) if line.strip()]
    if len(predicted) != len(features):
        print(f"FAIL: {len(predicted)} predictions for {len(features)} rows", file=sys.stderr)
        return 1
    worst = 0.0
    for x, want in zip(features, predicted):
        for i, (units, act, param, _dropout) in enumerate(layers):
            _, (out, inp), w = tensors[f"layers.{i}.weight"]
            b = tensors[f"layers.{i}.bias"][2]
            f = ACTIVATIONS[act]
            x = [f(sum(w[o * inp + k] * x[k] for k in range(inp)) + b[o], float(param)) for o in range(out)]
        worst = max(worst, max(abs(a - b) / max(1.0, abs(b)) for a, b in zip(x, want)))
    print(f"{len(features)} rows, largest difference {worst:.3g}")
    if worst > args.tolerance:
        print(f"FAIL: difference {worst:.3g} > {args.tolerance}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
