#pragma once
// Training augmentation for small uint8 samples (MNIST convention, background 0): one random affine
// map (rotation, scale, shift, shear) optionally combined with an elastic distortion (Simard et al.,
// ICDAR 2003: a random displacement field smoothed by a Gaussian of `elastic_sigma`, scaled by
// `elastic_alpha`), applied as a single bilinear resampling; optionally followed by a stroke-width change
// (a partial grey-level dilation or erosion, as different pens make).
//
// Reproducible by construction: sample i of epoch e draws from quill::Rng(seed, augment_stream(e, i)),
// never from a shared sequential generator, so results don't depend on threads or batch order.
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "runtime/rng.h"

namespace quill {

struct AugmentConfig {
  float max_rotation_deg = 10.0f;  // rotation uniform in [-max, max] degrees
  float min_scale = 0.9f;          // isotropic scale uniform in [min_scale, max_scale]
  float max_scale = 1.1f;
  float max_shift_px = 2.0f;       // x and y shifts, each uniform in [-max, max] pixels
  float max_shear = 0.2f;          // horizontal shear factor (x += k * y) uniform in [-max, max]
  // Round the shifts to whole pixels. With no rotation, scale or shear the result is then an exact copy
  // of moved pixels: no resampling blurs the strokes (see shift_only()).
  bool whole_pixel_shift = false;
  bool elastic = false;            // elastic distortion on top of the affine map
  float elastic_alpha = 34.0f;     // displacement scale, pixels
  float elastic_sigma = 4.0f;      // Gaussian smoothing of the displacement field, pixels
  // Stroke-width change after the geometric map, as different pens make it: a uniform in
  // [-max_stroke_change, max_stroke_change]; a > 0 moves each pixel a of the way to the largest of its
  // 4-neighbourhood (grey-level dilation, strokes about a pixel thicker at a = 1), a < 0 to the smallest
  // (erosion). Grey levels stay those of the image, nothing is resampled. 0: off.
  float max_stroke_change = 0.0f;
  // With this probability the sample is first framed again as `quill predict` frames a photo
  // (reframe_emnist_sample, EMNIST samples only): it loses EMNIST's cue to the written size, as photos do.
  float reframe_probability = 0.0f;
};

// Whole-pixel shifts of up to `max_shift_px` in x and y, each of the 2*max+1 values equally likely, and
// nothing else: strokes keep their exact width and grey levels (`quill train --augment shift`).
AugmentConfig shift_only(int max_shift_px = 2);

// shift_only plus a stroke-width change of up to `max_stroke_change` either way (`--augment shift-stroke`).
AugmentConfig shift_and_stroke(int max_shift_px = 2, float max_stroke_change = 0.5f);

// shift_only after a photo's framing in a fraction `reframe_probability` of the samples (`--augment shift-reframe`).
AugmentConfig shift_and_reframe(int max_shift_px = 2, float reframe_probability = 0.5f);

// The augmentations `quill train --augment` offers, by name: none, shift, shift-stroke, shift-reframe, affine, elastic. The
// command line, the trainer's check and the loader all go through these two, so a new one is added in one place.
const std::vector<std::string>& augmentation_names();
// The configuration of a named augmentation; nothing for "none". Throws quill::Error for an unknown name.
std::optional<AugmentConfig> augmentation_named(const std::string& name);

// The Rng stream of (epoch, sample): a mix of both, with the top bit set so it never equals the
// plain epoch streams that shuffling uses (BatchLoader).
uint64_t augment_stream(int64_t epoch, int64_t sample);

// Augments one rows x cols image from `src` into `dst` (distinct buffers), drawing from `rng`.
void augment_image(const uint8_t* src, uint8_t* dst, int rows, int cols, const AugmentConfig& config, Rng& rng);

// Augments sample `sample` of epoch `epoch` under `seed`: augment_image with Rng(seed, augment_stream(...)).
void augment_sample(const uint8_t* src, uint8_t* dst, int rows, int cols, const AugmentConfig& config, uint64_t seed,
                    int64_t epoch, int64_t sample);

}  // namespace quill
