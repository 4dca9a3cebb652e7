#!/usr/bin/env bash
# Load bench for `quill serve`: many concurrent clients on loopback, each posting real MNIST test digits
# (PNG) to /api/predict over a keep-alive connection; reports requests/s, p50/p90/p99 latency and how the
# server batched them. Bounded: --clients C threads x --requests R requests, and at most --seconds S.
#
#   bench/serve_load.sh QUILL_BINARY MODEL [--clients 16] [--requests 50] [--seconds 60] [--device auto]
#                       [--batch-wait-ms 2] [--mnist DIR]
#   bench/serve_load.sh --url http://127.0.0.1:PORT/ [...]      (a server already running; loopback only)
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
clients=16 requests=50 seconds=60 device=auto wait_ms=2 url=""
mnist="${QUILL_DATA:-$here/data-cache}/mnist"
quill="" model=""
if [ "${1:-}" != "--url" ]; then
  [ $# -ge 2 ] || { sed -n '2,9p' "$0"; exit 2; }
  quill="$1" model="$2"; shift 2
fi
while [ $# -gt 0 ]; do
  case "$1" in
    --clients) clients="$2" ;; --requests) requests="$2" ;; --seconds) seconds="$2" ;; --device) device="$2" ;;
    --batch-wait-ms) wait_ms="$2" ;; --mnist) mnist="$2" ;; --url) url="$2" ;;
    *) echo "serve_load.sh: unknown option $1" >&2; exit 2 ;;
  esac
  shift 2
done
[ -f "$mnist/t10k-images-idx3-ubyte.gz" ] || { echo "serve_load.sh: no MNIST test set in $mnist" >&2; exit 2; }

if [ -z "$url" ]; then
  port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
  url="http://127.0.0.1:$port/"
  log="$(mktemp /tmp/quill-serve-load.XXXXXX.log)"
  "$quill" serve --model "$model" --host 127.0.0.1 --port "$port" --device "$device" --batch-wait-ms "$wait_ms" \
    --threads "$((clients + 4))" >"$log" 2>&1 &
  server=$!
  trap 'kill "$server" 2>/dev/null || true; wait "$server" 2>/dev/null || true; rm -f "$log"' EXIT
  for _ in $(seq 1 300); do
    curl -sf "${url}api/info" >/dev/null 2>&1 && break
    kill -0 "$server" 2>/dev/null || { cat "$log" >&2; exit 1; }
    sleep 0.1
  done
  head -1 "$log"
fi

python3 - "$url" "$clients" "$requests" "$seconds" "$mnist" <<'PY'
import gzip, http.client, json, struct, sys, threading, time, urllib.parse, urllib.request, zlib

url, clients, per_client, seconds, mnist = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4]), sys.argv[5]
u = urllib.parse.urlparse(url)
if u.hostname not in ("127.0.0.1", "localhost", "::1"):
    sys.exit("serve_load: only loopback addresses (127.0.0.1, ::1, localhost)")

def png(pixels, w, h):  # 8-bit grayscale PNG
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xffffffff)
    raw = b"".join(b"\0" + bytes(pixels[y * w:(y + 1) * w]) for y in range(h))
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 0, 0, 0, 0)) + \
        chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b"")

# 100 test digits drawn 4x larger as dark ink on white, as a page would send them.
data = gzip.open(mnist + "/t10k-images-idx3-ubyte.gz").read()[16:]
labels = gzip.open(mnist + "/t10k-labels-idx1-ubyte.gz").read()[8:]
bodies = []
for i in range(100):
    d = data[i * 784:(i + 1) * 784]
    big = [255 - d[(y // 4) * 28 + x // 4] for y in range(112) for x in range(112)]
    bodies.append((png(big, 112, 112), str(labels[i])))

latencies, errors, right = [], [], [0]
lock = threading.Lock()
deadline = time.monotonic() + seconds
start = threading.Barrier(clients + 1)

def client(k):
    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=60)
    start.wait()
    for i in range(per_client):
        if time.monotonic() > deadline:
            break
        body, label = bodies[(k * per_client + i) % len(bodies)]
        t0 = time.perf_counter()
        try:
            conn.request("POST", "/api/predict", body, {"Content-Type": "image/png"})
            r = conn.getresponse()
            payload = r.read()
            dt = time.perf_counter() - t0
            with lock:
                if r.status == 200:
                    latencies.append(dt)
                    right[0] += json.loads(payload)["top"][0]["label"] == label
                else:
                    errors.append(r.status)
        except Exception as e:  # reconnect once the server closed a keep-alive connection
            with lock:
                errors.append(type(e).__name__)
            conn.close()
            conn = http.client.HTTPConnection(u.hostname, u.port, timeout=60)
    conn.close()

threads = [threading.Thread(target=client, args=(k,)) for k in range(clients)]
for t in threads: t.start()
before = json.loads(urllib.request.urlopen(url + "api/stats").read())
start.wait()
t0 = time.perf_counter()
for t in threads: t.join()
wall = time.perf_counter() - t0
after = json.loads(urllib.request.urlopen(url + "api/stats").read())
info = json.loads(urllib.request.urlopen(url + "api/info").read())

latencies.sort()
def pct(p):
    return 1000 * latencies[min(len(latencies) - 1, int(p / 100 * len(latencies)))] if latencies else float("nan")
n = len(latencies)
passes = after["batches"] - before["batches"]
print(f"serve load: {clients} clients x {per_client} requests on {info['device']} (batch wait {info['batch_wait_ms']} ms)")
print(f"  {n} ok, {len(errors)} failed{(' ' + str(sorted(set(map(str, errors))))) if errors else ''} in {wall:.2f} s: "
      f"{n / wall:.1f} requests/s")
print(f"  latency p50 {pct(50):.1f} ms, p90 {pct(90):.1f} ms, p99 {pct(99):.1f} ms, max {1000 * latencies[-1] if n else 0:.1f} ms")
print(f"  {passes} forward passes, {((after['samples'] - before['samples']) / passes) if passes else 0:.2f} samples per pass "
      f"(largest batch so far {after['largest_batch']}); top-1 right {right[0]} of {n}")
sys.exit(1 if errors else 0)
PY
