#!/usr/bin/env python3
"""Writes the fuzz targets' seed inputs into corpus/<target>/ (small valid files of every kind each target
reads, so the fuzzer starts from inside the formats). Usage: make_seeds.py QUILL_BINARY"""
import base64, gzip, os, struct, subprocess, sys, tempfile, zlib

here = os.path.dirname(os.path.abspath(__file__))


def put(target, name, data):
    os.makedirs(os.path.join(here, "corpus", target), exist_ok=True)
    with open(os.path.join(here, "corpus", target, name), "wb") as f:
        f.write(data)


ADAM7 = [(0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4), (1, 0, 2, 2), (0, 1, 1, 2)]


def chunk(tag, body):
    return struct.pack(">I", len(body)) + tag + body + struct.pack(">I", zlib.crc32(tag + body))


def png(width, height, colour_type, depth, rows, interlace=0, extra=b""):
    """interlace=1 only for 8-bit grey: Adam7's seven passes, each a sub-image with its own filter bytes."""
    if interlace:
        raw = b"".join(b"\0" + bytes(rows[y][x0::dx]) for x0, y0, dx, dy in ADAM7 if x0 < width
                       for y in range(y0, height, dy))
    else:
        raw = b"".join(b"\0" + r for r in rows)
    ihdr = struct.pack(">IIBBBBB", width, height, depth, colour_type, 0, 0, interlace)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + extra + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b"")


def character(width, height):
    """A dark ring on light paper, as grey bytes, row by row."""
    rows = []
    for y in range(height):
        row = bytearray()
        for x in range(width):
            d = ((x - width / 2) ** 2 / (width / 3) ** 2 + (y - height / 2) ** 2 / (height / 3) ** 2) ** 0.5
            row.append(20 if abs(d - 1) < 0.25 else 235)
        rows.append(bytes(row))
    return rows


def pngs():
    g = character(24, 20)
    put("fuzz_png", "grey8.png", png(24, 20, 0, 8, g))
    put("fuzz_png", "grey8-interlaced.png", png(24, 20, 0, 8, g, interlace=1))
    put("fuzz_png", "rgb8.png", png(24, 20, 2, 8, [bytes(v for p in r for v in (p, p, p)) for r in g]))
    put("fuzz_png", "rgba8.png", png(24, 20, 6, 8, [bytes(v for p in r for v in (0, 0, 0, 255 - p)) for r in g]))
    put("fuzz_png", "grey16.png", png(24, 20, 0, 16, [bytes(v for p in r for v in (p, p)) for r in g]))
    bits = [bytes(sum((1 << (7 - i)) for i in range(8) if x * 8 + i < 24 and r[x * 8 + i] > 128) for x in range(3))
            for r in g]
    put("fuzz_png", "grey1.png", png(24, 20, 0, 1, bits))
    put("fuzz_png", "palette1.png", png(24, 20, 3, 1, bits, extra=chunk(b"PLTE", b"\0\0\0\xff\xff\xff")))
    line = character(16, 16)
    wide = [a + b + bytes([235] * 4) + a for a, b in zip(line, line)]
    put("fuzz_png", "line.png", png(len(wide[0]), 16, 0, 8, wide))


def dataset_files():
    images = struct.pack(">IIII", 0x803, 3, 5, 4) + bytes(range(60))
    labels = struct.pack(">II", 0x801, 3) + bytes([1, 0, 2])
    put("fuzz_dataset_files", "images.idx", images)
    put("fuzz_dataset_files", "labels.idx", labels)
    put("fuzz_dataset_files", "images.idx.gz", gzip.compress(images, mtime=0))
    put("fuzz_dataset_files", "labels.idx.gz", gzip.compress(labels, mtime=0))
    put("fuzz_dataset_files", "letters-mapping.txt", b"".join(b"%d %d %d\n" % (i + 1, 65 + i, 97 + i) for i in range(26)))


def texts():
    put("fuzz_text_inputs", "digits.json", b'{"data": [0, 0.502, 1' + b", 0.251" * 781 + b"]}")
    put("fuzz_text_inputs", "base64.txt", base64.b64encode(png(4, 3, 0, 8, [b"\1\2\3\4"] * 3)))
    put("fuzz_text_inputs", "base64url.txt", b"-_-_ AB\ncd==")


def serve_requests():
    """Content-Type line, ?top_k= line ("-": none), body."""
    drawing = png(40, 30, 0, 8, character(40, 30))
    url = b"data:image/png;base64," + base64.b64encode(drawing)
    put("fuzz_serve_request", "raw.req", b"image/png\n-\n" + drawing)
    put("fuzz_serve_request", "octet-top-k.req", b"application/octet-stream\n7\n" + drawing)
    put("fuzz_serve_request", "json-url.req", b'application/json\n-\n{"image": "' + url + b'", "top_k": 3}')
    put("fuzz_serve_request", "json-plain.req", b'application/json; charset=utf-8\n2\n{"image": "' +
        base64.b64encode(drawing) + b'"}')
    put("fuzz_serve_request", "json-untyped.req", b'\n-\n{"image": "' + url + b'"}')


def ring_grid(width, height, lines):
    """A grey grid (row by row) of dark rings 6 wide and 8 tall on light paper: lines[l] holds each word's
    ring count of line l; rings 1 apart in a word, 4 between words, lines 12 rows apart."""
    grid = [[230] * width for _ in range(height)]
    for l, words in enumerate(lines):
        x = 2
        for w, count in enumerate(words):
            if w:
                x += 3
            for _ in range(count):
                for y in range(8):
                    for dx in range(6):
                        d = ((dx - 2.5) / 3) ** 2 + ((y - 3.5) / 4) ** 2
                        if 0.4 < d < 1.0 and x + dx < width and 2 + 12 * l + y < height:
                            grid[2 + 12 * l + y][x + dx] = 25
                x += 7
    return bytes(v for row in grid for v in row)


def page_layouts():
    """[grid width - 1, grid height - 1, flags (scale - 1 | charset << 2 | size 32 | neighbours 64 | lexicon 128),
    grid bytes] (tests/fuzz/fuzz_page_layout.cpp)."""
    def page(name, width, height, flags, grid):
        put("fuzz_page_layout", name, bytes([width - 1, height - 1, flags]) + grid)
    page("two-lines.bin", 40, 28, 3 | 32 | 64, ring_grid(40, 28, [[2, 3], [4]]))
    page("three-lines-lexicon.bin", 48, 40, 2 | (1 << 2) | 32 | 64 | 128, ring_grid(48, 40, [[3], [1, 2], [2, 2]]))
    page("one-line-charset.bin", 40, 12, 3 | (6 << 2) | 32, ring_grid(40, 12, [[2, 2]]))
    page("light-on-dark.bin", 32, 28, 3 | 64, bytes(255 - v for v in ring_grid(32, 28, [[2], [3]])))
    page("blank.bin", 16, 16, 3, bytes([230]) * 256)
    page("noise.bin", 32, 32, 0, bytes((i * 7919 + (i >> 3) * 104729) % 251 for i in range(1024)))


def lexicons():
    put("fuzz_lexicon", "words.txt", b"# a word list\nhello\nWorld\n\nquill\r\nHELLO\n  read  \nI\n42\n")
    put("fuzz_lexicon", "crlf.txt", b"one\r\ntwo\r\nthree\r\n")
    put("fuzz_lexicon", "long.txt", b"a" * 40 + b"\nab\n")


def descriptions():
    for name in ("cnn.txt", "small.txt"):
        text = open(os.path.join(here, "..", "..", "models", name), "rb").read()
        put("fuzz_model_description", name, b"\0" + text)
    put("fuzz_model_description", "residual.txt",
        b"\1conv 3 k3 p1 as a\nbn\nrelu\nconv 3 k3 p1 nobias\nadd from a input\nmaxpool 2\navgpool 2 s 1\n"
        b"flatten\ndropout 0.5\ndense classes xavier\n")
    put("fuzz_model_description", "dense.txt", b"\2dense 8\ntanh\ndense 6\nsigmoid\nleaky 0.1\ndense classes\n")


def model_files(quill):
    """A tiny model and its checkpoint, trained for a few steps on MNIST (QUILL_DATA)."""
    with tempfile.TemporaryDirectory() as tmp:
        desc = os.path.join(tmp, "tiny.txt")
        open(desc, "w").write("conv 2 k5 s4\nbn\nrelu\nflatten\ndense classes\n")
        out = os.path.join(tmp, "tiny.quill")
        subprocess.run([quill, "train", "--model", desc, "--dataset", "mnist", "--train-limit", "256",
                        "--epochs", "1", "--recipe", "none", "--out", out, "--no-report", "--device", "cpu"], check=True, stdout=subprocess.DEVNULL)
        # The same model as ONNX: as exported (with Quill's metadata) and as another producer's graph would be.
        onnx_file = os.path.join(tmp, "tiny.onnx")
        subprocess.run([quill, "export", "--model", out, "--onnx", onnx_file], check=True, stdout=subprocess.DEVNULL)
        exported = open(onnx_file, "rb").read()
        put("fuzz_onnx_model", "tiny.onnx", exported)
        try:
            import onnx
            m = onnx.load_from_string(exported)
            del m.metadata_props[:]
            put("fuzz_onnx_model", "tiny-no-metadata.onnx", m.SerializeToString())
        except ImportError:
            pass
        for name in os.listdir(tmp):
            if name.startswith("tiny.quill"):
                put("fuzz_model_file", name.replace("tiny.quill", "tiny") + ".quill", open(os.path.join(tmp, name), "rb").read())


if __name__ == "__main__":
    pngs()
    dataset_files()
    texts()
    page_layouts()
    lexicons()
    serve_requests()
    descriptions()
    model_files(sys.argv[1])
