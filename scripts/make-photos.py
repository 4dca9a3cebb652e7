#!/usr/bin/env python3
"""Makes photo-like PNGs from real test characters, to try `quill predict` and `quill read` on.

Each character of an IDX test set is drawn dark on light paper at a larger size, off-centre, with blur,
noise, uneven lighting and a thicker or thinner stroke; a line image puts several of them side by side
with varied gaps. Only the standard library is used.

  scripts/make-photos.py --data $QUILL_DATA/mnist --out photos --count 8 --line 6
Writes photos/char-<i>-<label>.png, photos/line-<labels>.png and photos/labels.txt.
"""
import argparse
import gzip
import os
import random
import struct
import zlib


def read_idx(path):
    with (gzip.open if open(path, "rb").read(2) == b"\x1f\x8b" else open)(path, "rb") as f:
        data = f.read()
    magic, count = struct.unpack(">II", data[:8])
    if magic == 0x803:
        rows, cols = struct.unpack(">II", data[8:16])
        return [data[16 + i * rows * cols:16 + (i + 1) * rows * cols] for i in range(count)], rows, cols
    if magic == 0x801:
        return list(data[8:8 + count]), 0, 0
    raise SystemExit(f"{path}: not an IDX file")


def write_png(path, pixels, width, height):
    raw = b"".join(b"\x00" + bytes(pixels[y * width:(y + 1) * width]) for y in range(height))
    def chunk(tag, body):
        return struct.pack(">I", len(body)) + tag + body + struct.pack(">I", zlib.crc32(tag + body) & 0xFFFFFFFF)
    png = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0))
    png += chunk(b"IDAT", zlib.compress(raw, 9)) + chunk(b"IEND", b"")
    with open(path, "wb") as f:
        f.write(png)


def sample(img, rows, cols, x, y):
    """Bilinear sample of an ink image (0..1) at real coordinates; 0 outside."""
    x0, y0 = int(x // 1), int(y // 1)
    fx, fy = x - x0, y - y0
    def at(i, j):
        return img[j * cols + i] / 255.0 if 0 <= i < cols and 0 <= j < rows else 0.0
    return ((1 - fx) * (1 - fy) * at(x0, y0) + fx * (1 - fy) * at(x0 + 1, y0)
            + (1 - fx) * fy * at(x0, y0 + 1) + fx * fy * at(x0 + 1, y0 + 1))


def stroke(img, rows, cols, grow):
    """Thicker (grow > 0: a 3x3 max filter) or thinner (grow < 0: faded anti-aliased edges) strokes."""
    if grow == 0:
        return img
    if grow < 0:
        return bytes(int(255 * (v / 255) ** 2.5) for v in img)
    pick = max
    out = bytearray(len(img))
    for y in range(rows):
        for x in range(cols):
            out[y * cols + x] = pick(img[j * cols + i] if 0 <= i < cols and 0 <= j < rows else 0
                                     for j in (y - 1, y, y + 1) for i in (x - 1, x, x + 1))
    return bytes(out)


def draw(canvas, width, height, img, rows, cols, left, top, scale):
    for y in range(int(rows * scale)):
        for x in range(int(cols * scale)):
            ink = sample(img, rows, cols, x / scale - 0.5, y / scale - 0.5)
            cx, cy = left + x, top + y
            if 0 <= cx < width and 0 <= cy < height:
                canvas[cy * width + cx] = max(canvas[cy * width + cx], ink)


def photograph(ink, width, height, rng):
    """Paper with a lighting gradient, dark ink, blur and noise -> 8-bit gray."""
    blurred = ink[:]
    for y in range(1, height - 1):
        for x in range(1, width - 1):
            i = y * width + x
            blurred[i] = (4 * ink[i] + ink[i - 1] + ink[i + 1] + ink[i - width] + ink[i + width]) / 8
    paper, dark = rng.uniform(0.8, 0.95), rng.uniform(0.05, 0.25)
    gx, gy = rng.uniform(-0.25, 0.25), rng.uniform(-0.25, 0.25)
    out = bytearray(width * height)
    for y in range(height):
        for x in range(width):
            light = 1 + gx * (x / width - 0.5) + gy * (y / height - 0.5)
            v = (paper + (dark - paper) * blurred[y * width + x]) * light + rng.gauss(0, 0.03)
            out[y * width + x] = max(0, min(255, int(round(v * 255))))
    return out


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", required=True, help="folder with t10k-images-idx3-ubyte.gz and labels (MNIST)")
    p.add_argument("--out", default="photos")
    p.add_argument("--count", type=int, default=8, help="single-character photos")
    p.add_argument("--line", type=int, default=6, help="characters in the line image (0: none)")
    p.add_argument("--first", type=int, default=0, help="index of the first test image used")
    p.add_argument("--seed", type=int, default=1)
    a = p.parse_args()
    rng = random.Random(a.seed)
    images, rows, cols = read_idx(os.path.join(a.data, "t10k-images-idx3-ubyte.gz"))
    labels, _, _ = read_idx(os.path.join(a.data, "t10k-labels-idx1-ubyte.gz"))
    os.makedirs(a.out, exist_ok=True)
    listing = []
    for k in range(a.count):
        i = a.first + k
        img = stroke(images[i], rows, cols, rng.choice([-1, 0, 0, 1]))
        w, h = rng.randint(160, 220), rng.randint(160, 220)
        scale = rng.uniform(4.0, 6.0)
        canvas = [0.0] * (w * h)
        draw(canvas, w, h, img, rows, cols, rng.randint(0, max(0, w - int(cols * scale))),
             rng.randint(0, max(0, h - int(rows * scale))), scale)
        name = f"char-{k}-{labels[i]}.png"
        write_png(os.path.join(a.out, name), photograph(canvas, w, h, rng), w, h)
        listing.append(f"{name} {labels[i]}")
    if a.line:
        scale, gap = 3.0, 0
        idx = [a.first + a.count + k for k in range(a.line)]
        w, h = int(a.line * cols * scale * 0.9) + 40, int(rows * scale) + 30
        canvas = [0.0] * (w * h)
        x = 20
        for i in idx:
            draw(canvas, w, h, stroke(images[i], rows, cols, rng.choice([0, 1])), rows, cols, x,
                 15 + rng.randint(-4, 4), scale)
            gap = rng.randint(-12, 6)  # characters' boxes overlap a little, as handwriting does
            x += int(cols * scale) + gap - 14
        text = "".join(str(labels[i]) for i in idx)
        name = f"line-{text}.png"
        write_png(os.path.join(a.out, name), photograph(canvas, w, h, rng), w, h)
        listing.append(f"{name} {text}")
    with open(os.path.join(a.out, "labels.txt"), "w") as f:
        f.write("\n".join(listing) + "\n")
    print("\n".join(listing))


if __name__ == "__main__":
    main()
