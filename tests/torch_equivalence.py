#!/usr/bin/env python3
"""torch_equivalence.py SOMA EXAMPLE WORKDIR: soma and PyTorch 1.13 train the same network alike.

The network has every layer kind, a projection and four activations:
    7,dense:33:tanh,batchnorm:relu,res:17:gelu,res:9:silu:20,layernorm:tanh,dense:3
(The first dense layer has an activation: a bias feeding batchnorm directly
has a gradient of exactly 0 in exact arithmetic, rounding noise of 1e-9 in
float32, and Adam scales any gradient to a step of about lr, so rounding
decides the weights: PyTorch float32 against PyTorch float64 differ by 4.8e-2
on that bias after these 10 steps without the tanh, by 2.6e-6 at most with it.)
PyTorch builds it (SomaNet of examples/pytorch_interop.py, seed 14, norm
weights and running statistics drawn at random so that nothing sits at its
default) and writes the initial state dict as a plain safetensors file; soma
starts from it with --init (PyTorch -> soma). Both then train on the same 64
rows (7 features, 3 classes) with full batches, so that a step's data does
not depend on an order: 5 steps of SGD with momentum 0.9, then from there 5
steps of Adam, in training mode (batch statistics, running statistics
updated). After each phase soma's checkpoint is loaded into SomaNet with
load_state_dict(strict=True) (soma -> PyTorch) and every tensor, running
statistics included, is compared with PyTorch's; last, evaluation-mode outputs
(running statistics) of `soma predict --raw` are compared with PyTorch's.

Agreement is measured per tensor as max|soma - torch| / max|torch| (the
error relative to the tensor's scale; an element-wise ratio is meaningless
for entries near 0) and must be below 1e-4 everywhere. Exit 0 when it is,
1 otherwise; the largest figure is printed.
"""
import copy
import csv
import importlib.util
import subprocess
import sys

import torch

ARCH = "7,dense:33:tanh,batchnorm:relu,res:17:gelu,res:9:silu:20,layernorm:tanh,dense:3"
ROWS, FEATURES, CLASSES, SEED, STEPS = 64, 7, 3, 14, 5
SGD = {"lr": 0.05, "momentum": 0.9}
ADAM = {"lr": 0.01, "betas": (0.9, 0.999), "eps": 1e-8}
TOLERANCE = 1e-4


def load_example(path):
    spec = importlib.util.spec_from_file_location("pytorch_interop", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def make_data(path):
    """64 rows of 7 features; the class is which of 3 fixed projections is largest."""
    g = torch.Generator().manual_seed(SEED)
    x = torch.randn(ROWS, FEATURES, generator=g)
    y = (x @ torch.randn(FEATURES, CLASSES, generator=g)).argmax(1)
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow([f"x{j}" for j in range(FEATURES)] + ["label"])
        for i in range(ROWS):
            w.writerow([f"{v:.6f}" for v in x[i].tolist()] + [int(y[i])])
    # what soma reads: the printed values, not the unrounded ones
    rows = list(csv.reader(open(path, newline="")))[1:]
    return (torch.tensor([[float(c) for c in r[:-1]] for r in rows]),
            torch.tensor([int(r[-1]) for r in rows]))


def soma_train(soma, work, init, save, optim_args):
    cmd = [soma, "train", "--data", f"csv:{work}/data.csv,label=label", "--arch", ARCH,
           "--init", init, "--batch", str(ROWS), "--epochs", str(STEPS), "--no-shuffle",
           "--val-split", "0", "--normalize", "none", "--schedule", "constant",
           "--device", "cpu", "--quiet", "--save", save, *optim_args]
    print("$ " + " ".join(cmd[1:]).replace(work + "/", ""))
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode != 0:
        sys.exit(f"FAIL: soma train exited {r.returncode}: {r.stderr.strip()}")


def relative(a, b):
    a, b = a.double(), b.double()
    return ((a - b).abs().max() / b.abs().max().clamp(min=1e-30)).item()


def compare(example, net, path, phase):
    """Loads soma's checkpoint into a fresh SomaNet strictly; the largest relative difference."""
    soma_net, _, _ = example.load_model(path)  # load_state_dict(strict=True) inside
    theirs, ours = soma_net.state_dict(), net.state_dict()
    worst = 0.0
    for name, t in ours.items():
        if t.dtype == torch.int64:  # num_batches_tracked: counts, equal or not
            ok = int(theirs[name]) == int(t)
            print(f"  {phase:5} {name:28} soma {int(theirs[name])} torch {int(t)} {'' if ok else 'FAIL'}")
            worst = worst if ok else float("inf")
            continue
        e = relative(theirs[name], t)
        worst = max(worst, e)
        print(f"  {phase:5} {name:28} {list(t.shape)!s:10} {e:.2e}")
    return worst


def main():
    soma, example_path, work = sys.argv[1:4]
    example = load_example(example_path)
    torch.manual_seed(SEED)
    x, y = make_data(f"{work}/data.csv")

    net = example.SomaNet(ARCH)
    with torch.no_grad():  # norms away from their defaults, so that loading them is tested
        for name, t in net.state_dict().items():
            if ".running_var" in name:
                t.copy_(torch.rand_like(t) + 0.5)
            elif ".running_mean" in name or (t.dtype.is_floating_point and t.dim() == 1 and "fc" not in name):
                t.copy_(torch.randn_like(t) * 0.2 + (1.0 if name.endswith("weight") else 0.0))
    example.save_safetensors(f"{work}/init.safetensors", net.state_dict())
    print(f"PyTorch {torch.__version__}: {ARCH}, {ROWS} rows, seed {SEED}; wrote init.safetensors (plain)")

    # a float64 twin measures PyTorch's own float32 rounding, the scale the
    # differences from soma should have
    twin = copy.deepcopy(net).double()
    worst, own = {}, {}
    net.train()
    twin.train()
    for phase, make_opt, args in (
            ("sgd", lambda p: torch.optim.SGD(p, **SGD),
             ["--optim", "sgd", "--lr", str(SGD["lr"]), "--momentum", str(SGD["momentum"])]),
            ("adam", lambda p: torch.optim.Adam(p, **ADAM),
             ["--optim", "adam", "--lr", str(ADAM["lr"])])):
        init = f"{work}/init.safetensors" if phase == "sgd" else f"{work}/sgd.safetensors"
        soma_train(soma, work, init, f"{work}/{phase}.safetensors", args)
        for model, inputs in ((net, x), (twin, x.double())):
            opt = make_opt(model.parameters())
            for step in range(STEPS):
                opt.zero_grad()
                loss = torch.nn.functional.cross_entropy(model(inputs), y)
                loss.backward()
                opt.step()
            print(f"  {phase}: PyTorch's loss at step {STEPS} ({next(model.parameters()).dtype}): {loss.item():.6f}")
        worst[phase] = compare(example, net, f"{work}/{phase}.safetensors", phase)
        own[phase] = max(relative(t, twin.state_dict()[k]) for k, t in net.state_dict().items()
                         if t.dtype.is_floating_point)

    out = f"{work}/soma_eval.txt"
    with open(out, "w") as f:
        subprocess.run([soma, "predict", "--model", f"{work}/adam.safetensors", "--data",
                        f"csv:{work}/data.csv,label=label", "--device", "cpu", "--raw"], stdout=f, check=True)
    soma_y = torch.tensor([[float(v) for v in line.split(",")] for line in open(out) if line.strip()])
    with torch.no_grad():
        torch_y = net.eval()(x)
        own["eval"] = relative(torch_y, twin.eval()(x.double()))
    worst["eval"] = relative(soma_y, torch_y)
    print(f"  eval  outputs [{ROWS}, {CLASSES}] (running statistics)  {worst['eval']:.2e}")

    figure = max(worst.values())
    print("largest relative difference, soma - PyTorch: " + ", ".join(f"{k} {v:.2e}" for k, v in worst.items()))
    print("for scale, PyTorch float32 - float64:        " + ", ".join(f"{k} {v:.2e}" for k, v in own.items()))
    if not figure < TOLERANCE:
        print(f"FAIL: soma and PyTorch differ by {figure:.2e} > {TOLERANCE:g}")
        return 1
    print(f"torch_equivalence: soma and PyTorch agree within {figure:.2e} (limit {TOLERANCE:g})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
