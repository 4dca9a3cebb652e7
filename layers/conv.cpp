// conv K [kR | kRxS] [sS | sSHxSW] [pP | pPHxPW] [pt pb pl pr] [nobias]: 2-D convolution with K filters of
// R x S (k3: 3x3, the default; k3x5: 3 rows, 5 columns), stride S (1) and zero padding (0), each either one
// number for both axes or HxW. pt, pb, pl and pr pad the top, bottom, left and right sides apart (each
// replaces what p gave that side): `conv 32 k3 pt0 pb1 pl0 pr1`. Padding must be smaller than the kernel.
#include <sstream>
#include <tuple>

#include "layers/layer_kinds.h"

namespace quill {
namespace {

class Conv2d final : public Layer {
 public:
  Conv2d(int filters, const WindowArgs& win, bool bias) : filters_(filters), win_(win), bias_(bias) {}

  std::string describe() const override {
    std::ostringstream os;
    os << "conv " << filters_ << " k" << pair_text(win_.kh, win_.kw) << win_.describe_stride_and_padding(1, 1);
    if (!bias_) os << " nobias";
    return os.str();
  }

  // One value per attribute when both axes (and both sides) agree, as before per-axis sizes; otherwise
  // kernel_h/kernel_w, stride_h/stride_w and pad_top/pad_bottom/pad_left/pad_right in their place.
  std::vector<LayerAttribute> attributes() const override {
    std::vector<LayerAttribute> a = {{"filters", int64_t(filters_)}};
    window_attributes(win_, "kernel", a);
    a.push_back({"bias", bias_});
    return a;
  }

  Shape setup(const std::vector<Shape>& in) override {
    if (in[0].rank() != 3) shape_error("expects a [channels, height, width] input", in);
    geometry_.c = int(in[0][0]);
    geometry_.h = int(in[0][1]);
    geometry_.w = int(in[0][2]);
    geometry_.k = filters_;
    geometry_.r = win_.kh;
    geometry_.s = win_.kw;
    geometry_.stride_h = win_.sh;
    geometry_.stride_w = win_.sw;
    geometry_.pad_h = win_.pt, geometry_.pad_h_end = win_.pb;
    geometry_.pad_w = win_.pl, geometry_.pad_w_end = win_.pr;
    if (geometry_.h + win_.pt + win_.pb < win_.kh || geometry_.w + win_.pl + win_.pr < win_.kw)
      shape_error("the " + std::to_string(win_.kh) + "x" + std::to_string(win_.kw) +
                      " kernel is larger than the padded input",
                  in);
    const int64_t fan_in = int64_t(geometry_.c) * win_.kh * win_.kw;
    add_param("w", Shape{filters_, geometry_.c, win_.kh, win_.kw}, Param::Init::HeNormal, fan_in,
              int64_t(filters_) * win_.kh * win_.kw);
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
  int filters_;
  WindowArgs win_;
  bool bias_;
  ConvGeometry geometry_;
};

}  // namespace

void window_attributes(const WindowArgs& win, const char* kernel_name, std::vector<LayerAttribute>& out) {
  const std::string kernel = kernel_name;
  if (win.square()) {
    out.push_back({kernel, int64_t(win.kh)});
  } else {
    out.push_back({kernel + "_h", int64_t(win.kh)});
    out.push_back({kernel + "_w", int64_t(win.kw)});
  }
  if (win.sh == win.sw) {
    out.push_back({"stride", int64_t(win.sh)});
  } else {
    out.push_back({"stride_h", int64_t(win.sh)});
    out.push_back({"stride_w", int64_t(win.sw)});
  }
  if (win.pt == win.pb && win.pt == win.pl && win.pt == win.pr) {
    out.push_back({"pad", int64_t(win.pt)});
  } else {
    out.push_back({"pad_top", int64_t(win.pt)});
    out.push_back({"pad_bottom", int64_t(win.pb)});
    out.push_back({"pad_left", int64_t(win.pl)});
    out.push_back({"pad_right", int64_t(win.pr)});
  }
}

std::unique_ptr<Layer> make_conv(LayerArgs& args) {
  int filters = args.integer(0, "the number of filters");
  WindowArgs win;
  std::tie(win.kh, win.kw) = args.option_pair("k", {3, 3});
  win.read_stride_and_padding(args);
  bool nobias = args.flag("nobias");
  args.finish(1);
  QUILL_CHECK(win.kh >= 1 && win.kw >= 1 && win.sh >= 1 && win.sw >= 1, "conv: kernel and stride must be at least 1");
  QUILL_CHECK(win.pt < win.kh && win.pb < win.kh && win.pl < win.kw && win.pr < win.kw, "conv: padding",
              win.describe_stride_and_padding(win.sh, win.sw), " must be smaller than the kernel k",
              pair_text(win.kh, win.kw));
  return std::make_unique<Conv2d>(filters, win, !nobias);
}

}  // namespace quill
