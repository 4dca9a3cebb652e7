// maxpool K [sS] [pP] [pt pb pl pr] [ceil] and avgpool K [sS] [pP] [pt pb pl pr] [ceil] [countpad]: pooling over
// K x K windows, or KHxKW (`maxpool 3x2`), stride defaulting to the window, padding as conv's (conv.cpp: one
// number or HxW, pt pb pl pr per side), each side's padding smaller than the window so that every window
// overlaps the image. `ceil` rounds the output size up (ONNX's ceil_mode, PyTorch's: a last window must
// start inside the image or its padding before). An average divides by the window's pixels inside the
// image; with `countpad` by those inside the padded input (ONNX's count_include_pad = 1). A max ignores
// padding.
#include <sstream>
#include <tuple>

#include "layers/layer_kinds.h"

namespace quill {
namespace {

class Pool2d final : public Layer {
 public:
  Pool2d(bool max, const WindowArgs& win, bool ceil, bool count_pad)
      : max_(max), win_(win), ceil_(ceil), count_pad_(count_pad) {}

  std::string describe() const override {
    std::ostringstream os;
    os << (max_ ? "maxpool " : "avgpool ") << pair_text(win_.kh, win_.kw)
       << win_.describe_stride_and_padding(win_.kh, win_.kw);
    if (ceil_) os << " ceil";
    if (count_pad_) os << " countpad";
    return os.str();
  }

  // padding_counts: the average's divisor counts padding pixels (countpad).
  std::vector<LayerAttribute> attributes() const override {
    std::vector<LayerAttribute> a;
    window_attributes(win_, "window", a);
    a.push_back({"padding_counts", count_pad_});
    a.push_back({"ceil_mode", ceil_});
    return a;
  }

  Shape setup(const std::vector<Shape>& in) override {
    if (in[0].rank() != 3) shape_error("expects a [channels, height, width] input", in);
    geometry_.c = int(in[0][0]);
    geometry_.h = int(in[0][1]);
    geometry_.w = int(in[0][2]);
    geometry_.kh = win_.kh;
    geometry_.kw = win_.kw;
    geometry_.stride_h = win_.sh;
    geometry_.stride_w = win_.sw;
    geometry_.pad_h = win_.pt, geometry_.pad_h_end = win_.pb;
    geometry_.pad_w = win_.pl, geometry_.pad_w_end = win_.pr;
    geometry_.ceil_mode = ceil_;
    geometry_.count_include_pad = count_pad_ && !max_;
    if (geometry_.h + win_.pt + win_.pb < win_.kh || geometry_.w + win_.pl + win_.pr < win_.kw)
      shape_error("the " + std::to_string(win_.kh) + "x" + std::to_string(win_.kw) + " window is larger than the input",
                  in);
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
  WindowArgs win_;
  bool ceil_, count_pad_;
  PoolGeometry geometry_;
  Tensor argmax_;  // where each maximum came from, for backward
};

}  // namespace

std::unique_ptr<Layer> make_pool(LayerArgs& args) {
  const bool max = args.kind() == "maxpool";
  WindowArgs win;
  std::tie(win.kh, win.kw) = args.integer_pair(0, "the window size");
  win.sh = win.kh, win.sw = win.kw;
  win.read_stride_and_padding(args);
  const bool ceil = args.flag("ceil");
  const bool count_pad = !max && args.flag("countpad");
  args.finish(1);
  QUILL_CHECK(win.sh >= 1 && win.sw >= 1, args.kind(), ": stride must be at least 1");
  QUILL_CHECK(win.pt < win.kh && win.pb < win.kh && win.pl < win.kw && win.pr < win.kw, args.kind(), ": padding",
              win.describe_stride_and_padding(win.sh, win.sw), " must be smaller than the window ",
              pair_text(win.kh, win.kw));
  return std::make_unique<Pool2d>(max, win, ceil, count_pad);
}

}  // namespace quill
