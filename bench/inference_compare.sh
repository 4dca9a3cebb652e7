#!/usr/bin/env bash
# CPU inference of one trained model, Quill beside ONNX Runtime (onnxruntime-node) and PyTorch, in one run:
# the same weights (ONNX Runtime and PyTorch run Quill's ONNX export), the same images (the first 256 MNIST
# test images, else seeded synthetic ones), the same thread counts (all cores, and 1). Reports images/s at
# batch 256 (median and spread of every timed call) and the latency of one image (median, p10-p90).
#   bench/inference_compare.sh [--model M.quill] [--rounds R] [--quick]
# Without --model it trains the default CNN briefly on MNIST first (weights do not change the speed). The
# engines first run once on the batch to check that their probabilities agree. Then, for each thread count,
# R rounds run each engine in its own process, in an order that rotates from round to round, so load that
# comes and goes on the machine falls on all three alike; each engine's timed calls of all rounds are pooled.
# Needs Debian's python3-torch and python3-onnx, Node.js with tests/onnx's packages (npm ci --ignore-scripts),
# and build/apps/quill (QUILL_BIN: another build of quill). QUILL_DATA: where mnist/ is (default ../shared/data).
# Writes bench/results/inference-<cpu>-<date>-<commit>.{md,json}.
set -euo pipefail
cd "$(dirname "$0")/.."
model=""; rounds=3; repeats=10; latency_calls=100
while [ $# -gt 0 ]; do
  case "$1" in
    --model) model=$(realpath "$2"); shift 2 ;;
    --rounds) rounds=$2; shift 2 ;;
    --quick) rounds=1; repeats=5; latency_calls=50; shift ;;
    *) echo "usage: bench/inference_compare.sh [--model M.quill] [--rounds R] [--quick]" >&2; exit 2 ;;
  esac
done
py=/usr/bin/python3
$py -c "import torch, onnx" 2>/dev/null || scripts/install-deps.sh python3-torch python3-onnx
[ -d tests/onnx/node_modules/onnxruntime-node ] || (cd tests/onnx && npm ci --ignore-scripts --no-audit --no-fund)
quill=$(realpath "${QUILL_BIN:-build/apps/quill}")
[ -x "$quill" ] || { scripts/build.sh; quill=$(realpath build/apps/quill); }
export QUILL_DATA=${QUILL_DATA:-$(realpath ../shared/data 2>/dev/null || echo ../shared/data)}
out=bench/results; mkdir -p "$out"
cpu=$(lscpu | sed -n 's/^Model name: *//p')
threads=$(nproc)
slug=$(echo "$cpu" | tr 'A-Z' 'a-z' | sed 's/([^)]*)//g; s/[^a-z0-9]\+/-/g; s/^-//; s/-$//')-${threads}cpu
stamp="$(date -u +%Y-%m-%d)-$(git rev-parse --short HEAD)"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

if [ -z "$model" ]; then
  echo "training the default CNN briefly (--train-limit 2000, 1 epoch) for its weights" >&2
  "$quill" train --device cpu --dataset mnist --train-limit 2000 --epochs 1 --out "$tmp/cnn.quill" >/dev/null
  model=$tmp/cnn.quill
fi
"$quill" export --model "$model" --onnx "$tmp/model.onnx" >/dev/null

# The images: the first 256 MNIST test images as float32 in [0, 1] (Quill's input convention), else synthetic.
$py - "$QUILL_DATA/mnist/t10k-images-idx3-ubyte.gz" "$tmp/images.f32" <<'PY'
import gzip, os, sys
import numpy as np
src, dst = sys.argv[1], sys.argv[2]
if os.path.exists(src):
    raw = np.frombuffer(gzip.open(src).read(), dtype=np.uint8, offset=16)
    x = (raw[:256 * 784].astype(np.float32) / 255.0)
    print("images: the first 256 MNIST test images", file=sys.stderr)
else:
    rng = np.random.default_rng(1)
    x = np.where(rng.random(256 * 784) < 0.19, rng.uniform(0.2, 1.0, 256 * 784), 0).astype(np.float32)
    print(f"images: {src} not found, 256 synthetic images", file=sys.stderr)
x.astype("<f4").tofile(dst)
open(dst + ".source", "w").write("the first 256 MNIST test images (pixels / 255)" if os.path.exists(src) else "256 synthetic images (numpy seed 1)")
PY

run_engine() {  # engine threads json [extra options]: one process of one engine
  local engine=$1 t=$2 json=$3; shift 3
  case "$engine" in
    quill) OMP_NUM_THREADS=$t "$quill" bench --inference --model "$model" --images "$tmp/images.f32" --threads "$t" \
             --json "$json" "$@" ;;
    onnxruntime) node tests/onnx/bench_onnx.mjs "$tmp/model.onnx" "$tmp/images.f32" --threads "$t" --json "$json" "$@" ;;
    pytorch) OMP_NUM_THREADS=$t $py bench/torch_inference.py "$tmp/model.onnx" "$tmp/images.f32" --threads "$t" \
             --json "$json" "$@" ;;
  esac
}
engines=(quill onnxruntime pytorch)

# Agreement first: each engine's probabilities of the batch, one untimed pass.
for e in "${engines[@]}"; do
  run_engine "$e" "$threads" "$tmp/check-$e.json" --warmup 0 --repeats 1 --latency-calls 1 \
      --probabilities "$tmp/probs-$e.f32" >/dev/null 2>&1
done

thread_counts=("$threads"); [ "$threads" -gt 1 ] && thread_counts+=(1)
load_start=$(cut -d' ' -f1-3 /proc/loadavg)
for t in "${thread_counts[@]}"; do
  for ((r = 0; r < rounds; ++r)); do
    for ((k = 0; k < 3; ++k)); do
      e=${engines[$(((r + k) % 3))]}
      echo "threads $t, round $((r + 1))/$rounds: $e" >&2
      run_engine "$e" "$t" "$tmp/$e-$t-$r.json" --repeats "$repeats" --latency-calls "$latency_calls" >&2
    done
  done
done

load_end=$(cut -d' ' -f1-3 /proc/loadavg)

$py - "$tmp" "$out/inference-$slug-$stamp" "$cpu" "$threads" "$stamp" "$rounds" "$(basename "$model")" \
    "${thread_counts[*]}" "$load_start" "$load_end" <<'PY'
import glob, json, sys
import numpy as np
tmp, base, cpu, threads, stamp, rounds, model, thread_counts, load_start, load_end = sys.argv[1:11]
engines = {"quill": "Quill", "onnxruntime": "ONNX Runtime", "pytorch": "PyTorch"}
images = open(f"{tmp}/images.f32.source").read()

probs = {e: np.fromfile(f"{tmp}/probs-{e}.f32", dtype="<f4") for e in engines}
agreement = {f"{a} vs {b}": float(np.abs(probs[a] - probs[b]).max())
             for a, b in (("quill", "onnxruntime"), ("quill", "pytorch"), ("onnxruntime", "pytorch"))}
classes = probs["quill"].size // 256
top = {e: p.reshape(256, classes).argmax(1) for e, p in probs.items()}
same_top = {f"{a} vs {b}": int((top[a] == top[b]).sum()) for a, b in (("quill", "onnxruntime"), ("quill", "pytorch"))}
print("max |difference| of the batch's probabilities: " + ", ".join(f"{k} {v:.2e}" for k, v in agreement.items()),
      file=sys.stderr)
if max(agreement.values()) > 1e-3:
    sys.exit("the engines disagree by more than 1e-3: not benchmarking different computations")

def stats(v):
    v = np.asarray(v)
    return {"median": float(np.median(v)), "min": float(v.min()), "max": float(v.max()),
            "p10": float(np.percentile(v, 10)), "p25": float(np.percentile(v, 25)),
            "p75": float(np.percentile(v, 75)), "p90": float(np.percentile(v, 90)), "n": int(v.size)}

rows, raw = [], {}
for t in thread_counts.split():
    for e, name in engines.items():
        runs = [json.load(open(f)) for f in sorted(glob.glob(f"{tmp}/{e}-{t}-*.json"))]
        ips = [x for r in runs for x in r["images_per_second"]["runs"]]
        lat = [x for r in runs for x in r["latency_ms"]["runs"]]
        version = runs[0].get("version", "")
        if e == "quill":
            version = stamp.split("-")[-1]
        rows.append({"engine": name, "version": version, "threads": int(t), "batch256_images_per_second": stats(ips),
                     "batch1_latency_ms": stats(lat), "batch256_rounds_median": [float(np.median(r["images_per_second"]["runs"])) for r in runs]})
        raw[f"{e}-{t}"] = runs

def row(r):
    ips, lat = r["batch256_images_per_second"], r["batch1_latency_ms"]
    return (f"| {r['engine']} {r['version']} | {r['threads']} | {ips['median']:.0f} | {ips['p10']:.0f}-{ips['p90']:.0f} "
            f"| {ips['min']:.0f}-{ips['max']:.0f} | {lat['median']:.3f} | {lat['p10']:.3f}-{lat['p90']:.3f} |")

n256 = rows[0]["batch256_images_per_second"]["n"]; n1 = rows[0]["batch1_latency_ms"]["n"]
md = [f"# CPU inference, {model} (default character CNN), Quill beside ONNX Runtime and PyTorch ({stamp})", "",
      f"CPU: {cpu}, {threads} threads available. Images: {images}, batch 256 (one-image calls take them in turn). "
      f"Each engine ran in its own process {rounds} time{'s' if rounds != '1' else ''} per thread count, in rotating "
      f"order; each row pools "
      f"{n256} timed batch-256 calls and {n1} timed one-image calls, all after warm-up. Load average (1, 5, "
      f"15 min) before the timed runs {load_start}, after {load_end}: other work on the machine shows there.", "",
      "| engine | threads | batch 256 images/s median | p10-p90 | min-max | batch 1 ms median | p10-p90 |",
      "|---|---|---|---|---|---|---|"]
md += [row(r) for r in rows]
md += ["", "Agreement (max |difference| of the 256 images' probabilities, all threads): " +
       ", ".join(f"{k} {v:.1e}" for k, v in agreement.items()) +
       f"; same top class: Quill vs ONNX Runtime {same_top['quill vs onnxruntime']}/256, Quill vs PyTorch "
       f"{same_top['quill vs pytorch']}/256.", ""]
targets = []
for t in thread_counts.split():
    q = next(r for r in rows if r["engine"] == "Quill" and r["threads"] == int(t))
    o = next(r for r in rows if r["engine"] == "ONNX Runtime" and r["threads"] == int(t))
    ratio = q["batch256_images_per_second"]["median"] / o["batch256_images_per_second"]["median"]
    lat = q["batch1_latency_ms"]["median"]
    targets.append({"threads": int(t), "quill_over_onnxruntime_batch256": ratio, "quill_batch1_ms": lat})
    md.append(f"- {t} thread{'s' if t != '1' else ''}: Quill / ONNX Runtime at batch 256 **{ratio:.2f}x** "
              f"(target: at least 1x, {'met' if ratio >= 1 else 'not met'}); Quill batch-1 latency "
              f"**{lat:.3f} ms** (target: under 1 ms, {'met' if lat < 1 else 'not met'})")
md += ["", "Timing: Quill `quill bench --inference` (steady_clock around each forward call); ONNX Runtime "
       "tests/onnx/bench_onnx.mjs (performance.now() around each `await session.run`, so Node's call overhead "
       "is included); PyTorch bench/torch_inference.py (eager, eval, inference_mode; perf_counter around each call).", ""]
open(base + ".md", "w").write("\n".join(md))
json.dump({"cpu": cpu, "threads_available": int(threads), "loadavg_before": load_start, "loadavg_after": load_end, "stamp": stamp, "model": model, "images": images,
           "rounds": int(rounds), "agreement_max_abs_probability": agreement, "same_top_class_of_256": same_top,
           "rows": rows, "targets": targets, "raw": raw}, open(base + ".json", "w"), indent=1)
print("\n".join(md))
PY
