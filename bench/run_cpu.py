#!/usr/bin/env python3
"""run_cpu.py: soma's CPU benchmarks side by side with OpenBLAS and PyTorch.

Usage (bench/run_cpu.sh builds first and passes --build):
  run_cpu.py --build DIR [--runs N] [--only gemm,mnist,default,dropout,large] [--gemm-seconds S]
             [--torch-python PATH] [--quick]

Five tables, each from the same script run:
  gemm   GFLOP/s of soma's own GEMM, soma's OpenBLAS path, OpenBLAS sgemm
         called directly (the ceiling) and torch.mm, at square sizes and at
         every GEMM shape of the MLPs below (NT forward, TN weight gradient,
         NN input gradient);
  mnist  (a) 784-128-64-10 Adam 1e-3 batch 128, (b) 784-256-128-10 SGD 0.05
         momentum 0.9 batch 64, 5 epochs each: median epoch time, samples/s,
         test accuracy after the last epoch; with the GEMM table in the same
         run, each epoch against its FLOP limit (6 x parameters x samples at
         the sgemm ceiling);
  default  (d) `soma train --data mnist --device cpu` itself (784-256-128-10,
         dropout 0.1, Adam 1e-3 with a cosine schedule per step, batch 128,
         validation on 10% after every epoch) against PyTorch doing the same:
         epoch time (validation included), test accuracy, and the peak
         resident memory of each process (/usr/bin/time -v);
  dropout  bench_dropout: the dropout op, the fused bias+ReLU+dropout pass and
         its backward in GB/s beside plain copies of the same tensor;
  large  1024-4096-4096-4096-1024, batch 512, Adam: ms per step, forward +
         backward and optimizer apart, GFLOP/s, and the GEMM part against
         the OpenBLAS sgemm ceiling at the same shapes.
Each figure is the median of --runs (3) runs; soma's and PyTorch's runs
alternate, one process each. Before measuring, PyTorch's thread settings are
probed (torch.set_num_threads 1 or 2, with OpenBLAS's own pool at 1 or 2
threads) and the fastest is used for each benchmark; the probe's times are
printed. Both sides flush denormals (soma's CPU kernels always do; PyTorch
through torch.set_flush_denormal(True)).
"""
import argparse
import datetime
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)

SQUARES = [128, 256, 512, 1024, 2048, 4096]


def mlp_shapes(sizes, batch):
    """The GEMMs of one training step of an MLP, as soma and PyTorch issue them."""
    out = []
    for i in range(len(sizes) - 1):
        out.append((batch, sizes[i + 1], sizes[i], "NT"))      # z = x W^T
    for i in range(len(sizes) - 1):
        out.append((sizes[i + 1], sizes[i], batch, "TN"))      # dW = dz^T x
    for i in range(1, len(sizes) - 1):
        out.append((batch, sizes[i], sizes[i + 1], "NN"))      # dx = dz W
    return out


MLPS = {
    "a": ([784, 128, 64, 10], 128),
    "b": ([784, 256, 128, 10], 64),
    "c": ([1024, 4096, 4096, 4096, 1024], 512),
}


def parameters(sizes):
    return sum((sizes[i] + 1) * sizes[i + 1] for i in range(len(sizes) - 1))


MNIST_TRAIN_ROWS = 60000


def shape_name(s):
    return "%dx%dx%d:%s" % s


def load_average():
    try:
        with open("/proc/loadavg") as f:
            return " ".join(f.read().split()[:3])
    except OSError:
        return "?"


def cpu_idle(seconds):
    """The fraction of all CPUs' time that was idle over the next `seconds`."""
    def sample():
        with open("/proc/stat") as f:
            v = [int(x) for x in f.readline().split()[1:]]
        return v[3] + v[4], sum(v)
    i0, t0 = sample()
    time.sleep(seconds)
    i1, t1 = sample()
    return (i1 - i0) / max(1, t1 - t0)


QUIET = {"wait": 0.0, "log": []}


def wait_for_quiet():
    """Waits (up to --quiet-wait seconds) until the CPUs were >= 90% idle for
    2 s, so that other people's jobs do not land in a measurement; records
    how idle they were."""
    deadline = time.time() + QUIET["wait"]
    while True:
        idle = cpu_idle(2.0)
        if idle >= 0.9 or time.time() >= deadline:
            QUIET["log"].append(idle)
            return idle


def run(cmd, env):
    """Runs one benchmark process; its `key=value` result lines, parsed."""
    if QUIET["wait"] > 0:
        wait_for_quiet()
    full_env = dict(os.environ)
    full_env.update(env)
    p = subprocess.run(cmd, env=full_env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    if p.returncode != 0:
        sys.stderr.write(p.stdout)
        raise SystemExit("run_cpu: %s failed (exit %d)" % (" ".join(cmd), p.returncode))
    results, settings = [], ""
    for line in p.stdout.splitlines():
        if line.startswith("settings"):
            settings = line
            continue
        words = line.split()
        if not words or words[0] not in ("gemm", "mnist", "large", "dropout"):
            continue
        rec = {"kind": words[0]}
        for w in words[1:]:
            k, _, v = w.partition("=")
            try:
                rec[k] = float(v)
            except ValueError:
                rec[k] = v
        results.append(rec)
    return results, settings


def run_timed(cmd, env):
    """Runs cmd under /usr/bin/time -v; its output and its peak resident memory in MB."""
    if QUIET["wait"] > 0:
        wait_for_quiet()
    full_env = dict(os.environ)
    full_env.update(env)
    with tempfile.NamedTemporaryFile("r", suffix=".time") as t:
        p = subprocess.run(["/usr/bin/time", "-v", "-o", t.name] + cmd, env=full_env, stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, text=True)
        if p.returncode != 0:
            sys.stderr.write(p.stdout)
            raise SystemExit("run_cpu: %s failed (exit %d)" % (" ".join(cmd), p.returncode))
        peak = None
        for line in t.read().splitlines():
            if "Maximum resident set size" in line:
                peak = int(line.split(":")[1]) / 1024.0
    return p.stdout, peak


class Bench:
    def __init__(self, args):
        self.args = args
        self.bin = os.path.join(args.build, "bench")
        self.py = args.torch_python
        self.torch_script = os.path.join(HERE, "torch_mlp_cpu.py")
        self.coretype = args.openblas_coretype
        # soma: OpenMP's threads (OMP_NUM_THREADS); its OpenBLAS path gets as many
        self.soma_env = {"OMP_NUM_THREADS": str(args.threads), "OPENBLAS_NUM_THREADS": str(args.threads)}
        if self.coretype:
            self.soma_env["OPENBLAS_CORETYPE"] = self.coretype
        self.settings = {}

    def torch_env(self, torch_threads, blas_threads):
        env = {"OMP_NUM_THREADS": str(torch_threads), "MKL_NUM_THREADS": str(torch_threads),
               "OPENBLAS_NUM_THREADS": str(blas_threads)}
        if self.coretype:
            env["OPENBLAS_CORETYPE"] = self.coretype
        return env

    def torch_cmd(self, mode, torch_threads, extra):
        return [self.py, self.torch_script, mode, "--threads", str(torch_threads)] + extra

    # ---- PyTorch's thread settings -------------------------------------------------
    def probe_torch(self, name, mode, extra, key):
        """Times each candidate thread setting once; returns the fastest."""
        best, lines = None, []
        for tt, bt in ((1, 1), (1, 2), (2, 1), (2, 2)):
            res, _ = run(self.torch_cmd(mode, tt, extra), self.torch_env(tt, bt))
            value = res[-1][key]
            lines.append("  torch threads %d, OpenBLAS threads %d: %s = %.4g" % (tt, bt, key, value))
            if best is None or value < best[0]:
                best = (value, tt, bt)
        print("PyTorch thread probe (%s; lower is better):" % name)
        print("\n".join(lines))
        print("  -> torch.set_num_threads(%d), OPENBLAS_NUM_THREADS=%d" % (best[1], best[2]))
        sys.stdout.flush()
        return best[1], best[2]

    # ---- GEMM ----------------------------------------------------------------------------
    def gemm(self):
        a = self.args
        shapes = [(n, n, n, "NN") for n in (SQUARES if not a.quick else [256, 1024])]
        for key in ("a", "b", "c"):
            for s in mlp_shapes(*MLPS[key]):
                if s not in shapes:
                    shapes.append(s)
        specs = [shape_name(s) for s in shapes]
        tt, bt = self.probe_gemm_threads()
        impls = ["soma", "soma-openblas", "soma-default", "openblas", "torch"]
        data = {i: {s: [] for s in shapes} for i in impls}
        for r in range(a.runs):
            print("gemm round %d/%d, load %s" % (r + 1, a.runs, load_average()))
            sys.stdout.flush()
            for impl in impls:
                if impl == "torch":
                    res, st = run(self.torch_cmd("gemm", tt, ["--seconds", str(a.gemm_seconds)] + specs),
                                  self.torch_env(tt, bt))
                else:
                    res, st = run([os.path.join(self.bin, "bench_gemm"), impl, "--seconds", str(a.gemm_seconds)]
                                  + specs, self.soma_env)
                self.settings[impl] = st
                for rec in res:
                    s = (int(rec["m"]), int(rec["n"]), int(rec["k"]), rec["op"])
                    data[impl][s].append(rec["gflops"])
        # soma's own kernel on its other code paths (SOMA_CPU_ISA caps the choice)
        isa_specs = ["1024x1024x1024"] if a.quick else ["1024x1024x1024", "2048x2048x2048"]
        isa = {i: {s: [] for s in isa_specs} for i in ("avx2", "generic")}
        for r in range(a.runs):
            for i in isa:
                res, _ = run([os.path.join(self.bin, "bench_gemm"), "soma", "--seconds", str(a.gemm_seconds)]
                             + isa_specs, dict(self.soma_env, SOMA_CPU_ISA=i))
                for rec, spec in zip(res, isa_specs):
                    isa[i][spec].append(rec["gflops"])
        med = {i: {s: statistics.median(v) for s, v in data[i].items()} for i in impls}
        print()
        print("GEMM, GFLOP/s (median of %d runs; each run the median of %.2g s of calls)" % (a.runs, a.gemm_seconds))
        print("  own: soma's packed blocked kernel; ->OBLAS: OpenBLAS through soma's op layer; default: what")
        print("  training uses (own or ->OBLAS, fixed by shape); sgemm: cblas_sgemm called directly (the")
        print("  ceiling); torch: torch.mm (OpenBLAS inside)")
        hdr = "%-6s %-19s %7s %7s %7s %7s %7s %9s %9s %9s" % (
            "use", "shape MxNxK", "own", "->OBLAS", "default", "sgemm", "torch", "own/sgemm", "def/sgemm",
            "def/torch")
        print(hdr)
        print("-" * len(hdr))
        for s in shapes:
            use = "square" if s[0] == s[1] == s[2] and s[3] == "NN" and s[0] in SQUARES else \
                ",".join(k for k in "abc" if s in mlp_shapes(*MLPS[k]))
            o, ob, d = med["soma"][s], med["soma-openblas"][s], med["soma-default"][s]
            b, t = med["openblas"][s], med["torch"][s]
            print("%-6s %-19s %7.1f %7.1f %7.1f %7.1f %7.1f %9.2f %9.2f %9.2f" %
                  (use, "%dx%dx%d %s" % s, o, ob, d, b, t, o / b, d / b, d / t))
        print("soma's own kernel on its portable paths (SOMA_CPU_ISA=avx2: 6x16 AVX2+FMA tiles; =generic: 6x8,")
        print("baseline SSE2, no FMA), against the same sgemm ceiling:")
        for spec in isa_specs:
            shape = tuple(int(v) for v in spec.split("x")) + ("NN",)
            b = med["openblas"][shape]
            print("  %-16s %s" % (spec, "  ".join("%s %.1f GFLOP/s (%.2f of sgemm)" % (
                i, statistics.median(isa[i][spec]), statistics.median(isa[i][spec]) / b) for i in isa)))
        print()
        sys.stdout.flush()
        self.gemm_med = med
        return med

    def probe_gemm_threads(self):
        best, lines = None, []
        for tt, bt in ((1, 1), (1, 2), (2, 1), (2, 2)):
            res, _ = run(self.torch_cmd("gemm", tt, ["--seconds", "0.3", "1024x1024x1024", "128x128x784:NT"]),
                         self.torch_env(tt, bt))
            g = statistics.mean(r["gflops"] for r in res)
            lines.append("  torch threads %d, OpenBLAS threads %d: mean GFLOP/s %.1f" % (tt, bt, g))
            if best is None or g > best[0]:
                best = (g, tt, bt)
        print("PyTorch thread probe (torch.mm at 1024^3 and 128x128x784:NT; higher is better):")
        print("\n".join(lines))
        print("  -> torch.set_num_threads(%d), OPENBLAS_NUM_THREADS=%d" % (best[1], best[2]))
        sys.stdout.flush()
        return best[1], best[2]

    # ---- MNIST -------------------------------------------------------------------------------
    def mnist(self):
        a = self.args
        epochs = "2" if a.quick else "5"
        tt, bt = self.probe_torch("MNIST (a), 150 steps", "mnist",
                                  ["--config", "a", "--epochs", "1", "--max-steps", "150"], "median_epoch_s")
        out = {}
        runs = max(a.runs, a.mnist_runs)
        for cfg in ("a", "b"):
            soma_runs, torch_runs = [], []
            for r in range(runs):
                print("mnist (%s) round %d/%d, load %s" % (cfg, r + 1, runs, load_average()))
                sys.stdout.flush()
                seed = str(r + 1)
                res, st = run([os.path.join(self.bin, "bench_mnist"), "--config", cfg, "--epochs", epochs,
                               "--seed", seed], self.soma_env)
                self.settings["soma-mnist"] = st
                soma_runs.append(res[-1])
                res, st = run(self.torch_cmd("mnist", tt, ["--config", cfg, "--epochs", epochs, "--seed", seed]),
                              self.torch_env(tt, bt))
                self.settings["torch-mnist"] = st
                torch_runs.append(res[-1])
            out[cfg] = (soma_runs, torch_runs)
        print()
        print("MNIST, %s epochs per run, median over %d runs (seeds 1..%d); epoch = training only, no validation"
              % (epochs, runs, runs))
        hdr = "%-28s %10s %10s %7s %12s %12s %9s %9s" % ("config", "soma s/ep", "torch s/ep", "ratio",
                                                        "soma samp/s", "torch samp/s", "soma acc", "torch acc")
        print(hdr)
        print("-" * len(hdr))
        names = {"a": "(a) 784-128-64-10 Adam b128", "b": "(b) 784-256-128-10 SGD b64"}
        for cfg in ("a", "b"):
            s, t = out[cfg]
            se = statistics.median(x["median_epoch_s"] for x in s)
            te = statistics.median(x["median_epoch_s"] for x in t)
            print("%-28s %10.3f %10.3f %7.2f %12.0f %12.0f %9.4f %9.4f" %
                  (names[cfg], se, te, se / te, statistics.median(x["samples_per_s"] for x in s),
                   statistics.median(x["samples_per_s"] for x in t),
                   statistics.median(x["test_acc"] for x in s), statistics.median(x["test_acc"] for x in t)))
            print("  per run: soma s/ep %s acc %s late regions %s | torch s/ep %s acc %s" % (
                " ".join("%.3f" % x["median_epoch_s"] for x in s), " ".join("%.4f" % x["test_acc"] for x in s),
                " ".join("%d" % x.get("late_regions", 0) for x in s),
                " ".join("%.3f" % x["median_epoch_s"] for x in t), " ".join("%.4f" % x["test_acc"] for x in t)))
            if runs >= 2:
                accuracy_line(runs, [x["test_acc"] for x in s], [x["test_acc"] for x in t])
            self.flop_limit_lines(cfg, se)
        print()
        sys.stdout.flush()

    def flop_limit_lines(self, cfg, epoch_s):
        """An epoch against its FLOP limit, 6 x parameters x samples at the sgemm ceiling of this run's GEMM
        table: the machine's best (squares) and sgemm at the model's own step shapes."""
        if not hasattr(self, "gemm_med"):
            print("  (FLOP limit: run the gemm table in the same run, --only gemm,mnist)")
            return
        sizes, batch = MLPS[cfg]
        flop = 6.0 * parameters(sizes) * MNIST_TRAIN_ROWS
        sgemm = self.gemm_med["openblas"]
        peak = max(v for k, v in sgemm.items() if k[0] == k[1] == k[2] and k[3] == "NN")
        step = mlp_shapes(sizes, batch)
        step_s = sum(2.0 * m * n * k / (sgemm[(m, n, k, op)] * 1e9) for m, n, k, op in step)
        at_shapes = sum(2.0 * m * n * k for m, n, k, _ in step) / step_s / 1e9
        print("  FLOP limit: 6 x %d parameters x %d samples = %.1f GFLOP per epoch; at the sgemm peak of this run "
              "(%.0f GFLOP/s, best square) %.3f s = %.0f%% of the measured %.3f s; at sgemm on these step shapes "
              "(%.0f GFLOP/s) %.3f s = %.0f%%" % (
                  parameters(sizes), MNIST_TRAIN_ROWS, flop / 1e9, peak, flop / peak / 1e9,
                  100 * flop / peak / 1e9 / epoch_s, epoch_s, at_shapes, flop / at_shapes / 1e9,
                  100 * flop / at_shapes / 1e9 / epoch_s))

    # ---- (d): soma train's own default run -------------------------------------------------
    def default_run(self):
        a = self.args
        epochs = str(a.default_epochs if not a.quick else 2)
        tt, bt = self.probe_torch("MNIST default run, 1 epoch of 150 steps", "mnist",
                                  ["--config", "default", "--epochs", "1", "--max-steps", "150"], "median_epoch_s")
        soma_cli = os.path.join(self.args.build, "soma")
        runs = max(a.runs, a.mnist_runs)
        _, soma_idle = run_timed([soma_cli, "--version"], self.soma_env)
        _, torch_idle = run_timed([self.py, "-c", "import torch"], self.torch_env(tt, bt))
        soma_runs, torch_runs = [], []
        for r in range(runs):
            print("mnist (d) round %d/%d, load %s" % (r + 1, runs, load_average()))
            sys.stdout.flush()
            seed = str(r + 1)
            with tempfile.NamedTemporaryFile("r", suffix=".csv") as log:
                out, peak = run_timed([soma_cli, "train", "--data", "mnist", "--device", "cpu", "--epochs", epochs,
                                       "--seed", seed, "--log", log.name], self.soma_env)
                seconds = [float(line.split(",")[5]) for line in log.read().splitlines()[1:]]
            acc = [float(line.split("accuracy")[1].split()[0]) for line in out.splitlines() if line.startswith("test:")]
            soma_runs.append({"median_epoch_s": statistics.median(seconds), "test_acc": acc[-1], "peak_mb": peak})
            out, peak = run_timed(self.torch_cmd("mnist", tt, ["--config", "default", "--epochs", epochs, "--seed", seed]),
                                  self.torch_env(tt, bt))
            rec = [l for l in out.splitlines() if l.startswith("mnist ")][-1]
            fields = dict(w.split("=", 1) for w in rec.split()[1:])
            torch_runs.append({"median_epoch_s": float(fields["median_epoch_s"]), "test_acc": float(fields["test_acc"]),
                               "peak_mb": peak})
        med = lambda runs, k: statistics.median(x[k] for x in runs)
        print()
        print("MNIST (d), soma train's default run: 784-256-128-10 ReLU, dropout 0.1 after each hidden layer, Adam 1e-3")
        print("with a cosine schedule stepped per batch, batch 128, 54000/6000 split with validation after every epoch")
        print("(inside the epoch's time); %s epochs per run, median over %d runs (seeds 1..%d)" % (epochs, runs, runs))
        print("  soma: `soma train --data mnist --device cpu --epochs %s --seed S` (epoch seconds from its --log);" % epochs)
        print("  torch: torch_mlp_cpu.py mnist --config default; peak = maximum resident set (/usr/bin/time -v)")
        hdr = "%-10s %10s %10s %7s %9s %9s %14s %14s" % ("config", "soma s/ep", "torch s/ep", "ratio", "soma acc",
                                                         "torch acc", "soma peak MB", "torch peak MB")
        print(hdr)
        print("-" * len(hdr))
        se, te = med(soma_runs, "median_epoch_s"), med(torch_runs, "median_epoch_s")
        print("%-10s %10.3f %10.3f %7.2f %9.4f %9.4f %14.0f %14.0f" % (
            "(d)", se, te, se / te, med(soma_runs, "test_acc"), med(torch_runs, "test_acc"), med(soma_runs, "peak_mb"),
            med(torch_runs, "peak_mb")))
        print("  per run: soma s/ep %s acc %s | torch s/ep %s acc %s" % (
            " ".join("%.3f" % x["median_epoch_s"] for x in soma_runs), " ".join("%.4f" % x["test_acc"] for x in soma_runs),
            " ".join("%.3f" % x["median_epoch_s"] for x in torch_runs),
            " ".join("%.4f" % x["test_acc"] for x in torch_runs)))
        print("  peak resident memory of the processes doing nothing: `soma --version` %.0f MB (the libraries it "
              "links, CUDA's when built with CUDA), `python3 -c 'import torch'` %.0f MB" % (soma_idle, torch_idle))
        if runs >= 2:
            accuracy_line(runs, [x["test_acc"] for x in soma_runs], [x["test_acc"] for x in torch_runs])
        print()
        sys.stdout.flush()

    # ---- dropout against a copy ---------------------------------------------------------------
    def dropout(self):
        a = self.args
        data = {}
        for r in range(a.runs):
            print("dropout round %d/%d, load %s" % (r + 1, a.runs, load_average()))
            sys.stdout.flush()
            res, st = run([os.path.join(self.bin, "bench_dropout"), "--seconds", str(a.gemm_seconds)], self.soma_env)
            self.settings["soma-dropout"] = st
            for rec in res:
                data.setdefault((rec["shape"], rec["op"]), []).append(rec)
        print()
        print("Dropout on the CPU against a copy of the same tensor (bench_dropout, p = 0.1, median of %d runs)" % a.runs)
        print("  copy: soma_tensor_copy (one memmove); scale: soma_scale(1), the same traffic on soma's threads;")
        print("  dropout: soma_dropout_forward (draws and applies the mask); fused: soma_bias_act_dropout (ReLU, z and")
        print("  the 1-bit mask kept); fused_bwd: its backward; uniform, normal: the fills from the same Philox words.")
        print("  'x copy' = time / the faster copy's time.")
        hdr = "%-12s %-10s %9s %11s %8s" % ("shape", "op", "GB/s", "ns/element", "x copy")
        print(hdr)
        print("-" * len(hdr))
        for (shape, op), recs in data.items():
            print("%-12s %-10s %9.1f %11.3f %8.2f" % (shape, op, statistics.median(x["gbps"] for x in recs),
                                                       statistics.median(x["ns_per_elem"] for x in recs),
                                                       statistics.median(x["vs_copy"] for x in recs)))
        print()
        sys.stdout.flush()

    # ---- the large MLP ---------------------------------------------------------------------------
    def large(self):
        a = self.args
        steps = "3" if a.quick else "5"
        tt, bt = self.probe_torch("large MLP, 1 warm-up + 2 steps", "large", ["--steps", "2", "--warmup", "1"],
                                  "step_ms")
        soma_runs, torch_runs, default_runs = [], [], []
        for r in range(a.runs):
            print("large round %d/%d, load %s" % (r + 1, a.runs, load_average()))
            sys.stdout.flush()
            res, st = run([os.path.join(self.bin, "bench_mlp_large"), "--steps", steps], self.soma_env)
            self.settings["soma-large"] = st
            soma_runs.append(res[-1])
            res, st = run(self.torch_cmd("large", tt, ["--steps", steps]), self.torch_env(tt, bt))
            self.settings["torch-large"] = st
            torch_runs.append(res[-1])
            res, st = run(self.torch_cmd("large", tt, ["--steps", steps, "--foreach", "none"]), self.torch_env(tt, bt))
            self.settings["torch-large-default-adam"] = st
            default_runs.append(res[-1])
        med = lambda runs, k: statistics.median(x[k] for x in runs)
        print()
        print("Large MLP 1024-4096-4096-4096-1024, batch 512, Adam (%s timed steps per run after 2 warm-up; "
              "median over %d runs)" % (steps, a.runs))
        hdr = "%-20s %10s %12s %10s %16s" % ("", "step ms", "fwd+bwd ms", "optim ms", "fwd+bwd GFLOP/s")
        print(hdr)
        print("-" * len(hdr))
        rows = (("soma", soma_runs), ("torch", torch_runs), ("torch, default Adam", default_runs))
        # PyTorch at its best: whichever Adam was faster in this run
        best_name, best_runs = min(rows[1:], key=lambda r: med(r[1], "step_ms"))
        for name, runs in rows:
            print("%-20s %10.1f %12.1f %10.1f %16.1f" % (name, med(runs, "step_ms"), med(runs, "fwdbwd_ms"),
                                                         med(runs, "optim_ms"), med(runs, "fwdbwd_gflops")))
        for name, runs in rows[1:]:
            print("%-20s %10.2f %12.2f %10.2f" % ("soma / " + name, med(soma_runs, "step_ms") / med(runs, "step_ms"),
                                                  med(soma_runs, "fwdbwd_ms") / med(runs, "fwdbwd_ms"),
                                                  med(soma_runs, "optim_ms") / med(runs, "optim_ms")))
        print("  torch: Adam(foreach=True), the multi-tensor update; 'default Adam': foreach unset (1.13's CPU default,"
              " a loop over tensors)")
        print("  soma / PyTorch at its best (%s): step %.2f" % (best_name, med(soma_runs, "step_ms") /
                                                             med(best_runs, "step_ms")))
        print("  per run: soma step ms %s (late regions %s) | torch %s | torch default Adam %s" % (
            " ".join("%.1f" % x["step_ms"] for x in soma_runs),
            " ".join("%d" % x.get("late_regions", 0) for x in soma_runs),
            " ".join("%.1f" % x["step_ms"] for x in torch_runs), " ".join("%.1f" % x["step_ms"] for x in default_runs)))
        gemm_flop = med(soma_runs, "gemm_gflop")
        print("  GFLOP/s = 6 * 512 * %d parameters / fwd+bwd time; the GEMMs of a step do %.2f GFLOP"
              % (int(soma_runs[0]["params"]), gemm_flop))
        if hasattr(self, "gemm_med"):
            # the step's 11 GEMMs: NT and TN per layer, NN for layers 1..3 (layers 1, 2 repeat shapes)
            step = []
            sizes, batch = MLPS["c"]
            for i in range(len(sizes) - 1):
                step.append((batch, sizes[i + 1], sizes[i], "NT"))
                step.append((sizes[i + 1], sizes[i], batch, "TN"))
                if i > 0:
                    step.append((batch, sizes[i], sizes[i + 1], "NN"))
            flop = sum(2.0 * m * n * k for m, n, k, _ in step)
            ceiling_s = sum(2.0 * m * n * k / (self.gemm_med["openblas"][(m, n, k, op)] * 1e9) for m, n, k, op in step)
            ceiling = flop / ceiling_s / 1e9
            fb = med(soma_runs, "fwdbwd_ms") / 1e3
            gonly = med(soma_runs, "gemm_only_ms") / 1e3
            print("  sgemm ceiling at the step's GEMM shapes (OpenBLAS, from the GEMM table): %.1f GFLOP/s = %.1f ms"
                  % (ceiling, 1e3 * ceiling_s))
            print("  soma's GEMMs alone (same shapes, soma_gemm): %.1f ms = %.1f GFLOP/s = %.0f%% of the ceiling"
                  % (1e3 * gonly, flop / gonly / 1e9, 100 * ceiling_s / gonly))
            print("  soma's whole fwd+bwd phase, counting only GEMM FLOPs: %.1f GFLOP/s = %.0f%% of the ceiling"
                  % (flop / fb / 1e9, 100 * ceiling_s / fb))
        print()
        sys.stdout.flush()


def accuracy_line(runs, sa, ta):
    """Test accuracy moves by about 0.2 points from seed to seed: the means and the standard error of their
    difference say whether the two sides really differ."""
    se_diff = (statistics.variance(sa) / len(sa) + statistics.variance(ta) / len(ta)) ** 0.5
    print("  accuracy over the %d seeds: soma mean %.4f (sd %.4f), torch mean %.4f (sd %.4f); "
          "soma - torch = %+.4f, standard error %.4f" % (
              runs, statistics.mean(sa), statistics.stdev(sa), statistics.mean(ta), statistics.stdev(ta),
              statistics.mean(sa) - statistics.mean(ta), se_diff))


def machine_lines():
    model = "?"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    flags = ""
    try:
        with open("/proc/cpuinfo") as f:
            txt = f.read()
        flags = "avx512f" if " avx512f" in txt else ("avx2" if " avx2" in txt else "")
    except OSError:
        pass
    mem = "?"
    try:
        with open("/proc/meminfo") as f:
            mem = "%.0f GiB" % (int(f.readline().split()[1]) / 1048576)
    except OSError:
        pass
    return "%s, %d CPUs (%s), %s RAM, %s" % (model, os.cpu_count() or 0, flags, mem, platform.platform())


def commit_line():
    def git(*a):
        return subprocess.run(["git", "-C", ROOT] + list(a), stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                              text=True).stdout.strip()
    head = git("rev-parse", "--short", "HEAD") or "?"
    dirty = git("status", "--porcelain", "--untracked-files=no")
    return ("uncommitted changes on top of %s" % head) if dirty else head


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--build", required=True, help="the CMake build directory (with bench/)")
    p.add_argument("--runs", type=int, default=3)
    p.add_argument("--mnist-runs", type=int, default=7,
                   help="MNIST runs per side (at least --runs): test accuracy varies by about 0.2 points by seed")
    p.add_argument("--only", default="gemm,mnist,default,dropout,large")
    p.add_argument("--default-epochs", type=int, default=5, help="epochs of each (d) run (5)")
    p.add_argument("--threads", type=int, default=2, help="soma's OMP_NUM_THREADS (2)")
    p.add_argument("--gemm-seconds", type=float, default=0.5)
    p.add_argument("--openblas-coretype", default="SkylakeX",
                   help="OPENBLAS_CORETYPE for both sides ('' to let OpenBLAS detect; 0.3.21 detects "
                        "this Xeon as Prescott)")
    p.add_argument("--torch-python", default="/usr/bin/python3")
    p.add_argument("--quick", action="store_true", help="fewer shapes, epochs and steps (a smoke test)")
    p.add_argument("--quiet-wait", type=float, default=120.0,
                   help="before each run, wait up to this many seconds for the CPUs to be >= 90%% idle (0: never)")
    args = p.parse_args()
    QUIET["wait"] = args.quiet_wait
    print("soma CPU benchmarks, %s" % datetime.datetime.now().strftime("%Y-%m-%d %H:%M %Z").strip())
    print("commit: %s" % commit_line())
    print("machine: %s" % machine_lines())
    print("load average at start: %s" % load_average())
    print("command: %s" % " ".join([os.path.relpath(sys.argv[0], ROOT)] + sys.argv[1:]))
    print("soma: OMP_NUM_THREADS=%d (OpenMP); its OpenBLAS path (the largest GEMMs) runs single-threaded OpenBLAS on"
          " those OpenMP threads; OPENBLAS_CORETYPE=%s; denormals flushed in its CPU kernels"
          % (args.threads, args.openblas_coretype or "auto"))
    print("OpenBLAS sgemm called directly (the ceiling): its own pool, OPENBLAS_NUM_THREADS=%d" % args.threads)
    print()
    sys.stdout.flush()
    b = Bench(args)
    only = args.only.split(",")
    if "gemm" in only:
        b.gemm()
    if "mnist" in only:
        b.mnist()
    if "default" in only:
        b.default_run()
    if "dropout" in only:
        b.dropout()
    if "large" in only:
        b.large()
    print("settings lines of the last runs:")
    for k, v in sorted(b.settings.items()):
        print("  %-14s %s" % (k, v))
    print("load average at end: %s" % load_average())
    if QUIET["log"]:
        log = QUIET["log"]
        print("CPU idle in the 2 s before each of the %d runs: median %.0f%%, lowest %.0f%%, %d runs below 90%%"
              % (len(log), 100 * statistics.median(log), 100 * min(log), sum(1 for x in log if x < 0.9)))


if __name__ == "__main__":
    main()
