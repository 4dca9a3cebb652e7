// dense N [nobias] [xavier]: fully connected layer; flattens its input.
#include <sstream>

#include "layers/layer_kinds.h"

namespace quill {
namespace {

class Dense final : public Layer {
 public:
  Dense(int units, bool bias, bool xavier) : units_(units), bias_(bias), xavier_(xavier) {}

  std::string describe() const override {
    std::ostringstream os;
    os << "dense " << units_;
    if (!bias_) os << " nobias";
    if (xavier_) os << " xavier";
    return os.str();
  }

  std::vector<LayerAttribute> attributes() const override {
    return {{"units", int64_t(units_)}, {"bias", bias_}, {"flattens_input", true},
            {"weight_init", std::string(xavier_ ? "xavier_uniform" : "he_normal")}};
  }

  Shape setup(const std::vector<Shape>& in) override {
    if (in[0].rank() < 1 || in[0].numel() == 0) shape_error("expects a non-empty input", in);
    const int64_t fan_in = in[0].numel();
    add_param("w", Shape{units_, fan_in}, xavier_ ? Param::Init::XavierUniform : Param::Init::HeNormal, fan_in, units_);
    if (bias_) add_param("b", Shape{units_}, Param::Init::Zeros, fan_in, units_);
    return Shape{units_};
  }

  void forward(const Context& ctx, const std::vector<const Tensor*>& in, Tensor& out) override {
    ops::dense_forward(ctx.backend, *in[0], params_[0].value, bias_ ? &params_[1].value : nullptr, out);
  }

  void backward(const Context& ctx, const std::vector<const Tensor*>& in, const Tensor&, const Tensor& dout,
                const std::vector<Tensor*>& din) override {
    ops::dense_backward(ctx.backend, *in[0], params_[0].value, dout, din[0], params_[0].grad,
                        bias_ ? &params_[1].grad : nullptr);
  }

 private:
  int units_;
  bool bias_, xavier_;
};

}  // namespace

std::unique_ptr<Layer> make_dense(LayerArgs& args) {
  int units = args.integer(0, "the number of units");
  bool nobias = args.flag("nobias");
  bool xavier = args.flag("xavier");
  args.finish(1);
  return std::make_unique<Dense>(units, !nobias, xavier);
}

}  // namespace quill
