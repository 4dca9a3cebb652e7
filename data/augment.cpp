#include "data/augment.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "data/preprocess.h"
#include "runtime/error.h"

namespace quill {

namespace {

uint64_t splitmix64(uint64_t x) {
  x += 0x9E3779B97F4A7C15ull;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
  return x ^ (x >> 31);
}

// out[i] += w * in[i]: the blur's inner loop, kept simple so it vectorises.
void add_scaled(float* __restrict out, const float* __restrict in, float w, int n) {
  for (int i = 0; i < n; ++i) out[i] += w * in[i];
}

// Separable Gaussian blur of a rows x cols field, zero outside (Simard et al.'s smoothing). Each pass
// adds weighted shifted rows, so the inner loops run over contiguous memory and vectorise.
void gaussian_blur(std::vector<float>& field, int rows, int cols, float sigma) {
  const int radius = std::max(1, int(std::ceil(3.0f * sigma)));
  std::vector<float> kernel(2 * radius + 1);
  float sum = 0;
  for (int k = -radius; k <= radius; ++k) sum += kernel[k + radius] = std::exp(-0.5f * k * k / (sigma * sigma));
  for (float& w : kernel) w /= sum;
  std::vector<float> tmp(field.size(), 0.0f);
  for (int y = 0; y < rows; ++y) {  // along x
    const float* in = field.data() + size_t(y) * cols;
    float* out = tmp.data() + size_t(y) * cols;
    for (int k = -radius; k <= radius; ++k) {
      const float w = kernel[k + radius];
      const int x0 = std::max(0, -k), x1 = std::min(cols, cols - k);
      if (x1 > x0) add_scaled(out + x0, in + x0 + k, w, x1 - x0);
    }
  }
  std::fill(field.begin(), field.end(), 0.0f);
  for (int y = 0; y < rows; ++y) {  // along y
    float* out = field.data() + size_t(y) * cols;
    for (int k = std::max(-radius, -y); k <= std::min(radius, rows - 1 - y); ++k) {
      const float w = kernel[k + radius];
      add_scaled(out, tmp.data() + size_t(y + k) * cols, w, cols);
    }
  }
}

// Bilinear sample at (x, y), zero (background) outside the image.
float sample_bilinear(const uint8_t* src, int rows, int cols, float x, float y) {
  if (!(x > -1.0f && y > -1.0f && x < float(cols) && y < float(rows))) return 0.0f;  // no neighbour inside
  const float fx = std::floor(x), fy = std::floor(y);
  const int x0 = int(fx), y0 = int(fy);
  const float ax = x - fx, ay = y - fy;
  float p00 = 0, p01 = 0, p10 = 0, p11 = 0;
  if (x0 >= 0 && y0 >= 0 && x0 + 1 < cols && y0 + 1 < rows) {
    const uint8_t* p = src + size_t(y0) * cols + x0;
    p00 = p[0], p01 = p[1], p10 = p[cols], p11 = p[cols + 1];
  } else {
    auto px = [&](int xi, int yi) -> float {
      return (xi < 0 || yi < 0 || xi >= cols || yi >= rows) ? 0.0f : float(src[size_t(yi) * cols + xi]);
    };
    p00 = px(x0, y0), p01 = px(x0 + 1, y0), p10 = px(x0, y0 + 1), p11 = px(x0 + 1, y0 + 1);
  }
  const float top = p00 + (p01 - p00) * ax;
  const float bottom = p10 + (p11 - p10) * ax;
  return top + (bottom - top) * ay;
}

// A uniform float in [-1, 1) from 24 random bits.
float symmetric_unit(uint32_t bits) { return float(bits >> 8) * (2.0f / 16777216.0f) - 1.0f; }

// Fills `field` with uniform [-1, 1) values from Philox blocks of rng's (seed, stream) starting at block
// `first_block`, four values per block (Rng::next_u32 would recompute each block four times).
void random_field(std::vector<float>& field, const Rng& rng, uint64_t first_block) {
  for (size_t i = 0; i < field.size(); i += 4) {
    const Philox4x32 b = random_block(rng.seed(), rng.stream(), first_block + i / 4);
    for (size_t j = 0; j < 4 && i + j < field.size(); ++j) field[i + j] = symmetric_unit(b.v[j]);
  }
}

// Moves every pixel `a` of the way to the largest (a > 0) or smallest (a < 0) value of its 4-neighbourhood
// and itself, outside the image counting as background: a partial grey-level dilation or erosion by one
// pixel, so strokes change width smoothly with a and keep their grey levels.
void change_stroke_width(uint8_t* img, int rows, int cols, float a) {
  if (a == 0.0f) return;
  const std::vector<uint8_t> src(img, img + size_t(rows) * cols);
  auto at = [&](int y, int x) -> int {
    return (x < 0 || y < 0 || x >= cols || y >= rows) ? 0 : src[size_t(y) * cols + x];
  };
  const bool grow = a > 0;
  const float w = std::fabs(a);
  for (int y = 0; y < rows; ++y)
    for (int x = 0; x < cols; ++x) {
      const int v = at(y, x);
      int e = v;
      for (int n : {at(y - 1, x), at(y + 1, x), at(y, x - 1), at(y, x + 1)})
        e = grow ? std::max(e, n) : std::min(e, n);
      img[size_t(y) * cols + x] = uint8_t(std::clamp(float(v) + w * float(e - v) + 0.5f, 0.0f, 255.0f));
    }
}

// The elastic fields use Philox blocks from here on, far past anything the sequential draws reach.
constexpr uint64_t kFieldBlocks = uint64_t(1) << 40;

}  // namespace

AugmentConfig shift_only(int max_shift_px) {
  QUILL_CHECK(max_shift_px >= 0, "augment: the shift must not be negative, got ", max_shift_px);
  AugmentConfig c;
  c.max_rotation_deg = 0;
  c.min_scale = c.max_scale = 1;
  c.max_shear = 0;
  c.max_shift_px = float(max_shift_px);
  c.whole_pixel_shift = true;
  return c;
}

AugmentConfig shift_and_stroke(int max_shift_px, float max_stroke_change) {
  QUILL_CHECK(max_stroke_change >= 0 && max_stroke_change <= 1, "augment: the stroke change must be in [0, 1], got ",
              max_stroke_change);
  AugmentConfig c = shift_only(max_shift_px);
  c.max_stroke_change = max_stroke_change;
  return c;
}

AugmentConfig shift_and_reframe(int max_shift_px, float reframe_probability) {
  QUILL_CHECK(reframe_probability >= 0 && reframe_probability <= 1, "augment: the reframe probability must be in [0, 1], got ",
              reframe_probability);
  AugmentConfig c = shift_only(max_shift_px);
  c.reframe_probability = reframe_probability;
  return c;
}

const std::vector<std::string>& augmentation_names() {
  static const std::vector<std::string> names = {"none", "shift", "shift-stroke", "shift-reframe", "affine", "elastic"};
  return names;
}

std::optional<AugmentConfig> augmentation_named(const std::string& name) {
  if (name == "none") return std::nullopt;
  if (name == "shift") return shift_only();
  if (name == "shift-stroke") return shift_and_stroke();
  if (name == "shift-reframe") return shift_and_reframe();
  if (name == "affine") return AugmentConfig{};
  if (name == "elastic") {
    AugmentConfig c;
    c.elastic = true;
    return c;
  }
  const std::vector<std::string>& names = augmentation_names();
  std::string expected;
  for (size_t i = 0; i < names.size(); ++i)
    expected += (i == 0 ? "" : i + 1 == names.size() ? " or " : ", ") + names[i];
  fail("unknown augmentation '", name, "' (expected ", expected, ")");
}

uint64_t augment_stream(int64_t epoch, int64_t sample) {
  const uint64_t h = splitmix64(splitmix64(uint64_t(epoch)) ^ uint64_t(sample));
  return h | (uint64_t(1) << 63);
}

void augment_image(const uint8_t* src, uint8_t* dst, int rows, int cols, const AugmentConfig& c, Rng& rng) {
  QUILL_CHECK(c.min_scale > 0 && c.min_scale <= c.max_scale, "augment: scale range [", c.min_scale, ", ",
              c.max_scale, "] must be positive and ordered");
  QUILL_CHECK(!c.elastic || c.elastic_sigma > 0, "augment: elastic_sigma must be positive, got ", c.elastic_sigma);
  QUILL_CHECK(c.max_stroke_change >= 0 && c.max_stroke_change <= 1,
              "augment: max_stroke_change must be in [0, 1], got ", c.max_stroke_change);
  QUILL_CHECK(c.reframe_probability >= 0 && c.reframe_probability <= 1,
              "augment: reframe_probability must be in [0, 1], got ", c.reframe_probability);
  // Draw every parameter in a fixed order, even zero-width ranges, so the stream layout never shifts.
  const double angle = rng.uniform(-c.max_rotation_deg, c.max_rotation_deg) * (3.14159265358979323846 / 180.0);
  const double scale = rng.uniform(c.min_scale, c.max_scale);
  const double shear = rng.uniform(-c.max_shear, c.max_shear);
  double tx = rng.uniform(-c.max_shift_px, c.max_shift_px);
  double ty = rng.uniform(-c.max_shift_px, c.max_shift_px);
  if (c.whole_pixel_shift) {
    // Stretch [-max, max] to [-max - 0.5, max + 0.5) before rounding, so the end values are as likely as
    // the others.
    const double stretch = (c.max_shift_px + 0.5) / std::max(c.max_shift_px, 1e-9f);
    tx = std::clamp(std::round(tx * stretch), -double(c.max_shift_px), double(c.max_shift_px));
    ty = std::clamp(std::round(ty * stretch), -double(c.max_shift_px), double(c.max_shift_px));
  }

  // Forward map about the centre: M = rotation * shear * scale; invert it to pull source pixels.
  const double cs = std::cos(angle), sn = std::sin(angle);
  const double m00 = scale * cs, m01 = scale * (cs * shear - sn);
  const double m10 = scale * sn, m11 = scale * (sn * shear + cs);
  const double det = m00 * m11 - m01 * m10;
  const double i00 = m11 / det, i01 = -m01 / det, i10 = -m10 / det, i11 = m00 / det;
  const double cx = (cols - 1) * 0.5, cy = (rows - 1) * 0.5;

  // Drawn only when on, so the other augmentations keep the streams they always had.
  std::vector<uint8_t> reframed;
  if (c.reframe_probability > 0 && rng.uniform(0.0, 1.0) < c.reframe_probability) {
    reframed = reframe_emnist_sample(src, rows, cols);
    src = reframed.data();
  }

  std::vector<float> dx, dy;
  if (c.elastic) {
    const size_t n = size_t(rows) * cols;
    dx.resize(n);
    dy.resize(n);
    random_field(dx, rng, kFieldBlocks);
    random_field(dy, rng, kFieldBlocks + (n + 3) / 4);
    gaussian_blur(dx, rows, cols, c.elastic_sigma);
    gaussian_blur(dy, rows, cols, c.elastic_sigma);
    for (size_t i = 0; i < n; ++i) dx[i] *= c.elastic_alpha, dy[i] *= c.elastic_alpha;
  }

  for (int y = 0; y < rows; ++y)
    for (int x = 0; x < cols; ++x) {
      const double ux = x - cx - tx, uy = y - cy - ty;
      float sx = float(i00 * ux + i01 * uy + cx);
      float sy = float(i10 * ux + i11 * uy + cy);
      if (c.elastic) {
        sx += dx[size_t(y) * cols + x];
        sy += dy[size_t(y) * cols + x];
      }
      const float v = sample_bilinear(src, rows, cols, sx, sy);
      dst[size_t(y) * cols + x] = uint8_t(std::clamp(v + 0.5f, 0.0f, 255.0f));  // round to nearest
    }
  // Drawn last, and only when on, so the other augmentations keep the streams they always had.
  if (c.max_stroke_change > 0)
    change_stroke_width(dst, rows, cols, float(rng.uniform(-c.max_stroke_change, c.max_stroke_change)));
}

void augment_sample(const uint8_t* src, uint8_t* dst, int rows, int cols, const AugmentConfig& config, uint64_t seed,
                    int64_t epoch, int64_t sample) {
  Rng rng(seed, augment_stream(epoch, sample));
  augment_image(src, dst, rows, cols, config, rng);
}

}  // namespace quill
