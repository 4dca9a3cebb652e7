#!/usr/bin/env python3
"""Scores whole-page reading, quill read or Tesseract, on a folder made by scripts/make-photos.py --pages.
`quill read` runs once on every page image of DIR (made by `make-photos.py --pages N --out DIR`); with
--tesseract, Tesseract 5 reads the same images, one call each, scored the same way.

  scripts/score-pages.py --pages DIR --model M [--lexicon FILE|auto] [--charset X] [--context on|off]
                         [--quill build/apps/quill] [--device cpu] [--label TEXT] [--json-out FILE]
                         [--keep-json FILE | --reuse-json FILE] [--limit N] [--kind words|digits]
  scripts/score-pages.py --pages DIR --tesseract [--psm 6 | --psm 3,4,6] [--charset digits] [--label TEXT] ...
  scripts/score-pages.py --self-test

Input: DIR/pages.jsonl (one object per page: "file", "kind", "text" with the lines joined by newlines) and
the page images DIR/page-NNN.png; --lexicon auto means DIR/lexicon.txt.

Text normalisation, on both sides: a page's text is split into lines at "\\n", each line's whitespace is
collapsed to single spaces, empty lines are dropped, and the lines are joined again by "\\n".

Figures (summed over all the pages scored)
  CER           Levenshtein distance between truth and read page text / number of truth characters (the
                spaces and newlines included); exact, and case-insensitive (both sides lowercased).
  WER           the page's words in reading order (all lines), aligned as tokens with Levenshtein:
                edits / truth words; exact and case-insensitive.
  words right   truth words aligned with an equal word (the alignment with the fewest edits, among those the
                one with the most matches) / truth words; exact and case-insensitive.
  lines ok      pages where the number of lines read equals the truth's.
  look-alikes   substitutions truth->read of the character alignment (exact case) that are one of the pairs
                O/0 o/0 O/o l/1 I/1 I/l i/l c/C s/S u/U v/V w/W x/X z/Z k/K p/P y/Y m/M S/5 Z/2 g/9 q/9
                b/6 B/8 G/6 T/7, either direction; also the 10 most common substitutions of any kind.
  s/page        quill: the per-image "seconds" of its JSON (model loading not included); tesseract: the
                wall time of each `tesseract IMG stdout` call (its start-up included); median, min, max,
                over all pages and over the 8-line pages (truth line count 8) alone.
  unread        images quill reports an error for (or leaves out): scored as everything deleted.
  lexicon       with quill's words[].lexicon: words read that took a lexicon word ("match") / words read.
Tesseract is scored twice: "raw" (its output as is, punctuation included) and "alnum" (only [0-9A-Za-z] and
whitespace kept, the characters Quill's classes can give). With --tesseract --charset digits (or another
charset) tesseract also gets -c tessedit_char_whitelist=<those characters and the space> (without the space,
tesseract 5's LSTM engine drops the word spaces as well).

Prints a Markdown table (header and one row per run; --no-header leaves the header out) and a few detail
lines; --json-out writes everything, page by page included. Only the standard library.
"""
import argparse
import collections
import json
import os
import random
import re
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

# --------------------------------------------------------------------------------------------- text

def normalise(text):
    """The page's lines: split at newlines (\\r and form feeds too), whitespace collapsed, empty ones dropped."""
    text = text.replace("\r\n", "\n").replace("\r", "\n").replace("\f", "\n")
    return [" ".join(line.split()) for line in text.split("\n") if line.split()]


def alnum_only(text):
    """Tesseract's output with only the characters Quill's classes can give: [0-9A-Za-z] and whitespace."""
    return re.sub(r"[^0-9A-Za-z\s]", "", text)


LOOKALIKE_PAIRS = ["O0", "o0", "Oo", "l1", "I1", "Il", "il", "cC", "sS", "uU", "vV", "wW", "xX", "zZ", "kK",
                   "pP", "yY", "mM", "S5", "Z2", "g9", "q9", "b6", "B8", "G6", "T7"]
LOOKALIKES = {(p[0], p[1]) for p in LOOKALIKE_PAIRS} | {(p[1], p[0]) for p in LOOKALIKE_PAIRS}

# -------------------------------------------------------------------------------------- alignment

def _trim(a, b):
    """Lengths of the common prefix and (not overlapping it) the common suffix of sequences a and b."""
    p, n = 0, min(len(a), len(b))
    while p < n and a[p] == b[p]:
        p += 1
    s = 0
    while s < n - p and a[len(a) - 1 - s] == b[len(b) - 1 - s]:
        s += 1
    return p, s


def distance(a, b):
    """Levenshtein distance between sequences a and b (strings or lists of tokens)."""
    p, s = _trim(a, b)
    a, b = a[p:len(a) - s], b[p:len(b) - s]
    if len(a) < len(b):
        a, b = b, a
    previous = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        current = [i]
        for j, cb in enumerate(b, 1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (ca != cb)))
        previous = current
    return previous[-1]


def align(a, b):
    """Levenshtein alignment of sequences a (truth) and b (read): (edits, matches, pairs), pairs being the
    aligned (truth, read) items in order, None on the side of an insertion or deletion. Among the alignments
    with the fewest edits, one with the most matches (cost edits * K - matches, K > any number of matches);
    ties broken toward substitution, then deletion, then insertion."""
    p, s = _trim(a, b)
    head = [(x, x) for x in a[:p]]
    tail = [(x, x) for x in a[len(a) - s:]] if s else []
    a2, b2 = a[p:len(a) - s], b[p:len(b) - s]
    n, m = len(a2), len(b2)
    K = n + m + 1
    rows = [[j * K for j in range(m + 1)]]
    for i in range(1, n + 1):
        prev, ca = rows[-1], a2[i - 1]
        cur = [i * K]
        for j in range(1, m + 1):
            d = prev[j - 1] + (-1 if ca == b2[j - 1] else K)
            x = prev[j] + K
            y = cur[j - 1] + K
            cur.append(d if d <= x and d <= y else x if x <= y else y)
        rows.append(cur)
    middle = []
    i, j = n, m
    while i or j:
        here = rows[i][j]
        if i and j and here == rows[i - 1][j - 1] + (-1 if a2[i - 1] == b2[j - 1] else K):
            middle.append((a2[i - 1], b2[j - 1]))
            i, j = i - 1, j - 1
        elif i and here == rows[i - 1][j] + K:
            middle.append((a2[i - 1], None))
            i -= 1
        else:
            middle.append((None, b2[j - 1]))
            j -= 1
    pairs = head + middle[::-1] + tail
    matches = sum(1 for t, r in pairs if t is not None and t == r)
    return len(pairs) - matches, matches, pairs


# ---------------------------------------------------------------------------------------- scoring

def spread(values):
    if not values:
        return None
    return {"median": statistics.median(values), "min": min(values), "max": max(values), "count": len(values)}


def score(pages, hyps, seconds=None, lexicon_counts=None):
    """Scores read texts against the truth. pages: [{"file", "text"(truth), ...}]; hyps: {file: text, or None
    for an image that could not be read}; seconds: {file: float}; lexicon_counts: {file: (match, words)}."""
    t = collections.Counter()
    subs = collections.Counter()
    per_page = []
    times, times8 = [], []
    for page in pages:
        name = page["file"]
        truth_lines = normalise(page["text"])
        raw = hyps.get(name)
        read_lines = normalise(raw) if raw is not None else []
        truth, read = "\n".join(truth_lines), "\n".join(read_lines)
        d, _, pairs = align(truth, read)
        dci = distance(truth.lower(), read.lower())
        tw, rw = truth.split(), read.split()
        wd, wm, _ = align(tw, rw)
        wdci, wmci, _ = align([w.lower() for w in tw], [w.lower() for w in rw])
        for x, y in pairs:
            if x is not None and y is not None and x != y:
                subs[(x, y)] += 1
        t["chars"] += len(truth)
        t["char_edits"] += d
        t["char_edits_ci"] += dci
        t["words"] += len(tw)
        t["words_read"] += len(rw)
        t["word_edits"] += wd
        t["word_edits_ci"] += wdci
        t["words_right"] += wm
        t["words_right_ci"] += wmci
        t["lines"] += len(truth_lines)
        t["lines_ok"] += len(read_lines) == len(truth_lines)
        t["pages_exact"] += d == 0
        t["pages_exact_ci"] += dci == 0
        t["unread"] += raw is None
        entry = {"file": name, "kind": page.get("kind"), "truth": truth, "read": read,
                 "unread": raw is None, "truth_lines": len(truth_lines), "read_lines": len(read_lines),
                 "char_edits": d, "char_edits_ci": dci, "words": len(tw), "word_edits": wd, "words_right": wm,
                 "word_edits_ci": wdci, "words_right_ci": wmci}
        if seconds and seconds.get(name) is not None:
            entry["seconds"] = seconds[name]
            times.append(seconds[name])
            if len(truth_lines) == 8:
                times8.append(seconds[name])
        if lexicon_counts and name in lexicon_counts:
            t["lexicon_match"] += lexicon_counts[name][0]
            t["lexicon_words"] += lexicon_counts[name][1]
        per_page.append(entry)

    def ratio(x, y):
        return x / y if y else None
    lookalike = collections.Counter({k: v for k, v in subs.items() if k in LOOKALIKES})
    return {
        "pages": len(pages), "characters": t["chars"], "words": t["words"], "words_read": t["words_read"],
        "lines": t["lines"],
        "cer": ratio(t["char_edits"], t["chars"]), "cer_case_insensitive": ratio(t["char_edits_ci"], t["chars"]),
        "char_edits": t["char_edits"], "char_edits_case_insensitive": t["char_edits_ci"],
        "word_edits": t["word_edits"], "word_edits_case_insensitive": t["word_edits_ci"],
        "wer": ratio(t["word_edits"], t["words"]), "wer_case_insensitive": ratio(t["word_edits_ci"], t["words"]),
        "words_right": ratio(t["words_right"], t["words"]),
        "words_right_case_insensitive": ratio(t["words_right_ci"], t["words"]),
        "words_right_count": t["words_right"], "words_right_count_case_insensitive": t["words_right_ci"],
        "pages_line_count_ok": t["lines_ok"], "pages_exact": t["pages_exact"],
        "pages_exact_case_insensitive": t["pages_exact_ci"], "unread": t["unread"],
        "lookalike_total": sum(lookalike.values()),
        "lookalikes": [{"truth": a, "read": b, "count": c} for (a, b), c in lookalike.most_common()],
        "substitutions_total": sum(subs.values()),
        "top_substitutions": [{"truth": a, "read": b, "count": c} for (a, b), c in subs.most_common(10)],
        "lexicon_match": t["lexicon_match"] if lexicon_counts else None,
        "lexicon_words": t["lexicon_words"] if lexicon_counts else None,
        "seconds": spread(times), "seconds_8_lines": spread(times8),
        "per_page": per_page,
    }


# ------------------------------------------------------------------------------------------- input

def read_pages(folder, kind=None, limit=None):
    pages = []
    with open(os.path.join(folder, "pages.jsonl")) as f:
        for row in f:
            if not row.strip():
                continue
            page = json.loads(row)
            if "text" not in page:
                page["text"] = "\n".join(line["text"] for line in page.get("lines", []))
            if kind and page.get("kind") != kind:
                continue
            pages.append(page)
    return pages[:limit] if limit else pages


def index_results(images, folder, pages):
    """{page file: entry} from a quill (or kept tesseract) JSON "images" list, matched by the path as given,
    its absolute path, or its base name (so a JSON made elsewhere still matches)."""
    by_path, by_abs, by_base = {}, {}, collections.defaultdict(list)
    for entry in images:
        path = entry.get("path", "")
        by_path[path] = entry
        by_abs[os.path.abspath(path)] = entry
        by_base[os.path.basename(path)].append(entry)
    found = {}
    for page in pages:
        path = os.path.join(folder, page["file"])
        entry = by_path.get(path) or by_abs.get(os.path.abspath(path))
        if entry is None and len(by_base.get(page["file"], [])) == 1:
            entry = by_base[page["file"]][0]
        found[page["file"]] = entry
    return found


def texts_of(found):
    """(hyps, seconds, lexicon counts) from matched JSON entries; an error or missing entry reads as None."""
    hyps, seconds, lexicon = {}, {}, {}
    for name, entry in found.items():
        if entry is None or "error" in entry or "text" not in entry:
            hyps[name] = None
            continue
        hyps[name] = entry["text"]
        if entry.get("seconds") is not None:
            seconds[name] = float(entry["seconds"])
        words = [w for line in entry.get("lines", []) or [] for w in line.get("words", []) or []]
        if any("lexicon" in w for w in words):
            lexicon[name] = (sum(1 for w in words if w.get("lexicon") == "match"), len(words))
    return hyps, seconds, lexicon


def run_quill(a, pages, out_json):
    paths = [os.path.join(a.pages, page["file"]) for page in pages]
    args = [a.quill, "read"] + (["--model", a.model] if a.model else [])
    if a.lexicon:
        args += ["--lexicon", a.lexicon]
    if a.charset:
        args += ["--charset", a.charset]
    if a.context:
        args += ["--context", a.context]
    if a.device:
        args += ["--device", a.device]
    args += shlex.split(a.quill_args or "") + ["--json", out_json] + paths
    print(f"running: {' '.join(args[:12])}{' ...' if len(args) > 12 else ''} ({len(paths)} images)",
          file=sys.stderr)
    start = time.monotonic()
    proc = subprocess.run(args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    wall = time.monotonic() - start
    if not os.path.exists(out_json):
        raise SystemExit(f"quill read: exit {proc.returncode}, no JSON written: {proc.stderr.strip()[-2000:]}")
    if proc.returncode:
        print(f"quill read: exit {proc.returncode} (JSON written; its errors are scored as unread): "
              f"{proc.stderr.strip()[-500:]}", file=sys.stderr)
    return wall


CHARSETS = {"digits": "0123456789", "upper": "ABCDEFGHIJKLMNOPQRSTUVWXYZ", "lower": "abcdefghijklmnopqrstuvwxyz"}
CHARSETS["letters"] = CHARSETS["upper"] + CHARSETS["lower"]
CHARSETS["alnum"] = CHARSETS["digits"] + CHARSETS["letters"]


def tesseract_args(a, psm):
    args = [a.tesseract_bin, None, "stdout", "-l", "eng", "--psm", str(psm)]
    if a.charset:
        # With the LSTM engine a whitelist without the space drops the word spaces too ("2 32" reads "232").
        chars = CHARSETS.get(a.charset, a.charset)
        args += ["-c", "tessedit_char_whitelist=" + chars + ("" if " " in chars else " ")]
    return args


def run_tesseract(a, pages, psm):
    """{"images": [...]} in the shape of quill's JSON: the text tesseract printed and its wall time."""
    images = []
    for k, page in enumerate(pages):
        path = os.path.join(a.pages, page["file"])
        args = tesseract_args(a, psm)
        args[1] = path
        start = time.monotonic()
        try:
            proc = subprocess.run(args, capture_output=True, text=True, timeout=300)
            wall = time.monotonic() - start
            if proc.returncode:
                images.append({"path": path, "error": proc.stderr.strip()[-300:], "seconds": wall})
            else:
                images.append({"path": path, "text": proc.stdout, "seconds": wall})
        except subprocess.TimeoutExpired:
            images.append({"path": path, "error": "timeout", "seconds": time.monotonic() - start})
        if (k + 1) % 20 == 0 or k + 1 == len(pages):
            print(f"  tesseract --psm {psm}: {k + 1}/{len(pages)}", file=sys.stderr)
    return {"program": "tesseract", "command": shlex.join(tesseract_args(a, psm)[2:]),
            "version": tesseract_version(a.tesseract_bin), "images": images}


def tesseract_version(binary):
    try:
        out = subprocess.run([binary, "--version"], capture_output=True, text=True).stdout
        return out.splitlines()[0].strip() if out else None
    except OSError:
        return None


# ------------------------------------------------------------------------------------------ output

HEADER = ("| run | pages | CER | CER (ci) | WER | WER (ci) | words right | words right (ci) | lines ok "
          "| look-alikes | s/page median (min-max) | 8-line pages s median | unread |")
RULE = "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"


def pct(x):
    return "-" if x is None else f"{100 * x:.2f}%"


def row(label, r):
    s, s8 = r["seconds"], r["seconds_8_lines"]
    speed = f"{s['median']:.3f} ({s['min']:.3f}-{s['max']:.3f})" if s else "-"
    speed8 = f"{s8['median']:.3f} (n={s8['count']})" if s8 else "-"
    return (f"| {label} | {r['pages']} | {pct(r['cer'])} | {pct(r['cer_case_insensitive'])} | {pct(r['wer'])} "
            f"| {pct(r['wer_case_insensitive'])} | {pct(r['words_right'])} | {pct(r['words_right_case_insensitive'])} "
            f"| {r['pages_line_count_ok']}/{r['pages']} | {r['lookalike_total']} | {speed} | {speed8} "
            f"| {r['unread']} |")


def shown(c):
    return {"\n": "\\n", " ": "' '"}.get(c, c)


def details(label, r):
    out = [f"{label}: {r['characters']} characters, {r['words']} words, {r['lines']} lines; "
           f"char edits {r['char_edits']} (ci {r['char_edits_case_insensitive']}), "
           f"words right {r['words_right_count']}/{r['words']} (ci {r['words_right_count_case_insensitive']}), "
           f"pages exact {r['pages_exact']} (ci {r['pages_exact_case_insensitive']})"]
    if r.get("quill_wall_seconds") is not None:
        out.append(f"  quill read ran {r['quill_wall_seconds']:.1f} s in all for {r['pages']} images "
                   f"(one process; model loading included)")
    if r.get("command"):
        out.append(f"  {r.get('version') or 'tesseract'}: tesseract IMG {r['command']}, {r['output']}")
    if r["lexicon_words"]:
        out.append(f"  lexicon: {r['lexicon_match']}/{r['lexicon_words']} words read took a lexicon word")
    out.append(f"  look-alike substitutions {r['lookalike_total']} of {r['substitutions_total']}: " +
               (", ".join(f"{x['truth']}->{x['read']} x{x['count']}" for x in r["lookalikes"]) or "none"))
    out.append("  top substitutions: " + (", ".join(f"{shown(x['truth'])}->{shown(x['read'])} x{x['count']}"
                                                    for x in r["top_substitutions"]) or "none"))
    bad = sorted((p for p in r["per_page"] if p["char_edits"]), key=lambda p: -p["char_edits"])
    for p in bad[:2]:
        first = next(((t, h) for t, h in zip(p["truth"].split("\n"), p["read"].split("\n") + [""] * 99)
                      if t != h), None)
        if first:
            out.append(f"  e.g. {p['file']} ({p['char_edits']} edits): {first[0]!r} -> {first[1]!r}")
    return out


# ------------------------------------------------------------------------------------------ self-test

def self_test():
    failures = []

    def check(name, got, want):
        if got != want:
            failures.append(f"{name}: got {got!r}, want {want!r}")

    def ref_lev(a, b):
        prev = list(range(len(b) + 1))
        for i, ca in enumerate(a, 1):
            cur = [i]
            for j, cb in enumerate(b, 1):
                cur.append(min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (ca != cb)))
            prev = cur
        return prev[-1]

    # Levenshtein and the alignment
    check("distance kitten/sitting", distance("kitten", "sitting"), 3)
    check("distance empty", (distance("", "abc"), distance("abc", ""), distance("", "")), (3, 3, 0))
    e, m, pairs = align("Hello world", "He1lo wor1d")
    check("align He1lo edits", (e, m), (2, 9))
    check("align He1lo subs", [(t, r) for t, r in pairs if t != r], [("l", "1"), ("l", "1")])
    e, m, pairs = align("abc", "")
    check("align all deleted", (e, m, pairs), (3, 0, [("a", None), ("b", None), ("c", None)]))
    e, m, pairs = align("", "xy")
    check("align all inserted", (e, m, pairs), (2, 0, [(None, "x"), (None, "y")]))
    # Among the fewest edits, the most matches: "a b" vs "b c" is 2 edits either way, with 1 word right.
    check("align most matches", align(["a", "b"], ["b", "c"])[:2], (2, 1))
    rng = random.Random(35)
    for k in range(300):
        a = "".join(rng.choice("ab1l \n") for _ in range(rng.randrange(12)))
        b = "".join(rng.choice("ab1l \n") for _ in range(rng.randrange(12)))
        e, m, pairs = align(a, b)
        ok = (e == ref_lev(a, b) == distance(a, b) and "".join(t for t, _ in pairs if t is not None) == a
              and "".join(r for _, r in pairs if r is not None) == b)
        if not ok:
            failures.append(f"align random {a!r} {b!r}: {e} vs {ref_lev(a, b)}")
            break

    # Normalisation and the tesseract filter
    check("normalise", normalise("  Line  one \n\n second\tline \r\n\f"), ["Line one", "second line"])
    check("alnum_only", normalise(alnum_only("Hello, world!\n\u2014 \u2014\n'1984'.")), ["Hello world", "1984"])

    # Page scoring
    pages = [{"file": "p0.png", "text": "Hello world"},
             {"file": "p1.png", "text": "the cat sat\nOn 1984"},
             {"file": "p2.png", "text": "gone"}]
    r = score(pages, {"p0.png": "He1lo wor1d", "p1.png": "the  cat sat\n\non 1984 mat", "p2.png": None},
              seconds={"p0.png": 0.5, "p1.png": 0.25})
    # chars: 11 + 19 + 4 = 34; exact edits: 2 + (O->o, +" mat" = 5) + 4 = 11; ci edits: 2 + 4 + 4 = 10
    check("score chars", (r["characters"], r["char_edits"], r["char_edits_case_insensitive"]), (34, 11, 10))
    check("score cer", round(r["cer"], 6), round(11 / 34, 6))
    # words: 2 + 5 + 1 = 8; exact edits 2 + 2 (On->on, +mat) + 1 = 5, right 0 + 4 + 0; ci edits 2 + 1 + 1 = 4
    check("score words", (r["words"], r["word_edits"], r["words_right_count"]), (8, 5, 4))
    check("score words ci", (r["word_edits_case_insensitive"], r["words_right_count_case_insensitive"]), (4, 5))
    check("score wer", r["wer"], 5 / 8)
    check("score lines ok / unread / exact", (r["pages_line_count_ok"], r["unread"], r["pages_exact"]), (2, 1, 0))
    # look-alikes: l->1 twice (p0) and O->o once (p1)
    check("score lookalikes", (r["lookalike_total"], r["lookalikes"][0]),
          (3, {"truth": "l", "read": "1", "count": 2}))
    check("score top substitution", r["top_substitutions"][0], {"truth": "l", "read": "1", "count": 2})
    check("score seconds", (r["seconds"]["median"], r["seconds"]["min"], r["seconds"]["max"]), (0.375, 0.25, 0.5))
    r = score([{"file": "a", "text": "Hello World"}], {"a": "hello world"})
    check("case only", (r["char_edits"], r["char_edits_case_insensitive"], r["lookalike_total"],
                        r["words_right_count"], r["words_right_count_case_insensitive"]), (2, 0, 1, 0, 2))
    r = score([{"file": "a", "text": "a1 bl aO b0"}], {"a": "al b1 a0 bO"})
    check("both directions", (r["char_edits"], r["lookalike_total"], len(r["lookalikes"])), (4, 4, 4))
    # A swap of two characters: 2 edits either way; the most matches makes it a deletion and an insertion.
    r = score([{"file": "a", "text": "xl1y"}], {"a": "x1ly"})
    check("swap", (r["char_edits"], r["lookalike_total"]), (2, 0))

    # The whole path through the files: a page folder, a quill JSON matched by base name, an error entry.
    with tempfile.TemporaryDirectory(prefix="score-pages-test-") as tmp:
        with open(os.path.join(tmp, "pages.jsonl"), "w") as f:
            for k, text in enumerate(["One two\nthree", "4 5 6", "x"]):
                lines = [{"text": line, "words": [], "chars": []} for line in text.split("\n")]
                f.write(json.dumps({"file": f"page-{k:03d}.png", "kind": "words", "text": text, "lines": lines})
                        + "\n")
        fake = {"model": "fake", "images": [
            {"path": "/elsewhere/page-000.png", "text": "One two\nthree", "seconds": 0.2,
             "lines": [{"text": "One two", "words": [{"text": "One", "lexicon": "match"},
                                                     {"text": "two", "lexicon": "raw"}]},
                       {"text": "three", "words": [{"text": "three", "lexicon": "match"}]}]},
            {"path": "/elsewhere/page-001.png", "text": "4 S 6", "seconds": 0.4},
            {"path": "/elsewhere/page-002.png", "error": "cannot read"}]}
        with open(os.path.join(tmp, "fake.json"), "w") as f:
            json.dump(fake, f)
        out = os.path.join(tmp, "report.json")
        proc = subprocess.run([sys.executable, os.path.abspath(__file__), "--pages", tmp, "--reuse-json",
                               os.path.join(tmp, "fake.json"), "--label", "fake", "--json-out", out],
                              capture_output=True, text=True)
        check("end to end exit", (proc.returncode, proc.stderr[-300:] if proc.returncode else ""), (0, ""))
        if proc.returncode == 0:
            with open(out) as f:
                run = json.load(f)["runs"][0]
            check("end to end figures", (run["char_edits"], run["characters"], run["unread"], run["lexicon_match"],
                                         run["lexicon_words"], run["lookalike_total"]), (2, 19, 1, 2, 3, 1))
            check("end to end row", "| fake | 3 | 10.53% |" in proc.stdout, True)

    for f in failures:
        print("FAIL", f)
    print(f"self-test: {'FAILED ' + str(len(failures)) + ' check(s)' if failures else 'all checks passed'}")
    return 1 if failures else 0


# ---------------------------------------------------------------------------------------------- main

def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter,
                                epilog="\n".join(__doc__.splitlines()[1:]))
    p.add_argument("--pages", help="folder written by scripts/make-photos.py --pages (pages.jsonl, page-*.png)")
    p.add_argument("--model", help="model file, passed to quill read")
    p.add_argument("--quill", default="build/apps/quill", help="the quill program (default build/apps/quill)")
    p.add_argument("--lexicon", help="word list passed to quill read; 'auto' = PAGES/lexicon.txt")
    p.add_argument("--charset", help="passed to quill read (digits, letters, upper, lower, alnum, LIST); with "
                                     "--tesseract, the same characters as tessedit_char_whitelist")
    p.add_argument("--context", choices=["on", "off"], help="passed to quill read")
    p.add_argument("--device", help="passed to quill read (cpu, cuda, auto)")
    p.add_argument("--quill-args", help="more arguments for quill read, one string (shell-split)")
    p.add_argument("--tesseract", action="store_true", help="score Tesseract instead of quill")
    p.add_argument("--tesseract-bin", default="tesseract", help="the tesseract program (default tesseract)")
    p.add_argument("--psm", default="6", help="tesseract page segmentation mode (default 6); a comma list "
                                              "(3,4,6) scores each")
    p.add_argument("--kind", help="only the pages of this kind (words, digits)")
    p.add_argument("--limit", type=int, help="only the first N pages")
    p.add_argument("--label", help="the row's name (default: from the options)")
    p.add_argument("--no-header", action="store_true", help="print the table rows without the header")
    p.add_argument("--json-out", help="write every figure (page by page too) as JSON to FILE")
    p.add_argument("--keep-json", help="keep the JSON read from quill (or tesseract's outputs, same shape) in FILE")
    p.add_argument("--reuse-json", help="score this JSON (kept before) instead of running quill or tesseract")
    p.add_argument("--self-test", action="store_true", help="check the alignment and scoring, then exit")
    a = p.parse_args()
    if a.self_test:
        sys.exit(self_test())
    if not a.pages:
        p.error("--pages is required")
    if a.lexicon == "auto":
        a.lexicon = os.path.join(a.pages, "lexicon.txt")
    if os.sep in a.quill:
        a.quill = os.path.abspath(a.quill)
    pages = read_pages(a.pages, a.kind, a.limit)
    if not pages:
        raise SystemExit(f"no pages in {a.pages}/pages.jsonl" + (f" of kind {a.kind}" if a.kind else ""))
    kinds = collections.Counter(page.get("kind") for page in pages)
    print(f"{len(pages)} pages from {a.pages} (" + ", ".join(f"{k} {v}" for k, v in sorted(kinds.items(), key=str))
          + ")", file=sys.stderr)

    runs = []  # (label, result, source info)
    if a.tesseract:
        psms = [x.strip() for x in a.psm.split(",") if x.strip()]
        if a.reuse_json and len(psms) > 1:
            p.error("--reuse-json scores one kept JSON: give one --psm")
        for psm in psms:
            if a.reuse_json:
                with open(a.reuse_json) as f:
                    data = json.load(f)
            else:
                data = run_tesseract(a, pages, psm)
                if a.keep_json:
                    keep = a.keep_json if len(psms) == 1 else re.sub(r"(\.json)?$", f"-psm{psm}.json",
                                                                     a.keep_json, count=1)
                    with open(keep, "w") as f:
                        json.dump(data, f, indent=1)
            found = index_results(data["images"], a.pages, pages)
            hyps, seconds, _ = texts_of(found)
            base = a.label or ("tesseract --psm " + psm + (f" whitelist {a.charset}" if a.charset else ""))
            info = {"program": "tesseract", "command": data.get("command"), "version": data.get("version"),
                    "psm": psm}
            runs.append((f"{base} raw", dict(score(pages, hyps, seconds), output="raw", **info)))
            filtered = {k: (alnum_only(v) if v is not None else None) for k, v in hyps.items()}
            runs.append((f"{base} alnum", dict(score(pages, filtered, seconds),
                                               output="alnum only ([0-9A-Za-z] and whitespace kept)", **info)))
    else:
        wall = None
        if a.reuse_json:
            with open(a.reuse_json) as f:
                data = json.load(f)
        else:
            with tempfile.TemporaryDirectory(prefix="score-pages-") as tmp:
                out = os.path.join(tmp, "read.json")
                wall = run_quill(a, pages, out)
                with open(out) as f:
                    data = json.load(f)
                if a.keep_json:
                    shutil.copyfile(out, a.keep_json)
        found = index_results(data.get("images", []), a.pages, pages)
        hyps, seconds, lexicon = texts_of(found)
        label = a.label or "quill" + "".join(f" {k} {v}" for k, v in [("lexicon", a.lexicon and "on"),
                                                                     ("charset", a.charset), ("context", a.context)]
                                             if v)
        info = {"program": "quill", "model": data.get("model") or a.model, "lexicon": a.lexicon,
                "charset": a.charset, "context": a.context, "device": a.device, "quill_wall_seconds": wall,
                "reused_json": a.reuse_json}
        runs.append((label, dict(score(pages, hyps, seconds, lexicon), **info)))

    if not a.no_header:
        print(HEADER)
        print(RULE)
    for label, r in runs:
        print(row(label, r))
    print()
    for label, r in runs:
        print("\n".join(details(label, r)))
    if a.json_out:
        with open(a.json_out, "w") as f:
            json.dump({"pages_folder": os.path.abspath(a.pages), "kinds": dict(kinds),
                       "runs": [dict(r, label=label) for label, r in runs]}, f, indent=1)
            f.write("\n")


if __name__ == "__main__":
    main()
