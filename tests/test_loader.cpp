// BatchLoader and augmentation: determinism, coverage, exact resume, prefetch thread lifetime.
#include <doctest/doctest.h>

#include <algorithm>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "data/augment.h"
#include "data/dataset.h"
#include "data/loader.h"
#include "data/preprocess.h"
#include "runtime/error.h"
#include "tests/real_data.h"

namespace {

// n 28x28 samples, each a distinct blob with a little structure, label i % 10.
quill::Dataset make_dataset(int n) {
  quill::Dataset d;
  for (int i = 0; i < n; ++i) {
    std::vector<uint8_t> img(784, 0);
    const int cx = 8 + i % 12, cy = 8 + (i / 12) % 12;
    for (int y = 0; y < 28; ++y)
      for (int x = 0; x < 28; ++x) {
        const int dx = x - cx, dy = y - cy;
        if (dx * dx + dy * dy <= 25) img[y * 28 + x] = uint8_t(150 + (i * 7 + x) % 100);
      }
    d.pixels.insert(d.pixels.end(), img.begin(), img.end());
    d.labels.push_back(i % 10);
  }
  for (int c = 0; c < 10; ++c) d.classes.push_back(std::to_string(c));
  return d;
}

std::vector<quill::Batch> run_epoch(quill::BatchLoader& loader, int64_t epoch, int64_t first_batch = 0) {
  loader.start_epoch(epoch, first_batch);
  std::vector<quill::Batch> out;
  quill::Batch b;
  while (loader.next(b)) out.push_back(b);
  return out;
}

bool same_batches(const std::vector<quill::Batch>& a, const std::vector<quill::Batch>& b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i)
    if (a[i].indices != b[i].indices || a[i].labels != b[i].labels || a[i].images != b[i].images ||
        a[i].batch_index != b[i].batch_index)
      return false;
  return true;
}

}  // namespace

TEST_CASE("data: loader visits every sample exactly once per epoch") {
  const quill::Dataset d = make_dataset(103);
  quill::LoaderOptions opt;
  opt.batch_size = 10;
  opt.seed = 42;
  quill::BatchLoader loader(d, opt);
  CHECK(loader.batches_per_epoch() == 11);
  for (int64_t epoch : {0, 1, 5}) {
    const std::vector<quill::Batch> batches = run_epoch(loader, epoch);
    REQUIRE(batches.size() == 11);
    CHECK(batches.back().n == 3);
    std::vector<int64_t> seen;
    for (const quill::Batch& b : batches) {
      CHECK(b.epoch == epoch);
      CHECK(b.rows == 28);
      CHECK(b.cols == 28);
      CHECK(b.images.size() == size_t(b.n) * 784);
      for (int k = 0; k < b.n; ++k) {
        seen.push_back(b.indices[k]);
        CHECK(b.labels[k] == d.labels[b.indices[k]]);
      }
    }
    std::sort(seen.begin(), seen.end());
    std::vector<int64_t> all(103);
    for (int i = 0; i < 103; ++i) all[i] = i;
    CHECK(seen == all);
  }

  opt.drop_last = true;
  quill::BatchLoader dropping(d, opt);
  CHECK(dropping.batches_per_epoch() == 10);
  const std::vector<quill::Batch> batches = run_epoch(dropping, 0);
  CHECK(batches.size() == 10);
  for (const quill::Batch& b : batches) CHECK(b.n == 10);
}

TEST_CASE("data: loader images are pixel/255, in order when not shuffling") {
  const quill::Dataset d = make_dataset(20);
  quill::LoaderOptions opt;
  opt.batch_size = 8;
  opt.shuffle = false;
  quill::BatchLoader loader(d, opt);
  const std::vector<quill::Batch> batches = run_epoch(loader, 3);
  REQUIRE(batches.size() == 3);
  CHECK(batches[0].indices == std::vector<int64_t>{0, 1, 2, 3, 4, 5, 6, 7});
  for (int k = 0; k < batches[1].n; ++k)
    for (int p = 0; p < 784; ++p)
      REQUIRE(batches[1].images[k * 784 + p] == float(d.image(8 + k)[p]) / 255.0f);
}

TEST_CASE("data: loader order is deterministic per seed and differs across seeds and epochs") {
  const quill::Dataset d = make_dataset(64);
  quill::LoaderOptions opt;
  opt.batch_size = 16;
  opt.seed = 7;
  quill::BatchLoader a(d, opt), b(d, opt);
  CHECK(same_batches(run_epoch(a, 2), run_epoch(b, 2)));
  std::vector<int64_t> visited;
  for (const quill::Batch& batch : run_epoch(a, 2)) visited.insert(visited.end(), batch.indices.begin(), batch.indices.end());
  CHECK(visited == quill::BatchLoader::epoch_order(64, true, 7, 2));
  CHECK(quill::BatchLoader::epoch_order(64, true, 7, 2) != quill::BatchLoader::epoch_order(64, true, 7, 3));
  CHECK(quill::BatchLoader::epoch_order(64, true, 7, 2) != quill::BatchLoader::epoch_order(64, true, 8, 2));
  opt.seed = 8;
  quill::BatchLoader c(d, opt);
  CHECK(!same_batches(run_epoch(a, 2), run_epoch(c, 2)));
}

TEST_CASE("data: loader resume at batch k equals the uninterrupted epoch") {
  const quill::Dataset d = make_dataset(90);
  quill::LoaderOptions opt;
  opt.batch_size = 7;
  opt.seed = 1234;
  opt.augment = true;
  opt.augmentation.elastic = true;
  quill::BatchLoader loader(d, opt);
  const std::vector<quill::Batch> full = run_epoch(loader, 4);
  REQUIRE(full.size() == 13);
  for (int64_t k : {int64_t(0), int64_t(1), int64_t(6), int64_t(12), int64_t(13)}) {
    CAPTURE(k);
    quill::BatchLoader resumed(d, opt);  // a fresh loader, as after a restart
    const std::vector<quill::Batch> rest = run_epoch(resumed, 4, k);
    CHECK(same_batches(rest, std::vector<quill::Batch>(full.begin() + k, full.end())));
  }

  // next_batch_index tracks the position to save in a checkpoint.
  loader.start_epoch(4);
  quill::Batch b;
  REQUIRE(loader.next(b));
  REQUIRE(loader.next(b));
  CHECK(loader.next_batch_index() == 2);
  CHECK(loader.epoch() == 4);
  CHECK_THROWS_WITH_AS(loader.start_epoch(4, 14), doctest::Contains("it has 13 batches"), quill::Error);
}

TEST_CASE("data: augmentation is reproducible and changes images") {
  const quill::Dataset d = make_dataset(40);
  quill::AugmentConfig cfg;
  std::vector<uint8_t> a(784), b(784);
  int changed = 0;
  for (int64_t i = 0; i < d.size(); ++i) {
    quill::augment_sample(d.image(i), a.data(), 28, 28, cfg, 99, 3, i);
    quill::augment_sample(d.image(i), b.data(), 28, 28, cfg, 99, 3, i);
    CHECK(a == b);
    if (!std::equal(a.begin(), a.end(), d.image(i))) ++changed;
    quill::augment_sample(d.image(i), b.data(), 28, 28, cfg, 99, 4, i);  // another epoch
    CHECK(a != b);
  }
  CHECK(changed == d.size());

  // Zero ranges are the identity.
  quill::AugmentConfig none;
  none.max_rotation_deg = 0;
  none.min_scale = none.max_scale = 1;
  none.max_shift_px = 0;
  none.max_shear = 0;
  quill::augment_sample(d.image(5), a.data(), 28, 28, none, 1, 0, 5);
  CHECK(std::equal(a.begin(), a.end(), d.image(5)));

  // Elastic distortion moves ink but keeps it roughly in place (smoothed, bounded displacement).
  quill::AugmentConfig elastic = none;
  elastic.elastic = true;
  quill::augment_sample(d.image(5), a.data(), 28, 28, elastic, 1, 0, 5);
  quill::augment_sample(d.image(5), b.data(), 28, 28, elastic, 1, 0, 5);
  CHECK(a == b);
  CHECK(!std::equal(a.begin(), a.end(), d.image(5)));
  double mass_in = 0, mass_out = 0;
  for (int p = 0; p < 784; ++p) mass_in += d.image(5)[p], mass_out += a[p];
  CHECK(mass_out > 0.5 * mass_in);
  CHECK(mass_out < 1.5 * mass_in);

  // A pure shift moves ink by whole pixels (shift 2 both ways stays inside the frame for this blob).
  quill::AugmentConfig shift = none;
  shift.max_shift_px = 2;
  quill::Rng rng(5, 6);
  quill::augment_image(d.image(0), a.data(), 28, 28, shift, rng);
  double cx_in = 0, cx_out = 0, m_in = 0, m_out = 0;
  for (int p = 0; p < 784; ++p) cx_in += (p % 28) * d.image(0)[p], m_in += d.image(0)[p], cx_out += (p % 28) * a[p], m_out += a[p];
  CHECK(std::abs(cx_out / m_out - cx_in / m_in) <= 2.05);
}

TEST_CASE("data: shift augmentation moves whole pixels and keeps every grey level") {
  const quill::Dataset d = make_dataset(1);
  const quill::AugmentConfig shift = quill::shift_only(2);
  const uint8_t* src = d.image(0);
  std::vector<uint8_t> out(784);
  std::map<std::pair<int, int>, int> seen;  // (dx, dy) -> count
  const int draws = 2500;
  for (int64_t i = 0; i < draws; ++i) {
    quill::augment_sample(src, out.data(), 28, 28, shift, 7, 0, i);
    // Find the one whole-pixel offset that explains every output pixel (zero where it comes from outside).
    int matches = 0;
    for (int dy = -2; dy <= 2; ++dy)
      for (int dx = -2; dx <= 2; ++dx) {
        bool same = true;
        for (int y = 0; y < 28 && same; ++y)
          for (int x = 0; x < 28 && same; ++x) {
            const int sx = x - dx, sy = y - dy;
            const uint8_t expect = (sx < 0 || sy < 0 || sx >= 28 || sy >= 28) ? 0 : src[sy * 28 + sx];
            same = out[y * 28 + x] == expect;
          }
        if (same) ++matches, ++seen[{dx, dy}];
      }
    REQUIRE(matches == 1);
  }
  // All 25 offsets occur, each about 1/25 of the time (100 expected; 4 sigma is about +-40).
  CHECK(seen.size() == 25);
  for (const auto& [offset, count] : seen) {
    CHECK(count > 55);
    CHECK(count < 145);
  }
  CHECK_THROWS_AS(quill::shift_only(-1), quill::Error);
}

TEST_CASE("data: shift-stroke augmentation is the same shift, then a partial dilation or erosion") {
  const quill::Dataset d = make_dataset(3);
  const quill::AugmentConfig shift = quill::shift_only(2), stroke = quill::shift_and_stroke(2, 0.5f);
  std::vector<uint8_t> shifted(784), out(784);
  int thicker = 0, thinner = 0;
  for (int64_t i = 0; i < 400; ++i) {
    const uint8_t* src = d.image(i % 3);
    quill::augment_sample(src, shifted.data(), 28, 28, shift, 5, 1, i);
    quill::augment_sample(src, out.data(), 28, 28, stroke, 5, 1, i);
    // Every pixel moves towards its 4-neighbourhood's maximum (all of them) or minimum (all of them), by at
    // most half the way (the largest change), rounded to the nearest grey level.
    bool up = true, down = true, bounded = true;
    for (int y = 0; y < 28; ++y)
      for (int x = 0; x < 28; ++x) {
        auto at = [&](int yy, int xx) {
          return (xx < 0 || yy < 0 || xx >= 28 || yy >= 28) ? 0 : int(shifted[yy * 28 + xx]);
        };
        const int v = at(y, x), o = out[y * 28 + x];
        int hi = v, lo = v;
        for (int n : {at(y - 1, x), at(y + 1, x), at(y, x - 1), at(y, x + 1)})
          hi = std::max(hi, n), lo = std::min(lo, n);
        up = up && o >= v;
        down = down && o <= v;
        bounded = bounded && o <= v + (hi - v) / 2 + 1 && o >= v - (v - lo) / 2 - 1;
      }
    REQUIRE(bounded);
    REQUIRE((up || down));
    if (out != shifted) (up ? thicker : thinner) += 1;
  }
  // a is uniform in [-0.5, 0.5]: about half the draws thicken, half thin (200 expected; 4 sigma is +-40).
  CHECK(thicker > 150);
  CHECK(thinner > 150);
  CHECK_THROWS_AS(quill::shift_and_stroke(2, 1.5f), quill::Error);
  CHECK_THROWS_AS(quill::shift_and_stroke(2, -0.1f), quill::Error);
}

TEST_CASE("data: shift-reframe augmentation shifts either the sample or its photo framing, each about half the time") {
  const quill::Dataset d = make_dataset(3);  // discs of radius 5: reframing enlarges them to the photo frame
  const quill::AugmentConfig shift = quill::shift_only(2), reframe = quill::shift_and_reframe(2, 0.5f);
  std::vector<uint8_t> plain(784), of_reframed(784), out(784);
  int kept = 0, reframed = 0;
  for (int64_t i = 0; i < 400; ++i) {
    const uint8_t* src = d.image(i % 3);
    const std::vector<uint8_t> framed = quill::reframe_emnist_sample(src);
    REQUIRE(framed != std::vector<uint8_t>(src, src + 784));
    quill::augment_sample(src, plain.data(), 28, 28, shift, 5, 1, i);
    quill::augment_sample(framed.data(), of_reframed.data(), 28, 28, shift, 5, 1, i);
    quill::augment_sample(src, out.data(), 28, 28, reframe, 5, 1, i);
    // The same whole-pixel shift as plain `shift` draws, of one or the other.
    REQUIRE((out == plain || out == of_reframed));
    (out == plain ? kept : reframed) += 1;
  }
  // Probability 0.5: 200 expected each way (4 sigma is +-40).
  CHECK(kept > 150);
  CHECK(reframed > 150);
  CHECK_THROWS_AS(quill::shift_and_reframe(2, 1.5f), quill::Error);
}

TEST_CASE("data: augmentations by name") {
  CHECK(!quill::augmentation_named("none"));
  CHECK(quill::augmentation_named("shift")->whole_pixel_shift);
  CHECK(quill::augmentation_named("shift")->max_stroke_change == 0);
  CHECK(quill::augmentation_named("shift-stroke")->whole_pixel_shift);
  CHECK(quill::augmentation_named("shift-stroke")->max_stroke_change == doctest::Approx(0.5));
  CHECK(quill::augmentation_named("shift-reframe")->whole_pixel_shift);
  CHECK(quill::augmentation_named("shift-reframe")->reframe_probability == doctest::Approx(0.5));
  CHECK(quill::augmentation_named("shift")->reframe_probability == 0);
  CHECK(quill::augmentation_named("affine")->max_rotation_deg > 0);
  CHECK(!quill::augmentation_named("affine")->elastic);
  CHECK(quill::augmentation_named("elastic")->elastic);
  for (const std::string& name : quill::augmentation_names())
    if (name != "none") CHECK(quill::augmentation_named(name).has_value());
  CHECK_THROWS_WITH_AS(quill::augmentation_named("wobble"),
                       "unknown augmentation 'wobble' (expected none, shift, shift-stroke, shift-reframe, affine or elastic)",
                       quill::Error);
}

TEST_CASE("data: loader augmentation depends on sample and epoch, not on batch order") {
  const quill::Dataset d = make_dataset(50);
  quill::LoaderOptions opt;
  opt.batch_size = 8;
  opt.seed = 5;
  opt.augment = true;
  quill::BatchLoader loader(d, opt);
  const std::vector<quill::Batch> batches = run_epoch(loader, 2);
  std::vector<uint8_t> expect(784);
  for (const quill::Batch& b : batches)
    for (int k = 0; k < b.n; ++k) {
      quill::augment_sample(d.image(b.indices[k]), expect.data(), 28, 28, opt.augmentation, opt.seed, 2, b.indices[k]);
      for (int p = 0; p < 784; ++p) REQUIRE(b.images[k * 784 + p] == float(expect[p]) / 255.0f);
    }
  // Same seed without shuffling: same per-sample augmentation, different order.
  opt.shuffle = false;
  quill::BatchLoader ordered(d, opt);
  const std::vector<quill::Batch> plain = run_epoch(ordered, 2);
  const quill::Batch& first = batches[0];
  const int64_t idx = first.indices[0];
  const quill::Batch& holder = plain[idx / 8];
  CHECK(std::equal(first.images.begin(), first.images.begin() + 784, holder.images.begin() + (idx % 8) * 784));
}

TEST_CASE("data: loader results do not depend on the number of augmentation threads") {
  const quill::Dataset d = make_dataset(100);
  quill::LoaderOptions opt;
  opt.batch_size = 48;
  opt.seed = 3;
  opt.augment = true;
  opt.augmentation.elastic = true;
  opt.threads = 1;
  quill::BatchLoader one(d, opt);
  opt.threads = 4;
  quill::BatchLoader four(d, opt);
  opt.threads = 0;  // auto
  quill::BatchLoader automatic(d, opt);
  const std::vector<quill::Batch> reference = run_epoch(one, 1);
  CHECK(same_batches(reference, run_epoch(four, 1)));
  CHECK(same_batches(reference, run_epoch(automatic, 1)));
}

TEST_CASE("data: loader shuts down cleanly mid-epoch and restarts") {
  const quill::Dataset d = make_dataset(2000);
  quill::LoaderOptions opt;
  opt.batch_size = 4;
  opt.augment = true;
  opt.prefetch = 3;
  {
    quill::BatchLoader loader(d, opt);
    loader.start_epoch(0);
    quill::Batch b;
    REQUIRE(loader.next(b));
  }  // destroyed with the worker blocked on a full queue: must join, not hang
  {
    quill::BatchLoader loader(d, opt);
    loader.start_epoch(0);  // never consumed
  }
  quill::BatchLoader loader(d, opt);
  loader.start_epoch(0);
  quill::Batch b;
  REQUIRE(loader.next(b));
  loader.start_epoch(1, 100);  // abandon epoch 0 part way
  REQUIRE(loader.next(b));
  CHECK(b.epoch == 1);
  CHECK(b.batch_index == 100);
  loader.stop();
  CHECK_THROWS_WITH_AS(loader.next(b), doctest::Contains("call start_epoch before next"), quill::Error);
}

TEST_CASE("data: loader worker errors reach the consumer") {
  const quill::Dataset d = make_dataset(30);
  quill::LoaderOptions opt;
  opt.batch_size = 5;
  opt.augment = true;
  opt.augmentation.min_scale = 0;  // invalid: the worker throws on the first sample
  for (int threads : {1, 3}) {
    opt.threads = threads;
    quill::BatchLoader loader(d, opt);
    loader.start_epoch(0);
    quill::Batch b;
    CHECK_THROWS_WITH_AS(loader.next(b), doctest::Contains("augment: scale range"), quill::Error);
  }
  opt.batch_size = 30;
  opt.threads = 3;
  quill::BatchLoader loader(d, opt);
  loader.start_epoch(0);
  quill::Batch b;
  CHECK_THROWS_WITH_AS(loader.next(b), doctest::Contains("augment: scale range"), quill::Error);
  CHECK_THROWS_WITH_AS(quill::BatchLoader(d, [] { quill::LoaderOptions o; o.batch_size = 0; return o; }()),
                       doctest::Contains("batch_size must be at least 1"), quill::Error);
}

// The official test set, or the offline digits' 2,000 test images.
TEST_CASE("data: loader over real MNIST test set (QUILL_DATA)") {
  const quill::Dataset test = quill::test::real_digits_or_skip(quill::test::DigitsPart::Test, 10000);
  if (test.size() == 0) return;
  quill::LoaderOptions opt;
  opt.batch_size = 256;
  opt.augment = true;
  quill::BatchLoader loader(test, opt);
  loader.start_epoch(0);
  std::set<int64_t> seen;
  quill::Batch b;
  int batches = 0;
  while (loader.next(b)) {
    ++batches;
    seen.insert(b.indices.begin(), b.indices.end());
  }
  CHECK(batches == (test.size() + 255) / 256);
  CHECK(int64_t(seen.size()) == test.size());
}
