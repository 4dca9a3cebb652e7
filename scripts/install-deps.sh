#!/usr/bin/env bash
# Installs what Quill builds with, from Debian's packages. Skips apt when everything is already there.
set -euo pipefail
packages=(build-essential cmake pkg-config libpng-dev zlib1g-dev libcairo2-dev doctest-dev libcli11-dev nlohmann-json3-dev libcpp-httplib-dev
          libboost-context-dev  # Boost.Context: the fibers of the CPU emulation of CUDA
          libonnx-dev libprotobuf-dev python3-onnx  # ONNX in and out (engine/onnx_*), its Python checker in the tests
          libonnx-testdata python3-torch  # ONNX's operator tests and PyTorch's export, run by tests/test_onnx_*.cpp
          wamerican "$@")  # the word list scripts/make-photos.py --pages draws words from
missing=()
for p in "${packages[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
[ ${#missing[@]} -eq 0 ] && exit 0
sudo=""; [ "$(id -u)" -eq 0 ] || sudo="sudo"
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
echo "installed: ${missing[*]}"
