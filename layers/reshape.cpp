// flatten: [c, h, w] -> [c*h*w]; add: element-wise sum of two inputs (residual connections).
#include "layers/layer_kinds.h"

namespace quill {
namespace {

class Flatten final : public Layer {
 public:
  std::string describe() const override { return "flatten"; }
  Shape setup(const std::vector<Shape>& in) override { return Shape{in[0].numel()}; }
  void forward(const Context&, const std::vector<const Tensor*>& in, Tensor& out) override {
    out.copy_from(in[0]->view(out.shape()));
  }
  void backward(const Context&, const std::vector<const Tensor*>&, const Tensor&, const Tensor& dout,
                const std::vector<Tensor*>& din) override {
    if (din[0]) din[0]->copy_from(dout.view(din[0]->shape()));
  }
};

class Add final : public Layer {
 public:
  std::string describe() const override { return "add"; }
  int arity() const override { return 2; }
  Shape setup(const std::vector<Shape>& in) override {
    if (in[0] != in[1]) shape_error("inputs must have the same shape", in);
    return in[0];
  }
  void forward(const Context& ctx, const std::vector<const Tensor*>& in, Tensor& out) override {
    ops::add(ctx.backend, *in[0], *in[1], out);
  }
  void backward(const Context&, const std::vector<const Tensor*>&, const Tensor&, const Tensor& dout,
                const std::vector<Tensor*>& din) override {
    for (Tensor* d : din)
      if (d) d->copy_from(dout);
  }
};

}  // namespace

std::unique_ptr<Layer> make_flatten(LayerArgs& args) {
  args.finish(0);
  return std::make_unique<Flatten>();
}

std::unique_ptr<Layer> make_add(LayerArgs& args) {
  args.finish(0);
  return std::make_unique<Add>();
}

}  // namespace quill
