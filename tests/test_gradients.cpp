// Every layer's backward and the loss, against central finite differences in float64 (layers/gradcheck.h
// states the error formula). Shapes are odd on purpose: N=3, C=5, H=7, W=9.
#include <doctest/doctest.h>

#include <string>

#include "layers/gradcheck.h"

using namespace quill;

namespace {

// The issue asks for 1e-6 by the symmetric relative error of layers/gradcheck.h; the layers measure
// 3e-11..2e-9 there, so a real mistake (errors of order 1) cannot hide under it.
constexpr double kTolerance = 1e-6;

void check_layer(const std::string& line, const Shape& sample, int batch = 3) {
  CAPTURE(line);
  for (const GradcheckResult& r : gradcheck_layer(line, sample, batch)) {
    CAPTURE(r.what);
    CHECK(r.checked > 0);
    CHECK(r.max_rel_error < kTolerance);
  }
}

const Shape kImage{5, 7, 9};

}  // namespace

TEST_CASE("gradients: conv, every kernel size, stride and padding") {
  for (int k : {1, 3, 5})
    for (int s : {1, 2})
      for (int p : {0, 1, 2}) {
        if (p >= k) continue;
        check_layer("conv 4 k" + std::to_string(k) + " s" + std::to_string(s) + " p" + std::to_string(p), kImage);
      }
  check_layer("conv 3 k3 p1 nobias", kImage);
}

TEST_CASE("gradients: pooling with and without overlap and padding") {
  check_layer("maxpool 2", kImage);
  check_layer("maxpool 3 s2 p1", kImage);
  check_layer("avgpool 2", kImage);
  check_layer("avgpool 3 s2 p1", kImage);
}

// Per-axis kernels, strides and padding, padding that differs between the sides of an axis (ONNX's
// asymmetric pads, auto_pad SAME with an odd total), and pooling's ceil and countpad.
TEST_CASE("gradients: conv and pooling with per-axis and asymmetric windows, ceil and countpad") {
  for (const char* line : {"conv 4 k3x5 s1x2 p1x2", "conv 4 k3 s2 pt0 pb1 pl1 pr0", "conv 3 k1x3 pt0 pb0 pl2 pr1",
                           "conv 4 k5x3 pt3 pb1 pl0 pr2 nobias"})
    check_layer(line, kImage);
  for (const char* kind : {"maxpool", "avgpool"})
    for (const char* rest : {" 3x2 s2x1 p1x0", " 3 s2 pt0 pb1 pl1 pr0", " 2 ceil", " 3 s2 p1 ceil", " 3 s2 pt2 pb0 pl0 pr2 ceil",
                             " 3 s2 p2", " 4x3 s3x2 pt3 pb1 pl2 pr0 ceil"})
      check_layer(kind + std::string(rest), kImage);
  for (const char* line : {"avgpool 3 s2 p1 countpad", "avgpool 3 s2 pt0 pb2 pl1 pr0 countpad",
                           "avgpool 3 s2 p1 ceil countpad", "avgpool 2x3 s1x2 pt1 pb0 pl2 pr1 ceil countpad"})
    check_layer(line, kImage);
}

TEST_CASE("gradients: activations") {
  for (const char* act : {"relu", "leaky 0.1", "tanh", "sigmoid"}) check_layer(act, kImage);
}

TEST_CASE("gradients: dense, batch norm, dropout, flatten") {
  check_layer("dense 6", kImage);
  check_layer("dense 4 nobias xavier", Shape{11});
  check_layer("bn", kImage);
  check_layer("bn", Shape{13}, 5);
  check_layer("dropout 0.3", kImage);
  check_layer("flatten", kImage);
}

TEST_CASE("gradients: softmax cross-entropy, with and without label smoothing") {
  for (double smoothing : {0.0, 0.1}) {
    GradcheckResult r = gradcheck_softmax_xent(3, 7, smoothing);
    CAPTURE(smoothing);
    CHECK(r.checked == 21);
    CHECK(r.max_rel_error < kTolerance);
  }
}

TEST_CASE("gradients: a residual block end to end through the loss") {
  const std::string desc =
      "conv 4 k3 p1 as stem\n"
      "bn\n"
      "tanh\n"
      "conv 4 k3 p1\n"
      "add from stem\n"
      "avgpool 2\n"
      "dense classes\n";
  for (const GradcheckResult& r : gradcheck_model(desc, Shape{2, 7, 9}, 3, 5)) {
    CAPTURE(r.what);
    CHECK(r.max_rel_error < kTolerance);
  }
}

namespace {
// ReLU whose backward forgets to zero the negative side: a plausible bug the check must catch.
class LeakyBackwardRelu final : public Layer {
 public:
  std::string describe() const override { return "broken relu"; }
  Shape setup(const std::vector<Shape>& in) override { return in[0]; }
  void forward(const Context& ctx, const std::vector<const Tensor*>& in, Tensor& out) override {
    ops::activation_forward(ctx.backend, Activation::Relu, 0.0, *in[0], out);
  }
  void backward(const Context&, const std::vector<const Tensor*>&, const Tensor&, const Tensor& dout,
                const std::vector<Tensor*>& din) override {
    if (din[0]) din[0]->copy_from(dout);
  }
};
}  // namespace

TEST_CASE("gradients: the checker catches a wrong backward") {
  Graph graph;
  graph.add("broken", std::make_unique<LeakyBackwardRelu>(), {Graph::kInput});
  graph.build(kImage, DType::F64, Device::cpu(), 1);
  std::vector<GradcheckResult> r = gradcheck_graph(graph, 3);
  REQUIRE(r.size() == 1);
  CHECK(r[0].max_rel_error > 0.5);  // half the elements have analytic 1 vs numeric 0: error exactly 1
}
