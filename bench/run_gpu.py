#!/usr/bin/python3
"""run_gpu.py: soma's GPU benchmark beside PyTorch's, one table (bench/run_gpu.sh
builds bench_gpu and calls this).

For each case it runs `bench_gpu` (soma) and bench/torch_mlp_gpu.py in eager
and torch.compile mode, each in its own process, reads their `gpu key=value`
lines and prints them side by side with the ratios (PyTorch's time / soma's:
above 1 means soma is faster), soma's large-MLP step over its GEMMs alone,
and the device memory of each. Cases: MNIST MLPs (a) 784-128-64-10 and (b)
784-256-128-10 at batch 128 in fp32, and the large MLP (8192 wide, 4 hidden
layers, batch 8192) in fp32, tf32 and bf16. A run that fails is shown as
failed with its last error line; the exit status is 1 when any did.

  run_gpu.py --build DIR [--device cuda|cpu] [--quick] [--synthetic]
             [--only mnist|large] [--modes eager,compile] [--python PY]
"""
import argparse
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
CASES = [("mnist-a", "fp32"), ("mnist-b", "fp32"),
         ("large", "fp32"), ("large", "tf32"), ("large", "bf16")]


def parse(output):
    for line in output.splitlines():
        if line.startswith("gpu "):
            return dict(kv.split("=", 1) for kv in line.split()[1:] if "=" in kv)
    return None


def run(cmd, timeout):
    try:
        p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return None, "timed out after %d s" % timeout
    result = parse(p.stdout)
    if p.returncode != 0 or result is None:
        last = [l for l in p.stdout.splitlines() if l.strip()]
        return None, "exit %d: %s" % (p.returncode, last[-1] if last else "no output")
    return result, None


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--build", required=True)
    ap.add_argument("--device", default="cuda")
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--synthetic", action="store_true")
    ap.add_argument("--only", choices=["mnist", "large"])
    ap.add_argument("--modes", default="eager,compile")
    ap.add_argument("--python", default=sys.executable)
    ap.add_argument("--timeout", type=int, default=900)
    args = ap.parse_args()
    common = ["--device", args.device] + (["--quick"] if args.quick else []) + \
             (["--synthetic"] if args.synthetic else [])
    modes = [m for m in args.modes.split(",") if m]
    failed = False
    rows = []
    for case, precision in CASES:
        if args.only and not case.startswith(args.only):
            continue
        what = ["--case", case, "--precision", precision] + common
        soma, err = run([os.path.join(args.build, "bench", "bench_gpu")] + what, args.timeout)
        results = {"soma": (soma, err)}
        for mode in modes:
            results["torch-" + mode] = run([args.python, os.path.join(HERE, "torch_mlp_gpu.py"), "--mode", mode] + what,
                                           args.timeout)
        for name, (res, err) in results.items():
            print("%-8s %-5s %-14s %s" % (case, precision, name,
                                          " ".join("%s=%s" % kv for kv in res.items()) if res else "FAILED " + err),
                  flush=True)
            failed = failed or res is None
        rows.append((case, precision, results))

    key = {"mnist-a": "median_epoch_s", "mnist-b": "median_epoch_s", "large": "step_ms"}
    print()
    print("%-8s %-5s %12s %12s %12s %8s %8s %10s %10s %24s" % (
        "case", "prec", "soma", "torch-eager", "torch-comp", "eager/s", "comp/s", "soma/gemm", "soma MiB",
        "torch MiB (dev/alloc/res)"))
    for case, precision, results in rows:
        k = key[case]
        soma = results["soma"][0]
        cell = lambda r: ("%.4g" % float(r[k])) if r else "failed"
        ratio = lambda r: ("%.2fx" % (float(r[k]) / float(soma[k]))) if r and soma else "-"
        eager = results.get("torch-eager", (None, None))[0]
        comp = results.get("torch-compile", (None, None))[0]
        torch_mem = eager or comp
        print("%-8s %-5s %12s %12s %12s %8s %8s %10s %10s %24s" % (
            case, precision, cell(soma), cell(eager), cell(comp), ratio(eager), ratio(comp),
            soma.get("step_over_gemm", "-") if soma else "-", soma["device_mem_mib"] if soma else "-",
            "%s/%s/%s" % (torch_mem["device_mem_mib"], torch_mem["max_allocated_mib"], torch_mem["max_reserved_mib"])
            if torch_mem else "-"))
    print("(%s: epoch seconds for mnist-*, ms per step for large; eager/s and comp/s are PyTorch's time over "
          "soma's: above 1 means soma is faster)" % ("device " + args.device))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
