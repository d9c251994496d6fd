#!/usr/bin/python3
"""torch_mlp_cpu.py: PyTorch's side of soma's CPU benchmarks (bench/run_cpu.py).

Each mode does what the soma program of the same name does, prints the same
`key=value` result lines, and is meant to be run one process per measurement:

  gemm   SPEC...            GFLOP/s of torch.mm for MxNxK:OP shapes (OP = NN, NT, TN)
  mnist  --config a|b|default
                            MNIST epochs: (a) 784-128-64-10 Adam 1e-3 batch 128,
                            (b) 784-256-128-10 SGD lr 0.05 momentum 0.9 batch 64,
                            (default) what `soma train --data mnist` does: 784-256-128-10,
                            Dropout(0.1) after each hidden layer, Adam 1e-3 with a cosine
                            schedule stepped per batch, batch 128, 10% of the training set
                            held out and evaluated after every epoch (inside the epoch's time)
  large                     1024-4096-4096-4096-1024, batch 512, Adam: ms per step,
                            forward+backward and optimizer timed apart

Settings (printed on the `settings` line): --threads sets
torch.set_num_threads; denormals are flushed (torch.set_flush_denormal) unless
--keep-denormals. OpenBLAS (which Debian's torch uses for its GEMMs) takes
OPENBLAS_NUM_THREADS and OPENBLAS_CORETYPE from the environment: the driver
sets them.

The models match soma's: weights He-uniform (U(-a, a), a = sqrt(6 / fan_in))
for ReLU layers and Xavier-uniform for the output layer, biases 0; the data
is held in memory as float tensors scaled to [0, 1], batches are taken by
indexing with a fresh permutation each epoch (no DataLoader); (a) and (b)
have no dropout, no validation split and a constant learning rate; test
accuracy is measured after the last epoch, outside the timed epochs.
"""
import argparse
import gzip
import math
import os
import statistics
import struct
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

CONFIGS = {
    # sizes, optimizer, lr, momentum, batch, dropout, cosine schedule, validation fraction
    "a": ([784, 128, 64, 10], "adam", 1e-3, 0.0, 128, 0.0, False, 0.0),
    "b": ([784, 256, 128, 10], "sgd", 0.05, 0.9, 64, 0.0, False, 0.0),
    "default": ([784, 256, 128, 10], "adam", 1e-3, 0.0, 128, 0.1, True, 0.1),
}


def read_idx(path):
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rb") as f:
        data = f.read()
    ndim = data[3]
    dims = struct.unpack(">" + "I" * ndim, data[4:4 + 4 * ndim])
    t = torch.frombuffer(bytearray(data[4 + 4 * ndim:]), dtype=torch.uint8)
    return t.reshape(dims)


def mnist_dir():
    root = os.environ.get("SOMA_DATA") or os.path.join(os.path.expanduser("~"), ".cache", "soma")
    return os.path.join(root, "mnist")


def load_mnist(split):
    d = mnist_dir()
    prefix = "train" if split == "train" else "t10k"
    x = read_idx(os.path.join(d, prefix + "-images-idx3-ubyte"))
    y = read_idx(os.path.join(d, prefix + "-labels-idx1-ubyte"))
    x = x.reshape(x.shape[0], -1).to(torch.float32).div_(255.0).contiguous()
    return x, y.to(torch.int64)


def make_mlp(sizes, dropout=0.0):
    layers = []
    for i in range(len(sizes) - 1):
        lin = nn.Linear(sizes[i], sizes[i + 1])
        last = i == len(sizes) - 2
        if last:
            nn.init.xavier_uniform_(lin.weight)
        else:
            nn.init.kaiming_uniform_(lin.weight, nonlinearity="relu")  # U(-sqrt(6/fan_in), ..)
        nn.init.zeros_(lin.bias)
        layers.append(lin)
        if not last:
            layers.append(nn.ReLU())
            if dropout > 0:
                layers.append(nn.Dropout(dropout))
    return nn.Sequential(*layers)


def make_optimizer(params, kind, lr, momentum, foreach):
    if kind == "adam":
        return torch.optim.Adam(params, lr=lr, foreach=foreach)
    return torch.optim.SGD(params, lr=lr, momentum=momentum, foreach=foreach)


def settings_line(args):
    env = " ".join("%s=%s" % (k, os.environ.get(k, "unset"))
                   for k in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "OPENBLAS_CORETYPE", "MKL_NUM_THREADS"))
    return ("settings torch=%s torch_threads=%d interop_threads=%d flush_denormal=%d foreach=%s %s"
            % (torch.__version__, torch.get_num_threads(), torch.get_num_interop_threads(),
               0 if args.keep_denormals else 1, getattr(args, "foreach", "n/a"), env))


def run_gemm(args):
    for spec in args.shapes:
        dims, op = spec.split(":") if ":" in spec else (spec, "NN")
        m, n, k = (int(v) for v in dims.split("x"))
        a = torch.randn(k, m) if op[0] == "T" else torch.randn(m, k)
        b = torch.randn(n, k) if op[1] == "T" else torch.randn(k, n)
        c = torch.empty(m, n)
        ta = a.t() if op[0] == "T" else a
        tb = b.t() if op[1] == "T" else b
        flop = 2.0 * m * n * k
        torch.mm(ta, tb, out=c)
        # calls per sample: about args.seconds / 10 of work each
        t0 = time.perf_counter()
        torch.mm(ta, tb, out=c)
        one = max(time.perf_counter() - t0, 1e-7)
        reps = max(1, int(args.seconds / 10 / one))
        samples = []
        end = time.perf_counter() + args.seconds
        while time.perf_counter() < end or len(samples) < 5:
            t0 = time.perf_counter()
            for _ in range(reps):
                torch.mm(ta, tb, out=c)
            samples.append((time.perf_counter() - t0) / reps)
        med = statistics.median(samples)
        print("gemm op=%s m=%d n=%d k=%d gflops=%.1f best_gflops=%.1f" %
              (op, m, n, k, flop / med / 1e9, flop / min(samples) / 1e9), flush=True)


def evaluate(model, x, y):
    """Mean cross-entropy and accuracy over (x, y), in eval mode, 1024 rows at a time."""
    model.eval()
    loss, correct = 0.0, 0
    with torch.no_grad():
        for i in range(0, x.shape[0], 1024):
            out = model(x[i:i + 1024])
            loss += F.cross_entropy(out, y[i:i + 1024], reduction="sum").item()
            correct += (out.argmax(1) == y[i:i + 1024]).sum().item()
    model.train()
    return loss / x.shape[0], correct / x.shape[0]


def run_mnist(args):
    sizes, kind, lr, momentum, batch, dropout, cosine, val_fraction = CONFIGS[args.config]
    torch.manual_seed(args.seed)
    x, y = load_mnist("train")
    xt, yt = load_mnist("test")
    xv = yv = None
    if val_fraction > 0:  # a shuffled split, as soma_dataset_split makes (54000 / 6000 for MNIST)
        perm = torch.randperm(x.shape[0])
        n_val = round(val_fraction * x.shape[0])
        xv, yv = x[perm[-n_val:]].contiguous(), y[perm[-n_val:]].contiguous()
        x, y = x[perm[:-n_val]].contiguous(), y[perm[:-n_val]].contiguous()
    model = make_mlp(sizes, dropout)
    opt = make_optimizer(model.parameters(), kind, lr, momentum, args.foreach)
    n = x.shape[0]
    steps_per_epoch = (n + batch - 1) // batch
    sched = None
    if cosine:  # soma's cosine: lr_t = lr (1 + cos(pi t / T)) / 2, t = steps taken, T = all steps
        total = args.epochs * steps_per_epoch
        sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda t: 0.5 * (1.0 + math.cos(math.pi * min(t, total) / total)))
    times = []
    val_loss = val_acc = float("nan")
    for epoch in range(1, args.epochs + 1):
        t0 = time.perf_counter()
        perm = torch.randperm(n)
        total_loss = torch.zeros(())
        for i in range(0, n if args.max_steps <= 0 else min(n, args.max_steps * batch), batch):
            idx = perm[i:i + batch]
            xb, yb = x[idx], y[idx]
            loss = F.cross_entropy(model(xb), yb)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            if sched:
                sched.step()
            total_loss += loss.detach() * xb.shape[0]
        train_loss = total_loss.item() / n
        if xv is not None:
            val_loss, val_acc = evaluate(model, xv, yv)
        times.append(time.perf_counter() - t0)
        print("epoch %d seconds=%.4f train_loss=%.4f val_loss=%.4f val_acc=%.4f" %
              (epoch, times[-1], train_loss, val_loss, val_acc), flush=True)
    acc = evaluate(model, xt, yt)[1]
    med = statistics.median(times)
    print("mnist config=%s epochs=%d median_epoch_s=%.4f samples_per_s=%.0f test_acc=%.4f train_loss=%.4f" %
          (args.config, args.epochs, med, n / med, acc, train_loss), flush=True)


def run_large(args):
    sizes, batch = [1024, 4096, 4096, 4096, 1024], 512
    torch.manual_seed(args.seed)
    model = make_mlp(sizes)
    opt = torch.optim.Adam(model.parameters(), lr=1e-4, foreach=args.foreach)
    params = sum(p.numel() for p in model.parameters())
    x = torch.rand(batch, sizes[0])
    y = torch.randint(0, sizes[-1], (batch,))
    fb, up = [], []
    for step in range(args.warmup + args.steps):
        t0 = time.perf_counter()
        opt.zero_grad(set_to_none=True)
        loss = F.cross_entropy(model(x), y)
        loss.backward()
        t1 = time.perf_counter()
        opt.step()
        t2 = time.perf_counter()
        if step >= args.warmup:
            fb.append(t1 - t0)
            up.append(t2 - t1)
    f, u = statistics.median(fb), statistics.median(up)
    steps = [a + b for a, b in zip(fb, up)]
    print("large params=%d batch=%d step_ms=%.1f fwdbwd_ms=%.1f optim_ms=%.1f fwdbwd_gflops=%.1f loss=%.4f" %
          (params, batch, 1e3 * statistics.median(steps), 1e3 * f, 1e3 * u,
           6.0 * batch * params / f / 1e9, loss.item()), flush=True)


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("mode", choices=["gemm", "mnist", "large"])
    p.add_argument("shapes", nargs="*", help="gemm: MxNxK[:OP]")
    p.add_argument("--threads", type=int, default=1, help="torch.set_num_threads (1)")
    p.add_argument("--keep-denormals", action="store_true")
    p.add_argument("--foreach", type=lambda s: {"none": None, "1": True, "0": False}[s], default=True,
                   help="optimizer foreach: 1 (multi-tensor, default), 0 or none")
    p.add_argument("--config", choices=sorted(CONFIGS), default="a")
    p.add_argument("--epochs", type=int, default=5)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--max-steps", type=int, default=0,
                   help="mnist: stop each epoch after this many steps (thread probes; 0: whole epochs)")
    p.add_argument("--seconds", type=float, default=1.0, help="gemm: time per shape")
    p.add_argument("--steps", type=int, default=5, help="large: timed steps")
    p.add_argument("--warmup", type=int, default=2, help="large: untimed steps first")
    args = p.parse_intermixed_args()  # shapes may follow the options
    torch.set_num_threads(args.threads)
    torch.set_flush_denormal(not args.keep_denormals)
    print(settings_line(args), flush=True)
    {"gemm": run_gemm, "mnist": run_mnist, "large": run_large}[args.mode](args)


if __name__ == "__main__":
    sys.exit(main())
