#!/usr/bin/env bash
# CPU training throughput of the default character CNN, Quill beside PyTorch, in one run:
# batch 128, synthetic images, warm-up, median and spread over repeats. PyTorch runs at 1 thread and at
# all threads, and the better of the two is the one compared.
#   bench/cpu_compare.sh [--quick]      (needs Debian's python3-torch; build/apps/quill must exist)
# Writes bench/results/cpu-<date>-<commit>.{md,json}.
set -euo pipefail
cd "$(dirname "$0")/.."
steps=20; repeats=5
[ "${1:-}" = "--quick" ] && { steps=5; repeats=3; }
py=/usr/bin/python3
$py -c "import torch" 2>/dev/null || scripts/install-deps.sh python3-torch
quill=${QUILL_BIN:-build/apps/quill}   # QUILL_BIN: another build of quill
[ -x "$quill" ] || scripts/build.sh
out=bench/results; mkdir -p "$out"
stamp="$(date -u +%Y-%m-%d)-$(git rev-parse --short HEAD)"
tmp=$(mktemp -d)
threads=$(nproc)

"$quill" bench --model cnn --batch 128 --device cpu --steps "$steps" --repeats "$repeats" --json "$tmp/quill.json" >/dev/null
for t in 1 "$threads"; do
  $py bench/torch_train.py --device cpu --threads "$t" --batch 128 --steps "$steps" --repeats "$repeats" \
      --json "$tmp/torch-$t.json" >/dev/null
done

$py - "$tmp" "$threads" "$out/cpu-$stamp" "$(lscpu | sed -n 's/^Model name: *//p')" "$stamp" <<'PY'
import json, sys
tmp, threads, base, cpu, stamp = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5]
q = json.load(open(f"{tmp}/quill.json"))
t = {n: json.load(open(f"{tmp}/torch-{n}.json")) for n in ("1", threads)}
best = max(t.values(), key=lambda r: r["images_per_s_median"])
ratio = q["images_per_second"]["median"] / best["images_per_s_median"]
rows = [("Quill", q["threads"], q["images_per_second"])]
rows += [(f"PyTorch {r['version']}", r["threads"], {"median": r["images_per_s_median"], "min": r["images_per_s_min"],
          "max": r["images_per_s_max"]}) for r in t.values()]
md = [f"# CPU training throughput, default character CNN, batch 128 ({stamp})", "",
      f"CPU: {cpu}, {threads} threads available. {q['repeats']} repeats of {q['steps']} steps after warm-up.", "",
      "| engine | threads | images/s median | min | max |", "|---|---|---|---|---|"]
md += [f"| {n} | {th} | {v['median']:.0f} | {v['min']:.0f} | {v['max']:.0f} |" for n, th, v in rows]
md += ["", f"Quill / best PyTorch: **{ratio:.2f}x** (target: at least 1.5x)", ""]
open(base + ".md", "w").write("\n".join(md))
json.dump({"quill": q, "pytorch": list(t.values()), "ratio": ratio, "cpu": cpu}, open(base + ".json", "w"), indent=1)
print("\n".join(md))
PY
rm -rf "$tmp"
