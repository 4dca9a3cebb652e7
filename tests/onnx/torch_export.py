#!/usr/bin/env python3
"""A model nobody here wrote in Quill: the default CNN (models/cnn.txt) defined in PyTorch, trained briefly,
exported with torch.onnx.export, for tests/test_onnx_import.cpp to import into Quill and compare.

Usage: torch_export.py OUT_DIR [MNIST_DIR]
Writes OUT_DIR/torch_cnn.onnx (PyTorch's export, ending in a Softmax), OUT_DIR/images.f32 (N x 1 x 28 x 28 float32:
real MNIST test digits when MNIST_DIR holds t10k-images-idx3-ubyte[.gz], else seeded noise) and
OUT_DIR/probabilities.f32 (N x 10 float32, PyTorch's outputs for them in eval mode), and prints N.
Pixels are as Quill feeds its network: byte / 255, ink bright.
"""
import gzip
import os
import struct
import sys

import numpy as np
import torch
from torch import nn

COUNT = 1000


def read_idx_images(path):
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rb") as f:
        magic, n, rows, cols = struct.unpack(">IIII", f.read(16))
        assert magic == 2051, path
        return np.frombuffer(f.read(n * rows * cols), dtype=np.uint8).reshape(n, 1, rows, cols)


def read_idx_labels(path):
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rb") as f:
        magic, n = struct.unpack(">II", f.read(8))
        assert magic == 2049, path
        return np.frombuffer(f.read(n), dtype=np.uint8)


def find(mnist_dir, name):
    for candidate in (name, name + ".gz"):
        path = os.path.join(mnist_dir, candidate)
        if os.path.exists(path):
            return path
    return None


class DefaultCnn(nn.Module):
    """models/cnn.txt: two stages of (conv 3x3 p1, batch norm, relu) x 2 and a 2x2 max pool, dense 256, dropout, dense 10."""

    def __init__(self):
        super().__init__()

        def block(cin, cout):
            return [nn.Conv2d(cin, cout, 3, padding=1), nn.BatchNorm2d(cout), nn.ReLU()]

        self.net = nn.Sequential(*block(1, 32), *block(32, 32), nn.MaxPool2d(2), *block(32, 64), *block(64, 64),
                                 nn.MaxPool2d(2), nn.Flatten(), nn.Linear(64 * 7 * 7, 256), nn.ReLU(), nn.Dropout(0.5),
                                 nn.Linear(256, 10))

    def forward(self, x):
        return torch.softmax(self.net(x), dim=1)


def main():
    out_dir = sys.argv[1]
    mnist_dir = sys.argv[2] if len(sys.argv) > 2 else ""
    torch.manual_seed(3)
    torch.set_num_threads(1)
    rng = np.random.default_rng(3)
    train_images = find(mnist_dir, "train-images-idx3-ubyte") if mnist_dir else None
    if train_images:
        x = read_idx_images(train_images)[:2048].astype(np.float32) / 255
        y = read_idx_labels(find(mnist_dir, "train-labels-idx1-ubyte"))[:2048].astype(np.int64)
        test = read_idx_images(find(mnist_dir, "t10k-images-idx3-ubyte"))[:COUNT].astype(np.float32) / 255
    else:
        x = rng.random((2048, 1, 28, 28), dtype=np.float32)
        y = rng.integers(0, 10, 2048)
        test = rng.random((COUNT, 1, 28, 28), dtype=np.float32)

    model = DefaultCnn()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    model.train()
    for start in range(0, len(x), 64):  # one epoch of 32 steps: real batch-norm statistics, real weights
        xb, yb = torch.from_numpy(x[start:start + 64]), torch.from_numpy(y[start:start + 64])
        loss = nn.functional.cross_entropy(model.net(xb), yb)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    model.eval()

    onnx_path = os.path.join(out_dir, "torch_cnn.onnx")
    torch.onnx.export(model, torch.from_numpy(test[:1]), onnx_path, opset_version=13, input_names=["image"],
                      output_names=["probabilities"], dynamic_axes={"image": {0: "N"}, "probabilities": {0: "N"}})
    with torch.no_grad():
        probabilities = model(torch.from_numpy(test)).numpy().astype(np.float32)
    test.astype("<f4").tofile(os.path.join(out_dir, "images.f32"))
    probabilities.astype("<f4").tofile(os.path.join(out_dir, "probabilities.f32"))
    print(len(test))


if __name__ == "__main__":
    main()
