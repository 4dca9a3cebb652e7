// Training steps replayed from a CUDA graph (engine/train_step.h, --cuda-graph on) and the asynchronous,
// double-buffered batch uploads from page-locked memory (engine/batch_tensors.h).
//
// On every machine: the per-step values the replayed kernels read from memory (runtime/step_values.h) are
// those the eager launches pass, the *_indirect ops give the direct ops' bits, and the trainer's graph path
// run with the CPU stand-in graph (which calls the recorded step again at each replay) gives the bits of
// the eager path, across epochs, a smaller last batch, validation and a resume. That checks everything
// but the CUDA capture itself: every value that changes per step reaches the step through memory.
//
// With a GPU (skipped without one, like test_gpu_training.cpp): 50+ steps with the graph on give exactly
// the losses, weights and optimizer state of the graph off, on each GPU backend; uploads through pinned
// double buffers give the bytes of the old synchronous copies; a capture that meets a host synchronisation
// fails with a clear error and leaves the device usable.
#include <doctest/doctest.h>

#include <cmath>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "engine/batch_tensors.h"
#include "engine/train_step.h"
#include "engine/trainer.h"
#include "data/idx.h"
#include "kernels/backends.h"
#include "runtime/step_values.h"
#include "layers/model_description.h"
#include "runtime/host_staging.h"
#include "runtime/rng.h"
#include "runtime/step_graph.h"
#include "tests/gpu_backends.h"
#include "tests/temp_files.h"
#include "tests/test_sampling.h"
#include "tests/training_data.h"

using namespace quill;
namespace fs = std::filesystem;

namespace {

Dataset digits(int n) { return test::digits_for_training(n, 9); }

// AdamW on a one-cycle schedule: the learning rate and Adam's bias corrections change every step, and the
// models have dropout, whose masks change every step.
TrainOptions varying_options(const std::string& model, int batch, int64_t epochs) {
  TrainOptions o;
  o.model_description = test::model_description_text(model);
  o.epochs = epochs;
  o.batch_size = batch;
  o.optimizer.kind = "adamw";
  o.optimizer.weight_decay = 0.01;
  o.schedule.kind = "onecycle";
  o.schedule.lr = 3e-3;
  o.label_smoothing = 0.1;
  o.seed = 13;
  return o;
}

Tensor host_copy(const Tensor& t) { return t.device().is_cpu() ? t.clone() : t.to(Device::cpu()); }

bool same_bytes(const Tensor& a, const Tensor& b) {
  const Tensor ha = host_copy(a), hb = host_copy(b);
  return ha.bytes() == hb.bytes() && std::memcmp(ha.raw(), hb.raw(), ha.bytes()) == 0;
}

struct Run {
  std::vector<double> losses;  // every step's loss
  Tensor weights;
  std::vector<Tensor> buffers, optimizer_state;
  std::vector<EpochRecord> history;
  int64_t optimizer_steps = 0;
};

Run collect(Trainer& trainer, std::vector<double> losses) {
  Run r;
  r.losses = std::move(losses);
  r.weights = host_copy(trainer.graph().flat_values());
  for (Tensor* b : trainer.graph().buffers()) r.buffers.push_back(host_copy(*b));
  const ModelRecord c = trainer.checkpoint_record({});
  r.optimizer_state = c.checkpoint->optimizer_state;
  r.optimizer_steps = c.checkpoint->optimizer_steps;
  r.history = trainer.history();
  return r;
}

Run train(TrainOptions o, const Dataset& data, const Dataset* validation) {
  Trainer trainer(o, data, validation);
  std::vector<double> losses;
  TrainObserver observer;
  observer.on_step = [&](const StepReport& r) { losses.push_back(r.step_loss()); };
  REQUIRE(trainer.run(observer));
  return collect(trainer, losses);
}

// Bit for bit, except the epochs' running loss sums, which the host (graph off, CPU) and the device op add
// up with possibly different rounding of `sum + loss * n` (see ops::accumulate_loss).
void check_identical(const Run& a, const Run& b, bool same_sums) {
  REQUIRE(a.losses.size() == b.losses.size());
  for (size_t s = 0; s < a.losses.size(); ++s) {
    CAPTURE(s);
    CHECK(a.losses[s] == b.losses[s]);
  }
  CHECK(same_bytes(a.weights, b.weights));
  REQUIRE(a.buffers.size() == b.buffers.size());
  for (size_t i = 0; i < a.buffers.size(); ++i) CHECK(same_bytes(a.buffers[i], b.buffers[i]));
  CHECK(a.optimizer_steps == b.optimizer_steps);
  REQUIRE(a.optimizer_state.size() == b.optimizer_state.size());
  for (size_t i = 0; i < a.optimizer_state.size(); ++i) CHECK(same_bytes(a.optimizer_state[i], b.optimizer_state[i]));
  REQUIRE(a.history.size() == b.history.size());
  for (size_t e = 0; e < a.history.size(); ++e) {
    CAPTURE(e);
    CHECK(a.history[e].train_accuracy == b.history[e].train_accuracy);
    if (same_sums)
      CHECK(a.history[e].train_loss == b.history[e].train_loss);
    else
      CHECK(std::abs(a.history[e].train_loss - b.history[e].train_loss) <= 1e-12 * std::abs(a.history[e].train_loss));
    CHECK((a.history[e].val_loss == b.history[e].val_loss ||
           (std::isnan(a.history[e].val_loss) && std::isnan(b.history[e].val_loss))));
  }
}

Tensor values_tensor(double step, double lr, double c1, double c2) {
  Tensor v = Tensor::empty(Shape{kStepValueCount}, DType::F64);
  double* p = v.data<double>();
  p[kStepNumber] = step;
  p[kStepLearningRate] = lr;
  p[kStepCorrection1] = c1;
  p[kStepCorrection2] = c2;
  return v;
}

Tensor random_tensor(int64_t n, uint64_t seed, double scale = 1.0) {
  Tensor t = Tensor::empty(Shape{n});
  for (int64_t i = 0; i < n; ++i) t.data<float>()[i] = float(scale * random_normal(seed, 0, uint64_t(i)));
  return t;
}

}  // namespace

// ---- everywhere: the values a replayed step reads, and the graph path with the CPU stand-in ----

TEST_CASE("cuda graph: count_step writes the learning rate and the bias corrections adam_step computes") {
  init_backends();
  Graph graph;
  add_to_graph(parse_model_description("dense 4\ndense classes"), 3, graph);
  graph.build(Shape{5}, DType::F32, Device::cpu(), 1);
  OptimizerConfig cfg;
  cfg.beta1 = 0.8;
  cfg.beta2 = 0.95;
  Optimizer optimizer(cfg, graph);
  optimizer.set_steps(6);
  double values[kStepValueCount] = {};
  optimizer.count_step(0.25, values);
  CHECK(optimizer.steps() == 7);  // counted like step()
  CHECK(values[kStepLearningRate] == 0.25);
  CHECK(values[kStepCorrection1] == 1.0 - std::pow(0.8, 7.0));
  CHECK(values[kStepCorrection2] == 1.0 - std::pow(0.95, 7.0));
  CHECK(dropout_stream(5, 3) == ((uint64_t(5) << 16) ^ 3));  // the dropout layer's stream, as before
}

TEST_CASE("cuda graph: the indirect ops give the direct ops' bits on the cpu") {
  init_backends();
  const int64_t n = 1000;
  const Tensor grad = random_tensor(n, 2);
  SUBCASE("adam and adamw") {
    for (bool decoupled : {false, true}) {
      AdamConfig cfg;
      cfg.lr = 0.01;
      cfg.weight_decay = 0.1;
      cfg.decoupled_weight_decay = decoupled;
      Tensor p1 = random_tensor(n, 1), m1 = random_tensor(n, 3, 0.1), v1 = random_tensor(n, 4, 0.0);
      Tensor p2 = p1.clone(), m2 = m1.clone(), v2 = v1.clone();
      ops::adam_step(Backend::Cpu, cfg, 9, p1, grad, m1, v1);
      AdamConfig ignored_lr = cfg;
      ignored_lr.lr = 123;  // the indirect op takes the learning rate from the values
      ops::adam_step_indirect(Backend::Cpu, ignored_lr,
                              values_tensor(0, 0.01, adam_bias_correction(0.9, 9), adam_bias_correction(0.999, 9)), p2,
                              grad, m2, v2);
      CHECK(same_bytes(p1, p2));
      CHECK(same_bytes(m1, m2));
      CHECK(same_bytes(v1, v2));
    }
  }
  SUBCASE("sgd with nesterov momentum") {
    SgdConfig cfg;
    cfg.lr = 0.05;
    cfg.momentum = 0.9;
    cfg.nesterov = true;
    cfg.weight_decay = 5e-4;
    Tensor p1 = random_tensor(n, 1), vel1 = random_tensor(n, 3, 0.1);
    Tensor p2 = p1.clone(), vel2 = vel1.clone();
    ops::sgd_step(Backend::Cpu, cfg, p1, grad, vel1);
    SgdConfig ignored_lr = cfg;
    ignored_lr.lr = 7;
    ops::sgd_step_indirect(Backend::Cpu, ignored_lr, values_tensor(0, 0.05, 0, 0), p2, grad, vel2);
    CHECK(same_bytes(p1, p2));
    CHECK(same_bytes(vel1, vel2));
  }
  SUBCASE("dropout") {
    const Tensor x = random_tensor(n, 5);
    Tensor y1 = Tensor::empty(x.shape()), y2 = Tensor::empty(x.shape());
    ops::dropout_forward(Backend::Cpu, 0.3, 77, dropout_stream(41, 6), x, y1);
    ops::dropout_forward_indirect(Backend::Cpu, 0.3, 77, 6, values_tensor(41, 0, 0, 0), x, y2);
    CHECK(same_bytes(y1, y2));
    ops::dropout_backward(Backend::Cpu, 0.3, 77, dropout_stream(41, 6), x, y1);
    ops::dropout_backward_indirect(Backend::Cpu, 0.3, 77, 6, values_tensor(41, 0, 0, 0), x, y2);
    CHECK(same_bytes(y1, y2));
  }
  SUBCASE("step values of the wrong type are refused") {
    Tensor p = random_tensor(n, 1), m = random_tensor(n, 3), v = random_tensor(n, 4, 0.0);
    CHECK_THROWS_AS(ops::adam_step_indirect(Backend::Cpu, AdamConfig{}, Tensor::zeros(Shape{4}), p, grad, m, v),
                    Error);
  }
}

TEST_CASE("cuda graph: accumulate_loss adds loss * n and the correct count") {
  init_backends();
  Tensor loss = Tensor::empty(Shape{1}), correct = Tensor::empty(Shape{1}, DType::I32);
  Tensor sums = Tensor::zeros(Shape{2}, DType::F64);
  sums.data<double>()[0] = 1.5;
  sums.data<double>()[1] = 4;
  loss.data<float>()[0] = 0.75f;
  correct.data<int32_t>()[0] = 9;
  ops::accumulate_loss(Backend::Cpu, loss, correct, 12, sums);
  CHECK(sums.data<double>()[0] == std::fma(0.75, 12.0, 1.5));
  CHECK(sums.data<double>()[1] == 13);
}

TEST_CASE("cuda graph: host staging without a gpu copies at once, slot after slot") {
  HostStaging staging(Device::cpu(), 16, 2);
  CHECK_FALSE(staging.asynchronous());
  Tensor dst = Tensor::zeros(Shape{4}, DType::I32);
  void* first = staging.next();
  std::memcpy(first, std::vector<int32_t>{1, 2, 3, 4}.data(), 16);
  staging.upload(dst.raw(), 4, 12);
  staging.fence();
  CHECK(dst.data<int32_t>()[0] == 2);
  CHECK(dst.data<int32_t>()[2] == 4);
  CHECK(staging.next() != first);  // double buffering
  CHECK(staging.next() == first);
  CHECK_THROWS_AS(staging.upload(dst.raw(), 8, 12), Error);  // past the slot
}

TEST_CASE("cuda graph: a train step records once per batch shape and replays (cpu stand-in)") {
  init_backends();
  const std::string model = test::model_description_text("small.txt");
  auto make_graph = [&](Graph& g) {
    add_to_graph(parse_model_description(model), 10, g);
    g.build(Shape{1, 28, 28}, DType::F32, Device::cpu(), 3);
  };
  Graph eager_graph, graph_graph;
  make_graph(eager_graph);
  make_graph(graph_graph);
  OptimizerConfig cfg;
  Optimizer eager_opt(cfg, eager_graph), graph_opt(cfg, graph_graph);
  SoftmaxCrossEntropy eager_loss(0.1), graph_loss(0.1);
  TrainStep eager(eager_graph, eager_opt, eager_loss, Backend::Cpu, 5, false);
  TrainStep replayed(graph_graph, graph_opt, graph_loss, Backend::Cpu, 5, true);
  const Dataset data = digits(64);
  auto batch_tensors = [&](int64_t first, int n, Tensor& images, Tensor& labels) {
    ensure(images, Shape{n, 1, 28, 28}, DType::F32, Device::cpu());
    ensure(labels, Shape{n}, DType::I32, Device::cpu());
    for (int i = 0; i < n; ++i) {
      labels.data<int32_t>()[i] = data.labels[size_t(first + i)];
      for (int p = 0; p < 784; ++p) images.data<float>()[i * 784 + p] = data.pixels[size_t((first + i) * 784 + p)] / 255.f;
    }
  };
  Tensor images, labels, small_images, small_labels;
  Tensor eager_sums = Tensor::zeros(Shape{2}, DType::F64), graph_sums = Tensor::zeros(Shape{2}, DType::F64);
  auto both = [&](uint64_t step, const Tensor& x, const Tensor& y) {
    const double lr = 1e-3 * double(step + 1);
    eager.run(x, y, step, lr, &eager_sums);
    replayed.run(x, y, step, lr, &graph_sums);
    CHECK(eager_loss.value() == graph_loss.value());
  };
  uint64_t step = 0;
  for (int k = 0; k < 4; ++k, ++step) {
    batch_tensors(16 * (k % 3), 16, images, labels);  // the same tensors, new contents
    both(step, images, labels);
  }
  CHECK(replayed.captures() == 1);  // the second step
  CHECK(replayed.replays() == 3);   // the second to the fourth
  batch_tensors(0, 10, small_images, small_labels);  // another shape: eager, and the graph is dropped
  both(step++, small_images, small_labels);
  CHECK(replayed.replays() == 3);
  for (int k = 0; k < 3; ++k, ++step) {
    batch_tensors(16 * k, 16, images, labels);
    both(step, images, labels);
  }
  CHECK(replayed.captures() == 2);  // eager once more, then recorded again
  CHECK(replayed.replays() == 5);
  CHECK(same_bytes(eager_graph.flat_values(), graph_graph.flat_values()));
  CHECK(same_bytes(eager_sums, graph_sums));
  CHECK(eager_opt.steps() == graph_opt.steps());
}

// A recording whose capture fails, as a CUDA capture does when the work makes a call that cannot be recorded.
class FailingCapture final : public StepGraph {
 public:
  void capture(const std::function<void()>&) override { fail("operation not permitted when stream is capturing"); }
  void replay() override { fail("replay of a capture that failed"); }
};

TEST_CASE("cuda graph: a capture that fails leaves the run eager from that step, with the eager bits (cpu)") {
  init_backends();
  struct Restore {
    StepGraphFactory previous = set_step_graph_factory(
        DeviceType::Cpu, []() -> std::unique_ptr<StepGraph> { return std::make_unique<FailingCapture>(); });
    ~Restore() { set_step_graph_factory(DeviceType::Cpu, previous); }
  } restore;
  const std::string model = test::model_description_text("small.txt");
  Graph eager_graph, graph_graph;
  for (Graph* g : {&eager_graph, &graph_graph}) {
    add_to_graph(parse_model_description(model), 10, *g);
    g->build(Shape{1, 28, 28}, DType::F32, Device::cpu(), 3);
  }
  OptimizerConfig cfg;  // adam: its bias corrections need the step count that the failed capture counted
  Optimizer eager_opt(cfg, eager_graph), graph_opt(cfg, graph_graph);
  SoftmaxCrossEntropy eager_loss(0.1), graph_loss(0.1);
  TrainStep eager(eager_graph, eager_opt, eager_loss, Backend::Cpu, 5, false);
  TrainStep failing(graph_graph, graph_opt, graph_loss, Backend::Cpu, 5, true);
  const Dataset data = digits(64);
  Tensor images = Tensor::empty(Shape{16, 1, 28, 28}, DType::F32), labels = Tensor::empty(Shape{16}, DType::I32);
  for (uint64_t step = 0; step < 4; ++step) {
    for (int i = 0; i < 16; ++i) {
      const size_t sample = size_t(16 * step + i);
      labels.data<int32_t>()[i] = data.labels[sample];
      for (int p = 0; p < 784; ++p) images.data<float>()[i * 784 + p] = data.pixels[sample * 784 + p] / 255.f;
    }
    const double lr = 1e-3 * double(step + 1);
    eager.run(images, labels, step, lr);
    failing.run(images, labels, step, lr);  // step 1 is the one to record: it fails and runs eagerly
    CHECK(eager_loss.value() == graph_loss.value());
  }
  CHECK_FALSE(failing.use_graph());
  CHECK(failing.captures() == 0);
  CHECK(failing.replays() == 0);
  CHECK(graph_opt.steps() == 4);
  CHECK(same_bytes(eager_graph.flat_values(), graph_graph.flat_values()));
}

TEST_CASE("cuda graph: the trainer's graph path gives the eager path's bits (cpu stand-in)") {
  // 300 images in batches of 32: 9 full batches and one of 12 per epoch; validation between epochs.
  const Dataset data = digits(300);
  const Dataset validation = subset(data, 0, 50);
  TrainOptions o = varying_options("small.txt", 32, 2);
  o.augment = "affine";
  const Run off = train(o, data, &validation);
  o.cuda_graph = true;
  const Run on = train(o, data, &validation);
  CHECK(off.losses.size() == 20);
  check_identical(off, on, false);
}

TEST_CASE("cuda graph: a run with the graph path stopped mid-epoch and resumed is exact (cpu stand-in)") {
  const Dataset data = digits(300);
  const Dataset validation = subset(data, 0, 50);
  TrainOptions o = varying_options("small.txt", 32, 2);
  const Run uninterrupted = train(o, data, &validation);
  test_files::TempDir dir("cuda_graph");
  const std::string ckpt = dir.file("run.ckpt");
  o.cuda_graph = true;
  TrainOptions first = o;
  first.checkpoint_path = ckpt;
  first.stop_after_steps = 13;
  std::vector<double> losses;
  TrainObserver observer;
  observer.on_step = [&](const StepReport& r) { losses.push_back(r.step_loss()); };
  {
    Trainer before(first, data, &validation);
    CHECK_FALSE(before.run(observer));
  }
  Trainer after(o, data, &validation);
  after.restore(load_model_file(ckpt), ckpt);
  REQUIRE(after.run(observer));
  check_identical(uninterrupted, collect(after, losses), false);
}

// ---- with a GPU ----

TEST_CASE("cuda graph gpu: a capture that meets a host synchronisation fails clearly, and the device works on") {
  if (!test_gpu::cuda_usable()) return;
  const Tensor t = Tensor::zeros(Shape{4}, DType::F32, Device::cuda());
  std::unique_ptr<StepGraph> graph = make_step_graph(Device::cuda());
  CHECK_THROWS_AS(graph->capture([&] { (void)t.item(); }), Error);
  Tensor u = Tensor::zeros(Shape{4}, DType::F32, Device::cuda());
  ops::fill(Backend::Cuda, u, 2.5);
  CHECK(u.item(3) == 2.5);
}

TEST_CASE("cuda graph gpu: a recorded dropout replays with the step it reads from the device") {
  if (!test_gpu::cuda_usable()) return;
  // The smallest end-to-end replay: dropout_forward_indirect recorded once, replayed with new step values.
  const Tensor x = random_tensor(4096, 8).to(Device::cuda());
  Tensor y = Tensor::empty(x.shape(), DType::F32, Device::cuda());
  Tensor values = values_tensor(0, 0, 0, 0).to(Device::cuda());
  ops::dropout_forward_indirect(Backend::Cuda, 0.5, 3, 2, values, x, y);  // eager first, as TrainStep does
  std::unique_ptr<StepGraph> graph = make_step_graph(Device::cuda());
  graph->capture([&] { ops::dropout_forward_indirect(Backend::Cuda, 0.5, 3, 2, values, x, y); });
  for (uint64_t step : {0, 1, 1000}) {
    values.copy_from(values_tensor(double(step), 0, 0, 0));
    graph->replay();
    Tensor expected = Tensor::empty(x.shape());
    ops::dropout_forward(Backend::Cpu, 0.5, 3, dropout_stream(step, 2), host_copy(x), expected);
    CAPTURE(step);
    CHECK(same_bytes(y, expected));
  }
}

TEST_CASE("cuda graph gpu: memory the recorded work allocates stays the recording's while it may replay") {
  if (!test_gpu::cuda_usable()) return;
  // The recording allocates scratch memory and frees it again; a replay writes to the same addresses. Eager
  // allocations of the same size made after the recording must get other blocks, or a replay overwrites them
  // (device_runtime.cu's capture pool).
  const Tensor x = random_tensor(4096, 8).to(Device::cuda());
  Tensor y = Tensor::empty(x.shape(), DType::F32, Device::cuda());
  auto work = [&] {
    Tensor scratch = Tensor::empty(x.shape(), DType::F32, Device::cuda());
    ops::add(Backend::Cuda, x, x, scratch);
    ops::add(Backend::Cuda, scratch, x, y);
  };
  work();  // eagerly first, as TrainStep does: the scratch block is then in the cache when the recording starts
  std::unique_ptr<StepGraph> graph = make_step_graph(Device::cuda());
  graph->capture(work);
  std::vector<Tensor> eager;
  for (int i = 0; i < 4; ++i) {
    eager.push_back(Tensor::empty(x.shape(), DType::F32, Device::cuda()));
    ops::fill(Backend::Cuda, eager.back(), 7.0);
  }
  graph->replay();
  Tensor seven = Tensor::empty(x.shape());
  seven.fill(7.0);
  for (const Tensor& t : eager) CHECK(same_bytes(t, seven));
  const Tensor hx = host_copy(x), hy = host_copy(y);
  int right = 0;
  for (int64_t i = 0; i < hx.numel(); ++i) right += hy.data<float>()[i] == (hx.data<float>()[i] + hx.data<float>()[i]) + hx.data<float>()[i];
  CHECK(right == hx.numel());
}

TEST_CASE("cuda graph gpu: pinned double-buffered uploads give the bytes of plain copies") {
  if (!test_gpu::cuda_usable()) return;
  const Dataset data = digits(200);
  LoaderOptions lo;
  lo.batch_size = 24;  // 8 full batches and one of 8
  lo.shuffle = true;
  for (DType dtype : {DType::F32, DType::F64}) {
    CAPTURE(dtype_name(dtype));
    BatchLoader loader(data, lo);
    loader.start_epoch(0);
    BatchTensors tensors;
    std::vector<Batch> batches;
    std::vector<Tensor> seen_images, seen_labels;  // device copies taken right behind each upload
    Batch batch;
    while (loader.next(batch)) {
      tensors.upload(batch, dtype, Device::cuda());
      // Queued, not waited for: the uploads run ahead of these copies only as far as the fences allow.
      seen_images.push_back(tensors.images().clone());
      seen_labels.push_back(tensors.labels().clone());
      batches.push_back(batch);
    }
    REQUIRE(batches.size() == 9);
    for (size_t i = 0; i < batches.size(); ++i) {
      CAPTURE(i);
      // The old path: host tensors, copied synchronously.
      Tensor host_images = Tensor::empty(Shape{batches[i].n, 1, 28, 28});
      std::memcpy(host_images.raw(), batches[i].images.data(), host_images.bytes());
      const Tensor old_images = (dtype == DType::F32 ? host_images : host_images.cast(dtype)).to(Device::cuda());
      Tensor host_labels = Tensor::empty(Shape{batches[i].n}, DType::I32);
      std::memcpy(host_labels.raw(), batches[i].labels.data(), host_labels.bytes());
      CHECK(same_bytes(seen_images[i], old_images));
      CHECK(same_bytes(seen_labels[i], host_labels));
    }
  }
}

TEST_CASE("cuda graph gpu: training with the graph on gives exactly the losses, weights and state of off") {
  const std::vector<Backend> backends = test_gpu::gpu_backends();
  if (backends.empty()) return;
  // 2 epochs of 50 full batches (QUILL_TEST_SAMPLE: at least 5) and one of 7, validation between them: the graph
  // is recorded at the second step of each epoch, dropped for the smaller batch and before the validation.
  const int full_batches = test::sampled_steps(50, 5);
  const Dataset data = digits(full_batches * 32 + 7);
  const Dataset validation = subset(data, 0, 100);
  for (Backend backend : backends) {
    CAPTURE(backend_name(backend));
    TrainOptions o = varying_options("cnn.txt", 32, 2);
    o.device = Device::cuda();
    o.backend = backend;
    const Run off = train(o, data, &validation);
    REQUIRE(off.losses.size() == size_t(2 * (full_batches + 1)));
    o.cuda_graph = true;
    const Run on = train(o, data, &validation);
    check_identical(off, on, true);  // both add the running sums on the device
    const Run again = train(o, data, &validation);
    check_identical(on, again, true);  // and two runs with the graph are identical
  }
}

TEST_CASE("cuda graph gpu: the plain sgd step of the bench replays with the same bits") {
  const std::vector<Backend> backends = test_gpu::gpu_backends();
  if (backends.empty()) return;
  for (Backend backend : backends) {
    CAPTURE(backend_name(backend));
    std::vector<Tensor> weights;
    for (bool use_graph : {false, true}) {
      Graph graph;
      add_to_graph(parse_model_description(test::model_description_text("cnn.txt")), 10, graph);
      graph.build(Shape{1, 28, 28}, DType::F32, Device::cuda(), 4);
      OptimizerConfig cfg;
      cfg.kind = "sgd";
      Optimizer optimizer(cfg, graph);
      SoftmaxCrossEntropy loss;
      const Dataset data = digits(64);
      Tensor images = Tensor::empty(Shape{64, 1, 28, 28}), labels = Tensor::empty(Shape{64}, DType::I32);
      for (int i = 0; i < 64; ++i) {
        labels.data<int32_t>()[i] = data.labels[size_t(i)];
        for (int p = 0; p < 784; ++p) images.data<float>()[i * 784 + p] = data.pixels[size_t(i * 784 + p)] / 255.f;
      }
      const Tensor x = images.to(Device::cuda()), y = labels.to(Device::cuda());
      TrainStep step(graph, optimizer, loss, backend, 1, use_graph);
      const int steps = test::sampled_steps(20, 5);
      for (uint64_t s = 0; s < uint64_t(steps); ++s) step.run(x, y, s, 0.01 / double(s + 1));
      CHECK(step.replays() == (use_graph ? steps - 1 : 0));
      weights.push_back(host_copy(graph.flat_values()));
    }
    CHECK(same_bytes(weights[0], weights[1]));
  }
}
