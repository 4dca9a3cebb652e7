// relu | leaky [slope] | tanh | sigmoid
#include <sstream>

#include "layers/layer_kinds.h"

namespace quill {
namespace {

class ActivationLayer final : public Layer {
 public:
  ActivationLayer(Activation act, double alpha, std::string text) : act_(act), alpha_(alpha), text_(std::move(text)) {}
  std::string describe() const override { return text_; }
  std::vector<LayerAttribute> attributes() const override {
    const char* name = act_ == Activation::Relu        ? "relu"
                       : act_ == Activation::LeakyRelu ? "leaky_relu"
                       : act_ == Activation::Tanh      ? "tanh"
                                                       : "sigmoid";
    std::vector<LayerAttribute> a = {{"activation", std::string(name)}};
    if (act_ == Activation::LeakyRelu) a.push_back({"negative_slope", alpha_});
    return a;
  }
  Shape setup(const std::vector<Shape>& in) override { return in[0]; }
  bool backward_needs_output() const override { return true; }

  void forward(const Context& ctx, const std::vector<const Tensor*>& in, Tensor& out) override {
    ops::activation_forward(ctx.backend, act_, alpha_, *in[0], out);
  }
  void backward(const Context& ctx, const std::vector<const Tensor*>& in, const Tensor& out, const Tensor& dout,
                const std::vector<Tensor*>& din) override {
    if (din[0]) ops::activation_backward(ctx.backend, act_, alpha_, *in[0], out, dout, *din[0]);
  }

 private:
  Activation act_;
  double alpha_;
  std::string text_;
};

}  // namespace

std::unique_ptr<Layer> make_activation(LayerArgs& args) {
  const std::string& k = args.kind();
  if (k == "leaky") {
    double slope = args.number(0, "the negative slope", 0.01);
    args.finish(1);
    QUILL_CHECK(slope >= 0 && slope < 1, "leaky: the negative slope must be in [0, 1), got ", slope);
    std::ostringstream os;
    os << "leaky " << slope;
    return std::make_unique<ActivationLayer>(Activation::LeakyRelu, slope, os.str());
  }
  args.finish(0);
  Activation act = k == "relu" ? Activation::Relu : k == "tanh" ? Activation::Tanh : Activation::Sigmoid;
  return std::make_unique<ActivationLayer>(act, 0.0, k);
}

}  // namespace quill
