#!/usr/bin/env python3
"""plot_runs.py METRICS.csv OUT.svg [--title T]: training curves of several runs in one SVG.

METRICS.csv has a `run` column beside the columns of `soma train --log`
(epoch, train_loss, val_loss, val_accuracy, ...), as scripts/depth_curves.sh
writes it. Two panels: the training loss (log scale) and the validation
accuracy, by epoch, one line per run: a colour per
name suffix (-relu, -sigmoid), dashed for names starting with "plain". Standard library only (`soma plot`
draws one run; this puts runs side by side)."""
import argparse
import csv
import math
from collections import OrderedDict

COLOURS = ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b"]
W, H, PAD = 420, 300, 50  # one panel's size and its margin for the axes


def colour_of(runs, name):
    """One colour per run name's last part (plain-relu and residual-relu
    share one); plain runs are dashed."""
    families = list(OrderedDict.fromkeys(n.rsplit("-", 1)[-1] for n in runs))
    return COLOURS[families.index(name.rsplit("-", 1)[-1]) % len(COLOURS)]


def panel(x0, title, runs, column, log):
    """SVG elements of one panel: axes, ticks and one polyline per run."""
    points = [(float(r["epoch"]), float(r[column])) for rows in runs.values() for r in rows]
    f = (lambda v: math.log10(v)) if log else (lambda v: v)
    xs = [p[0] for p in points]
    ys = [f(p[1]) for p in points]
    xlo, xhi = min(xs), max(xs)
    ylo, yhi = min(ys), max(ys)
    if log:
        ylo, yhi = math.floor(ylo), math.ceil(yhi)
    else:
        ylo, yhi = max(0.0, math.floor(ylo * 10) / 10), min(1.0, math.ceil(yhi * 10) / 10)
    yhi = yhi if yhi > ylo else ylo + 1

    def px(x, y):
        return (x0 + PAD + (x - xlo) / max(xhi - xlo, 1) * (W - 1.5 * PAD),
                20 + (H - PAD - 20) * (1 - (f(y) - ylo) / (yhi - ylo)))

    out = [f'<text x="{x0 + W / 2}" y="14" text-anchor="middle" font-weight="bold">{title}</text>',
           f'<rect x="{x0 + PAD}" y="20" width="{W - 1.5 * PAD}" height="{H - PAD - 20}" fill="none" stroke="#888"/>']
    ticks = [10 ** e for e in range(int(ylo), int(yhi) + 1)] if log else \
        [ylo + i * (yhi - ylo) / 5 for i in range(6)]
    for t in ticks:
        _, y = px(xlo, t)
        out.append(f'<line x1="{x0 + PAD - 4}" y1="{y:.1f}" x2="{x0 + W - PAD / 2}" y2="{y:.1f}" stroke="#ddd"/>')
        out.append(f'<text x="{x0 + PAD - 6}" y="{y + 4:.1f}" text-anchor="end">{t:g}</text>')
    step = max(1, int((xhi - xlo) // 10))
    for e in range(int(xlo), int(xhi) + 1, step):
        x, _ = px(e, 10 ** ylo if log else ylo)
        out.append(f'<text x="{x:.1f}" y="{H - PAD + 16}" text-anchor="middle">{e}</text>')
    out.append(f'<text x="{x0 + W / 2}" y="{H - PAD + 34}" text-anchor="middle">epoch</text>')
    for name, rows in runs.items():
        colour = colour_of(runs, name)
        pts = " ".join("%.1f,%.1f" % px(float(r["epoch"]), float(r[column])) for r in rows)
        dash = ' stroke-dasharray="6,4"' if name.startswith("plain") else ""
        out.append(f'<polyline points="{pts}" fill="none" stroke="{colour}" stroke-width="2"{dash}/>')
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("metrics")
    ap.add_argument("svg")
    ap.add_argument("--title", default="")
    args = ap.parse_args()
    runs = OrderedDict()
    for row in csv.DictReader(open(args.metrics, newline="")):
        runs.setdefault(row["run"], []).append(row)
    legend_h = 18 * len(runs) + 10
    body = panel(0, "training loss (log)", runs, "train_loss", True) + \
        panel(W, "validation accuracy", runs, "val_accuracy", False)
    for i, name in enumerate(runs):
        colour = colour_of(runs, name)
        y = H + 8 + 18 * i
        dash = ' stroke-dasharray="6,4"' if name.startswith("plain") else ""
        body.append(f'<line x1="{PAD}" y1="{y}" x2="{PAD + 30}" y2="{y}" stroke="{colour}" stroke-width="2"{dash}/>')
        body.append(f'<text x="{PAD + 38}" y="{y + 4}">{name}</text>')
    with open(args.svg, "w") as f:
        f.write(f'<svg xmlns="http://www.w3.org/2000/svg" width="{2 * W}" height="{H + legend_h + 20}" '
                f'font-family="sans-serif" font-size="12">\n<rect width="100%" height="100%" fill="white"/>\n')
        if args.title:
            f.write(f'<title>{args.title}</title>\n')
        f.write("\n".join(body) + "\n</svg>\n")


if __name__ == "__main__":
    main()
