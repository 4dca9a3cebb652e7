// Convolution through cuDNN: forward (+ bias with cudnnAddTensor), backward-data, backward-filter
// (+ bias gradient with cudnnConvolutionBackwardBias), each with the cached algorithm of its shape.
#include <string>

#include "kernels/cudnn/cudnn_check.h"
#include "kernels/cudnn/cudnn_ops.h"
#include "kernels/cudnn/handle.h"
#include "kernels/cudnn/workspace.h"

namespace quill::cudnn {
namespace {


// The cached algorithm, or NotSupported when the settings accept none for this shape.
ConvAlgo algorithm(cudnnHandle_t h, ConvAlgoCache& cache, ConvPass pass, const ConvGeometry& g, ConvProblem& p,
                   const ConvBuffers& buffers, const Settings& s, const char* op) {
  const std::optional<ConvAlgo> a = cache.choose(h, pass, g, p, buffers, s);
  if (!a)
    throw NotSupported(std::string(op) + ": no cuDNN algorithm fits the settings (deterministic=" +
                       (s.deterministic ? "yes" : "no") + ", tf32=" + (s.tf32 ? "yes" : "no") +
                       ", workspace limit " + std::to_string(s.workspace_limit) + " bytes)");
  p.conv.set_math(a->math);
  return *a;
}

// cuDNN pads both sides of an axis alike; asymmetric padding runs the custom kernel (counted on the op).
void require_symmetric_padding(const ConvGeometry& g, const char* op) {
  if (!g.symmetric_padding())
    throw NotSupported(std::string(op) + ": asymmetric padding (cuDNN pads both sides of an axis alike)");
}

}  // namespace

void conv_forward(const Settings& s, ConvAlgoCache& cache, const ConvGeometry& g, const Tensor& x, const Tensor& w,
                  const Tensor* bias, Tensor& y) {
  require_symmetric_padding(g, "conv2d_forward");
  const cudnnDataType_t t = data_type(x.dtype(), "conv2d_forward");
  const cudnnHandle_t h = handle();
  ConvProblem p(g, t);
  int n = 0, k = 0, rows = 0, cols = 0;
  QUILL_CUDNN_CHECK(cudnnGetConvolution2dForwardOutputDim(p.conv.get(), p.x.get(), p.w.get(), &n, &k, &rows, &cols));
  QUILL_CHECK(n == g.n && k == g.k && rows == g.p() && cols == g.q(), "conv2d_forward: cuDNN's output shape ", n,
              "x", k, "x", rows, "x", cols, " differs from Quill's");
  const ConvAlgo a = algorithm(h, cache, ConvPass::Forward, g, p, {x.raw(), w.raw(), nullptr, y.raw()}, s,
                               "conv2d_forward");
  Workspace ws(a.workspace);
  QUILL_CUDNN_CHECK(cudnnConvolutionForward(h, one(t), p.x.get(), x.raw(), p.w.get(), w.raw(), p.conv.get(),
                                            cudnnConvolutionFwdAlgo_t(a.algo), ws.get(), a.workspace, zero(t),
                                            p.y.get(), y.raw()));
  if (bias != nullptr) {
    const TensorDesc bias_desc(t, 1, g.k, 1, 1);
    QUILL_CUDNN_CHECK(cudnnAddTensor(h, one(t), bias_desc.get(), bias->raw(), one(t), p.y.get(), y.raw()));
  }
}

void conv_backward_data(const Settings& s, ConvAlgoCache& cache, const ConvGeometry& g, const Tensor& dy,
                        const Tensor& w, Tensor& dx) {
  require_symmetric_padding(g, "conv2d_backward_data");
  const cudnnDataType_t t = data_type(dy.dtype(), "conv2d_backward_data");
  const cudnnHandle_t h = handle();
  ConvProblem p(g, t);
  const ConvAlgo a = algorithm(h, cache, ConvPass::BackwardData, g, p, {nullptr, w.raw(), dy.raw(), dx.raw()}, s,
                               "conv2d_backward_data");
  Workspace ws(a.workspace);
  QUILL_CUDNN_CHECK(cudnnConvolutionBackwardData(h, one(t), p.w.get(), w.raw(), p.y.get(), dy.raw(), p.conv.get(),
                                                 cudnnConvolutionBwdDataAlgo_t(a.algo), ws.get(), a.workspace,
                                                 zero(t), p.x.get(), dx.raw()));
}

void conv_backward_filter(const Settings& s, ConvAlgoCache& cache, const ConvGeometry& g, const Tensor& x,
                          const Tensor& dy, Tensor& dw, Tensor* dbias) {
  require_symmetric_padding(g, "conv2d_backward_weights");
  const cudnnDataType_t t = data_type(x.dtype(), "conv2d_backward_weights");
  const cudnnHandle_t h = handle();
  ConvProblem p(g, t);
  const ConvAlgo a = algorithm(h, cache, ConvPass::BackwardFilter, g, p, {x.raw(), nullptr, dy.raw(), dw.raw()},
                               s, "conv2d_backward_weights");
  Workspace ws(a.workspace);
  QUILL_CUDNN_CHECK(cudnnConvolutionBackwardFilter(h, one(t), p.x.get(), x.raw(), p.y.get(), dy.raw(), p.conv.get(),
                                                   cudnnConvolutionBwdFilterAlgo_t(a.algo), ws.get(), a.workspace,
                                                   zero(t), p.w.get(), dw.raw()));
  if (dbias != nullptr) {
    const TensorDesc bias_desc(t, 1, g.k, 1, 1);
    QUILL_CUDNN_CHECK(cudnnConvolutionBackwardBias(h, one(t), p.y.get(), dy.raw(), zero(t), bias_desc.get(),
                                                   dbias->raw()));
  }
}

}  // namespace quill::cudnn
