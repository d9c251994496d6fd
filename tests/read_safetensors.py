#!/usr/bin/env python3
"""read_safetensors.py: an independent safetensors reader (standard library only).

Checks a file against the format (https://github.com/huggingface/safetensors),
prints its metadata and tensors, and optionally checks them:

  read_safetensors.py FILE                          print everything
  read_safetensors.py FILE --aligned                the header is space-padded to a multiple of 8
                    --count N                       the file holds N tensors
                    --shape NAME=2x3                tensor NAME has shape [2, 3]
                    --expect NAME=v1,v2,...         tensor NAME holds these values (row-major),
                                                    compared after rounding them to its dtype
                    --meta KEY=VALUE                __metadata__ maps KEY to exactly VALUE

Each option may repeat. Exit status: 0 when the file is well-formed and every
check holds, 1 when a check fails, 2 when the file is malformed.
"""
import argparse
import json
import math
import struct
import sys

FORMATS = {"F64": "d", "F32": "f", "F16": "e", "I64": "q", "I32": "i", "I16": "h", "I8": "b",
           "U64": "Q", "U32": "I", "U16": "H", "U8": "B", "BOOL": "?"}


def malformed(message):
    print(f"malformed: {message}", file=sys.stderr)
    sys.exit(2)


def no_duplicates(pairs):
    keys = [k for k, _ in pairs]
    dups = {k for k in keys if keys.count(k) > 1}
    if dups:
        malformed(f"duplicate keys {sorted(dups)}")
    return dict(pairs)


def reject_constant(name):
    malformed(f"{name} is not JSON")


def load(path):
    with open(path, "rb") as f:
        blob = f.read()
    if len(blob) < 8:
        malformed(f"{len(blob)} bytes, shorter than the header length")
    (n,) = struct.unpack("<Q", blob[:8])
    if n > len(blob) - 8:
        malformed(f"header length {n} but only {len(blob) - 8} bytes follow")
    text, data = blob[8:8 + n], blob[8 + n:]
    header = json.loads(text.decode("utf-8"), object_pairs_hook=no_duplicates,
                        parse_constant=reject_constant)
    if not isinstance(header, dict):
        malformed("header is not an object")
    meta = header.pop("__metadata__", {})
    if not isinstance(meta, dict) or not all(isinstance(v, str) for v in meta.values()):
        malformed("__metadata__ is not a map of strings")
    tensors, covered = {}, 0
    for name, info in sorted(header.items(), key=lambda kv: kv[1]["data_offsets"]):
        dtype, shape, (begin, end) = info["dtype"], info["shape"], info["data_offsets"]
        if dtype not in FORMATS:
            malformed(f"{name}: dtype {dtype} is not one this script reads")
        size = struct.calcsize(FORMATS[dtype])
        if begin != covered or end - begin != math.prod(shape) * size:
            malformed(f"{name}: data_offsets [{begin}, {end}] do not follow {covered} "
                      f"or do not hold shape {shape} of {dtype}")
        covered = end
        values = struct.unpack(f"<{math.prod(shape)}{FORMATS[dtype]}", data[begin:end])
        tensors[name] = (dtype, shape, values)
    if covered != len(data):
        malformed(f"the tensors cover {covered} of the {len(data)} data bytes")
    return n, text, meta, tensors


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("file")
    parser.add_argument("--aligned", action="store_true")
    parser.add_argument("--count", type=int)
    parser.add_argument("--shape", action="append", default=[])
    parser.add_argument("--expect", action="append", default=[])
    parser.add_argument("--meta", action="append", default=[])
    args = parser.parse_args()

    try:
        n, text, meta, tensors = load(args.file)
    except (ValueError, KeyError, TypeError, struct.error) as e:  # bad JSON, UTF-8, fields
        malformed(f"{type(e).__name__}: {e}")
    for key, value in meta.items():
        print(f"__metadata__ {key!r}: {value!r}")
    for name, (dtype, shape, values) in tensors.items():
        print(f"{name!r} {dtype} {shape} " + " ".join(f"{v:.9g}" for v in values))

    failures = []
    if args.aligned and (n % 8 or not text.rstrip(b" ").endswith(b"}")):
        failures.append(f"header length {n} is not a multiple of 8 padded with spaces")
    if args.count is not None and args.count != len(tensors):
        failures.append(f"{len(tensors)} tensors, expected {args.count}")
    for item in args.shape:
        name, _, dims = item.partition("=")
        want = [int(d) for d in dims.split("x")]
        if name not in tensors or tensors[name][1] != want:
            failures.append(f"{name!r}: shape {tensors.get(name, (0, None))[1]}, expected {want}")
    for item in args.expect:
        name, _, numbers = item.partition("=")
        if name not in tensors:
            failures.append(f"{name!r}: no such tensor")
            continue
        dtype, _, values = tensors[name]
        fmt = "<" + FORMATS[dtype]
        want = [struct.unpack(fmt, struct.pack(fmt, float(v)))[0] for v in numbers.split(",")]
        # bit for bit (so -0 is not 0), except that any NaN matches any NaN
        same = len(want) == len(values) and all(
            struct.pack(fmt, a) == struct.pack(fmt, b) or (math.isnan(a) and math.isnan(b))
            for a, b in zip(values, want))
        if not same:
            failures.append(f"{name!r}: values {list(values)}, expected {want}")
    for item in args.meta:
        key, _, value = item.partition("=")
        if meta.get(key) != value:
            failures.append(f"__metadata__ {key!r}: {meta.get(key)!r}, expected {value!r}")
    for failure in failures:
        print(f"FAIL: {failure}", file=sys.stderr)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
