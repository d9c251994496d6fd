#!/usr/bin/env python3
"""npy_numpy_test.py TEST_NPY: files NumPy writes, read by soma (test_npy's
--npy/--npz dump) to the same float32 values: float32 and float64 (both byte
orders), uint8 images of 3 dimensions, int64, int16 and bool labels, 2-D
regression targets, np.save versions 1.0 and 2.0, np.savez by keyword and by
position; np.savez_compressed and Fortran order refused with their reason.
Exits 77 (skipped) when NumPy is missing."""
import os
import subprocess
import sys
import tempfile

try:
    import numpy as np
except ImportError:
    print("skip: NumPy is not installed for %s" % sys.executable)
    sys.exit(77)

test_npy = sys.argv[1]
seed = 16
rng = np.random.default_rng(seed)
print("numpy %s, seed %d" % (np.__version__, seed))
failures = 0


def dump(*args):
    out = subprocess.run([test_npy] + list(args), capture_output=True, text=True)
    return out.returncode, out.stdout


def check(name, x, y, *args):
    global failures
    code, text = dump(*args)
    lines = text.splitlines()
    rows = x.shape[0]
    x2 = np.asarray(x, dtype=np.float64).reshape(rows, -1).astype(np.float32)
    y2 = np.asarray(y, dtype=np.float64).reshape(rows, -1).astype(np.float32)
    want = "%d %d %d" % (rows, x2.shape[1], y2.shape[1])
    if code != 0 or not lines or lines[0] != want:
        print("FAIL: %s: exit %d, '%s', want '%s'" % (name, code, text[:200], want))
        failures += 1
        return
    got_x = np.array([[float(v) for v in l.split("|")[0].split()] for l in lines[1:]], dtype=np.float32)
    got_y = np.array([[float(v) for v in l.split("|")[1].split()] for l in lines[1:]], dtype=np.float32)
    if not (np.array_equal(got_x, x2) and np.array_equal(got_y, y2)):
        print("FAIL: %s: values differ (first x %s vs %s)" % (name, got_x[0][:4], x2[0][:4]))
        failures += 1
        return
    print("ok: %s: %s" % (name, want))


def refused(name, fragment, *args):
    global failures
    code, text = dump(*args)
    if code == 1 and fragment in text:
        print("ok: %s refused: %s" % (name, text.strip()[:150]))
    else:
        print("FAIL: %s: exit %d, '%s' lacks '%s'" % (name, code, text.strip(), fragment))
        failures += 1


with tempfile.TemporaryDirectory() as d:
    p = lambda n: os.path.join(d, n)
    x32 = rng.standard_normal((129, 7)).astype(np.float32)
    labels = rng.integers(0, 10, 129).astype(np.int64)
    np.save(p("x32.npy"), x32)
    np.save(p("labels.npy"), labels)
    check("float32 features, int64 labels", x32, labels, "--npy", p("x32.npy"), p("labels.npy"))

    x64be = rng.standard_normal((7, 3)).astype(">f8")
    reg = rng.standard_normal((7, 2)).astype("<f8")
    np.save(p("x64be.npy"), x64be)
    np.save(p("reg.npy"), reg)
    check("big-endian float64, 2-D float64 targets", x64be, reg, "--npy", p("x64be.npy"), p("reg.npy"))

    images = rng.integers(0, 256, (129, 4, 5), dtype=np.uint8)
    flags = rng.integers(0, 2, 129).astype(bool)
    np.save(p("images.npy"), images)
    np.save(p("flags.npy"), flags)
    check("uint8 images (129, 4, 5), bool labels", images, flags, "--npy", p("images.npy"), p("flags.npy"))

    small = rng.integers(-30000, 30000, (7, 1)).astype(np.int16)
    with open(p("v2.npy"), "wb") as f:
        np.lib.format.write_array(f, small, version=(2, 0))
    np.save(p("small_labels.npy"), labels[:7].astype(np.int16))
    check("int16, format version 2.0", small, labels[:7], "--npy", p("v2.npy"), p("small_labels.npy"))

    np.savez(p("kw.npz"), x=x32, y=labels, note=np.arange(3))
    check("np.savez(x=, y=)", x32, labels, "--npz", p("kw.npz"))
    np.savez(p("pos.npz"), images, labels)
    check("np.savez(X, Y): arr_0, arr_1", images, labels, "--npz", p("pos.npz"))
    np.savez(p("named.npz"), feats=x64be, target=reg)
    check("np.savez with named keys", x64be, reg, "--npz", p("named.npz"), "feats", "target")

    np.savez_compressed(p("compressed.npz"), x=x32, y=labels)
    refused("np.savez_compressed", "np.savez_compressed", "--npz", p("compressed.npz"))
    np.save(p("fortran.npy"), np.asfortranarray(x32))
    refused("Fortran order", "np.ascontiguousarray", "--npy", p("fortran.npy"), p("labels.npy"))
    np.save(p("strings.npy"), np.array(["setosa"] * 129))
    refused("string labels", "dtype", "--npy", p("x32.npy"), p("strings.npy"))

if failures:
    print("npy_numpy: %d failure(s)" % failures)
    sys.exit(1)
print("npy_numpy: all good")
