#include "runtime/ops.h"

namespace quill::ops {

decltype(conv2d_forward) conv2d_forward("conv2d_forward");
decltype(conv2d_backward_data) conv2d_backward_data("conv2d_backward_data");
decltype(conv2d_backward_weights) conv2d_backward_weights("conv2d_backward_weights");
decltype(maxpool_forward) maxpool_forward("maxpool_forward");
decltype(maxpool_backward) maxpool_backward("maxpool_backward");
decltype(avgpool_forward) avgpool_forward("avgpool_forward");
decltype(avgpool_backward) avgpool_backward("avgpool_backward");
decltype(activation_forward) activation_forward("activation_forward");
decltype(activation_backward) activation_backward("activation_backward");
decltype(add) add("add");
decltype(dropout_forward) dropout_forward("dropout_forward");
decltype(dropout_backward) dropout_backward("dropout_backward");
decltype(fill) fill("fill");
decltype(dense_forward) dense_forward("dense_forward");
decltype(dense_backward) dense_backward("dense_backward");
decltype(batchnorm_forward_train) batchnorm_forward_train("batchnorm_forward_train");
decltype(batchnorm_forward_eval) batchnorm_forward_eval("batchnorm_forward_eval");
decltype(batchnorm_backward) batchnorm_backward("batchnorm_backward");
decltype(softmax_xent_forward) softmax_xent_forward("softmax_xent_forward");
decltype(softmax_xent_backward) softmax_xent_backward("softmax_xent_backward");
decltype(count_correct) count_correct("count_correct");
decltype(sgd_step) sgd_step("sgd_step");
decltype(adam_step) adam_step("adam_step");
decltype(dropout_forward_indirect) dropout_forward_indirect("dropout_forward_indirect");
decltype(dropout_backward_indirect) dropout_backward_indirect("dropout_backward_indirect");
decltype(sgd_step_indirect) sgd_step_indirect("sgd_step_indirect");
decltype(adam_step_indirect) adam_step_indirect("adam_step_indirect");
decltype(accumulate_loss) accumulate_loss("accumulate_loss");

}  // namespace quill::ops
