#!/usr/bin/env bash
# End-to-end test of `quill serve` in a real browser. Builds nothing: give it a built quill and a model.
#
#   scripts/e2e.sh QUILL_BINARY MODEL [--count N] [--min K] [--out DIR] [--mnist DIR] [--device D]
#
# Starts `quill serve` on a free loopback port, waits for it, runs tests/e2e/draw.mjs (Debian's chromium
# driven by playwright-core: replays N real MNIST test digits as pen strokes and expects the right top-1
# for at least K of them, default 8 of 10; also reads a 3-digit word, and checks that the 28x28 panel is an
# empty frame, no broken image, before the first stroke and after Clear), leaves screenshots in DIR
# (default /tmp/quill-e2e) and stops the server. Needs: apt-get install -y chromium;
# (cd tests/e2e && npm install) for playwright-core; MNIST in $QUILL_DATA/mnist or --mnist.
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
[ $# -ge 2 ] || { sed -n '2,12p' "$0"; exit 2; }
quill="$1" model="$2"; shift 2
count=10 min=8 out=/tmp/quill-e2e device=auto
mnist="${QUILL_DATA:-$here/data-cache}/mnist"
while [ $# -gt 0 ]; do
  case "$1" in
    --count) count="$2" ;; --min) min="$2" ;; --out) out="$2" ;; --mnist) mnist="$2" ;; --device) device="$2" ;;
    *) echo "e2e.sh: unknown option $1" >&2; exit 2 ;;
  esac
  shift 2
done
[ -x "$quill" ] || { echo "e2e.sh: no quill binary at $quill" >&2; exit 2; }
[ -f "$model" ] || { echo "e2e.sh: no model at $model" >&2; exit 2; }
[ -f "$mnist/t10k-images-idx3-ubyte.gz" ] || { echo "e2e.sh: no MNIST test set in $mnist (set QUILL_DATA or --mnist)" >&2; exit 2; }
[ -x /usr/bin/chromium ] || { echo "e2e.sh: no /usr/bin/chromium (apt-get install -y chromium)" >&2; exit 2; }
[ -d "$here/tests/e2e/node_modules/playwright-core" ] ||
  { echo "e2e.sh: playwright-core missing: (cd tests/e2e && npm install)" >&2; exit 2; }
mkdir -p "$out"
# Absolute: the browser test runs from tests/e2e and writes its screenshots into $out too.
out="$(cd "$out" && pwd)" mnist="$(cd "$mnist" && pwd)"

# A free loopback port (the kernel picks one; a tiny race with other programs is acceptable here).
port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
url="http://127.0.0.1:$port/"
"$quill" serve --model "$model" --host 127.0.0.1 --port "$port" --device "$device" >"$out/serve.log" 2>&1 &
server=$!
trap 'kill "$server" 2>/dev/null || true; wait "$server" 2>/dev/null || true' EXIT
for _ in $(seq 1 300); do
  curl -sf "${url}api/info" >/dev/null 2>&1 && break
  kill -0 "$server" 2>/dev/null || { echo "e2e.sh: quill serve exited:" >&2; cat "$out/serve.log" >&2; exit 1; }
  sleep 0.1
done
curl -sf "${url}api/info" >/dev/null || { echo "e2e.sh: quill serve did not answer on $url" >&2; exit 1; }
echo "e2e.sh: quill serve on $url ($(head -1 "$out/serve.log"))"
cd "$here/tests/e2e"
node draw.mjs --url "$url" --mnist "$mnist" --count "$count" --min "$min" --out "$out"
