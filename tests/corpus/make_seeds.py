#!/usr/bin/env python3
"""make_seeds.py [--soma SOMA]: write the fuzzers' seed corpus next to this
file, in the input form each target of fuzz/ expects (see the comment at the
top of each fuzz/fuzz_*.c). Valid inputs first, then slightly broken ones, so
the fuzzers start from both sides of every check. With --soma, also writes
safetensors/soma-checkpoint.st and checkpoint/*.st: checkpoints `soma train`
saved (the other seeds are built here byte by byte). Standard library only; run it again after
changing an input format, and commit the result."""
import json
import os
import struct
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))


def put(target, name, data):
    path = os.path.join(HERE, target, name)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(data if isinstance(data, bytes) else data.encode())


# ---- idx: u16le length of the images file, the images file, the labels file ----

def idx(type_code, dims, payload):
    return bytes([0, 0, type_code, len(dims)]) + b"".join(struct.pack(">I", d) for d in dims) + payload


def idx_pair(images, labels):
    return struct.pack("<H", len(images)) + images + labels


pixels = bytes((i * 23) % 256 for i in range(12))
good_images = idx(0x08, [3, 2, 2], pixels)
good_labels = idx(0x08, [3], bytes([2, 0, 1]))
put("idx", "valid-3x2x2", idx_pair(good_images, good_labels))
put("idx", "valid-4d", idx_pair(idx(0x08, [2, 1, 2, 3], bytes(range(12))), idx(0x08, [2], bytes([9, 4]))))
put("idx", "valid-1x1x1", idx_pair(idx(0x08, [1, 1, 1], b"\xff"), idx(0x08, [1], b"\x00")))
put("idx", "truncated-images", idx_pair(good_images[:-3], good_labels))
put("idx", "extra-label-bytes", idx_pair(good_images, good_labels + b"\x01"))
put("idx", "count-mismatch", idx_pair(good_images, idx(0x08, [2], bytes([1, 1]))))
put("idx", "float-type", idx_pair(idx(0x0D, [1, 1, 1], b"\0\0\x80\x3f"), idx(0x08, [1], b"\x00")))
put("idx", "gzip-magic", idx_pair(b"\x1f\x8b\x08\x00\x00\x00\x00\x00", good_labels))
put("idx", "zero-dimension", idx_pair(idx(0x08, [2, 0, 2], b""), idx(0x08, [2], bytes([0, 1]))))
put("idx", "huge-header", idx_pair(idx(0x08, [60000, 28, 28], pixels), good_labels))

# ---- csv: header, label column, delimiter, label-name length; then the text ----

def csv(text, header=-1, label_column=-1, delimiter=",", label_name=None):
    codes = {",": 1, ";": 2, "\t": 3, "|": 4, " ": 5}
    prefix = bytes([(header + 1) % 3, (label_column + 1) % 9, codes[delimiter]])
    if label_name is None:
        return prefix + b"\x00" + text.encode()
    name = label_name.encode()
    return prefix + bytes([0x80 | len(name)]) + name + text.encode()


put("csv", "header-guessed", csv("a,b,label\n0.5,1,0\n-2,3e2,1\n4,.25,1\n"))
put("csv", "no-header-semicolons", csv("0;5.1;3.5\n1;4.9;3.0\n2;4.7;3.2\n", header=0, label_column=0,
                                       delimiter=";"))
put("csv", "label-name-quoted", csv('\ufeff"rooms", "area, m2" ,price,"say ""hi"""\r\n3, 1e-3 ,250000,1\r\n'
                                    '\r\n-0,  2.5e2,  199999.5   ,+4\r\n0x10,.5,1E+2,-1',
                                    header=1, label_name="price"))
put("csv", "tabs", csv("x\ty\tz\n1\t2\t3\n4\t5\t6\n", header=1, delimiter="\t"))
put("csv", "pipes-middle-label", csv("1|2|3|4\n5|6|7|8\n", header=0, label_column=2, delimiter="|"))
put("csv", "ragged", csv("1,2,3\n4,5\n"))
put("csv", "nan-cell", csv("x,y\n1,2\nnan,3\n"))
put("csv", "unterminated-quote", csv('"a,b\n1,2\n'))
put("csv", "text-after-quote", csv('a,"b"c\n1,2\n'))
put("csv", "unknown-label-name", csv("x1,x2,price\n1,2,3\n", label_name="cost"))
put("csv", "one-column", csv("1\n2\n"))

# ---- safetensors: the file itself ----

def safetensors(tensors, meta=None, pad=True, data_extra=b""):
    """tensors: [(name, shape, [floats])] packed in order."""
    header, data = {}, b""
    if meta:
        header["__metadata__"] = meta
    for name, shape, values in tensors:
        blob = struct.pack("<%df" % len(values), *values)
        header[name] = {"dtype": "F32", "shape": shape, "data_offsets": [len(data), len(data) + len(blob)]}
        data += blob
    text = json.dumps(header, separators=(",", ":")).encode()
    if pad:
        text += b" " * (-(8 + len(text)) % 8)
    return struct.pack("<Q", len(text)) + text + data + data_extra


two = [("layers.0.weight", [2, 3], [0.5, -1.25, 3, 0.001, -0.0, 65504]), ("layers.0.bias", [3], [0.1, 0.2, 0.3])]
put("safetensors", "two-tensors-meta.st", safetensors(two, {"format": "soma.mlp.v1", "note": "hi"}))
put("safetensors", "unpadded.st", safetensors([("b", [2], [3.25, 1e30]), ("a", [1, 2], [1.5, -2.5])], pad=False))
put("safetensors", "empty.st", safetensors([]))
def raw_header(text, data):
    return struct.pack("<Q", len(text)) + text + data


put("safetensors", "escapes.st",
    raw_header(b' {"caf\\u00e9\\ud83d\\ude00\\n" : {"shape":[1], "dtype":"F32","data_offsets":[0,4]},\r\n'
               b'\t"__metadata__": {"\\u0041\\/": "\\"\\\\\\b\\f\\r\\t"}}', struct.pack("<f", 7)))
put("safetensors", "bf16.st", safetensors([("w", [2], [1, 2])]).replace(b'"F32"', b'"BF16"'))
put("safetensors", "truncated.st", safetensors(two)[:-4])
put("safetensors", "bytes-left-over.st", safetensors(two, data_extra=b"\0\0\0\0"))
put("safetensors", "overlap.st",
    raw_header(b'{"a":{"dtype":"F32","shape":[4],"data_offsets":[0,16]},'
               b'"b":{"dtype":"F32","shape":[4],"data_offsets":[8,24]}}', bytes(24)))
put("safetensors", "rank3.st", safetensors([("a", [2, 1, 2], [1, 2, 3, 4])]))
put("safetensors", "meta-number.st", raw_header(b'{"__metadata__":{"epoch":3}}', b""))

def without_checksum(blob):
    """A safetensors file with its metadata's "checksum" key removed."""
    (n,) = struct.unpack("<Q", blob[:8])
    header = json.loads(blob[8:8 + n])
    header.get("__metadata__", {}).pop("checksum", None)
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-(8 + len(text)) % 8)
    return struct.pack("<Q", len(text)) + text + blob[8 + n:]


if len(sys.argv) == 3 and sys.argv[1] == "--soma":
    with tempfile.TemporaryDirectory() as tmp:
        data = os.path.join(tmp, "d.csv")
        with open(data, "w") as f:
            f.write("a,b,label\n" + "".join("%d,%d,%d\n" % (i % 3, i % 5, i % 2) for i in range(20)))
        model = os.path.join(tmp, "m.st")
        subprocess.run([sys.argv[2], "train", "--data", "csv:" + data, "--layers", "2,3,2", "--epochs", "1",
                        "--device", "cpu", "--save", model], check=True, stdout=subprocess.DEVNULL)
        with open(model, "rb") as f:
            put("safetensors", "soma-checkpoint.st", f.read())
        # checkpoint: whole soma checkpoints (format v2, whose checksum covers
        # the metadata: fuzz_checkpoint_meta signs its files to get behind it).
        # The v1-*.st files beside them were written by the soma of format v1
        # (before 2026-12) and are kept as they are, with and without their
        # checksum (a v1 file another tool wrote loads unchecked), so the
        # fuzzer's changes get past the checksum into the checks behind it.
        runs = {"adam-standardized": ["--layers", "2,3,2"],
                "sgd-momentum-dropout": ["--layers", "2,4,3,2", "--optim", "sgd", "--dropout", "0.2",
                                         "--normalize", "scale01"],
                "mse-no-norm": ["--layers", "2,2,1", "--loss", "mse", "--normalize", "none", "--act", "tanh"],
                # every layer kind: batchnorm's I64 counter, residual blocks with and without proj
                "every-kind": ["--arch", "2,dense:4:relu:drop=0.1,bn:tanh,res:3:gelu,ln,res:2:relu:3,dense:2",
                               "--batch", "8"]}
        for name, extra in runs.items():
            subprocess.run([sys.argv[2], "train", "--data", "csv:" + data, "--epochs", "1", "--device", "cpu",
                            "--save", model] + extra, check=True, stdout=subprocess.DEVNULL)
            with open(model, "rb") as f:
                blob = f.read()
            put("checkpoint", name + ".st", blob)

# ---- train_args: argv[1..] joined by NUL bytes ----

def args(*argv):
    return b"\0".join(a.encode() for a in argv)


put("train_args", "mnist", args("--data", "mnist"))
put("train_args", "arch", args("--data", "mnist", "--arch", "784,dense:256,batchnorm:relu,res:256:relu,ln:gelu:drop=0.1,dense:10"))
put("train_args", "csv-regression", args("--data", "csv:houses.csv,label=price", "--loss", "mse", "--layers",
                                         "4,32,32,1", "--save", "houses.safetensors"))
put("train_args", "idx-sgd", args("--data", "idx:images,labels", "--optim", "sgd", "--lr", "0.05", "--momentum",
                                  "0.9", "--nesterov", "--epochs", "20", "--schedule", "step", "--step-size", "5",
                                  "--gamma", "0.5"))
put("train_args", "everything", args("--data", "mnist", "--act", "gelu_tanh", "--optim", "adamw", "--lr", "3e-4",
                                     "--weight-decay", "0.01", "--clip", "1.0", "--schedule", "cosine", "--warmup",
                                     "100", "--min-lr", "1e-6", "--batch", "64", "--device", "cpu", "--seed",
                                     "18446744073709551615", "--no-shuffle", "--val-split", "0.2", "--dropout",
                                     "0.5", "--patience", "3", "--normalize", "scale01", "--weight-init",
                                     "he_normal", "--save", "m.st", "--save-every", "2", "--log", "m.csv"))
put("train_args", "resume", args("--data", "mnist", "--resume", "run.safetensors", "--epochs", "20", "--init",
                                 "w.st"))
put("train_args", "help", args("--help"))
put("train_args", "bad-number", args("--data", "mnist", "--lr", "abc"))
put("train_args", "missing-value", args("--data", "mnist", "--epochs"))
put("train_args", "out-of-range", args("--data", "mnist", "--val-split", "1.5", "--batch", "0"))
put("train_args", "unknown-option", args("--bogus", "--data"))
put("train_args", "patience-no-val", args("--data", "mnist", "--patience", "2", "--val-split", "0"))

# ---- checkpoint_meta: "key=value" lines (and "@name=shape" tensors), NUL, float bits ----
# The metadata soma writes for the harness's default tensors (a 3 -> 4 -> 2
# model, standardized, Adam), then variations on it.

def meta(entries, tensors=None, floats=None):
    text = "".join("%s=%s\n" % kv for kv in entries.items())
    if tensors:
        text += "".join("@%s=%s\n" % kv for kv in tensors.items())
    blob = text.encode()
    if floats is not None:
        blob += b"\0" + struct.pack("<%df" % len(floats), *floats)
    return blob


good = {"format": "soma.mlp.v2", "inputs": "3", "layers": "4:relu:0:0.1,2:identity:0:0", "loss": "xent",
        "normalizer": "standardize", "train.batch": "128", "train.epochs": "15", "train.seed": "1",
        "train.no_shuffle": "0", "train.patience": "0", "train.val_split": "0.10000000000000001",
        "state.epochs_done": "15", "state.steps_in_epoch": "0", "state.best_epoch": "11",
        "state.best_val_loss": "0.072034712135791779", "optim.kind": "adam", "optim.lr": "0.00100000005",
        "optim.momentum": "0", "optim.nesterov": "0", "optim.beta1": "0.899999976", "optim.beta2": "0.999000013",
        "optim.eps": "9.99999994e-09", "optim.weight_decay": "0", "optim.clip_norm": "0", "optim.schedule": "cosine",
        "optim.step_size": "422", "optim.gamma": "0.100000001", "optim.warmup_steps": "0",
        "optim.total_steps": "6330", "optim.min_lr": "0", "optim.steps": "6330", "rng.seed": "1",
        "rng.offset": "6330"}
put("checkpoint_meta", "v2-adam", meta(good))
put("checkpoint_meta", "v1-unsigned", meta(dict(good, format="soma.mlp.v1")))
put("checkpoint_meta", "epochs-1e12", meta(dict(good, **{"state.epochs_done": "1e12"})))
put("checkpoint_meta", "layer-bomb", meta(dict(good, layers="2000000000:relu:0:0,2:identity:0:0")))
put("checkpoint_meta", "nan-weights", meta(good, floats=[float("nan"), 1.0, -2.0]))
put("checkpoint_meta", "no-optimizer",
    meta({k: v for k, v in good.items() if not k.startswith("optim.")}, floats=[0.5, -0.25]))
put("checkpoint_meta", "sgd-custom-tensors",
    meta(dict(good, **{"optim.kind": "sgd", "optim.momentum": "0.9", "layers": "2:tanh:0:0", "inputs": "3",
                       "normalizer": "none"}),
         tensors={"layers.0.weight": "2x3", "layers.0.bias": "2", "optimizer.layers.0.weight.velocity": "2x3",
                  "optimizer.layers.0.bias.velocity": "2"}))
put("checkpoint_meta", "bad-checksum", meta(dict(good, checksum="crc32:00000000")))

# ---- specs: a byte (even: --data, odd: --layers), then the argument ----

put("specs", "data-mnist", b"\0mnist")
put("specs", "data-csv-label-name", b"\0csv:houses.csv,label=price")
put("specs", "data-csv-label-index", b"\0csv:dir,with,commas/x.csv,label=3")
put("specs", "data-csv-label-negative", b"\0csv:x.csv,label=-1")
put("specs", "data-idx", b"\0idx:train-images-idx3-ubyte,train-labels-idx1-ubyte")
put("specs", "data-idx-one-path", b"\0idx:images")
put("specs", "data-unknown", b"\0tsv:x")
put("specs", "data-csv-sep", b"\0csv:x.csv,sep=;,label=price")
put("specs", "data-csv-label-sep-comma", b"\0csv:x.csv,label=2,sep=,")
put("specs", "data-npy", b"\0npy:x.npy,y.npy")
put("specs", "data-npz", b"\0npz:data.npz")
put("specs", "data-long-path", b"\0csv:" + b"d/" * 700 + b"x.csv")
put("specs", "layers", b"\x01784,256,128,10")
put("specs", "layers-auto", b"\x01auto")
put("specs", "layers-bad", b"\x015,+8,,2,")
put("specs", "layers-huge", b"\x013,2147483648,3")


# ---- npy: a byte (even: an .npy pair, odd: an .npz archive); for a pair a
# u16le length of the features file, the features file, the targets file ----

def npy(descr, shape, payload, fortran=False, major=1):
    d = "{'descr': '%s', 'fortran_order': %s, 'shape': %s, }" % (descr, fortran, shape)
    prefix = 10 if major == 1 else 12
    header = d + " " * ((64 - (prefix + len(d) + 1) % 64) % 64) + "\n"
    size = struct.pack("<H", len(header)) if major == 1 else struct.pack("<I", len(header))
    return b"\x93NUMPY" + bytes([major, 0]) + size + header.encode() + payload


def npy_pair(x, y):
    return b"\0" + struct.pack("<H", len(x)) + x + y


def npz(members, method=0):
    import io
    import zipfile
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_STORED if method == 0 else zipfile.ZIP_DEFLATED) as z:
        for name, data in members:
            info = zipfile.ZipInfo(name, date_time=(2026, 12, 2, 0, 0, 0))
            z.writestr(info, data, compress_type=z.compression)
    return b"\x01" + buf.getvalue()


x_f4 = npy("<f4", "(3, 2)", struct.pack("<6f", 0.5, -1, 2, 3.25, -0.125, 7))
y_i8 = npy("<i8", "(3,)", struct.pack("<3q", 2, 0, 1))
put("npy", "valid-f4-i8", npy_pair(x_f4, y_i8))
put("npy", "valid-u1-3d-b1", npy_pair(npy("|u1", "(2, 2, 2)", bytes(range(8))), npy("|b1", "(2,)", b"\x01\x00")))
put("npy", "valid-be-f8-v2", npy_pair(npy(">f8", "(1, 1)", struct.pack(">d", 1.5), major=2),
                                      npy("<f4", "(1, 2)", struct.pack("<2f", 1, 2))))
put("npy", "truncated", npy_pair(x_f4[:-2], y_i8))
put("npy", "fortran", npy_pair(npy("<f4", "(3, 2)", x_f4[-24:], fortran=True), y_i8))
put("npy", "nan", npy_pair(npy("<f4", "(1,)", struct.pack("<f", float("nan"))), npy("<i8", "(1,)", bytes(8))))
put("npy", "npz-keywords", npz([("x.npy", x_f4), ("y.npy", y_i8)]))
put("npy", "npz-positional", npz([("arr_0.npy", x_f4), ("arr_1.npy", y_i8)]))
put("npy", "npz-deflated", npz([("x.npy", x_f4), ("y.npy", y_i8)], method=8))
