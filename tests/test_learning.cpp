// The engine learns real handwriting, and does so reproducibly.
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "data/dataset.h"
#include "layers/loss.h"
#include "layers/model_description.h"
#include "layers/optimizer.h"
#include "layers/schedule.h"
#include "tests/real_data.h"

using namespace quill;

namespace {

const char* kSmallCnn =
    "conv 8 k3 p1\nbn\nrelu\nmaxpool 2\n"
    "conv 16 k3 p1\nbn\nrelu\nmaxpool 2\n"
    "dense 64\nrelu\ndense classes\n";

struct Batch {
  Tensor images, labels;
};

Batch make_batch(const Dataset& d, const std::vector<int64_t>& order, size_t begin, size_t end) {
  const int64_t n = int64_t(end - begin), pixels = int64_t(d.rows) * d.cols;
  Batch b{Tensor::empty(Shape{n, 1, d.rows, d.cols}), Tensor::empty(Shape{n}, DType::I32)};
  for (int64_t i = 0; i < n; ++i) {
    const uint8_t* src = d.image(order[begin + i]);
    for (int64_t j = 0; j < pixels; ++j) b.images.data<float>()[i * pixels + j] = src[j] / 255.0f;
    b.labels.data<int32_t>()[i] = d.labels[order[begin + i]];
  }
  return b;
}

// Trains a small CNN with Adam and a one-cycle schedule; returns the final flat weights.
Tensor train(Graph& graph, const Dataset& train_set, int epochs, int batch, uint64_t seed) {
  OptimizerConfig opt_cfg;
  opt_cfg.kind = "adam";
  Optimizer opt(opt_cfg, graph);
  SoftmaxCrossEntropy xent;
  const int64_t steps_per_epoch = train_set.size() / batch;
  ScheduleConfig sched_cfg;
  sched_cfg.lr = 3e-3;
  LrSchedule schedule(sched_cfg, steps_per_epoch * epochs);
  Context ctx;
  ctx.training = true;
  ctx.seed = seed;
  std::vector<int64_t> order(train_set.size());
  for (int epoch = 0; epoch < epochs; ++epoch) {
    Rng rng(seed, 1000 + epoch);
    for (size_t i = 0; i < order.size(); ++i) order[i] = int64_t(i);
    for (size_t i = order.size() - 1; i > 0; --i) std::swap(order[i], order[rng.below(uint32_t(i + 1))]);
    for (int64_t s = 0; s < steps_per_epoch; ++s) {
      Batch b = make_batch(train_set, order, size_t(s * batch), size_t((s + 1) * batch));
      ctx.step = uint64_t(epoch * steps_per_epoch + s);
      xent.forward(Backend::Cpu, graph.forward(ctx, b.images), b.labels);
      graph.backward(ctx, xent.backward(Backend::Cpu, b.labels));
      opt.step(Backend::Cpu, schedule.at(int64_t(ctx.step)));
    }
  }
  return graph.flat_values().clone();
}

double accuracy(Graph& graph, const Dataset& test_set) {
  Context ctx;  // evaluation mode
  SoftmaxCrossEntropy xent;
  std::vector<int64_t> order(test_set.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = int64_t(i);
  int64_t correct = 0;
  for (size_t begin = 0; begin < order.size(); begin += 250) {
    Batch b = make_batch(test_set, order, begin, std::min(order.size(), begin + 250));
    xent.forward(Backend::Cpu, graph.forward(ctx, b.images), b.labels);
    correct += xent.correct(Backend::Cpu, b.labels);
  }
  return double(correct) / double(test_set.size());
}

Graph small_cnn(uint64_t seed) {
  Graph g;
  add_to_graph(parse_model_description(kSmallCnn), 10, g);
  g.build(Shape{1, 28, 28}, DType::F32, Device::cpu(), seed);
  return g;
}

}  // namespace

// Official MNIST, or the offline digits' own training and test parts when that is all QUILL_DATA holds.
TEST_CASE("learning: a small CNN reaches 95% on 1,000 MNIST test digits from 2,000 training digits") {
  const Dataset train_set = test::real_digits_or_skip(test::DigitsPart::Train, 2000);
  if (train_set.size() == 0) return;
  const Dataset test_set = test::real_digits_or_skip(test::DigitsPart::Test, 1000);
  Graph g = small_cnn(42);
  const double before = accuracy(g, test_set);
  train(g, train_set, 8, 32, 42);
  const double after = accuracy(g, test_set);
  MESSAGE("test accuracy before training " << before << ", after " << after);
  // Measured after: 0.957 (official MNIST), 0.958 (the offline digits).
  CHECK(before < 0.3);
  CHECK(after >= 0.95);
}

TEST_CASE("learning: two CPU runs with the same seed give identical weights, and another seed does not") {
  // Synthetic data keeps this independent of QUILL_DATA: class = which quadrant holds a bright blob.
  Dataset d;
  d.rows = d.cols = 28;
  d.classes = {"0", "1", "2", "3"};
  Rng rng(5, 0);
  for (int i = 0; i < 96; ++i) {
    const int label = int(rng.below(4));
    d.labels.push_back(label);
    for (int y = 0; y < 28; ++y)
      for (int x = 0; x < 28; ++x) {
        const bool in_blob = (y / 14) == label / 2 && (x / 14) == label % 2;
        d.pixels.push_back(uint8_t(in_blob ? 128 + rng.below(128) : rng.below(64)));
      }
  }
  const char* net = "conv 4 k3 p1\nbn\nrelu\nmaxpool 2\ndropout 0.2\ndense classes\n";
  auto run = [&](uint64_t seed) {
    Graph g;
    add_to_graph(parse_model_description(net), 4, g);
    g.build(Shape{1, 28, 28}, DType::F32, Device::cpu(), seed);
    return train(g, d, 2, 16, seed);
  };
  Tensor a = run(3), b = run(3), c = run(4);
  REQUIRE(a.numel() == b.numel());
  int64_t differing_ab = 0, differing_ac = 0;
  for (int64_t i = 0; i < a.numel(); ++i) {
    differing_ab += a.data<float>()[i] != b.data<float>()[i];
    differing_ac += a.data<float>()[i] != c.data<float>()[i];
  }
  CHECK(differing_ab == 0);
  CHECK(differing_ac > a.numel() / 2);
}
