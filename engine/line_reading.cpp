#include "engine/line_reading.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <exception>

#include "runtime/error.h"
#include "runtime/text.h"

namespace quill {
namespace {

// Each part's top probability at least this ...
constexpr double kMinPart = 0.85;
// ... and the parts' geometric mean above the whole's by this much. Measured on generated lines of
// touching MNIST digits (docs/RESULTS.md, "Touching characters").
constexpr double kMargin = 0.1;

// The probability of the most probable class up to case: classes whose names differ only in case count
// together. group[c] is class c's case-folded group.
double top_probability(const std::vector<double>& p, const std::vector<int>& group, int groups) {
  std::vector<double> sum(size_t(groups), 0.0);
  for (size_t c = 0; c < p.size(); ++c) sum[size_t(group[c])] += p[c];
  return *std::max_element(sum.begin(), sum.end());
}

std::vector<int> case_groups(const std::vector<std::string>& classes, int* groups) {
  std::vector<std::string> folded;
  std::vector<int> group;
  for (const std::string& name : classes) {
    const std::string f = lowercase(name);
    auto it = std::find(folded.begin(), folded.end(), f);
    group.push_back(int(it - folded.begin()));
    if (it == folded.end()) folded.push_back(f);
  }
  *groups = int(folded.size());
  return group;
}

}  // namespace

int choose_reading(double whole, const std::vector<std::vector<double>>& readings) {
  int best = -1;
  double best_mean = whole + kMargin;
  for (size_t r = 0; r < readings.size(); ++r) {
    const std::vector<double>& parts = readings[r];
    if (parts.empty() || std::any_of(parts.begin(), parts.end(), [](double p) { return p < kMinPart; })) continue;
    double log_sum = 0;
    for (double p : parts) log_sum += std::log(p);
    const double mean = std::exp(log_sum / double(parts.size()));
    if (mean > best_mean) best = int(r), best_mean = mean;
  }
  return best;
}

LineSamples line_samples(LineSegmentation line, const PreprocessOptions& character) {
  std::vector<const Image*> crops;
  for (const CharacterSegment& c : line.characters) {
    crops.push_back(&c.crop);
    for (const std::vector<CharacterSegment>& reading : c.two_part_readings)
      for (const CharacterSegment& part : reading) crops.push_back(&part.crop);
  }
  // Characters are preprocessed independently, on all cores: fitting stroke widths dominates a page's time.
  LineSamples out;
  out.samples.resize(crops.size());
  std::exception_ptr error;
#pragma omp parallel for schedule(dynamic, 1)
  for (int64_t i = 0; i < int64_t(crops.size()); ++i) {
    try {
      out.samples[size_t(i)] = preprocess_character(*crops[size_t(i)], character);
    } catch (...) {
#pragma omp critical(quill_line_samples_error)
      if (!error) error = std::current_exception();
    }
  }
  if (error) std::rethrow_exception(error);
  out.line = std::move(line);
  return out;
}

std::vector<ReadCharacter> read_characters(LineSamples line, const std::vector<std::vector<double>>& probs,
                                           const std::vector<std::string>& classes) {
  QUILL_CHECK(probs.size() == line.samples.size(), "classifier gave ", probs.size(), " results for ",
              line.samples.size(), " samples");
  int groups = 0;
  const std::vector<int> group = case_groups(classes, &groups);
  for (const std::vector<double>& p : probs)
    QUILL_CHECK(p.size() == classes.size(), "classifier gave ", p.size(), " probabilities for ", classes.size(),
                " classes");
  auto top_probability = [&](const std::vector<double>& p) { return quill::top_probability(p, group, groups); };
  std::vector<ReadCharacter> out;
  size_t next = 0;
  auto take = [&](CharacterSegment segment, size_t i) {
    segment.two_part_readings.clear();
    out.push_back({std::move(segment), std::move(line.samples[i]), probs[i], {}});
  };
  for (CharacterSegment& c : line.line.characters) {
    const size_t whole = next++;
    std::vector<size_t> first_part;  // of each reading, into the samples
    std::vector<std::vector<double>> readings;
    for (const std::vector<CharacterSegment>& reading : c.two_part_readings) {
      first_part.push_back(next);
      readings.emplace_back();
      for (size_t j = 0; j < reading.size(); ++j) readings.back().push_back(top_probability(probs[next++]));
    }
    const int chosen = choose_reading(top_probability(probs[whole]), readings);
    if (chosen < 0) {
      take(std::move(c), whole);
      for (size_t r = 0; r < first_part.size(); ++r) {
        out.back().other_readings.emplace_back();
        for (size_t j = 0; j < readings[r].size(); ++j) out.back().other_readings.back().push_back(probs[first_part[r] + j]);
      }
      continue;
    }
    std::vector<CharacterSegment> parts = std::move(c.two_part_readings[chosen]);
    parts[0].space_before = c.space_before;
    for (size_t j = 0; j < parts.size(); ++j) take(std::move(parts[j]), first_part[chosen] + j);
  }
  return out;
}

}  // namespace quill
