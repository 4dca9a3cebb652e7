#!/usr/bin/env python3
"""Summarises the runs of scripts/accuracy.sh: test accuracy per protocol and engine, mean and spread
(min..max and sample standard deviation) over seeds, as a Markdown table on stdout.

  scripts/accuracy-table.py out/accuracy [--json table.json]

Reads OUT/train-args.txt (the recipe change, if any), OUT/<protocol>-s<seed>.log (quill train's output: its 'test accuracy:' line), .merged.txt (quill eval
on the merged classes) and .torch.json (bench/torch_accuracy.py). Only the standard library is used.
"""
import argparse
import glob
import json
import os
import re
import statistics
import sys

TARGETS = {"mnist": 99.6, "byclass": 87.0, "merged": 90.5, "letters": 94.0, "digits": 99.5}
NAMES = {"mnist": "MNIST test", "byclass": "EMNIST ByClass protocol, 62 classes",
         "merged": "same, 47 merged classes (the 62-class model, scored merged)",
         "letters": "same, letters 26", "digits": "same, digits 10"}


def quill_figures(log):
    text = open(log, encoding="utf-8", errors="replace").read()
    m = re.search(r"^test accuracy: ([0-9.]+)%.*trained in (\S+)", text, re.M)
    if not m:
        return None
    device = re.search(r"^model: .* on ([^\s,]+)", text, re.M)
    return {"accuracy": float(m.group(1)), "time": m.group(2), "device": device.group(1) if device else "?"}


def merged_accuracy(path):
    m = re.search(r"^accuracy: ([0-9.]+)%", open(path, encoding="utf-8").read(), re.M)
    return float(m.group(1)) if m else None


def summary(values):
    if not values:
        return None
    mean = statistics.mean(values)
    sd = statistics.stdev(values) if len(values) > 1 else 0.0
    return {"n": len(values), "mean": mean, "min": min(values), "max": max(values), "sd": sd, "runs": values}


def cell(s):
    if not s:
        return "-"
    if s["n"] == 1:
        return f"{s['mean']:.2f}% (1 seed)"
    return f"{s['mean']:.2f}% ± {s['sd']:.2f} ({s['min']:.2f}..{s['max']:.2f}, {s['n']} seeds)"


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("folder")
    ap.add_argument("--json", help="also write the figures here")
    a = ap.parse_args()
    rows = {}
    for protocol in ["mnist", "byclass", "letters", "digits"]:
        quill, merged, torch, torch_merged, times = [], [], [], [], []
        for log in sorted(glob.glob(os.path.join(a.folder, f"{protocol}-s*.log"))):
            if log.endswith(".torch.log"):
                continue
            base = log[:-len(".log")]
            f = quill_figures(log)
            if f:
                quill.append(f["accuracy"])
                times.append(f"{f['time']} on {f['device']}")
            if os.path.exists(base + ".merged.txt"):
                v = merged_accuracy(base + ".merged.txt")
                if v is not None:
                    merged.append(v)
        for tj in sorted(glob.glob(os.path.join(a.folder, f"{protocol}-s*.torch.json"))):
            j = json.load(open(tj))
            torch.append(100 * j["test_accuracy"] if j["test_accuracy"] <= 1 else j["test_accuracy"])
            if j.get("merged_accuracy") is not None:
                m = j["merged_accuracy"]
                torch_merged.append(100 * m if m <= 1 else m)
        rows[protocol] = {"quill": summary(quill), "torch": summary(torch), "times": times}
        if protocol == "byclass":
            rows["merged"] = {"quill": summary(merged), "torch": summary(torch_merged), "times": times}
    args_file = os.path.join(a.folder, "train-args.txt")
    train_args = open(args_file).read().strip() if os.path.exists(args_file) else ""
    if train_args:
        print(f"Recipes changed by: `{train_args}` (scripts/accuracy.sh --train-args)\n")
    print("| protocol | target | Quill | PyTorch | Quill training time (per seed) |")
    print("|---|---|---|---|---|")
    for p in ["mnist", "byclass", "merged", "letters", "digits"]:
        r = rows.get(p)
        if not r:
            continue
        q = r["quill"]
        met = "" if not q else (" ✓" if q["mean"] >= TARGETS[p] else " ✗")
        times = "; ".join(r["times"]) if p != "merged" else "(same runs as ByClass)"
        print(f"| {NAMES[p]} | ≥ {TARGETS[p]}% | {cell(q)}{met} | {cell(r['torch'])} | {times or '-'} |")
    if a.json:
        with open(a.json, "w") as f:
            json.dump(rows, f, indent=2)


if __name__ == "__main__":
    sys.exit(main())
