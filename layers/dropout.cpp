// dropout P: zeroes each element with probability P in training (inverted dropout); identity in evaluation.
#include <sstream>

#include "runtime/step_values.h"
#include "layers/layer_kinds.h"

namespace quill {
namespace {

class Dropout final : public Layer {
 public:
  explicit Dropout(double p) : p_(p) {}
  std::string describe() const override {
    std::ostringstream os;
    os << "dropout " << p_;
    return os.str();
  }
  // Inverted dropout: kept elements are scaled by 1 / (1 - p) in training.
  std::vector<LayerAttribute> attributes() const override { return {{"p", p_}, {"inverted", true}}; }
  Shape setup(const std::vector<Shape>& in) override { return in[0]; }

  void forward(const Context& ctx, const std::vector<const Tensor*>& in, Tensor& out) override {
    if (!(ctx.training && p_ > 0))
      out.copy_from(*in[0]);
    else if (ctx.step_values)
      ops::dropout_forward_indirect(ctx.backend, p_, ctx.seed, index, *ctx.step_values, *in[0], out);
    else
      ops::dropout_forward(ctx.backend, p_, ctx.seed, dropout_stream(ctx.step, index), *in[0], out);
  }
  void backward(const Context& ctx, const std::vector<const Tensor*>&, const Tensor&, const Tensor& dout,
                const std::vector<Tensor*>& din) override {
    if (!din[0]) return;
    if (!(p_ > 0))
      din[0]->copy_from(dout);
    else if (ctx.step_values)
      ops::dropout_backward_indirect(ctx.backend, p_, ctx.seed, index, *ctx.step_values, dout, *din[0]);
    else
      ops::dropout_backward(ctx.backend, p_, ctx.seed, dropout_stream(ctx.step, index), dout, *din[0]);
  }

 private:
  // Masks draw from (seed, dropout_stream(step, node)): a fresh mask every step and every node, reproducible
  // from the seed.
  double p_;
};

}  // namespace

std::unique_ptr<Layer> make_dropout(LayerArgs& args) {
  double p = args.number(0, "the drop probability");
  args.finish(1);
  QUILL_CHECK(p >= 0 && p < 1, "dropout: the probability must be in [0, 1), got ", p);
  return std::make_unique<Dropout>(p);
}

}  // namespace quill
