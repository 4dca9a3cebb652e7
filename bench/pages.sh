#!/usr/bin/env bash
# Reading whole pages (docs/RESULTS.md, "Pages"): generated pages of real words and numbers
# (scripts/make-photos.py --pages: EMNIST test-part letters, MNIST t10k digits), read by `quill read` with a
# ByClass model with line context on and off, with the pages' lexicon, and number pages with --charset digits;
# Tesseract 5 (Debian's tesseract-ocr, tesseract-ocr-eng) on the same images; all scored the same way by
# scripts/score-pages.py (CER and WER, exact and case-insensitive, look-alike substitutions, seconds per page).
#   bench/pages.sh --model BYCLASS.quill [--pages N] [--digit-pages N] [--out DIR] [--no-tesseract]
# QUILL_DATA: where mnist/ and emnist/ are (default ../shared/data). Writes DIR/pages.md (the table) and the
# per-run JSON beside it; the pages are drawn into DIR/words and DIR/digits unless already there.
set -euo pipefail
cd "$(dirname "$0")/.."
model=""; pages=120; digit_pages=60; out=""; tesseract=1
while [ $# -gt 0 ]; do
  case "$1" in
    --model) model=$(realpath "$2"); shift 2 ;;
    --pages) pages=$2; shift 2 ;;
    --digit-pages) digit_pages=$2; shift 2 ;;
    --out) out=$2; shift 2 ;;
    --no-tesseract) tesseract=0; shift ;;
    *) echo "usage: bench/pages.sh --model BYCLASS.quill [--pages N] [--digit-pages N] [--out DIR] [--no-tesseract]" >&2
       exit 2 ;;
  esac
done
[ -n "$model" ] || { echo "bench/pages.sh: --model BYCLASS.quill is required (quill train --dataset emnist)" >&2; exit 2; }
export QUILL_DATA=${QUILL_DATA:-$(realpath ../shared/data 2>/dev/null || echo ../shared/data)}
out=${out:-bench/results/pages-$(date +%F)-$(git rev-parse --short HEAD)}
mkdir -p "$out"
quill=$(realpath "${QUILL_BIN:-build/apps/quill}")
[ -x "$quill" ] || { scripts/build.sh; quill=$(realpath build/apps/quill); }
[ -f "$out/words/pages.jsonl" ] ||
  python3 scripts/make-photos.py --data "$QUILL_DATA" --pages "$pages" --page-kind words --seed 35 --jobs 2 --quiet --out "$out/words"
[ -f "$out/digits/pages.jsonl" ] ||
  python3 scripts/make-photos.py --data "$QUILL_DATA" --pages "$digit_pages" --page-kind digits --seed 36 --jobs 2 --quiet --out "$out/digits"

table="$out/pages.md"
score() {  # label, then score-pages.py's arguments
  local label=$1; shift
  python3 scripts/score-pages.py --quill "$quill" --label "$label" --no-header --json-out "$out/$(echo "$label" | tr ' ,/' '___').json" "$@" |
    tee -a "$out/log.txt" | grep '^| ' | grep -v '^| run' >> "$table"
}
{
  echo "Pages read by \`quill read\` ($(git rev-parse --short HEAD), model $(basename "$model")), $(date +%F), $(nproc) cores: $(lscpu | sed -n 's/^Model name: *//p')"
  echo
  echo "| run | pages | CER | CER (ci) | WER | WER (ci) | words right | words right (ci) | lines ok | look-alikes | s/page median (min-max) | 8-line pages s median | unread |"
  echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
} > "$table"
: > "$out/log.txt"
score "words, context on" --pages "$out/words" --model "$model"
score "words, context off" --pages "$out/words" --model "$model" --context off
score "words, lexicon" --pages "$out/words" --model "$model" --lexicon auto
score "words, lexicon, context off" --pages "$out/words" --model "$model" --lexicon auto --context off
score "digits, charset digits" --pages "$out/digits" --model "$model" --charset digits
score "digits, no charset" --pages "$out/digits" --model "$model"
if [ "$tesseract" = 1 ]; then
  command -v tesseract > /dev/null || scripts/install-deps.sh tesseract-ocr tesseract-ocr-eng
  score "Tesseract words" --pages "$out/words" --tesseract
  score "Tesseract digits" --pages "$out/digits" --tesseract
  score "Tesseract digits, whitelist" --pages "$out/digits" --tesseract --charset digits
fi
cat "$table"
