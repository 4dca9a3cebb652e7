// conv K k3 [s1] [p0] [nobias]: 2-D convolution with K filters.
#include <sstream>

#include "layers/layer_kinds.h"

namespace quill {
namespace {

class Conv2d final : public Layer {
 public:
  Conv2d(int filters, int kernel, int stride, int pad, bool bias)
      : filters_(filters), kernel_(kernel), stride_(stride), pad_(pad), bias_(bias) {}

  std::string describe() const override {
    std::ostringstream os;
    os << "conv " << filters_ << " k" << kernel_;
    if (stride_ != 1) os << " s" << stride_;
    if (pad_ != 0) os << " p" << pad_;
    if (!bias_) os << " nobias";
    return os.str();
  }

  std::vector<LayerAttribute> attributes() const override {
    return {{"filters", int64_t(filters_)}, {"kernel", int64_t(kernel_)}, {"stride", int64_t(stride_)},
            {"pad", int64_t(pad_)}, {"bias", bias_}};
  }

  Shape setup(const std::vector<Shape>& in) override {
    if (in[0].rank() != 3) shape_error("expects a [channels, height, width] input", in);
    geometry_.c = int(in[0][0]);
    geometry_.h = int(in[0][1]);
    geometry_.w = int(in[0][2]);
    geometry_.k = filters_;
    geometry_.r = geometry_.s = kernel_;
    geometry_.stride_h = geometry_.stride_w = stride_;
    geometry_.pad_h = geometry_.pad_w = pad_;
    if (geometry_.h + 2 * pad_ < kernel_ || geometry_.w + 2 * pad_ < kernel_)
      shape_error("the " + std::to_string(kernel_) + "x" + std::to_string(kernel_) + " kernel is larger than the padded input", in);
    const int64_t fan_in = int64_t(geometry_.c) * kernel_ * kernel_;
    add_param("w", Shape{filters_, geometry_.c, kernel_, kernel_}, Param::Init::HeNormal, fan_in,
              int64_t(filters_) * kernel_ * kernel_);
    if (bias_) add_param("b", Shape{filters_}, Param::Init::Zeros, fan_in, filters_);
    return Shape{filters_, geometry_.p(), geometry_.q()};
  }

  void forward(const Context& ctx, const std::vector<const Tensor*>& in, Tensor& out) override {
    ConvGeometry g = batch_geometry(*in[0]);
    ops::conv2d_forward(ctx.backend, g, *in[0], params_[0].value, bias_ ? &params_[1].value : nullptr, out);
  }

  void backward(const Context& ctx, const std::vector<const Tensor*>& in, const Tensor&, const Tensor& dout,
                const std::vector<Tensor*>& din) override {
    ConvGeometry g = batch_geometry(*in[0]);
    ops::conv2d_backward_weights(ctx.backend, g, *in[0], dout, params_[0].grad, bias_ ? &params_[1].grad : nullptr);
    if (din[0]) ops::conv2d_backward_data(ctx.backend, g, dout, params_[0].value, *din[0]);
  }

 private:
  ConvGeometry batch_geometry(const Tensor& x) const {
    ConvGeometry g = geometry_;
    g.n = int(x.dim(0));
    return g;
  }
  int filters_, kernel_, stride_, pad_;
  bool bias_;
  ConvGeometry geometry_;
};

}  // namespace

std::unique_ptr<Layer> make_conv(LayerArgs& args) {
  int filters = args.integer(0, "the number of filters");
  int kernel = args.option("k", 3);
  int stride = args.option("s", 1);
  int pad = args.option("p", 0);
  bool nobias = args.flag("nobias");
  args.finish(1);
  QUILL_CHECK(kernel >= 1 && stride >= 1, "conv: kernel and stride must be at least 1");
  QUILL_CHECK(pad < kernel, "conv: padding p", pad, " must be smaller than the kernel k", kernel);
  return std::make_unique<Conv2d>(filters, kernel, stride, pad, !nobias);
}

}  // namespace quill
