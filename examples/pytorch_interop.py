#!/usr/bin/env python3
"""pytorch_interop.py: soma checkpoints in PyTorch, and PyTorch weights in soma.

    soma train --data csv:data.csv --arch 5,dense:16:relu,res:32:gelu,layernorm,dense:2 --save model.safetensors
    soma predict --model model.safetensors --data csv:data.csv --raw > soma.txt
    python3 examples/pytorch_interop.py model.safetensors data.csv --compare soma.txt

    python3 examples/pytorch_interop.py --arch 5,dense:16:relu,dense:2 --write-init init.safetensors
    soma train --data csv:data.csv --arch 5,dense:16:relu,dense:2 --init init.safetensors

SomaNet(arch) is the PyTorch module of a soma architecture string (see
docs/checkpoints.md): `layers` is an nn.ModuleList of nn.Linear, nn.BatchNorm1d,
nn.LayerNorm and Residual modules, so its state_dict() keys and shapes are
exactly the tensor names of a soma checkpoint (layers.{i}.weight,
layers.{i}.running_mean, layers.{i}.fc1.bias, ...), and
load_state_dict(strict=True) takes a checkpoint's `layers.` tensors as they
are. Activations and dropout have no parameters and are applied in forward().

Run on a checkpoint, the script builds SomaNet from the architecture in the
file's metadata ("arch"; or "layers" in checkpoints from before the layer
table), loads the weights strictly, applies the stored feature normalization
(x' = (x - normalizer.offset) * normalizer.scale) to the CSV's rows and prints
the outputs in evaluation mode, which are what `soma predict --raw` prints for
the same rows. With --compare it checks that they agree (to 1e-5 by default)
and exits 1 if they do not.

With --write-init it goes the other way: it saves a freshly initialized
SomaNet(arch) (torch.manual_seed(--seed)) as a plain safetensors state dict,
no soma metadata, which `soma train --init FILE --arch ARCH` starts from.

Files are read and written with the safetensors package when it is installed
and otherwise with the few lines below (PyTorch 1.13, as Debian 12 ships it,
has no safetensors support and Debian has no python3-safetensors).
"""
import argparse
import csv
import json
import struct
import sys

import torch
from torch import nn

# ---- the PyTorch module of a soma architecture --------------------------------

# soma's activations (include/soma/ops.h) as PyTorch functions; leaky_relu's
# slope is the layer's parameter, 0.01 when none is given (as in soma).
ACTIVATIONS = {
    "identity": lambda x, slope: x,
    "relu": lambda x, slope: torch.relu(x),
    "leaky_relu": lambda x, slope: nn.functional.leaky_relu(x, slope or 0.01),
    "sigmoid": lambda x, slope: torch.sigmoid(x),
    "tanh": lambda x, slope: torch.tanh(x),
    "gelu_erf": lambda x, slope: nn.functional.gelu(x),
    "gelu_tanh": lambda x, slope: nn.functional.gelu(x, approximate="tanh"),
    "silu": lambda x, slope: nn.functional.silu(x),
}
ALIASES = {"gelu": "gelu_erf", "linear": "identity", "bn": "batchnorm", "ln": "layernorm"}


def parse_activation(field):
    """(name, slope) of an activation field: relu, gelu, leaky_relu, leaky_relu=0.2;
    None when the field is not an activation."""
    name, _, slope = field.partition("=")
    name = ALIASES.get(name, name)
    if name not in ACTIVATIONS:
        return None
    return name, float(slope) if slope else 0.0


def parse_arch(arch):
    """(inputs, [layer dicts]) of an architecture string such as
    784,dense:256,batchnorm:relu,res:1024:gelu,dense:10 (docs/checkpoints.md)."""
    items = [s.strip() for s in arch.split(",") if s.strip()]
    inputs = width = int(items[0])
    layers = []
    for item in items[1:]:
        kind, *fields = item.split(":")
        kind = ALIASES.get(kind, kind)
        layer = {"kind": kind, "in": width, "act": ("identity", 0.0), "dropout": 0.0}
        sizes = []
        for field in fields:
            if field.startswith("drop="):
                layer["dropout"] = float(field[5:])
            elif field.isdigit():
                sizes.append(int(field))
            elif parse_activation(field):
                layer["act"] = parse_activation(field)
            else:
                raise ValueError(f"layer '{item}': '{field}' is neither a size, an activation nor drop=P")
        if kind == "dense" and len(sizes) == 1:
            width = sizes[0]
        elif kind in ("batchnorm", "layernorm") and not sizes:
            pass
        elif kind == "res" and len(sizes) in (1, 2):
            layer["hidden"] = sizes[0]
            width = sizes[1] if len(sizes) == 2 else width
        else:
            raise ValueError(f"layer '{item}': wrong kind or number of sizes")
        layer["out"] = width
        layers.append(layer)
    return inputs, layers


class Residual(nn.Module):
    """soma's pre-norm residual block: y = s(x) + fc2(act(fc1(norm(x)))), where
    s(x) = x when the block keeps the width, else proj(x) (no bias)."""

    def __init__(self, inputs, hidden, outputs):
        super().__init__()
        self.norm = nn.LayerNorm(inputs, eps=1e-5)
        self.fc1 = nn.Linear(inputs, hidden)
        self.fc2 = nn.Linear(hidden, outputs)
        self.proj = nn.Linear(inputs, outputs, bias=False) if outputs != inputs else None

    def forward(self, x, act):
        skip = x if self.proj is None else self.proj(x)
        return skip + self.fc2(act(self.fc1(self.norm(x))))


class SomaNet(nn.Module):
    """The PyTorch module of a soma architecture string; its state_dict() is a
    soma checkpoint's `layers.` tensors, name for name and shape for shape."""

    def __init__(self, arch):
        super().__init__()
        self.arch = arch
        self.inputs, self.specs = parse_arch(arch)
        modules = []
        for s in self.specs:
            if s["kind"] == "dense":
                modules.append(nn.Linear(s["in"], s["out"]))
            elif s["kind"] == "batchnorm":
                modules.append(nn.BatchNorm1d(s["in"], eps=1e-5, momentum=0.1))
            elif s["kind"] == "layernorm":
                modules.append(nn.LayerNorm(s["in"], eps=1e-5))
            else:
                modules.append(Residual(s["in"], s["hidden"], s["out"]))
        self.layers = nn.ModuleList(modules)

    def forward(self, x):
        for layer, s in zip(self.layers, self.specs):
            name, slope = s["act"]
            act = lambda v, f=ACTIVATIONS[name]: f(v, slope)  # noqa: E731
            x = layer(x, act) if isinstance(layer, Residual) else act(layer(x))
            if s["dropout"] > 0:
                x = nn.functional.dropout(x, s["dropout"], self.training)
        return x


def arch_of_metadata(meta):
    """The architecture string of a checkpoint: its "arch" entry, or for files
    from before the layer table, "inputs" and "layers" (one
    units:activation:param:dropout entry per dense layer)."""
    if "arch" in meta:
        return meta["arch"]
    parts = [meta["inputs"]]
    for layer in meta["layers"].split(","):
        units, act, param, dropout = layer.split(":")
        act = f"{act}={param}" if act == "leaky_relu" and float(param) != 0 else act
        parts.append(f"dense:{units}:{act}:drop={float(dropout):g}")
    return ",".join(parts)


def model_state(tensors):
    """The model's tensors of a checkpoint (its `layers.` keys, unrenamed),
    without the normalizer and the optimizer state."""
    return {k: v for k, v in tensors.items() if k.startswith("layers.")}


# ---- safetensors without the safetensors package -----------------------------

DTYPES = {"F32": torch.float32, "F64": torch.float64, "F16": torch.float16, "BF16": torch.bfloat16,
          "I64": torch.int64, "I32": torch.int32, "I16": torch.int16, "I8": torch.int8,
          "U8": torch.uint8, "BOOL": torch.bool}


def load_safetensors(path):
    """(metadata, {name: tensor}) of a safetensors file: an 8-byte little-endian
    header length, a JSON header {name: {dtype, shape, data_offsets}} with an
    optional __metadata__ map of strings, then the raw little-endian data."""
    try:
        from safetensors import safe_open

        with safe_open(path, framework="pt") as f:
            return dict(f.metadata() or {}), {k: f.get_tensor(k) for k in f.keys()}
    except ImportError:
        pass
    with open(path, "rb") as f:
        blob = f.read()
    (n,) = struct.unpack("<Q", blob[:8])
    header = json.loads(blob[8:8 + n])
    data = blob[8 + n:]
    meta = header.pop("__metadata__", {})
    tensors = {}
    for name, info in header.items():
        begin, end = info["data_offsets"]
        dtype = DTYPES[info["dtype"]]
        # bytearray: a writable copy, so the tensor owns its memory
        flat = torch.frombuffer(bytearray(data[begin:end]), dtype=dtype) if end > begin else \
            torch.empty(0, dtype=dtype)
        tensors[name] = flat.reshape(info["shape"])
    return meta, tensors


def save_safetensors(path, state, metadata=None):
    """Writes a state dict ({name: tensor}) as a safetensors file, tensors in
    name order, the header padded with spaces to a multiple of 8 bytes."""
    try:
        from safetensors.torch import save_file

        return save_file({k: v.detach().contiguous() for k, v in state.items()}, path, metadata)
    except ImportError:
        pass
    names = {v: k for k, v in DTYPES.items()}
    header, chunks, offset = {}, [], 0
    for name in sorted(state):
        t = state[name].detach().cpu().contiguous()
        raw = t.numpy().tobytes() if t.numel() else b""
        header[name] = {"dtype": names[t.dtype], "shape": list(t.shape), "data_offsets": [offset, offset + len(raw)]}
        chunks.append(raw)
        offset += len(raw)
    if metadata:
        header["__metadata__"] = dict(metadata)
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text + b"".join(chunks))


# ---- the command line ----------------------------------------------------------

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


def load_model(path):
    """(SomaNet in evaluation mode with the checkpoint's weights, metadata, tensors)."""
    meta, tensors = load_safetensors(path)
    model = SomaNet(arch_of_metadata(meta))
    model.load_state_dict(model_state(tensors), strict=True)  # the names as they are
    return model.eval(), meta, tensors


def write_init(arch, path, seed):
    """Saves SomaNet(arch)'s initial weights as a plain state dict (soma --init)."""
    torch.manual_seed(seed)
    model = SomaNet(arch)
    save_safetensors(path, model.state_dict())
    print(model)
    print(f"wrote {len(model.state_dict())} tensors of {arch} to {path}")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("model", nargs="?", help="a soma checkpoint (.safetensors)")
    ap.add_argument("data", nargs="?", help="a CSV file with the columns the model was trained on")
    ap.add_argument("--label", help="the label column, by name or index (default: the last)")
    ap.add_argument("--compare", metavar="FILE", help="the output of `soma predict --raw` on the same CSV")
    ap.add_argument("--tolerance", type=float, default=1e-5,
                    help="largest difference allowed by --compare, relative to max(1, |soma's value|)")
    ap.add_argument("--show", type=int, default=5, help="rows to print (default 5)")
    ap.add_argument("--arch", help="with --write-init: the architecture string")
    ap.add_argument("--write-init", metavar="FILE", help="save SomaNet(--arch)'s initial weights here")
    ap.add_argument("--seed", type=int, default=0, help="with --write-init: torch.manual_seed (0)")
    args = ap.parse_args()

    if args.write_init:
        if not args.arch:
            ap.error("--write-init needs --arch")
        write_init(args.arch, args.write_init, args.seed)
        return 0
    if not args.model or not args.data:
        ap.error("give a checkpoint and a CSV file (or --arch and --write-init)")

    model, meta, tensors = load_model(args.model)
    print(f"arch {model.arch}")
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
