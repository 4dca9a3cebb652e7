#!/usr/bin/python3
"""Train Quill's network and recipe in PyTorch, on the same data split, and report test accuracy.

Trains exactly the network and recipe `quill train` trains, so Quill and PyTorch can be compared like with
like. Options are `quill train`'s: this script hands them to `quill train --plan` (the quill program: --quill,
$QUILL_BIN, else build/apps/quill or build-cpu/apps/quill), which resolves them as a real run does (the
dataset's built-in recipe, models/recipes/mnist.txt, emnist-byclass.txt, ..., unless --recipe names another
file or `none`; Quill's defaults; the command line over both), builds the network and prints the run as JSON
without training. Everything below is built from that plan; nothing of Quill's grammar, recipes, defaults or
schedules is copied here.

What is matched:
  - the network as Quill built it, layer by layer from the plan (conv, maxpool, avgpool, relu, leaky, tanh,
    sigmoid, dense (flattens), bn, dropout, flatten; a non-sequential graph is refused), each torch parameter's
    shape and the parameter count checked against Quill's;
  - initialisation as the plan names it for each parameter (he_normal std sqrt(2/fan_in), xavier_uniform,
    zeros, ones), BN eps and momentum from the plan (unbiased running variance), inverted dropout, average
    pooling over the in-image pixels only, max pooling with -inf padding;
  - pixels / 255 in [0, 1], no mean/std normalisation (the model's first bn does it);
  - the data split: MNIST official 60k/10k; EMNIST reference protocol on the ByClass test file
    (0..92,999 train, 93,000..116,322 test), transposed upright, remapped to byclass/merged/letters/digits
    in Quill's class order; the limits and validation rule (every k-th training image, indices k-1, 2k-1, ...)
    the plan's, and the counts read here checked against the plan's;
  - the optimizer of the plan: AdamW (decay p *= 1 - lr*wd, like torch.optim.AdamW), Adam (L2 in the
    gradient), SGD with Nesterov momentum (decay in the gradient); betas, eps, momentum, lr and weight decay
    as the plan gives them; weight decay on every parameter (Quill has one flat buffer, no parameter groups);
  - the learning rate of every step: the plan's list, computed by Quill's own schedule (layers/schedule.cpp);
  - label smoothing (torch's definition is Quill's: (1-s) * one-hot + s/C), mean over the batch; evaluation
    losses without smoothing; the last, smaller batch of an epoch is kept; evaluation batches of the plan's size (256);
  - augmentation (data/augment.cpp): shift: whole-pixel shifts -2..2, equally likely, nothing else;
    shift-stroke: the same shifts, then each pixel moved a of the way to the largest (a > 0) or smallest
    (a < 0) value of its 4-neighbourhood, a U(-0.5, 0.5) per image (a partial dilation or erosion);
    affine: rotation U(-10, 10) deg, scale U(0.9, 1.1), shear U(-0.2, 0.2)
    (x += k*y), shifts U(-2, 2) px about the pixel-centre (cols-1)/2; elastic: uniform(-1, 1) fields
    blurred by a truncated Gaussian (sigma 4, radius 12, zero outside) times alpha 34, added to the
    source coordinates; bilinear resampling with background 0, rounded back to uint8 like Quill.
By default shuffling, augmentation, dropout and initialisation draw from torch's generators (the same
distributions, other numbers). --quill-rng draws them from Quill's own Philox streams instead, so a run
follows `quill train --seed S` step by step; --eval-quill runs a model file written by Quill through the
torch network (same accuracy and loss to the image); --self-test checks the pieces against Quill's formulas
and its plan.

  /usr/bin/python3 bench/torch_accuracy.py --dataset mnist --epochs 3 --threads 1      # recipe mnist.txt
  /usr/bin/python3 bench/torch_accuracy.py --dataset emnist --emnist-set byclass --score-merged \
      --device cuda --seed 2 --json out.json
  /usr/bin/python3 bench/torch_accuracy.py --recipe none --dataset mnist --epochs 1 --train-limit 6000
  /usr/bin/python3 bench/torch_accuracy.py --eval-quill out/mnist.quill
  /usr/bin/python3 bench/torch_accuracy.py --self-test
"""
import argparse
import gzip
import json
import math
import os
import platform
import struct
import subprocess
import sys
import tempfile
import time

try:
    import torch
    import torch.nn as nn
    import torch.nn.functional as F
except ImportError:  # pragma: no cover
    sys.stderr.write("torch_accuracy.py: error: PyTorch is not installed for %s (use /usr/bin/python3 with "
                     "Debian's python3-torch)\n" % sys.executable)
    sys.exit(2)
try:
    import numpy as np
except ImportError:  # pragma: no cover
    np = None

PROG = "torch_accuracy.py"
REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


class Error(Exception):
    """A user-facing error: printed as one line, exit status 2."""


# ----------------------------------------------------------------------------------------------------
# The plan: `quill train --plan` (apps/cmd_train.cpp, engine/train_plan.cpp) resolves the options as a run
# does (recipe, built-in dataset recipe, command line), builds the network and prints the run as JSON: the
# data split, every setting, each built layer and the learning rate of every step. Nothing below re-derives
# any of it.

# The options handed to `quill train` as given here (None: not given, Quill's recipe or default applies).
QUILL_OPTIONS = ["recipe", "dataset", "emnist_set", "train_limit", "test_limit", "val_split", "model", "epochs",
                 "batch", "optimizer", "lr", "weight_decay", "schedule", "label_smoothing", "augment", "seed"]


def find_quill(option):
    """--quill, else $QUILL_BIN, else build/apps/quill or build-cpu/apps/quill in the checkout."""
    if option:
        candidates = [option]
    elif os.environ.get("QUILL_BIN"):
        candidates = [os.environ["QUILL_BIN"]]
    else:
        candidates = [os.path.join(REPO, b, "apps", "quill") for b in ("build", "build-cpu")]
    for c in candidates:
        if os.path.isfile(c) and os.access(c, os.X_OK):
            return c
    raise Error("the quill program was not found (%s): build it (scripts/build.sh) or name it with --quill"
                % ", ".join(candidates))


def quill_plan(quill, options):
    """`quill train --plan` with `options` (a list of words): the run's plan as a dict."""
    cmd = [quill, "train", "--plan"] + options
    try:
        done = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True)
    except OSError as e:
        raise Error("cannot run %s: %s" % (quill, e))
    if done.returncode != 0:
        message = done.stderr.strip().splitlines()[-1] if done.stderr.strip() else "exit status %d" % done.returncode
        raise Error("%s: %s" % (" ".join(cmd[:3] + ["..."]), message.replace("quill: error: ", "")))
    try:
        plan = json.loads(done.stdout)
    except ValueError as e:
        raise Error("%s printed no plan: %s" % (quill, e))
    if plan.get("quill_plan") != 1:
        raise Error("%s printed a plan of another format (%s); this script reads format 1"
                    % (quill, plan.get("quill_plan")))
    return plan


def plan_options(a):
    """The words for `quill train`: the options given to this script, the data folder it resolved."""
    words = ["--data-dir", a.data_dir]
    for name in QUILL_OPTIONS:
        value = getattr(a, name)
        if value is not None:
            words += ["--" + name.replace("_", "-"), str(value)]
    return words


def _numel(shape):
    n = 1
    for d in shape:
        n *= d
    return n


def build_model(network, dropout=None):
    """The torch module for Quill's built network (the plan's "network"), and the initialisation of every
    parameter in order: (init, fan_in, fan_out) as Quill lists them. `dropout(p, node_index)` makes dropout
    modules (default nn.Dropout). Each torch parameter's shape is checked against Quill's."""
    modules, init, quill_shapes = [], [], []
    previous = "input"
    for layer in network["layers"]:
        k, at, name = layer["kind"], layer["attributes"], layer["name"]
        where = "layer %d '%s' (%s)" % (layer["index"], name, layer["description"])
        if layer["inputs"] != [previous]:
            raise Error("%s takes %s: a non-sequential graph; %s supports sequential models only"
                        % (where, ", ".join(layer["inputs"]), PROG))
        previous = name
        shape = layer["input_shapes"][0]
        if k == "conv":
            modules.append(nn.Conv2d(shape[0], at["filters"], at["kernel"], stride=at["stride"], padding=at["pad"],
                                     bias=at["bias"]))
        elif k in ("maxpool", "avgpool"):
            if at["padding_counts"]:
                raise Error("%s: padding that counts in a pool is not supported" % where)
            if k == "maxpool":  # torch pads with -inf: padding never wins a max
                modules.append(nn.MaxPool2d(at["window"], stride=at["stride"], padding=at["pad"]))
            else:  # Quill divides by the in-image pixels of each window
                modules.append(nn.AvgPool2d(at["window"], stride=at["stride"], padding=at["pad"],
                                            count_include_pad=False))
        elif at.get("activation") is not None:
            act = at["activation"]
            if act == "relu":
                modules.append(nn.ReLU())
            elif act == "leaky_relu":
                modules.append(nn.LeakyReLU(at["negative_slope"]))
            elif act == "tanh":
                modules.append(nn.Tanh())
            elif act == "sigmoid":
                modules.append(nn.Sigmoid())
            else:
                raise Error("%s: unsupported activation '%s'" % (where, act))
        elif k == "dense":
            if at["flattens_input"] and len(shape) != 1:
                modules.append(nn.Flatten())
            modules.append(nn.Linear(_numel(shape), at["units"], bias=at["bias"]))
        elif k in ("bn", "batchnorm"):
            if not at["running_var_unbiased"]:
                raise Error("%s: a biased running variance is not supported" % where)
            bn = nn.BatchNorm2d if len(shape) == 3 else nn.BatchNorm1d
            modules.append(bn(at["channels"], eps=at["eps"], momentum=at["momentum"]))
        elif k == "dropout":
            if not at["inverted"]:
                raise Error("%s: only inverted dropout is supported" % where)
            modules.append(dropout(at["p"], layer["index"]) if dropout else nn.Dropout(at["p"]))
        elif k == "flatten":
            modules.append(nn.Flatten())
        else:
            raise Error("%s: layer kind '%s' is not supported by %s" % (where, k, PROG))
        for p in layer["params"]:
            init.append((p["init"], p["fan_in"], p["fan_out"]))
            quill_shapes.append(p["shape"])
    model = nn.Sequential(*modules)
    torch_shapes = [list(p.shape) for p in model.parameters()]
    if torch_shapes != quill_shapes:
        raise Error("the torch network's parameters %s differ from Quill's %s" % (torch_shapes, quill_shapes))
    torch_buffers = [list(b.shape) for n, b in model.named_buffers() if not n.endswith("num_batches_tracked")]
    quill_buffers = [s for layer in network["layers"] for s in layer["buffers"]]
    if torch_buffers != quill_buffers:
        raise Error("the torch network's buffers %s differ from Quill's %s" % (torch_buffers, quill_buffers))
    torch_params = sum(p.numel() for p in model.parameters())
    if torch_params != network["parameters"]:
        raise Error("parameter count differs: torch {:,}, Quill {:,}".format(torch_params, network["parameters"]))
    return model, init


def init_like_quill(model, init, seed=None):
    """layers/graph.cpp: he_normal N(0, sqrt(2/fan_in)), xavier_uniform U(+-sqrt(6/(fan_in+fan_out))), zeros,
    ones, as the plan names each parameter's. With `seed`, the values are Quill's own (Philox streams)."""
    params = list(model.parameters())
    assert len(params) == len(init)
    with torch.no_grad():
        for stream, (p, (kind, fan_in, fan_out)) in enumerate(zip(params, init)):
            if kind == "zeros":
                p.zero_()
            elif kind == "ones":
                p.fill_(1.0)
            elif kind not in ("he_normal", "xavier_uniform"):
                raise Error("initialisation '%s' is not supported" % kind)
            elif seed is not None:
                j = np.arange(p.numel(), dtype=np.uint64)
                if kind == "he_normal":
                    v = qrng_normal(seed, stream, j) * math.sqrt(2.0 / fan_in)
                else:
                    v = (2.0 * qrng_uniform01(seed, stream, j).astype(np.float64) - 1.0) * \
                        math.sqrt(6.0 / (fan_in + fan_out))
                p.copy_(torch.from_numpy(v.astype(np.float32)).view_as(p))
            elif kind == "he_normal":
                p.normal_(0.0, math.sqrt(2.0 / fan_in))
            else:
                bound = math.sqrt(6.0 / (fan_in + fan_out))
                p.uniform_(-bound, bound)


# ----------------------------------------------------------------------------------------------------
# Data (data/idx.cpp, data/emnist.cpp, data/data_sources.cpp)

EMNIST_TRAIN_END = 93000
DIGITS = "0123456789"
UPPER = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
LOWER = "abcdefghijklmnopqrstuvwxyz"
MERGED_LOWER = "cijklmopsuvwxyz"  # lowercase letters merged into their uppercase class (ByMerge/Balanced)
BYCLASS = DIGITS + UPPER + LOWER


def label_set_chars(s):
    if s == "byclass":
        return BYCLASS
    if s == "digits":
        return DIGITS
    if s == "letters":
        return UPPER
    if s == "merged":
        return DIGITS + UPPER + "".join(c for c in LOWER if c not in MERGED_LOWER)
    raise Error("unknown EMNIST label set '%s' (expected byclass, merged, letters or digits)" % s)


def byclass_to(s):
    """For each of the 62 ByClass labels: its label in set `s`, or -1 where `s` drops it."""
    target = label_set_chars(s)
    out = []
    for c in BYCLASS:
        if s == "digits" and not c.isdigit():
            out.append(-1)
            continue
        if s == "letters" and c.isdigit():
            out.append(-1)
            continue
        key = c
        if c.islower() and (s == "letters" or (s == "merged" and c in MERGED_LOWER)):
            key = c.upper()
        out.append(target.find(key))
    return out


def find_idx(d, name):
    for cand in (os.path.join(d, name + ".gz"), os.path.join(d, name)):
        if os.path.exists(cand):
            return cand
    return None


def read_idx(path, images):
    """An IDX file (gzip or raw) as a uint8 tensor: [n, rows, cols] or [n]."""
    try:
        opener = gzip.open if path.endswith(".gz") else open
        with opener(path, "rb") as f:
            data = f.read()
    except (OSError, EOFError) as e:
        raise Error("%s: cannot read: %s" % (path, e))
    want_magic, header = (0x803, 16) if images else (0x801, 8)
    if len(data) < header:
        raise Error("%s: too short for an IDX header" % path)
    magic, n = struct.unpack(">II", data[:8])
    if magic != want_magic:
        raise Error("%s: bad IDX magic 0x%08x (expected 0x%08x)" % (path, magic, want_magic))
    rows = cols = 1
    if images:
        rows, cols = struct.unpack(">II", data[8:16])
    size = n * rows * cols
    if len(data) != header + size:
        raise Error("%s: %d bytes of data for %d items (expected %d)" % (path, len(data) - header, n, size))
    t = torch.frombuffer(bytearray(data[header:]), dtype=torch.uint8)
    return t.view(n, rows, cols) if images else t


def load_idx_pair(images_path, labels_path, num_labels):
    x = read_idx(images_path, True)
    y = read_idx(labels_path, False).long()
    if x.shape[0] != y.shape[0]:
        raise Error("%s has %d images but %s has %d labels" % (images_path, x.shape[0], labels_path, y.shape[0]))
    if y.numel() and int(y.max()) >= num_labels:
        raise Error("%s: label %d is outside 0..%d" % (labels_path, int(y.max()), num_labels - 1))
    return x, y


def load_mnist_part(d, part):
    images = find_idx(d, part + "-images-idx3-ubyte")
    labels = find_idx(d, part + "-labels-idx1-ubyte")
    if not images or not labels:
        raise Error("MNIST %s files not found in %s (expected %s-images-idx3-ubyte.gz and %s-labels-idx1-ubyte.gz)"
                    % (part, d, part, part))
    return load_idx_pair(images, labels, 10)


def read_emnist_mapping(path):
    if not os.path.isfile(path):
        raise Error("%s: cannot open EMNIST mapping file" % path)
    names, first = [], None
    with open(path) as f:
        for line_no, line in enumerate(f, 1):
            if not line.strip():
                continue
            fields = line.split()
            try:
                label, code = int(fields[0]), int(fields[1])
            except (ValueError, IndexError):
                raise Error("%s: line %d: expected 'label ascii_code', got '%s'" % (path, line_no, line.rstrip()))
            if first is None:
                first = label
            if label != first + len(names):
                raise Error("%s: line %d: labels must be consecutive" % (path, line_no))
            names.append(chr(code))
    if not names:
        raise Error("%s: EMNIST mapping file has no entries" % path)
    return first, names


def load_data(a):
    """Returns dict(train_x, train_y, val_x, val_y, test_x, test_y, classes, description, name)."""
    d = a.data_dir
    if a.dataset == "mnist":
        mdir = os.path.join(d, "mnist")
        tx, ty = load_mnist_part(mdir, "train")
        sx, sy = load_mnist_part(mdir, "t10k")
        classes = list(DIGITS)
        name = "mnist"
        desc = "MNIST, official split (60,000 train / 10,000 test) from " + mdir
    else:
        edir = os.path.join(d, "emnist")
        stem = os.path.join(edir, "emnist-byclass-test-")
        images = find_idx(edir, "emnist-byclass-test-images-idx3-ubyte")
        labels = find_idx(edir, "emnist-byclass-test-labels-idx1-ubyte")
        if not images or not labels:
            raise Error("EMNIST ByClass test files not found: %simages-idx3-ubyte.gz / %slabels-idx1-ubyte.gz"
                        % (stem, stem))
        first, names = read_emnist_mapping(os.path.join(edir, "emnist-byclass-mapping.txt"))
        x, y = load_idx_pair(images, labels, first + len(names))
        if int(y.min()) < first:
            raise Error("%s: label %d is not in the mapping (labels start at %d)" % (labels, int(y.min()), first))
        y = y - first
        if "".join(names) != BYCLASS:
            raise Error("%s: ByClass classes are not 0-9, A-Z, a-z in order" % edir)
        x = x.transpose(1, 2).contiguous()  # EMNIST stores characters transposed
        if x.shape[0] <= EMNIST_TRAIN_END:
            raise Error("%s: the ByClass test file has only %d images; the reference protocol needs 116,323"
                        % (edir, x.shape[0]))
        table = torch.tensor(byclass_to(a.emnist_set), dtype=torch.long)

        def remap(xs, ys):
            new = table[ys]
            keep = new >= 0
            return xs[keep], new[keep]

        tx, ty = remap(x[:EMNIST_TRAIN_END], y[:EMNIST_TRAIN_END])
        sx, sy = remap(x[EMNIST_TRAIN_END:], y[EMNIST_TRAIN_END:])
        classes = list(label_set_chars(a.emnist_set))
        name = "emnist-" + a.emnist_set
        desc = ("EMNIST %s (%d classes), reference protocol on the ByClass test file: images 0..92,999 train, "
                "93,000..116,322 test, from %s" % (a.emnist_set, len(classes), edir))
    if a.train_limit > 0:
        tx, ty = tx[:a.train_limit], ty[:a.train_limit]
    if a.test_limit > 0:
        sx, sy = sx[:a.test_limit], sy[:a.test_limit]
    desc += "; using {:,} train / {:,} test images".format(tx.shape[0], sx.shape[0])
    # split_validation: indices k-1, 2k-1, ... are held out.
    k = a.val_split
    if k > 0:
        held = torch.arange(tx.shape[0]) % k == k - 1
        vx, vy = tx[held], ty[held]
        tx, ty = tx[~held], ty[~held]
    else:
        vx, vy = tx[:0], ty[:0]
    return {"train_x": tx, "train_y": ty, "val_x": vx, "val_y": vy, "test_x": sx, "test_y": sy,
            "classes": classes, "description": desc, "name": name}


def merged_table(device):
    """ByClass label -> merged (47-class) label, for --score-merged."""
    return torch.tensor(byclass_to("merged"), dtype=torch.long, device=device)


# ----------------------------------------------------------------------------------------------------
# Augmentation (data/augment.cpp), vectorised over a batch

MAX_ROTATION_DEG, MIN_SCALE, MAX_SCALE, MAX_SHIFT, MAX_SHEAR = 10.0, 0.9, 1.1, 2.0, 0.2
MAX_STROKE_CHANGE = 0.5  # shift-stroke (data/augment.cpp, shift_and_stroke)
ELASTIC_ALPHA, ELASTIC_SIGMA = 34.0, 4.0


def draw_params(n, gen, device):
    """angle (rad), scale, shear, tx, ty: uniform in Quill's ranges."""
    u = torch.rand(5, n, generator=gen, device=device, dtype=torch.float64)
    lo = torch.tensor([-MAX_ROTATION_DEG, MIN_SCALE, -MAX_SHEAR, -MAX_SHIFT, -MAX_SHIFT],
                      dtype=torch.float64, device=device)[:, None]
    hi = torch.tensor([MAX_ROTATION_DEG, MAX_SCALE, MAX_SHEAR, MAX_SHIFT, MAX_SHIFT],
                      dtype=torch.float64, device=device)[:, None]
    p = lo + (hi - lo) * u
    p[0] = p[0] * (math.pi / 180.0)
    return p


def shift_only(params):
    """--augment shift (data/augment.cpp, shift_only): the same five draws, then no rotation, scale or
    shear, and the shifts stretched from [-2, 2] to [-2.5, 2.5) and rounded half away from zero like
    std::round, so each whole-pixel offset -2..2 is equally likely and nothing is resampled."""
    p = params.clone()
    p[0], p[1], p[2] = 0.0, 1.0, 0.0
    t = p[3:5] * ((MAX_SHIFT + 0.5) / MAX_SHIFT)
    p[3:5] = torch.clamp(torch.sign(t) * torch.floor(t.abs() + 0.5), -MAX_SHIFT, MAX_SHIFT)
    return p


def change_stroke_width(x, a):
    """data/augment.cpp's change_stroke_width over a batch: x [n, rows, cols] whole grey levels 0..255
    (float), a [n]: each pixel moves |a| of the way to the largest (a > 0) or smallest (a < 0) value of
    itself and its 4 neighbours (0 outside the image), in float32, rounded like Quill's uint8 store."""
    x = x.float()
    p = F.pad(x, (1, 1, 1, 1))
    near = torch.stack([x, p[:, :-2, 1:-1], p[:, 2:, 1:-1], p[:, 1:-1, :-2], p[:, 1:-1, 2:]])
    a = a.float().view(-1, 1, 1)
    extreme = torch.where(a > 0, near.amax(0), near.amin(0))
    return torch.floor(torch.clamp(x + a.abs() * (extreme - x) + 0.5, 0.0, 255.0))


def draw_stroke_changes(n, gen, device):
    """shift-stroke's a per image, uniform in [-MAX_STROKE_CHANGE, MAX_STROKE_CHANGE]."""
    u = torch.rand(n, generator=gen, device=device, dtype=torch.float64)
    return (-MAX_STROKE_CHANGE + 2 * MAX_STROKE_CHANGE * u).float()


def gaussian_kernel(sigma, device):
    radius = max(1, int(math.ceil(3.0 * sigma)))
    k = torch.arange(-radius, radius + 1, dtype=torch.float32, device=device)
    w = torch.exp(-0.5 * k * k / (sigma * sigma))
    return w / w.sum(), radius


def elastic_fields(n, rows, cols, gen, device, sigma=ELASTIC_SIGMA, alpha=ELASTIC_ALPHA, raw=None):
    """[n, 2, rows, cols]: (dx, dy) displacement fields: uniform [-1, 1) per pixel, separable Gaussian blur
    with zero outside the image (first along x, then along y), times alpha."""
    if raw is None:
        raw = torch.rand(n, 2, rows, cols, generator=gen, device=device) * 2.0 - 1.0
    w, r = gaussian_kernel(sigma, device)
    f = raw.reshape(n * 2, 1, rows, cols)
    f = F.conv2d(f, w.view(1, 1, 1, -1), padding=(0, r))
    f = F.conv2d(f, w.view(1, 1, -1, 1), padding=(r, 0))
    return f.view(n, 2, rows, cols) * alpha


def augment_batch(x, params, fields=None):
    """x: [n, rows, cols] pixel values 0..255 (any dtype) -> augmented float pixels 0..255, rounded to
    integers as Quill's uint8 output. params: [5, n] (angle rad, scale, shear, tx, ty); fields: optional
    [n, 2, rows, cols] elastic displacements in pixels.

    Quill maps each destination pixel (x, y) to the source point M^-1 ((x, y) - c - t) + c (+ elastic),
    M = rotation * shear * scale, c = ((cols-1)/2, (rows-1)/2), and samples it bilinearly with 0 outside.
    Pixel i sits at coordinate i, so grid_sample runs with align_corners=True (-1 and +1 are the centres
    of the first and last pixels). The grid is built directly (as F.affine_grid would with
    align_corners=True) so the per-pixel elastic field and non-square images fit in the same resampling."""
    n, rows, cols = x.shape
    dev = x.device
    angle, scale, shear, tx, ty = params
    cs, sn = torch.cos(angle), torch.sin(angle)
    m00, m01 = scale * cs, scale * (cs * shear - sn)
    m10, m11 = scale * sn, scale * (sn * shear + cs)
    det = m00 * m11 - m01 * m10
    i00, i01, i10, i11 = m11 / det, -m01 / det, -m10 / det, m00 / det
    cx, cy = (cols - 1) * 0.5, (rows - 1) * 0.5
    ys = torch.arange(rows, dtype=torch.float64, device=dev).view(1, rows, 1)
    xs = torch.arange(cols, dtype=torch.float64, device=dev).view(1, 1, cols)
    ux = xs - cx - tx.view(n, 1, 1)
    uy = ys - cy - ty.view(n, 1, 1)
    sx = (i00.view(n, 1, 1) * ux + i01.view(n, 1, 1) * uy + cx).float()
    sy = (i10.view(n, 1, 1) * ux + i11.view(n, 1, 1) * uy + cy).float()
    if fields is not None:
        sx = sx + fields[:, 0]
        sy = sy + fields[:, 1]
    gx = sx * (2.0 / max(cols - 1, 1)) - 1.0
    gy = sy * (2.0 / max(rows - 1, 1)) - 1.0
    grid = torch.stack([gx, gy], dim=-1)
    out = F.grid_sample(x.float().unsqueeze(1), grid, mode="bilinear", padding_mode="zeros", align_corners=True)
    return torch.floor(torch.clamp(out.squeeze(1) + 0.5, 0.0, 255.0))


# ----------------------------------------------------------------------------------------------------
# Quill's random numbers (runtime/rng.h), for --quill-rng: with them a run draws the same initial weights,
# sample order, augmentation and dropout masks as `quill train --seed S`, so the two follow each other
# step by step (up to floating-point rounding), not just in distribution.

M32 = 0xFFFFFFFF


def _u64(x):
    return np.asarray(x, dtype=np.uint64)


def philox4x32(c0, c1, c2, c3, k0, k1):
    """Philox4x32-10 on arrays of 32-bit values held in uint64."""
    c0, c1, c2, c3 = _u64(c0), _u64(c1), _u64(c2), _u64(c3)
    k0, k1 = _u64(k0), _u64(k1)
    m32 = np.uint64(M32)
    for _ in range(10):
        p0 = np.uint64(0xD2511F53) * c0
        p1 = np.uint64(0xCD9E8D57) * c2
        hi0, lo0 = p0 >> np.uint64(32), p0 & m32
        hi1, lo1 = p1 >> np.uint64(32), p1 & m32
        c0, c1, c2, c3 = hi1 ^ c1 ^ k0, lo1, hi0 ^ c3 ^ k1, lo0
        k0 = (k0 + np.uint64(0x9E3779B9)) & m32
        k1 = (k1 + np.uint64(0xBB67AE85)) & m32
    return c0, c1, c2, c3


def random_block(seed, stream, index):
    seed, stream, index = _u64(seed), _u64(stream), _u64(index)
    m32, s32 = np.uint64(M32), np.uint64(32)
    return np.stack(np.broadcast_arrays(*philox4x32(index & m32, index >> s32, stream & m32, stream >> s32,
                                                    seed & m32, seed >> s32)), axis=-1)


def qrng_words(seed, stream, first, count):
    """Words first..first+count-1 of Rng(seed, stream)'s sequence (next_u32); stream may be an array [n]
    (then [n, count])."""
    stream = _u64(stream)
    b0, b1 = first // 4, (first + count + 3) // 4
    blocks = np.arange(b0, b1, dtype=np.uint64)
    w = random_block(seed, stream[..., None], blocks)  # [..., blocks, 4]
    w = w.reshape(w.shape[:-2] + (-1,))
    return w[..., first - 4 * b0:first - 4 * b0 + count]


def qrng_uniform01(seed, stream, i):
    """random_uniform: float32 from 24 bits of word i."""
    i = _u64(i)
    bits = np.take_along_axis(random_block(seed, stream, i >> np.uint64(2)),
                              (i & np.uint64(3)).astype(np.int64)[..., None], -1)[..., 0]
    return (bits >> np.uint64(8)).astype(np.float32) * np.float32(1.0 / 16777216.0)


def qrng_normal(seed, stream, i):
    """random_normal: Box-Muller on one Philox block (float64)."""
    i = _u64(i)
    b = random_block(seed, stream, i >> np.uint64(1))
    half = (i & np.uint64(1)).astype(np.int64)
    a0 = np.take_along_axis(b, (2 * half)[..., None], -1)[..., 0].astype(np.float64)
    a1 = np.take_along_axis(b, (2 * half + 1)[..., None], -1)[..., 0].astype(np.float64)
    u1 = (a0 + 1.0) * (1.0 / 4294967296.0)
    u2 = a1 * (1.0 / 4294967296.0)
    return np.sqrt(-2.0 * np.log(u1)) * np.cos(6.283185307179586 * u2)


def qrng_epoch_order(n, seed, epoch):
    """BatchLoader::epoch_order: Fisher-Yates with Rng(seed, epoch).below(i + 1)."""
    order = list(range(n))
    words = qrng_words(seed, epoch, 0, n + 64).tolist()
    at = 0
    for i in range(n - 1, 0, -1):
        m = i + 1
        limit = (1 << 32) - ((1 << 32) % m)
        while True:
            if at >= len(words):
                words += qrng_words(seed, epoch, len(words), 4096).tolist()
            x = words[at]
            at += 1
            if x < limit:
                break
        j = x % m
        order[i], order[j] = order[j], order[i]
    return order


def _splitmix64(x):
    x = (x + np.uint64(0x9E3779B97F4A7C15))
    x = (x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    x = (x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return x ^ (x >> np.uint64(31))


def augment_streams(epoch, samples):
    with np.errstate(over="ignore"):
        h = _splitmix64(_splitmix64(np.full(len(samples), epoch, dtype=np.uint64)) ^ _u64(samples))
    return h | np.uint64(1 << 63)


def qrng_augment(seed, epoch, samples, rows, cols, elastic):
    """augment_image's draws for each sample: params [5, n] (angle rad, scale, shear, tx, ty) and, for
    elastic, the raw uniform fields [n, 2, rows, cols] (before blurring)."""
    streams = augment_streams(epoch, samples)
    w = qrng_words(seed, streams, 0, 10).astype(np.float64)  # five Rng::uniform(), two words each
    u = (np.floor(w[:, 0::2] / 32) * 67108864.0 + np.floor(w[:, 1::2] / 64)) * (1.0 / 9007199254740992.0)
    f32 = lambda v: float(np.float32(v))  # AugmentConfig holds floats
    lo = np.array([-f32(MAX_ROTATION_DEG), f32(MIN_SCALE), -f32(MAX_SHEAR), -f32(MAX_SHIFT), -f32(MAX_SHIFT)])
    hi = np.array([f32(MAX_ROTATION_DEG), f32(MAX_SCALE), f32(MAX_SHEAR), f32(MAX_SHIFT), f32(MAX_SHIFT)])
    p = (lo + (hi - lo) * u).T.copy()
    p[0] *= 3.14159265358979323846 / 180.0
    fields = None
    if elastic:
        n = rows * cols
        first = 1 << 40  # kFieldBlocks
        nb = (n + 3) // 4
        def field(block0):
            b = random_block(seed, streams[:, None], np.arange(block0, block0 + nb, dtype=np.uint64))
            bits = b.reshape(len(samples), -1)[:, :n]
            return (bits >> np.uint64(8)).astype(np.float32) * np.float32(2.0 / 16777216.0) - np.float32(1.0)
        fields = np.stack([field(first), field(first + nb)], 1).reshape(len(samples), 2, rows, cols)
    return torch.from_numpy(p), (torch.from_numpy(fields) if fields is not None else None)


def qrng_stroke_changes(seed, epoch, samples):
    """shift-stroke's a per sample: augment_image's sixth Rng::uniform (words 10 and 11), as float."""
    w = qrng_words(seed, augment_streams(epoch, samples), 10, 2).astype(np.float64)
    u = (np.floor(w[:, 0] / 32) * 67108864.0 + np.floor(w[:, 1] / 64)) * (1.0 / 9007199254740992.0)
    lo, hi = -float(np.float32(MAX_STROKE_CHANGE)), float(np.float32(MAX_STROKE_CHANGE))
    return torch.from_numpy((lo + (hi - lo) * u).astype(np.float32))


DROPOUT_SEED_MIX = 0x9E3779B97F4A7C15


class QuillDropout(nn.Module):
    """Inverted dropout with Quill's masks: element e of node `node` at step t keeps when
    uniform01(Philox(seed ^ mix, (t << 16) ^ node, e)) >= p (kernels/cpu/elementwise.cpp)."""

    def __init__(self, p, node, state):
        super().__init__()
        self.p, self.node, self.state = p, node, state

    def forward(self, x):
        if not self.training or self.p == 0:
            return x
        seed = (self.state["seed"] ^ DROPOUT_SEED_MIX) & 0xFFFFFFFFFFFFFFFF
        stream = ((self.state["step"] << 16) ^ self.node) & 0xFFFFFFFFFFFFFFFF
        u = qrng_uniform01(seed, stream, np.arange(x.numel(), dtype=np.uint64))
        keep = torch.from_numpy(u >= self.p).to(x.device).view_as(x)
        return torch.where(keep, x * (1.0 / (1.0 - self.p)), torch.zeros((), dtype=x.dtype, device=x.device))


# ----------------------------------------------------------------------------------------------------
# Options: `quill train`'s, handed to it as given; what they resolve to comes back in the plan.

class Parser(argparse.ArgumentParser):
    def error(self, message):  # one line, not argparse's usage + message
        raise Error(message + " (see --help)")


def make_parser():
    p = Parser(prog=PROG, description=__doc__.split("\n\nWhat is matched")[0],
               formatter_class=argparse.RawDescriptionHelpFormatter, allow_abbrev=False)
    q = p.add_argument_group("quill train's options", "handed to `quill train --plan`, which checks them and "
                             "applies the recipe and its own defaults (quill train --help)")
    q.add_argument("--recipe", help="training recipe whose settings are the defaults: a file of `option value` "
                   "lines, a built-in name (models/recipes/), or none (default: the dataset's built-in recipe, "
                   "where there is one, as quill train)")
    q.add_argument("--dataset", default="mnist", choices=["mnist", "emnist"])
    q.add_argument("--data-dir", default="", help="data folder (default: $QUILL_DATA, else ../shared/data "
                   "beside the checkout, else ./data-cache)")
    q.add_argument("--emnist-set", choices=["byclass", "merged", "bymerge", "balanced", "letters", "digits"])
    q.add_argument("--train-limit", help="use only the first N training images (0: all)")
    q.add_argument("--test-limit", help="use only the first N test images (0: all)")
    q.add_argument("--val-split", help="hold out every K-th training image (0: none; quill's default 12)")
    q.add_argument("--model", help="model description file or built-in name (cnn, small; default cnn)")
    q.add_argument("--epochs")
    q.add_argument("--batch")
    q.add_argument("--optimizer", help="sgd, adam or adamw (default adamw)")
    q.add_argument("--lr", help="peak for onecycle (default: quill's, per optimizer)")
    q.add_argument("--weight-decay", help="default: quill's, per optimizer")
    q.add_argument("--schedule", help="constant, step, cosine or onecycle (default onecycle)")
    q.add_argument("--label-smoothing")
    q.add_argument("--augment", help="none, shift, shift-stroke, affine or elastic (default none)")
    q.add_argument("--seed")
    p.add_argument("--quill", help="the quill program that prints the plan (default: $QUILL_BIN, else "
                   "build/apps/quill or build-cpu/apps/quill)")
    p.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    p.add_argument("--threads", type=int, default=0, help="CPU threads (0: PyTorch's default)")
    p.add_argument("--tf32", action="store_true", help="allow TF32 on the GPU (default: full FP32, like Quill)")
    p.add_argument("--eval-batch", type=int, help="evaluation batch size (default: Quill's, 256)")
    p.add_argument("--quill-rng", action="store_true",
                   help="draw initial weights, sample order, augmentation and dropout masks from Quill's own "
                   "Philox streams (needs numpy), so the run follows `quill train --seed S` step by step")
    p.add_argument("--score-merged", action="store_true",
                   help="for an EMNIST byclass model, also score with both prediction and label mapped to the "
                   "47 merged classes")
    p.add_argument("--json", help="write args, the plan, history and results here")
    p.add_argument("--dry-run", action="store_true", help="get the plan, load the data, build the model, stop")
    p.add_argument("--eval-quill", metavar="MODEL.quill",
                   help="no training: load a model file written by `quill train` into the torch network and "
                   "evaluate it on its own test split (checks that both networks compute the same function)")
    p.add_argument("--self-test", action="store_true", help="check the augmentation, optimizers and random "
                   "streams against Quill's formulas, and the network and schedules against `quill train --plan` "
                   "(skipped without the quill program or MNIST)")
    return p


def resolve_data_dir(option):
    if option:
        return option
    env = os.environ.get("QUILL_DATA")
    if env:
        return env
    beside = os.path.join(os.path.dirname(REPO), "shared", "data")
    if os.path.isdir(beside):
        return beside
    return "data-cache"


def parse_args(argv):
    a = make_parser().parse_args(argv)
    if a.threads < 0:
        raise Error("--threads must be a number >= 0")
    if a.eval_batch is not None and a.eval_batch < 1:
        raise Error("--eval-batch must be a positive number")
    if a.quill_rng and np is None:
        raise Error("--quill-rng needs numpy, which %s lacks" % sys.executable)
    a.data_dir = resolve_data_dir(a.data_dir)
    return a


def apply_plan(a, plan):
    """Sets the run's values from the plan: what Quill resolved, not what was typed."""
    d, t = plan["data"], plan["training"]
    if d["dataset"] not in ("mnist", "emnist"):
        raise Error("quill resolved the dataset to '%s'; this script reads mnist and emnist" % d["dataset"])
    a.dataset = d["dataset"]
    a.emnist_set = "merged" if d["emnist_set"] in ("bymerge", "balanced") else d["emnist_set"]
    a.train_limit, a.test_limit, a.val_split = d["train_limit"], d["test_limit"], d["val_split"]
    a.epochs, a.batch, a.seed = t["epochs"], t["batch_size"], t["seed"]
    a.optimizer, a.schedule = t["optimizer"]["kind"], t["schedule"]["kind"]
    a.lr, a.weight_decay = t["schedule"]["lr"], t["optimizer"]["weight_decay"]
    a.label_smoothing, a.augment = t["label_smoothing"], t["augment"]
    if a.eval_batch is None:
        a.eval_batch = t["eval_batch_size"]
    if a.score_merged and not (a.dataset == "emnist" and a.emnist_set == "byclass"):
        raise Error("--score-merged needs --dataset emnist --emnist-set byclass (a 62-class model)")


def recipe_note(recipe):
    if not recipe:
        return None
    line = "recipe: %s (%s)" % (recipe["path"], ", ".join("%s %s" % kv for kv in recipe["settings"].items()))
    if recipe["overridden_by_command_line"]:
        line += "; from the command line: " + ", ".join(recipe["overridden_by_command_line"])
    return line


# ----------------------------------------------------------------------------------------------------
# Training and evaluation

def pick_device(a):
    if a.device == "cuda" or (a.device == "auto" and torch.cuda.is_available()):
        if not torch.cuda.is_available():
            raise Error("--device cuda: no CUDA device is available to PyTorch %s" % torch.__version__)
        return torch.device("cuda")
    return torch.device("cpu")


def device_name(dev):
    if dev.type == "cuda":
        return torch.cuda.get_device_name(dev)
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "cpu"


def to_input(xb):
    """uint8-valued pixels -> float pixel / 255, [n, 1, rows, cols] (data/loader.cpp)."""
    return (xb.float() / 255.0).unsqueeze(1)


def evaluate(model, x, y, batch, merged=None):
    """Loss (no smoothing), accuracy, count; and merged accuracy when `merged` maps labels."""
    model.eval()
    loss_sum = torch.zeros((), dtype=torch.float64, device=x.device)
    correct = torch.zeros((), dtype=torch.long, device=x.device)
    merged_correct = torch.zeros((), dtype=torch.long, device=x.device)
    merged_loss = torch.zeros((), dtype=torch.float64, device=x.device)
    n = x.shape[0]
    with torch.no_grad():
        for i in range(0, n, batch):
            xb, yb = x[i:i + batch], y[i:i + batch]
            logits = model(to_input(xb))
            loss_sum += F.cross_entropy(logits, yb, reduction="sum").double()
            pred = logits.argmax(1)
            correct += (pred == yb).sum()
            if merged is not None:  # engine/evaluate.cpp's fold: arg-max then fold; loss on summed probabilities
                merged_correct += (merged[pred] == merged[yb]).sum()
                probs = torch.softmax(logits.double(), 1)
                folded = torch.zeros(probs.shape[0], int(merged.max()) + 1, dtype=probs.dtype, device=probs.device)
                folded.index_add_(1, merged, probs)
                merged_loss -= torch.log(folded.gather(1, merged[yb].unsqueeze(1))).sum()
    model.train()
    if n == 0:
        return {"loss": float("nan"), "accuracy": float("nan"), "correct": 0, "count": 0}
    r = {"loss": float(loss_sum) / n, "accuracy": int(correct) / n, "correct": int(correct), "count": n}
    if merged is not None:
        r["merged_accuracy"] = int(merged_correct) / n
        r["merged_correct"] = int(merged_correct)
        r["merged_loss"] = float(merged_loss) / n
    return r


def note(msg):
    sys.stderr.write(msg + "\n")
    sys.stderr.flush()


def run(a, argv):
    if a.threads > 0:
        torch.set_num_threads(a.threads)
        try:
            torch.set_num_interop_threads(a.threads)
        except RuntimeError:
            pass
    dev = pick_device(a)
    if dev.type == "cuda":
        torch.backends.cudnn.benchmark = True
        torch.backends.cuda.matmul.allow_tf32 = a.tf32
        torch.backends.cudnn.allow_tf32 = a.tf32

    # Quill's plan first: its errors (a bad option, recipe or model) come before the data are read here.
    quill = find_quill(a.quill)
    plan = quill_plan(quill, plan_options(a))
    apply_plan(a, plan)
    pd, pt, network = plan["data"], plan["training"], plan["network"]
    classes = len(pd["class_names"])

    rng_state = {"seed": a.seed, "step": 0}  # read by QuillDropout (--quill-rng)
    dropout = (lambda p, node: QuillDropout(p, node, rng_state)) if a.quill_rng else None
    torch.manual_seed(a.seed)
    model, init = build_model(network, dropout)
    init_like_quill(model, init, a.seed if a.quill_rng else None)
    if network["output_shape"] != [classes]:
        raise Error("the model's output has shape %s but the dataset has %d classes" % (network["output_shape"], classes))

    data = load_data(a)
    note("dataset: " + data["description"])
    if plan["recipe"]:
        note(recipe_note(plan["recipe"]))
    if data["classes"] != pd["class_names"]:
        raise Error("the classes read here (%s) differ from Quill's (%s)"
                    % ("".join(data["classes"]), "".join(pd["class_names"])))
    ntrain, nval, ntest = data["train_x"].shape[0], data["val_x"].shape[0], data["test_x"].shape[0]
    if (ntrain, nval, ntest) != (pd["train_images"], pd["validation_images"], pd["test_images"]):
        raise Error("the split read here ({:,} train / {:,} validation / {:,} test) differs from Quill's "
                    "({:,} / {:,} / {:,})".format(ntrain, nval, ntest, pd["train_images"], pd["validation_images"],
                                                  pd["test_images"]))
    if nval > 0:
        note("validation: 1 in {} training images held out ({:,}), training on {:,}".format(a.val_split, nval, ntrain))
    rows, cols = data["train_x"].shape[1], data["train_x"].shape[2]
    if [1, rows, cols] != network["input_shape"]:
        raise Error("the images are %dx%d, Quill built the network for %s" % (rows, cols, network["input_shape"]))
    torch_params = sum(p.numel() for p in model.parameters())
    model.to(dev)
    note("model: {} ({:,} parameters; Quill's count {:,}) on {} ({}{})".format(
        plan["model_source"], torch_params, network["parameters"], dev.type, device_name(dev),
        ", %d threads" % torch.get_num_threads() if dev.type == "cpu" else ", tf32 " + ("on" if a.tf32 else "off")))

    batches, total_steps = pt["batches_per_epoch"], pt["total_steps"]
    lrs = plan["learning_rates"]
    if batches != (ntrain + a.batch - 1) // a.batch or total_steps != a.epochs * batches or len(lrs) != total_steps:
        raise Error("the plan's %d steps of %d batches do not fit %d epochs of %d images in batches of %d"
                    % (total_steps, batches, a.epochs, ntrain, a.batch))
    opt_cfg = pt["optimizer"]
    plan_line = "training: %d epoch(s) of %d batches of %d, %s, %s schedule, lr %g, weight decay %g" % (
        a.epochs, batches, a.batch, a.optimizer, a.schedule, a.lr, a.weight_decay)
    if a.augment != "none":
        plan_line += ", %s augmentation" % a.augment
    if a.label_smoothing > 0:
        plan_line += ", label smoothing %g" % a.label_smoothing
    if a.quill_rng:
        plan_line += "; initialisation, order, augmentation and dropout from Quill's random streams"
    note(plan_line)

    result = {
        "tool": "bench/torch_accuracy.py",
        "command_line": " ".join([sys.argv[0]] + list(argv)),
        "args": {k: v for k, v in vars(a).items()},
        "recipe": plan["recipe"],
        "quill": os.path.abspath(quill),
        "torch_version": torch.__version__,
        "python_version": platform.python_version(),
        "device": dev.type,
        "device_name": device_name(dev),
        "threads": torch.get_num_threads(),
        "tf32": bool(a.tf32) if dev.type == "cuda" else None,
        "dataset": {"name": data["name"], "description": data["description"], "classes": classes,
                    "train_images": ntrain, "validation_images": nval, "test_images": ntest,
                    "data_dir": os.path.abspath(a.data_dir)},
        "model": {"source": plan["model_source"], "description": plan["model_description"],
                  "parameters": torch_params, "quill_parameters": network["parameters"]},
        "training": {"epochs": a.epochs, "batch": a.batch, "batches_per_epoch": batches,
                     "total_steps": total_steps, "optimizer": a.optimizer, "lr": a.lr,
                     "weight_decay": a.weight_decay, "betas": [opt_cfg["beta1"], opt_cfg["beta2"]],
                     "eps": opt_cfg["eps"], "momentum": opt_cfg["momentum"] if a.optimizer == "sgd" else None,
                     "schedule": a.schedule,
                     "step_size": pt["schedule"]["step_size"] if a.schedule == "step" else None,
                     "label_smoothing": a.label_smoothing, "augment": a.augment, "seed": a.seed,
                     "quill_rng": bool(a.quill_rng)},
        "quill_plan": {k: v for k, v in plan.items() if k != "learning_rates"},
    }
    if a.dry_run:
        if a.json:
            write_json(a.json, result)
        return 0

    # Data resident on the device, as uint8 pixels.
    tx, ty = data["train_x"].to(dev), data["train_y"].to(dev)
    vx, vy = data["val_x"].to(dev), data["val_y"].to(dev)
    sx, sy = data["test_x"].to(dev), data["test_y"].to(dev)

    params = list(model.parameters())
    betas, eps = (opt_cfg["beta1"], opt_cfg["beta2"]), opt_cfg["eps"]
    if a.optimizer == "adamw":
        opt = torch.optim.AdamW(params, lr=a.lr, betas=betas, eps=eps, weight_decay=a.weight_decay)
    elif a.optimizer == "adam":
        opt = torch.optim.Adam(params, lr=a.lr, betas=betas, eps=eps, weight_decay=a.weight_decay)
    elif a.optimizer == "sgd":
        opt = torch.optim.SGD(params, lr=a.lr, momentum=opt_cfg["momentum"], nesterov=opt_cfg["nesterov"],
                              weight_decay=a.weight_decay)
    else:
        raise Error("optimizer '%s' is not supported" % a.optimizer)
    criterion = nn.CrossEntropyLoss(label_smoothing=a.label_smoothing)
    gen = torch.Generator(device=dev)  # order and augmentation; a stream apart from initialisation's
    gen.manual_seed((a.seed ^ 0x5DEECE66D2B7E151) & 0x7FFFFFFFFFFFFFFF)

    history = []
    step = 0
    train_seconds = 0.0
    model.train()
    for epoch in range(a.epochs):
        if dev.type == "cuda":
            torch.cuda.synchronize()
        t0 = time.perf_counter()
        if a.quill_rng:
            order = torch.tensor(qrng_epoch_order(ntrain, a.seed, epoch), dtype=torch.long, device=dev)
        else:
            order = torch.randperm(ntrain, generator=gen, device=dev)
        loss_sum = torch.zeros((), dtype=torch.float64, device=dev)
        correct = torch.zeros((), dtype=torch.long, device=dev)
        lr = lrs[step]
        for b in range(batches):
            idx = order[b * a.batch:(b + 1) * a.batch]
            xb, yb = tx[idx], ty[idx]
            if a.augment != "none":
                n = xb.shape[0]
                if a.quill_rng:  # Quill's draws for (seed, epoch, sample)
                    p, raw = qrng_augment(a.seed, epoch, idx.cpu().numpy(), rows, cols, a.augment == "elastic")
                    p = p.to(dev)
                    fields = elastic_fields(n, rows, cols, None, dev, raw=raw.to(dev)) if raw is not None else None
                else:
                    p = draw_params(n, gen, dev)
                    fields = elastic_fields(n, rows, cols, gen, dev) if a.augment == "elastic" else None
                if a.augment in ("shift", "shift-stroke"):
                    p = shift_only(p)
                xb = augment_batch(xb, p, fields)
                if a.augment == "shift-stroke":
                    strokes = (qrng_stroke_changes(a.seed, epoch, idx.cpu().numpy()).to(dev) if a.quill_rng
                               else draw_stroke_changes(n, gen, dev))
                    xb = change_stroke_width(xb, strokes)
            rng_state["step"] = step
            lr = lrs[step]  # Quill's schedule, step by step (the plan's learning_rates)
            for g in opt.param_groups:
                g["lr"] = lr
            logits = model(to_input(xb))
            loss = criterion(logits, yb)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            with torch.no_grad():
                loss_sum += loss.detach().double() * yb.shape[0]
                correct += (logits.argmax(1) == yb).sum()
            step += 1
        if dev.type == "cuda":
            torch.cuda.synchronize()
        seconds = time.perf_counter() - t0
        train_seconds += seconds
        ev = evaluate(model, vx, vy, a.eval_batch)
        rec = {"epoch": epoch + 1, "train_loss": float(loss_sum) / ntrain, "train_accuracy": int(correct) / ntrain,
               "val_loss": ev["loss"], "val_accuracy": ev["accuracy"], "learning_rate": lr, "seconds": seconds,
               "images_per_second": ntrain / seconds if seconds > 0 else 0.0}
        history.append(rec)
        line = "epoch %d/%d  train loss %.4f acc %.2f%%" % (rec["epoch"], a.epochs, rec["train_loss"],
                                                          100 * rec["train_accuracy"])
        if nval > 0:
            line += "  val loss %.4f acc %.2f%%" % (rec["val_loss"], 100 * rec["val_accuracy"])
        line += "  lr %.3g  %.1f s  %.0f img/s" % (lr, seconds, rec["images_per_second"])
        note(line)

    merged = merged_table(dev) if a.score_merged else None
    test = evaluate(model, sx, sy, a.eval_batch, merged)
    result.update({"history": history, "train_seconds": train_seconds, "test_accuracy": test["accuracy"],
                   "test_loss": test["loss"], "test_correct": test["correct"], "test_images": test["count"],
                   "validation_accuracy": history[-1]["val_accuracy"] if nval > 0 else None})
    summary = "test accuracy: %.2f%% (%s / %s %s test images), loss %.4f" % (
        100 * test["accuracy"], "{:,}".format(test["correct"]), "{:,}".format(test["count"]), data["name"],
        test["loss"])
    if merged is not None:
        result["merged_accuracy"] = test["merged_accuracy"]
        result["merged_correct"] = test["merged_correct"]
        result["merged_loss"] = test["merged_loss"]
        summary += "; merged (47 classes) %.2f%%" % (100 * test["merged_accuracy"])
    summary += ", trained in %.1f s (PyTorch %s, %s)" % (train_seconds, torch.__version__, dev.type)
    print(summary, flush=True)
    if a.json:
        write_json(a.json, result)
    return 0


def read_quill_model(path):
    """The sections of a .quill file (engine/model_file.h): description, classes, flat weights, buffers,
    metadata. Little-endian; tensors are u8 dtype, u8 rank, i64 dims, raw data."""
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError as e:
        raise Error("%s: cannot read: %s" % (path, e))
    if len(data) < 28 or data[:8] != b"QUILLMDL":
        raise Error("%s: not a Quill model file" % path)
    version, kind, length = struct.unpack("<IIQ", data[8:24])
    if version != 1:
        raise Error("%s: model format version %d (this script reads version 1)" % (path, version))
    pos, end = 24, 24 + length
    if end + 4 > len(data):
        raise Error("%s: truncated" % path)
    dtypes = {0: torch.float32, 1: torch.float64, 2: torch.int32}
    out = {"buffers": []}

    def tensor(buf, at):
        dt, rank = buf[at], buf[at + 1]
        at += 2
        dims = list(struct.unpack("<%dq" % rank, buf[at:at + 8 * rank]))
        at += 8 * rank
        count = 1
        for d in dims:
            count *= d
        size = count * torch.tensor([], dtype=dtypes[dt]).element_size()
        t = torch.frombuffer(bytearray(buf[at:at + size]), dtype=dtypes[dt]).view(dims) if count else \
            torch.zeros(dims, dtype=dtypes[dt])
        return t, at + size

    def string(buf, at):
        (n,) = struct.unpack("<Q", buf[at:at + 8])
        return buf[at + 8:at + 8 + n].decode(), at + 8 + n

    while pos < end:
        tag = data[pos:pos + 4].decode("ascii", "replace")
        (n,) = struct.unpack("<Q", data[pos + 4:pos + 12])
        body = data[pos + 12:pos + 12 + n]
        pos += 12 + n
        if tag == "DESC":
            out["description"] = string(body, 0)[0]
        elif tag == "CLAS":
            (count,) = struct.unpack("<I", body[:4])
            at, names = 4, []
            for _ in range(count):
                s, at = string(body, at)
                names.append(s)
            out["classes"] = names
        elif tag == "WGHT":
            out["weights"] = tensor(body, 0)[0]
        elif tag == "BUFS":
            (count,) = struct.unpack("<I", body[:4])
            at = 4
            for _ in range(count):
                t, at = tensor(body, at)
                out["buffers"].append(t)
        elif tag == "META":
            out["metadata"] = json.loads(string(body, 0)[0])
    for need in ("description", "classes", "weights"):
        if need not in out:
            raise Error("%s: section %s is missing" % (path, need))
    return out


def eval_quill(a):
    """Loads a Quill model file into the torch network and evaluates it on the split it was trained for."""
    if a.threads > 0:
        torch.set_num_threads(a.threads)
    rec = read_quill_model(a.eval_quill)
    meta = rec.get("metadata", {})
    d = meta.get("data", {})
    if d.get("dataset") not in (None, "mnist", "emnist"):
        raise Error("%s was trained on '%s'; this script reads mnist and emnist" % (a.eval_quill, d.get("dataset")))
    a.dataset = d.get("dataset", a.dataset)
    quill_set = d.get("emnist_set", a.emnist_set or "byclass")
    a.emnist_set = "merged" if quill_set in ("bymerge", "balanced") else quill_set
    a.test_limit = d.get("test_limit", int(a.test_limit or 0))
    a.train_limit, a.val_split = 1, 0  # only the test split is used
    if a.eval_batch is None:
        a.eval_batch = 256
    # The network Quill builds from the file's own description, for its dataset's classes.
    with tempfile.NamedTemporaryFile("w", suffix=".txt", prefix="quill-description-") as f:
        f.write(rec["description"])
        f.flush()
        plan = quill_plan(find_quill(a.quill), ["--data-dir", a.data_dir, "--dataset", a.dataset, "--emnist-set",
                                                quill_set, "--test-limit", str(a.test_limit), "--train-limit", "1",
                                                "--val-split", "0", "--recipe", "none", "--model", f.name])
    dev = pick_device(a)
    data = load_data(a)
    if rec["classes"] != data["classes"] or rec["classes"] != plan["data"]["class_names"]:
        raise Error("%s has classes %s, the data %s"
                    % (a.eval_quill, "".join(rec["classes"]), "".join(data["classes"])))
    model, _ = build_model(plan["network"])
    quill_params = plan["network"]["parameters"]
    flat = rec["weights"].reshape(-1).float()
    if flat.numel() != quill_params:
        raise Error("%s holds %d weights, the description needs %d" % (a.eval_quill, flat.numel(), quill_params))
    with torch.no_grad():
        at = 0
        for p in model.parameters():  # Quill's order: node by node, w then b, gamma then beta
            p.copy_(flat[at:at + p.numel()].view_as(p))
            at += p.numel()
        bufs = [b for name, b in model.named_buffers() if not name.endswith("num_batches_tracked")]
        if len(bufs) != len(rec["buffers"]):
            raise Error("%s holds %d buffers, the model has %d" % (a.eval_quill, len(rec["buffers"]), len(bufs)))
        for b, q in zip(bufs, rec["buffers"]):
            b.copy_(q.reshape(b.shape).float())
    model.to(dev)
    if a.score_merged and rec["classes"] != list(BYCLASS):
        raise Error("--score-merged needs a 62-class EMNIST byclass model")
    merged = merged_table(dev) if a.score_merged else None
    test = evaluate(model, data["test_x"].to(dev), data["test_y"].to(dev), a.eval_batch, merged)
    line = "torch forward of %s: test accuracy %.2f%% (%s / %s), loss %.6f" % (
        a.eval_quill, 100 * test["accuracy"], "{:,}".format(test["correct"]), "{:,}".format(test["count"]),
        test["loss"])
    if "test_accuracy" in meta:
        line += "; Quill recorded %.2f%%, loss %.6f" % (100 * meta["test_accuracy"],
                                                         meta.get("test_loss", float("nan")))
    if merged is not None:
        line += "; merged %.2f%%" % (100 * test["merged_accuracy"])
    print(line, flush=True)
    if a.json:
        write_json(a.json, {"model_file": os.path.abspath(a.eval_quill), "torch_version": torch.__version__,
                            "test": test, "quill_test_accuracy": meta.get("test_accuracy"),
                            "quill_test_loss": meta.get("test_loss"), "parameters": quill_params})
    return 0


def finite_or_none(obj):
    """NaN and infinity become null: json.dump would write the bare NaN that strict parsers reject."""
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    if isinstance(obj, dict):
        return {k: finite_or_none(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [finite_or_none(v) for v in obj]
    return obj


def write_json(path, obj):
    tmp = path + ".tmp"
    try:
        with open(tmp, "w") as f:
            json.dump(finite_or_none(obj), f, indent=1, default=str, allow_nan=False)
            f.write("\n")
        os.replace(tmp, path)
    except OSError as e:
        raise Error("--json %s: %s" % (path, e))


# ----------------------------------------------------------------------------------------------------
# --self-test

def _quill_augment_reference(img, rows, cols, angle, scale, shear, tx, ty, dx=None, dy=None):
    """A literal, per-pixel transcription of data/augment.cpp's augment_image (fixed parameters)."""
    cs, sn = math.cos(angle), math.sin(angle)
    m00, m01 = scale * cs, scale * (cs * shear - sn)
    m10, m11 = scale * sn, scale * (sn * shear + cs)
    det = m00 * m11 - m01 * m10
    i00, i01, i10, i11 = m11 / det, -m01 / det, -m10 / det, m00 / det
    cx, cy = (cols - 1) * 0.5, (rows - 1) * 0.5

    def px(xi, yi):
        return 0.0 if (xi < 0 or yi < 0 or xi >= cols or yi >= rows) else float(img[yi][xi])

    out = [[0] * cols for _ in range(rows)]
    for y in range(rows):
        for x in range(cols):
            ux, uy = x - cx - tx, y - cy - ty
            sx = i00 * ux + i01 * uy + cx
            sy = i10 * ux + i11 * uy + cy
            if dx is not None:
                sx += dx[y][x]
                sy += dy[y][x]
            if not (sx > -1.0 and sy > -1.0 and sx < cols and sy < rows):
                v = 0.0
            else:
                fx, fy = math.floor(sx), math.floor(sy)
                x0, y0 = int(fx), int(fy)
                ax, ay = sx - fx, sy - fy
                p00, p01, p10, p11 = px(x0, y0), px(x0 + 1, y0), px(x0, y0 + 1), px(x0 + 1, y0 + 1)
                top = p00 + (p01 - p00) * ax
                bottom = p10 + (p11 - p10) * ax
                v = top + (bottom - top) * ay
            out[y][x] = int(min(max(v + 0.5, 0.0), 255.0))
    return out


def _quill_blur_reference(field, rows, cols, sigma):
    """data/augment.cpp's gaussian_blur, per element."""
    radius = max(1, int(math.ceil(3.0 * sigma)))
    kernel = [math.exp(-0.5 * k * k / (sigma * sigma)) for k in range(-radius, radius + 1)]
    s = sum(kernel)
    kernel = [w / s for w in kernel]
    tmp = [[sum(kernel[k + radius] * field[y][x + k] for k in range(-radius, radius + 1) if 0 <= x + k < cols)
            for x in range(cols)] for y in range(rows)]
    return [[sum(kernel[k + radius] * tmp[y + k][x] for k in range(-radius, radius + 1) if 0 <= y + k < rows)
             for x in range(cols)] for y in range(rows)]


def _quill_stroke_reference(img, rows, cols, a):
    """A literal, per-pixel transcription of data/augment.cpp's change_stroke_width (float32 arithmetic)."""
    f = np.float32
    at = lambda y, x: 0 if (x < 0 or y < 0 or x >= cols or y >= rows) else int(img[y][x])
    w = f(abs(a))
    out = [[0] * cols for _ in range(rows)]
    for y in range(rows):
        for x in range(cols):
            v, e = at(y, x), at(y, x)
            for n in (at(y - 1, x), at(y + 1, x), at(y, x - 1), at(y, x + 1)):
                e = max(e, n) if a > 0 else min(e, n)
            out[y][x] = int(min(max(f(v) + w * f(e - v) + f(0.5), f(0.0)), f(255.0)))
    return out


def self_test(quill_option=None):
    failures = []

    def check(cond, what):
        print(("ok    " if cond else "FAIL  ") + what)
        if not cond:
            failures.append(what)

    def close(a, b, tol=1e-12):
        return abs(a - b) <= tol * max(1.0, abs(b))

    # Augmentation: zero parameters keep a centred blob exactly in place.
    rows = cols = 28
    yy = torch.arange(rows, dtype=torch.float32).view(rows, 1)
    xx = torch.arange(cols, dtype=torch.float32).view(1, cols)
    blob = torch.round(255 * torch.exp(-((xx - 13.5) ** 2 + (yy - 13.5) ** 2) / (2 * 3.0 ** 2)))
    zero = torch.tensor([[0.0], [1.0], [0.0], [0.0], [0.0]], dtype=torch.float64)
    out = augment_batch(blob.unsqueeze(0), zero)[0]
    check(torch.equal(out, blob), "zero parameters: identity (max diff %g)" % float((out - blob).abs().max()))

    def centroid(img):
        m = img.sum()
        return float((img * xx).sum() / m), float((img * yy).sum() / m)

    c0 = centroid(blob)
    check(abs(c0[0] - 13.5) < 1e-3 and abs(c0[1] - 13.5) < 1e-3, "the blob is centred at (13.5, 13.5)")
    rot = augment_batch(blob.unsqueeze(0), torch.tensor([[math.radians(10)], [1.1], [0.2], [0.0], [0.0]],
                                                        dtype=torch.float64))[0]
    c1 = centroid(rot)
    check(abs(c1[0] - 13.5) < 0.05 and abs(c1[1] - 13.5) < 0.05,
          "rotation/scale/shear about the centre keep the blob in place (%.3f, %.3f)" % c1)
    sh = augment_batch(blob.unsqueeze(0), torch.tensor([[0.0], [1.0], [0.0], [2.0], [-1.0]], dtype=torch.float64))[0]
    c2 = centroid(sh)
    check(abs(c2[0] - 15.5) < 0.05 and abs(c2[1] - 12.5) < 0.05,
          "shift (+2, -1) moves the blob to (15.5, 12.5): (%.3f, %.3f)" % c2)

    # --augment shift: whole-pixel offsets only, all 25 equally likely, the image an exact translate.
    g = torch.Generator()
    g.manual_seed(3)
    sp = shift_only(draw_params(5000, g, "cpu"))
    check(bool((sp[0] == 0).all() and (sp[1] == 1).all() and (sp[2] == 0).all()), "shift: no rotation, scale, shear")
    counts = torch.bincount(((sp[3] + 2) * 5 + (sp[4] + 2)).long(), minlength=25)
    check(bool((sp[3:5] == torch.round(sp[3:5])).all()) and counts.numel() == 25 and int(counts.min()) > 140
          and int(counts.max()) < 260, "shift: offsets -2..2 each way, 25 pairs about equally likely (%d..%d of 200)"
          % (int(counts.min()), int(counts.max())))
    moved = augment_batch(blob.unsqueeze(0), sp[:, :1])[0]
    dx, dy = int(sp[3, 0]), int(sp[4, 0])
    expect = torch.roll(blob, shifts=(dy, dx), dims=(0, 1))  # the blob is far from the edges
    check(torch.equal(moved, expect), "shift (%+d, %+d): an exact translate of the pixels" % (dx, dy))

    # The vectorised resampling against a literal transcription of Quill's per-pixel code.
    g = torch.Generator()
    g.manual_seed(5)
    img = torch.randint(0, 256, (rows, cols), generator=g).float() * (blob > 20).float()
    params = draw_params(3, g, torch.device("cpu"))
    raw = torch.rand(3, 2, rows, cols, generator=g) * 2 - 1
    fields = elastic_fields(3, rows, cols, None, torch.device("cpu"), raw=raw)
    batch = img.unsqueeze(0).repeat(3, 1, 1)
    aff = augment_batch(batch, params)
    ela = augment_batch(batch, params, fields)
    worst_aff = worst_ela = worst_field = 0.0
    img_l = img.tolist()
    for i in range(3):
        ang, sc, shr, ttx, tty = [float(v) for v in params[:, i]]
        ref = torch.tensor(_quill_augment_reference(img_l, rows, cols, ang, sc, shr, ttx, tty))
        worst_aff = max(worst_aff, float((ref - aff[i]).abs().max()))
        dxr = _quill_blur_reference(raw[i, 0].tolist(), rows, cols, ELASTIC_SIGMA)
        dyr = _quill_blur_reference(raw[i, 1].tolist(), rows, cols, ELASTIC_SIGMA)
        dxr = [[v * ELASTIC_ALPHA for v in r] for r in dxr]
        dyr = [[v * ELASTIC_ALPHA for v in r] for r in dyr]
        worst_field = max(worst_field, float((torch.tensor(dxr) - fields[i, 0]).abs().max()),
                          float((torch.tensor(dyr) - fields[i, 1]).abs().max()))
        ref = torch.tensor(_quill_augment_reference(img_l, rows, cols, ang, sc, shr, ttx, tty, dxr, dyr))
        worst_ela = max(worst_ela, float((ref - ela[i]).abs().max()))
    check(worst_aff <= 1.0, "affine resampling matches Quill's per-pixel code (max diff %g of 255)" % worst_aff)
    check(worst_field < 1e-4, "elastic field blur matches Quill's (max diff %.2g px)" % worst_field)
    check(worst_ela <= 1.0, "elastic resampling matches Quill's per-pixel code (max diff %g of 255)" % worst_ela)

    # shift-stroke's width change against a literal transcription, thicker and thinner; its draws.
    worst_stroke = 0.0
    for a in (0.37, -0.42, 0.5, -0.5):
        ref = torch.tensor(_quill_stroke_reference(img_l, rows, cols, a), dtype=torch.float32)
        got = change_stroke_width(img.unsqueeze(0), torch.tensor([a]))[0]
        worst_stroke = max(worst_stroke, float((ref - got).abs().max()))
    check(worst_stroke == 0.0, "stroke-width change matches Quill's per-pixel code (max diff %g of 255)" % worst_stroke)
    thick = change_stroke_width(img.unsqueeze(0), torch.tensor([0.5]))[0]
    thin = change_stroke_width(img.unsqueeze(0), torch.tensor([-0.5]))[0]
    check(float(thin.sum()) < float(img.sum()) < float(thick.sum()),
          "stroke-width change: a > 0 adds ink, a < 0 removes it (%d < %d < %d)"
          % (int(thin.sum()), int(img.sum()), int(thick.sum())))
    g = torch.Generator()
    g.manual_seed(9)
    drawn = draw_stroke_changes(4000, g, "cpu")
    check(-0.5 <= float(drawn.min()) < -0.45 and 0.45 < float(drawn.max()) <= 0.5 and abs(float(drawn.mean())) < 0.02,
          "stroke changes uniform in [-0.5, 0.5] (min %.3f, max %.3f, mean %+.4f)"
          % (float(drawn.min()), float(drawn.max()), float(drawn.mean())))

    # Schedules and the network: what `quill train --plan` says, against values worked out by hand from
    # layers/schedule.cpp and Quill's parameter counts. Needs the quill program and MNIST.
    try:
        quill = find_quill(quill_option)
    except Error as e:
        quill = None
        print("skip  the plan's checks: %s" % e)
    data_dir = resolve_data_dir("")
    if quill and not os.path.isdir(os.path.join(data_dir, "mnist")):
        print("skip  the plan's checks: no MNIST in %s" % data_dir)
        quill = None

    def rates(schedule, lr, images, batch=1, epochs=1):
        plan = quill_plan(quill, ["--data-dir", data_dir, "--dataset", "mnist", "--recipe", "none", "--model",
                                  "small", "--schedule", schedule, "--lr", repr(lr), "--train-limit", str(images),
                                  "--val-split", "0", "--batch", str(batch), "--epochs", str(epochs)])
        return plan["learning_rates"]

    if quill:
        # onecycle, lr 1, 20 steps: warm = max(1, 0.3*20 - 1) = 5, rest = 19 - 5 = 14, start 0.04, end 4e-6.
        oc = rates("onecycle", 1.0, 20)
        check(len(oc) == 20, "onecycle: one rate per step (%d)" % len(oc))
        check(close(oc[0], 0.04), "onecycle starts at lr/25")
        check(close(oc[1], 1 - 0.96 * 0.5 * (1 + math.cos(0.2 * math.pi))),
              "onecycle warm-up step 1 = 1 - 0.96 * (1 + cos(0.2 pi)) / 2 = %.6f" % oc[1])
        check(close(oc[5], 1.0), "onecycle peaks at step 5 of 20")
        check(close(oc[12], (1.0 + 4e-6) / 2), "onecycle half-way down at step 12")
        check(close(oc[19], 4e-6), "onecycle ends at lr/25/1e4")
        # onecycle, 2 steps: warm = max(1, -0.4) = 1: step 0 = lr/25, step 1 = lr.
        check(close(rates("onecycle", 3e-3, 2)[1], 3e-3), "onecycle with 2 steps peaks at step 1")
        co = rates("cosine", 0.1, 11)
        check(close(co[0], 0.1) and close(co[5], 0.05) and close(co[10], 0.0, 1e-15), "cosine 0.1 -> 0.05 (middle) -> 0")
        check(close(rates("cosine", 0.1, 1)[0], 0.1), "cosine with one step stays at lr")
        st = rates("step", 0.05, 9, 3, 3)  # 3 epochs of 3 batches of 3: step_size 3
        check(len(st) == 9 and close(st[2], 0.05) and close(st[3], 0.005) and close(st[8], 0.0005),
              "step decays x0.1 at a third and two thirds of the run")
        check(rates("constant", 0.01, 9) == [0.01] * 9, "constant")

        # The network: models/cnn.txt built in torch from the plan, with Quill's parameter counts.
        plans = [(10, quill_plan(quill, ["--data-dir", data_dir, "--dataset", "mnist", "--recipe", "none",
                                         "--train-limit", "1", "--test-limit", "1"]))]
        if os.path.isdir(os.path.join(data_dir, "emnist")):
            plans.append((62, quill_plan(quill, ["--data-dir", data_dir, "--dataset", "emnist", "--emnist-set",
                                                 "byclass", "--recipe", "none", "--train-limit", "1",
                                                 "--test-limit", "1"])))
        for (classes, plan), want in zip(plans, (871018, 884382)):
            model, init = build_model(plan["network"])
            tp = sum(p.numel() for p in model.parameters())
            check(tp == want and plan["network"]["parameters"] == want and plan["network"]["output_shape"] == [classes],
                  "cnn on %d classes: %s parameters (Quill prints %s)" % (classes, "{:,}".format(tp), "{:,}".format(want)))
            kinds = [type(m).__name__ for m in model]
            check(kinds.count("Conv2d") == 4 and kinds.count("BatchNorm2d") == 4 and kinds.count("Linear") == 2
                  and kinds.count("Dropout") == 1 and init[0] == ("he_normal", 9, 288),
                  "cnn: 4 conv, 4 batch norm, 2 dense, 1 dropout; the first conv He-initialised, fan-in 9")
        # A graph that is not a chain, and a kind this script does not know, are refused.
        net = plans[0][1]["network"]
        joined = json.loads(json.dumps(net))
        joined["layers"][3]["inputs"] = ["input"]
        unknown = json.loads(json.dumps(net))
        unknown["layers"][2]["kind"], unknown["layers"][2]["attributes"] = "swish", {}
        for bad, msg in ((joined, "non-sequential"), (unknown, "not supported")):
            try:
                build_model(bad)
                check(False, "refuses a network with %s" % msg)
            except Error as e:
                check(msg in str(e), "refuses: %s" % e)

    # Label smoothing: Quill's loss (1-s)(lse - z_y) + (s/C)(C lse - sum z) equals torch's.
    z = torch.randn(4, 7, generator=g, dtype=torch.float64)
    y = torch.tensor([0, 3, 6, 2])
    s = 0.1
    lse = torch.logsumexp(z, 1)
    quill = ((1 - s) * (lse - z[torch.arange(4), y]) + (s / 7) * (7 * lse - z.sum(1))).mean()
    check(close(float(quill), float(F.cross_entropy(z, y, label_smoothing=s)), 1e-12), "label smoothing definition")

    # AdamW: one step of kernels/cpu/optimizers.cpp's formula against torch.optim.AdamW (t = 1, 2).
    p0 = torch.randn(5, generator=g, dtype=torch.float64)
    grads = [torch.randn(5, generator=g, dtype=torch.float64) for _ in range(2)]
    lr, wd = 3e-3, 0.01
    p, m, v = p0.clone(), torch.zeros(5, dtype=torch.float64), torch.zeros(5, dtype=torch.float64)
    for t, gr in enumerate(grads, 1):
        p = p * (1 - lr * wd)
        m = 0.9 * m + 0.1 * gr
        v = 0.999 * v + 0.001 * gr * gr
        p = p - lr * (m / (1 - 0.9 ** t)) / (torch.sqrt(v / (1 - 0.999 ** t)) + 1e-8)
    tp = p0.clone().requires_grad_(True)
    opt = torch.optim.AdamW([tp], lr=lr, weight_decay=wd, betas=(0.9, 0.999), eps=1e-8)
    for gr in grads:
        tp.grad = gr.clone()
        opt.step()
    check(float((tp.detach() - p).abs().max()) < 1e-14, "AdamW matches Quill's decoupled decay (p *= 1 - lr*wd)")
    # SGD: v = mu v + g (g with L2), step = g + mu v (Nesterov).
    p, vel = p0.clone(), torch.zeros(5, dtype=torch.float64)
    for gr in grads:
        gg = gr + 5e-4 * p
        vel = 0.9 * vel + gg
        p = p - 0.05 * (gg + 0.9 * vel)
    tp = p0.clone().requires_grad_(True)
    opt = torch.optim.SGD([tp], lr=0.05, momentum=0.9, nesterov=True, weight_decay=5e-4)
    for gr in grads:
        tp.grad = gr.clone()
        opt.step()
    check(float((tp.detach() - p).abs().max()) < 1e-14, "SGD Nesterov matches Quill's")

    # Quill's Philox4x32-10 against Random123's known-answer vectors, and its Box-Muller normals.
    if np is not None:
        kat = [((0, 0, 0, 0, 0, 0), (0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8)),
               ((M32, M32, M32, M32, M32, M32), (0x408f276d, 0x41c83b0e, 0xa20bc7c6, 0x6d5451fd)),
               ((0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344, 0xa4093822, 0x299f31d0),
                (0xd16cfe09, 0x94fdcceb, 0x5001e420, 0x24126ea1))]
        check(all(tuple(int(v) for v in philox4x32(*c)) == want for c, want in kat),
              "Philox4x32-10 matches Random123's known answers")
        z = qrng_normal(1, 0, np.arange(200000, dtype=np.uint64))
        check(abs(z.mean()) < 0.01 and abs(z.std() - 1) < 0.01, "Quill's normals: mean %.4f, std %.4f"
              % (z.mean(), z.std()))
        order = qrng_epoch_order(1000, 7, 2)
        check(sorted(order) == list(range(1000)) and order != list(range(1000)), "Quill's shuffle is a permutation")

    # Validation split and EMNIST remapping tables.
    held = int((torch.arange(93000) % 12 == 11).sum())
    check(93000 - held == 85250 and held == 7750, "1 in 12 of 93,000 held out: 7,750, training on 85,250")
    mt = byclass_to("merged")
    check(len(set(mt)) == 47 and mt[BYCLASS.index("c")] == BYCLASS.index("C") and
          label_set_chars("merged")[mt[BYCLASS.index("a")]] == "a", "merged table: 47 classes, c -> C, a stays")
    lt = byclass_to("letters")
    check(lt[:10] == [-1] * 10 and lt[BYCLASS.index("q")] == 16, "letters table: digits dropped, q -> Q (16)")

    print("self-test: %s" % ("all passed" if not failures else "%d FAILED" % len(failures)))
    return 0 if not failures else 1


def main(argv):
    try:
        a = parse_args(argv)
        if a.self_test:
            if a.threads > 0:
                torch.set_num_threads(a.threads)
            return self_test(a.quill)
        if a.eval_quill:
            return eval_quill(a)
        return run(a, argv)
    except Error as e:
        sys.stderr.write("%s: error: %s\n" % (PROG, e))
        return 2
    except KeyboardInterrupt:
        sys.stderr.write("%s: interrupted\n" % PROG)
        return 130


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
