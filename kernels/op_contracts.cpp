// The shape contract of every op: what the sizes of its tensors must be, checked by the op registry before
// any backend runs (runtime/op.h), so the CPU, CUDA and cuDNN bindings state no checks of their own and a
// fallback from one backend to another does not repeat them. Scalars that no backend can honour outside a
// range are checked here too (batch norm's eps). Dtypes are left to the bindings (by_float_type and
// Tensor::data<T> refuse a mismatch); devices to check_op_argument.
#include "kernels/backends.h"
#include "kernels/binding.h"
#include "runtime/error.h"
#include "runtime/ops.h"

namespace quill {
using namespace binding;

// The ops of runtime/ops.h, defined here beside their contracts, in the order all_ops() lists them.
#define QUILL_DEFINE_OP(name) decltype(ops::name) ops::name{#name}
QUILL_DEFINE_OP(conv2d_forward);
QUILL_DEFINE_OP(conv2d_forward_relu);
QUILL_DEFINE_OP(conv2d_backward_data);
QUILL_DEFINE_OP(conv2d_backward_weights);
QUILL_DEFINE_OP(maxpool_forward);
QUILL_DEFINE_OP(maxpool_backward);
QUILL_DEFINE_OP(avgpool_forward);
QUILL_DEFINE_OP(avgpool_backward);
QUILL_DEFINE_OP(activation_forward);
QUILL_DEFINE_OP(activation_backward);
QUILL_DEFINE_OP(add);
QUILL_DEFINE_OP(dropout_forward);
QUILL_DEFINE_OP(dropout_backward);
QUILL_DEFINE_OP(fill);
QUILL_DEFINE_OP(dense_forward);
QUILL_DEFINE_OP(dense_backward);
QUILL_DEFINE_OP(batchnorm_forward_train);
QUILL_DEFINE_OP(batchnorm_forward_eval);
QUILL_DEFINE_OP(batchnorm_backward);
QUILL_DEFINE_OP(softmax_xent_forward);
QUILL_DEFINE_OP(softmax_xent_backward);
QUILL_DEFINE_OP(count_correct);
QUILL_DEFINE_OP(sgd_step);
QUILL_DEFINE_OP(adam_step);
QUILL_DEFINE_OP(dropout_forward_indirect);
QUILL_DEFINE_OP(dropout_backward_indirect);
QUILL_DEFINE_OP(sgd_step_indirect);
QUILL_DEFINE_OP(adam_step_indirect);
QUILL_DEFINE_OP(accumulate_loss);
#undef QUILL_DEFINE_OP

namespace {

void sgd_contract(const char* op, const SgdConfig& cfg, const Tensor& param, const Tensor& grad,
                  const Tensor& velocity) {
  check_same_shape(param, grad, op);
  if (cfg.momentum != 0) check_same_shape(param, velocity, op);
}

void adam_contract(const char* op, const Tensor& param, const Tensor& grad, const Tensor& m, const Tensor& v) {
  check_same_shape(param, grad, op);
  check_same_shape(param, m, op);
  check_same_shape(param, v, op);
}

void define_convolution_contracts() {
  const auto forward_contract = [](const char* op, const ConvGeometry& g, const Tensor& x, const Tensor& w,
                                   const Tensor* b, const Tensor& y) {
    check_numel(x, g.x_size(), op, "x");
    check_numel(w, g.w_size(), op, "w");
    check_numel(b, g.k, op, "bias");
    check_numel(y, g.y_size(), op, "y");
  };
  ops::conv2d_forward.define_contract(forward_contract);
  ops::conv2d_forward_relu.define_contract(forward_contract);
  ops::conv2d_backward_data.define_contract(
      [](const char* op, const ConvGeometry& g, const Tensor& dy, const Tensor& w, const Tensor& dx) {
        check_numel(dx, g.x_size(), op, "dx");
        check_numel(w, g.w_size(), op, "w");
        check_numel(dy, g.y_size(), op, "dy");
      });
  ops::conv2d_backward_weights.define_contract(
      [](const char* op, const ConvGeometry& g, const Tensor& x, const Tensor& dy, const Tensor& dw, const Tensor* db) {
        check_numel(x, g.x_size(), op, "x");
        check_numel(dw, g.w_size(), op, "dw");
        check_numel(dy, g.y_size(), op, "dy");
        check_numel(db, g.k, op, "dbias");
      });
}

void define_pooling_contracts() {
  ops::maxpool_forward.define_contract(
      [](const char* op, const PoolGeometry& g, const Tensor& x, const Tensor& y, const Tensor& argmax) {
        check_numel(x, g.x_size(), op, "x");
        check_numel(y, g.y_size(), op, "y");
        check_numel(argmax, g.y_size(), op, "argmax");
      });
  ops::maxpool_backward.define_contract(
      [](const char* op, const PoolGeometry& g, const Tensor& dy, const Tensor& argmax, const Tensor& dx) {
        check_numel(dx, g.x_size(), op, "dx");
        check_numel(dy, g.y_size(), op, "dy");
        check_numel(argmax, g.y_size(), op, "argmax");
      });
  ops::avgpool_forward.define_contract([](const char* op, const PoolGeometry& g, const Tensor& x, const Tensor& y) {
    check_numel(x, g.x_size(), op, "x");
    check_numel(y, g.y_size(), op, "y");
  });
  ops::avgpool_backward.define_contract([](const char* op, const PoolGeometry& g, const Tensor& dy, const Tensor& dx) {
    check_numel(dx, g.x_size(), op, "dx");
    check_numel(dy, g.y_size(), op, "dy");
  });
}

void define_elementwise_contracts() {
  ops::activation_forward.define_contract(
      [](const char* op, const Activation&, const double&, const Tensor& x, const Tensor& y) {
        check_same_shape(x, y, op);
      });
  ops::activation_backward.define_contract([](const char* op, const Activation&, const double&, const Tensor& x,
                                              const Tensor& y, const Tensor& dy, const Tensor& dx) {
    check_same_shape(x, dx, op);
    check_same_shape(y, dx, op);
    check_same_shape(dy, dx, op);
  });
  ops::add.define_contract([](const char* op, const Tensor& a, const Tensor& b, const Tensor& y) {
    check_same_shape(a, b, op);
    check_same_shape(a, y, op);
  });
  ops::dropout_forward.define_contract(
      [](const char* op, const double&, const uint64_t&, const uint64_t&, const Tensor& x, const Tensor& y) {
        check_same_shape(x, y, op);
      });
  ops::dropout_backward.define_contract(
      [](const char* op, const double&, const uint64_t&, const uint64_t&, const Tensor& dy, const Tensor& dx) {
        check_same_shape(dy, dx, op);
      });
}

void define_dense_contracts() {
  ops::dense_forward.define_contract(
      [](const char* op, const Tensor& x, const Tensor& w, const Tensor* b, const Tensor& y) {
        const DenseSizes d = dense_sizes(x, w);
        check_numel(w, d.out * d.in, op, "w");
        check_numel(b, d.out, op, "b");
        check_numel(y, d.n * d.out, op, "y");
      });
  ops::dense_backward.define_contract([](const char* op, const Tensor& x, const Tensor& w, const Tensor& dy,
                                         const Tensor* dx, const Tensor& dw, const Tensor* db) {
    const DenseSizes d = dense_sizes(x, w);
    check_numel(w, d.out * d.in, op, "w");
    check_numel(dy, d.n * d.out, op, "dy");
    check_numel(dx, d.n * d.in, op, "dx");
    check_numel(dw, d.out * d.in, op, "dw");
    check_numel(db, d.out, op, "db");
  });
}

// cuDNN 9 accepts eps = 0 (CUDNN_BN_MIN_EPSILON is 0), which turns a constant channel into inf.
void check_eps(const char* op, double eps) { QUILL_CHECK(eps > 0, op, ": eps must be positive, got ", eps); }

void define_batchnorm_contracts() {
  ops::batchnorm_forward_train.define_contract(
      [](const char* op, const Tensor& x, const Tensor& gamma, const Tensor& beta, const double& eps, const double&,
         const Tensor& y, const Tensor& save_mean, const Tensor& save_invstd, const Tensor& running_mean,
         const Tensor& running_var) {
        check_eps(op, eps);
        const ChannelLayout l = channel_layout(x, gamma, op);
        check_same_shape(x, y, op);
        check_per_channel(op, l.c, {&beta, &save_mean, &save_invstd, &running_mean, &running_var});
      });
  ops::batchnorm_forward_eval.define_contract([](const char* op, const Tensor& x, const Tensor& gamma,
                                                 const Tensor& beta, const Tensor& running_mean,
                                                 const Tensor& running_var, const double& eps, const Tensor& y) {
    check_eps(op, eps);
    const ChannelLayout l = channel_layout(x, gamma, op);
    check_same_shape(x, y, op);
    check_per_channel(op, l.c, {&beta, &running_mean, &running_var});
  });
  ops::batchnorm_backward.define_contract(
      [](const char* op, const Tensor& x, const Tensor& dy, const Tensor& gamma, const Tensor& save_mean,
         const Tensor& save_invstd, const Tensor& dx, const Tensor& dgamma, const Tensor& dbeta) {
        const ChannelLayout l = channel_layout(x, gamma, op);
        check_same_shape(x, dx, op);
        check_same_shape(x, dy, op);
        check_per_channel(op, l.c, {&save_mean, &save_invstd, &dgamma, &dbeta});
      });
}

void define_loss_contracts() {
  ops::softmax_xent_forward.define_contract([](const char* op, const Tensor& logits, const Tensor& labels,
                                               const double&, const Tensor& probs, const Tensor& loss) {
    check_numel(labels, rows_of(logits), op, "labels");
    check_same_shape(logits, probs, op);
    check_numel(loss, 1, op, "loss");
  });
  ops::softmax_xent_backward.define_contract(
      [](const char* op, const Tensor& probs, const Tensor& labels, const double&, const Tensor& dlogits) {
        check_numel(labels, rows_of(probs), op, "labels");
        check_same_shape(probs, dlogits, op);
      });
  ops::count_correct.define_contract([](const char* op, const Tensor& scores, const Tensor& labels, const Tensor& correct) {
    check_numel(labels, rows_of(scores), op, "labels");
    check_numel(correct, 1, op, "correct");
  });
  ops::accumulate_loss.define_contract(
      [](const char* op, const Tensor& loss, const Tensor& correct, const int64_t&, const Tensor& sums) {
        check_loss_sums(loss, correct, sums, op);
      });
}

void define_optimizer_contracts() {
  ops::sgd_step.define_contract(
      [](const char* op, const SgdConfig& cfg, const Tensor& param, const Tensor& grad, const Tensor& velocity) {
        sgd_contract(op, cfg, param, grad, velocity);
      });
  ops::adam_step.define_contract([](const char* op, const AdamConfig&, const int64_t&, const Tensor& param,
                                    const Tensor& grad, const Tensor& m, const Tensor& v) {
    adam_contract(op, param, grad, m, v);
  });
}

// The ops of a replayed training step read the step's values from a device tensor (runtime/step_values.h).
void define_step_contracts() {
  ops::dropout_forward_indirect.define_contract([](const char* op, const double&, const uint64_t&, const uint64_t&,
                                                   const Tensor& values, const Tensor& x, const Tensor& y) {
    (void)step_values_of(values, op);
    check_same_shape(x, y, op);
  });
  ops::dropout_backward_indirect.define_contract([](const char* op, const double&, const uint64_t&, const uint64_t&,
                                                    const Tensor& values, const Tensor& dy, const Tensor& dx) {
    (void)step_values_of(values, op);
    check_same_shape(dy, dx, op);
  });
  ops::sgd_step_indirect.define_contract([](const char* op, const SgdConfig& cfg, const Tensor& values,
                                            const Tensor& param, const Tensor& grad, const Tensor& velocity) {
    (void)step_values_of(values, op);
    sgd_contract(op, cfg, param, grad, velocity);
  });
  ops::adam_step_indirect.define_contract([](const char* op, const AdamConfig&, const Tensor& values,
                                             const Tensor& param, const Tensor& grad, const Tensor& m, const Tensor& v) {
    (void)step_values_of(values, op);
    adam_contract(op, param, grad, m, v);
  });
}

}  // namespace

void define_op_contracts() {
  define_convolution_contracts();
  define_pooling_contracts();
  define_elementwise_contracts();
  define_dense_contracts();
  define_batchnorm_contracts();
  define_loss_contracts();
  define_optimizer_contracts();
  define_step_contracts();
}

}  // namespace quill
