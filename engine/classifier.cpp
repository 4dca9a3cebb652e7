#include "engine/classifier.h"

#include <algorithm>
#include <cmath>
#include <cstring>

namespace quill {

Classifier::Classifier(const std::string& model_path, const Placement& placement)
    : record_(load_model_file(model_path)), placement_(placement) {
  graph_ = build_model(record_, placement.device, model_path);
  if (placement.device.is_cpu()) plan_ = std::make_unique<InferencePlan>(*graph_);
}

Classifier::~Classifier() = default;

PreprocessOptions Classifier::preprocess_options(bool fit_stroke_width) const {
  PreprocessOptions p;
  p.framing = record_.framing;
  if (fit_stroke_width) {
    StrokeWidthRange strokes = stroke_width_range(record_.framing);
    p.min_stroke_width = strokes.min, p.max_stroke_width = strokes.max, p.thin_stroke_target = strokes.thin_target;
  }
  return p;
}

std::vector<std::vector<double>> Classifier::probabilities(const std::vector<std::vector<uint8_t>>& samples) {
  std::vector<std::vector<double>> out;
  if (samples.empty()) return out;
  const Shape& in = record_.input_shape;
  const int64_t per_sample = in.numel();
  Tensor x = Tensor::empty(in.with_batch(int64_t(samples.size())), DType::F64);
  double* px = x.data<double>();
  for (size_t i = 0; i < samples.size(); ++i) {
    QUILL_CHECK(int64_t(samples[i].size()) == per_sample, "a sample has ", samples[i].size(),
                " pixels, the model takes ", per_sample);
    for (int64_t j = 0; j < per_sample; ++j) px[i * per_sample + j] = samples[i][size_t(j)] / 255.0;
  }
  if (record_.dtype == DType::F32) x = x.cast(DType::F32);
  x = x.to(placement_.device);
  Context ctx;
  ctx.backend = placement_.backend;
  ctx.training = false;
  const Tensor logits = (plan_ ? plan_->forward(x) : graph_->forward(ctx, x)).to(Device::cpu()).cast(DType::F64);
  const int64_t classes = logits.numel() / int64_t(samples.size());
  const double* pl = logits.data<double>();
  for (size_t i = 0; i < samples.size(); ++i) {
    const double* row = pl + i * size_t(classes);
    const double top = *std::max_element(row, row + classes);
    std::vector<double> p(static_cast<size_t>(classes));
    double sum = 0;
    for (int64_t c = 0; c < classes; ++c) sum += p[size_t(c)] = std::exp(row[c] - top);
    for (double& v : p) v /= sum;
    out.push_back(std::move(p));
  }
  return out;
}

std::vector<ClassScore> Classifier::top(const std::vector<double>& probabilities, int k) const {
  std::vector<int> order(probabilities.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = int(i);
  k = std::clamp(k, 1, int(order.size()));
  std::partial_sort(order.begin(), order.begin() + k, order.end(),
                    [&](int a, int b) { return probabilities[size_t(a)] > probabilities[size_t(b)]; });
  std::vector<ClassScore> out;
  for (int i = 0; i < k; ++i)
    out.push_back({order[size_t(i)], record_.classes[size_t(order[size_t(i)])], probabilities[size_t(order[size_t(i)])]});
  return out;
}

std::vector<uint8_t> raw_sample(const Image& image, const std::string& name) {
  QUILL_CHECK(image.width == 28 && image.height == 28, name, ": --raw needs a 28x28 image, this one is ",
              image.width, "x", image.height);
  double border = 0;
  int n = 0;
  for (int i = 0; i < 28; ++i) {
    border += image.at(i, 0) + image.at(i, 27) + image.at(0, i) + image.at(27, i);
    n += 4;
  }
  const bool dark_on_light = border / n > 0.5;
  std::vector<uint8_t> sample(28 * 28);
  for (size_t i = 0; i < sample.size(); ++i) {
    const float v = std::clamp(image.pixels[i], 0.0f, 1.0f);
    sample[i] = uint8_t(std::lround((dark_on_light ? 1.0f - v : v) * 255.0f));
  }
  return sample;
}

}  // namespace quill
