#!/usr/bin/env bash
# Reproduces docs/RESULTS.md: trains every accuracy protocol with its built-in recipe (models/recipes/)
# under several seeds, with Quill and optionally PyTorch (bench/torch_accuracy.py, same network, recipe
# and split), and writes the table of mean and spread.
#   scripts/accuracy.sh [--protocols "mnist byclass letters digits"] [--seeds "1 2 3"] [--device auto]
#                       [--torch] [--torch-device cpu|cuda] [--out out/accuracy] [--train-args "..."]
# Protocols: mnist (official split); byclass (EMNIST ByClass reference protocol, 62 classes, also scored
# as the 47 merged classes); letters and digits (models trained on those images). Each run's log, model
# and report images go to OUT/<protocol>-s<seed>.*; runs already finished there are kept, so an
# interrupted reproduction continues where it stopped. QUILL_BIN overrides the quill binary.
# --train-args tries a recipe change over seeds: options both trainers take under the same names, after
# the recipe's (e.g. "--epochs 18" or "--batch 64 --augment none"). Give each change its own --out: the
# folder remembers its train args (OUT/train-args.txt) and refuses runs with others, so that one table
# never mixes two recipes.
set -euo pipefail
cd "$(dirname "$0")/.."
protocols="mnist byclass letters digits" seeds="1 2 3" device=auto out=out/accuracy torch=0 torch_device=cpu
train_args=""
while [ $# -gt 0 ]; do
  case "$1" in
    --protocols) protocols=$2; shift 2 ;;
    --seeds) seeds=$2; shift 2 ;;
    --device) device=$2; shift 2 ;;
    --out) out=$2; shift 2 ;;
    --torch) torch=1; shift ;;
    --torch-device) torch_device=$2; shift 2 ;;
    --train-args) train_args=$2; shift 2 ;;
    *) echo "accuracy.sh: unknown option '$1' (see the header of $0)" >&2; exit 2 ;;
  esac
done
if [ -z "${QUILL_BIN:-}" ]; then scripts/build.sh; QUILL_BIN=build/apps/quill; fi
if [ -z "${QUILL_DATA:-}" ] && [ -d ../shared/data ]; then export QUILL_DATA=$(cd ../shared/data && pwd); fi
: "${QUILL_DATA:?set QUILL_DATA to the folder with mnist/ and emnist/ (see ../shared/data/SOURCES.md)}"
export QUILL_DATA
mkdir -p "$out"
if [ -e "$out/train-args.txt" ]; then
  recorded=$(cat "$out/train-args.txt")
  [ "$recorded" = "$train_args" ] || {
    echo "accuracy.sh: $out holds runs with --train-args '$recorded', not '$train_args': give another --out" >&2
    exit 2
  }
elif [ -n "$(ls -A "$out")" ] && [ -n "$train_args" ]; then
  echo "accuracy.sh: $out holds runs of the plain recipes: give --train-args '$train_args' another --out" >&2
  exit 2
else
  printf '%s' "$train_args" > "$out/train-args.txt"
fi

dataset_args() {  # the quill train / torch_accuracy.py data options of a protocol
  case "$1" in
    mnist) echo "--dataset mnist" ;;
    byclass|letters|digits) echo "--dataset emnist --emnist-set $1" ;;
    *) echo "accuracy.sh: unknown protocol '$1' (mnist, byclass, letters, digits)" >&2; return 2 ;;
  esac
}
recipe_of() { case "$1" in mnist) echo mnist ;; *) echo "emnist-$1" ;; esac; }

for p in $protocols; do
  args=$(dataset_args "$p")
  for s in $seeds; do
    run="$out/$p-s$s"
    if [ ! -s "$run.quill" ]; then
      echo "== quill: $p, seed $s"
      # shellcheck disable=SC2086
      "$QUILL_BIN" train $args $train_args --seed "$s" --device "$device" --out "$run.quill" 2>&1 | tee "$run.log" | grep -E "^(recipe|training|epoch [0-9]+/[0-9]+  train|test accuracy)" || true
      [ -s "$run.quill" ] || { echo "accuracy.sh: training $p seed $s failed (see $run.log)" >&2; exit 1; }
    fi
    if [ "$p" = byclass ] && [ ! -s "$run.merged.txt" ]; then
      "$QUILL_BIN" eval --model "$run.quill" --dataset emnist --emnist-set merged --device "$device" > "$run.merged.txt.tmp"
      mv "$run.merged.txt.tmp" "$run.merged.txt"
    fi
    if [ "$torch" = 1 ] && [ ! -s "$run.torch.json" ]; then
      echo "== pytorch: $p, seed $s"
      merged=""; [ "$p" = byclass ] && merged=--score-merged
      # shellcheck disable=SC2086
      /usr/bin/python3 bench/torch_accuracy.py --quill "$QUILL_BIN" $args --recipe "models/recipes/$(recipe_of "$p").txt" --seed "$s" \
        $train_args --device "$torch_device" $merged --json "$run.torch.json.tmp" 2> "$run.torch.log"
      mv "$run.torch.json.tmp" "$run.torch.json"
    fi
  done
done
python3 scripts/accuracy-table.py "$out" | tee "$out/table.md"
