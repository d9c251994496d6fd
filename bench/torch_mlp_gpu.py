#!/usr/bin/python3
"""torch_mlp_gpu.py: PyTorch's side of soma's GPU benchmark (bench/run_gpu.sh).

Every case does what `bench_gpu --case ...` does and prints the same kind of
`gpu key=value ...` line, one process per measurement:

  mnist-a   784-128-64-10, ReLU, batch 128, Adam lr 1e-3, constant lr, the
            60000 MNIST training images (pixels / 255) resident on the device,
            a fresh permutation of them each epoch (torch.randperm on the
            device, batches by indexing: no DataLoader, no host copies); the
            epoch ends with a synchronize (the loss sum is read once); median
            epoch time over the epochs after the first (the first includes
            torch.compile's compilation and both sides' warm-up)
  mnist-b   the same with 784-256-128-10
  large     8192-8192-8192-8192-8192-1024 ReLU (4 hidden layers 8192 wide),
            batch 8192, Adam lr 1e-4, cross-entropy over 1024 classes on one
            fixed synthetic batch (uniform [0, 1) inputs, labels i * 7919 % 1024):
            median ms per step (forward, loss, backward, update, synchronize)
            after --warmup steps

  --mode eager|compile   eager PyTorch, or the model under torch.compile
                         (the optimizer step stays eager)
  --precision fp32       torch.backends.cuda.matmul.allow_tf32 = False
              tf32       allow_tf32 = True (TF32 tensor cores for float32 GEMMs)
              bf16       torch.autocast(dtype=torch.bfloat16): GEMMs on bf16
                         operands with float32 accumulation, float32 master
                         weights; unlike soma, autocast also keeps the Linear
                         outputs in bf16 (PyTorch's usual mixed precision)
  --device cuda|cpu      cpu with --quick checks this script without a GPU
  --quick                MNIST to 6400 images, large to 512 wide, batch 512
  --synthetic            random data of MNIST's shape instead of the files

Device memory (CUDA): device_mem_mib is the device memory in use
(torch.cuda.mem_get_info: total - free) at the end minus that after the
device was initialized, as bench_gpu measures soma's; max_allocated_mib and
max_reserved_mib are torch's own peaks. Weights: He-uniform for the ReLU
layers, Xavier-uniform for the output layer, biases 0, as soma's.
"""
import argparse
import os
import statistics
import struct
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F


def read_idx(path):
    with open(path, "rb") as f:
        data = f.read()
    ndim = data[3]
    dims = struct.unpack(">" + "I" * ndim, data[4:4 + 4 * ndim])
    t = torch.frombuffer(bytearray(data[4 + 4 * ndim:]), dtype=torch.uint8)
    return t.reshape(dims)


def load_mnist(split, keep, synthetic, gen):
    rows = 60000 if split == "train" else 10000
    if synthetic:
        x = torch.rand(rows, 784, generator=gen)
        y = torch.randint(0, 10, (rows,), generator=gen)
    else:
        root = os.environ.get("SOMA_DATA") or os.path.join(os.path.expanduser("~"), ".cache", "soma")
        prefix = os.path.join(root, "mnist", "train" if split == "train" else "t10k")
        x = read_idx(prefix + "-images-idx3-ubyte").reshape(rows, -1).to(torch.float32).div_(255.0)
        y = read_idx(prefix + "-labels-idx1-ubyte").to(torch.int64)
    if keep:
        x, y = x[:keep], y[:keep]
    return x.contiguous(), y.contiguous()


def make_mlp(sizes):
    layers = []
    for i in range(len(sizes) - 1):
        lin = nn.Linear(sizes[i], sizes[i + 1])
        last = i == len(sizes) - 2
        if last:
            nn.init.xavier_uniform_(lin.weight)
        else:
            nn.init.kaiming_uniform_(lin.weight, nonlinearity="relu")
        nn.init.zeros_(lin.bias)
        layers.append(lin)
        if not last:
            layers.append(nn.ReLU())
    return nn.Sequential(*layers)


class Device:
    """Synchronization and memory figures for the chosen device."""

    def __init__(self, name):
        self.dev = torch.device(name)
        self.cuda = self.dev.type == "cuda"
        if self.cuda:
            torch.cuda.init()
            torch.zeros(1, device=self.dev)  # the context exists from here on
            torch.cuda.synchronize()
            torch.cuda.reset_peak_memory_stats()
        self.base = self.used_mib()

    def sync(self):
        if self.cuda:
            torch.cuda.synchronize()

    def used_mib(self):
        if not self.cuda:
            return 0.0
        free, total = torch.cuda.mem_get_info()
        return (total - free) / 1048576.0

    def memory(self):
        if not self.cuda:
            return "device_mem_mib=0 max_allocated_mib=0 max_reserved_mib=0"
        return "device_mem_mib=%.0f max_allocated_mib=%.0f max_reserved_mib=%.0f" % (
            self.used_mib() - self.base, torch.cuda.max_memory_allocated() / 1048576.0,
            torch.cuda.max_memory_reserved() / 1048576.0)

    def description(self):
        if self.cuda:
            return torch.cuda.get_device_name(self.dev)
        return "cpu (%d threads)" % torch.get_num_threads()


def set_precision(precision):
    tf32 = precision == "tf32"
    torch.backends.cuda.matmul.allow_tf32 = tf32
    torch.backends.cudnn.allow_tf32 = tf32
    torch.set_float32_matmul_precision("high" if tf32 else "highest")


def autocast(args, dev):
    return torch.autocast(device_type=dev.dev.type, dtype=torch.bfloat16, enabled=args.precision == "bf16")


def train_step(model, opt, xb, yb, args, dev):
    with autocast(args, dev):
        loss = F.cross_entropy(model(xb), yb)
    opt.zero_grad(set_to_none=True)
    loss.backward()
    opt.step()
    return loss.detach()


def run_mnist(args, dev):
    sizes = [784, 128, 64, 10] if args.case == "mnist-a" else [784, 256, 128, 10]
    gen = torch.Generator().manual_seed(args.seed)
    torch.manual_seed(args.seed)
    x, y = load_mnist("train", 6400 if args.quick else 0, args.synthetic, gen)
    xt, yt = load_mnist("test", 1000 if args.quick else 0, args.synthetic, gen)
    x, y, xt, yt = (t.to(dev.dev) for t in (x, y, xt, yt))  # resident from here on
    model = make_mlp(sizes).to(dev.dev)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    step_model = torch.compile(model) if args.mode == "compile" else model
    n, batch = x.shape[0], 128
    times = []
    for epoch in range(1, args.epochs + 1):
        dev.sync()
        t0 = time.perf_counter()
        perm = torch.randperm(n, device=dev.dev)
        total = torch.zeros((), device=dev.dev)
        for i in range(0, n, batch):
            idx = perm[i:i + batch]
            total += train_step(step_model, opt, x[idx], y[idx], args, dev) * idx.shape[0]
        train_loss = total.item() / n  # the epoch's one wait
        times.append(time.perf_counter() - t0)
        print("epoch %d seconds=%.4f train_loss=%.4f" % (epoch, times[-1], train_loss), flush=True)
    model.eval()
    with torch.no_grad(), autocast(args, dev):
        correct = sum((model(xt[i:i + 1024]).argmax(1) == yt[i:i + 1024]).sum().item()
                      for i in range(0, xt.shape[0], 1024))
    med = statistics.median(times[1:] if len(times) > 1 else times)
    print("gpu case=%s framework=torch-%s precision=%s epochs=%d median_epoch_s=%.4f samples_per_s=%.0f "
          "test_acc=%.4f %s" % (args.case, args.mode, args.precision, len(times), med, n / med,
                                correct / xt.shape[0], dev.memory()), flush=True)


def run_large(args, dev):
    wide, batch, classes = (512, 512, 64) if args.quick else (8192, 8192, 1024)
    torch.manual_seed(args.seed)
    model = make_mlp([wide] * 5 + [classes]).to(dev.dev)
    opt = torch.optim.Adam(model.parameters(), lr=1e-4)
    step_model = torch.compile(model) if args.mode == "compile" else model
    x = torch.rand(batch, wide, device=dev.dev)
    y = (torch.arange(batch, device=dev.dev) * 7919) % classes
    times = []
    for s in range(args.warmup + args.steps):
        dev.sync()
        t0 = time.perf_counter()
        loss = train_step(step_model, opt, x, y, args, dev)
        dev.sync()
        if s >= args.warmup:
            times.append(time.perf_counter() - t0)
    print("gpu case=large framework=torch-%s precision=%s width=%d batch=%d steps=%d step_ms=%.3f loss=%.4f %s"
          % (args.mode, args.precision, wide, batch, len(times), 1e3 * statistics.median(times), loss.item(),
             dev.memory()), flush=True)


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--case", choices=["mnist-a", "mnist-b", "large"], required=True)
    p.add_argument("--mode", choices=["eager", "compile"], default="eager")
    p.add_argument("--precision", choices=["fp32", "tf32", "bf16"], default="fp32")
    p.add_argument("--device", default="cuda")
    p.add_argument("--epochs", type=int, default=4)
    p.add_argument("--steps", type=int, default=10)
    p.add_argument("--warmup", type=int, default=3)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--quick", action="store_true")
    p.add_argument("--synthetic", action="store_true")
    args = p.parse_args()
    if args.quick:
        args.epochs, args.steps, args.warmup = min(args.epochs, 2), min(args.steps, 2), min(args.warmup, 1)
    if args.mode == "compile" and not hasattr(torch, "compile"):
        sys.exit("torch_mlp_gpu.py: torch %s has no torch.compile (PyTorch 2.0 or newer needed)" % torch.__version__)
    if args.device.startswith("cuda") and not torch.cuda.is_available():
        sys.exit("torch_mlp_gpu.py: no CUDA device visible to torch (use --device cpu --quick to check the script)")
    dev = Device(args.device)
    set_precision(args.precision)
    print("settings torch=%s device=\"%s\" mode=%s precision=%s" % (torch.__version__, dev.description(), args.mode,
                                                                  args.precision), flush=True)
    (run_large if args.case == "large" else run_mnist)(args, dev)


if __name__ == "__main__":
    main()
