#!/usr/bin/env python3
"""pytorch_interop.py: run a soma checkpoint in PyTorch.

    soma train --data csv:data.csv --save model.safetensors
    soma predict --model model.safetensors --data csv:data.csv --raw > soma.txt
    python3 examples/pytorch_interop.py model.safetensors data.csv --compare soma.txt

A soma checkpoint is a safetensors file laid out the way PyTorch stores an
MLP: layers.{i}.weight [out, in] and layers.{i}.bias [out] are nn.Linear's
parameters as they are. This script rebuilds the model as an nn.Sequential
from the architecture in the file's __metadata__ ("layers": one
"units:activation:param:dropout" per dense layer), loads the weights, applies
the stored feature normalization (x' = (x - normalizer.offset) *
normalizer.scale) to the CSV's rows, and prints the outputs, which are what
`soma predict --raw` prints for the same rows. With --compare it checks that
they agree (to 1e-5 by default) and exits 1 if they do not.

The file is read with safetensors.torch when that package is installed, and
otherwise with tests/read_safetensors.py, a reader that needs nothing but
Python's standard library (PyTorch 1.13, as Debian 12 ships it, cannot read
safetensors by itself).
"""
import argparse
import csv
import importlib.util
import os
import sys

import torch
from torch import nn


def load_checkpoint(path):
    """(metadata, {name: float32 tensor}) of a safetensors file."""
    try:
        from safetensors import safe_open  # the safetensors package, when installed

        with safe_open(path, framework="pt") as f:
            return dict(f.metadata() or {}), {k: f.get_tensor(k) for k in f.keys()}
    except ImportError:
        pass
    reader = os.environ.get("SOMA_SAFETENSORS_READER") or os.path.join(
        os.path.dirname(os.path.abspath(__file__)), "..", "tests", "read_safetensors.py")
    spec = importlib.util.spec_from_file_location("read_safetensors", reader)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    _, _, meta, tensors = module.load(path)
    return meta, {name: torch.tensor(values, dtype=torch.float32).reshape(shape)
                  for name, (_dtype, shape, values) in tensors.items()}


def activation(name, param):
    """The nn module of a soma activation (see include/soma/ops.h for the maths)."""
    if name == "identity":
        return None
    if name == "relu":
        return nn.ReLU()
    if name == "leaky_relu":
        return nn.LeakyReLU(param if param != 0 else 0.01)  # soma: slope 0 means 0.01
    if name == "sigmoid":
        return nn.Sigmoid()
    if name == "tanh":
        return nn.Tanh()
    if name == "gelu_erf":
        return nn.GELU()
    if name == "gelu_tanh":
        return nn.GELU(approximate="tanh")
    if name == "silu":
        return nn.SiLU()
    raise ValueError(f"unknown activation '{name}' in the checkpoint")


def build_model(meta, tensors):
    """nn.Sequential(Linear, activation, [Dropout], Linear, ...) with soma's weights, in eval mode."""
    modules, inputs = [], int(meta["inputs"])
    for i, layer in enumerate(meta["layers"].split(",")):
        units, act, param, dropout = layer.split(":")
        linear = nn.Linear(inputs, int(units))
        with torch.no_grad():
            linear.weight.copy_(tensors[f"layers.{i}.weight"])
            linear.bias.copy_(tensors[f"layers.{i}.bias"].reshape(-1))
        modules.append(linear)
        act_module = activation(act, float(param))
        if act_module is not None:
            modules.append(act_module)
        if float(dropout) > 0:
            modules.append(nn.Dropout(float(dropout)))  # a no-op in eval mode, as in soma predict
        inputs = int(units)
    return nn.Sequential(*modules).eval()


def read_features(path, label):
    """The feature columns of a CSV as soma reads it: a first line with a
    non-numeric cell is a header; the label column (a name or an index,
    default the last) is left out."""
    rows = [r for r in csv.reader(open(path, newline="")) if r]
    header = None
    try:
        [float(c) for c in rows[0]]
    except ValueError:
        header, rows = rows[0], rows[1:]
    if label is None:
        column = len(rows[0]) - 1
    elif header is not None and label in header:
        column = header.index(label)
    else:
        column = int(label)
    return torch.tensor([[float(c) for j, c in enumerate(r) if j != column] for r in rows],
                        dtype=torch.float32)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("model", help="a soma checkpoint (.safetensors)")
    ap.add_argument("data", help="a CSV file with the columns the model was trained on")
    ap.add_argument("--label", help="the label column, by name or index (default: the last)")
    ap.add_argument("--compare", metavar="FILE", help="the output of `soma predict --raw` on the same CSV")
    ap.add_argument("--tolerance", type=float, default=1e-5,
                    help="largest difference allowed by --compare, relative to max(1, |soma's value|)")
    ap.add_argument("--show", type=int, default=5, help="rows to print (default 5)")
    args = ap.parse_args()

    meta, tensors = load_checkpoint(args.model)
    model = build_model(meta, tensors)
    print(model)
    x = read_features(args.data, args.label)
    if meta.get("normalizer", "none") != "none":
        x = (x - tensors["normalizer.offset"].reshape(-1)) * tensors["normalizer.scale"].reshape(-1)
    with torch.no_grad():
        y = model(x)

    soma = None
    if args.compare:
        soma = torch.tensor([[float(v) for v in line.split(",")] for line in open(args.compare) if line.strip()],
                            dtype=torch.float64)
        if soma.shape != y.shape:
            print(f"FAIL: soma predicted {tuple(soma.shape)} outputs, PyTorch {tuple(y.shape)}", file=sys.stderr)
            return 1
    classes = meta.get("loss") == "xent" or (meta.get("loss") == "bce" and y.shape[1] > 1)
    for i in range(min(args.show, y.shape[0])):
        line = f"row {i}: pytorch " + " ".join(f"{v:.6f}" for v in y[i].tolist())
        if soma is not None:
            line += "  soma " + " ".join(f"{v:.6f}" for v in soma[i].tolist())
        if classes:
            line += f"  class {int(y[i].argmax())}"
        print(line)
    if soma is None:
        return 0
    difference = ((y.double() - soma).abs() / soma.abs().clamp(min=1.0)).max().item()
    print(f"{y.shape[0]} rows x {y.shape[1]} outputs: largest difference from soma predict {difference:.3g}")
    if difference > args.tolerance:
        print(f"FAIL: PyTorch and soma differ by {difference:.3g} > {args.tolerance:g}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
