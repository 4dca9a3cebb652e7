// maxpool K [sS] [pP] and avgpool K [sS] [pP]: pooling over K x K windows (stride defaults to K).
#include <sstream>

#include "layers/layer_kinds.h"

namespace quill {
namespace {

class Pool2d final : public Layer {
 public:
  Pool2d(bool max, int window, int stride, int pad) : max_(max), window_(window), stride_(stride), pad_(pad) {}

  std::string describe() const override {
    std::ostringstream os;
    os << (max_ ? "maxpool " : "avgpool ") << window_;
    if (stride_ != window_) os << " s" << stride_;
    if (pad_ != 0) os << " p" << pad_;
    return os.str();
  }

  // Padding never takes part: a max ignores it, an average divides by the in-image pixels of its window.
  std::vector<LayerAttribute> attributes() const override {
    return {{"window", int64_t(window_)}, {"stride", int64_t(stride_)}, {"pad", int64_t(pad_)},
            {"padding_counts", false}};
  }

  Shape setup(const std::vector<Shape>& in) override {
    if (in[0].rank() != 3) shape_error("expects a [channels, height, width] input", in);
    geometry_.c = int(in[0][0]);
    geometry_.h = int(in[0][1]);
    geometry_.w = int(in[0][2]);
    geometry_.kh = geometry_.kw = window_;
    geometry_.stride_h = geometry_.stride_w = stride_;
    geometry_.pad_h = geometry_.pad_w = pad_;
    if (geometry_.h + 2 * pad_ < window_ || geometry_.w + 2 * pad_ < window_)
      shape_error("the " + std::to_string(window_) + "x" + std::to_string(window_) + " window is larger than the input", in);
    return Shape{geometry_.c, geometry_.p(), geometry_.q()};
  }

  void forward(const Context& ctx, const std::vector<const Tensor*>& in, Tensor& out) override {
    PoolGeometry g = batch_geometry(*in[0]);
    if (max_) {
      ensure(argmax_, out.shape(), DType::I32, out.device());
      ops::maxpool_forward(ctx.backend, g, *in[0], out, argmax_);
    } else {
      ops::avgpool_forward(ctx.backend, g, *in[0], out);
    }
  }

  void backward(const Context& ctx, const std::vector<const Tensor*>& in, const Tensor&, const Tensor& dout,
                const std::vector<Tensor*>& din) override {
    if (!din[0]) return;
    PoolGeometry g = batch_geometry(*in[0]);
    if (max_)
      ops::maxpool_backward(ctx.backend, g, dout, argmax_, *din[0]);
    else
      ops::avgpool_backward(ctx.backend, g, dout, *din[0]);
  }

 private:
  PoolGeometry batch_geometry(const Tensor& x) const {
    PoolGeometry g = geometry_;
    g.n = int(x.dim(0));
    return g;
  }
  bool max_;
  int window_, stride_, pad_;
  PoolGeometry geometry_;
  Tensor argmax_;  // where each maximum came from, for backward
};

}  // namespace

std::unique_ptr<Layer> make_pool(LayerArgs& args) {
  const bool max = args.kind() == "maxpool";
  int window = args.integer(0, "the window size");
  int stride = args.option("s", window);
  int pad = args.option("p", 0);
  args.finish(1);
  QUILL_CHECK(stride >= 1, args.kind(), ": stride must be at least 1");
  QUILL_CHECK(2 * pad <= window, args.kind(), ": padding p", pad, " must be at most half the window");
  return std::make_unique<Pool2d>(max, window, stride, pad);
}

}  // namespace quill
