#!/usr/bin/env python3
"""Training throughput of Quill's default character CNN in PyTorch, for side-by-side comparison.

Builds the same network as models/cnn.txt (conv 32 k3 p1, BN, ReLU, ... dense 256, ReLU, dropout 0.5,
dense classes), the same batch and optimizer (AdamW), data resident in memory (on the GPU when --device
cuda), and times whole training steps: warm-up, then the median and spread of repeated runs.

  python3 bench/torch_train.py --device cpu --threads 1 --batch 128 --steps 20 --repeats 5 [--json out.json]
"""
import argparse
import json
import statistics
import time

import torch
import torch.nn as nn


def default_cnn(classes: int) -> nn.Module:
    def block(cin, cout):
        return [nn.Conv2d(cin, cout, 3, padding=1), nn.BatchNorm2d(cout), nn.ReLU()]

    return nn.Sequential(
        *block(1, 32), *block(32, 32), nn.MaxPool2d(2),
        *block(32, 64), *block(64, 64), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(64 * 7 * 7, 256), nn.ReLU(), nn.Dropout(0.5), nn.Linear(256, classes))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    p.add_argument("--threads", type=int, default=0, help="CPU threads (0: PyTorch's default)")
    p.add_argument("--batch", type=int, default=128)
    p.add_argument("--classes", type=int, default=10)
    p.add_argument("--steps", type=int, default=20, help="training steps per timed run")
    p.add_argument("--warmup", type=int, default=5)
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--tf32", action="store_true", help="allow TF32 tensor cores (GPU)")
    p.add_argument("--json", help="write the result here too")
    a = p.parse_args()

    if a.threads > 0:
        torch.set_num_threads(a.threads)
    dev = torch.device(a.device)
    if dev.type == "cuda":
        torch.backends.cudnn.benchmark = True
        torch.backends.cuda.matmul.allow_tf32 = a.tf32
        torch.backends.cudnn.allow_tf32 = a.tf32
    torch.manual_seed(0)
    model = default_cnn(a.classes).to(dev)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
    loss_fn = nn.CrossEntropyLoss()
    x = torch.rand(a.batch, 1, 28, 28, device=dev)
    y = torch.randint(0, a.classes, (a.batch,), device=dev)

    def step():
        opt.zero_grad(set_to_none=True)
        loss = loss_fn(model(x), y)
        loss.backward()
        opt.step()
        return loss

    model.train()
    for _ in range(a.warmup):
        step()
    rates = []
    for _ in range(a.repeats):
        if dev.type == "cuda":
            start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
            start.record()
            for _ in range(a.steps):
                step()
            end.record()
            torch.cuda.synchronize()
            seconds = start.elapsed_time(end) / 1000.0
        else:
            t0 = time.perf_counter()
            for _ in range(a.steps):
                loss = step()
            loss.item()
            seconds = time.perf_counter() - t0
        rates.append(a.batch * a.steps / seconds)
    result = {
        "engine": "pytorch", "version": torch.__version__, "device": a.device, "tf32": a.tf32,
        "device_name": torch.cuda.get_device_name(dev) if dev.type == "cuda" else "cpu",
        "threads": torch.get_num_threads() if dev.type == "cpu" else None,
        "batch": a.batch, "steps": a.steps, "repeats": a.repeats,
        "images_per_s_median": statistics.median(rates), "images_per_s_min": min(rates),
        "images_per_s_max": max(rates),
    }
    print(json.dumps(result))
    if a.json:
        with open(a.json, "w") as f:
            json.dump(result, f, indent=1)


if __name__ == "__main__":
    main()
