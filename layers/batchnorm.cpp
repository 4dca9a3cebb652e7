// bn: batch normalisation per channel (per unit after a dense layer), with running statistics for
// evaluation.
#include "layers/layer_kinds.h"

namespace quill {
namespace {

class BatchNorm final : public Layer {
 public:
  std::string describe() const override { return "bn"; }

  // Running statistics: r = (1 - momentum) r + momentum * batch, the variance unbiased (as PyTorch).
  std::vector<LayerAttribute> attributes() const override {
    return {{"channels", channels_}, {"eps", kEps}, {"momentum", kMomentum}, {"running_var_unbiased", true}};
  }

  Shape setup(const std::vector<Shape>& in) override {
    if (in[0].rank() != 3 && in[0].rank() != 1) shape_error("expects a [channels, height, width] or [units] input", in);
    channels_ = in[0][0];
    add_param("gamma", Shape{channels_}, Param::Init::Ones, 1, 1);
    add_param("beta", Shape{channels_}, Param::Init::Zeros, 1, 1);
    return in[0];
  }

  void allocate_buffers(DType dtype, Device device) override {
    Tensor mean = Tensor::zeros(Shape{channels_}, dtype), var = Tensor::empty(Shape{channels_}, dtype);
    var.fill(1.0);
    if (running_mean_.defined()) {  // moving to another device: keep the values
      mean = running_mean_.to(Device::cpu());
      var = running_var_.to(Device::cpu());
    }
    running_mean_ = mean.to(device);
    running_var_ = var.to(device);
    save_mean_ = Tensor::empty(Shape{channels_}, dtype, device);
    save_invstd_ = Tensor::empty(Shape{channels_}, dtype, device);
  }
  std::vector<Tensor*> buffers() override { return {&running_mean_, &running_var_}; }

  void forward(const Context& ctx, const std::vector<const Tensor*>& in, Tensor& out) override {
    if (ctx.training)
      ops::batchnorm_forward_train(ctx.backend, *in[0], params_[0].value, params_[1].value, kEps, kMomentum, out,
                                   save_mean_, save_invstd_, running_mean_, running_var_);
    else
      ops::batchnorm_forward_eval(ctx.backend, *in[0], params_[0].value, params_[1].value, running_mean_,
                                  running_var_, kEps, out);
  }

  void backward(const Context& ctx, const std::vector<const Tensor*>& in, const Tensor&, const Tensor& dout,
                const std::vector<Tensor*>& din) override {
    // The gradient of x is needed for the parameter gradients' formula anyway; a graph input still gets one.
    Tensor scratch;
    Tensor* dx = din[0];
    if (!dx) {
      scratch = Tensor::empty(in[0]->shape(), in[0]->dtype(), in[0]->device());
      dx = &scratch;
    }
    ops::batchnorm_backward(ctx.backend, *in[0], dout, params_[0].value, save_mean_, save_invstd_, *dx,
                            params_[0].grad, params_[1].grad);
  }

 private:
  static constexpr double kEps = 1e-5, kMomentum = 0.1;  // PyTorch's defaults
  int64_t channels_ = 0;
  Tensor running_mean_, running_var_, save_mean_, save_invstd_;
};

}  // namespace

std::unique_ptr<Layer> make_batchnorm(LayerArgs& args) {
  args.finish(0);
  return std::make_unique<BatchNorm>();
}

}  // namespace quill
