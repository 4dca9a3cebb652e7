#pragma once
// Turns a photo of one handwritten character into the 28x28 sample a network trained on MNIST or EMNIST
// expects, made the way those sets were made: find the ink (denoise, threshold, polarity), keep the
// character, fit it into the set's frame. Grey levels are kept (ink strength, not a binary mask) so strokes
// look anti-aliased like the training images. The ink-finding stages are public for data/segment.h.
#include <cstdint>
#include <vector>

#include "data/dataset.h"
#include "data/image.h"

namespace quill {

enum class Denoise { None, Median3, Gaussian };
enum class ThresholdMode {
  Auto,      // Adaptive when the paper's brightness varies across the photo, else Otsu
  Otsu,      // one global threshold
  Adaptive,  // local mean over a window (integral image) plus an offset: copes with uneven lighting
};
enum class InkPolarity { Auto, DarkOnLight, LightOnDark };
enum class KeepMode {
  Significant,  // every component at least keep_min_fraction of the largest: drops specks, keeps the dot of i/j
  Largest,      // the largest connected component only
  All,          // all ink
};

struct PreprocessOptions {
  Denoise denoise = Denoise::Median3;
  float gaussian_sigma = 1.0f;  // pixels, for Denoise::Gaussian
  ThresholdMode threshold = ThresholdMode::Auto;
  int adaptive_window = 0;         // window side in pixels; 0: a quarter of the photo's shorter side (>= 15)
  float adaptive_offset = 0.2f;    // ink exceeds the local mean by this fraction of the ink contrast
  float uneven_fraction = 0.2f;    // Auto picks Adaptive when paper brightness varies by this fraction of the contrast
  InkPolarity polarity = InkPolarity::Auto;
  KeepMode keep = KeepMode::Significant;
  float keep_min_fraction = 0.05f;  // Significant: minimum area relative to the largest component
  FramingConvention framing = FramingConvention::Mnist;
  bool deskew = false;  // shear so the ink's principal axis is vertical (only if the model was trained so)
  // Stroke width (sample_stroke_width of the 28x28 result) outside [min, max] is fitted: a wider one is
  // thinned to max, a narrower one thickened to thin_stroke_target (min where that is 0). min and max 0
  // turn it off. stroke_width_range gives the training set's own values.
  float min_stroke_width = 0.0f, max_stroke_width = 0.0f, thin_stroke_target = 0.0f;
  int max_side = 1024;  // larger photos are area-downscaled first: a 20-pixel result needs no more detail
  // Below 0.5: ink also where the strength is at least this and connects to full ink (>= 0.5) through such
  // pixels (hysteresis). A page mixes bold and faint pens, and a faint, thin stroke whose blurred core
  // barely reaches half the page's contrast would otherwise fall apart into specks.
  float weak_ink_level = 0.5f;
};

// Where the ink is in a photo. Planes are row-major, width * height.
struct InkMap {
  int width = 0, height = 0;
  std::vector<float> strength;  // 0 paper .. 1 full ink, grey levels kept (ink-bright)
  std::vector<uint8_t> mask;    // 1 where strength >= 0.5: the thresholded ink
  std::vector<float> paper;     // local paper level, in the photo's own luminance
  bool dark_on_light = true;    // the polarity found (or given)
  bool adaptive = false;        // whether the adaptive threshold was used
};

// Denoises, detects polarity, thresholds. Throws quill::Error("no ink found in image ...") when nothing
// stands out from the paper.
InkMap find_ink(const Image& photo, const PreprocessOptions& options = {});

// 8-connected components of a 0/1 mask.
struct Component {
  int x0 = 0, y0 = 0, x1 = 0, y1 = 0;  // inclusive bounding box
  int64_t area = 0;
  int width() const { return x1 - x0 + 1; }
  int height() const { return y1 - y0 + 1; }
};
struct ComponentLabels {
  int width = 0, height = 0;
  std::vector<int32_t> label;  // per pixel: index into components, or -1 for background
  std::vector<Component> components;
};
ComponentLabels label_components(const std::vector<uint8_t>& mask, int width, int height);

// The 28*28 sample (row-major, 0 background .. 255 ink) the network should see for this photo.
std::vector<uint8_t> preprocess_character(const Image& photo, const PreprocessOptions& options = {});
// The same sample as an Image, for saving "the image the network saw" (see sample_to_image).
Image preprocess_character_image(const Image& photo, const PreprocessOptions& options = {});

// An EMNIST-style sample as preprocess_character makes a photo of it under FramingConvention::Emnist:
// enlarged 4 times, drawn as solid ink inside its 50% contour (a pen's ink has a sharp edge; EMNIST's grey
// fringe is its scan's blur), cut to the ink box, centred with the photo border, brought back to 28x28.
// EMNIST's own frame keeps a cue to how large the character was written (its margin was fixed at the
// scan's resolution, around the blurred strokes); a photo's frame cannot, and this shows a network what a
// photo's looks like (`quill train --augment shift-reframe`). A sample with no ink at the box level comes
// back unchanged.
std::vector<uint8_t> reframe_emnist_sample(const uint8_t* sample, int rows = 28, int cols = 28);

// The stroke width of a dataset-style sample (0 background .. 255 ink), in its pixels: ink mass over half
// the summed gradient magnitude (the edge length), so a sharp stroke of width w reads w. Strokes under
// about 2 pixels read about 1.8, and blurred thin strokes read wider than they are.
double sample_stroke_width(const uint8_t* sample, int rows = 28, int cols = 28);

// The stroke widths of a framing convention's training images, for PreprocessOptions: min and max are the
// 5th and 95th percentiles, thin_target where a stroke under min is taken (tests/test_preprocess.cpp
// recomputes them from the data).
struct StrokeWidthRange {
  float min, max;
  float thin_target;
};
StrokeWidthRange stroke_width_range(FramingConvention framing);

// Conversions between Dataset samples (ink = 255) and Image. The value is carried over unchanged
// (pixel = sample / 255), so a saved sample shows bright ink on black, as MNIST viewers show it.
Image sample_to_image(const uint8_t* sample, int rows = 28, int cols = 28);
std::vector<uint8_t> image_to_sample(const Image& image);

}  // namespace quill
