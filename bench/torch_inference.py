#!/usr/bin/env python3
"""CPU inference throughput and latency of a Quill model in PyTorch, for bench/inference_compare.sh.

The network and its weights are read from the model's ONNX export (`quill export --onnx`): each node
becomes the matching torch.nn module (Conv, BatchNormalization, Relu, MaxPool, Flatten, Gemm, ...) with
the initializers as its weights, so PyTorch runs exactly Quill's trained network. Eval mode under
torch.inference_mode(), as deployment runs it. Times forward calls at --batch (images/s of each call)
and calls of one image (ms of each), after warm-up, as `quill bench --inference` does.

  /usr/bin/python3 bench/torch_inference.py MODEL.onnx IMAGES.f32 --threads 2 [--batch 256] [--repeats 20]
      [--latency-calls 200] [--probabilities OUT.f32] [--json OUT.json]

IMAGES.f32 holds N x 1 x 28 x 28 little-endian float32 images; they are cycled to fill the batch, and the
one-image calls take them in turn.
"""
import argparse
import json
import time

import numpy as np
import onnx
from onnx import numpy_helper
import torch
import torch.nn as nn


def attributes(node):
    return {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}


class OnnxNet(nn.Module):
    """The ONNX graph's nodes, in order, as torch modules; tensors are passed by name."""

    def __init__(self, model: onnx.ModelProto):
        super().__init__()
        init = {t.name: torch.from_numpy(numpy_helper.to_array(t).copy()) for t in model.graph.initializer}
        self.steps = []
        self.mods = nn.ModuleList()
        self.input = model.graph.input[0].name
        self.outputs = [o.name for o in model.graph.output]
        for node in model.graph.node:
            a = attributes(node)
            op = node.op_type
            if op == "Conv":
                w = init[node.input[1]]
                b = init[node.input[2]] if len(node.input) > 2 else None
                pads = a.get("pads", [0, 0, 0, 0])
                m = nn.Conv2d(w.shape[1], w.shape[0], tuple(w.shape[2:]), stride=tuple(a.get("strides", [1, 1])),
                              padding=(pads[0], pads[1]), bias=b is not None)
                m.weight.data.copy_(w)
                if b is not None:
                    m.bias.data.copy_(b)
            elif op == "BatchNormalization":
                g, beta, mean, var = (init[n] for n in node.input[1:5])
                m = nn.BatchNorm2d(g.numel(), eps=a.get("epsilon", 1e-5))
                m.weight.data.copy_(g), m.bias.data.copy_(beta)
                m.running_mean.copy_(mean), m.running_var.copy_(var)
            elif op == "Relu":
                m = nn.ReLU()
            elif op == "LeakyRelu":
                m = nn.LeakyReLU(a.get("alpha", 0.01))
            elif op == "Tanh":
                m = nn.Tanh()
            elif op == "Sigmoid":
                m = nn.Sigmoid()
            elif op in ("MaxPool", "AveragePool"):
                k, s, p = a["kernel_shape"], a.get("strides", [1, 1]), a.get("pads", [0, 0, 0, 0])
                if op == "MaxPool":
                    m = nn.MaxPool2d(tuple(k), tuple(s), (p[0], p[1]))
                else:
                    m = nn.AvgPool2d(tuple(k), tuple(s), (p[0], p[1]), count_include_pad=bool(a.get("count_include_pad", 0)))
            elif op == "Flatten":
                m = nn.Flatten(a.get("axis", 1))
            elif op == "Gemm":
                w = init[node.input[1]]
                if not a.get("transB", 0):
                    w = w.t()
                b = init[node.input[2]] if len(node.input) > 2 else None
                m = nn.Linear(w.shape[1], w.shape[0], bias=b is not None)
                m.weight.data.copy_(w)
                if b is not None:
                    m.bias.data.copy_(b)
            elif op == "Identity":
                m = nn.Identity()
            elif op == "Softmax":
                m = nn.Softmax(a.get("axis", 1))
            elif op == "Add":
                m = None
            else:
                raise SystemExit(f"torch_inference.py: ONNX op {op} is not mapped to PyTorch")
            if m is not None:
                self.mods.append(m)
            self.steps.append((op, len(self.mods) - 1, [i for i in node.input if i not in init], node.output[0]))

    def forward(self, x):
        values = {self.input: x}
        for op, index, inputs, output in self.steps:
            if op == "Add":
                values[output] = values[inputs[0]] + values[inputs[1]]
            else:
                values[output] = self.mods[index](values[inputs[0]])
        return values["probabilities"]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("model")
    p.add_argument("images")
    p.add_argument("--threads", type=int, required=True)
    p.add_argument("--batch", type=int, default=256)
    p.add_argument("--warmup", type=int, default=3)
    p.add_argument("--repeats", type=int, default=20)
    p.add_argument("--latency-warmup", type=int, default=20)
    p.add_argument("--latency-calls", type=int, default=200)
    p.add_argument("--probabilities", help="write the batch's probabilities here (raw float32)")
    p.add_argument("--json", help="write the result here too")
    a = p.parse_args()

    torch.set_num_threads(a.threads)
    net = OnnxNet(onnx.load(a.model)).eval()
    pixels = np.fromfile(a.images, dtype="<f4").reshape(-1, 1, 28, 28)
    x = torch.from_numpy(pixels[np.arange(a.batch) % len(pixels)].copy())
    singles = [x[i:i + 1] for i in range(a.batch)]
    with torch.inference_mode():
        if a.probabilities:
            net(x).numpy().astype("<f4").tofile(a.probabilities)
        for _ in range(a.warmup):
            net(x)
        batch_ms = []
        for _ in range(a.repeats):
            t0 = time.perf_counter()
            net(x)
            batch_ms.append((time.perf_counter() - t0) * 1e3)
        for i in range(a.latency_warmup):
            net(singles[i % len(singles)])
        latency_ms = []
        for i in range(a.latency_calls):
            xi = singles[i % len(singles)]
            t0 = time.perf_counter()
            net(xi)
            latency_ms.append((time.perf_counter() - t0) * 1e3)
    result = {
        "engine": "pytorch", "version": torch.__version__, "threads": torch.get_num_threads(),
        "batch": a.batch, "timing": "time.perf_counter around each forward call (eval, inference_mode)",
        "images_per_second": {"runs": [a.batch / (ms * 1e-3) for ms in batch_ms]},
        "batch_ms": {"runs": batch_ms}, "latency_ms": {"runs": latency_ms},
    }
    if a.json:
        with open(a.json, "w") as f:
            json.dump(result, f, indent=1)
    print(f"pytorch {torch.__version__}, {result['threads']} threads: batch {a.batch} median "
          f"{np.median(result['images_per_second']['runs']):.1f} images/s; batch 1 median {np.median(latency_ms):.3f} ms")


if __name__ == "__main__":
    main()
