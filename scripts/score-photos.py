#!/usr/bin/env python3
"""Scores a model on a folder made by scripts/make-photos.py: `quill predict` on the character photos,
`quill read` on the line images, and the same model on the same test characters undegraded.

  scripts/score-photos.py --model out/cnn.quill --photos /tmp/photos [--quill build/apps/quill] [--json OUT]

Reports
  photo accuracy     top-1 of `quill predict --json` on every char-*.png of labels.tsv (an image quill
                     cannot read counts as wrong), per class and the most common confusions;
  clean accuracy     the same model on exactly the same test characters as 28x28 dataset samples:
                     `quill predict --raw` on PHOTOS/clean/ (written by make-photos.py --write-clean);
                     without that folder, `quill eval` on the model's whole test set instead (said so);
  ratio              photo accuracy / clean accuracy (the issue's target: at least 0.97);
  line CER           character error rate of `quill read --json` on every line-*.png of lines.txt:
                     Levenshtein distance between the text read and the truth, summed over the lines,
                     over the number of truth characters; exact and case-insensitive (both lowercased).
                     A word space quill inserts counts as an inserted character (one it misses, in lines
                     drawn with make-photos.py --words, as a deleted one); a line quill cannot read counts
                     as all characters deleted. Also: lines read exactly, lines whose number of characters
                     came out wrong (segmentation errors), and word spaces inserted and missed.
Case-insensitive figures are given for characters too: in EMNIST ByClass some pairs (o/O, s/S, c/C, ...)
differ only in size, which the 28x28 images do not keep, so exact scores undercount a reader's success.
With clean/, the samples are also compared one by one: "lost" (right when clean, wrong as a photo) and
"gained", each split by kind of mistake: case (o for O), look-alike (one of 0Oo 1Il 5Ss 2Zz 9gq 6b 8B:
a letter/digit pair that handwriting does not tell apart), other (a real misreading).

quill runs a few times on big batches of paths (--batch), not once per image. Only the standard library.
"""
import argparse
import collections
import json
import os
import re
import subprocess
import sys
import tempfile


def levenshtein(a, b):
    previous = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        current = [i]
        for j, cb in enumerate(b, 1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (ca != cb)))
        previous = current
    return previous[-1]


def space_positions(text):
    """The word spaces of a line, each as the number of characters before it."""
    positions, count = set(), 0
    for c in text:
        if c == " ":
            positions.add(count)
        else:
            count += 1
    return positions


def read_manifest(folder):
    chars, lines = [], []
    with open(os.path.join(folder, "labels.tsv")) as f:
        for n, row in enumerate(f):
            fields = row.rstrip("\n").split("\t")
            if n == 0 and fields[0] == "filename":
                continue
            if len(fields) < 3:
                continue
            if fields[0].startswith("char-"):
                chars.append((fields[0], fields[1], fields[2]))
    lines_txt = os.path.join(folder, "lines.txt")
    if os.path.exists(lines_txt):
        with open(lines_txt) as f:
            for row in f:
                if row.strip():
                    name, text = row.rstrip("\n").split("\t", 1)
                    lines.append((name, text))
    return chars, lines


def run_quill(quill, command, model, paths, extra, batch, device):
    """{path: entry of quill's --json "images"}, running quill on batches of paths."""
    results = {}
    with tempfile.TemporaryDirectory(prefix="score-photos-") as tmp:
        out = os.path.join(tmp, "out.json")
        for start in range(0, len(paths), batch):
            chunk = paths[start:start + batch]
            args = [quill, command, "--model", model, "--json", out] + extra
            if device:
                args += ["--device", device]
            proc = subprocess.run(args + chunk, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
            if not os.path.exists(out):  # quill stopped before any image (bad model, bad option)
                raise SystemExit(f"{' '.join(args[:6])} ...: exit {proc.returncode}: {proc.stderr.strip()}")
            with open(out) as f:
                for entry in json.load(f)["images"]:
                    results[entry["path"]] = entry
            os.remove(out)
            print(f"  quill {command}: {min(start + batch, len(paths))}/{len(paths)}", file=sys.stderr)
    return results


def top1(entry):
    return entry["top"][0]["label"] if entry and "top" in entry else None


def score_chars(chars, predicted):
    """(accuracy, case-insensitive accuracy, per class {label: [right, total]}, confusions Counter)."""
    right = right_ci = 0
    per_class = collections.defaultdict(lambda: [0, 0])
    confusions = collections.Counter()
    for (name, label, _), guess in zip(chars, predicted):
        per_class[label][1] += 1
        if guess == label:
            right += 1
            per_class[label][0] += 1
        else:
            confusions[(label, guess if guess is not None else "(error)")] += 1
        if guess is not None and guess.lower() == label.lower():
            right_ci += 1
    n = max(len(chars), 1)
    return right / n, right_ci / n, per_class, confusions


LOOKALIKES = ["0Oo", "1Il", "5Ss", "2Zz", "9gq", "6b", "8B"]


def mistake_kind(truth, read):
    if read is None:
        return "unreadable"
    if truth.lower() == read.lower():
        return "case"
    if any(truth in group and read in group for group in LOOKALIKES):
        return "lookalike"
    return "other"


def paired(chars, photo, clean):
    """Samples right when clean but wrong as photos (lost) and the reverse (gained), by kind of mistake."""
    lost, gained = collections.Counter(), collections.Counter()
    for (_, label, _), p, c in zip(chars, photo, clean):
        if c == label and p != label:
            lost[mistake_kind(label, p)] += 1
        if p == label and c != label:
            gained[mistake_kind(label, c)] += 1
    return {"lost": sum(lost.values()), "lost_by_kind": dict(lost),
            "gained": sum(gained.values()), "gained_by_kind": dict(gained)}


def clean_from_eval(quill, model, device):
    args = [quill, "eval", "--model", model] + (["--device", device] if device else [])
    proc = subprocess.run(args, capture_output=True, text=True)
    m = re.search(r"accuracy: ([0-9.]+)% \(([0-9,]+) / ([0-9,]+)\)", proc.stdout)
    if proc.returncode != 0 or not m:
        raise SystemExit(f"quill eval failed: {proc.stderr.strip() or proc.stdout[-300:]}")
    return float(m.group(1)) / 100, int(m.group(3).replace(",", ""))


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter,
                                epilog="\n".join(__doc__.splitlines()[1:]))
    p.add_argument("--model", required=True, help="model file (.quill)")
    p.add_argument("--photos", required=True, help="folder written by scripts/make-photos.py")
    p.add_argument("--quill", default="build/apps/quill", help="the quill program (default build/apps/quill)")
    p.add_argument("--device", help="passed on to quill (cpu, cuda, auto)")
    p.add_argument("--batch", type=int, default=500, help="paths per quill process (default 500)")
    p.add_argument("--confusions", type=int, default=10, help="most common confusions shown (default 10)")
    p.add_argument("--json", help="also write every figure as JSON to this file")
    p.add_argument("--keep-stroke-width", action="store_true",
                   help="pass --keep-stroke-width to quill predict and read (no stroke-width fitting)")
    a = p.parse_args()
    keep = ["--keep-stroke-width"] if a.keep_stroke_width else []
    quill = os.path.abspath(a.quill) if os.sep in a.quill else a.quill
    chars, lines = read_manifest(a.photos)
    report = {"model": a.model, "photos": os.path.abspath(a.photos), "quill": quill,
              "stroke_width": "kept" if a.keep_stroke_width else "fitted to the training range"}
    out = []

    if chars:
        paths = [os.path.join(a.photos, name) for name, _, _ in chars]
        got = run_quill(quill, "predict", a.model, paths, ["--top-k", "3"] + keep, a.batch, a.device)
        predicted = [top1(got.get(path)) for path in paths]
        acc, acc_ci, per_class, confusions = score_chars(chars, predicted)
        errors = sum(1 for path in paths if "error" in got.get(path, {"error": 1}))
        report["characters"] = {
            "count": len(chars), "accuracy": acc, "accuracy_case_insensitive": acc_ci, "unreadable": errors,
            "per_class": {k: {"right": v[0], "count": v[1]} for k, v in sorted(per_class.items())},
            "confusions": [{"truth": t, "read": r, "count": c} for (t, r), c in confusions.most_common()],
        }
        out.append(f"photos: {len(chars)} characters, accuracy {100 * acc:.2f}% "
                   f"(case-insensitive {100 * acc_ci:.2f}%), {errors} unreadable")
        clean_dir = os.path.join(a.photos, "clean")
        if all(os.path.exists(os.path.join(clean_dir, name)) for name, _, _ in chars):
            cpaths = [os.path.join(clean_dir, name) for name, _, _ in chars]
            cgot = run_quill(quill, "predict", a.model, cpaths, ["--raw", "--top-k", "3"], a.batch, a.device)
            cpredicted = [top1(cgot.get(path)) for path in cpaths]
            cacc, cacc_ci, cper_class, _ = score_chars(chars, cpredicted)
            report["paired"] = paired(chars, predicted, cpredicted)
            clean = {"source": "the same test characters, 28x28 (quill predict --raw on clean/)",
                     "count": len(chars), "accuracy": cacc, "accuracy_case_insensitive": cacc_ci,
                     "per_class": {k: {"right": v[0], "count": v[1]} for k, v in sorted(cper_class.items())}}
        else:
            cacc, n = clean_from_eval(quill, a.model, a.device)
            cacc_ci = None
            clean = {"source": f"quill eval on the model's whole test set ({n} images; no {clean_dir})",
                     "count": n, "accuracy": cacc}
        report["clean"] = clean
        report["ratio"] = acc / cacc if cacc else None
        if cacc_ci:
            report["ratio_case_insensitive"] = acc_ci / cacc_ci
        out.append(f"clean: accuracy {100 * cacc:.2f}%"
                   + (f" (case-insensitive {100 * cacc_ci:.2f}%)" if cacc_ci is not None else "")
                   + f", {clean['source']}")
        out.append(f"ratio photo / clean: {report['ratio']:.4f}"
                   + (f" (case-insensitive {report['ratio_case_insensitive']:.4f})" if cacc_ci else "")
                   + "  (target >= 0.97)")
        if "paired" in report:
            pr = report["paired"]
            kinds = lambda d: ", ".join(f"{k} {v}" for k, v in sorted(d.items())) or "none"
            out.append(f"sample by sample: lost {pr['lost']} ({kinds(pr['lost_by_kind'])}), "
                       f"gained {pr['gained']} ({kinds(pr['gained_by_kind'])})")
        weak = sorted(per_class.items(), key=lambda kv: kv[1][0] / kv[1][1])
        out.append("per class (photo accuracy, right/count), weakest first: " +
                   ", ".join(f"{k} {100 * v[0] / v[1]:.0f}% ({v[0]}/{v[1]})" for k, v in weak[:15]))
        if confusions:
            out.append("most common confusions (truth -> read): " +
                       ", ".join(f"{t}->{r} x{c}" for (t, r), c in confusions.most_common(a.confusions)))

    if lines:
        paths = [os.path.join(a.photos, name) for name, _ in lines]
        got = run_quill(quill, "read", a.model, paths, keep, a.batch, a.device)
        dist = dist_ci = total = exact = exact_ci = wrong_count = unreadable = spaces = missed_spaces = truth_spaces = 0
        per_line = []
        for (name, truth), path in zip(lines, paths):
            entry = got.get(path, {})
            text = entry.get("text", "")
            if "text" not in entry:
                unreadable += 1
            # Word spaces by where they stand (after how many characters): truth from make-photos.py --words.
            read_at, truth_at = space_positions(text), space_positions(truth)
            spaces += len(read_at - truth_at)
            missed_spaces += len(truth_at - read_at)
            truth_spaces += len(truth_at)
            d = levenshtein(truth, text)
            dci = levenshtein(truth.lower(), text.lower())
            dist, dist_ci, total = dist + d, dist_ci + dci, total + len(truth)
            exact += d == 0
            exact_ci += dci == 0
            wrong_count += len(text.replace(" ", "")) != len(truth.replace(" ", ""))
            per_line.append({"file": name, "truth": truth, "read": text, "distance": d,
                             "distance_case_insensitive": dci})
        report["lines"] = {
            "count": len(lines), "characters": total,
            "cer": dist / max(total, 1), "cer_case_insensitive": dist_ci / max(total, 1),
            "edit_distance": dist, "edit_distance_case_insensitive": dist_ci,
            "lines_exact": exact, "lines_exact_case_insensitive": exact_ci,
            "lines_wrong_character_count": wrong_count, "unreadable": unreadable, "inserted_spaces": spaces,
            "missed_spaces": missed_spaces, "truth_spaces": truth_spaces,
            "per_line": per_line,
        }
        out.append(f"lines: {len(lines)} ({total} characters), CER {100 * dist / max(total, 1):.2f}% exact, "
                   f"{100 * dist_ci / max(total, 1):.2f}% case-insensitive; read exactly {exact}/{len(lines)} "
                   f"(case-insensitive {exact_ci}); wrong character count {wrong_count}, unreadable {unreadable}, "
                   f"spaces inserted {spaces}" + (f", missed {missed_spaces} of {truth_spaces}" if truth_spaces else ""))
        bad = [l for l in per_line if l["distance"]]
        if bad:
            out.append("  e.g. " + ", ".join(f"{l['truth']} -> {l['read'] or '(nothing)'}" for l in bad[:8]))

    print("\n".join(out))
    if a.json:
        with open(a.json, "w") as f:
            json.dump(report, f, indent=2)
            f.write("\n")


if __name__ == "__main__":
    main()
